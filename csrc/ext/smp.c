/* smp.c -- SmpAllocator (smp_allocator.c) as a Python type: the process-wide
 * allocator, its per-slot statistics, and its slabs as a layout. */
#include "allocator.h"

#include <stdlib.h>
#include <string.h>

/* --- SmpAllocator: slabs of one size class each, and large blocks mapped alone --- */

PyDoc_STRVAR(Smp_layout_doc,
             "layout($self, /)\n--\n\n"
             "The slabs (64 KiB, one size class each) that hold this object's blocks or\n"
             "any thread slot's free slots or bump pointer, and this object's large blocks\n"
             "(mapped on their own). The slabs are process-wide: bytes no block covers are\n"
             "in use by other code, or not carved yet. Format as Allocator.layout().");

static PyObject *Smp_layout(PyObject *op, PyObject *unused) {
    (void)unused;
    zx_layout l = {0};
    /* The core knows the free slots and bump pointers (under each thread
     * slot's lock); this object knows its live blocks, and the core where
     * each lies. */
    (void)zh_smp_visit(zx_lay_visit, &l);
    for (ZxBlock *b = ZxAllocator_CAST(op)->live; b != NULL && l.oom == 0; b = b->next)
        if (b->len != 0) (void)zh_smp_visit_block(b->ptr, b->len, b->align, zx_lay_visit, &l);
    zx_lay_merge_regions(&l);
    /* Large blocks first (the maps' top rows), then the slabs, each in
     * address order. */
    for (size_t i = 0, front = 0; i < l.nr; i++) {
        if (strcmp(l.r[i].kind, "mapping") != 0) continue;
        zx_lregion mapping = l.r[i];
        memmove(&l.r[front + 1], &l.r[front], (i - front) * sizeof *l.r);
        l.r[front++] = mapping;
    }
    return zx_lay_finish(&l, op);
}

/* ===================================================================== */
/* SmpAllocator                                                           */
/* ===================================================================== */

static PyObject *Smp_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "SmpAllocator() takes no arguments");
        return NULL;
    }
    zheap_state *st = zx_state_of(type);
    if (st == NULL) return NULL;
    ZxAllocator *self = (ZxAllocator *)type->tp_alloc(type, 0);
    if (self != NULL) zx_allocator_setup(self, st, zh_smp_allocator(), ZH_ALIGNMENT_MAX);
    return (PyObject *)self;
}

PyDoc_STRVAR(Smp_stats_doc,
             "stats($self, /)\n--\n\n"
             "The thread slots' caches right now: a dict with slot_count, slab_len,\n"
             "slot_sizes (one per size class) and slots, a list with one dict per slot:\n"
             "free (free-list lengths per size class) and slabs (slabs mapped per class).\n"
             "The caches are process-wide: every SmpAllocator shows the same.");

static PyObject *Smp_stats(PyObject *op, PyObject *unused) {
    (void)op, (void)unused;
    unsigned n = zh_smp_slot_count();
    PyObject *slots = PyList_New(n);
    if (slots == NULL) return NULL;
    for (unsigned i = 0; i < n; i++) {
        zh_smp_slot_stats s;
        zh_smp_slot_stats_of(i, &s);
        PyObject *d = Py_BuildValue("{s:N,s:N}", "free", zx_size_list(s.free_counts, ZH_SMP_SIZE_CLASS_COUNT), "slabs",
                                    zx_size_list(s.slabs, ZH_SMP_SIZE_CLASS_COUNT));
        if (d == NULL) {
            Py_DECREF(slots);
            return NULL;
        }
        PyList_SET_ITEM(slots, i, d);
    }
    size_t sizes[ZH_SMP_SIZE_CLASS_COUNT];
    for (size_t c = 0; c < ZH_SMP_SIZE_CLASS_COUNT; c++) sizes[c] = (size_t)8 << c;
    return Py_BuildValue("{s:I,s:n,s:N,s:N}", "slot_count", n, "slab_len", (Py_ssize_t)ZH_SMP_SLAB_LEN,
                         "slot_sizes", zx_size_list(sizes, ZH_SMP_SIZE_CLASS_COUNT), "slots", slots);
}
ZX_STATS_WITH_FIGURES(Smp_stats)

static PyObject *Smp_repr(PyObject *op) {
    return PyUnicode_FromFormat("<zheap.SmpAllocator live=%zd slots=%u>", ZxAllocator_CAST(op)->nlive,
                                zh_smp_slot_count());
}

static PyMethodDef Smp_methods[] = {
    {"layout", Smp_layout, METH_NOARGS, Smp_layout_doc},
    {"stats", Smp_stats_with_figures, METH_NOARGS, Smp_stats_doc},
    {NULL},
};

PyDoc_STRVAR(Smp_doc,
             "SmpAllocator()\n--\n\n"
             "Zig's SmpAllocator: the process-wide general-purpose allocator for threaded\n"
             "programs. Per-thread slots (up to 128, one per CPU) each cache, per power-of-\n"
             "two size class up to 32 KiB, a bump pointer into a 64 KiB slab and a free list;\n"
             "larger blocks go to the page allocator. Slabs are never given back. Any\n"
             "thread may free any block. ``zheap.smp_allocator`` is the instance; every\n"
             "instance shares the same global caches.");

static PyType_Slot Smp_slots[] = {
    {Py_tp_doc, (void *)Smp_doc},
    {Py_tp_new, Smp_new},
    {Py_tp_repr, Smp_repr},
    {Py_tp_methods, Smp_methods},
    {Py_tp_dealloc, zx_allocator_dealloc},
    {Py_tp_traverse, zx_allocator_traverse},
    {Py_tp_clear, zx_allocator_clear},
    {0, NULL},
};

static PyType_Spec Smp_spec = {
    .name = "zheap.SmpAllocator",
    .basicsize = sizeof(ZxAllocator),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Smp_slots,
};

int zx_smp_init_type(PyObject *module, zheap_state *st) {
    st->SmpAllocator_type = zx_add_allocator_type(module, st, &Smp_spec, true);
    return st->SmpAllocator_type != NULL ? 0 : -1;
}
