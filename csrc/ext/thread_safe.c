/* thread_safe.c -- ThreadSafeAllocator (thread_safe_allocator.c) as a Python
 * type: Zig's mutex around a child, except over a child that runs Python
 * code, where the GIL and the stack's busy marks serialise instead (stack.c). */
#include "allocator.h"

/* ===================================================================== */
/* ThreadSafeAllocator                                                    */
/* ===================================================================== */

typedef struct {
    ZxAllocator base;
    zh_thread_safe ts;
} TsObject;

#define Ts_CAST(op) ((TsObject *)(op))

static PyObject *Ts_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"child", NULL};
    PyObject *child;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:ThreadSafeAllocator", kwlist, &child)) return NULL;
    zheap_state *st = zx_state_of(type);
    ZxAllocator *c = st ? zx_as_allocator(st, child, "ThreadSafeAllocator()") : NULL;
    if (c == NULL) return NULL;
    TsObject *self = (TsObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    zh_thread_safe_init(&self->ts, zx_child_iface(c));
    zx_allocator_setup(&self->base, st, zh_thread_safe_allocator(&self->ts), c->max_align);
    zx_pin_child(&self->base, child);
    /* A child that runs Python code: no mutex, ever. A thread holding it
     * while the child waits for the GIL deadlocks against a thread holding
     * the GIL while it waits for the mutex. Every caller holds the GIL and
     * the stack's busy mark instead (stack.c: Python callers through the
     * gate, C callers through capsule()'s gil_iface), which serialise whole
     * operations without blocking anyone who holds the GIL. */
    if (self->base.needs_gil) self->base.a = zx_child_iface(c);
    return (PyObject *)self;
}

static PyObject *Ts_stats(PyObject *op, PyObject *unused) {
    (void)unused;
    TsObject *self = Ts_CAST(op);
    return Py_BuildValue("{s:n,s:O}", "live", self->base.nlive, "locked",
                         __atomic_load_n(&self->ts.mutex.state, __ATOMIC_RELAXED) ? Py_True : Py_False);
}
ZX_STATS_WITH_FIGURES(Ts_stats)

static PyObject *Ts_repr(PyObject *op) {
    return PyUnicode_FromFormat("<zheap.ThreadSafeAllocator live=%zd child=%R>", ZxAllocator_CAST(op)->nlive,
                                ZxAllocator_CAST(op)->child);
}

static PyMethodDef Ts_methods[] = {
    {"stats", Ts_stats_with_figures, METH_NOARGS, "stats($self, /)\n--\n\nA dict: live, locked."},
    {NULL},
};

static PyGetSetDef Ts_getset[] = {
    {"child_allocator", zx_get_child, NULL, "The allocator every call is forwarded to.", NULL},
    {NULL},
};

PyDoc_STRVAR(Ts_doc,
             "ThreadSafeAllocator(child)\n--\n\n"
             "Zig's ThreadSafeAllocator: every call on ``child`` runs under one mutex, so\n"
             "threads of C code (through capsule()) can share an allocator that is not\n"
             "thread-safe (an arena, a fixed buffer). Over a child that runs Python code (an\n"
             "allocator written in Python, a DebugAllocator), no mutex is held while Python\n"
             "runs: the GIL and the stack's busy marks serialise whole operations instead,\n"
             "and a thread waits for another's with the GIL released. While it lives,\n"
             "``child`` cannot be reset.");

static PyType_Slot Ts_slots[] = {
    {Py_tp_doc, (void *)Ts_doc},
    {Py_tp_new, Ts_new},
    {Py_tp_dealloc, zx_allocator_dealloc},
    {Py_tp_traverse, zx_allocator_traverse},
    {Py_tp_clear, zx_allocator_clear},
    {Py_tp_repr, Ts_repr},
    {Py_tp_methods, Ts_methods},
    {Py_tp_getset, Ts_getset},
    {0, NULL},
};

static PyType_Spec Ts_spec = {
    .name = "zheap.ThreadSafeAllocator",
    .basicsize = sizeof(TsObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Ts_slots,
};

int zx_thread_safe_init_type(PyObject *module, zheap_state *st) {
    st->ThreadSafeAllocator_type = zx_add_allocator_type(module, st, &Ts_spec, true);
    return st->ThreadSafeAllocator_type != NULL ? 0 : -1;
}
