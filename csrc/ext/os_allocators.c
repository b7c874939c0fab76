/* os_allocators.c -- the allocator types of the foundation: PageAllocator,
 * CAllocator, RawCAllocator (stateless, over the core's singletons) and
 * ValidationAllocator (validationWrap over any other allocator). Each only
 * picks the core allocator and its alignment limit; every operation is the
 * base type's. */
#include "allocator.h"

static int no_args(const char *name, PyObject *args, PyObject *kwds) {
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_Format(PyExc_TypeError, "%s() takes no arguments", name);
        return -1;
    }
    return 0;
}

static PyObject *new_stateless(PyTypeObject *type, PyObject *args, PyObject *kwds, const char *name,
                               zh_allocator a, zh_alignment max_align) {
    if (no_args(name, args, kwds) < 0) return NULL;
    zheap_state *st = zx_state_of(type);
    if (st == NULL) return NULL;
    ZxAllocator *self = (ZxAllocator *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    zx_allocator_setup(self, st, a, max_align);
    return (PyObject *)self;
}

static PyObject *PageAllocator_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    return new_stateless(type, args, kwds, "PageAllocator", zh_page_allocator(), ZH_ALIGNMENT_MAX);
}

static PyObject *CAllocator_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    return new_stateless(type, args, kwds, "CAllocator", zh_c_allocator(), ZH_ALIGNMENT_MAX);
}

static PyObject *RawCAllocator_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    return new_stateless(type, args, kwds, "RawCAllocator", zh_raw_c_allocator(),
                         zh_alignment_from_bytes(ZH_RAW_C_MAX_ALIGNMENT));
}

static PyObject *stateless_repr(PyObject *op) {
    return PyUnicode_FromFormat("<%s live=%zd>", Py_TYPE(op)->tp_name, ZxAllocator_CAST(op)->nlive);
}

/* --- ValidationAllocator ---------------------------------------------------- */

typedef struct {
    ZxAllocator base;
    zh_validation v;
} ValidationObject;

/* The core calls this on a contract violation; the operation then fails and
 * the binding sees the exception already set. */
static void validation_panic(void *user, const char *message) {
    ValidationObject *self = user;
    PyErr_SetString(self->base.st->ZigPanic, message);
}

static PyObject *ValidationAllocator_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"allocator", NULL};
    PyObject *child;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:ValidationAllocator", kwlist, &child)) return NULL;
    zheap_state *st = zx_state_of(type);
    if (st == NULL) return NULL;
    if (zx_as_allocator(st, child, "ValidationAllocator()") == NULL) return NULL; /* also: not deinitialized */
    ValidationObject *self = (ValidationObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    ZxAllocator *c = ZxAllocator_CAST(child);
    zh_validation_init(&self->v, zx_child_iface(c));
    self->v.panic = validation_panic;
    self->v.panic_user = self;
    zx_allocator_setup(&self->base, st, zh_validation_allocator(&self->v), c->max_align);
    zx_pin_child(&self->base, child);
    return (PyObject *)self;
}

static PyObject *ValidationAllocator_repr(PyObject *op) {
    ZxAllocator *self = ZxAllocator_CAST(op);
    return PyUnicode_FromFormat("<zheap.ValidationAllocator of %R live=%zd>", self->child, self->nlive);
}

static PyGetSetDef ValidationAllocator_getset[] = {
    {"underlying_allocator", zx_get_child, NULL, "The wrapped allocator.", NULL},
    {NULL},
};

/* --- specs ---------------------------------------------------------------------- */

PyDoc_STRVAR(PageAllocator_doc,
             "PageAllocator()\n--\n\n"
             "Every request straight to the OS (mmap/munmap/mremap), rounded up to whole\n"
             "pages. Any power-of-two alignment; beyond the page size it over-maps and\n"
             "trims. Stateless and thread-safe: ``zheap.page_allocator`` is the instance.");
PyDoc_STRVAR(CAllocator_doc,
             "CAllocator()\n--\n\n"
             "libc's heap: malloc up to alignof(max_align_t), posix_memalign beyond, so any\n"
             "power-of-two alignment. resize succeeds in place up to malloc_usable_size;\n"
             "remap calls realloc, which may move the block, for alignments up to\n"
             "alignof(max_align_t), and stays in place beyond them.\n"
             "``zheap.c_allocator`` is the instance.");
PyDoc_STRVAR(RawCAllocator_doc,
             "RawCAllocator()\n--\n\n"
             "Plain malloc/realloc/free, alignment up to alignof(max_align_t); resize always\n"
             "fails, remap is realloc. The better backing for an arena.\n"
             "``zheap.raw_c_allocator`` is the instance.");
PyDoc_STRVAR(ValidationAllocator_doc,
             "ValidationAllocator(allocator)\n--\n\n"
             "Zig's std.mem.ValidationAllocator: forwards to ``allocator`` and checks the\n"
             "interface contract on every call (non-zero lengths, aligned results). A\n"
             "violation raises zheap.ZigPanic. ``zheap.validation_wrap(a)`` builds one.");

#define STATELESS_SPEC(Name, doc, newfn)                                                                   \
    static PyType_Slot Name##_slots[] = {                                                                  \
        {Py_tp_doc, (void *)doc},         {Py_tp_new, newfn},         {Py_tp_repr, stateless_repr},       \
        {Py_tp_dealloc, zx_allocator_dealloc}, {Py_tp_traverse, zx_allocator_traverse},                    \
        {Py_tp_clear, zx_allocator_clear}, {0, NULL},                                                        \
    };                                                                                                     \
    static PyType_Spec Name##_spec = {                                                                     \
        .name = "zheap." #Name,                                                                            \
        .basicsize = sizeof(ZxAllocator),                                                                  \
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,                       \
        .slots = Name##_slots,                                                                             \
    };

STATELESS_SPEC(PageAllocator, PageAllocator_doc, PageAllocator_new)
STATELESS_SPEC(CAllocator, CAllocator_doc, CAllocator_new)
STATELESS_SPEC(RawCAllocator, RawCAllocator_doc, RawCAllocator_new)

static PyType_Slot ValidationAllocator_slots[] = {
    {Py_tp_doc, (void *)ValidationAllocator_doc},
    {Py_tp_new, ValidationAllocator_new},
    {Py_tp_repr, ValidationAllocator_repr},
    {Py_tp_getset, ValidationAllocator_getset},
    {Py_tp_dealloc, zx_allocator_dealloc},
    {Py_tp_traverse, zx_allocator_traverse},
    {Py_tp_clear, zx_allocator_clear},
    {0, NULL},
};

static PyType_Spec ValidationAllocator_spec = {
    .name = "zheap.ValidationAllocator",
    .basicsize = sizeof(ValidationObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = ValidationAllocator_slots,
};

int zx_os_allocators_init_types(PyObject *module, zheap_state *st) {
    if ((st->PageAllocator_type = zx_add_allocator_type(module, st, &PageAllocator_spec, true)) == NULL) return -1;
    if ((st->CAllocator_type = zx_add_allocator_type(module, st, &CAllocator_spec, true)) == NULL) return -1;
    if ((st->RawCAllocator_type = zx_add_allocator_type(module, st, &RawCAllocator_spec, true)) == NULL) return -1;
    if ((st->ValidationAllocator_type = zx_add_allocator_type(module, st, &ValidationAllocator_spec, true)) == NULL) return -1;
    return 0;
}
