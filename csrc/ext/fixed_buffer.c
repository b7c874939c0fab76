/* fixed_buffer.c -- FixedBufferAllocator (fixed_buffer_allocator.c) and its
 * thread-safe interface as Python types: argument parsing, introspection,
 * and the bulk-invalidation rule of reset() (every view of the buffer, the
 * interfaces' included, retired at once, or BufferError and no change). */
#include "allocator.h"

/* ===================================================================== */
/* FixedBufferAllocator                                                   */
/* ===================================================================== */

typedef struct FbaIfaceObject FbaIfaceObject;

/* Bytes an alloc skipped to align its block: [at, at + len) from the start
 * of the buffer. */
typedef struct {
    size_t at, len;
} fba_gap;

typedef struct {
    ZxAllocator base;
    zh_fba fba;
    zh_allocator core; /* Zig's interface; base.a notes padding around it */
    fba_gap *gaps;     /* alignment padding below end_index, by address (PyMem_Raw) */
    size_t ngaps, cgaps;
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

/* --- alignment padding ------------------------------------------------------------
 * Zig's FBA keeps no record of the bytes it skips to align a block, and
 * below end_index they look exactly like the bytes of a block freed out of
 * order (which it cannot reclaim either). layout() tells them apart from a
 * note taken as each allocation happens: the plain interface is wrapped, so
 * every caller (Python, a capsule, a parent allocator) is seen. Allocations
 * through thread_safe_allocator() are not noted: their gaps show as holes. */

/* Forget the padding at or past end_index (a free or shrink of the last
 * block, or an interface's free, rolled it back). */
static void gaps_prune(FbaObject *self) {
    while (self->ngaps > 0 && self->gaps[self->ngaps - 1].at >= self->fba.end_index) self->ngaps--;
}

static void *noting_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    FbaObject *self = ctx;
    gaps_prune(self);
    size_t before = self->fba.end_index;
    char *p = zh_raw_alloc(self->core, len, al, ra);
    if (p == NULL || (size_t)(p - self->fba.buffer) <= before) return p;
    /* Out of room for the note: the gap shows as a hole, nothing else. */
    fba_gap *g = zx_grow(self->gaps, &self->cgaps, self->ngaps, sizeof *g, 8);
    if (g != NULL) {
        self->gaps = g;
        g[self->ngaps++] = (fba_gap){before, (size_t)(p - self->fba.buffer) - before};
    }
    return p;
}

static bool noting_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    FbaObject *self = ctx;
    bool ok = zh_raw_resize(self->core, mem, len, al, new_len, ra);
    gaps_prune(self);
    return ok;
}

static void *noting_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    FbaObject *self = ctx;
    void *p = zh_raw_remap(self->core, mem, len, al, new_len, ra);
    gaps_prune(self);
    return p;
}

static void noting_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    FbaObject *self = ctx;
    zh_raw_free(self->core, mem, len, al, ra);
    gaps_prune(self);
}

static const zh_allocator_vtable noting_vtable = {noting_alloc, noting_resize, noting_remap, noting_free};

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
            PyErr_Format(PyExc_MemoryError, "FixedBufferAllocator(): out of memory allocating its %zd-byte buffer",
                         len);
            goto error;
        }
    } else {
        if (zx_get_long_buffer(arg, &self->source, &mem, &len) < 0) goto error;
        self->has_source = true;
    }
    zh_fba_init(&self->fba, mem, (size_t)len);
    self->core = zh_fba_allocator(&self->fba);
    self->base.a = (zh_allocator){self, &noting_vtable};
    return (PyObject *)self;
error:
    Py_DECREF(self);
    return NULL;
}

static void Fba_dealloc(PyObject *op) {
    /* Untracked before any code runs: a collection during the teardown
     * (Python code in a child) must not see this dying object. */
    PyObject_GC_UnTrack(op);
    FbaObject *self = Fba_CAST(op);
    if (self->has_source) {
        self->has_source = false;
        PyBuffer_Release(&self->source);
    }
    PyMem_RawFree(self->own);
    self->own = NULL;
    PyMem_RawFree(self->gaps);
    self->gaps = NULL;
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
    if (zx_txn_begin(&t) < 0 || zx_refuse_in_collection(what) < 0 || zx_guard_all(&self->base, what) < 0)
        goto fail;
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
    self->ngaps = 0;
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

static PyObject *Fba_layout(PyObject *op, PyObject *unused) {
    (void)unused;
    FbaObject *self = Fba_CAST(op);
    zx_layout l = {0};
    (void)zh_fba_visit(&self->fba, zx_lay_visit, &l);
    zx_lay_live(&l, &self->base, NULL);
    gaps_prune(self); /* an interface's free may have rolled end_index back */
    for (size_t i = 0; i < self->ngaps; i++)
        zx_lay_item(&l, "padding", (uintptr_t)self->fba.buffer + self->gaps[i].at, self->gaps[i].len, 0);
    return zx_lay_finish(&l, op);
}

static PyMethodDef Fba_methods[] = {
    {"layout", Fba_layout, METH_NOARGS, zx_layout_doc},
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
    /* Untracked before any code runs: a collection during the teardown
     * (Python code in a child) must not see this dying object. */
    PyObject_GC_UnTrack(op);
    fba_iface_unlink((FbaIfaceObject *)op);
    zx_allocator_dealloc(op);
}

static PyObject *FbaThreadSafe_repr(PyObject *op) {
    return PyUnicode_FromFormat("<zheap.FixedBufferAllocator.thread_safe_allocator of %R live=%zd>",
                                ZxAllocator_CAST(op)->child, ZxAllocator_CAST(op)->nlive);
}

static PyObject *FbaThreadSafe_stats(PyObject *op, PyObject *unused) {
    (void)unused;
    if (zx_check_open(ZxAllocator_CAST(op)) < 0) return NULL; /* cleared: no FBA any more */
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

int zx_fixed_buffer_init_types(PyObject *module, zheap_state *st) {
    if ((st->FixedBufferAllocator_type = zx_add_allocator_type(module, st, &Fba_spec, true)) == NULL) return -1;
    if ((st->FbaThreadSafe_type = zx_add_allocator_type(module, st, &FbaThreadSafe_spec, true)) == NULL) return -1;
    return 0;
}
