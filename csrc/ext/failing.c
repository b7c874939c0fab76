/* failing.c -- FailingAllocator (Zig's std.testing.FailingAllocator) as a
 * Python type, with the Python stack of the induced failure. */
#include "allocator.h"
#include "frames.h"

#include <string.h>

/* ===================================================================== */
/* FailingAllocator                                                        */
/* ===================================================================== */

/* Frames kept of the stack where the failure was induced, innermost first. */
#define FAILING_FRAMES 128

typedef struct {
    ZxAllocator base;
    zh_failing f;
    bool traced;
    uintptr_t trace_ids[FAILING_FRAMES]; /* interned frames (frames.c), 0 past the last */
} FailingObject;

#define Failing_CAST(op) ((FailingObject *)(op))

static void on_induced_failure(void *user) {
    FailingObject *self = user;
    /* Zig captures a stack trace here; this is the Python one, read in C
     * without running Python code (frames.c turns the frames into ids with
     * the collector off). So the stack below this allocator is never marked
     * busy while Python code runs: numpy's handler over it relies on that. */
    memset(self->trace_ids, 0, sizeof self->trace_ids);
    zx_capture_frames(&self->base.st->frames, self->trace_ids, FAILING_FRAMES);
    self->traced = true;
}

static int parse_index(PyObject *obj, const char *what, size_t *out) {
    *out = SIZE_MAX;
    if (obj == NULL || obj == Py_None) return 0;
    Py_ssize_t v;
    if (zx_parse_length(obj, what, &v) < 0) return -1;
    *out = (size_t)v;
    return 0;
}

static PyObject *Failing_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"child", "fail_index", "resize_fail_index", NULL};
    PyObject *child, *fail = NULL, *resize_fail = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OO:FailingAllocator", kwlist, &child, &fail, &resize_fail))
        return NULL;
    size_t fi, rfi;
    if (parse_index(fail, "fail_index", &fi) < 0 || parse_index(resize_fail, "resize_fail_index", &rfi) < 0)
        return NULL;
    zheap_state *st = zx_state_of(type);
    ZxAllocator *c = st ? zx_as_allocator(st, child, "FailingAllocator()") : NULL;
    if (c == NULL) return NULL;
    FailingObject *self = (FailingObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    zh_failing_init(&self->f, zx_child_iface(c), fi, rfi);
    self->f.on_induced_failure = on_induced_failure;
    self->f.user = self;
    zx_allocator_setup(&self->base, st, zh_failing_allocator(&self->f), c->max_align);
    self->base.needs_gil = true; /* the failure callback reads Python frames */
    zx_pin_child(&self->base, child);
    return (PyObject *)self;
}

static int Failing_traverse(PyObject *op, visitproc visit, void *arg) { return zx_allocator_traverse(op, visit, arg); }

static int Failing_clear(PyObject *op) { return zx_allocator_clear(op); }

static void Failing_dealloc(PyObject *op) {
    /* Untracked before any code runs: a collection during the teardown
     * (Python code in a child) must not see this dying object. */
    PyObject_GC_UnTrack(op);
    zx_allocator_dealloc(op);
}

#define FAILING_FIELD(name)                                              \
    static PyObject *Failing_get_##name(PyObject *op, void *c) {         \
        (void)c;                                                         \
        size_t v = Failing_CAST(op)->f.name;                             \
        return v == SIZE_MAX ? Py_NewRef(Py_None) : PyLong_FromSize_t(v); \
    }
FAILING_FIELD(alloc_index)
FAILING_FIELD(resize_index)
FAILING_FIELD(fail_index)
FAILING_FIELD(resize_fail_index)
FAILING_FIELD(allocated_bytes)
FAILING_FIELD(freed_bytes)
FAILING_FIELD(allocations)
FAILING_FIELD(deallocations)

static PyObject *Failing_get_induced(PyObject *op, void *c) {
    (void)c;
    return PyBool_FromLong(Failing_CAST(op)->f.has_induced_failure);
}

/* The traceback.StackSummary of the recorded frames, outermost first as
 * traceback.extract_stack() gives it; None before any induced failure. */
static PyObject *Failing_get_trace(PyObject *op, void *c) {
    (void)c;
    FailingObject *self = Failing_CAST(op);
    if (!self->traced) Py_RETURN_NONE;
    PyObject *trace = zx_trace_from_ids(self->base.st, self->trace_ids, FAILING_FRAMES);
    if (trace == NULL) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(trace);
    PyObject *frames = PyList_New(n);
    for (Py_ssize_t i = 0; frames != NULL && i < n; i++) {
        PyObject *f = PyTuple_GET_ITEM(trace, n - 1 - i); /* (filename, lineno, name) */
        PyObject *item = Py_BuildValue("(OOOO)", PyTuple_GET_ITEM(f, 0), PyTuple_GET_ITEM(f, 1),
                                       PyTuple_GET_ITEM(f, 2), Py_None);
        if (item == NULL) Py_CLEAR(frames);
        else PyList_SET_ITEM(frames, i, item);
    }
    Py_DECREF(trace);
    if (frames == NULL) return NULL;
    PyObject *traceback = PyImport_ImportModule("traceback");
    PyObject *summary = NULL;
    PyObject *cls = traceback ? PyObject_GetAttrString(traceback, "StackSummary") : NULL;
    if (cls != NULL) summary = PyObject_CallMethod(cls, "from_list", "O", frames);
    Py_XDECREF(cls);
    Py_XDECREF(traceback);
    Py_DECREF(frames);
    return summary;
}

static PyObject *Failing_repr(PyObject *op) {
    zh_failing *f = &Failing_CAST(op)->f;
    return PyUnicode_FromFormat("<zheap.FailingAllocator alloc_index=%zu fail_index=%zd allocated=%zu freed=%zu%s>",
                                f->alloc_index, f->fail_index == SIZE_MAX ? (Py_ssize_t)-1 : (Py_ssize_t)f->fail_index,
                                f->allocated_bytes, f->freed_bytes, f->has_induced_failure ? " failed" : "");
}

static PyGetSetDef Failing_getset[] = {
    {"alloc_index", Failing_get_alloc_index, NULL, "Successful allocations so far.", NULL},
    {"resize_index", Failing_get_resize_index, NULL, "Successful resizes and remaps so far.", NULL},
    {"fail_index", Failing_get_fail_index, NULL, "The allocation that fails (and all after it), or None.", NULL},
    {"resize_fail_index", Failing_get_resize_fail_index, NULL, "The resize/remap that fails, or None.", NULL},
    {"allocated_bytes", Failing_get_allocated_bytes, NULL, "Bytes allocated (and grown) so far.", NULL},
    {"freed_bytes", Failing_get_freed_bytes, NULL, "Bytes freed (and shrunk) so far.", NULL},
    {"allocations", Failing_get_allocations, NULL, "Successful allocations.", NULL},
    {"deallocations", Failing_get_deallocations, NULL, "Frees.", NULL},
    {"has_induced_failure", Failing_get_induced, NULL, "Whether an allocation was made to fail.", NULL},
    {"failure_trace", Failing_get_trace, NULL,
     "The Python stack (traceback.StackSummary) where the first induced failure happened, or None.", NULL},
    {NULL},
};

PyDoc_STRVAR(Failing_doc,
             "FailingAllocator(child, *, fail_index=None, resize_fail_index=None)\n--\n\n"
             "Zig's std.testing.FailingAllocator: forwards to ``child``, except that the\n"
             "``fail_index``-th allocation (counting from 0) and every one after it fail\n"
             "(MemoryError), and so does the ``resize_fail_index``-th resize/remap. Counts\n"
             "bytes allocated and freed, so a test can check nothing leaked.");

static PyType_Slot Failing_slots[] = {
    {Py_tp_doc, (void *)Failing_doc},
    {Py_tp_new, Failing_new},
    {Py_tp_dealloc, Failing_dealloc},
    {Py_tp_traverse, Failing_traverse},
    {Py_tp_clear, Failing_clear},
    {Py_tp_repr, Failing_repr},
    {Py_tp_getset, Failing_getset},
    {0, NULL},
};

static PyType_Spec Failing_spec = {
    .name = "zheap.FailingAllocator",
    .basicsize = sizeof(FailingObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Failing_slots,
};

int zx_failing_init_type(PyObject *module, zheap_state *st) {
    st->FailingAllocator_type = zx_add_allocator_type(module, st, &Failing_spec, true);
    return st->FailingAllocator_type != NULL ? 0 : -1;
}
