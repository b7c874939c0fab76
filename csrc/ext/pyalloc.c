/* pyalloc.c -- allocators written in Python: a subclass of zheap.Allocator
 * implements _alloc/_resize/_remap/_free at the address level, and the
 * binding turns them into a zh_allocator, checking every address they
 * return against the memory the subclass declared (add_region), the
 * alignment asked for, and every block still live, so a buggy allocator
 * raises instead of corrupting memory. The trampolines enter Python code
 * through stack.c: with the GIL, under the stack's busy mark, and with this
 * thread's "in act" flag cleared, so the code cannot re-enter the stack. */
#include "pyalloc.h"

#include <string.h>

#include "args.h"
#include "block.h"
#include "layout.h"
#include "owner.h"
#include "stack.h"

/* ===================================================================== */
/* Allocators written in Python                                            */
/* ===================================================================== */

typedef struct {
    char *base;
    size_t len;
    Py_buffer view; /* an export on the caller's buffer, held while registered */
} zx_region;

typedef struct {
    uintptr_t addr;
    size_t len;
} zx_range;

/* The state of a Python-implemented allocator (ZxAllocator.py). */
struct zx_py {
    zx_region *regions;
    size_t nregions;
    zx_range *live; /* sorted by address: every block handed out and not freed */
    size_t nlive, cap;
};

static void py_traverse(ZxAllocator *self, visitproc visit, void *arg, int *rc) {
    if (self->py == NULL) return;
    for (size_t i = 0; i < self->py->nregions && *rc == 0; i++)
        if (self->py->regions[i].view.obj != NULL) *rc = visit(self->py->regions[i].view.obj, arg);
}

static void py_free_state(struct zx_py *py) {
    for (size_t i = 0; i < py->nregions; i++) PyBuffer_Release(&py->regions[i].view);
    PyMem_Free(py->regions);
    PyMem_Free(py->live);
    PyMem_Free(py);
}

/* layout(): the regions given to add_region, and every range handed out
 * (also those a parent allocator drew through the C interface). */
static void py_layout(ZxAllocator *self, zx_layout *l) {
    const struct zx_py *py = self->py;
    for (size_t i = 0; i < py->nregions; i++)
        zx_lay_region(l, "region", (uintptr_t)py->regions[i].base, py->regions[i].len, py->regions[i].len, 0);
    for (size_t i = 0; i < py->nlive; i++) zx_lay_item(l, "live", py->live[i].addr, py->live[i].len, 0);
}

/* The first live range at or after addr. */
static size_t lower_bound(const struct zx_py *py, uintptr_t addr) {
    size_t lo = 0, hi = py->nlive;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (py->live[mid].addr < addr) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Check [addr, addr+len) against the rules; on a violation raise
 * AllocatorContractError naming the rule (and the other block). `ignore` is
 * the live range being resized (skipped in the overlap check), or NULL. */
static int check_range(ZxAllocator *self, const char *method, uintptr_t addr, size_t len, size_t align,
                       const zx_range *ignore) {
    struct zx_py *py = self->py;
    PyObject *owner = (PyObject *)self;
    if (addr % align != 0) {
        PyErr_Format(self->st->AllocatorContractError, "%.100s.%s returned %p for %zu bytes: not aligned to %zu",
                     Py_TYPE(owner)->tp_name, method, (void *)addr, len, align);
        return -1;
    }
    bool inside = false;
    for (size_t i = 0; i < py->nregions && !inside; i++) {
        uintptr_t b = (uintptr_t)py->regions[i].base;
        inside = addr >= b && addr - b <= py->regions[i].len && len <= py->regions[i].len - (addr - b);
    }
    if (!inside) {
        PyErr_Format(self->st->AllocatorContractError,
                     "%.100s.%s returned %p for %zu bytes: not inside the memory given with add_region() "
                     "(%zu region%s)",
                     Py_TYPE(owner)->tp_name, method, (void *)addr, len, py->nregions, py->nregions == 1 ? "" : "s");
        return -1;
    }
    size_t i = lower_bound(py, addr);
    /* The neighbours that could overlap: the last one starting before addr,
     * and those starting inside [addr, addr+len). */
    for (size_t k = i > 0 ? i - 1 : 0; k < py->nlive; k++) {
        const zx_range *r = &py->live[k];
        if (r->addr >= addr + len) break;
        if (r == ignore || r->addr + r->len <= addr) continue;
        PyErr_Format(self->st->AllocatorContractError,
                     "%.100s.%s returned %p for %zu bytes: it overlaps the live block at %p (%zu bytes)",
                     Py_TYPE(owner)->tp_name, method, (void *)addr, len, (void *)r->addr, r->len);
        return -1;
    }
    return 0;
}

static int live_insert(struct zx_py *py, uintptr_t addr, size_t len) {
    if (py->nlive == py->cap) {
        size_t cap = py->cap ? py->cap * 2 : 64;
        zx_range *live = PyMem_Realloc(py->live, cap * sizeof *live);
        if (live == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        py->live = live;
        py->cap = cap;
    }
    size_t i = lower_bound(py, addr);
    memmove(&py->live[i + 1], &py->live[i], (py->nlive - i) * sizeof *py->live);
    py->live[i] = (zx_range){addr, len};
    py->nlive++;
    return 0;
}

static zx_range *live_find(struct zx_py *py, uintptr_t addr) {
    size_t i = lower_bound(py, addr);
    return i < py->nlive && py->live[i].addr == addr ? &py->live[i] : NULL;
}

static void live_remove(struct zx_py *py, zx_range *r) {
    size_t i = (size_t)(r - py->live);
    memmove(&py->live[i], &py->live[i + 1], (py->nlive - i - 1) * sizeof *py->live);
    py->nlive--;
}

/* An int address from a method's result: 0 and None mean "no". -1 with an
 * exception for anything else. */
static int result_address(ZxAllocator *self, const char *method, PyObject *r, uintptr_t *out) {
    *out = 0;
    if (r == Py_None) return 0;
    if (!PyLong_Check(r)) {
        PyErr_Format(PyExc_TypeError, "%.100s.%s must return an int address or None, not %.100s",
                     Py_TYPE(self)->tp_name, method, Py_TYPE(r)->tp_name);
        return -1;
    }
    void *p = PyLong_AsVoidPtr(r);
    if (p == NULL && PyErr_Occurred()) return -1;
    *out = (uintptr_t)p;
    return 0;
}

/* The trampolines. They hold the GIL themselves (C code may call them from
 * any thread through a capsule) and leave a Python exception set when they
 * fail because of one; callers in the binding check for it. */

/* Entering and leaving Python code from the C interface. The GIL, then
 * the stack's busy mark: inside this thread's own operation that is the
 * operation coming down (nested); Python code of this allocator calling
 * back into it through C is re-entry (RuntimeError); another thread's
 * operation is waited out. A C caller may go on after one of these failed
 * with an exception (an arena falls back from resize to alloc): with an
 * error pending, fail at once rather than run Python code. */
typedef struct {
    PyGILState_STATE g;
    zx_mark m;
    int saved;
} py_call;

static int py_enter(ZxAllocator *self, py_call *c) {
    c->g = PyGILState_Ensure();
    if (PyErr_Occurred() || zx_stack_begin(self, true, &c->m) < 0) {
        PyGILState_Release(c->g);
        return -1;
    }
    c->saved = zx_python_enter();
    return 0;
}

/* Back from Python: the binding's own state is checked again by the caller
 * (live_find after the call, never a pointer kept across it). */
static void py_leave(ZxAllocator *self, py_call *c) {
    zx_python_leave(c->saved);
    zx_stack_end(self, &c->m);
    PyGILState_Release(c->g);
}

/* Lengths and alignments go to Python unsigned: a parent allocator may ask
 * for more than a signed size holds (an arena padding a 2**63 alignment). */
static void *py_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    (void)ra;
    ZxAllocator *self = ctx;
    py_call c;
    if (py_enter(self, &c) < 0) return NULL;
    uintptr_t addr = 0;
    PyObject *r = PyObject_CallMethod((PyObject *)self, "_alloc", "KK", (unsigned long long)len,
                                      (unsigned long long)zh_alignment_bytes(al));
    zx_python_leave(c.saved);
    if (r != NULL && result_address(self, "_alloc", r, &addr) == 0 && addr != 0) {
        if (check_range(self, "_alloc", addr, len, zh_alignment_bytes(al), NULL) < 0 ||
            live_insert(self->py, addr, len) < 0)
            addr = 0;
    }
    c.saved = zx_python_enter();
    Py_XDECREF(r);
    py_leave(self, &c);
    return (void *)addr;
}

/* Optional methods: a subclass without _resize/_remap cannot resize. */
static PyObject *call_optional(ZxAllocator *self, const char *method, PyObject *args) {
    PyObject *fn = PyObject_GetAttrString((PyObject *)self, method);
    if (fn == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) PyErr_Clear();
        Py_DECREF(args);
        return Py_NewRef(Py_None);
    }
    PyObject *r = PyObject_CallObject(fn, args);
    Py_DECREF(fn);
    Py_DECREF(args);
    return r;
}

static bool py_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    (void)ra;
    ZxAllocator *self = ctx;
    py_call c;
    if (py_enter(self, &c) < 0) return false;
    bool ok = false;
    PyObject *args = Py_BuildValue("(NKKK)", PyLong_FromVoidPtr(mem), (unsigned long long)len,
                                   (unsigned long long)zh_alignment_bytes(al), (unsigned long long)new_len);
    PyObject *r = args ? call_optional(self, "_resize", args) : NULL;
    int truth = r != NULL ? PyObject_IsTrue(r) : -1;
    zx_python_leave(c.saved);
    if (r != NULL) {
        zx_range *lr = live_find(self->py, (uintptr_t)mem);
        if (truth == 1 && lr != NULL &&
            check_range(self, "_resize", (uintptr_t)mem, new_len, zh_alignment_bytes(al), lr) == 0) {
            lr->len = new_len;
            ok = true;
        }
    }
    c.saved = zx_python_enter();
    Py_XDECREF(r);
    py_leave(self, &c);
    return ok;
}

static void *py_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    (void)ra;
    ZxAllocator *self = ctx;
    py_call c;
    if (py_enter(self, &c) < 0) return NULL;
    uintptr_t addr = 0;
    PyObject *args = Py_BuildValue("(NKKK)", PyLong_FromVoidPtr(mem), (unsigned long long)len,
                                   (unsigned long long)zh_alignment_bytes(al), (unsigned long long)new_len);
    PyObject *r = args ? call_optional(self, "_remap", args) : NULL;
    zx_python_leave(c.saved);
    if (r != NULL && result_address(self, "_remap", r, &addr) == 0 && addr != 0) {
        zx_range *lr = live_find(self->py, (uintptr_t)mem);
        if (lr == NULL || check_range(self, "_remap", addr, new_len, zh_alignment_bytes(al), lr) < 0) {
            addr = 0;
        } else {
            live_remove(self->py, lr);
            if (live_insert(self->py, addr, new_len) < 0) addr = 0;
        }
    }
    c.saved = zx_python_enter();
    Py_XDECREF(r);
    py_leave(self, &c);
    return (void *)addr;
}

static void py_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    (void)ra;
    ZxAllocator *self = ctx;
    PyGILState_STATE g = PyGILState_Ensure();
    /* A C caller freeing many blocks (an arena's deinit) goes on after the
     * first _free raised: keep that first exception, and report any later
     * one as unraisable, so Python code never runs with an error pending. */
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    zx_mark m;
    if (zx_stack_begin(self, true, &m) < 0) {
        /* Python code of this allocator freeing through C into itself: the
         * block stays allocated (a leak, never a corruption). */
        PyErr_WriteUnraisable((PyObject *)self);
    } else {
        zx_range *lr = live_find(self->py, (uintptr_t)mem);
        if (lr != NULL) live_remove(self->py, lr);
        int saved = zx_python_enter();
        PyObject *r = PyObject_CallMethod((PyObject *)self, "_free", "NKK", PyLong_FromVoidPtr(mem),
                                          (unsigned long long)len, (unsigned long long)zh_alignment_bytes(al));
        Py_XDECREF(r);
        zx_python_leave(saved);
        zx_stack_end(self, &m);
    }
    if (et != NULL) {
        if (PyErr_Occurred()) PyErr_WriteUnraisable((PyObject *)self);
        PyErr_Restore(et, ev, tb);
    }
    PyGILState_Release(g);
}

static const zh_allocator_vtable py_vtable = {py_alloc, py_resize, py_remap, py_free};

/* tp_new of zheap.Allocator: abstract itself; a Python subclass becomes an
 * allocator over its _alloc/_resize/_remap/_free. */
PyObject *zx_pyalloc_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    (void)args, (void)kwds;
    zheap_state *st = zx_state_of(type);
    if (st == NULL) return NULL;
    if (type == st->Allocator_type) {
        PyErr_SetString(PyExc_TypeError,
                        "zheap.Allocator is abstract: subclass it and implement _alloc(length, alignment) and "
                        "_free(address, length, alignment) (and optionally _resize and _remap)");
        return NULL;
    }
    for (const char *const *m = (const char *const[]){"_alloc", "_free", NULL}; *m != NULL; m++) {
        PyObject *fn = PyObject_GetAttrString((PyObject *)type, *m);
        if (fn == NULL) {
            PyErr_Format(PyExc_TypeError, "%.100s must implement %s() to be an allocator", type->tp_name, *m);
            return NULL;
        }
        Py_DECREF(fn);
    }
    /* max_alignment: a class attribute (an int power of two), else a page. */
    zh_alignment max_al = zh_alignment_from_bytes(zh_page_size());
    PyObject *ma = PyObject_GetAttrString((PyObject *)type, "max_alignment");
    if (ma != NULL && PyLong_Check(ma)) {
        Py_ssize_t v = PyLong_AsSsize_t(ma);
        if (v <= 0 || (v & (v - 1)) != 0) {
            Py_DECREF(ma);
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "%.100s.max_alignment must be a power of two", type->tp_name);
            return NULL;
        }
        max_al = zh_alignment_from_bytes((size_t)v);
    }
    Py_XDECREF(ma);
    PyErr_Clear();
    ZxAllocator *self = (ZxAllocator *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    zx_allocator_setup(self, st, (zh_allocator){self, &py_vtable}, max_al);
    self->needs_gil = true;
    self->runs_python = true;
    self->py = PyMem_Calloc(1, sizeof *self->py);
    if (self->py == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

const char zx_add_region_doc[] =
             ("add_region($self, memory, /)\n--\n\n"
             "For allocators written in Python: declare ``memory`` (a writable buffer, e.g. a\n"
             "view from zheap.page_allocator) as memory this allocator hands out. Every address\n"
             "_alloc/_remap returns must lie inside a region; the buffer stays exported (it\n"
             "cannot be freed) while the allocator lives. Returns its address.");

PyObject *zx_allocator_add_region(PyObject *op, PyObject *memory) {
    ZxAllocator *self = ZxAllocator_CAST(op);
    if (self->py == NULL) {
        PyErr_Format(PyExc_TypeError, "add_region() is for allocators written in Python, not %.100s",
                     Py_TYPE(op)->tp_name);
        return NULL;
    }
    /* The export first: taking it may run Python code (a __buffer__ method,
     * an error's __str__) that calls add_region() on this allocator, so
     * nothing of the region table may be held across it. */
    Py_buffer view;
    char *base;
    Py_ssize_t len;
    if (zx_get_long_buffer(memory, &view, &base, &len) < 0) return NULL;
    PyObject *address = PyLong_FromVoidPtr(base);
    struct zx_py *py = self->py;
    zx_region *regions = address ? PyMem_Realloc(py->regions, (py->nregions + 1) * sizeof *regions) : NULL;
    if (regions == NULL) {
        if (address != NULL) PyErr_NoMemory();
        Py_XDECREF(address);
        PyBuffer_Release(&view);
        return NULL;
    }
    py->regions = regions;
    regions[py->nregions++] = (zx_region){.view = view, .base = base, .len = (size_t)len};
    return address;
}

/* Only an allocator written in Python knows where its free memory is: it
 * may say so with an optional _free_blocks() -> iterable of (address,
 * length), shown as "free" blocks. */
static int py_free_blocks(PyObject *op, zx_layout *l) {
    if (!PyObject_HasAttrString(op, "_free_blocks")) return 0;
    PyObject *fn = PyObject_GetAttrString(op, "_free_blocks");
    if (fn == NULL) return -1;
    PyObject *result = PyObject_CallNoArgs(fn);
    Py_DECREF(fn);
    PyObject *it = result ? PyObject_GetIter(result) : NULL;
    Py_XDECREF(result);
    if (it == NULL) return -1;
    PyObject *pair;
    while ((pair = PyIter_Next(it)) != NULL) {
        unsigned long long addr = 0, len = 0;
        int ok = PyTuple_Check(pair) && PyArg_ParseTuple(pair, "KK", &addr, &len);
        Py_DECREF(pair);
        if (!ok) {
            if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError, "%.100s._free_blocks() must give (address, length) pairs of ints",
                             Py_TYPE(op)->tp_name);
            }
            break;
        }
        if (zx_lay_item(l, "free", (uintptr_t)addr, (size_t)len, 0) < 0) break;
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* --- the base type's slots and layout ------------------------------------------ */

/* tp_traverse / tp_dealloc of zheap.Allocator: the C types' head, plus the
 * regions of an allocator written in Python (its subclasses inherit them). */
int zx_pyalloc_traverse(PyObject *op, visitproc visit, void *arg) {
    int rc = 0;
    py_traverse(ZxAllocator_CAST(op), visit, arg, &rc);
    return rc != 0 ? rc : zx_allocator_traverse(op, visit, arg);
}

void zx_pyalloc_dealloc(PyObject *op) {
    /* Untracked before any code runs: a collection during the teardown
     * (Python code in a child) must not see this dying object. */
    PyObject_GC_UnTrack(op);
    /* The regions go after the head: blocks of the same garbage cycle may
     * still point into them until the head is cleared. */
    ZxAllocator *self = ZxAllocator_CAST(op);
    struct zx_py *py = self->py;
    self->py = NULL;
    zx_allocator_dealloc(op);
    if (py != NULL) py_free_state(py);
}

/* layout() of an allocator written in Python: the regions given to
 * add_region, every range handed out, and the free runs it declares. */
PyObject *zx_pyalloc_layout(PyObject *op) {
    zx_layout l = {0};
    py_layout(ZxAllocator_CAST(op), &l);
    if (py_free_blocks(op, &l) < 0) {
        zx_lay_free(&l);
        return NULL;
    }
    return zx_lay_finish(&l, op);
}

/* repr of an allocator written in Python: its class, as every zheap type
 * names itself, with what zheap knows of it (the Python class knows more). */
PyObject *zx_pyalloc_repr(PyObject *op) {
    ZxAllocator *self = ZxAllocator_CAST(op);
    PyObject *module = PyObject_GetAttrString((PyObject *)Py_TYPE(op), "__module__");
    if (module == NULL) return NULL;
    PyObject *r = NULL;
    PyObject *qual = PyType_GetQualName(Py_TYPE(op));
    if (qual != NULL) {
        size_t regions = self->py != NULL ? self->py->nregions : 0;
        r = PyUnicode_FromFormat("<%S.%S live=%zd regions=%zu%s>", module, qual, self->nlive, regions,
                                 self->closed ? " closed" : "");
        Py_DECREF(qual);
    }
    Py_DECREF(module);
    return r;
}
