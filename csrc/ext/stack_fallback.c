/* stack_fallback.c -- StackFallbackAllocator (stack_fallback_allocator.c)
 * and the allocator its get() returns, as Python types: the buffer first,
 * then the fallback allocator, which the interface pins. */
#include "allocator.h"
#include "structmember.h"

/* ===================================================================== */
/* StackFallbackAllocator                                                 */
/* ===================================================================== */

/* The StackFallbackAllocator(N) value itself: the buffer, the fallback and
 * the get() guard. Like Zig's, it is not an allocator; get() returns one. */
typedef struct {
    PyObject_HEAD
    zh_stack_fallback sf;
    char *buffer;       /* PyMem_RawMalloc: Python has no stack to lend */
    PyObject *fallback; /* strong */
    zheap_state *st;
    PyObject *weakreflist; /* weak references to it, as to every allocator */
} SfaObject;

#define Sfa_CAST(op) ((SfaObject *)(op))

/* What get() returns: an allocator over the SfaObject, which it keeps alive
 * (the buffer must outlive every block in it). */
typedef struct {
    ZxAllocator base;
    SfaObject *sfa; /* strong */
} SfaIfaceObject;

#define SfaIface_CAST(op) ((SfaIfaceObject *)(op))

static PyObject *Sfa_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"size", "fallback", NULL};
    PyObject *size_obj, *fallback;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:StackFallbackAllocator", kwlist, &size_obj, &fallback))
        return NULL;
    zheap_state *st = zx_state_of(type);
    Py_ssize_t size;
    if (st == NULL || zx_parse_length(size_obj, "size", &size) < 0) return NULL;
    if (zx_as_allocator(st, fallback, "StackFallbackAllocator()") == NULL) return NULL;
    SfaObject *self = (SfaObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->st = st;
    self->buffer = PyMem_RawMalloc(size ? (size_t)size : 1);
    if (self->buffer == NULL) {
        Py_DECREF(self);
        return PyErr_Format(PyExc_MemoryError,
                            "StackFallbackAllocator(): out of memory allocating its %zd-byte buffer", size);
    }
    self->fallback = Py_NewRef(fallback);
    zh_stack_fallback_init(&self->sf, self->buffer, (size_t)size, zx_child_iface(ZxAllocator_CAST(fallback)));
    return (PyObject *)self;
}

static int Sfa_traverse(PyObject *op, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(Sfa_CAST(op)->fallback);
    return 0;
}

static int Sfa_clear(PyObject *op) {
    Py_CLEAR(Sfa_CAST(op)->fallback);
    return 0;
}

static void Sfa_dealloc(PyObject *op) {
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    /* Callbacks run here, before anything is torn down; they cannot reach
     * the object any more (its weak references are dead). */
    if (Sfa_CAST(op)->weakreflist != NULL) PyObject_ClearWeakRefs(op);
    /* No interface is left (each holds this object), so no block is in the
     * buffer. */
    (void)Sfa_clear(op);
    PyMem_RawFree(Sfa_CAST(op)->buffer);
    tp->tp_free(op);
    Py_DECREF(tp);
}

PyDoc_STRVAR(Sfa_get_doc,
             "get($self, /)\n--\n\n"
             "The allocator: the buffer first, the fallback when the buffer cannot serve a\n"
             "request. Call it once; a second call raises zheap.ZigPanic, because Zig\n"
             "asserts there (re-initialising the buffer would pull it out from under every\n"
             "block already in it).");

static PyObject *Sfa_get(PyObject *op, PyObject *unused) {
    (void)unused;
    SfaObject *sfa = Sfa_CAST(op);
    if (sfa->sf.get_called) {
        PyErr_SetString(sfa->st->ZigPanic,
                        "StackFallbackAllocator.get() called twice; call it once and keep the allocator "
                        "it returns");
        return NULL;
    }
    if (sfa->fallback == NULL) { /* cleared by the collector, yet reached (a weakref callback) */
        PyErr_SetString(PyExc_ValueError, "this StackFallbackAllocator was cleared by the garbage collector");
        return NULL;
    }
    /* The fallback may have been deinitialized since the constructor. */
    ZxAllocator *fallback = zx_as_allocator(sfa->st, sfa->fallback, "StackFallbackAllocator.get()");
    if (fallback == NULL) return NULL;
    PyTypeObject *type = sfa->st->StackFallbackInterface_type;
    SfaIfaceObject *self = (SfaIfaceObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    zx_allocator_setup(&self->base, sfa->st, zh_stack_fallback_get(&sfa->sf), fallback->max_align);
    self->sfa = (SfaObject *)Py_NewRef(op);
    zx_pin_child(&self->base, sfa->fallback);
    return (PyObject *)self;
}

static PyObject *Sfa_get_size(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromSize_t(Sfa_CAST(op)->sf.buffer_len);
}

static PyObject *Sfa_get_fallback(PyObject *op, void *c) {
    (void)c;
    PyObject *fallback = Sfa_CAST(op)->fallback; /* NULL once the collector cleared it */
    return Py_NewRef(fallback ? fallback : Py_None);
}

static PyObject *Sfa_get_get_called(PyObject *op, void *c) {
    (void)c;
    return PyBool_FromLong(Sfa_CAST(op)->sf.get_called);
}

static PyObject *Sfa_repr(PyObject *op) {
    SfaObject *self = Sfa_CAST(op);
    return PyUnicode_FromFormat("<zheap.StackFallbackAllocator size=%zu end_index=%zu get_called=%s fallback=%R>",
                                self->sf.buffer_len, self->sf.fixed_buffer_allocator.end_index,
                                self->sf.get_called ? "True" : "False", self->fallback);
}

static PyObject *Sfa_stats(PyObject *op, PyObject *unused) {
    (void)unused;
    SfaObject *self = Sfa_CAST(op);
    return Py_BuildValue("{s:n,s:n,s:O}", "size", (Py_ssize_t)self->sf.buffer_len, "end_index",
                         (Py_ssize_t)self->sf.fixed_buffer_allocator.end_index, "get_called",
                         self->sf.get_called ? Py_True : Py_False);
}

static PyMethodDef Sfa_methods[] = {
    {"get", Sfa_get, METH_NOARGS, Sfa_get_doc},
    {"stats", Sfa_stats, METH_NOARGS, "stats($self, /)\n--\n\nA dict: size, end_index, get_called."},
    {NULL},
};

static PyGetSetDef Sfa_getset[] = {
    {"size", Sfa_get_size, NULL, "Length of the buffer.", NULL},
    {"fallback_allocator", Sfa_get_fallback, NULL, "The allocator used when the buffer cannot serve.", NULL},
    {"get_called", Sfa_get_get_called, NULL, "Whether get() was called.", NULL},
    {NULL},
};

PyDoc_STRVAR(Sfa_doc,
             "StackFallbackAllocator(size, fallback)\n--\n\n"
             "Zig's StackFallbackAllocator(size): a buffer of ``size`` bytes served by a\n"
             "FixedBufferAllocator, then ``fallback`` (a zheap allocator) when the buffer\n"
             "cannot serve a request. Not an allocator itself: call get() once for one.\n"
             "(Python has no stack to lend, so the buffer is a heap block the object owns.)");

static PyMemberDef Sfa_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(SfaObject, weakreflist), READONLY, NULL},
    {NULL},
};

static PyType_Slot Sfa_slots[] = {
    {Py_tp_doc, (void *)Sfa_doc},
    {Py_tp_members, Sfa_members},
    {Py_tp_new, Sfa_new},
    {Py_tp_dealloc, Sfa_dealloc},
    {Py_tp_traverse, Sfa_traverse},
    {Py_tp_clear, Sfa_clear},
    {Py_tp_repr, Sfa_repr},
    {Py_tp_methods, Sfa_methods},
    {Py_tp_getset, Sfa_getset},
    {0, NULL},
};

static PyType_Spec Sfa_spec = {
    .name = "zheap.StackFallbackAllocator",
    .basicsize = sizeof(SfaObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Sfa_slots,
};

/* --- the allocator get() returns ------------------------------------------------ */

static int SfaIface_traverse(PyObject *op, visitproc visit, void *arg) {
    Py_VISIT(SfaIface_CAST(op)->sfa);
    return zx_allocator_traverse(op, visit, arg);
}

static void SfaIface_dealloc(PyObject *op) {
    /* Untracked before any code runs: a collection during the teardown
     * (Python code in a child) must not see this dying object. */
    PyObject_GC_UnTrack(op);
    /* The StackFallbackAllocator (and its buffer) goes after this object. It
     * is not in a cycle with it, so tp_clear need not drop it. */
    PyObject *sfa = (PyObject *)SfaIface_CAST(op)->sfa;
    SfaIface_CAST(op)->sfa = NULL;
    zx_allocator_dealloc(op);
    Py_XDECREF(sfa);
}

static PyObject *SfaIface_stats(PyObject *op, PyObject *unused) {
    (void)unused;
    SfaIfaceObject *self = SfaIface_CAST(op);
    const zh_fba *fba = &self->sfa->sf.fixed_buffer_allocator;
    Py_ssize_t in_buffer = 0;
    for (ZxBlock *b = self->base.live; b != NULL; b = b->next)
        if (b->len != 0 && zh_fba_owns_ptr(fba, b->ptr)) in_buffer++;
    return Py_BuildValue("{s:n,s:n,s:n,s:n,s:n}", "buffer_size", (Py_ssize_t)fba->buffer_len, "end_index",
                         (Py_ssize_t)fba->end_index, "live", self->base.nlive, "in_buffer", in_buffer,
                         "in_fallback", self->base.nlive - in_buffer);
}
ZX_STATS_WITH_FIGURES(SfaIface_stats)

/* The buffer (its blocks are this interface's), then the fallback's memory. */
static PyObject *SfaIface_layout(PyObject *op, PyObject *unused) {
    (void)unused;
    SfaIfaceObject *self = SfaIface_CAST(op);
    const zh_fba *fba = &self->sfa->sf.fixed_buffer_allocator;
    zx_layout lead = {0};
    (void)zh_fba_visit(fba, zx_lay_visit, &lead);
    return zx_merge_into_child(&self->base, &lead);
}

static PyObject *SfaIface_owns(PyObject *op, PyObject *view) {
    Py_buffer b;
    if (PyObject_GetBuffer(view, &b, PyBUF_SIMPLE) < 0) return NULL;
    bool owned = b.len > 0 && zh_fba_owns_ptr(&SfaIface_CAST(op)->sfa->sf.fixed_buffer_allocator, b.buf);
    PyBuffer_Release(&b);
    return PyBool_FromLong(owned);
}

static PyObject *SfaIface_get_sfa(PyObject *op, void *c) {
    (void)c;
    return Py_NewRef((PyObject *)SfaIface_CAST(op)->sfa);
}

static PyObject *SfaIface_repr(PyObject *op) {
    SfaIfaceObject *self = SfaIface_CAST(op);
    const zh_fba *fba = &self->sfa->sf.fixed_buffer_allocator;
    return PyUnicode_FromFormat("<zheap.StackFallbackAllocator.get() end_index=%zu size=%zu live=%zd fallback=%R>",
                                fba->end_index, fba->buffer_len, self->base.nlive, self->base.child);
}

static PyMethodDef SfaIface_methods[] = {
    {"layout", SfaIface_layout, METH_NOARGS, zx_layout_doc},
    {"stats", SfaIface_stats_with_figures, METH_NOARGS,
     "stats($self, /)\n--\n\nA dict: buffer_size, end_index, live, in_buffer, in_fallback."},
    {"in_buffer", SfaIface_owns, METH_O,
     "in_buffer($self, view, /)\n--\n\nWhether the view's bytes are in the buffer (not from the fallback)."},
    {NULL},
};

static PyGetSetDef SfaIface_getset[] = {
    {"stack_fallback", SfaIface_get_sfa, NULL, "The StackFallbackAllocator this came from.", NULL},
    {NULL},
};

static PyType_Slot SfaIface_slots[] = {
    {Py_tp_doc, (void *)"The allocator StackFallbackAllocator.get() returns."},
    {Py_tp_dealloc, SfaIface_dealloc},
    {Py_tp_traverse, SfaIface_traverse},
    {Py_tp_clear, zx_allocator_clear},
    {Py_tp_repr, SfaIface_repr},
    {Py_tp_methods, SfaIface_methods},
    {Py_tp_getset, SfaIface_getset},
    {0, NULL},
};

static PyType_Spec SfaIface_spec = {
    .name = "zheap.StackFallbackInterface",
    .basicsize = sizeof(SfaIfaceObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = SfaIface_slots,
};

int zx_stack_fallback_init_types(PyObject *module, zheap_state *st) {
    st->StackFallbackAllocator_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &Sfa_spec, NULL);
    if (st->StackFallbackAllocator_type == NULL || PyModule_AddType(module, st->StackFallbackAllocator_type) < 0)
        return -1;
    st->StackFallbackInterface_type = zx_add_allocator_type(module, st, &SfaIface_spec, true);
    return st->StackFallbackInterface_type != NULL ? 0 : -1;
}
