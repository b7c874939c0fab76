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
} ZxAllocator;

#define ZxAllocator_CAST(op) ((ZxAllocator *)(op))

enum zx_block_state {
    ZX_LIVE = 0,
    ZX_FREED,      /* freed through free()/resize(_, 0)/...: double free is an error */
    ZX_MOVED,      /* superseded by the view a resize/remap/realloc returned */
    ZX_DESTROYING, /* destroy()ed; freed when the last ctypes export goes */
    ZX_RESET,      /* invalidated in bulk by reset()/deinit() of its allocator */
    ZX_UNTRACKED,  /* never became a live allocation (creation failed midway) */
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
} ZxBlock;

/* block.c */
int zx_block_init_type(PyObject *module, zheap_state *st);
ZxBlock *zx_block_new(ZxAllocator *owner);
PyObject *zx_block_activate(ZxBlock *b, char *ptr, size_t len, zh_alignment al);
ZxBlock *zx_block_from_view(ZxAllocator *owner, PyObject *view, const char *fn);
int zx_guard(ZxBlock *b, PyMemoryViewObject *mv);
void zx_block_retire(ZxBlock *b, PyMemoryViewObject *mv, enum zx_block_state state);
void zx_view_invalidate(PyMemoryViewObject *mv);
PyMemoryViewObject *zx_block_primary(ZxBlock *b);
void zx_block_discard(ZxBlock *b);
int zx_guard_all(ZxAllocator *self, const char *what);
void zx_retire_all(ZxAllocator *self);
ZxBlock *zx_block_of_view(ZxAllocator *owner, PyObject *view);
int zx_get_long_buffer(PyObject *obj, Py_buffer *out, char **range, Py_ssize_t *len);
PyObject *zx_live_blocks_in(ZxAllocator *owner, uintptr_t lo, size_t size);
int zx_sort_blocks(PyObject *list);
typedef struct {
    ZxAllocator *owner;
    PyObject *list;
} zx_chunk_walk;
int zx_chunk_walk_cb(void *user, uintptr_t start, size_t usable, size_t used);
PyObject *zx_layout_region(const char *kind, uintptr_t start, size_t size, size_t used, PyObject *blocks);

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
extern const char zx_add_region_doc[], zx_capsule_doc[], zx_from_capsule_doc[];

/* memory_pool.c */
int zx_memory_pool_init_types(PyObject *module, zheap_state *st);

/* os_allocators.c */
int zx_os_allocators_init_types(PyObject *module, zheap_state *st);

#endif
