/* trace.c -- event recording for zheap.trace() (teaching).
 *
 * Every allocator object can be reached through its "tap": a zh_allocator
 * whose context is the object itself and whose vtable forwards to the
 * object's core allocator. Parents are always wired to their child's tap
 * (zx_child_iface), so the calls an arena makes on its page allocator pass
 * through it; the binding's own calls take the tap only while a trace is on
 * (zx_iface). A tap with no recorder attached costs one indirect call and a
 * branch, paid only on the parent -> child path.
 *
 * Events are recorded in plain C memory (PyMem_Raw) while the call runs --
 * under core locks, so nothing here may run Python code or allocate Python
 * objects -- and turned into tuples when Python asks for them. An event is
 * recorded when its operation begins, so a parent's event comes before the
 * child events it causes, and its result is filled in when it ends. */
#include "trace.h"
#include "frames.h"

#include <string.h>

struct zx_tracer {
    zx_event *ev;
    size_t n, cap;
    size_t lost;         /* events dropped because the buffer could not grow */
    PyObject *traced;    /* tuple of the allocators being recorded (strong) */
    zheap_state *st;
};

/* Nesting of traced operations on this thread: 0 for a call from Python. */
static _Thread_local unsigned depth;

static const char *const op_names[] = {
    [ZX_OP_ALLOC] = "alloc",     [ZX_OP_RESIZE] = "resize", [ZX_OP_REMAP] = "remap",
    [ZX_OP_FREE] = "free",   [ZX_OP_CREATE] = "create", [ZX_OP_RESET] = "reset",
    [ZX_OP_DEINIT] = "deinit",
};

size_t zx_trace_begin(ZxAllocator *self, enum zx_op op, const void *addr, size_t len, zh_alignment al,
                      size_t new_len) {
    zx_tracer *t = self->tracer;
    if (t == NULL) return 0;
    /* C code may call an allocator through a capsule from a thread of its
     * own, without the GIL: the record (and the frame lookup) need it. */
    if (!PyGILState_Check()) {
        __atomic_fetch_add(&t->lost, 1, __ATOMIC_RELAXED);
        return 0;
    }
    zx_event *ev = zx_grow(t->ev, &t->cap, t->n, sizeof *ev, 256);
    if (ev == NULL) {
        t->lost++;
        return 0;
    }
    t->ev = ev;
    /* The caller's line: the innermost Python frame, interned like a
     * DebugAllocator trace so that no Python object is made here. */
    uintptr_t where = 0;
    zx_capture_frames(&t->st->frames, &where, 1);
    t->ev[t->n] = (zx_event){
        .op = (uint8_t)op,
        .depth = (uint8_t)(depth < 255 ? depth : 255),
        .who = (uint16_t)self->trace_index,
        .align = al,
        .addr = (uintptr_t)addr,
        .len = len,
        .new_len = new_len,
        .where = where,
    };
    depth++;
    return ++t->n; /* an index + 1 that stays valid when the buffer moves */
}

void zx_trace_end(ZxAllocator *self, size_t token, uintptr_t result) {
    if (token == 0) return;
    depth--;
    /* The recorder may have been detached by the call (it ran Python code
     * in an allocator written in Python); then the event went with it. */
    zx_tracer *t = self->tracer;
    if (t != NULL && token <= t->n) t->ev[token - 1].result = result;
}

/* --- the tap ------------------------------------------------------------------------ */

static void *tap_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    ZxAllocator *self = ctx;
    if (self->tracer == NULL) return self->a.vtable->alloc(self->a.ctx, len, al, ra);
    size_t tok = zx_trace_begin(self, ZX_OP_ALLOC, NULL, len, al, 0);
    void *p = self->a.vtable->alloc(self->a.ctx, len, al, ra);
    zx_trace_end(self, tok, (uintptr_t)p);
    return p;
}

static bool tap_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    ZxAllocator *self = ctx;
    if (self->tracer == NULL) return self->a.vtable->resize(self->a.ctx, mem, len, al, new_len, ra);
    size_t tok = zx_trace_begin(self, ZX_OP_RESIZE, mem, len, al, new_len);
    bool ok = self->a.vtable->resize(self->a.ctx, mem, len, al, new_len, ra);
    zx_trace_end(self, tok, ok);
    return ok;
}

static void *tap_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    ZxAllocator *self = ctx;
    if (self->tracer == NULL) return self->a.vtable->remap(self->a.ctx, mem, len, al, new_len, ra);
    size_t tok = zx_trace_begin(self, ZX_OP_REMAP, mem, len, al, new_len);
    void *p = self->a.vtable->remap(self->a.ctx, mem, len, al, new_len, ra);
    zx_trace_end(self, tok, (uintptr_t)p);
    return p;
}

static void tap_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    ZxAllocator *self = ctx;
    if (self->tracer == NULL) {
        self->a.vtable->free(self->a.ctx, mem, len, al, ra);
        return;
    }
    size_t tok = zx_trace_begin(self, ZX_OP_FREE, mem, len, al, 0);
    self->a.vtable->free(self->a.ctx, mem, len, al, ra);
    zx_trace_end(self, tok, 0);
}

const zh_allocator_vtable zx_tap_vtable = {tap_alloc, tap_resize, tap_remap, tap_free};

/* --- the recorder, as a capsule for zheap/trace.py ------------------------------------ */

#define RECORDER "zheap._recorder"

static void detach(zx_tracer *t) {
    if (t->traced == NULL) return;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t->traced); i++) {
        ZxAllocator *a = ZxAllocator_CAST(PyTuple_GET_ITEM(t->traced, i));
        if (a->tracer == t) a->tracer = NULL;
    }
    Py_CLEAR(t->traced);
}

static void recorder_destroy(PyObject *capsule) {
    zx_tracer *t = PyCapsule_GetPointer(capsule, RECORDER);
    if (t == NULL) return;
    detach(t);
    PyMem_RawFree(t->ev);
    PyMem_RawFree(t);
}

/* _trace_start(allocator) -> (recorder, allocators): record every operation
 * on the allocator and on the allocators under it (its child, the child's
 * child...), listed root first, until _trace_stop. */
static PyObject *trace_start(PyObject *module, PyObject *root) {
    zheap_state *st = PyModule_GetState(module);
    PyObject *chain = PyList_New(0);
    if (chain == NULL) return NULL;
    for (PyObject *a = root; a != NULL; a = ZxAllocator_CAST(a)->child) {
        /* Every allocator object has the ZxAllocator head; pools are not
         * Allocators but are traced the same way. */
        if (!PyObject_TypeCheck(a, st->Allocator_type) && !PyObject_TypeCheck(a, st->MemoryPool_type)) {
            Py_DECREF(chain);
            return PyErr_Format(PyExc_TypeError, "trace() expects a zheap allocator, got %.100s",
                                Py_TYPE(a)->tp_name);
        }
        if (ZxAllocator_CAST(a)->tracer != NULL) {
            Py_DECREF(chain);
            return PyErr_Format(PyExc_RuntimeError, "trace(): %R is being traced already", a);
        }
        int seen = PySequence_Contains(chain, a);
        if (seen != 0 || PyList_GET_SIZE(chain) == UINT16_MAX || PyList_Append(chain, a) < 0) {
            if (seen > 0) break; /* a cycle cannot happen, but never loop forever */
            Py_DECREF(chain);
            return seen < 0 || PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "trace(): chain too long");
        }
    }
    PyObject *traced = PyList_AsTuple(chain);
    Py_DECREF(chain);
    if (traced == NULL) return NULL;
    zx_tracer *t = PyMem_RawCalloc(1, sizeof *t);
    if (t == NULL) {
        Py_DECREF(traced);
        return PyErr_NoMemory();
    }
    t->st = st;
    t->traced = traced;
    PyObject *capsule = PyCapsule_New(t, RECORDER, recorder_destroy);
    if (capsule == NULL) {
        Py_CLEAR(t->traced);
        PyMem_RawFree(t);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(traced); i++) {
        ZxAllocator *a = ZxAllocator_CAST(PyTuple_GET_ITEM(traced, i));
        a->tracer = t;
        a->trace_index = (uint16_t)i;
    }
    return Py_BuildValue("(NO)", capsule, traced);
}

static PyObject *where_of(zheap_state *st, uintptr_t id) {
    if (id == 0 || id > st->frames.n) return PyUnicode_FromString("");
    zx_frame *fr = &st->frames.items[id - 1];
    return PyUnicode_FromFormat("%U:%d", ((PyCodeObject *)fr->code)->co_filename, fr->lineno);
}

/* _trace_take(recorder) -> (events, lost): the events recorded so far, as
 * (depth, allocator index, op, address, length, alignment, new_length,
 * result, where) tuples, emptying the buffer. A reset's length is its mode
 * (zh_arena_reset_mode) and its new_length the limit. */
static PyObject *trace_take(PyObject *module, PyObject *capsule) {
    (void)module;
    zx_tracer *t = PyCapsule_GetPointer(capsule, RECORDER);
    if (t == NULL) return NULL;
    /* Take the buffer out first: making the tuples may run the collector,
     * whose finalizers may free views of a traced allocator -- events that
     * go into a new buffer, for the next take. */
    zx_event *ev = t->ev;
    size_t n = t->n, lost = t->lost;
    t->ev = NULL;
    t->n = t->cap = t->lost = 0;
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list != NULL && i < n; i++) {
        const zx_event *e = &ev[i];
        PyObject *where = where_of(t->st, e->where);
        PyObject *address = e->op == ZX_OP_ALLOC || e->op == ZX_OP_CREATE || e->op == ZX_OP_RESET ||
                                    e->op == ZX_OP_DEINIT
                                ? Py_NewRef(Py_None)
                                : PyLong_FromUnsignedLongLong(e->addr);
        PyObject *new_len = e->op == ZX_OP_RESIZE || e->op == ZX_OP_REMAP || e->op == ZX_OP_RESET
                                ? PyLong_FromSize_t(e->new_len)
                                : Py_NewRef(Py_None);
        PyObject *result;
        switch (e->op) {
        case ZX_OP_ALLOC:
        case ZX_OP_REMAP:
        case ZX_OP_CREATE:
            result = e->result ? PyLong_FromUnsignedLongLong(e->result) : Py_NewRef(Py_None);
            break;
        case ZX_OP_RESIZE:
        case ZX_OP_RESET:
            result = PyBool_FromLong(e->result != 0);
            break;
        default:
            result = Py_NewRef(Py_None);
        }
        PyObject *tuple = where && address && new_len && result
                              ? Py_BuildValue("(IIsOnnOOO)", (unsigned)e->depth, (unsigned)e->who, op_names[e->op],
                                              address, (Py_ssize_t)e->len,
                                              (Py_ssize_t)zh_alignment_bytes(e->align), new_len, result, where)
                              : NULL;
        Py_XDECREF(where);
        Py_XDECREF(address);
        Py_XDECREF(new_len);
        Py_XDECREF(result);
        if (tuple == NULL || PyList_Append(list, tuple) < 0) Py_CLEAR(list);
        Py_XDECREF(tuple);
    }
    PyMem_RawFree(ev);
    PyObject *r = list ? Py_BuildValue("(Nn)", list, (Py_ssize_t)lost) : NULL;
    if (r == NULL) t->lost += n + lost; /* out of memory: the events are gone, and counted */
    return r;
}

/* _trace_stop(recorder): stop recording (the buffered events stay takeable). */
static PyObject *trace_stop(PyObject *module, PyObject *capsule) {
    (void)module;
    zx_tracer *t = PyCapsule_GetPointer(capsule, RECORDER);
    if (t == NULL) return NULL;
    detach(t);
    Py_RETURN_NONE;
}

PyMethodDef zx_trace_methods[] = {
    {"_trace_start", trace_start, METH_O,
     "_trace_start(allocator, /)\n--\n\nStart recording the operations of the allocator and those under it\n"
     "(use zheap.trace). Returns (recorder, allocators)."},
    {"_trace_take", trace_take, METH_O,
     "_trace_take(recorder, /)\n--\n\nThe events recorded so far and the count lost (use zheap.trace)."},
    {"_trace_stop", trace_stop, METH_O, "_trace_stop(recorder, /)\n--\n\nStop recording (use zheap.trace)."},
    {NULL},
};
