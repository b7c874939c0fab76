/* composable.c -- FixedBufferAllocator (and its thread-safe interface) and
 * ArenaAllocator as Python types. Argument parsing, introspection and the
 * bulk-invalidation rule (reset/deinit retire every view, or raise
 * BufferError and change nothing); every operation is the core's. */
#include "ext.h"

/* __enter__ of every type with deinit(). */
PyObject *zx_enter(PyObject *op, PyObject *unused) {
    (void)unused;
    return Py_NewRef(op);
}

/* ===================================================================== */
/* FixedBufferAllocator                                                   */
/* ===================================================================== */

typedef struct FbaIfaceObject FbaIfaceObject;

typedef struct {
    ZxAllocator base;
    zh_fba fba;
    Py_buffer source;  /* the caller's buffer, exported while we live */
    bool has_source;
    char *own;         /* or memory of our own (PyMem_Raw) */
    FbaIfaceObject *ifaces; /* the thread-safe interfaces alive (borrowed) */
} FbaObject;

/* thread_safe_allocator(): the same state through Zig's lock-free
 * interface. It keeps the FBA alive (its `child`, for the busy marks) but
 * does not pin it: the FBA's reset() retires the interfaces' views too. */
struct FbaIfaceObject {
    ZxAllocator base;
    FbaIfaceObject *next, **prevp;
};

#define Fba_CAST(op) ((FbaObject *)(op))

static PyObject *Fba_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"buffer", NULL};
    PyObject *arg;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:FixedBufferAllocator", kwlist, &arg)) return NULL;
    zheap_state *st = zx_state_of(type);
    if (st == NULL) return NULL;
    FbaObject *self = (FbaObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    zx_allocator_setup(&self->base, st, (zh_allocator){NULL, NULL}, ZH_ALIGNMENT_MAX);
    char *mem;
    Py_ssize_t len;
    if (PyLong_Check(arg)) {
        len = PyLong_AsSsize_t(arg);
        if (len == -1 && PyErr_Occurred()) goto error;
        if (len < 0) {
            PyErr_Format(PyExc_ValueError, "size must be >= 0, got %zd", len);
            goto error;
        }
        mem = self->own = PyMem_RawMalloc(len ? (size_t)len : 1);
        if (mem == NULL) {
            PyErr_NoMemory();
            goto error;
        }
    } else {
        if (zx_get_long_buffer(arg, &self->source, &mem, &len) < 0) goto error;
        self->has_source = true;
    }
    zh_fba_init(&self->fba, mem, (size_t)len);
    self->base.a = zh_fba_allocator(&self->fba);
    return (PyObject *)self;
error:
    Py_DECREF(self);
    return NULL;
}

static void Fba_dealloc(PyObject *op) {
    FbaObject *self = Fba_CAST(op);
    if (self->has_source) {
        self->has_source = false;
        PyBuffer_Release(&self->source);
    }
    PyMem_RawFree(self->own);
    self->own = NULL;
    zx_allocator_dealloc(op);
}

static int Fba_traverse(PyObject *op, visitproc visit, void *arg) {
    FbaObject *self = Fba_CAST(op);
    if (self->has_source) Py_VISIT(self->source.obj);
    return zx_allocator_traverse(op, visit, arg);
}

PyDoc_STRVAR(Fba_reset_doc, "reset($self, /)\n--\n\n"
                            "Make the whole buffer free again. Every outstanding view, of this allocator\n"
                            "and of its thread_safe_allocator() interfaces, is invalidated;\n"
                            "BufferError (and no change) while one is exported or another allocator\n"
                            "draws from this one.");

static PyObject *Fba_reset(PyObject *op, PyObject *unused) {
    (void)unused;
    FbaObject *self = Fba_CAST(op);
    static const char what[] = "reset the FixedBufferAllocator";
    zx_txn t;
    zx_txn_init(&t, &self->base);
    /* The thread-safe interfaces are this same buffer (Zig's
     * threadSafeAllocator() is a view of the FBA, not a child): their views
     * go too, or nothing does. An interface's operation marks this object
     * busy too (it is the interface's `child`), so none is under way. */
    if (zx_txn_begin(&t) < 0 || zx_guard_all(&self->base, what) < 0) goto fail;
    size_t n = (size_t)self->base.nlive;
    for (FbaIfaceObject *i = self->ifaces; i != NULL; i = i->next) {
        if (zx_guard_all(&i->base, what) < 0) goto fail;
        n += (size_t)i->base.nlive;
    }
    if (zx_txn_reserve(&t, n) < 0) goto fail;
    (void)zx_retire_all(&t, &self->base);
    for (FbaIfaceObject *i = self->ifaces; i != NULL; i = i->next) (void)zx_retire_all(&t, &i->base);
    size_t tok = zx_trace_begin(&self->base, ZX_OP_RESET, NULL, ZH_ARENA_FREE_ALL, 0, 0);
    zh_fba_reset(&self->fba);
    zx_trace_end(&self->base, tok, true);
    zx_txn_release(&t);
    Py_RETURN_NONE;
fail:
    zx_txn_release(&t);
    return NULL;
}

PyDoc_STRVAR(Fba_owns_doc, "owns($self, view, /)\n--\n\n"
                           "Whether the view's bytes lie inside the buffer (Zig's ownsSlice).");

static PyObject *Fba_owns(PyObject *op, PyObject *view) {
    FbaObject *self = Fba_CAST(op);
    Py_buffer b;
    if (PyObject_GetBuffer(view, &b, PyBUF_SIMPLE) < 0) return NULL;
    bool owned = b.len > 0 ? zh_fba_owns_slice(&self->fba, b.buf, (size_t)b.len) : zh_fba_owns_ptr(&self->fba, b.buf);
    PyBuffer_Release(&b);
    return PyBool_FromLong(owned);
}

PyDoc_STRVAR(Fba_is_last_doc, "is_last_allocation($self, view, /)\n--\n\n"
                              "Whether ``view`` ends exactly at end_index (Zig's\n"
                              "isLastAllocation; padding left by a shrink gives false negatives).");

static PyObject *Fba_is_last_allocation(PyObject *op, PyObject *view) {
    FbaObject *self = Fba_CAST(op);
    Py_buffer b;
    if (PyObject_GetBuffer(view, &b, PyBUF_SIMPLE) < 0) return NULL;
    bool last = zh_fba_is_last_allocation(&self->fba, b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    return PyBool_FromLong(last);
}

static PyObject *Fba_thread_safe_allocator(PyObject *op, PyObject *unused);

PyDoc_STRVAR(Fba_thread_safe_doc,
             "thread_safe_allocator($self, /)\n--\n\n"
             "Zig's threadSafeAllocator(): a lock-free allocator over the same buffer whose\n"
             "resize always fails, remap declines and free does nothing. It is this\n"
             "allocator's state, not a child: reset() invalidates the views of both.\n"
             "Do not allocate through both at once.");

static PyObject *Fba_stats(PyObject *op, PyObject *unused) {
    (void)unused;
    FbaObject *self = Fba_CAST(op);
    return Py_BuildValue("{s:n,s:n,s:n,s:n}", "capacity", (Py_ssize_t)self->fba.buffer_len, "end_index",
                         (Py_ssize_t)self->fba.end_index, "free",
                         (Py_ssize_t)(self->fba.buffer_len - self->fba.end_index), "live", self->base.nlive);
}
ZX_STATS_WITH_FIGURES(Fba_stats)

static PyObject *Fba_get_end_index(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromSize_t(Fba_CAST(op)->fba.end_index);
}

static PyObject *Fba_get_capacity(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromSize_t(Fba_CAST(op)->fba.buffer_len);
}

static PyObject *Fba_repr(PyObject *op) {
    FbaObject *self = Fba_CAST(op);
    return PyUnicode_FromFormat("<zheap.FixedBufferAllocator end_index=%zu capacity=%zu live=%zd>",
                                self->fba.end_index, self->fba.buffer_len, self->base.nlive);
}

PyDoc_STRVAR(layout_doc, "layout($self, /)\n--\n\n"
                         "The allocator's memory right now, from its own structures: a dict with\n"
                         "'regions', each {kind, address, size, used, blocks}; blocks are the live\n"
                         "views inside ({address, length, state}), by address.");

static PyObject *layout_of(PyObject *op, PyObject *regions) {
    if (regions == NULL) return NULL;
    return Py_BuildValue("{s:s,s:N}", "allocator", Py_TYPE(op)->tp_name, "regions", regions);
}

static PyObject *Fba_layout(PyObject *op, PyObject *unused) {
    (void)unused;
    FbaObject *self = Fba_CAST(op);
    uintptr_t start = (uintptr_t)self->fba.buffer;
    PyObject *region = zx_layout_region("buffer", start, self->fba.buffer_len, self->fba.end_index,
                                 zx_live_blocks_in(&self->base, start, self->fba.buffer_len));
    return layout_of(op, region ? Py_BuildValue("[N]", region) : NULL);
}

static PyMethodDef Fba_methods[] = {
    {"layout", Fba_layout, METH_NOARGS, layout_doc},
    {"reset", Fba_reset, METH_NOARGS, Fba_reset_doc},
    {"owns", Fba_owns, METH_O, Fba_owns_doc},
    {"is_last_allocation", Fba_is_last_allocation, METH_O, Fba_is_last_doc},
    {"thread_safe_allocator", Fba_thread_safe_allocator, METH_NOARGS, Fba_thread_safe_doc},
    {"stats", Fba_stats_with_figures, METH_NOARGS, "stats($self, /)\n--\n\nA dict: capacity, end_index, free, live."},
    {NULL},
};

static PyGetSetDef Fba_getset[] = {
    {"end_index", Fba_get_end_index, NULL, "Bytes used from the start of the buffer.", NULL},
    {"capacity", Fba_get_capacity, NULL, "Length of the buffer.", NULL},
    {NULL},
};

PyDoc_STRVAR(Fba_doc,
             "FixedBufferAllocator(buffer)\n--\n\n"
             "Zig's FixedBufferAllocator: a bump allocator over one buffer.\n\n"
             "``buffer`` is a writable C-contiguous buffer (bytearray, numpy array, a zheap\n"
             "view...), exported for as long as the allocator lives, or an int: a buffer of\n"
             "that many bytes of its own. Only the last allocation can be shrunk, grown or\n"
             "freed for real; freeing another is accepted and reclaims nothing.");

static PyType_Slot Fba_slots[] = {
    {Py_tp_doc, (void *)Fba_doc},
    {Py_tp_new, Fba_new},
    {Py_tp_dealloc, Fba_dealloc},
    {Py_tp_traverse, Fba_traverse},
    {Py_tp_clear, zx_allocator_clear},
    {Py_tp_repr, Fba_repr},
    {Py_tp_methods, Fba_methods},
    {Py_tp_getset, Fba_getset},
    {0, NULL},
};

static PyType_Spec Fba_spec = {
    .name = "zheap.FixedBufferAllocator",
    .basicsize = sizeof(FbaObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Fba_slots,
};

/* --- the thread-safe interface --------------------------------------------------- */

static PyObject *Fba_thread_safe_allocator(PyObject *op, PyObject *unused) {
    (void)unused;
    FbaObject *fba = Fba_CAST(op);
    PyTypeObject *type = fba->base.st->FbaThreadSafe_type;
    FbaIfaceObject *self = (FbaIfaceObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    zx_allocator_setup(&self->base, fba->base.st, zh_fba_thread_safe_allocator(&fba->fba), ZH_ALIGNMENT_MAX);
    self->base.child = Py_NewRef(op);
    self->next = fba->ifaces;
    if (self->next != NULL) self->next->prevp = &self->next;
    self->prevp = &fba->ifaces;
    fba->ifaces = self;
    return (PyObject *)self;
}

static void fba_iface_unlink(FbaIfaceObject *self) {
    if (self->prevp == NULL) return;
    *self->prevp = self->next;
    if (self->next != NULL) self->next->prevp = self->prevp;
    self->prevp = NULL;
    self->next = NULL;
}

static int FbaThreadSafe_clear(PyObject *op) {
    fba_iface_unlink((FbaIfaceObject *)op);
    return zx_allocator_clear(op);
}

static void FbaThreadSafe_dealloc(PyObject *op) {
    fba_iface_unlink((FbaIfaceObject *)op);
    zx_allocator_dealloc(op);
}

static PyObject *FbaThreadSafe_repr(PyObject *op) {
    return PyUnicode_FromFormat("<zheap.FixedBufferAllocator.thread_safe_allocator of %R live=%zd>",
                                ZxAllocator_CAST(op)->child, ZxAllocator_CAST(op)->nlive);
}

static PyObject *FbaThreadSafe_stats(PyObject *op, PyObject *unused) {
    (void)unused;
    PyObject *stats = Fba_stats(ZxAllocator_CAST(op)->child, NULL);
    if (stats == NULL) return NULL;
    /* "live" counts this interface's blocks, not the FixedBufferAllocator's. */
    PyObject *live = PyLong_FromSsize_t(ZxAllocator_CAST(op)->nlive);
    if (live == NULL || PyDict_SetItemString(stats, "live", live) < 0) Py_CLEAR(stats);
    Py_XDECREF(live);
    return stats;
}
ZX_STATS_WITH_FIGURES(FbaThreadSafe_stats)

static PyMethodDef FbaThreadSafe_methods[] = {
    {"stats", FbaThreadSafe_stats_with_figures, METH_NOARGS,
     "stats($self, /)\n--\n\nA dict: capacity, end_index, free of the buffer; live of this interface."},
    {NULL},
};

static PyType_Slot FbaThreadSafe_slots[] = {
    {Py_tp_doc, (void *)"The lock-free interface of a FixedBufferAllocator (thread_safe_allocator())."},
    {Py_tp_methods, FbaThreadSafe_methods},
    {Py_tp_dealloc, FbaThreadSafe_dealloc},
    {Py_tp_traverse, zx_allocator_traverse},
    {Py_tp_clear, FbaThreadSafe_clear},
    {Py_tp_repr, FbaThreadSafe_repr},
    {0, NULL},
};

static PyType_Spec FbaThreadSafe_spec = {
    .name = "zheap.FixedBufferThreadSafeAllocator",
    .basicsize = sizeof(FbaIfaceObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = FbaThreadSafe_slots,
};

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
    ArenaObject *self = Arena_CAST(op);
    /* No block is left (each holds the arena); give the chunks back. */
    if (!self->base.closed && self->base.child != NULL) zx_call_quietly(op, arena_deinit_cb, &self->arena);
    zx_allocator_dealloc(op);
}

static int Arena_clear(PyObject *op) {
    ArenaObject *self = Arena_CAST(op);
    /* The child may go with this cycle: release its chunks while it is here. */
    if (!self->base.closed && self->base.child != NULL) {
        zx_call_quietly(op, arena_deinit_cb, &self->arena);
        self->base.closed = true;
    }
    return zx_allocator_clear(op);
}

/* reset()'s (mode, limit) arguments, shared by ArenaAllocator and the pools. */
int zx_parse_reset_mode(PyObject *mode, PyObject *limit, zh_arena_reset_mode *out, size_t *lim) {
    const char *name = mode ? PyUnicode_AsUTF8(mode) : "retain_capacity";
    if (name == NULL) return -1;
    if (strcmp(name, "free_all") == 0) *out = ZH_ARENA_FREE_ALL;
    else if (strcmp(name, "retain_capacity") == 0) *out = ZH_ARENA_RETAIN_CAPACITY;
    else if (strcmp(name, "retain_with_limit") == 0) *out = ZH_ARENA_RETAIN_WITH_LIMIT;
    else {
        PyErr_Format(PyExc_ValueError,
                     "mode must be 'free_all', 'retain_capacity' or 'retain_with_limit', got %R", mode);
        return -1;
    }
    bool wants_limit = *out == ZH_ARENA_RETAIN_WITH_LIMIT;
    if (wants_limit != (limit != NULL && limit != Py_None)) {
        PyErr_SetString(PyExc_ValueError, wants_limit ? "mode 'retain_with_limit' needs a limit"
                                                      : "limit is only meaningful with mode 'retain_with_limit'");
        return -1;
    }
    *lim = 0;
    if (wants_limit) {
        if (!PyLong_Check(limit)) {
            PyErr_Format(PyExc_TypeError, "limit must be an int, not %.100s", Py_TYPE(limit)->tp_name);
            return -1;
        }
        if (_PyLong_Sign(limit) < 0) {
            PyErr_SetString(PyExc_ValueError, "limit must be >= 0");
            return -1;
        }
        *lim = PyLong_AsSize_t(limit);
        if (*lim == (size_t)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            *lim = SIZE_MAX; /* a limit above any capacity means "no limit" */
        }
    }
    return 0;
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
    (void)args;
    return Arena_deinit(op, NULL);
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

static PyObject *Arena_get_child(PyObject *op, void *c) {
    (void)c;
    return Py_NewRef(ZxAllocator_CAST(op)->child);
}

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
    zx_chunk_walk w = {&self->base, PyList_New(0)};
    if (w.list == NULL) return NULL;
    if (!self->base.closed && zh_arena_walk_chunks(&self->arena, zx_chunk_walk_cb, &w) != 0) Py_CLEAR(w.list);
    return layout_of(op, w.list);
}

static PyMethodDef Arena_methods[] = {
    {"layout", Arena_layout, METH_NOARGS, layout_doc},
    {"reset", (PyCFunction)(void (*)(void))Arena_reset, METH_VARARGS | METH_KEYWORDS, Arena_reset_doc},
    {"deinit", Arena_deinit, METH_NOARGS, Arena_deinit_doc},
    {"query_capacity", Arena_query_capacity, METH_NOARGS,
     "query_capacity($self, /)\n--\n\nTotal usable bytes of all chunks (Zig's queryCapacity)."},
    {"stats", Arena_stats_with_figures, METH_NOARGS,
     "stats($self, /)\n--\n\nA dict: capacity, chunks, end_index, newest_chunk, live."},
    {"__enter__", zx_enter, METH_NOARGS, NULL},
    {"__exit__", Arena_exit, METH_VARARGS, NULL},
    {NULL},
};

static PyGetSetDef Arena_getset[] = {
    {"child_allocator", Arena_get_child, NULL, "The allocator the chunks come from.", NULL},
    {NULL},
};

PyDoc_STRVAR(Arena_doc,
             "ArenaAllocator(child=zheap.page_allocator)\n--\n\n"
             "Zig's ArenaAllocator: allocate many times from ``child``, free everything at\n"
             "once with reset() or deinit() (also on leaving a ``with`` block). free() of the\n"
             "latest allocation reclaims it; free() of any other is accepted and reclaims\n"
             "nothing. While the arena lives, ``child`` cannot be reset.");

static PyType_Slot Arena_slots[] = {
    {Py_tp_doc, (void *)Arena_doc},
    {Py_tp_new, Arena_new},
    {Py_tp_dealloc, Arena_dealloc},
    {Py_tp_traverse, zx_allocator_traverse},
    {Py_tp_clear, Arena_clear},
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

/* ===================================================================== */

int zx_composable_init_types(PyObject *module, zheap_state *st) {
    if ((st->FixedBufferAllocator_type = zx_add_allocator_type(module, st, &Fba_spec, true)) == NULL) return -1;
    if ((st->FbaThreadSafe_type = zx_add_allocator_type(module, st, &FbaThreadSafe_spec, true)) == NULL) return -1;
    if ((st->ArenaAllocator_type = zx_add_allocator_type(module, st, &Arena_spec, true)) == NULL) return -1;
    return 0;
}
