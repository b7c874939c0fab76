/* general.c -- the general-purpose allocators of issue 5 as Python types:
 * SmpAllocator (the process-wide one). Every operation is the base type's;
 * this file adds construction and introspection. */
#include "ext.h"

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

static PyObject *list_of(const size_t *v, size_t n) {
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        PyObject *x = PyLong_FromSize_t(v[i]);
        if (x == NULL) Py_CLEAR(l);
        else PyList_SET_ITEM(l, (Py_ssize_t)i, x);
    }
    return l;
}

static PyObject *Smp_stats(PyObject *op, PyObject *unused) {
    (void)op, (void)unused;
    unsigned n = zh_smp_slot_count();
    PyObject *slots = PyList_New(n);
    if (slots == NULL) return NULL;
    for (unsigned i = 0; i < n; i++) {
        zh_smp_slot_stats s;
        zh_smp_slot_stats_of(i, &s);
        PyObject *d = Py_BuildValue("{s:N,s:N}", "free", list_of(s.free_counts, ZH_SMP_SIZE_CLASS_COUNT), "slabs",
                                    list_of(s.slabs, ZH_SMP_SIZE_CLASS_COUNT));
        if (d == NULL) {
            Py_DECREF(slots);
            return NULL;
        }
        PyList_SET_ITEM(slots, i, d);
    }
    size_t sizes[ZH_SMP_SIZE_CLASS_COUNT];
    for (size_t c = 0; c < ZH_SMP_SIZE_CLASS_COUNT; c++) sizes[c] = (size_t)8 << c;
    return Py_BuildValue("{s:I,s:n,s:N,s:N}", "slot_count", n, "slab_len", (Py_ssize_t)ZH_SMP_SLAB_LEN,
                         "slot_sizes", list_of(sizes, ZH_SMP_SIZE_CLASS_COUNT), "slots", slots);
}

static PyObject *Smp_repr(PyObject *op) {
    return PyUnicode_FromFormat("<zheap.SmpAllocator live=%zd slots=%u>", ZxAllocator_CAST(op)->nlive,
                                zh_smp_slot_count());
}

static PyMethodDef Smp_methods[] = {
    {"stats", Smp_stats, METH_NOARGS, Smp_stats_doc},
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

/* ===================================================================== */

int zx_general_init_types(PyObject *module, zheap_state *st) {
    if ((st->SmpAllocator_type = zx_add_allocator_type(module, st, &Smp_spec, true)) == NULL) return -1;
    return 0;
}
