/* owner.c -- the allocator object's head (ZxAllocator) and the owner graph.
 * An edge "X draws from / reaches into Y" (a child, the allocator behind a
 * capsule wrapper) is a pin: X keeps Y alive, Y's reset and deinit raise
 * BufferError while the pin lasts, and an operation on X marks Y busy too
 * (stack.c walks the `child` edges). Pins are added and dropped here only. */
#include "owner.h"

#include "block.h"

#include "stack.h"

zheap_state *zx_state_of(PyTypeObject *type) {
    PyObject *m = PyType_GetModuleByDef(type, &zheap_module_def);
    return m ? PyModule_GetState(m) : NULL;
}

/* A subtype of zheap.Allocator from `spec`, added to the module if public. */
PyTypeObject *zx_add_allocator_type(PyObject *module, zheap_state *st, PyType_Spec *spec, bool public) {
    PyTypeObject *t = (PyTypeObject *)PyType_FromModuleAndSpec(module, spec, (PyObject *)st->Allocator_type);
    if (t == NULL) return NULL;
    if (public && PyModule_AddType(module, t) < 0) {
        Py_DECREF(t);
        return NULL;
    }
    return t;
}

int zx_check_open(ZxAllocator *self) {
    if (!self->closed) return 0;
    PyErr_Format(PyExc_ValueError, "%.100s was deinitialized", Py_TYPE(self)->tp_name);
    return -1;
}

ZxAllocator *zx_as_allocator(zheap_state *st, PyObject *obj, const char *fn) {
    if (!PyObject_TypeCheck(obj, st->Allocator_type)) {
        PyErr_Format(PyExc_TypeError, "%s expects a zheap.Allocator, got %.100s", fn, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    if (zx_check_open(ZxAllocator_CAST(obj)) < 0) return NULL;
    return ZxAllocator_CAST(obj);
}

/* The child allocator argument of a composable type's constructor as a new
 * reference, checked; `child` NULL means zheap.page_allocator (Zig's docs'
 * usual choice). */
ZxAllocator *zx_child_or_default(zheap_state *st, PyTypeObject *type, PyObject *child, const char *fn) {
    PyObject *obj;
    if (child == NULL || child == Py_None) {
        PyObject *m = PyType_GetModuleByDef(type, &zheap_module_def);
        obj = m ? PyObject_GetAttrString(m, "page_allocator") : NULL;
        if (obj == NULL) return NULL;
    } else {
        obj = Py_NewRef(child);
    }
    if (zx_as_allocator(st, obj, fn) == NULL) {
        Py_DECREF(obj);
        return NULL;
    }
    return ZxAllocator_CAST(obj);
}

/* Draw memory from `child` from now on: keep it alive, and make its reset
 * and deinit refuse (BufferError) until zx_unpin_child(), because they would
 * pull memory out from under this allocator's own blocks. */
int zx_pin_child(ZxAllocator *self, PyObject *child) {
    self->child = Py_NewRef(child);
    ZxAllocator_CAST(child)->pins++;
    self->pinning = true;
    /* Python code below makes the whole stack need the GIL. */
    self->needs_gil = self->needs_gil || ZxAllocator_CAST(child)->needs_gil;
    self->runs_python = self->runs_python || ZxAllocator_CAST(child)->runs_python;
    /* Python code above a stack that runs none would mark it busy while that
     * code runs (and lets the GIL go): numpy handlers over it would wait
     * mid-numpy (numpy_handler.c). No type does that. */
    assert(!self->runs_python || ZxAllocator_CAST(child)->runs_python);
    return 0;
}

void zx_unpin_child(ZxAllocator *self) {
    if (!self->pinning) return;
    self->pinning = false;
    ZxAllocator_CAST(self->child)->pins--;
}

void zx_allocator_setup(ZxAllocator *self, zheap_state *st, zh_allocator a, zh_alignment max_align) {
    self->a = a;
    self->st = st;
    self->live = NULL;
    self->nlive = 0;
    self->max_align = max_align;
    self->child = NULL;
    self->pins = 0;
    self->pinning = false;
    self->closed = false;
    self->weakreflist = NULL;
    self->flush = NULL;
    self->py = NULL;
    self->freeing = NULL;
    self->lent = (struct zx_lent){NULL, 0, 0};
    self->runs_python = false;
    zx_stack_init(self);
}

/* For core calls made where nothing can raise (dealloc, tp_clear): an error
 * an allocator written in Python raises during `fn(arg)` is reported as
 * unraisable, and an exception already in flight is kept. */
void zx_call_quietly(PyObject *owner, void (*fn)(void *), void *arg) {
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    fn(arg);
    /* Named by its type: `owner` may be in its dealloc, and a reference
     * taken to it there would deallocate it a second time. */
    if (PyErr_Occurred()) PyErr_WriteUnraisable((PyObject *)Py_TYPE(owner));
    PyErr_Restore(et, ev, tb);
}

/* tp_finalize of an allocator over Python code (arena.c's Arena_finalize
 * says why it tears down there): deinit() done quietly, as one bulk
 * transaction. Every view is retired before `act(arg)` gives the memory
 * back, because a finalizer of the same garbage may resurrect a view, and
 * tp_finalize is also `__del__`, which Python code can call on a live
 * allocator with views out or in the middle of an operation on its stack.
 * Nothing happens while the stack is busy, memory is still reachable or
 * another allocator draws from this one (BufferError, RuntimeError: the
 * collector's tp_clear or dealloc tears it down later). An exception in
 * flight is kept; one raised by Python code in the teardown is reported as
 * unraisable. */
void zx_finalize_quietly(ZxAllocator *self, void (*act)(void *), void *arg) {
    if (!self->needs_gil || self->closed || self->child == NULL || !zx_collectable(self)) return;
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    zx_txn t;
    zx_txn_init(&t, self);
    /* Run by the collector (which marks an object finalized before calling
     * this) or by a dealloc (the only reference is the one it lends): the
     * allocator is garbage, so are its views, and none can be in the middle
     * of a method. Called by hand while a collection runs, it is refused. */
    t.garbage = PyObject_GC_IsFinalized((PyObject *)self) || Py_REFCNT(self) == 1;
    if (zx_txn_begin_bulk(&t, "tear the allocator down") == 0) {
        act(arg);
        self->closed = true;
        zx_unpin_child(self);
        zx_txn_release(&t);
        zx_flush_chain(self);
        if (PyErr_Occurred()) PyErr_WriteUnraisable((PyObject *)Py_TYPE(self));
    }
    PyErr_Clear(); /* refused: left whole for tp_clear or dealloc */
    PyErr_Restore(et, ev, tb);
}

/* Deliver what the core queued in this allocator and in every allocator it
 * draws from (an arena's chunk allocations happen in its child). */
void zx_flush_chain(ZxAllocator *self) {
    /* A flush runs Python code (logging), which may deinit an allocator and
     * so drop its child: each one is held while it flushes and its child is
     * read after. */
    PyObject *a = Py_NewRef((PyObject *)self);
    while (a != NULL) {
        ZxAllocator *z = ZxAllocator_CAST(a);
        if (z->flush != NULL) z->flush(z);
        PyObject *next = Py_XNewRef(z->child);
        Py_DECREF(a);
        a = next;
    }
}

int zx_allocator_traverse(PyObject *op, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(ZxAllocator_CAST(op)->child);
    return 0;
}

/* Whether the collector may tear `self` down now (tp_clear). Not while
 * another allocator of the same garbage draws from it: that one clears
 * first (its teardown calls into this one) and lets it go. Not while its
 * memory is still exported (a Python allocator's region): it goes when its
 * blocks do, in its dealloc. */
bool zx_collectable(ZxAllocator *self) { return self->pins == 0 && !zx_memory_reachable(self); }

int zx_allocator_clear(PyObject *op) {
    /* Left whole, it keeps its child until it may go. */
    if (!zx_collectable(ZxAllocator_CAST(op))) return 0;
    /* Cleared but maybe still reached (gc.get_objects() in a weakref callback
     * the same collection runs): the core still points into the child, so
     * every operation from now on must refuse, as after deinit(). */
    if (ZxAllocator_CAST(op)->child != NULL) ZxAllocator_CAST(op)->closed = true;
    zx_unpin_child(ZxAllocator_CAST(op));
    Py_CLEAR(ZxAllocator_CAST(op)->child);
    /* A Python-implemented allocator keeps its regions until dealloc: blocks
     * in the same garbage cycle may still point into them. */
    return 0;
}

void zx_allocator_dealloc(PyObject *op) {
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    /* Every live block holds a reference to its allocator, so none is left;
     * every pinning allocator holds one too. */
    assert(ZxAllocator_CAST(op)->live == NULL && ZxAllocator_CAST(op)->freeing == NULL &&
           ZxAllocator_CAST(op)->pins == 0);
    if (ZxAllocator_CAST(op)->weakreflist != NULL) PyObject_ClearWeakRefs(op);
    (void)zx_allocator_clear(op);
    /* Each queued free holds its block, which holds this allocator. */
    assert(ZxAllocator_CAST(op)->npending == 0);
    PyMem_RawFree(ZxAllocator_CAST(op)->pending);
    /* A numpy handler keeps its allocator alive: no block of it is left. */
    assert(ZxAllocator_CAST(op)->lent.n == 0);
    PyMem_RawFree(ZxAllocator_CAST(op)->lent.slots);
    tp->tp_free(op);
    Py_DECREF(tp);
}

const char zx_enter_doc[] = "__enter__($self, /)\n--\n\nReturn the allocator itself.";
const char zx_exit_doc[] =
    "__exit__($self, exc_type, exc, tb, /)\n--\n\n"
    "Call deinit(). When the block raised, an error of deinit() (BufferError while a\n"
    "view is exported, LeakError with raise_on_leak) does not replace the block's\n"
    "exception: it is added to it as a note (add_note()), and the block's exception\n"
    "propagates. Never suppresses the block's exception.";

PyObject *zx_get_child(PyObject *op, void *closure) {
    (void)closure;
    PyObject *child = ZxAllocator_CAST(op)->child;
    return Py_NewRef(child ? child : Py_None);
}

/* __enter__ of every type with deinit(). */
PyObject *zx_enter(PyObject *op, PyObject *unused) {
    (void)unused;
    return Py_NewRef(op);
}

/* __exit__ of every type with deinit(). Without an exception from the block,
 * deinit's error is the with statement's, as memoryview's __exit__ does. With
 * one, that exception is what the user must see (a view the failing block
 * still holds is the usual reason deinit refuses): deinit's error becomes a
 * note on it. deinit has finished (changed nothing, or deinitialized and
 * then raised LeakError) before any Python code runs here. */
PyObject *zx_exit(PyObject *op, PyObject *args, PyObject *(*deinit)(PyObject *, PyObject *)) {
    PyObject *exc_type = Py_None, *exc = Py_None, *tb = Py_None;
    if (!PyArg_UnpackTuple(args, "__exit__", 3, 3, &exc_type, &exc, &tb)) return NULL;
    (void)tb;
    PyObject *r = deinit(op, NULL);
    if (r != NULL) {
        Py_DECREF(r);
        Py_RETURN_NONE;
    }
    if (exc == Py_None || !PyExceptionInstance_Check(exc)) return NULL;
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyErr_NormalizeException(&et, &ev, &etb);
    Py_XDECREF(et);
    Py_XDECREF(etb);
    if (ev == NULL) Py_RETURN_NONE; /* nothing to note: the block's exception propagates */
    PyObject *note = PyUnicode_FromFormat("zheap: deinit() of %.100s on leaving the with block raised %.100s: %S",
                                          Py_TYPE(op)->tp_name, Py_TYPE(ev)->tp_name, ev);
    Py_DECREF(ev);
    if (note == NULL) return NULL;
    PyObject *done = PyObject_CallMethod(exc, "add_note", "O", note);
    Py_DECREF(note);
    if (done == NULL) return NULL;
    Py_DECREF(done);
    Py_RETURN_NONE;
}
