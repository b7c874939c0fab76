/* ext.h -- shared by the CPython binding's files (csrc/ext/). The binding
 * reaches the C core only through zheap.h.
 *
 * The safety model, in one place (block.c):
 *  - every allocation is a Block, the exporter behind the memoryview that
 *    alloc() returns (view -> managed buffer -> Block -> allocator);
 *  - the Block holds a strong reference to that first ("primary") view, so
 *    that reset/deinit can find and invalidate every outstanding view; the
 *    cycle is broken when the block is freed, and by the GC for dropped views;
 *  - a destructive operation (free, resize, remap, realloc, reset, deinit)
 *    first runs the one export guard, zx_guard(), which raises BufferError
 *    while anything else (a slice, memoryview(view), numpy, ctypes) can still
 *    reach the memory, and only then touches the allocator;
 *  - a freed view is marked released, so every access raises ValueError,
 *    while its managed buffer keeps the Block (the record of address, length
 *    and alignment) for precise double-free errors. */
#ifndef ZHEAP_EXT_H
#define ZHEAP_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "zheap.h"

/* Python frames interned for DebugAllocator traces, as tracemalloc interns
 * them: a trace stores frame ids (index + 1), not objects. */
typedef struct zx_frame {
    PyObject *code; /* strong */
    int lineno;
} zx_frame;

typedef struct zx_frames {
    zx_frame *items;
    size_t n, cap;
    size_t *index; /* open addressing over items: id, 0 = empty */
    size_t index_cap;
} zx_frames;

typedef struct zheap_state {
    PyTypeObject *Block_type;
    PyTypeObject *Allocator_type;
    PyTypeObject *PageAllocator_type;
    PyTypeObject *CAllocator_type;
    PyTypeObject *RawCAllocator_type;
    PyTypeObject *ValidationAllocator_type;
    PyTypeObject *FixedBufferAllocator_type;
    PyTypeObject *FbaThreadSafe_type;
    PyTypeObject *ArenaAllocator_type;
    PyTypeObject *StackFallbackAllocator_type;
    PyTypeObject *StackFallbackInterface_type;
    PyTypeObject *ThreadSafeAllocator_type;
    PyTypeObject *MemoryPool_type;
    PyTypeObject *MemoryPoolAligned_type;
    PyTypeObject *MemoryPoolExtra_type;
    PyTypeObject *DebugAllocator_type;
    PyTypeObject *SmpAllocator_type;
    PyTypeObject *WasmAllocator_type;
    PyTypeObject *SbrkAllocator_type;
    PyTypeObject *FailingAllocator_type;
    PyTypeObject *CapsuleAllocator_type;
    PyObject *AllocatorContractError;
    PyTypeObject *Trace_type;
    PyObject *DoubleFreeError;
    PyObject *InvalidFreeError;
    PyObject *LeakError;
    zx_frames frames;
    PyObject *ZigPanic;
} zheap_state;

extern PyModuleDef zheap_module_def;

struct ZxBlock;
typedef struct zx_tracer zx_tracer;

/* Common head of every allocator object. Per-type C state follows it. */
typedef struct ZxAllocator {
    PyObject_HEAD
    zh_allocator a;            /* the core allocator this object drives */
    zheap_state *st;           /* valid while any instance lives (type -> module) */
    struct ZxBlock *live;      /* blocks handed out and not yet freed (borrowed) */
    Py_ssize_t nlive;
    zh_alignment max_align;    /* largest log2 alignment the allocator supports */
    PyObject *child;           /* allocator this one draws from, kept alive; or NULL */
    Py_ssize_t pins;           /* allocators drawing memory from this one right now */
    bool pinning;              /* this one holds a pin on `child` */
    bool closed;               /* deinit()ed: every operation raises */
    PyObject *weakreflist;
    /* Reports the core queued during the last call (DebugAllocator: log
     * lines), delivered once the core's locks are released; or NULL. */
    void (*flush)(struct ZxAllocator *self);
    struct zx_py *py;          /* an allocator written in Python: its regions and live ranges */
    zx_tracer *tracer;         /* zheap.trace() recording this allocator's operations, or NULL */
    uint16_t trace_index;      /* this allocator's number in that recording */
    /* stack.c: the thread in the middle of an operation on this allocator
     * (or on one above it that draws from it), 0 when idle. */
    unsigned long busy_thread;
    /* Its stack runs Python code or reads Python state (an allocator written
     * in Python, a Python sbrk, DebugAllocator's traces): C callers must
     * take the GIL and the busy mark (gil_iface), never a C lock alone. */
    bool needs_gil;
    zh_allocator gil_iface;    /* {self, &zx_gil_vtable}: what capsule() hands C code then */
    /* Frees a finalizer asked for while the stack was busy (a create()d
     * ctypes object dying mid-operation), done when the operation ends. */
    struct ZxBlock **pending;
    size_t npending, cpending;
} ZxAllocator;

#define ZxAllocator_CAST(op) ((ZxAllocator *)(op))

enum zx_block_state {
    ZX_LIVE = 0,
    ZX_FREED,      /* freed through free()/resize(_, 0)/...: double free is an error */
    ZX_MOVED,      /* superseded by the view a resize/remap/realloc returned */
    ZX_DESTROYING, /* destroy()ed; freed when the last ctypes export goes */
    ZX_RESET,      /* invalidated in bulk by reset()/deinit() of its allocator */
    ZX_UNTRACKED,  /* never became a live allocation (creation failed midway), or leaked */
    ZX_PREPARED,   /* made before the operation that fills it: an empty view so far */
};

typedef struct ZxBlock {
    PyObject_HEAD
    ZxAllocator *owner;        /* strong */
    struct ZxBlock *prev, *next;
    PyObject *view;            /* strong: the primary view, NULL once retired */
    char *ptr;
    size_t len;
    zh_alignment align;
    uint8_t state;
    Py_ssize_t exports;        /* buffers exported by this Block */
    PyObject *note;            /* what the owner wants to remember about it, or NULL */
    PyObject *ctypes_ref;      /* create(): a weak reference to the ctypes pointer that keeps the
                                  object alive; the block holds itself until it dies */
    bool linked;               /* on owner->live */
} ZxBlock;

/* trace.c: the tap every parent reaches its child through, and the
 * recorder behind zheap.trace(). */
enum zx_op { ZX_OP_ALLOC, ZX_OP_RESIZE, ZX_OP_REMAP, ZX_OP_FREE, ZX_OP_CREATE, ZX_OP_RESET, ZX_OP_DEINIT };
typedef struct zx_event {
    uint8_t op, depth;
    uint16_t who;        /* the allocator's trace_index */
    zh_alignment align;
    uintptr_t addr;      /* the block operated on */
    size_t len, new_len;
    uintptr_t result;    /* address, or bool */
    uintptr_t where;     /* interned frame id of the caller, 0 if none */
} zx_event;
extern const zh_allocator_vtable zx_tap_vtable;
extern PyMethodDef zx_trace_methods[];
/* The interface a parent allocator draws from `child` through. */
static inline zh_allocator zx_child_iface(ZxAllocator *child) { return (zh_allocator){child, &zx_tap_vtable}; }
/* The interface the binding calls `self` through: the tap while traced. */
static inline zh_allocator zx_iface(ZxAllocator *self) {
    return self->tracer != NULL ? zx_child_iface(self) : self->a;
}
/* An operation that is not a vtable call (create, destroy, reset, deinit):
 * begin returns a token (0: not traced) for end, which records the result. */
size_t zx_trace_begin(ZxAllocator *self, enum zx_op op, const void *addr, size_t len, zh_alignment al,
                      size_t new_len);
void zx_trace_end(ZxAllocator *self, size_t token, uintptr_t result);

/* stack.c: one operation at a time on an allocator stack.
 * zx_stack_begin marks `self` and every allocator it draws from as busy
 * with this thread. Another thread's mark is waited out with the GIL
 * released; this thread's own mark means Python code running inside an
 * operation (an allocator written in Python, a finalizer) re-entered the
 * stack: RuntimeError, nothing changed. `nested_ok` admits the C path of the
 * operation itself coming back down (a wrapper's child call). */
typedef struct zx_mark {
    bool marked;
    int saved_in_act;
} zx_mark;
int zx_stack_begin(ZxAllocator *self, bool nested_ok, zx_mark *m);
void zx_stack_end(ZxAllocator *self, zx_mark *m);
/* For introspection: 0 when no operation is under way on `self`'s stack
 * (waiting for another thread's), else RuntimeError. */
int zx_stack_idle(ZxAllocator *self);
/* Around Python code run from inside an operation (a trampoline). */
int zx_python_enter(void);
void zx_python_leave(int saved);
extern const zh_allocator_vtable zx_gil_vtable;
void zx_stack_init(ZxAllocator *self);

/* block.c: the gate. Every operation that changes memory is one
 * transaction: prepare (every Python object made: zx_prepare_block) ->
 * begin (zx_txn_begin: busy mark, open check) -> check (zx_block_from_view,
 * zx_guard, zx_guard_all) -> act (C only; the core, and Python only inside
 * allocators written in Python, under the busy mark) -> end -> commit
 * (zx_commit_block, zx_retire, zx_retire_all: links and invalidations,
 * no reference dropped) -> release (zx_txn_release: every reference
 * dropped, so finalizers run only once the allocator is consistent). */
#define ZX_TXN_DROPS 6
typedef struct zx_txn {
    ZxAllocator *self;
    zx_mark mark;
    bool begun;
    PyObject *drop[ZX_TXN_DROPS];
    size_t ndrop;
    PyObject **bulk; /* retire_all's views (PyMem_Raw) */
    size_t nbulk, cbulk;
} zx_txn;
int zx_block_init_type(PyObject *module, zheap_state *st);
int zx_prepare_block(ZxAllocator *owner, zx_txn *t, ZxBlock **b, PyObject **view);
void zx_commit_block(ZxBlock *b, PyObject *view, char *ptr, size_t len, zh_alignment al);
void zx_txn_init(zx_txn *t, ZxAllocator *self);
int zx_txn_begin(zx_txn *t);
void zx_txn_end(zx_txn *t);
void zx_txn_drop(zx_txn *t, PyObject *obj);
void zx_txn_release(zx_txn *t);
ZxBlock *zx_block_from_view(ZxAllocator *owner, PyObject *view, const char *fn);
int zx_guard(ZxBlock *b, PyMemoryViewObject *mv);
void zx_retire(zx_txn *t, ZxBlock *b, PyMemoryViewObject *mv, enum zx_block_state state);
int zx_guard_all(ZxAllocator *self, const char *what);
int zx_retire_all(zx_txn *t, ZxAllocator *self);
int zx_txn_begin_bulk(zx_txn *t, const char *what);
int zx_txn_reserve(zx_txn *t, size_t n);
ZxBlock *zx_block_of_view(ZxAllocator *owner, PyObject *view);
void zx_run_pending(ZxAllocator *self);
PyObject *zx_ctypes_ref_new(ZxBlock *b, PyObject *pointer);
void zx_block_hold_ctypes(zx_txn *t, ZxBlock *b, PyObject *ref);
ZxBlock *zx_block_of_ctypes(ZxAllocator *owner, PyObject *pointer);
int zx_get_long_buffer(PyObject *obj, Py_buffer *out, char **range, Py_ssize_t *len);
PyObject *zx_live_blocks_in(ZxAllocator *owner, uintptr_t lo, size_t size);
int zx_sort_blocks(PyObject *list);
typedef struct {
    ZxAllocator *owner;
    PyObject *list;
} zx_chunk_walk;
int zx_chunk_walk_cb(void *user, uintptr_t start, size_t usable, size_t used);
PyObject *zx_layout_region(const char *kind, uintptr_t start, size_t size, size_t used, PyObject *blocks);

/* layout.c: layouts gathered in C (no Python objects: walkers run under
 * the core's locks), then turned into layout() dicts. */
typedef struct zx_lregion {
    const char *kind;
    uintptr_t addr;
    size_t size, used, size_class; /* size_class 0: none */
} zx_lregion;
typedef struct zx_litem {
    const char *state; /* live, free, freed, padding, metadata */
    uintptr_t addr;
    size_t len, size_class;
} zx_litem;
typedef struct zx_layout {
    zx_lregion *r;
    size_t nr, cr;
    zx_litem *it;
    size_t ni, ci;
    int oom; /* -1 once an append failed: finish raises MemoryError */
} zx_layout;
void *zx_grow(void *items, size_t *cap, size_t n, size_t size, size_t first);
int zx_lay_region(zx_layout *l, const char *kind, uintptr_t addr, size_t size, size_t used, size_t size_class);
int zx_lay_item(zx_layout *l, const char *state, uintptr_t addr, size_t len, size_t size_class);
int zx_lay_live(zx_layout *l, ZxAllocator *owner, size_t (*footprint)(const ZxBlock *b, size_t *size_class));
void zx_lay_free(zx_layout *l);
int zx_litem_by_address(const void *a, const void *b);
size_t zx_lay_first_item(const zx_layout *l, uintptr_t addr);
PyObject *zx_lay_finish(zx_layout *l, PyObject *self);
PyObject *zx_layout_of(PyObject *self, PyObject *regions);
PyObject *zx_allocator_layout(PyObject *op, PyObject *unused);
PyObject *zx_merge_into_child(ZxAllocator *self, zx_layout *lead);
int zx_lay_parse(PyObject *layout, zx_layout *l);
PyObject *zx_layout_figures(PyObject *layout);
PyObject *zx_stats_with_figures(PyObject *self, PyObject *unused, PyObject *(*own)(PyObject *, PyObject *));
PyObject *zx_allocator_stats(PyObject *op, PyObject *unused);
/* NAME_with_figures: a type's stats method NAME, plus the layout figures. */
#define ZX_STATS_WITH_FIGURES(name)                                           \
    static PyObject *name##_with_figures(PyObject *op, PyObject *unused) {   \
        return zx_stats_with_figures(op, unused, name);                      \
    }
PyObject *zx_repr_html(PyObject *op, PyObject *unused);
extern const char zx_layout_doc[], zx_stats_doc[];

/* allocator.c */
int zx_allocator_init_types(PyObject *module, zheap_state *st);
zheap_state *zx_state_of(PyTypeObject *type);
PyTypeObject *zx_add_allocator_type(PyObject *module, zheap_state *st, PyType_Spec *spec, bool public);
void zx_allocator_setup(ZxAllocator *self, zheap_state *st, zh_allocator a, zh_alignment max_align);
int zx_allocator_traverse(PyObject *op, visitproc visit, void *arg);
int zx_allocator_clear(PyObject *op);
void zx_allocator_dealloc(PyObject *op);
PyObject *zx_alloc_view(ZxAllocator *self, Py_ssize_t len, zh_alignment al);
int zx_parse_alignment(ZxAllocator *self, PyObject *obj, zh_alignment *out);
int zx_check_open(ZxAllocator *self);
int zx_pin_child(ZxAllocator *self, PyObject *child);
void zx_unpin_child(ZxAllocator *self);
ZxAllocator *zx_as_allocator(zheap_state *st, PyObject *obj, const char *fn);
ZxAllocator *zx_child_or_default(zheap_state *st, PyTypeObject *type, PyObject *child, const char *fn);
PyObject *zx_free_view(ZxAllocator *self, PyObject *view, const char *fn);
PyObject *zx_resize_view(ZxAllocator *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                         const char *name);
int zx_parse_length(PyObject *obj, const char *what, Py_ssize_t *out);
int zx_parse_args(const char *fn, const char *const *names, int nreq, int nmax, PyObject *const *args,
                  Py_ssize_t nargs, PyObject *kwnames, PyObject **out);
void zx_flush_chain(ZxAllocator *self);
void zx_call_quietly(PyObject *owner, void (*fn)(void *), void *arg);

/* composable.c */
int zx_composable_init_types(PyObject *module, zheap_state *st);
PyObject *zx_enter(PyObject *op, PyObject *unused);
int zx_parse_reset_mode(PyObject *mode, PyObject *limit, zh_arena_reset_mode *out, size_t *lim);

/* wrappers.c */
int zx_wrappers_init_types(PyObject *module, zheap_state *st);

/* debug.c */
int zx_debug_init_types(PyObject *module, zheap_state *st);
void zx_frames_clear(zx_frames *frames);
uintptr_t zx_frames_intern(zx_frames *f, PyObject *code, int lineno);
void zx_capture_frames(zx_frames *frames, uintptr_t *out, size_t n);

/* general.c */
int zx_general_init_types(PyObject *module, zheap_state *st);

/* toolkit.c */
int zx_toolkit_init_types(PyObject *module, zheap_state *st);
PyObject *zx_allocator_new(PyTypeObject *type, PyObject *args, PyObject *kwds);
PyObject *zx_allocator_add_region(PyObject *op, PyObject *memory);
PyObject *zx_allocator_capsule(PyObject *op, PyObject *unused);
PyObject *zx_allocator_from_capsule(PyObject *cls, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
void zx_py_traverse(ZxAllocator *self, visitproc visit, void *arg, int *rc);
void zx_py_free(ZxAllocator *self);
void zx_py_layout(ZxAllocator *self, zx_layout *l);
extern const char zx_add_region_doc[], zx_capsule_doc[], zx_from_capsule_doc[];

/* memory_pool.c */
int zx_memory_pool_init_types(PyObject *module, zheap_state *st);

/* os_allocators.c */
int zx_os_allocators_init_types(PyObject *module, zheap_state *st);

#endif
