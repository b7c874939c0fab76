/* capsule.c -- every allocator exports its zh_allocator to C code, and any
 * zh_allocator from C (another extension, ctypes) becomes an allocator. A
 * wrapper over a zheap allocator's capsule pins that allocator like a child. */
#include "capsule.h"

#include "args.h"
#include "owner.h"

/* ===================================================================== */
/* Capsules                                                               */
/* ===================================================================== */

#define CAPSULE_NAME "zheap.allocator"

static void capsule_destructor(PyObject *capsule) {
    PyObject *owner = PyCapsule_GetContext(capsule);
    Py_XDECREF(owner);
}

const char zx_capsule_doc[] =
             ("capsule($self, /)\n--\n\n"
             "A PyCapsule named \"zheap.allocator\" holding a pointer to this allocator's\n"
             "zh_allocator (zheap.h), for C code. The capsule keeps the allocator alive; blocks\n"
             "C code allocates through it are not tracked by Python.");

PyObject *zx_allocator_capsule(PyObject *op, PyObject *unused) {
    (void)unused;
    ZxAllocator *self = ZxAllocator_CAST(op);
    if (zx_check_open(self) < 0) return NULL;
    /* A stack that runs Python code is entered by C threads with the GIL and
     * the busy marks (stack.c), never without. */
    PyObject *cap = PyCapsule_New(self->needs_gil ? &self->gil_iface : &self->a, CAPSULE_NAME, capsule_destructor);
    if (cap == NULL) return NULL;
    if (PyCapsule_SetContext(cap, Py_NewRef(op)) < 0) {
        Py_DECREF(op);
        Py_DECREF(cap);
        return NULL;
    }
    return cap;
}

typedef struct {
    ZxAllocator base;
    PyObject *capsule;
} CapsuleObject;

static int Capsule_traverse(PyObject *op, visitproc visit, void *arg) {
    Py_VISIT(((CapsuleObject *)op)->capsule);
    return zx_allocator_traverse(op, visit, arg);
}

static int Capsule_clear(PyObject *op) {
    /* The core's context lives as long as the capsule: once the capsule
     * goes, no operation may run (the object may still be reached from a
     * weakref callback the collection runs), and it goes only when the
     * allocator could be torn down at all. */
    if (!zx_collectable(ZxAllocator_CAST(op))) return 0;
    ZxAllocator_CAST(op)->closed = true;
    Py_CLEAR(((CapsuleObject *)op)->capsule);
    return zx_allocator_clear(op);
}

static void Capsule_dealloc(PyObject *op) {
    /* Untracked before any code runs: a collection during the teardown
     * (Python code in a child) must not see this dying object. */
    PyObject_GC_UnTrack(op);
    Py_CLEAR(((CapsuleObject *)op)->capsule);
    zx_allocator_dealloc(op);
}

static PyObject *Capsule_repr(PyObject *op) {
    return PyUnicode_FromFormat("<zheap.CapsuleAllocator of %R live=%zd>", ((CapsuleObject *)op)->capsule,
                                ZxAllocator_CAST(op)->nlive);
}

const char zx_from_capsule_doc[] =
             ("from_capsule($cls, capsule, max_alignment=4096)\n--\n\n"
             "An allocator over a zh_allocator from C: ``capsule`` is a PyCapsule named\n"
             "\"zheap.allocator\" whose pointer is a ``zh_allocator *`` (zheap.h: a context\n"
             "pointer and a vtable of alloc/resize/remap/free), valid as long as the capsule\n"
             "lives (the allocator keeps it). Blocks get the usual safe views.");

PyObject *zx_allocator_from_capsule(PyObject *cls, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"capsule", "max_alignment"};
    PyObject *a[2];
    if (zx_parse_args("from_capsule", names, 1, 2, args, nargs, kwnames, a) < 0) return NULL;
    zheap_state *st = zx_state_of((PyTypeObject *)cls);
    if (st == NULL) return NULL;
    if (!PyCapsule_CheckExact(a[0])) {
        PyErr_Format(PyExc_TypeError, "from_capsule() expects a PyCapsule named \"%s\", got %.100s",
                     CAPSULE_NAME, Py_TYPE(a[0])->tp_name);
        return NULL;
    }
    zh_allocator *za = PyCapsule_GetPointer(a[0], CAPSULE_NAME); /* ValueError: another name */
    if (za == NULL) return NULL;
    if (za->vtable == NULL || za->vtable->alloc == NULL || za->vtable->resize == NULL ||
        za->vtable->remap == NULL || za->vtable->free == NULL) {
        PyErr_SetString(PyExc_ValueError, "from_capsule(): the zh_allocator has a missing vtable entry");
        return NULL;
    }
    PyTypeObject *type = st->CapsuleAllocator_type;
    CapsuleObject *self = (CapsuleObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    zx_allocator_setup(&self->base, st, *za, ZH_ALIGNMENT_MAX);
    /* A capsule of a zheap allocator: the wrapper reaches its memory, so it
     * pins it like a child (reset/deinit raise while the wrapper lives). */
    PyObject *owner = PyCapsule_GetContext(a[0]);
    if (owner != NULL && PyObject_TypeCheck(owner, st->Allocator_type) &&
        (za == &ZxAllocator_CAST(owner)->a || za == &ZxAllocator_CAST(owner)->gil_iface)) {
        if (zx_check_open(ZxAllocator_CAST(owner)) < 0) { /* its core is gone: nothing to drive */
            Py_DECREF(self);
            return NULL;
        }
        zx_pin_child(&self->base, owner);
    } else {
        PyErr_Clear();
    }
    zh_alignment al = zh_alignment_from_bytes(zh_page_size());
    if (a[1] != NULL && zx_parse_alignment(&self->base, a[1], &al) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    self->base.max_align = al;
    self->capsule = Py_NewRef(a[0]);
    return (PyObject *)self;
}

static PyType_Slot Capsule_slots[] = {
    {Py_tp_doc, (void *)"An allocator over a zh_allocator from C (Allocator.from_capsule())."},
    {Py_tp_dealloc, Capsule_dealloc},
    {Py_tp_traverse, Capsule_traverse},
    {Py_tp_clear, Capsule_clear},
    {Py_tp_repr, Capsule_repr},
    {0, NULL},
};

static PyType_Spec Capsule_spec = {
    .name = "zheap.CapsuleAllocator",
    .basicsize = sizeof(CapsuleObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Capsule_slots,
};

int zx_capsule_init_type(PyObject *module, zheap_state *st) {
    st->CapsuleAllocator_type = zx_add_allocator_type(module, st, &Capsule_spec, true);
    return st->CapsuleAllocator_type != NULL ? 0 : -1;
}
