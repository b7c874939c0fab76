/* smp.c -- SmpAllocator (smp_allocator.c) as a Python type: the process-wide
 * allocator, its per-slot statistics, and its slabs as a layout. */
#include "allocator.h"

#include <stdlib.h>

/* --- SmpAllocator: slabs of one size class each, and large blocks mapped alone --- */

static size_t smp_footprint(const ZxBlock *b, size_t *size_class) {
    size_t slot = zh_smp_footprint(b->len, b->align), page = zh_page_size();
    *size_class = slot;
    return slot ? slot : (b->len + page - 1) / page * page;
}

static int smp_item(void *user, zh_smp_item kind, uintptr_t addr, size_t slot_size) {
    zx_carved_walk *w = user;
    if (kind == ZH_SMP_NEXT) return zx_span_add(w, &w->next, addr, slot_size);
    return zx_lay_item(&w->l, "free", addr, slot_size, slot_size);
}

PyDoc_STRVAR(Smp_layout_doc,
             "layout($self, /)\n--\n\n"
             "The slabs (64 KiB, one size class each) that hold this object's blocks or\n"
             "any thread slot's free slots or bump pointer, and this object's large blocks\n"
             "(mapped on their own). The slabs are process-wide: bytes no block covers are\n"
             "in use by other code, or not carved yet. Format as Allocator.layout().");

static PyObject *Smp_layout(PyObject *op, PyObject *unused) {
    (void)unused;
    zx_carved_walk w = {0};
    zx_lay_live(&w.l, ZxAllocator_CAST(op), smp_footprint);
    for (unsigned i = 0, n = zh_smp_slot_count(); i < n && w.l.oom == 0; i++) zh_smp_walk_slot(i, smp_item, &w);
    /* Every slab something is known in; large blocks are mappings. */
    for (ZxBlock *b = ZxAllocator_CAST(op)->live; b != NULL; b = b->next) {
        size_t cls, took = smp_footprint(b, &cls);
        if (b->len != 0 && cls == 0) zx_lay_region(&w.l, "mapping", (uintptr_t)b->ptr, took, b->len, 0);
    }
    zx_spans slabs = {0};
    for (size_t i = 0; i < w.l.ni && w.l.oom == 0; i++)
        if (w.l.it[i].size_class != 0)
            zx_span_add(&w, &slabs, w.l.it[i].addr & ~(uintptr_t)(ZH_SMP_SLAB_LEN - 1), ZH_SMP_SLAB_LEN);
    for (size_t i = 0; i < w.next.n && w.l.oom == 0; i++)
        zx_span_add(&w, &slabs, w.next.v[i].addr & ~(uintptr_t)(ZH_SMP_SLAB_LEN - 1), ZH_SMP_SLAB_LEN);
    if (w.l.ni > 1) qsort(w.l.it, w.l.ni, sizeof *w.l.it, zx_litem_by_address);
    if (w.next.n > 1) qsort(w.next.v, w.next.n, sizeof *w.next.v, zx_span_by_address);
    if (slabs.n > 1) qsort(slabs.v, slabs.n, sizeof *slabs.v, zx_span_by_address);
    for (size_t i = 0; i < slabs.n && w.l.oom == 0; i++)
        if (i == 0 || slabs.v[i].addr != slabs.v[i - 1].addr) zx_lay_carved(&w, "slab", slabs.v[i].addr, ZH_SMP_SLAB_LEN);
    PyMem_RawFree(slabs.v);
    return zx_carved_finish(&w, op);
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
