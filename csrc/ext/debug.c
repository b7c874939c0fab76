/* debug.c -- DebugAllocator (and GeneralPurposeAllocator) as a Python type
 * (debug_allocator.c): construction, the operations that diagnose misuse,
 * leaks, introspection. Traces are frames.c's; reports debug_report.c's.
 *
 * Double frees reach the core's own detection: a freed view keeps its Block
 * (address, length, alignment), and free/resize of it asks the core whether
 * that block is still known as freed (never reading memory the allocator
 * gave back); if so, the core's free runs and reports it with its traces. */
#include "debug_report.h"
#include "numpy_handler.h"

#include "allocator.h"
#include "frames.h"

#include <stdlib.h>
#include <string.h>

#include "structmember.h"

/* ===================================================================== */
/* DebugAllocator                                                          */
/* ===================================================================== */

/* --- construction ------------------------------------------------------------- */

static int parse_size_kw(PyObject *obj, const char *what, size_t *out) {
    if (obj == NULL) return 0;
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (_PyLong_Sign(obj) < 0) {
        PyErr_Format(PyExc_ValueError, "%s must be >= 0", what);
        return -1;
    }
    size_t v = PyLong_AsSize_t(obj);
    if (v == (size_t)-1 && PyErr_Occurred()) return -1;
    *out = v;
    return 0;
}

static PyObject *Debug_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"backing",     "stack_trace_frames",
                             "enable_memory_limit", "safety",
                             "thread_safe", "never_unmap",
                             "retain_metadata", "verbose_log",
                             "backing_allocator_zeroes", "resize_stack_traces",
                             "canary",      "page_size",
                             "raise_on_leak", NULL};
    zh_debug_config c = zh_debug_config_default();
    PyObject *backing = NULL, *frames = NULL, *canary = NULL, *page_size = NULL;
    int limit = c.enable_memory_limit, safety = c.safety, thread_safe = c.thread_safe, never_unmap = c.never_unmap,
        retain = c.retain_metadata, verbose = c.verbose_log, zeroes = c.backing_allocator_zeroes,
        resize_traces = c.resize_stack_traces, raise_on_leak = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O$OppppppppOOp:DebugAllocator", kwlist, &backing, &frames, &limit,
                                     &safety, &thread_safe, &never_unmap, &retain, &verbose, &zeroes,
                                     &resize_traces, &canary, &page_size, &raise_on_leak))
        return NULL;
    if (parse_size_kw(frames, "stack_trace_frames", &c.stack_trace_frames) < 0 ||
        parse_size_kw(page_size, "page_size", &c.page_size) < 0)
        return NULL;
    if (canary != NULL) {
        size_t v = 0;
        if (parse_size_kw(canary, "canary", &v) < 0) return NULL;
        c.canary = (uintptr_t)v;
    }
    if (c.stack_trace_frames > 64) {
        PyErr_Format(PyExc_ValueError, "stack_trace_frames must be at most 64, got %zu", c.stack_trace_frames);
        return NULL;
    }
    if (!zh_is_power_of_two(c.page_size) || c.page_size < 4096 || c.page_size > ((size_t)1 << 31)) {
        PyErr_Format(PyExc_ValueError, "page_size must be a power of two from 4096 to 2**31, got %zu", c.page_size);
        return NULL;
    }
    c.enable_memory_limit = limit, c.safety = safety, c.thread_safe = thread_safe, c.never_unmap = never_unmap;
    c.retain_metadata = retain, c.verbose_log = verbose, c.backing_allocator_zeroes = zeroes;
    c.resize_stack_traces = resize_traces;
    zheap_state *st = zx_state_of(type);
    if (st == NULL) return NULL;
    ZxAllocator *b = zx_child_or_default(st, type, backing, "DebugAllocator()");
    if (b == NULL) return NULL;
    DebugObject *self = (DebugObject *)type->tp_alloc(type, 0);
    if (self == NULL || (self->pending = PyList_New(0)) == NULL) {
        Py_XDECREF(self);
        Py_DECREF(b);
        return NULL;
    }
    zh_debug_hooks hooks = {zx_debug_report_hook, zx_debug_capture_hook, self};
    /* The hooks make Python objects, so every call holds the GIL and the
     * stack's busy mark (stack.c); a core mutex held while waiting for the
     * GIL would deadlock. thread_safe=True is kept by those instead. */
    self->thread_safe = c.thread_safe;
    c.thread_safe = false;
    if (zh_debug_init(&self->dbg, zx_child_iface(b), &c, &hooks) < 0) { /* checked above; kept for the C contract */
        PyErr_SetString(PyExc_ValueError, "invalid DebugAllocator configuration");
        Py_DECREF(self);
        Py_DECREF(b);
        return NULL;
    }
    self->inited = true;
    self->raise_on_leak = raise_on_leak;
    zx_allocator_setup(&self->base, st, zh_debug_allocator(&self->dbg), b->max_align);
    self->base.flush = zx_debug_flush_logs;
    self->base.needs_gil = true;
    zx_pin_child(&self->base, (PyObject *)b);
    Py_DECREF(b);
    return (PyObject *)self;
}

/* Release the core's metadata without reporting (dealloc, GC). */
static void quiet_deinit(DebugObject *self) {
    if (!self->inited) return;
    self->inited = false;
    self->dbg.hooks.report = NULL;
    self->dbg.config.safety = false; /* no leak report now: nobody can see it */
    (void)zh_debug_deinit(&self->dbg);
}

static void quiet_deinit_cb(void *self) { quiet_deinit(self); }

static void Debug_dealloc(PyObject *op) {
    /* Untracked before any code runs: a collection during the teardown
     * (Python code in a child) must not see this dying object. */
    PyObject_GC_UnTrack(op);
    DebugObject *self = Debug_CAST(op);
    /* Through zx_call_quietly: a backing written in Python may raise from its
     * _free, and nothing here may leave an exception set. */
    if (self->base.child != NULL) zx_call_quietly(op, quiet_deinit_cb, self);
    Py_CLEAR(self->pending);
    zx_allocator_dealloc(op);
}

static int Debug_traverse(PyObject *op, visitproc visit, void *arg) {
    Py_VISIT(Debug_CAST(op)->pending);
    return zx_allocator_traverse(op, visit, arg);
}

static int Debug_clear(PyObject *op) {
    if (!zx_collectable(ZxAllocator_CAST(op))) return 0; /* owner.c says why */
    DebugObject *self = Debug_CAST(op);
    if (self->base.child != NULL) zx_call_quietly(op, quiet_deinit_cb, self);
    self->base.closed = true;
    Py_CLEAR(self->pending);
    return zx_allocator_clear(op);
}

/* Tears down before the collector clears anything (arena.c's
 * Arena_finalize says why). */

static void Debug_finalize(PyObject *op) {
    zx_finalize_quietly(ZxAllocator_CAST(op), quiet_deinit_cb, Debug_CAST(op));
}

/* --- the operations that diagnose double frees themselves -------------------------- */

/* A view of this allocator whose block was freed: let the core judge it. */
static PyObject *double_free(DebugObject *self, ZxBlock *b, bool resizing) {
    zx_txn t;
    zx_txn_init(&t, &self->base);
    if (zx_txn_begin(&t) < 0) return NULL;
    zh_debug_block_state state =
        b->len ? zh_debug_block_state_of(&self->dbg, b->ptr, b->len, b->align) : ZH_DEBUG_UNKNOWN;
    if (state == ZH_DEBUG_FREED) {
        if (resizing) (void)zh_raw_resize(self->base.a, b->ptr, b->len, b->align, b->len, 0);
        else zh_raw_free(self->base.a, b->ptr, b->len, b->align, 0);
    }
    zx_txn_release(&t);
    if (state == ZH_DEBUG_FREED && zx_debug_raise_reported(self) < 0) return NULL;
    /* The core no longer has the block's metadata (its page went back to the
     * backing allocator, or the address was reused): report with the traces
     * the binding noted at the first free, and this call's. */
    size_t frames = self->dbg.config.stack_trace_frames;
    bool noted = b->note != NULL && PyBytes_Check(b->note) &&
                 (size_t)PyBytes_GET_SIZE(b->note) == 2 * frames * sizeof(uintptr_t);
    PyObject *here = Py_NewRef(Py_None), *alloc_t = Py_NewRef(Py_None), *free_t = Py_NewRef(Py_None);
    if (frames != 0) {
        uintptr_t ids[64];
        memset(ids, 0, sizeof ids);
        zx_debug_capture_hook(self, 0, ids, frames);
        Py_SETREF(here, zx_trace_from_ids(self->base.st, ids, frames));
        if (here != NULL && noted) {
            const uintptr_t *kept = (const uintptr_t *)(void *)PyBytes_AS_STRING(b->note);
            Py_SETREF(alloc_t, zx_trace_from_ids(self->base.st, kept, frames));
            Py_SETREF(free_t, alloc_t ? zx_trace_from_ids(self->base.st, kept + frames, frames) : NULL);
        }
    }
    if (here == NULL || alloc_t == NULL || free_t == NULL) {
        Py_XDECREF(here);
        Py_XDECREF(alloc_t);
        Py_XDECREF(free_t);
        return NULL;
    }
    PyObject *rec = Py_BuildValue("(isknnnnOOO)", (int)ZH_DEBUG_DOUBLE_FREE,
                                  "Double free detected (the allocator has since released or reused the block's "
                                  "memory; zheap kept the traces).",
                                  (unsigned long)(uintptr_t)b->ptr, (Py_ssize_t)b->len, (Py_ssize_t)0,
                                  (Py_ssize_t)zh_alignment_bytes(b->align), (Py_ssize_t)0, alloc_t, free_t, here);
    Py_DECREF(here);
    Py_DECREF(alloc_t);
    Py_DECREF(free_t);
    if (rec == NULL) return NULL;
    PyObject *exc = zx_debug_record_exception(self, rec);
    Py_DECREF(rec);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static PyObject *freed_block_or_null(DebugObject *self, PyObject *view) {
    ZxBlock *b = zx_block_of_view(&self->base, view);
    return b != NULL && (b->state == ZX_FREED || b->state == ZX_FREEING) ? (PyObject *)b : NULL;
}

/* Before a free: the block's allocation trace ids (frames words), copied
 * into a bytes object twice as long; after it, the first-free ids fill the
 * second half, and the Block keeps it for a double free the core can no
 * longer see. Ids, not Trace objects: a free must stay cheap. */
static PyObject *note_alloc_trace(DebugObject *self, ZxBlock *b) {
    size_t frames = self->dbg.config.stack_trace_frames;
    PyObject *note = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(2 * frames * sizeof(uintptr_t)));
    if (note == NULL || zx_stack_idle(&self->base) < 0) {
        Py_XDECREF(note);
        PyErr_Clear(); /* only a diagnostic */
        return NULL;
    }
    uintptr_t *ids = (uintptr_t *)(void *)PyBytes_AS_STRING(note);
    memset(ids, 0, 2 * frames * sizeof(uintptr_t));
    /* Made the object first: nothing runs between this read and the copy. */
    const uintptr_t *at = b->state == ZX_LIVE ? zh_debug_trace_of(&self->dbg, b->ptr, b->len, b->align,
                                                                  ZH_DEBUG_TRACE_ALLOC)
                                              : NULL;
    if (at != NULL) memcpy(ids, at, frames * sizeof(uintptr_t));
    return note;
}

static void note_free_trace(DebugObject *self, ZxBlock *b, PyObject *note) {
    size_t frames = self->dbg.config.stack_trace_frames;
    uintptr_t *ids = (uintptr_t *)(void *)PyBytes_AS_STRING(note) + frames;
    if (zx_stack_idle(&self->base) < 0) {
        PyErr_Clear();
        return;
    }
    const uintptr_t *ft = zh_debug_trace_of(&self->dbg, b->ptr, b->len, b->align, ZH_DEBUG_TRACE_FREE);
    if (ft != NULL) memcpy(ids, ft, frames * sizeof(uintptr_t));
    else zx_debug_capture_hook(self, 0, ids, frames); /* the metadata is gone already: capture it here */
    Py_XSETREF(b->note, Py_NewRef(note));
}

static PyObject *Debug_free(PyObject *op, PyObject *view) {
    DebugObject *self = Debug_CAST(op);
    ZxBlock *b = zx_block_of_view(&self->base, view);
    if (b != NULL && (b->state == ZX_FREED || b->state == ZX_FREEING)) return double_free(self, b, false);
    bool keep = b != NULL && b->state == ZX_LIVE && b->len != 0 && self->dbg.config.stack_trace_frames != 0;
    PyObject *note = NULL;
    if (keep) {
        Py_INCREF(b); /* freeing breaks the cycle that holds it */
        note = note_alloc_trace(self, b);
    }
    PyObject *r = zx_free_view(&self->base, view, "free");
    if (keep) {
        if (r != NULL && note != NULL) note_free_trace(self, b, note);
        Py_XDECREF(note);
        Py_DECREF(b);
    }
    return r;
}

/* resize/remap/realloc of a freed view: the core reports it (resizeSmall /
 * resizeLarge of a freed block); anything else is the base type's. */
static PyObject *Debug_resize_like(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                                   const char *name) {
    DebugObject *self = Debug_CAST(op);
    ZxBlock *b = nargs >= 1 ? (ZxBlock *)freed_block_or_null(self, args[0]) : NULL;
    if (b != NULL) return double_free(self, b, true);
    return zx_resize_view(&self->base, args, nargs, kwnames, name);
}

static PyObject *Debug_resize(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    return Debug_resize_like(op, args, nargs, kwnames, "resize");
}
static PyObject *Debug_remap(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    return Debug_resize_like(op, args, nargs, kwnames, "remap");
}
static PyObject *Debug_realloc(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    return Debug_resize_like(op, args, nargs, kwnames, "realloc");
}

/* --- the address-level interface ----------------------------------------------------- */

static int parse_address_args(DebugObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                              const char *fn, int nreq, uintptr_t *addr, Py_ssize_t *len, zh_alignment *al) {
    static const char *const free_names[] = {"address", "length", "alignment"};
    static const char *const alloc_names[] = {"length", "alignment"};
    const char *const *names = nreq == 2 ? free_names : alloc_names;
    int nmax = nreq == 2 ? 3 : 2;
    PyObject *a[3] = {NULL, NULL, NULL};
    if (zx_parse_args(fn, names, nreq == 2 ? 2 : 1, nmax, args, nargs, kwnames, a) < 0) return -1;
    int li = nreq == 2 ? 1 : 0;
    if (nreq == 2) {
        size_t v = 0;
        if (parse_size_kw(a[0], "address", &v) < 0) return -1;
        *addr = (uintptr_t)v;
    }
    if (zx_parse_length(a[li], "length", len) < 0 || zx_parse_alignment(&self->base, a[li + 1], al) < 0) return -1;
    if (*len == 0) {
        PyErr_Format(PyExc_ValueError, "%s(): length must be >= 1 (the vtable never sees 0)", fn);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(Debug_raw_alloc_doc,
             "raw_alloc($self, /, length, alignment=1)\n--\n\n"
             "Zig's rawAlloc for learners: allocate and return the address (an int), with\n"
             "no view. The block is the allocator's like any other (leaks() lists it);\n"
             "give it back with raw_free(). MemoryError when out of memory.");

static PyObject *Debug_raw_alloc(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    DebugObject *self = Debug_CAST(op);
    Py_ssize_t len;
    zh_alignment al;
    if (parse_address_args(self, args, nargs, kwnames, "raw_alloc", 0, NULL, &len, &al) < 0) return NULL;
    zx_txn t;
    zx_txn_init(&t, &self->base);
    if (zx_txn_begin(&t) < 0) return NULL;
    void *p = zh_raw_alloc(self->base.a, (size_t)len, al, 0);
    zx_txn_release(&t);
    zx_flush_chain(&self->base);
    if (p == NULL)
        return zx_no_memory(op, "allocating", (size_t)len, "bytes", zh_alignment_bytes(al));
    return PyLong_FromVoidPtr(p);
}

PyDoc_STRVAR(Debug_raw_free_doc,
             "raw_free($self, /, address, length, alignment=1)\n--\n\n"
             "Zig's rawFree for learners, checked exactly as Zig's DebugAllocator checks a\n"
             "free. As in Zig, length and alignment choose where to look: a size class's\n"
             "bucket pages, or, above the largest class, the large allocations by exact\n"
             "address.\n\n"
             "- Nothing there (an address never handed out, or a length or alignment of\n"
             "  another size class than the block's): InvalidFreeError, reason 'not owned';\n"
             "  nothing changes.\n"
             "- A slot already free: DoubleFreeError; nothing changes.\n"
             "- A small block: the slot the address falls in is freed (also for an address\n"
             "  inside it: Zig divides); a length or alignment other than the recorded ones\n"
             "  then raises InvalidFreeError 'wrong size' / 'wrong alignment' -- after the\n"
             "  free, which Zig lets go on.\n"
             "- A large block: freed; a wrong length then raises 'wrong size'. Its alignment\n"
             "  is not checked (Zig's free does not).\n\n"
             "Memory behind a live view or holding a numpy array's data, or any free while\n"
             "another allocator draws from this one, is refused and changes nothing\n"
             "(InvalidFreeError 'in use by a view' / 'in use by a numpy array'; BufferError).");

static PyObject *Debug_raw_free(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    DebugObject *self = Debug_CAST(op);
    uintptr_t addr = 0;
    Py_ssize_t len = 0;
    zh_alignment al = 0;
    if (parse_address_args(self, args, nargs, kwnames, "raw_free", 2, &addr, &len, &al) < 0) return NULL;
    zx_txn t;
    zx_txn_init(&t, &self->base);
    if (zx_txn_begin(&t) < 0) return NULL;
    if (self->base.pins > 0) {
        zx_txn_release(&t);
        PyErr_SetString(PyExc_BufferError,
                        "raw_free() refused: another allocator draws memory from this DebugAllocator");
        return NULL;
    }
    /* A view's memory is the binding's to free: never through this door. The
     * core would act on the slot containing `addr` (the address rounded down
     * to the size class) or on the large block starting at `addr`; refuse
     * when a live view's block starts there. */
    unsigned cls = len <= 1 ? 0 : (unsigned)(64 - __builtin_clzll((unsigned long long)len - 1));
    if (cls < al) cls = al;
    uintptr_t target = cls < self->dbg.small_bucket_count ? addr & ~(((uintptr_t)1 << cls) - 1) : addr;
    bool viewed = false;
    for (ZxBlock *b = self->base.live; b != NULL && !viewed; b = b->next)
        viewed = b->len != 0 && (uintptr_t)b->ptr == target;
    for (ZxBlock *b = self->base.freeing; b != NULL && !viewed; b = b->next)
        viewed = (uintptr_t)b->ptr == target; /* its free is still to come */
    bool lent = !viewed && zx_numpy_holds(&self->base, target);
    if (!viewed && !lent) zh_raw_free(self->base.a, (void *)addr, (size_t)len, al, 0);
    zx_txn_release(&t);
    if (viewed || lent) {
        PyObject *rec = Py_BuildValue("(isknnnnOOO)", (int)ZH_DEBUG_INVALID_FREE,
                                      lent ? "raw_free(): the memory holds a live numpy array's data."
                                           : "raw_free(): the memory belongs to a live view; free the view instead.",
                                      (unsigned long)addr, len, (Py_ssize_t)0, (Py_ssize_t)zh_alignment_bytes(al),
                                      (Py_ssize_t)0, Py_None, Py_None, Py_None);
        PyObject *exc = rec ? zx_debug_record_exception(self, rec) : NULL;
        PyObject *reason = exc ? PyUnicode_FromString(lent ? "in use by a numpy array" : "in use by a view") : NULL;
        if (reason != NULL && PyObject_SetAttrString(exc, "reason", reason) == 0)
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_XDECREF(reason);
        Py_XDECREF(exc);
        Py_XDECREF(rec);
        return NULL;
    }
    /* A backing allocator written in Python may have raised from its _free
     * (the block is freed as far as this allocator goes): that exception
     * propagates, after the report of this call, which is delivered (it runs
     * logging) with no exception set. A report's own exception wins, with the
     * backing's as its context. */
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    if (zx_debug_raise_reported(self) < 0) {
        if (et != NULL) {
            PyErr_NormalizeException(&et, &ev, &etb);
            if (etb != NULL && ev != NULL) PyException_SetTraceback(ev, etb);
            PyObject *rt, *rv, *rtb;
            PyErr_Fetch(&rt, &rv, &rtb);
            PyErr_NormalizeException(&rt, &rv, &rtb);
            if (rv != NULL && ev != NULL) PyException_SetContext(rv, Py_NewRef(ev));
            PyErr_Restore(rt, rv, rtb);
            Py_XDECREF(et);
            Py_XDECREF(ev);
            Py_XDECREF(etb);
        }
        return NULL;
    }
    zx_flush_chain(&self->base);
    if (et != NULL) {
        PyErr_Restore(et, ev, etb);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* --- leaks and lifetime ------------------------------------------------------------- */

typedef struct {
    zheap_state *st;
    PyObject *list;
} collect_ctx;

/* The live blocks out of zh_debug_visit: all of them, or the large ones. */
typedef struct {
    bool large_only;
    bool in_large; /* the last area was a large allocation */
    int (*fn)(void *user, const zh_visit_item *live);
    void *user;
} live_filter;

static int only_live(void *user, const zh_visit_item *it) {
    live_filter *f = user;
    if (it->kind == ZH_VISIT_AREA) {
        f->in_large = strcmp(it->area, "large") == 0;
        return 0;
    }
    if (it->kind != ZH_VISIT_LIVE || (f->large_only && !f->in_large)) return 0;
    return f->fn(f->user, it);
}

static int visit_live(zh_debug *dbg, bool large_only, int (*fn)(void *user, const zh_visit_item *live),
                      void *user) {
    live_filter f = {large_only, false, fn, user};
    return zh_debug_visit(dbg, only_live, &f);
}

/* A LeakRecord is a dict (address, length, alignment, trace) whose repr shows
 * the address in hex, as every other report does. */
static PyObject *leak_record_repr(PyObject *op) {
    PyObject *parts = PyList_New(0), *key, *value;
    Py_ssize_t pos = 0;
    if (parts == NULL) return NULL;
    while (PyDict_Next(op, &pos, &key, &value)) {
        /* Held: a repr may change the dict (it is the user's) and drop them. */
        Py_INCREF(key);
        Py_INCREF(value);
        bool hex = PyLong_CheckExact(value) && PyUnicode_Check(key) &&
                   PyUnicode_CompareWithASCIIString(key, "address") == 0;
        PyObject *shown = hex ? PyNumber_ToBase(value, 16) : PyObject_Repr(value);
        PyObject *part = shown ? PyUnicode_FromFormat("%R: %U", key, shown) : NULL;
        Py_XDECREF(shown);
        Py_DECREF(key);
        Py_DECREF(value);
        if (part == NULL || PyList_Append(parts, part) < 0) {
            Py_XDECREF(part);
            Py_DECREF(parts);
            return NULL;
        }
        Py_DECREF(part);
    }
    PyObject *sep = PyUnicode_FromString(", ");
    PyObject *body = sep ? PyUnicode_Join(sep, parts) : NULL;
    PyObject *r = body ? PyUnicode_FromFormat("{%U}", body) : NULL;
    Py_XDECREF(sep);
    Py_XDECREF(body);
    Py_DECREF(parts);
    return r;
}

static PyObject *LeakRecord_repr(PyObject *op) {
    int seen = Py_ReprEnter(op); /* a record inside itself: {...}, as dict's repr */
    if (seen != 0) return seen > 0 ? PyUnicode_FromString("{...}") : NULL;
    PyObject *r = leak_record_repr(op);
    Py_ReprLeave(op);
    return r;
}

static int LeakRecord_traverse(PyObject *op, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(op));
    return PyDict_Type.tp_traverse(op, visit, arg);
}

static void LeakRecord_dealloc(PyObject *op) {
    PyTypeObject *tp = Py_TYPE(op);
    PyDict_Type.tp_dealloc(op);
    Py_DECREF(tp);
}

PyDoc_STRVAR(LeakRecord_doc, "A block a DebugAllocator handed out and has not taken back: a dict with\n"
                             "address, length, alignment and trace (a zheap.Trace), whose repr shows the\n"
                             "address in hex. DebugAllocator.leaks(), large_allocations() and\n"
                             "LeakError.leaks hold these.");

static PyType_Slot LeakRecord_slots[] = {
    {Py_tp_doc, (void *)LeakRecord_doc},
    {Py_tp_repr, LeakRecord_repr},
    {Py_tp_traverse, LeakRecord_traverse},
    {Py_tp_dealloc, LeakRecord_dealloc},
    {0, NULL},
};

static PyType_Spec LeakRecord_spec = {
    .name = "zheap.LeakRecord",
    .basicsize = 0,
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = LeakRecord_slots,
};

static int collect_block(void *user, const zh_visit_item *it) {
    collect_ctx *c = user;
    PyObject *t = zx_trace_from_ids(c->st, it->frames ? it->trace : NULL, it->frames);
    PyObject *rec = t ? PyObject_CallNoArgs((PyObject *)c->st->LeakRecord_type) : NULL;
    PyObject *values = rec ? Py_BuildValue("{s:k,s:n,s:n,s:O}", "address", (unsigned long)it->address, "length",
                                           (Py_ssize_t)it->size, "alignment", (Py_ssize_t)it->alignment, "trace", t)
                           : NULL;
    if (values == NULL || PyDict_Update(rec, values) < 0) Py_CLEAR(rec);
    Py_XDECREF(values);
    Py_XDECREF(t);
    if (rec == NULL || PyList_Append(c->list, rec) < 0) {
        Py_XDECREF(rec);
        return -1;
    }
    Py_DECREF(rec);
    return 0;
}

PyDoc_STRVAR(Debug_leaks_doc,
             "leaks($self, /)\n--\n\n"
             "Every block allocated and not freed, as zheap.LeakRecord dicts: address\n"
             "(shown in hex), length, alignment (0 where safety is off and it was not\n"
             "recorded) and trace (a zheap.Trace).");

static PyObject *Debug_leaks(PyObject *op, PyObject *unused) {
    (void)unused;
    DebugObject *self = Debug_CAST(op);
    if (zx_check_open(&self->base) < 0) return NULL;
    collect_ctx c = {self->base.st, PyList_New(0)};
    if (c.list == NULL || zx_stack_idle(&self->base) < 0) {
        Py_XDECREF(c.list);
        return NULL;
    }
    int gc_was_on = PyGC_Disable(); /* no Python may run while the walk is under way */
    if (visit_live(&self->dbg, false, collect_block, &c) != 0) Py_CLEAR(c.list);
    if (gc_was_on) PyGC_Enable();
    return c.list;
}

PyDoc_STRVAR(Debug_large_doc,
             "large_allocations($self, /)\n--\n\n"
             "The live large allocations (straight from the backing allocator), as dicts\n"
             "like leaks().");

static PyObject *Debug_large_allocations(PyObject *op, PyObject *unused) {
    (void)unused;
    DebugObject *self = Debug_CAST(op);
    if (zx_check_open(&self->base) < 0) return NULL;
    collect_ctx c = {self->base.st, PyList_New(0)};
    if (c.list == NULL || zx_stack_idle(&self->base) < 0) {
        Py_XDECREF(c.list);
        return NULL;
    }
    int gc_was_on = PyGC_Disable(); /* no Python may run while the walk is under way */
    if (visit_live(&self->dbg, true, collect_block, &c) != 0) Py_CLEAR(c.list);
    if (gc_was_on) PyGC_Enable();
    return c.list;
}

/* One bucket, gathered in C (buckets() makes its dicts after the visit). */
typedef struct {
    size_t slot_size, slot_count, allocated, freed;
    uintptr_t page;
} bucket_rec;

typedef struct {
    bucket_rec *v;
    size_t n, cap;
    int oom;
} bucket_recs;

static int note_bucket(void *user, const zh_visit_item *it) {
    bucket_recs *r = user;
    if (it->kind == ZH_VISIT_AREA && strcmp(it->area, "bucket") == 0) {
        bucket_rec *v = zx_grow(r->v, &r->cap, r->n, sizeof *v, 16);
        if (v == NULL) return r->oom = -1;
        r->v = v;
        v[r->n++] = (bucket_rec){it->slot_size, it->slot_count, it->used / it->slot_size, 0, it->address};
    } else if (it->kind == ZH_VISIT_FREED && r->n != 0) {
        r->v[r->n - 1].freed++;
    }
    return 0;
}

static PyObject *bucket_dict(const bucket_rec *b) {
    unsigned size_class = 0;
    while (((size_t)1 << size_class) < b->slot_size) size_class++;
    return Py_BuildValue("{s:I,s:n,s:n,s:n,s:n,s:n,s:k}", "size_class", size_class, "slot_size",
                         (Py_ssize_t)b->slot_size, "slot_count", (Py_ssize_t)b->slot_count, "allocated",
                         (Py_ssize_t)b->allocated, "freed", (Py_ssize_t)b->freed, "live",
                         (Py_ssize_t)(b->allocated - b->freed), "page", (unsigned long)b->page);
}

PyDoc_STRVAR(Debug_buckets_doc,
             "buckets($self, /)\n--\n\n"
             "Every small-object bucket (one page each), newest first per size class, as\n"
             "dicts: size_class, slot_size, slot_count, allocated (slots handed out so far),\n"
             "freed, live, page (address).");

static PyObject *Debug_buckets(PyObject *op, PyObject *unused) {
    (void)unused;
    DebugObject *self = Debug_CAST(op);
    if (zx_check_open(&self->base) < 0) return NULL;
    if (zx_stack_idle(&self->base) < 0) return NULL;
    /* Gathered in C: making objects may run Python code, which must not
     * find the visit half done. */
    bucket_recs r = {0};
    (void)zh_debug_visit(&self->dbg, note_bucket, &r);
    PyObject *list = r.oom ? PyErr_NoMemory() : PyList_New((Py_ssize_t)r.n);
    for (size_t i = 0; list != NULL && i < r.n; i++) {
        PyObject *d = bucket_dict(&r.v[i]);
        if (d == NULL) Py_CLEAR(list);
        else PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    PyMem_RawFree(r.v);
    return list;
}

/* --- layout() ---------------------------------------------------------------------- */

typedef struct {
    zx_layout l;
    zx_layout own; /* this object's blocks, by address: their lengths where the core has none */
    bool safety;
} debug_walk;

static const zx_litem *own_at(const debug_walk *w, uintptr_t addr) {
    zx_litem key = {NULL, addr, 0, 0, 0};
    if (w->own.ni == 0) return NULL; /* bsearch may not take a null array */
    return bsearch(&key, w->own.it, w->own.ni, sizeof key, zx_litem_by_address);
}

/* zx_lay_visit, except that without safety the core records no requested
 * length (a live slot is reported whole): the binding knows it for its own
 * blocks, and the rest of their slot is padding. */
static int lay_debug(void *user, const zh_visit_item *it) {
    debug_walk *w = user;
    const zx_litem *mine = it->kind == ZH_VISIT_LIVE && !w->safety ? own_at(w, it->address) : NULL;
    if (mine == NULL || mine->len >= it->size) return zx_lay_visit(&w->l, it);
    zh_visit_item live = *it, slack = {.kind = ZH_VISIT_PADDING, .address = it->address + mine->len,
                                       .size = it->size - mine->len, .slot_size = it->slot_size};
    live.size = mine->len;
    if (zx_lay_visit(&w->l, &live) < 0) return -1;
    return zx_lay_visit(&w->l, &slack);
}

static PyObject *Debug_layout(PyObject *op, PyObject *unused) {
    (void)unused;
    DebugObject *self = Debug_CAST(op);
    debug_walk w = {.safety = self->dbg.config.safety};
    if (!self->base.closed) {
        (void)zx_lay_live(&w.own, &self->base, NULL);
        w.l.oom = w.own.oom;
        if (w.own.ni > 1) qsort(w.own.it, w.own.ni, sizeof *w.own.it, zx_litem_by_address);
        if (w.l.oom == 0) (void)zh_debug_visit(&self->dbg, lay_debug, &w);
    }
    zx_lay_free(&w.own);
    return zx_lay_finish(&w.l, op);
}

PyDoc_STRVAR(Debug_detect_leaks_doc,
             "detect_leaks($self, /)\n--\n\n"
             "Log every leaked block with its trace to the 'zheap' logger (Zig's\n"
             "detectLeaks) and return whether there was any.");

static PyObject *Debug_detect_leaks(PyObject *op, PyObject *unused) {
    (void)unused;
    DebugObject *self = Debug_CAST(op);
    zx_txn t;
    zx_txn_init(&t, &self->base);
    if (zx_txn_begin(&t) < 0) return NULL;
    bool leaked = zh_debug_detect_leaks(&self->dbg);
    zx_txn_release(&t);
    zx_debug_flush_logs(&self->base);
    return PyBool_FromLong(leaked);
}

static PyObject *make_check(bool leaked) {
    PyObject *m = PyImport_ImportModule("zheap");
    PyObject *check = m ? PyObject_GetAttrString(m, "Check") : NULL;
    Py_XDECREF(m);
    if (check == NULL) return NULL;
    PyObject *r = PyObject_CallFunction(check, "i", leaked ? ZH_CHECK_LEAK : ZH_CHECK_OK);
    Py_DECREF(check);
    return r;
}

PyDoc_STRVAR(Debug_deinit_doc,
             "deinit($self, /)\n--\n\n"
             "Zig's deinit: with safety, log every leak (to the 'zheap' logger), then\n"
             "release the allocator's metadata. Returns zheap.Check.leak or Check.ok (and\n"
             "raises zheap.LeakError instead of returning Check.leak if raise_on_leak).\n"
             "Leaked blocks stay allocated, as in Zig, but every view is invalidated,\n"
             "leaked ones included; BufferError (and no change) while a view is exported\n"
             "or another allocator draws from this one. Every other operation raises\n"
             "afterwards. A second deinit() returns Check.ok.");

static PyObject *Debug_deinit(PyObject *op, PyObject *unused) {
    (void)unused;
    DebugObject *self = Debug_CAST(op);
    if (self->base.closed) return make_check(false);
    /* The rule of every deinit: BufferError and no change while a view is
     * exported or another allocator draws from this one; else every view,
     * leaked ones included, is invalidated (Zig leaves leaked memory
     * allocated, but no view may outlive the allocator's promise). */
    zx_txn t;
    zx_txn_init(&t, &self->base);
    if (zx_txn_begin_bulk(&t, "deinit the DebugAllocator") < 0) return NULL;
    PyObject *leaks = NULL;
    if (self->raise_on_leak) {
        /* Objects made mid-operation: with the collector off, no Python runs. */
        int gc_was_on = PyGC_Disable();
        collect_ctx c = {self->base.st, PyList_New(0)};
        if (c.list != NULL && visit_live(&self->dbg, false, collect_block, &c) != 0) Py_CLEAR(c.list);
        if (gc_was_on) PyGC_Enable();
        if (c.list == NULL) PyErr_Clear(); /* out of memory: deinit goes on, without the list */
        leaks = c.list;
    }
    zh_check check = zh_debug_deinit(&self->dbg);
    self->inited = false;
    self->base.closed = true;
    zx_unpin_child(&self->base);
    zx_txn_release(&t);
    zx_debug_flush_logs(&self->base);
    if (PyErr_Occurred()) { /* raised by a backing allocator written in Python */
        Py_XDECREF(leaks);
        return NULL;
    }
    if (check == ZH_CHECK_LEAK && leaks != NULL && PyList_GET_SIZE(leaks) > 0) {
        PyObject *exc = PyObject_CallFunction(self->base.st->LeakError, "s",
                                              "the DebugAllocator leaked memory (see the 'leaks' attribute)");
        if (exc != NULL && PyObject_SetAttrString(exc, "leaks", leaks) == 0)
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_XDECREF(exc);
        Py_DECREF(leaks);
        return NULL;
    }
    Py_XDECREF(leaks);
    return make_check(check == ZH_CHECK_LEAK);
}

static PyObject *Debug_exit(PyObject *op, PyObject *args) {
    return zx_exit(op, args, Debug_deinit);
}

PyDoc_STRVAR(Debug_flush_doc,
             "flush_retained_metadata($self, /)\n--\n\n"
             "Zig's flushRetainedMetadata (retain_metadata only): free the large blocks\n"
             "kept by never_unmap and forget every freed record, so later double frees of\n"
             "them are no longer recognised.");

static PyObject *Debug_flush_retained_metadata(PyObject *op, PyObject *unused) {
    (void)unused;
    DebugObject *self = Debug_CAST(op);
    zx_txn t;
    zx_txn_init(&t, &self->base);
    if (zx_txn_begin(&t) < 0) return NULL;
    int rc = zh_debug_flush_retained_metadata(&self->dbg);
    zx_txn_release(&t);
    zx_debug_flush_logs(&self->base);
    if (rc < 0) {
        PyErr_SetString(PyExc_ValueError, "flush_retained_metadata() needs retain_metadata=True");
        return NULL;
    }
    if (PyErr_Occurred()) return NULL; /* raised by a backing allocator written in Python */
    Py_RETURN_NONE;
}

typedef struct {
    Py_ssize_t count, bytes;
} totals;

static int add_block(void *user, const zh_visit_item *live) {
    totals *s = user;
    s->count++;
    s->bytes += (Py_ssize_t)live->size;
    return 0;
}

static PyObject *Debug_stats(PyObject *op, PyObject *unused) {
    (void)unused;
    DebugObject *self = Debug_CAST(op);
    if (zx_check_open(&self->base) < 0) return NULL;
    totals all = {0, 0}, large = {0, 0};
    (void)visit_live(&self->dbg, false, add_block, &all);
    (void)visit_live(&self->dbg, true, add_block, &large);
    PyObject *by_class = PyDict_New();
    if (by_class == NULL) return NULL;
    size_t nbuckets = 0;
    PyObject *buckets = Debug_buckets(op, NULL);
    if (buckets == NULL) {
        Py_DECREF(by_class);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(buckets); i++) {
        PyObject *slot_size = PyDict_GetItemString(PyList_GET_ITEM(buckets, i), "slot_size");
        PyObject *old = PyDict_GetItemWithError(by_class, slot_size);
        PyObject *n = PyLong_FromSsize_t((old ? PyLong_AsSsize_t(old) : 0) + 1);
        if (n == NULL || PyDict_SetItem(by_class, slot_size, n) < 0) {
            Py_XDECREF(n);
            Py_DECREF(by_class);
            Py_DECREF(buckets);
            return NULL;
        }
        Py_DECREF(n);
        nbuckets++;
    }
    Py_DECREF(buckets);
    PyObject *r = Py_BuildValue("{s:n,s:n,s:n,s:n,s:n,s:N}", "live", all.count, "live_bytes", all.bytes,
                                "large_allocations", large.count, "large_bytes", large.bytes, "buckets",
                                (Py_ssize_t)nbuckets, "buckets_by_slot_size", by_class);
    if (r != NULL && self->dbg.config.enable_memory_limit) {
        PyObject *t = PyLong_FromSize_t(self->dbg.total_requested_bytes);
        if (t == NULL || PyDict_SetItemString(r, "total_requested_bytes", t) < 0) Py_CLEAR(r);
        Py_XDECREF(t);
    }
    return r;
}
ZX_STATS_WITH_FIGURES(Debug_stats)

static PyObject *Debug_repr(PyObject *op) {
    DebugObject *self = Debug_CAST(op);
    if (self->base.closed) return PyUnicode_FromString("<zheap.DebugAllocator deinitialized>");
    totals all = {0, 0};
    (void)visit_live(&self->dbg, false, add_block, &all);
    return PyUnicode_FromFormat("<zheap.DebugAllocator live=%zd bytes=%zd large=%zu page_size=%zu backing=%R>",
                                all.count, all.bytes, zh_debug_large_count(&self->dbg, false),
                                self->dbg.config.page_size, self->base.child);
}

/* --- properties ------------------------------------------------------------------------ */

static int need_limit(DebugObject *self) {
    if (self->dbg.config.enable_memory_limit) return 0;
    PyErr_SetString(PyExc_AttributeError,
                    "this DebugAllocator has no memory limit (construct it with enable_memory_limit=True)");
    return -1;
}

static PyObject *Debug_get_total(PyObject *op, void *c) {
    (void)c;
    DebugObject *self = Debug_CAST(op);
    if (need_limit(self) < 0) return NULL;
    return PyLong_FromSize_t(self->dbg.total_requested_bytes);
}

static PyObject *Debug_get_limit(PyObject *op, void *c) {
    (void)c;
    DebugObject *self = Debug_CAST(op);
    if (need_limit(self) < 0) return NULL;
    return PyLong_FromSize_t(self->dbg.requested_memory_limit);
}

static int Debug_set_limit(PyObject *op, PyObject *value, void *c) {
    (void)c;
    DebugObject *self = Debug_CAST(op);
    if (need_limit(self) < 0) return -1;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete requested_memory_limit");
        return -1;
    }
    size_t v = 0;
    if (parse_size_kw(value, "requested_memory_limit", &v) < 0) {
        /* A limit beyond the address space is no limit. */
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return -1;
        PyErr_Clear();
        v = SIZE_MAX;
    }
    self->dbg.requested_memory_limit = v;
    return 0;
}

static PyObject *Debug_get_config(PyObject *op, void *c) {
    (void)c;
    const zh_debug_config *k = &Debug_CAST(op)->dbg.config;
    return Py_BuildValue("{s:n,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:k,s:n}", "stack_trace_frames",
                         (Py_ssize_t)k->stack_trace_frames, "enable_memory_limit",
                         k->enable_memory_limit ? Py_True : Py_False, "safety", k->safety ? Py_True : Py_False,
                         "thread_safe", Debug_CAST(op)->thread_safe ? Py_True : Py_False, "never_unmap",
                         k->never_unmap ? Py_True : Py_False, "retain_metadata",
                         k->retain_metadata ? Py_True : Py_False, "verbose_log", k->verbose_log ? Py_True : Py_False,
                         "backing_allocator_zeroes", k->backing_allocator_zeroes ? Py_True : Py_False,
                         "resize_stack_traces", k->resize_stack_traces ? Py_True : Py_False, "canary",
                         (unsigned long)k->canary, "page_size", (Py_ssize_t)k->page_size);
}

static PyMethodDef Debug_methods[] = {
    {"layout", Debug_layout, METH_NOARGS, zx_layout_doc},
    {"free", Debug_free, METH_O,
     "free($self, view, /)\n--\n\nFree the block behind ``view``. Freeing it again raises\n"
     "zheap.DoubleFreeError with the allocation, first-free and second-free traces."},
    {"resize", (PyCFunction)(void (*)(void))Debug_resize, METH_FASTCALL | METH_KEYWORDS,
     "resize($self, /, view, new_length)\n--\n\nAs Allocator.resize; a freed view raises DoubleFreeError."},
    {"remap", (PyCFunction)(void (*)(void))Debug_remap, METH_FASTCALL | METH_KEYWORDS,
     "remap($self, /, view, new_length)\n--\n\nAs Allocator.remap; a freed view raises DoubleFreeError."},
    {"realloc", (PyCFunction)(void (*)(void))Debug_realloc, METH_FASTCALL | METH_KEYWORDS,
     "realloc($self, /, view, new_length)\n--\n\nAs Allocator.realloc; a freed view raises DoubleFreeError."},
    {"raw_alloc", (PyCFunction)(void (*)(void))Debug_raw_alloc, METH_FASTCALL | METH_KEYWORDS, Debug_raw_alloc_doc},
    {"raw_free", (PyCFunction)(void (*)(void))Debug_raw_free, METH_FASTCALL | METH_KEYWORDS, Debug_raw_free_doc},
    {"deinit", Debug_deinit, METH_NOARGS, Debug_deinit_doc},
    {"detect_leaks", Debug_detect_leaks, METH_NOARGS, Debug_detect_leaks_doc},
    {"leaks", Debug_leaks, METH_NOARGS, Debug_leaks_doc},
    {"flush_retained_metadata", Debug_flush_retained_metadata, METH_NOARGS, Debug_flush_doc},
    {"buckets", Debug_buckets, METH_NOARGS, Debug_buckets_doc},
    {"large_allocations", Debug_large_allocations, METH_NOARGS, Debug_large_doc},
    {"stats", Debug_stats_with_figures, METH_NOARGS,
     "stats($self, /)\n--\n\nA dict: live, live_bytes, large_allocations, large_bytes, buckets,\n"
     "buckets_by_slot_size (and total_requested_bytes with the memory limit)."},
    {"__enter__", zx_enter, METH_NOARGS, zx_enter_doc},
    {"__exit__", Debug_exit, METH_VARARGS, zx_exit_doc},
    {NULL},
};

static PyGetSetDef Debug_getset[] = {
    {"total_requested_bytes", Debug_get_total, NULL,
     "Bytes requested and not freed (enable_memory_limit only, as in Zig).", NULL},
    {"requested_memory_limit", Debug_get_limit, Debug_set_limit,
     "Allocations that would take total_requested_bytes above this fail (settable).", NULL},
    {"config", Debug_get_config, NULL, "The Config, as a dict.", NULL},
    {"backing_allocator", zx_get_child, NULL, "The allocator pages and large blocks come from.", NULL},
    {NULL},
};

PyDoc_STRVAR(Debug_doc,
             "DebugAllocator(backing=None, *, stack_trace_frames=6,\n"
             "               enable_memory_limit=False, safety=True, thread_safe=True,\n"
             "               never_unmap=False, retain_metadata=False, verbose_log=False,\n"
             "               backing_allocator_zeroes=True, resize_stack_traces=False,\n"
             "               canary=0x9232a6ff85dff10f, page_size=131072, raise_on_leak=False)\n--\n\n"
             "Zig's DebugAllocator (GeneralPurposeAllocator), every Config field with Zig's\n"
             "defaults for a safe build, over ``backing`` (None: the page allocator). Each\n"
             "allocation records up to stack_trace_frames\n"
             "Python frames. A double free raises zheap.DoubleFreeError with the allocation,\n"
             "first-free and second-free traces; deinit() reports leaks with their traces to\n"
             "the 'zheap' logger and returns zheap.Check (raise_on_leak: raises\n"
             "zheap.LeakError instead). verbose_log logs every operation, with Zig's wording.");

static PyType_Slot Debug_slots[] = {
    {Py_tp_doc, (void *)Debug_doc},
    {Py_tp_new, Debug_new},
    {Py_tp_dealloc, Debug_dealloc},
    {Py_tp_traverse, Debug_traverse},
    {Py_tp_clear, Debug_clear},
    {Py_tp_finalize, Debug_finalize},
    {Py_tp_repr, Debug_repr},
    {Py_tp_methods, Debug_methods},
    {Py_tp_getset, Debug_getset},
    {0, NULL},
};

static PyType_Spec Debug_spec = {
    .name = "zheap.DebugAllocator",
    .basicsize = sizeof(DebugObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Debug_slots,
};

/* ===================================================================== */

int zx_debug_init_types(PyObject *module, zheap_state *st) {
    if ((st->DebugAllocator_type = zx_add_allocator_type(module, st, &Debug_spec, true)) == NULL) return -1;
    st->LeakRecord_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &LeakRecord_spec, (PyObject *)&PyDict_Type);
    if (st->LeakRecord_type == NULL || PyModule_AddType(module, st->LeakRecord_type) < 0) return -1;
    return 0;
}
