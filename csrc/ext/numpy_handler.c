/* numpy_handler.c -- numpy arrays in zheap memory: a data-memory handler
 * (numpy's NEP 49) over a zheap allocator, for zheap/numpy.py.
 *
 * No numpy header is needed to build it. The handler struct below is
 * numpy's ABI (PyDataMem_Handler, version 1, numpy >= 1.22), and
 * PyDataMem_SetHandler is found at run time in numpy's C-API table at its
 * fixed slot, the way numpy's own import_array() finds every function.
 *
 * numpy calls its allocator in the middle of its own C code (ndarray.resize
 * and __setstate__ read the data pointer, reallocate, then store the new
 * one) and assumes that nothing else runs meanwhile: no Python code, and no
 * other thread. So a handler is only made over a stack that runs no Python
 * code inside its operations (ZxAllocator.runs_python: not an allocator
 * written in Python or a Python sbrk). Such a stack's operations hold the
 * GIL from start to end, and no allocator that runs Python code draws from
 * one (the only ones that do have no child: owner.c's zx_pin_child), so each
 * handler call takes the GIL (numpy frees an array in whichever thread drops
 * it) and the stack's busy marks (stack.c) without ever having to wait.
 *
 * The allocator interface needs a block's length to free or move it, and
 * numpy's realloc does not pass it (its free does): the lengths live in a
 * hash table on the allocator (ZxAllocator.lent, shared by every handler
 * over it), rather than in a head before each block, which would push every
 * power-of-two array into the next size class. The table's size pins the
 * allocator like exported views (block.c's zx_guard_all), and
 * DebugAllocator.raw_free refuses its blocks (zx_numpy_holds). */
#include "numpy_handler.h"

#include "owner.h"
#include "stack.h"

#include <string.h>

/* numpy's PyDataMemAllocator and PyDataMem_Handler (ndarraytypes.h). */
typedef struct {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr, size_t size);
} np_mem_allocator;

typedef struct {
    char name[127];
    uint8_t version;
    np_mem_allocator allocator;
} np_mem_handler;

#define NP_CAPSULE_NAME "mem_handler"  /* numpy looks for this name */
#define NP_SLOT_FEATURE_VERSION 211    /* PyArray_GetNDArrayCFeatureVersion */
#define NP_SLOT_SET_HANDLER 304        /* PyDataMem_SetHandler */
#define NP_FEATURE_1_22 0x0000000fu    /* the first C API with handlers */
#define NP_ALIGN ((zh_alignment)4)     /* 16 bytes: malloc's, numpy's default */

typedef struct zx_lent np_table;
typedef struct zx_lent_slot np_slot;

typedef struct {
    np_mem_handler h;   /* first: what the capsule points at */
    ZxAllocator *owner; /* strong, dropped when the capsule goes */
} zx_np;

/* The table: open addressing, linear probing, deletion by backward shift
 * (no tombstones), at most half full. Key 0 is an empty slot. */
static size_t np_home(uintptr_t key, size_t cap) {
    uint64_t h = (uint64_t)(key >> 4) * 0x9E3779B97F4A7C15u; /* blocks are 16-aligned */
    return (size_t)(h ^ (h >> 32)) & (cap - 1);
}

/* The slot of `key`, or NULL. */
static np_slot *np_find(np_table *t, uintptr_t key) {
    if (t->cap == 0 || key == 0) return NULL;
    for (size_t i = np_home(key, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].key == key) return &t->slots[i];
        if (t->slots[i].key == 0) return NULL;
    }
}

static void np_put(np_table *t, uintptr_t key, size_t len) {
    size_t i = np_home(key, t->cap);
    while (t->slots[i].key != 0) i = (i + 1) & (t->cap - 1);
    t->slots[i] = (np_slot){key, len};
    t->n++;
}

/* Room for one more entry, so that np_put after the allocation cannot fail. */
static int np_reserve(np_table *t) {
    if (2 * (t->n + 1) <= t->cap) return 0;
    size_t cap = t->cap ? 2 * t->cap : 64;
    np_slot *old = t->slots, *grown = PyMem_RawCalloc(cap, sizeof *grown);
    if (grown == NULL) return -1;
    size_t old_cap = t->cap;
    t->slots = grown;
    t->cap = cap;
    t->n = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key != 0) np_put(t, old[i].key, old[i].len);
    PyMem_RawFree(old);
    return 0;
}

static void np_remove(np_table *t, np_slot *slot) {
    size_t mask = t->cap - 1, i = (size_t)(slot - t->slots), j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (t->slots[j].key == 0) break;
        size_t k = np_home(t->slots[j].key, t->cap);
        /* Entry j may move back to the hole at i unless its home lies in (i, j]. */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) continue;
        t->slots[i] = t->slots[j];
        i = j;
    }
    t->slots[i].key = 0;
    t->n--;
}

/* --- the stack: GIL and marks ------------------------------------------------------ */

typedef struct {
    PyGILState_STATE gil;
    zx_mark mark;
    PyObject *et, *ev, *tb; /* an error numpy had set when it called */
} np_call;

/* Take the GIL and the marks. No Python code runs inside an operation of the
 * stack and no operation lets the GIL go, so the marks are free whenever
 * numpy calls; if they are not (a stack that broke that rule), the call
 * fails with RuntimeError set and nothing changed. */
static int np_enter(zx_np *np, np_call *c) {
    c->gil = PyGILState_Ensure();
    PyErr_Fetch(&c->et, &c->ev, &c->tb);
    return zx_check_open(np->owner) < 0 || zx_stack_begin(np->owner, false, &c->mark) < 0 ? -1 : 0;
}

/* Drop the marks and the GIL. numpy expects no Python error from its
 * allocator (it raises MemoryError of its own on NULL, and goes on after a
 * free): an out-of-memory is left to numpy's error, anything else (a
 * deinitialized allocator, a busy stack) is reported through
 * sys.unraisablehook, so that the reason is not lost. An error numpy had set
 * when it called is kept. */
static void np_leave(zx_np *np, np_call *c, bool entered) {
    if (entered) zx_stack_end(np->owner, &c->mark);
    if (PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_MemoryError)) PyErr_Clear();
        else PyErr_WriteUnraisable((PyObject *)np->owner);
    }
    if (c->et != NULL) PyErr_Restore(c->et, c->ev, c->tb);
    PyGILState_Release(c->gil);
}

static void np_not_ours(zx_np *np, const char *what, void *ptr) {
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError, "numpy handler of %.100s: %s of %p, which it did not allocate",
                 Py_TYPE(np->owner)->tp_name, what, ptr);
}

/* --- the handler ------------------------------------------------------------------- */

static void *np_alloc_locked(zx_np *np, size_t size) {
    size_t len = size ? size : 1; /* numpy wants a unique pointer; the interface no 0 */
    np_table *t = &np->owner->lent;
    if (np_reserve(t) < 0) return NULL;
    void *p = zh_raw_alloc(np->owner->a, len, NP_ALIGN, ZH_RET_ADDR);
    if (p != NULL) np_put(t, (uintptr_t)p, len);
    return p;
}

static void *np_malloc(void *ctx, size_t size) {
    zx_np *np = ctx;
    np_call c;
    bool in = np_enter(np, &c) == 0;
    void *p = in ? np_alloc_locked(np, size) : NULL;
    np_leave(np, &c, in);
    return p;
}

static void *np_calloc(void *ctx, size_t nelem, size_t elsize) {
    if (elsize != 0 && nelem > SIZE_MAX / elsize) return NULL;
    size_t size = nelem * elsize;
    void *p = np_malloc(ctx, size);
    if (p != NULL) memset(p, 0, size); /* no allocator promises zeroed memory */
    return p;
}

/* realloc: remap (in place, or moved by the allocator), else alloc + copy +
 * free; on failure the old block stays, as C's realloc leaves it. Nothing
 * but C runs from the lookup to the update (runs_python is false). */
static void *np_realloc_locked(zx_np *np, void *ptr, size_t new_size) {
    np_table *t = &np->owner->lent;
    if (np_find(t, (uintptr_t)ptr) == NULL) {
        np_not_ours(np, "realloc", ptr);
        return NULL;
    }
    if (np_reserve(t) < 0) return NULL;
    np_slot *slot = np_find(t, (uintptr_t)ptr); /* after np_reserve, which may move it */
    zh_allocator a = np->owner->a;
    size_t old_len = slot->len, new_len = new_size ? new_size : 1;
    void *p = zh_raw_remap(a, ptr, old_len, NP_ALIGN, new_len, ZH_RET_ADDR);
    if (p == NULL) {
        p = zh_raw_alloc(a, new_len, NP_ALIGN, ZH_RET_ADDR);
        if (p == NULL) return NULL;
        memcpy(p, ptr, old_len < new_len ? old_len : new_len);
        zh_raw_free(a, ptr, old_len, NP_ALIGN, ZH_RET_ADDR);
    }
    np_remove(t, slot);
    np_put(t, (uintptr_t)p, new_len);
    return p;
}

static void *np_realloc(void *ctx, void *ptr, size_t new_size) {
    zx_np *np = ctx;
    if (ptr == NULL) return np_malloc(ctx, new_size);
    np_call c;
    bool in = np_enter(np, &c) == 0;
    void *p = in ? np_realloc_locked(np, ptr, new_size) : NULL;
    np_leave(np, &c, in);
    return p;
}

static void np_free(void *ctx, void *ptr, size_t size) {
    (void)size; /* the table has the allocated length */
    zx_np *np = ctx;
    if (ptr == NULL) return;
    np_call c;
    bool in = np_enter(np, &c) == 0;
    np_table *t = &np->owner->lent;
    np_slot *slot = np_find(t, (uintptr_t)ptr);
    if (slot == NULL) {
        np_not_ours(np, "free", ptr);
    } else {
        size_t len = slot->len;
        /* Out of the table either way: numpy has let go of it. If the stack
         * refused the call, the block leaks (as a view dropped without free
         * does), and the reason goes to sys.unraisablehook. */
        np_remove(t, slot);
        if (in) zh_raw_free(np->owner->a, ptr, len, NP_ALIGN, ZH_RET_ADDR);
    }
    np_leave(np, &c, in);
}

/* --- the capsule and numpy's table ------------------------------------------------- */

static void np_capsule_destructor(PyObject *capsule) {
    zx_np *np = PyCapsule_GetPointer(capsule, NP_CAPSULE_NAME);
    if (np == NULL) {
        PyErr_WriteUnraisable(capsule);
        return;
    }
    Py_DECREF(np->owner);
    PyMem_RawFree(np);
}

bool zx_numpy_holds(ZxAllocator *a, uintptr_t addr) { return np_find(&a->lent, addr) != NULL; }

const char zx_numpy_handler_doc[] = "_numpy_handler($module, allocator, /)\n--\n\n"
                                    "A numpy data-memory handler capsule (\"mem_handler\") over `allocator`.";

PyObject *zx_numpy_handler(PyObject *module, PyObject *arg) {
    zheap_state *st = PyModule_GetState(module);
    ZxAllocator *a = zx_as_allocator(st, arg, "zheap.numpy.handler()");
    if (a == NULL) return NULL;
    if (a->runs_python) {
        PyErr_Format(PyExc_ValueError,
                     "zheap.numpy.handler(): %.100s runs Python code inside its operations (an allocator "
                     "written in Python or a Python sbrk, or one drawing from such); numpy calls its "
                     "allocator in the middle of its own C code, where none may run",
                     Py_TYPE(a)->tp_name);
        return NULL;
    }
    if (a->max_align < NP_ALIGN) {
        PyErr_Format(PyExc_ValueError,
                     "zheap.numpy.handler(): %.100s aligns blocks to at most %zu bytes; numpy needs 16",
                     Py_TYPE(a)->tp_name, zh_alignment_bytes(a->max_align));
        return NULL;
    }
    zx_np *np = PyMem_RawCalloc(1, sizeof *np);
    if (np == NULL) return PyErr_NoMemory();
    PyOS_snprintf(np->h.name, sizeof np->h.name, "zheap:%s", Py_TYPE(a)->tp_name);
    np->h.version = 1;
    np->h.allocator = (np_mem_allocator){np, np_malloc, np_calloc, np_realloc, np_free};
    np->owner = (ZxAllocator *)Py_NewRef(arg);
    PyObject *cap = PyCapsule_New(np, NP_CAPSULE_NAME, np_capsule_destructor);
    if (cap == NULL) {
        Py_DECREF(arg);
        PyMem_RawFree(np);
    }
    return cap;
}

/* numpy's C-API table, checked for handlers (numpy >= 1.22). */
static void **numpy_api(void) {
    PyObject *m = PyImport_ImportModule("numpy._core._multiarray_umath");
    if (m == NULL && PyErr_ExceptionMatches(PyExc_ModuleNotFoundError)) {
        PyErr_Clear();
        m = PyImport_ImportModule("numpy.core._multiarray_umath"); /* numpy 1.x */
    }
    if (m == NULL) return NULL;
    PyObject *cap = PyObject_GetAttrString(m, "_ARRAY_API");
    Py_DECREF(m);
    if (cap == NULL) return NULL;
    void **api = PyCapsule_CheckExact(cap) ? PyCapsule_GetPointer(cap, NULL) : NULL;
    Py_DECREF(cap);
    if (api == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ImportError, "numpy's _ARRAY_API is not a capsule");
        return NULL;
    }
    /* The table stores function pointers as void * (numpy's own cast; POSIX
     * guarantees the round trip): copied out, not cast, to stay ISO C. */
    unsigned int (*feature)(void);
    memcpy(&feature, &api[NP_SLOT_FEATURE_VERSION], sizeof feature);
    if (feature() < NP_FEATURE_1_22) {
        PyErr_SetString(PyExc_ImportError, "zheap.numpy needs numpy 1.22 or later (data-memory handlers)");
        return NULL;
    }
    return api;
}

const char zx_numpy_set_handler_doc[] =
    "_numpy_set_handler($module, handler, /)\n--\n\n"
    "numpy's PyDataMem_SetHandler: make `handler` (a \"mem_handler\" capsule, or None for numpy's\n"
    "default) the current context's, and return the one it replaces.";

PyObject *zx_numpy_set_handler(PyObject *module, PyObject *arg) {
    (void)module;
    if (arg != Py_None && !PyCapsule_IsValid(arg, NP_CAPSULE_NAME)) {
        PyErr_Format(PyExc_TypeError, "expected a \"mem_handler\" capsule or None, got %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    void **api = numpy_api();
    if (api == NULL) return NULL;
    PyObject *(*set)(PyObject *);
    memcpy(&set, &api[NP_SLOT_SET_HANDLER], sizeof set);
    /* numpy sets a ContextVar. In CPython (seen on 3.11) a collection inside that set
     * whose finalizer sets a ContextVar again frees the tree (HAMT) the first
     * set is still walking: a crash reproduced with plain ContextVar.set and
     * no zheap. No collection runs while numpy sets it. */
    int gc_was_on = PyGC_Disable();
    PyObject *old = set(arg == Py_None ? NULL : arg);
    if (gc_was_on) PyGC_Enable();
    return old;
}

const char zx_numpy_lent_doc[] = "_numpy_lent($module, allocator, /)\n--\n\n"
                                 "How many blocks numpy handlers hold in `allocator`'s memory.";

PyObject *zx_numpy_lent(PyObject *module, PyObject *arg) {
    zheap_state *st = PyModule_GetState(module);
    if (!PyObject_TypeCheck(arg, st->Allocator_type)) {
        PyErr_Format(PyExc_TypeError, "expected a zheap.Allocator, got %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    return PyLong_FromSize_t(ZxAllocator_CAST(arg)->lent.n);
}
