/* block.c -- the Block exporter and the one export guard: zheap's safety core.
 * See ext.h for the model. Nothing outside this file decides whether a view
 * is alive or exported. */
#include "block.h"
#include "gcstate.h"
#include "trace.h"

/* --- live-list bookkeeping ------------------------------------------------ */

static void block_link(ZxBlock *b) {
    ZxAllocator *o = b->owner;
    assert(!b->linked);
    b->prev = NULL;
    b->next = o->live;
    if (o->live != NULL) o->live->prev = b;
    o->live = b;
    o->nlive++;
    b->linked = true;
}

/* Unlinking twice would empty the owner's list (prev == NULL reads as "the
 * head"): impossible by construction, asserted in debug builds, and a no-op
 * rather than a corruption otherwise. */
static void block_unlink(ZxBlock *b) {
    assert(b->linked);
    if (!b->linked) return;
    ZxAllocator *o = b->owner;
    if (b->prev != NULL) b->prev->next = b->next;
    else o->live = b->next;
    if (b->next != NULL) b->next->prev = b->prev;
    b->prev = b->next = NULL;
    o->nlive--;
    b->linked = false;
}

/* The allocator's `freeing` list (ZX_FREEING blocks), on the same links:
 * a block is on it exactly while its state is ZX_FREEING. */
static void freeing_link(ZxBlock *b) {
    ZxAllocator *o = b->owner;
    b->prev = NULL;
    b->next = o->freeing;
    if (o->freeing != NULL) o->freeing->prev = b;
    o->freeing = b;
}

/* Off the list, into `state`. */
static void freeing_unlink(ZxBlock *b, enum zx_block_state state) {
    assert(b->state == ZX_FREEING);
    ZxAllocator *o = b->owner;
    if (b->prev != NULL) b->prev->next = b->next;
    else o->freeing = b->next;
    if (b->next != NULL) b->next->prev = b->prev;
    b->prev = b->next = NULL;
    b->state = state;
}

static const char *state_name(uint8_t s) {
    switch (s) {
    case ZX_LIVE: return "live";
    case ZX_FREED: return "freed";
    case ZX_MOVED: return "moved";
    case ZX_DESTROYING: return "destroying";
    case ZX_RESET: return "reset";
    case ZX_PREPARED: return "prepared";
    case ZX_FREEING: return "freeing";
    default: return "untracked";
    }
}

/* --- the type --------------------------------------------------------------- */

#define Block_CAST(op) ((ZxBlock *)(op))

static ZxBlock *block_new(ZxAllocator *owner) {
    ZxBlock *b = PyObject_GC_New(ZxBlock, owner->st->Block_type);
    if (b == NULL) return NULL;
    b->owner = (ZxAllocator *)Py_NewRef(owner);
    b->prev = b->next = NULL;
    b->view = NULL;
    b->ptr = NULL;
    b->len = 0;
    b->align = 0;
    b->state = ZX_PREPARED;
    b->exports = 0;
    b->note = NULL;
    b->ctypes_ref = NULL;
    b->linked = false;
    b->mbuf = NULL;
    PyObject_GC_Track(b);
    return b;
}

/* Prepare: a block and its view, made before the operation that fills them
 * (making objects can run the collector, hence any Python code). The view
 * is empty, at the zero-length sentinel, until zx_commit_block. *view is a
 * new reference; *b is borrowed (the view holds it). If the operation does
 * not fill it, the transaction's release makes it dead: release the
 * transaction before dropping the view. */
int zx_prepare_block(ZxAllocator *owner, zx_txn *t, ZxBlock **b, PyObject **view) {
    ZxBlock *nb = block_new(owner);
    if (nb == NULL) return -1;
    nb->ptr = zh_empty(0);
    *view = PyMemoryView_FromObject((PyObject *)nb);
    if (*view == NULL) nb->state = ZX_UNTRACKED;
    Py_DECREF(nb);
    if (*view == NULL) return -1;
    *b = nb;
    t->prepared = nb;
    return 0;
}

/* Commit: the prepared block becomes the live allocation (ptr, len, al) and
 * `view` (its prepared view) shows exactly those bytes. C only: the view's
 * buffer is patched in place, where memoryobject.c keeps it (the managed
 * buffer's master, and the view's copy with its shape). */
void zx_commit_block(ZxBlock *b, PyObject *view, char *ptr, size_t len, zh_alignment al) {
    PyMemoryViewObject *mv = (PyMemoryViewObject *)view;
    assert(b->state == ZX_PREPARED && mv->mbuf->master.obj == (PyObject *)b);
    b->ptr = ptr;
    b->len = len;
    b->align = al;
    b->state = ZX_LIVE;
    mv->mbuf->master.buf = ptr;
    mv->mbuf->master.len = (Py_ssize_t)len;
    mv->view.buf = ptr;
    mv->view.len = (Py_ssize_t)len;
    mv->view.shape[0] = (Py_ssize_t)len;
    b->view = Py_NewRef(view);
    block_link(b);
}

/* A prepared block the operation did not fill: its view is dead from now on
 * (gc.get_objects() could have handed it to Python code). */
static void abandon(ZxBlock *b) {
    if (b->state != ZX_PREPARED) return;
    b->state = ZX_UNTRACKED;
}

static int Block_getbuffer(PyObject *op, Py_buffer *view, int flags) {
    ZxBlock *b = Block_CAST(op);
    /* A prepared block exports its (empty) sentinel: only its own view, or
     * code that dug the block out of the collector, can ask; the bytes it
     * will have are not reachable through such an export. */
    if (b->state == ZX_PREPARED) {
        if (PyBuffer_FillInfo(view, op, zh_empty(0), 0, 0, flags) < 0) return -1;
        b->exports++;
        return 0;
    }
    if (b->state != ZX_LIVE) {
        PyErr_Format(PyExc_ValueError, "the block at %p is %s: it can no longer be read or written",
                     (void *)b->ptr, state_name(b->state));
        return -1;
    }
    /* Live, yet its allocator is closed: only the collector does that
     * without retiring the blocks (a cycle's tp_clear gave the memory back
     * after clearing the block's view). Code that dug the block out of the
     * collector (gc.get_objects() in a weakref callback) must not reach it. */
    if (b->owner->closed) {
        PyErr_Format(PyExc_ValueError,
                     "the block at %p belongs to %.100s, which the garbage collector tore down: it can no "
                     "longer be read or written",
                     (void *)b->ptr, Py_TYPE(b->owner)->tp_name);
        return -1;
    }
    if (PyBuffer_FillInfo(view, op, b->ptr, (Py_ssize_t)b->len, 0, flags) < 0) return -1;
    b->exports++; /* only once the export exists */
    return 0;
}

static void release_unreachable(ZxBlock *b);
static void run_freeing(ZxAllocator *self);

static void Block_releasebuffer(PyObject *op, Py_buffer *view) {
    (void)view;
    ZxBlock *b = Block_CAST(op);
    b->exports--;
    assert(b->exports >= 0);
    if (b->exports > 0) return;
    b->mbuf = NULL; /* it is being deallocated */
    /* A free the collector ran: no view of the memory is left, so no
     * memoryview method can still be reading it. */
    if (b->state == ZX_FREEING) {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        release_unreachable(b);
        PyErr_Restore(et, ev, tb);
    }
}

static int Block_traverse(PyObject *op, visitproc visit, void *arg) {
    ZxBlock *b = Block_CAST(op);
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(b->owner);
    Py_VISIT(b->view);
    Py_VISIT(b->note);
    /* ctypes_ref is not visited: with it the block holds itself, a
     * reference the collector must see as external (the memory is reachable
     * from the ctypes object until that dies). */
    return 0;
}

static int Block_clear(PyObject *op) {
    /* Breaks the block <-> primary view cycle of a dropped view. The owner is
     * kept until dealloc, which needs it to unlink. */
    Py_CLEAR(Block_CAST(op)->view);
    return 0;
}

static void Block_dealloc(PyObject *op) {
    ZxBlock *b = Block_CAST(op);
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    /* A live block whose views are all gone was never freed: a leak, as in
     * Zig (a DebugAllocator reports it). The memory stays allocated. A
     * freeing one is released when its export goes, or queued with a
     * reference: never here. */
    if (b->linked) block_unlink(b);
    assert(b->state != ZX_FREEING);
    assert(b->exports == 0);
    Py_CLEAR(b->view);
    Py_CLEAR(b->note);
    Py_CLEAR(b->ctypes_ref);
    Py_CLEAR(b->owner);
    PyObject_GC_Del(op);
    Py_DECREF(tp);
}

static PyObject *Block_repr(PyObject *op) {
    ZxBlock *b = Block_CAST(op);
    return PyUnicode_FromFormat("<zheap.Block %s address=%p length=%zu alignment=%zu of %s>",
                                state_name(b->state), (void *)b->ptr, b->len,
                                zh_alignment_bytes(b->align), Py_TYPE(b->owner)->tp_name);
}

static PyObject *Block_reduce(PyObject *op, PyObject *unused) {
    (void)op, (void)unused;
    PyErr_SetString(PyExc_TypeError, "cannot pickle a zheap.Block: it is a handle to raw memory");
    return NULL;
}

static PyObject *Block_get_address(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromVoidPtr(Block_CAST(op)->ptr);
}
static PyObject *Block_get_length(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromSize_t(Block_CAST(op)->len);
}
static PyObject *Block_get_alignment(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromSize_t(zh_alignment_bytes(Block_CAST(op)->align));
}
static PyObject *Block_get_state(PyObject *op, void *c) {
    (void)c;
    return PyUnicode_FromString(state_name(Block_CAST(op)->state));
}
static PyObject *Block_get_exports(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromSsize_t(Block_CAST(op)->exports);
}
static PyObject *Block_get_allocator(PyObject *op, void *c) {
    (void)c;
    return Py_NewRef((PyObject *)Block_CAST(op)->owner);
}

static PyGetSetDef Block_getset[] = {
    {"address", Block_get_address, NULL, "Start address of the block.", NULL},
    {"length", Block_get_length, NULL, "Length in bytes.", NULL},
    {"alignment", Block_get_alignment, NULL, "Alignment in bytes.", NULL},
    {"state", Block_get_state, NULL,
     "'live', 'freed', 'moved' (superseded by a resize/remap/realloc), 'reset' "
     "(invalidated by reset()/deinit()), 'destroying' (destroy()ed, freed when its last ctypes "
     "object goes), 'freeing' (freed while a garbage collection ran on CPython 3.11; the memory "
     "goes back when the last view of it goes, or at the allocator's next operation outside a "
     "collection), 'prepared' (made for an operation still under "
     "way) or 'untracked' (never filled, or a ctypes object's block that was never destroyed).",
     NULL},
    {"exports", Block_get_exports, NULL, "Number of buffer exports of the block right now.", NULL},
    {"allocator", Block_get_allocator, NULL, "The allocator the block came from.", NULL},
    {NULL},
};

static PyMethodDef Block_methods[] = {
    {"__reduce__", Block_reduce, METH_NOARGS, NULL},
    {NULL},
};

PyDoc_STRVAR(Block_doc,
             "The exporter behind every view a zheap allocator hands out (``view.obj``).\n\n"
             "Not instantiable. Read-only introspection of one allocation.");

static PyType_Slot Block_slots[] = {
    {Py_tp_doc, (void *)Block_doc},
    {Py_tp_dealloc, Block_dealloc},
    {Py_tp_traverse, Block_traverse},
    {Py_tp_clear, Block_clear},
    {Py_tp_repr, Block_repr},
    {Py_tp_getset, Block_getset},
    {Py_tp_methods, Block_methods},
    {Py_bf_getbuffer, Block_getbuffer},
    {Py_bf_releasebuffer, Block_releasebuffer},
    {0, NULL},
};

static PyType_Spec Block_spec = {
    .name = "zheap.Block",
    .basicsize = sizeof(ZxBlock),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Block_slots,
};

int zx_block_init_type(PyObject *module, zheap_state *st) {
    st->Block_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &Block_spec, NULL);
    if (st->Block_type == NULL) return -1;
    return PyModule_AddType(module, st->Block_type);
}

/* --- view -> block, and the guard ------------------------------------------ */

/* The block of `owner` behind `view` in any state, borrowed, or NULL (no
 * error set): for allocators that diagnose misuse themselves. */
ZxBlock *zx_block_of_view(ZxAllocator *owner, PyObject *view) {
    if (!PyMemoryView_Check(view)) return NULL;
    /* A view the collector cleared (memory_clear) has no managed buffer;
     * Python code can still reach it, e.g. from gc.get_objects() in a
     * weakref callback the same collection runs. */
    if (((PyMemoryViewObject *)view)->mbuf == NULL) return NULL;
    PyObject *obj = ((PyMemoryViewObject *)view)->mbuf->master.obj;
    if (obj == NULL || !Py_IS_TYPE(obj, owner->st->Block_type) || Block_CAST(obj)->owner != owner) return NULL;
    return Block_CAST(obj);
}

/* The live block behind `view`, borrowed, or NULL with ValueError/TypeError.
 * `view` must be a view of a block of `owner` that covers the whole block. */
ZxBlock *zx_block_from_view(ZxAllocator *owner, PyObject *view, const char *fn) {
    if (!PyMemoryView_Check(view)) {
        PyErr_Format(PyExc_TypeError, "%s() expects a memoryview returned by %s(), got %.100s", fn,
                     strcmp(fn, "destroy") == 0 ? "create" : "alloc", Py_TYPE(view)->tp_name);
        return NULL;
    }
    PyMemoryViewObject *mv = (PyMemoryViewObject *)view;
    if (mv->mbuf == NULL) { /* cleared by the collector (zx_block_of_view) */
        PyErr_Format(PyExc_ValueError, "%s(): the memoryview was released", fn);
        return NULL;
    }
    PyObject *obj = mv->mbuf->master.obj;
    if (obj == NULL || !Py_IS_TYPE(obj, owner->st->Block_type)) {
        if (mv->flags & _Py_MEMORYVIEW_RELEASED)
            PyErr_Format(PyExc_ValueError, "%s(): the memoryview was released", fn);
        else
            PyErr_Format(PyExc_ValueError, "%s(): the memoryview was not handed out by a zheap allocator", fn);
        return NULL;
    }
    ZxBlock *b = Block_CAST(obj);
    if (b->owner != owner) {
        PyErr_Format(PyExc_ValueError, "%s(): the block at %p belongs to another allocator (%.100s)", fn,
                     (void *)b->ptr, Py_TYPE(b->owner)->tp_name);
        return NULL;
    }
    switch (b->state) {
    case ZX_LIVE:
        break;
    case ZX_FREED:
    case ZX_FREEING:
        PyErr_Format(PyExc_ValueError, "%s(): double free: the block at %p was already freed", fn,
                     (void *)b->ptr);
        return NULL;
    case ZX_MOVED:
        PyErr_Format(PyExc_ValueError,
                     "%s(): stale view: the block at %p was resized or moved; use the view that call returned",
                     fn, (void *)b->ptr);
        return NULL;
    case ZX_DESTROYING:
        PyErr_Format(PyExc_ValueError, "%s(): the block at %p was already destroyed", fn, (void *)b->ptr);
        return NULL;
    case ZX_RESET:
        PyErr_Format(PyExc_ValueError,
                     "%s(): the block at %p was invalidated by reset() or deinit() of its allocator", fn,
                     (void *)b->ptr);
        return NULL;
    default:
        PyErr_Format(PyExc_ValueError, "%s(): the block at %p is not a live allocation", fn, (void *)b->ptr);
        return NULL;
    }
    if (mv->flags & _Py_MEMORYVIEW_RELEASED) {
        PyErr_Format(PyExc_ValueError, "%s(): the memoryview was released", fn);
        return NULL;
    }
    if (mv->view.ndim != 1 || mv->view.buf != (void *)b->ptr || (size_t)mv->view.len != b->len) {
        PyErr_Format(PyExc_ValueError,
                     "%s(): the view covers only part of the block at %p; pass the view alloc() returned", fn,
                     (void *)b->ptr);
        return NULL;
    }
    return b;
}

/* The one export guard (bytearray's _canresize for blocks): 0 when `mv` is
 * the only way left to reach the block's memory, else BufferError and no
 * change. Three counts matter: exports of the view itself (numpy, a
 * PyObject_GetBuffer consumer), other views sharing its managed buffer
 * (slices, casts, memoryview(view), ctypes.from_buffer), and other managed
 * buffers on the block (memoryview(view.obj)). */
int zx_guard(ZxBlock *b, PyMemoryViewObject *mv) {
    if (mv->exports > 0) {
        PyErr_Format(PyExc_BufferError,
                     "cannot free, move or reset the block at %p: the view has %zd exported buffer%s "
                     "(e.g. a numpy array or ctypes object over it)",
                     (void *)b->ptr, mv->exports, mv->exports == 1 ? "" : "s");
        return -1;
    }
    if (mv->mbuf->exports > 1 || b->exports > 1) {
        Py_ssize_t others = (mv->mbuf->exports - 1) + (b->exports - 1);
        PyErr_Format(PyExc_BufferError,
                     "cannot free, move or reset the block at %p: %zd other view%s of it (slices, casts, "
                     "memoryview(view)) %s alive",
                     (void *)b->ptr, others, others == 1 ? "" : "s", others == 1 ? "is" : "are");
        return -1;
    }
    return 0;
}

/* What memoryview.release() does, minus releasing the managed buffer: every
 * access to `mv` raises ValueError from now on, and its managed buffer's
 * export count drops (so dealloc's invariants hold), but the managed buffer
 * keeps the Block until the view itself is deallocated. NULL or an already
 * released view: nothing to do. */
static void view_invalidate(PyMemoryViewObject *mv) {
    if (mv == NULL || (mv->flags & _Py_MEMORYVIEW_RELEASED)) return;
    mv->flags |= _Py_MEMORYVIEW_RELEASED;
    mv->mbuf->exports--;
}

/* The primary view of `b` if it is still usable, else NULL. */
static PyMemoryViewObject *block_primary(ZxBlock *b) {
    PyMemoryViewObject *mv = (PyMemoryViewObject *)b->view;
    return mv != NULL && !(mv->flags & _Py_MEMORYVIEW_RELEASED) ? mv : NULL;
}

/* Before an act that may run Python code (an allocator written in Python
 * below): the guarded view is released for its duration, so that no new
 * export of it (memoryview(v), v[:], numpy) can be taken while its memory
 * is being given back or moved. zx_view_resume undoes it when the act did
 * not happen; the commit's retire keeps it. */
void zx_view_suspend(PyMemoryViewObject *mv) { view_invalidate(mv); }

void zx_view_resume(PyMemoryViewObject *mv) {
    if (!(mv->flags & _Py_MEMORYVIEW_RELEASED)) return;
    mv->flags &= ~_Py_MEMORYVIEW_RELEASED;
    mv->mbuf->exports++;
}

/* Commit: end the life of a guarded block's view. `mv` (and the primary
 * view, which the guard proved is `mv` or already released) raises
 * ValueError on every access from now on; the managed buffer keeps the
 * Block as a record until the view dies. The block's reference to its view
 * goes to the transaction, dropped at release: dropping it here could run a
 * weakref callback between this commit and the act it belongs to. */
void zx_retire(zx_txn *t, ZxBlock *b, PyMemoryViewObject *mv, enum zx_block_state state) {
    assert(b->linked || b->state != ZX_LIVE);
    b->retired = mv != NULL ? (const void *)mv : (const void *)block_primary(b);
    view_invalidate(mv);
    view_invalidate(block_primary(b));
    b->state = state;
    if (b->linked) block_unlink(b);
    if (b->view != NULL) {
        PyObject *v = b->view;
        b->view = NULL;
        zx_txn_drop(t, v);
    }
}

/* --- while a collection runs (CPython 3.11) -------------------------------------- */

/* CPython 3.11 collects inside object allocations, so a finalizer or weakref
 * callback can run in the middle of a memoryview method that holds the
 * view's address already: tolist() takes it before it makes its list;
 * memoryview(v), v[a:b], v.cast() and ctypes' from_buffer copy the view's
 * buffer after making the new view. Releasing the view stops none of
 * them. Giving its memory back then would have them read memory another
 * allocation owns, or an unmapped page. So while a collection runs
 * (gcstate.c): a free takes effect for the views at once and for the memory
 * when the last view of it goes (zx_retire_freeing); everything else that
 * gives memory back or moves it is refused. 3.12+ collects only between
 * bytecodes, where no C method is half done. */
int zx_refuse_in_collection(const char *what) {
    if (!zx_collecting()) return 0;
    PyErr_Format(PyExc_RuntimeError,
                 "cannot %s while a garbage collection runs (CPython 3.11): a memoryview method the "
                 "collection interrupted may still be reading the memory; free() is allowed",
                 what);
    return -1;
}

/* Commit of a free while a collection runs (zx_collecting()): `mv` and the
 * primary view raise ValueError from now on, as after any free, but keep
 * their buffer; the block leaves `live` for the allocator's `freeing` list
 * and its memory goes back when the managed buffer that every view of it
 * shares dies (Block_releasebuffer): a method still reading one holds it.
 * Or sooner, at the allocator's next operation outside a collection
 * (run_freeing), unless a view copied from `mv` meanwhile is alive. */
void zx_retire_freeing(zx_txn *t, ZxBlock *b, PyMemoryViewObject *mv) {
    assert(b->state == ZX_LIVE && b->linked && b->exports == 1 && mv->mbuf->master.obj == (PyObject *)b);
    b->retired = mv;
    view_invalidate(mv);
    view_invalidate(block_primary(b));
    block_unlink(b);
    b->state = ZX_FREEING;
    b->mbuf = mv->mbuf;
    freeing_link(b);
    if (b->view != NULL) {
        PyObject *v = b->view;
        b->view = NULL;
        zx_txn_drop(t, v);
    }
}

/* The guard for bulk invalidation (reset, deinit): 0 when every outstanding
 * view of `self` can be retired and no other allocator draws from it, else
 * BufferError and no change. */
int zx_guard_all(ZxAllocator *self, const char *what) {
    for (ZxBlock *b = self->live; b != NULL; b = b->next) {
        if (b->ctypes_ref != NULL) {
            PyErr_Format(PyExc_BufferError, "cannot %s: a ctypes object create() made at %p is still alive", what,
                         (void *)b->ptr);
            return -1;
        }
        PyMemoryViewObject *mv = block_primary(b);
        if (mv != NULL) {
            if (zx_guard(b, mv) < 0) return -1;
        } else if (b->exports > 0) {
            /* The primary view was released (v.release()) while slices of
             * it, or memoryview(view.obj), still export the block. */
            PyErr_Format(PyExc_BufferError, "cannot %s: views of the block at %p are alive", what, (void *)b->ptr);
            return -1;
        }
    }
    for (ZxBlock *b = self->freeing; b != NULL; b = b->next) {
        /* Its freed views are released; a view copied from one while the
         * collection ran (see zx_refuse_in_collection) is not. */
        if (b->mbuf != NULL && b->mbuf->exports > 0) {
            PyErr_Format(PyExc_BufferError,
                         "cannot %s: a view of the block at %p, freed while a garbage collection ran, is "
                         "still alive",
                         what, (void *)b->ptr);
            return -1;
        }
    }
    if (self->lent.n > 0) {
        PyErr_Format(PyExc_BufferError, "cannot %s: %zu numpy array buffer%s still in its memory", what,
                     self->lent.n, self->lent.n == 1 ? " is" : "s are");
        return -1;
    }
    if (self->pins > 0) {
        PyErr_Format(PyExc_BufferError, "cannot %s: %zd allocator%s draw%s memory from this one", what, self->pins,
                     self->pins == 1 ? "" : "s", self->pins == 1 ? "s" : "");
        return -1;
    }
    return 0;
}

/* Whether anything but a block's own primary view reaches memory of `self`
 * (an export, a slice, a ctypes object): the collector must then leave the
 * allocator whole (tp_clear), since the memory is still in use by objects
 * that outlive this step of the collection (a Python allocator's region). */
bool zx_memory_reachable(ZxAllocator *self) {
    if (self->freeing != NULL) return true; /* its free is still to come through this allocator */
    if (self->lent.n > 0) return true;      /* numpy arrays' data */
    for (ZxBlock *b = self->live; b != NULL; b = b->next) {
        if (b->ctypes_ref != NULL || b->exports > 1) return true;
        PyMemoryViewObject *mv = block_primary(b);
        if (mv != NULL ? (mv->exports > 0 || mv->mbuf->exports > 1) : b->exports > 0) return true;
    }
    return false;
}

/* Retire every outstanding view after zx_guard_all() passed (commit). The
 * views' references are kept in a C array until release; -1 with
 * MemoryError (nothing retired) if it cannot be had. */
int zx_txn_reserve(zx_txn *t, size_t n) {
    if (t->nbulk + n <= t->cbulk) return 0;
    PyObject **views = PyMem_RawRealloc(t->bulk, (t->nbulk + n) * sizeof *views);
    if (views == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->bulk = views;
    t->cbulk = t->nbulk + n;
    return 0;
}

int zx_retire_all(zx_txn *t, ZxAllocator *self) {
    if (zx_txn_reserve(t, (size_t)self->nlive) < 0) return -1;
    while (self->live != NULL) {
        ZxBlock *b = self->live;
        b->retired = block_primary(b);
        view_invalidate(block_primary(b));
        b->state = ZX_RESET;
        block_unlink(b);
        if (b->view != NULL) {
            t->bulk[t->nbulk++] = b->view;
            b->view = NULL;
        }
    }
    /* Frees still to come: the reset or deinit gives their memory back. */
    while (self->freeing != NULL) freeing_unlink(self->freeing, ZX_RESET);
    return 0;
}

/* --- the transaction ------------------------------------------------------------- */

/* A bulk invalidation (reset, deinit) up to its act: begin, guard every
 * view, retire them all. On failure the transaction is released and
 * nothing changed. */
int zx_txn_begin_bulk(zx_txn *t, const char *what) {
    if (zx_txn_begin(t) < 0 || (!t->garbage && zx_refuse_in_collection(what) < 0) ||
        zx_guard_all(t->self, what) < 0 || zx_retire_all(t, t->self) < 0) {
        zx_txn_release(t);
        return -1;
    }
    return 0;
}

void zx_txn_init(zx_txn *t, ZxAllocator *self) {
    t->self = self;
    t->prepared = NULL;
    t->begun = false;
    t->garbage = false;
    t->mark.marked = false;
    t->ndrop = 0;
    t->bulk = NULL;
    t->nbulk = t->cbulk = 0;
}

/* Begin: after every object is made. Marks the stack busy (RuntimeError on
 * re-entry) and checks the allocator is still open: the collector may have
 * run anything while the objects were made. */
int zx_txn_begin(zx_txn *t) {
    if (zx_stack_begin(t->self, false, &t->mark) < 0) return -1;
    t->begun = true;
    if (t->self->npending > 0) zx_run_pending(t->self); /* frees finalizers asked for while busy */
    if (t->self->freeing != NULL) run_freeing(t->self);
    if (t->self->closed) {
        zx_txn_end(t);
        PyErr_Format(PyExc_ValueError, "%.100s was deinitialized", Py_TYPE(t->self)->tp_name);
        return -1;
    }
    return 0;
}

void zx_txn_end(zx_txn *t) {
    if (!t->begun) return;
    t->begun = false;
    /* The marks cover the allocators `self` draws from too: a free a finalizer
     * queued on one of them while this operation ran is due now, not at that
     * allocator's own next operation. */
    for (ZxAllocator *a = t->self; a != NULL; a = a->child ? ZxAllocator_CAST(a->child) : NULL)
        if (a->npending > 0) zx_run_pending(a);
    zx_stack_end(t->self, &t->mark);
}

/* Keep a (new) reference until release. The array is sized for every
 * operation's needs; past it (a bug) the reference is dropped at once. */
void zx_txn_drop(zx_txn *t, PyObject *obj) {
    if (obj == NULL) return;
    assert(t->ndrop < ZX_TXN_DROPS);
    if (t->ndrop < ZX_TXN_DROPS) t->drop[t->ndrop++] = obj;
    else Py_DECREF(obj);
}

/* Release: the operation is over and the allocator consistent; dropping
 * references may now run any Python code. An exception being raised is
 * kept across the finalizers. */
void zx_txn_release(zx_txn *t) {
    zx_txn_end(t);
    if (t->prepared != NULL) {
        abandon(t->prepared);
        t->prepared = NULL;
    }
    if (t->ndrop == 0 && t->nbulk == 0 && t->bulk == NULL) return;
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    for (size_t i = 0; i < t->ndrop; i++) Py_DECREF(t->drop[i]);
    t->ndrop = 0;
    for (size_t i = 0; i < t->nbulk; i++) Py_DECREF(t->bulk[i]);
    PyMem_RawFree(t->bulk);
    t->bulk = NULL;
    t->nbulk = t->cbulk = 0;
    PyErr_Restore(et, ev, tb);
}

/* --- frees asked for from finalizers --------------------------------------------- */

/* Free a destroyed or freeing block's memory now: the caller holds the
 * stack's marks. */
static void free_destroyed(ZxBlock *b) {
    if (b->state != ZX_DESTROYING && b->state != ZX_FREEING) return; /* a reset or deinit took it meanwhile */
    /* Freed in the books first: a Python-written allocator's _free runs
     * Python code, which must find the block gone, never half freed. */
    if (b->state == ZX_FREEING) freeing_unlink(b, ZX_FREED);
    b->state = ZX_FREED;
    if (b->linked) block_unlink(b);
    if (b->len != 0) zh_raw_free(zx_iface(b->owner), b->ptr, b->len, b->align, 0);
}

/* free_destroyed(b) for the mark holder of `self`, with nobody to raise to
 * (an error of a Python-written allocator is unraisable); steals a
 * reference to `b`, which may be the last: the block is unlinked by then. */
static void free_quietly(ZxAllocator *self, ZxBlock *b) {
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    free_destroyed(b);
    if (PyErr_Occurred()) PyErr_WriteUnraisable((PyObject *)self);
    PyErr_Restore(et, ev, tb);
    Py_DECREF(b);
}

/* Outside a collection no memoryview method is half done (3.11 interrupts
 * them only to collect), so a freeing block that no view copied during the
 * collection can go back now: its own views are released. Called by the
 * mark holder; restarts from the head after each free, whose Python code
 * (an allocator written in Python) may change the list. */
static void run_freeing(ZxAllocator *self) {
    if (zx_collecting()) return;
    for (;;) {
        ZxBlock *b = self->freeing;
        while (b != NULL && b->mbuf != NULL && b->mbuf->exports > 0) b = b->next;
        if (b == NULL) return;
        free_quietly(self, (ZxBlock *)Py_NewRef(b));
    }
}

/* Run the frees queued while the stack was busy (called by the mark holder,
 * in its act). Errors of a Python-written allocator have nobody to go to. */
void zx_run_pending(ZxAllocator *self) {
    while (self->npending > 0) free_quietly(self, self->pending[--self->npending]);
}

/* Nothing reaches the memory of destroyed or freeing block `b` any more:
 * free it now or, if its stack is in the middle of an operation, when that
 * operation ends. Called with no error set. */
static void release_unreachable(ZxBlock *b) {
    ZxAllocator *o = b->owner;
    zx_mark m;
    bool busy = false;
    for (ZxAllocator *a = o; a != NULL && !busy; a = a->child ? ZxAllocator_CAST(a->child) : NULL)
        busy = a->busy_thread != 0;
    if (!busy && zx_stack_begin(o, false, &m) == 0) {
        free_destroyed(b);
        zx_stack_end(o, &m);
        if (PyErr_Occurred()) PyErr_WriteUnraisable((PyObject *)o);
        return;
    }
    PyErr_Clear();
    ZxBlock **q = zx_grow(o->pending, &o->cpending, o->npending, sizeof *q, 8);
    if (q == NULL) { /* cannot queue: the memory stays allocated (a leak, never a use after free) */
        if (b->state == ZX_FREEING) freeing_unlink(b, ZX_UNTRACKED);
        b->state = ZX_UNTRACKED;
        if (b->linked) block_unlink(b);
        return;
    }
    o->pending = q;
    o->pending[o->npending++] = (ZxBlock *)Py_NewRef(b);
}

/* The weak reference's callback: the ctypes pointer object create() made
 * (the object's _b_base_, which nothing in Python can detach) is gone, so
 * no ctypes object reaches the memory any more. Destroyed: free it, now or,
 * if the stack is in the middle of an operation, when that ends. Never
 * destroyed: a leak, as a dropped view is. */
static PyObject *ctypes_gone(PyObject *op, PyObject *ref) {
    (void)ref;
    ZxBlock *b = Block_CAST(op);
    PyObject *self_ref = b->ctypes_ref;
    if (self_ref == NULL) Py_RETURN_NONE;
    b->ctypes_ref = NULL;
    if (b->state == ZX_DESTROYING) {
        release_unreachable(b);
    } else if (b->state == ZX_LIVE) {
        b->state = ZX_UNTRACKED;
        if (b->linked) block_unlink(b);
    }
    Py_DECREF(self_ref); /* the weak reference */
    Py_DECREF(op);       /* the block's hold on itself */
    Py_RETURN_NONE;
}

static PyMethodDef ctypes_gone_def = {"_ctypes_gone", ctypes_gone, METH_O, NULL};

/* create(), prepare: a weak reference to `pointer` (the ctypes object's
 * _b_base_) whose callback tells block `b` that no ctypes object reaches
 * its memory any more. */
PyObject *zx_ctypes_ref_new(ZxBlock *b, PyObject *pointer) {
    PyObject *cb = PyCFunction_New(&ctypes_gone_def, (PyObject *)b);
    PyObject *ref = cb ? PyWeakref_NewRef(pointer, cb) : NULL;
    Py_XDECREF(cb);
    return ref;
}

/* create(), commit (C only, after the checks): the live block's memory is
 * reachable from ctypes objects until the pointer dies. The block holds
 * itself (a reference the collector does not see) and `ref` (stolen); its
 * view, which nobody else has, is retired. */
void zx_block_hold_ctypes(zx_txn *t, ZxBlock *b, PyObject *ref) {
    assert(b->state == ZX_LIVE && b->ctypes_ref == NULL);
    b->ctypes_ref = ref;
    Py_INCREF(b);
    view_invalidate(block_primary(b));
    if (b->view != NULL) {
        zx_txn_drop(t, b->view);
        b->view = NULL;
    }
}

/* The block of `owner` whose ctypes pointer is `pointer` (borrowed), or NULL. */
ZxBlock *zx_block_of_ctypes(ZxAllocator *owner, PyObject *pointer) {
    for (ZxBlock *b = owner->live; b != NULL; b = b->next) {
        if (b->ctypes_ref == NULL) continue;
#if PY_VERSION_HEX >= 0x030D0000
        PyObject *target = NULL;
        if (PyWeakref_GetRef(b->ctypes_ref, &target) < 0) PyErr_Clear();
        Py_XDECREF(target); /* only compared: `pointer` keeps it alive */
#else
        PyObject *target = PyWeakref_GET_OBJECT(b->ctypes_ref);
#endif
        if (target == pointer) return b;
    }
    return NULL;
}

/* A long-lived export on the memory behind `obj` (FixedBufferAllocator's
 * buffer, a Python allocator's region): *range/len are obj's bytes, `out`
 * holds the export until PyBuffer_Release. For a memoryview the export is
 * taken on the object underneath it, not on the view: CPython's memoryview
 * tp_clear drops its managed buffer even while it is exported, so a view
 * exported across a garbage cycle crashes when the export is released. */
/* The wrong kind of buffer (read-only, not contiguous) is a wrong argument:
 * TypeError, as for PyArg's "w*" (the exporter raised BufferError). */
static int not_writable(PyObject *obj) {
    if (!PyErr_ExceptionMatches(PyExc_BufferError)) return -1;
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    PyErr_NormalizeException(&et, &ev, &tb);
    if (ev != NULL)
        PyErr_Format(PyExc_TypeError, "a writable, C-contiguous buffer is required, not %.100s (%S)",
                     Py_TYPE(obj)->tp_name, ev);
    else
        PyErr_Format(PyExc_TypeError, "a writable, C-contiguous buffer is required, not %.100s",
                     Py_TYPE(obj)->tp_name);
    Py_XDECREF(et);
    Py_XDECREF(ev);
    Py_XDECREF(tb);
    return -1;
}

int zx_get_long_buffer(PyObject *obj, Py_buffer *out, char **range, Py_ssize_t *len) {
    if (!PyMemoryView_Check(obj)) {
        if (PyObject_GetBuffer(obj, out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) return not_writable(obj);
        *range = out->buf;
        *len = out->len;
        return 0;
    }
    PyMemoryViewObject *mv = (PyMemoryViewObject *)obj;
    if (mv->flags & _Py_MEMORYVIEW_RELEASED || mv->mbuf->master.obj == NULL) {
        PyErr_SetString(PyExc_ValueError, "the memoryview was released");
        return -1;
    }
    if (mv->view.readonly || !PyBuffer_IsContiguous(&mv->view, 'C')) {
        PyErr_Format(PyExc_TypeError, "a writable, C-contiguous buffer is required, not a %s memoryview",
                     mv->view.readonly ? "read-only" : "non-contiguous");
        return -1;
    }
    if (PyObject_GetBuffer(mv->mbuf->master.obj, out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        return not_writable(mv->mbuf->master.obj);
    *range = mv->view.buf;
    *len = mv->view.len;
    return 0;
}

