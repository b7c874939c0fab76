/* arena.c -- ArenaAllocator (arena_allocator.c) as a Python type: argument
 * parsing, introspection, and reset/deinit as bulk transactions (every view
 * retired at once, or BufferError and no change). */
#include "allocator.h"

#include <string.h>

/* ===================================================================== */
/* ArenaAllocator                                                         */
/* ===================================================================== */

typedef struct {
    ZxAllocator base;
    zh_arena arena;
} ArenaObject;

#define Arena_CAST(op) ((ArenaObject *)(op))

static PyObject *Arena_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"child", NULL};
    PyObject *child = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:ArenaAllocator", kwlist, &child)) return NULL;
    zheap_state *st = zx_state_of(type);
    if (st == NULL) return NULL;
    ZxAllocator *c = zx_child_or_default(st, type, child, "ArenaAllocator()");
    ArenaObject *self = c ? (ArenaObject *)type->tp_alloc(type, 0) : NULL;
    if (self != NULL) {
        zh_arena_init(&self->arena, zx_child_iface(c));
        zx_allocator_setup(&self->base, st, zh_arena_allocator(&self->arena), ZH_ALIGNMENT_MAX);
        zx_pin_child(&self->base, (PyObject *)c);
    }
    Py_XDECREF(c);
    return (PyObject *)self;
}

static void arena_deinit_cb(void *arena) { zh_arena_deinit(arena); }

static void Arena_dealloc(PyObject *op) {
    /* Untracked before any code runs: a collection during the teardown
     * (Python code in a child) must not see this dying object. */
    PyObject_GC_UnTrack(op);
    ArenaObject *self = Arena_CAST(op);
    /* No block is left (each holds the arena); give the chunks back. */
    if (!self->base.closed && self->base.child != NULL) zx_call_quietly(op, arena_deinit_cb, &self->arena);
    zx_allocator_dealloc(op);
}

static int Arena_clear(PyObject *op) {
    if (!zx_collectable(ZxAllocator_CAST(op))) return 0; /* owner.c says why */
    ArenaObject *self = Arena_CAST(op);
    /* The child may go with this cycle: release its chunks while it is here. */
    if (!self->base.closed && self->base.child != NULL) {
        zx_call_quietly(op, arena_deinit_cb, &self->arena);
        self->base.closed = true;
    }
    return zx_allocator_clear(op);
}

/* The collector finalizes every object of a garbage cycle before it clears
 * any, and clearing a Python allocator empties its __dict__ (the state its
 * methods use). So when Python code runs in the teardown, it runs here,
 * before anything is cleared, as deinit() does it (owner.c's
 * zx_finalize_quietly): the allocator is closed and its views retired,
 * should a finalizer resurrect them. */
static void Arena_finalize(PyObject *op) {
    zx_finalize_quietly(ZxAllocator_CAST(op), arena_deinit_cb, &Arena_CAST(op)->arena);
}

PyDoc_STRVAR(Arena_reset_doc,
             "reset($self, /, mode='retain_capacity', limit=None)\n--\n\n"
             "Free every allocation at once (Zig's ArenaAllocator.reset).\n\n"
             "``mode`` is 'free_all', 'retain_capacity' (keep one chunk as large as all the\n"
             "capacity so far) or 'retain_with_limit' (keep at most ``limit`` bytes). Returns\n"
             "False only when the child refused the retained chunk's new size; the arena is\n"
             "then empty and usable anyway. Every outstanding view is invalidated;\n"
             "BufferError (and no change) while one is exported.");

static PyObject *Arena_reset(PyObject *op, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"mode", "limit", NULL};
    ArenaObject *self = Arena_CAST(op);
    PyObject *mode = NULL, *limit = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|UO:reset", kwlist, &mode, &limit)) return NULL;
    zh_arena_reset_mode m;
    size_t lim;
    if (zx_parse_reset_mode(mode, limit, &m, &lim) < 0) return NULL;
    zx_txn t;
    zx_txn_init(&t, &self->base);
    if (zx_txn_begin_bulk(&t, "reset the ArenaAllocator") < 0) return NULL;
    size_t tok = zx_trace_begin(&self->base, ZX_OP_RESET, NULL, (size_t)m, 0, lim);
    bool ok = zh_arena_reset(&self->arena, m, lim);
    zx_trace_end(&self->base, tok, ok);
    zx_txn_release(&t);
    zx_flush_chain(&self->base);
    if (PyErr_Occurred()) return NULL; /* raised by a child written in Python */
    return PyBool_FromLong(ok);
}

PyDoc_STRVAR(Arena_deinit_doc, "deinit($self, /)\n--\n\n"
                               "Give every chunk back to the child. Every outstanding view is invalidated;\n"
                               "BufferError (and no change) while one is exported. The arena is unusable\n"
                               "afterwards; a second deinit() does nothing.");

static PyObject *Arena_deinit(PyObject *op, PyObject *unused) {
    (void)unused;
    ArenaObject *self = Arena_CAST(op);
    if (self->base.closed) Py_RETURN_NONE;
    zx_txn t;
    zx_txn_init(&t, &self->base);
    if (zx_txn_begin_bulk(&t, "deinit the ArenaAllocator") < 0) return NULL;
    size_t tok = zx_trace_begin(&self->base, ZX_OP_DEINIT, NULL, 0, 0, 0);
    zh_arena_deinit(&self->arena);
    zx_trace_end(&self->base, tok, 0);
    self->base.closed = true;
    zx_unpin_child(&self->base);
    zx_txn_release(&t);
    zx_flush_chain(&self->base);
    if (PyErr_Occurred()) return NULL; /* raised by a child written in Python */
    Py_RETURN_NONE;
}

static PyObject *Arena_exit(PyObject *op, PyObject *args) {
    return zx_exit(op, args, Arena_deinit);
}

static PyObject *Arena_query_capacity(PyObject *op, PyObject *unused) {
    (void)unused;
    return PyLong_FromSize_t(zh_arena_query_capacity(&Arena_CAST(op)->arena));
}

static PyObject *Arena_stats(PyObject *op, PyObject *unused) {
    (void)unused;
    ArenaObject *self = Arena_CAST(op);
    size_t newest = self->arena.first ? self->arena.first->data - sizeof(zh_arena_node) : 0;
    return Py_BuildValue("{s:n,s:n,s:n,s:n,s:n}", "capacity", (Py_ssize_t)zh_arena_query_capacity(&self->arena),
                         "chunks", (Py_ssize_t)zh_arena_chunk_count(&self->arena), "end_index",
                         (Py_ssize_t)self->arena.end_index, "newest_chunk", (Py_ssize_t)newest, "live",
                         self->base.nlive);
}
ZX_STATS_WITH_FIGURES(Arena_stats)

static PyObject *Arena_repr(PyObject *op) {
    ArenaObject *self = Arena_CAST(op);
    if (self->base.closed) return PyUnicode_FromString("<zheap.ArenaAllocator deinitialized>");
    return PyUnicode_FromFormat("<zheap.ArenaAllocator capacity=%zu chunks=%zu end_index=%zu live=%zd child=%R>",
                                zh_arena_query_capacity(&self->arena), zh_arena_chunk_count(&self->arena),
                                self->arena.end_index, self->base.nlive, self->base.child);
}

static PyObject *Arena_layout(PyObject *op, PyObject *unused) {
    (void)unused;
    ArenaObject *self = Arena_CAST(op);
    /* Gathered in C, then made Python (layout.c). */
    zx_layout l = {0};
    if (!self->base.closed) (void)zh_arena_visit(&self->arena, zx_lay_visit, &l);
    zx_lay_live(&l, &self->base, NULL);
    return zx_lay_finish(&l, op);
}

static PyMethodDef Arena_methods[] = {
    {"layout", Arena_layout, METH_NOARGS, zx_layout_doc},
    {"reset", (PyCFunction)(void (*)(void))Arena_reset, METH_VARARGS | METH_KEYWORDS, Arena_reset_doc},
    {"deinit", Arena_deinit, METH_NOARGS, Arena_deinit_doc},
    {"query_capacity", Arena_query_capacity, METH_NOARGS,
     "query_capacity($self, /)\n--\n\nTotal usable bytes of all chunks (Zig's queryCapacity)."},
    {"stats", Arena_stats_with_figures, METH_NOARGS,
     "stats($self, /)\n--\n\nA dict: capacity, chunks, end_index, newest_chunk, live."},
    {"__enter__", zx_enter, METH_NOARGS, zx_enter_doc},
    {"__exit__", Arena_exit, METH_VARARGS, zx_exit_doc},
    {NULL},
};

static PyGetSetDef Arena_getset[] = {
    {"child_allocator", zx_get_child, NULL, "The allocator the chunks come from.", NULL},
    {NULL},
};

PyDoc_STRVAR(Arena_doc,
             "ArenaAllocator(child=None)\n--\n\n"
             "Zig's ArenaAllocator: allocate many times from ``child`` (None: the page\n"
             "allocator), free everything at\n"
             "once with reset() or deinit() (also on leaving a ``with`` block). free() of the\n"
             "latest allocation reclaims it; free() of any other is accepted and reclaims\n"
             "nothing. While the arena lives, ``child`` cannot be reset.");

static PyType_Slot Arena_slots[] = {
    {Py_tp_doc, (void *)Arena_doc},
    {Py_tp_new, Arena_new},
    {Py_tp_dealloc, Arena_dealloc},
    {Py_tp_traverse, zx_allocator_traverse},
    {Py_tp_clear, Arena_clear},
    {Py_tp_finalize, Arena_finalize},
    {Py_tp_repr, Arena_repr},
    {Py_tp_methods, Arena_methods},
    {Py_tp_getset, Arena_getset},
    {0, NULL},
};

static PyType_Spec Arena_spec = {
    .name = "zheap.ArenaAllocator",
    .basicsize = sizeof(ArenaObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Arena_slots,
};

int zx_arena_init_type(PyObject *module, zheap_state *st) {
    st->ArenaAllocator_type = zx_add_allocator_type(module, st, &Arena_spec, true);
    return st->ArenaAllocator_type != NULL ? 0 : -1;
}
