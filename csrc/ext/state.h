/* state.h -- the bottom of the CPython binding (csrc/ext/): module state
 * and the two object heads every other file works on. The binding reaches
 * the C core only through zheap.h.
 *
 * The binding is layered one way (no file includes a header of a layer
 * above it, no two files call each other; tests/test_layers.py checks):
 *   module.c                          module state, exceptions, registration
 *   arena.c fixed_buffer.c ...        one file per Python type (types.h), named after
 *                                     the core file it wraps: parse, call, introspect
 *   allocator.c                       the base type: each operation one gate transaction
 *   pyalloc.c capsule.c               allocators written in Python; capsules;
 *   numpy_handler.c                   numpy data-memory handlers
 *   owner.c                           object heads and the owner graph (pins)
 *   block.c                           the gate: alive/exported/retiring/dead, memoryviews
 *   trace.c                           the tap and zheap.trace()
 *   frames.c layout.c stack.c args.c  frames, layout gathering, busy marks, arguments,
 *   gcstate.c                         whether a collection runs (CPython 3.11's private flag)
 *   state.h                           this file
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
#ifndef ZHEAP_EXT_STATE_H
#define ZHEAP_EXT_STATE_H

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
    PyTypeObject *LeakRecord_type;
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

/* Room for item n of a growable C array (PyMem_Raw, so usable without the
 * GIL and without running Python): doubles from `first`; NULL if it cannot. */
static inline void *zx_grow(void *items, size_t *cap, size_t n, size_t size, size_t first) {
    if (n < *cap) return items;
    size_t new_cap = *cap ? *cap * 2 : first, bytes;
    if (__builtin_mul_overflow(new_cap, size, &bytes)) return NULL;
    void *grown = PyMem_RawRealloc(items, bytes);
    if (grown != NULL) *cap = new_cap;
    return grown;
}

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
    /* Blocks freed while a collection ran (CPython 3.11, block.c), whose
     * memory goes back when the last view of it goes or at this
     * allocator's next operation outside a collection (borrowed). */
    struct ZxBlock *freeing;
    /* The blocks numpy data-memory handlers over this allocator hold, by
     * address, with their lengths (numpy_handler.c): they pin it as exported
     * views do (lent.n > 0), and DebugAllocator.raw_free refuses them. */
    struct zx_lent {
        struct zx_lent_slot {
            uintptr_t key; /* block address; 0: empty */
            size_t len;
        } *slots; /* PyMem_Raw; open addressing, at most half full */
        size_t cap, n;
    } lent;
    /* Its stack runs Python code inside operations (an allocator written in
     * Python, a Python sbrk): numpy, which expects its allocator to run none,
     * cannot use it. Only leaves set it (neither has a child), so no
     * allocator below one that runs Python code is ever marked busy while
     * that code runs: numpy_handler.c relies on it. */
    bool runs_python;
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
    ZX_FREEING,    /* freed during a collection (3.11): on owner->freeing until its memory goes back */
};

typedef struct ZxBlock {
    PyObject_HEAD
    ZxAllocator *owner;        /* strong */
    struct ZxBlock *prev, *next;
    PyObject *view;            /* strong: the primary view, NULL once retired */
    const void *retired;       /* the view zheap ended the block through (free, move, reset), by
                                  address, never dereferenced: block_of() tells it from views
                                  their holders released; NULL when zheap ended none */
    char *ptr;
    size_t len;
    zh_alignment align;
    uint8_t state;
    Py_ssize_t exports;        /* buffers exported by this Block */
    PyObject *note;            /* what the owner wants to remember about it, or NULL */
    PyObject *ctypes_ref;      /* create(): a weak reference to the ctypes pointer that keeps the
                                  object alive; the block holds itself until it dies */
    bool linked;               /* on owner->live */
    /* ZX_FREEING: the managed buffer of the freed views, whose death gives
     * the memory back (borrowed: it holds the block's one export). */
    _PyManagedBufferObject *mbuf;
} ZxBlock;

#endif
