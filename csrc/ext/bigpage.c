/* bigpage.c -- WasmAllocator (wasm_allocator.c) and SbrkAllocator
 * (sbrk_allocator.c), the two allocators over the core's big-page engine
 * (bigpage.c), as Python types: construction, the checks on a Python sbrk
 * function, and the big pages as a layout. */
#include "allocator.h"

#include <stdlib.h>
#include <string.h>

/* --- WasmAllocator, SbrkAllocator: 64 KiB big pages from a growing memory --- */

/* The memory [lo, hi) in order: a "big" region for each big block or free
 * run, a "bigpage" (64 KiB, carved into one size class) for every other page.
 * The core knows the free lists and bump pointers; this object knows its
 * live blocks, and the core where each lies. A page nothing is known of is
 * listed too, with no size class (every slot in use elsewhere). */
static PyObject *bigpage_layout(PyObject *op, const zh_bigpage_state *s, uintptr_t lo, uintptr_t hi) {
    zx_layout l = {0};
    (void)zh_bigpage_visit(s, lo, hi, zx_lay_visit, &l);
    for (ZxBlock *b = ZxAllocator_CAST(op)->live; b != NULL && l.oom == 0; b = b->next)
        if (b->len != 0) (void)zh_bigpage_visit_block(lo, b->ptr, b->len, b->align, zx_lay_visit, &l);
    zx_lay_merge_regions(&l);
    size_t known = l.nr, k = 0;
    for (uintptr_t p = lo; p < hi && l.oom == 0;) {
        while (k < known && l.r[k].addr + l.r[k].size <= p) k++;
        if (k < known && l.r[k].addr <= p) {
            p = l.r[k].addr + l.r[k].size;
            continue;
        }
        zx_lay_region(&l, "bigpage", p, ZH_BIGPAGE_SIZE, 0, 0);
        p += ZH_BIGPAGE_SIZE;
    }
    zx_lay_merge_regions(&l);
    return zx_lay_finish(&l, op);
}

PyDoc_STRVAR(bigpage_layout_doc,
             "layout($self, /)\n--\n\n"
             "The memory in order: each 64 KiB big page carved into one size class\n"
             "(\"bigpage\", with its slot size), and each block of whole big pages or free\n"
             "run of them (\"big\"). Blocks: this object's live ones (slot slack as padding)\n"
             "and the free lists' slots. Format as Allocator.layout().");

/* ===================================================================== */
/* The big-page allocators' introspection                                  */
/* ===================================================================== */

static PyObject *bigpage_stats(const zh_bigpage_state *s) {
    zh_bigpage_stats st;
    zh_bigpage_stats_of(s, &st);
    PyObject *big = PyDict_New();
    if (big == NULL) return NULL;
    for (size_t c = 0; c < ZH_BIGPAGE_BIG_CLASS_COUNT; c++) {
        if (st.big_free_counts[c] == 0) continue;
        PyObject *k = PyLong_FromSize_t((size_t)1 << c), *v = PyLong_FromSize_t(st.big_free_counts[c]);
        if (k == NULL || v == NULL || PyDict_SetItem(big, k, v) < 0) {
            Py_XDECREF(k);
            Py_XDECREF(v);
            Py_DECREF(big);
            return NULL;
        }
        Py_DECREF(k);
        Py_DECREF(v);
    }
    size_t sizes[ZH_BIGPAGE_SIZE_CLASS_COUNT];
    for (size_t c = 0; c < ZH_BIGPAGE_SIZE_CLASS_COUNT; c++) sizes[c] = (size_t)16 << c;
    return Py_BuildValue("{s:N,s:N,s:N}", "slot_sizes", zx_size_list(sizes, ZH_BIGPAGE_SIZE_CLASS_COUNT), "free",
                         zx_size_list(st.free_counts, ZH_BIGPAGE_SIZE_CLASS_COUNT), "big_free", big);
}

static int put_size(PyObject *d, const char *key, size_t v) {
    PyObject *x = PyLong_FromSize_t(v);
    int rc = x ? PyDict_SetItemString(d, key, x) : -1;
    Py_XDECREF(x);
    return rc;
}

/* ===================================================================== */
/* WasmAllocator                                                          */
/* ===================================================================== */

typedef struct {
    ZxAllocator base;
    zh_wasm own;  /* this instance's linear memory, unless it is the global one */
    zh_wasm *w;   /* &own or zh_wasm_global() */
} WasmObject;

#define Wasm_CAST(op) ((WasmObject *)(op))

static PyObject *wasm_make(PyTypeObject *type, zheap_state *st, size_t max_pages, bool global) {
    WasmObject *self = (WasmObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    zx_allocator_setup(&self->base, st, (zh_allocator){NULL, NULL}, zh_alignment_from_bytes(ZH_WASM_MAX_ALIGNMENT));
    if (global) {
        /* The global linear memory is reserved on import. Where the address
         * space is too tight for it (ulimit -v), zheap still imports: the
         * global allocator then fails every allocation (MemoryError). */
        self->w = zh_wasm_global();
        if (self->w == NULL) {
            self->w = &self->own; /* all zeros: no pages, no memory */
            self->base.a = zh_wasm_allocator();
            return (PyObject *)self;
        }
    } else if (zh_wasm_init(&self->own, max_pages) == 0) {
        self->w = &self->own;
    }
    if (self->w == NULL) {
        Py_DECREF(self);
        return PyErr_Format(PyExc_MemoryError, "cannot reserve %zu wasm pages of address space", max_pages);
    }
    self->base.a = zh_wasm_allocator_of(self->w);
    return (PyObject *)self;
}

static PyObject *Wasm_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"max_pages", NULL};
    PyObject *max_obj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$O:WasmAllocator", kwlist, &max_obj)) return NULL;
    Py_ssize_t max_pages = (Py_ssize_t)ZH_WASM_DEFAULT_MAX_PAGES;
    if (max_obj != NULL && zx_parse_positive(max_obj, "max_pages", &max_pages) < 0) return NULL;
    if ((size_t)max_pages > ((size_t)1 << 32)) {
        PyErr_Format(PyExc_ValueError, "max_pages must be from 1 to 2**32 (256 TiB), got %zd", max_pages);
        return NULL;
    }
    zheap_state *st = zx_state_of(type);
    return st ? wasm_make(type, st, (size_t)max_pages, false) : NULL;
}

static void Wasm_dealloc(PyObject *op) {
    /* Untracked before any code runs: a collection during the teardown
     * (Python code in a child) must not see this dying object. */
    PyObject_GC_UnTrack(op);
    WasmObject *self = Wasm_CAST(op);
    /* Every block holds this object: none is left, so the memory can go. */
    if (self->w == &self->own) zh_wasm_deinit(&self->own);
    zx_allocator_dealloc(op);
}

static PyObject *Wasm_memory_size(PyObject *op, PyObject *unused) {
    (void)unused;
    return PyLong_FromSize_t(zh_wasm_memory_size(Wasm_CAST(op)->w));
}

static PyObject *Wasm_memory_grow(PyObject *op, PyObject *arg) {
    Py_ssize_t delta;
    if (zx_parse_length(arg, "delta", &delta) < 0) return NULL;
    if (Wasm_CAST(op)->w->base == NULL) return PyLong_FromLong(-1); /* no linear memory at all */
    return PyLong_FromSsize_t(zh_wasm_memory_grow(Wasm_CAST(op)->w, (size_t)delta));
}

static PyObject *Wasm_stats(PyObject *op, PyObject *unused) {
    (void)unused;
    zh_wasm *w = Wasm_CAST(op)->w;
    PyObject *d = bigpage_stats(&w->s);
    if (d != NULL && (put_size(d, "memory_size", w->pages) < 0 || put_size(d, "max_pages", w->max_pages) < 0 ||
                      put_size(d, "live", (size_t)ZxAllocator_CAST(op)->nlive) < 0))
        Py_CLEAR(d);
    return d;
}
ZX_STATS_WITH_FIGURES(Wasm_stats)

static PyObject *Wasm_layout(PyObject *op, PyObject *unused) {
    (void)unused;
    const zh_wasm *w = Wasm_CAST(op)->w;
    /* Page 0 is the module's static data, never handed out. */
    uintptr_t lo = (uintptr_t)w->base + ZH_WASM_PAGE_SIZE, hi = (uintptr_t)w->base + w->pages * ZH_WASM_PAGE_SIZE;
    return bigpage_layout(op, &w->s, lo, w->base ? hi : lo);
}

static PyObject *Wasm_get_max_pages(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromSize_t(Wasm_CAST(op)->w->max_pages);
}

static PyObject *Wasm_get_base(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromVoidPtr(Wasm_CAST(op)->w->base);
}

static PyObject *Wasm_repr(PyObject *op) {
    WasmObject *self = Wasm_CAST(op);
    return PyUnicode_FromFormat("<zheap.WasmAllocator memory_size=%zu max_pages=%zu live=%zd%s>", self->w->pages,
                                self->w->max_pages, self->base.nlive,
                                self->w == &self->own ? "" : " (the global wasm_allocator)");
}

static PyMethodDef Wasm_methods[] = {
    {"memory_size", Wasm_memory_size, METH_NOARGS,
     "memory_size($self, /)\n--\n\nThe linear memory's size in 64 KiB wasm pages (memory.size)."},
    {"memory_grow", Wasm_memory_grow, METH_O,
     "memory_grow($self, delta, /)\n--\n\nwasm's memory.grow: add ``delta`` pages; the previous size, or -1\n"
     "beyond max_pages (nothing changes). The allocator grows the memory itself; this is\n"
     "for experiments (pages grown here are never handed out)."},
    {"layout", Wasm_layout, METH_NOARGS, bigpage_layout_doc},
    {"stats", Wasm_stats_with_figures, METH_NOARGS,
     "stats($self, /)\n--\n\nA dict: memory_size, max_pages, live, slot_sizes, free (free-list length per\n"
     "small class) and big_free ({big pages per run: free runs})."},
    {NULL},
};

static PyGetSetDef Wasm_getset[] = {
    {"max_pages", Wasm_get_max_pages, NULL, "The most wasm pages memory.grow may reach.", NULL},
    {"base", Wasm_get_base, NULL, "The native address of linear-memory offset 0.", NULL},
    {NULL},
};

PyDoc_STRVAR(Wasm_doc,
             "WasmAllocator(*, max_pages=65536)\n--\n\n"
             "Zig's WasmAllocator running natively over its own emulated wasm linear\n"
             "memory: a reserved address range grown in 64 KiB pages by memory.grow, up to\n"
             "``max_pages`` (default 4 GiB; only what is grown is committed). Size classes of\n"
             "16 B .. 32 KiB carved from 64 KiB big pages, power-of-two runs of big pages\n"
             "above, LIFO free lists; memory is never given back. Alignment up to 64 KiB.\n"
             "At the maximum, alloc raises MemoryError and nothing changes.\n"
             "``zheap.wasm_allocator`` is the global one.");

static PyType_Slot Wasm_slots[] = {
    {Py_tp_doc, (void *)Wasm_doc},
    {Py_tp_new, Wasm_new},
    {Py_tp_dealloc, Wasm_dealloc},
    {Py_tp_traverse, zx_allocator_traverse},
    {Py_tp_clear, zx_allocator_clear},
    {Py_tp_repr, Wasm_repr},
    {Py_tp_methods, Wasm_methods},
    {Py_tp_getset, Wasm_getset},
    {0, NULL},
};

static PyType_Spec Wasm_spec = {
    .name = "zheap.WasmAllocator",
    .basicsize = sizeof(WasmObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Wasm_slots,
};

/* ===================================================================== */
/* SbrkAllocator                                                          */
/* ===================================================================== */

typedef struct {
    ZxAllocator base;
    zh_sbrk sbrk;
    zh_brk_region region;
    PyObject *fn;        /* the Python sbrk, or NULL for the emulated break */
    char *brk;           /* the break as the Python sbrk last left it */
    bool in_fn;          /* guards against the function re-entering itself */
} SbrkObject;

#define Sbrk_CAST(op) ((SbrkObject *)(op))

static void *sbrk_error(PyObject *type, const char *fmt, PyObject *arg) {
    if (!PyErr_Occurred()) PyErr_Format(type, fmt, arg);
    return (void *)-1;
}

/* The trampoline from the core to a Python sbrk(increment) -> old break or
 * -1. Every range it hands out must lie inside the region zheap reserved,
 * above everything handed out before, 64 KiB-aligned; zheap then commits it.
 * A violation raises (the allocation then fails with that exception). */
static void *python_sbrk(ptrdiff_t increment, void *user) {
    SbrkObject *self = user;
    if (self->in_fn) return sbrk_error(PyExc_RuntimeError, "the sbrk function %R re-entered its allocator", self->fn);
    if (PyErr_Occurred()) return (void *)-1; /* a C caller going on after an error */
    self->in_fn = true;
    int saved = zx_python_enter();
    PyObject *r = PyObject_CallFunction(self->fn, "n", (Py_ssize_t)increment);
    zx_python_leave(saved);
    self->in_fn = false;
    if (r == NULL) return (void *)-1;
    if (!PyLong_Check(r)) {
        sbrk_error(PyExc_TypeError, "sbrk must return an int (the old break) or -1, got %R", r);
        Py_DECREF(r);
        return (void *)-1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(r, &overflow);
    if (v == -1 && !overflow && !PyErr_Occurred()) {
        Py_DECREF(r);
        return (void *)-1; /* out of memory: a MemoryError, nothing changed */
    }
    uintptr_t old = overflow || v < 0 ? 0 : (uintptr_t)v;
    uintptr_t lo = (uintptr_t)self->region.start, hi = (uintptr_t)self->region.end;
    void *result = (void *)-1;
    if (PyErr_Occurred()) {
        /* not an address */
    } else if (old < lo || old > hi || (uintptr_t)increment > hi - old) {
        PyErr_Format(PyExc_ValueError,
                     "sbrk returned %R: the range of %zd bytes from it is outside the region zheap reserved "
                     "[%p, %p)",
                     r, (Py_ssize_t)increment, (void *)lo, (void *)hi);
    } else if (old % ZH_BIGPAGE_SIZE != 0) {
        PyErr_Format(PyExc_ValueError, "sbrk returned %R: breaks must be aligned to 64 KiB", r);
    } else if (old < (uintptr_t)self->brk) {
        PyErr_Format(PyExc_ValueError,
                     "sbrk returned %R, below the previous break %p: the range would overlap memory "
                     "already handed out",
                     r, (void *)self->brk);
    } else if (!zh_brk_region_commit(&self->region, (void *)old, (size_t)increment)) {
        PyErr_SetString(PyExc_MemoryError, "the OS refused to commit memory for the break");
    } else {
        self->brk = (char *)old + increment;
        result = (void *)old;
    }
    Py_DECREF(r);
    return result;
}

static PyObject *Sbrk_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"capacity", "sbrk", NULL};
    PyObject *cap_obj = NULL, *fn = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$OO:SbrkAllocator", kwlist, &cap_obj, &fn)) return NULL;
    Py_ssize_t capacity = (Py_ssize_t)256 << 20;
    if (cap_obj != NULL && zx_parse_positive(cap_obj, "capacity", &capacity) < 0) return NULL;
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError, "sbrk must be callable or None, not %.100s", Py_TYPE(fn)->tp_name);
        return NULL;
    }
    zheap_state *st = zx_state_of(type);
    if (st == NULL) return NULL;
    SbrkObject *self = (SbrkObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    zx_allocator_setup(&self->base, st, (zh_allocator){NULL, NULL}, zh_alignment_from_bytes(ZH_BIGPAGE_SIZE));
    if (zh_brk_region_init(&self->region, (size_t)capacity) < 0) {
        Py_DECREF(self);
        return PyErr_Format(PyExc_MemoryError, "cannot reserve %zd bytes of address space", capacity);
    }
    self->brk = self->region.start;
    if (fn == Py_None) {
        zh_sbrk_init(&self->sbrk, zh_brk_region_sbrk, &self->region);
    } else {
        self->fn = Py_NewRef(fn);
        zh_sbrk_init(&self->sbrk, python_sbrk, self);
        /* The core's lock must not be held while Python code (that may
         * switch threads) runs: callers hold the GIL and the stack's busy
         * mark instead (stack.c). */
        self->sbrk.thread_safe = false;
        self->base.needs_gil = true;
        self->base.runs_python = true;
    }
    self->base.a = zh_sbrk_allocator(&self->sbrk);
    return (PyObject *)self;
}

static void Sbrk_dealloc(PyObject *op) {
    /* Untracked before any code runs: a collection during the teardown
     * (Python code in a child) must not see this dying object. */
    PyObject_GC_UnTrack(op);
    SbrkObject *self = Sbrk_CAST(op);
    zh_brk_region_deinit(&self->region); /* no block is left: each holds this object */
    Py_CLEAR(self->fn);
    zx_allocator_dealloc(op);
}

static int Sbrk_traverse(PyObject *op, visitproc visit, void *arg) {
    Py_VISIT(Sbrk_CAST(op)->fn);
    return zx_allocator_traverse(op, visit, arg);
}

static int Sbrk_clear(PyObject *op) {
    /* Left whole while its memory is in use, as every allocator; once
     * cleared it may still be reached (a weakref callback the collection
     * runs), and with no sbrk callable its core must never run again. */
    if (!zx_collectable(ZxAllocator_CAST(op))) return 0;
    if (Sbrk_CAST(op)->fn != NULL) ZxAllocator_CAST(op)->closed = true;
    Py_CLEAR(Sbrk_CAST(op)->fn);
    return zx_allocator_clear(op);
}

static PyObject *Sbrk_brk(PyObject *op, PyObject *unused) {
    (void)unused;
    SbrkObject *self = Sbrk_CAST(op);
    return PyLong_FromVoidPtr(self->fn ? self->brk : self->region.brk);
}

static PyObject *Sbrk_stats(PyObject *op, PyObject *unused) {
    (void)unused;
    SbrkObject *self = Sbrk_CAST(op);
    char *brk = self->fn ? self->brk : self->region.brk;
    PyObject *d = bigpage_stats(&self->sbrk.s);
    if (d != NULL && (put_size(d, "used", (size_t)(brk - self->region.start)) < 0 ||
                      put_size(d, "capacity", (size_t)(self->region.end - self->region.start)) < 0 ||
                      put_size(d, "live", (size_t)self->base.nlive) < 0))
        Py_CLEAR(d);
    return d;
}
ZX_STATS_WITH_FIGURES(Sbrk_stats)

static PyObject *Sbrk_layout(PyObject *op, PyObject *unused) {
    (void)unused;
    SbrkObject *self = Sbrk_CAST(op);
    char *brk = self->fn ? self->brk : self->region.brk;
    /* Only what lies below the break; a Python sbrk's first break may be
     * unaligned, and the allocator starts at the first big page boundary. */
    uintptr_t lo = ((uintptr_t)self->region.start + ZH_BIGPAGE_SIZE - 1) & ~(uintptr_t)(ZH_BIGPAGE_SIZE - 1);
    uintptr_t hi = brk ? (uintptr_t)brk : lo;
    return bigpage_layout(op, &self->sbrk.s, lo, hi > lo ? hi : lo);
}

static PyObject *Sbrk_get_region(PyObject *op, void *c) {
    (void)c;
    SbrkObject *self = Sbrk_CAST(op);
    return Py_BuildValue("(NN)", PyLong_FromVoidPtr(self->region.start), PyLong_FromVoidPtr(self->region.end));
}

static PyObject *Sbrk_get_fn(PyObject *op, void *c) {
    (void)c;
    PyObject *fn = Sbrk_CAST(op)->fn;
    return Py_NewRef(fn ? fn : Py_None);
}

static PyObject *Sbrk_repr(PyObject *op) {
    SbrkObject *self = Sbrk_CAST(op);
    char *brk = self->fn ? self->brk : self->region.brk;
    return PyUnicode_FromFormat("<zheap.SbrkAllocator used=%zu capacity=%zu live=%zd%s>",
                                (size_t)(brk - self->region.start), (size_t)(self->region.end - self->region.start),
                                self->base.nlive, self->fn ? " (Python sbrk)" : "");
}

static PyMethodDef Sbrk_methods[] = {
    {"brk", Sbrk_brk, METH_NOARGS, "brk($self, /)\n--\n\nThe current program break (an address)."},
    {"layout", Sbrk_layout, METH_NOARGS, bigpage_layout_doc},
    {"stats", Sbrk_stats_with_figures, METH_NOARGS,
     "stats($self, /)\n--\n\nA dict: used (bytes below the break), capacity, live, slot_sizes, free and\n"
     "big_free (as WasmAllocator.stats())."},
    {NULL},
};

static PyGetSetDef Sbrk_getset[] = {
    {"region", Sbrk_get_region, NULL,
     "(start, end): the address range zheap reserved; every break must stay inside it.", NULL},
    {"sbrk", Sbrk_get_fn, NULL, "The Python sbrk function, or None for the emulated break.", NULL},
    {NULL},
};

PyDoc_STRVAR(Sbrk_doc,
             "SbrkAllocator(*, capacity=268435456, sbrk=None)\n--\n\n"
             "Zig's SbrkAllocator(sbrk): WasmAllocator's algorithm over a program break.\n"
             "zheap reserves ``capacity`` bytes (64 KiB-aligned). By default the break is\n"
             "emulated over that region; or pass ``sbrk(increment) -> old break or -1``, a\n"
             "Python function that hands out parts of ``region`` itself (for teaching):\n"
             "every range it returns is checked to lie inside the region, above the previous\n"
             "break and 64 KiB-aligned, or the allocation raises ValueError. Past the\n"
             "capacity, alloc raises MemoryError and nothing changes. Alignment up to 64 KiB.");

static PyType_Slot Sbrk_slots[] = {
    {Py_tp_doc, (void *)Sbrk_doc},
    {Py_tp_new, Sbrk_new},
    {Py_tp_dealloc, Sbrk_dealloc},
    {Py_tp_traverse, Sbrk_traverse},
    {Py_tp_clear, Sbrk_clear},
    {Py_tp_repr, Sbrk_repr},
    {Py_tp_methods, Sbrk_methods},
    {Py_tp_getset, Sbrk_getset},
    {0, NULL},
};

static PyType_Spec Sbrk_spec = {
    .name = "zheap.SbrkAllocator",
    .basicsize = sizeof(SbrkObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Sbrk_slots,
};

int zx_bigpage_init_types(PyObject *module, zheap_state *st) {
    if ((st->WasmAllocator_type = zx_add_allocator_type(module, st, &Wasm_spec, true)) == NULL) return -1;
    if ((st->SbrkAllocator_type = zx_add_allocator_type(module, st, &Sbrk_spec, true)) == NULL) return -1;
    PyObject *global = wasm_make(st->WasmAllocator_type, st, 0, true);
    if (global == NULL) return -1;
    int rc = PyModule_AddObjectRef(module, "wasm_allocator", global);
    Py_DECREF(global);
    return rc;
}
