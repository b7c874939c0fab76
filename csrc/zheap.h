/* zheap.h -- Zig 0.15.1's std.heap allocators, ported to C11.
 *
 * The public interface of the C core. Everything here is plain C11: no
 * Python.h, no OS headers leaking out. The allocator interface mirrors Zig's
 * `std.mem.Allocator` exactly (a context pointer plus a vtable of four
 * operations taking a log2 alignment and a return address), so an allocator
 * written against it composes with every other one.
 *
 * Naming: `zh_` public, `_zh_` internal across files. Every allocator has
 *   zh_<name>_init(self, ...), zh_<name>_allocator(self), zh_<name>_deinit(self)
 * and stateless singletons are functions: zh_page_allocator(), ...
 *
 * Portions are ported from the Zig standard library (MIT licence, see NOTICE).
 */
#ifndef ZHEAP_H
#define ZHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZH_VERSION_MAJOR 0
#define ZH_VERSION_MINOR 1
#define ZH_VERSION_PATCH 0
#define ZH_VERSION 100 /* major*10000 + minor*100 + patch */

#if defined(__GNUC__) || defined(__clang__)
#define ZH_NODISCARD __attribute__((warn_unused_result))
#define ZH_RET_ADDR ((uintptr_t)__builtin_return_address(0))
#else
#define ZH_NODISCARD
#define ZH_RET_ADDR ((uintptr_t)0)
#endif

/* ------------------------------------------------------------------------
 * Alignment (std.mem.Alignment): stored as its base-2 logarithm.
 * ---------------------------------------------------------------------- */

typedef uint8_t zh_alignment;

/* Largest log2 alignment representable (2^63 on 64-bit targets). */
#define ZH_ALIGNMENT_MAX ((zh_alignment)(sizeof(uintptr_t) * 8 - 1))

/* 1 << a. */
static inline size_t zh_alignment_bytes(zh_alignment a) { return (size_t)1 << a; }

/* True iff n is a non-zero power of two (the precondition of fromByteUnits). */
static inline bool zh_is_power_of_two(size_t n) { return n != 0 && (n & (n - 1)) == 0; }

/* fromByteUnits: n must be a power of two (checked by the caller with
 * zh_is_power_of_two; Zig asserts). */
static inline zh_alignment zh_alignment_from_bytes(size_t n) {
    zh_alignment a = 0;
    while (((size_t)1 << a) < n) a++;
    return a;
}

/* forward: round addr up to a multiple of 2^a. Wraps like Zig's when addr is
 * within 2^a of the top of the address space; callers that can get there check
 * first (see zh_align_forward_checked). */
static inline uintptr_t zh_align_forward(uintptr_t addr, zh_alignment a) {
    uintptr_t m = ((uintptr_t)1 << a) - 1;
    return (addr + m) & ~m;
}

/* forward with overflow detection: false when rounding would wrap. */
static inline bool zh_align_forward_checked(uintptr_t addr, zh_alignment a, uintptr_t *out) {
    uintptr_t m = ((uintptr_t)1 << a) - 1;
    if (addr > UINTPTR_MAX - m) return false;
    *out = (addr + m) & ~m;
    return true;
}

/* backward: round addr down to a multiple of 2^a. */
static inline uintptr_t zh_align_backward(uintptr_t addr, zh_alignment a) {
    return addr & ~(((uintptr_t)1 << a) - 1);
}

/* check: addr is aligned to 2^a (address 0 counts as aligned to everything). */
static inline bool zh_alignment_check(uintptr_t addr, zh_alignment a) {
    return (addr & (((uintptr_t)1 << a) - 1)) == 0;
}

/* ------------------------------------------------------------------------
 * The allocator interface (std.mem.Allocator).
 *
 * Contract the CALLER meets for resize, remap and free:
 *   - `len` is the length of the most recent successful alloc/resize/remap of
 *     this allocation (the requested length, not a rounded capacity);
 *   - `log2_align` is the alignment passed to the original alloc;
 *   - `len > 0` for alloc and `new_len > 0` for resize/remap: zero-length
 *     requests never reach the vtable (the helpers below handle them);
 *   - `mem` came from this allocator and is still live.
 * Guarantees the ALLOCATOR gives:
 *   - alloc returns memory aligned to 2^log2_align, or NULL (out of memory);
 *   - resize never moves: true means the block now has new_len bytes at the
 *     same address; false means nothing changed;
 *   - remap may move: non-NULL means the block now has new_len bytes at the
 *     returned address, the first min(len, new_len) bytes preserved and the
 *     old address invalid if it moved; NULL means the allocator declines
 *     (the caller should alloc+copy+free itself) and nothing changed;
 *   - free cannot fail.
 * `ret_addr` is the first return address of the call stack for diagnostics,
 * 0 when not provided; only the DebugAllocator looks at it.
 * ---------------------------------------------------------------------- */

typedef struct zh_allocator_vtable {
    void *(*alloc)(void *ctx, size_t len, uint8_t log2_align, uintptr_t ret_addr);
    bool  (*resize)(void *ctx, void *mem, size_t len, uint8_t log2_align, size_t new_len, uintptr_t ret_addr);
    void *(*remap)(void *ctx, void *mem, size_t len, uint8_t log2_align, size_t new_len, uintptr_t ret_addr);
    void  (*free)(void *ctx, void *mem, size_t len, uint8_t log2_align, uintptr_t ret_addr);
} zh_allocator_vtable;

typedef struct zh_allocator { void *ctx; const zh_allocator_vtable *vtable; } zh_allocator;

/* Raw calls (rawAlloc, ...): forward to the vtable, no zero-length handling,
 * no undefined-filling. For allocator implementations wrapping a child. */
static inline void *zh_raw_alloc(zh_allocator a, size_t len, zh_alignment al, uintptr_t ra) {
    return a.vtable->alloc(a.ctx, len, al, ra);
}
static inline bool zh_raw_resize(zh_allocator a, void *mem, size_t len, zh_alignment al, size_t new_len, uintptr_t ra) {
    return a.vtable->resize(a.ctx, mem, len, al, new_len, ra);
}
static inline void *zh_raw_remap(zh_allocator a, void *mem, size_t len, zh_alignment al, size_t new_len, uintptr_t ra) {
    return a.vtable->remap(a.ctx, mem, len, al, new_len, ra);
}
static inline void zh_raw_free(zh_allocator a, void *mem, size_t len, zh_alignment al, uintptr_t ra) {
    a.vtable->free(a.ctx, mem, len, al, ra);
}

/* noResize / noRemap / noFree: fillers for vtable slots an allocator does not
 * support. */
bool  zh_no_resize(void *ctx, void *mem, size_t len, uint8_t log2_align, size_t new_len, uintptr_t ret_addr);
void *zh_no_remap(void *ctx, void *mem, size_t len, uint8_t log2_align, size_t new_len, uintptr_t ret_addr);
void  zh_no_free(void *ctx, void *mem, size_t len, uint8_t log2_align, uintptr_t ret_addr);

/* ------------------------------------------------------------------------
 * Helpers mirroring std.mem.Allocator's methods.
 *
 * C has no generics, so a Zig slice `[]T` is (ptr, n elements) plus the
 * element size and alignment passed explicitly. Zero-length rules are Zig's:
 *   - allocating 0 bytes returns the sentinel address zh_empty(align) and
 *     never calls the vtable; freeing an empty slice does nothing;
 *   - resize(_, 0) frees and returns true; resize(empty, n > 0) is false;
 *   - remap(_, 0) frees and returns the old pointer (an empty, non-NULL
 *     slice); remap(empty, n > 0) is NULL;
 *   - realloc(empty, n) allocates; realloc(_, 0) frees and returns the
 *     sentinel.
 * elem_size * n overflowing is OutOfMemory (NULL) / false.
 * When compiled with ZH_FILL_UNDEFINED, fresh and freed bytes are set to 0xAA
 * as Zig's Debug builds do.
 * ---------------------------------------------------------------------- */

/* The never-dereferenced address of empty allocations: the highest address
 * aligned to 2^a. */
static inline void *zh_empty(zh_alignment a) {
    return (void *)zh_align_backward(UINTPTR_MAX, a);
}

/* alignedAlloc(T, align, n): NULL only on out of memory. */
ZH_NODISCARD void *zh_alloc(zh_allocator a, size_t elem_size, size_t n, zh_alignment al);
/* free(slice). */
void zh_free(zh_allocator a, void *ptr, size_t elem_size, size_t n, zh_alignment al);
/* create(T) / destroy(ptr): one item of `size` bytes. */
ZH_NODISCARD void *zh_create(zh_allocator a, size_t size, zh_alignment al);
void zh_destroy(zh_allocator a, void *ptr, size_t size, zh_alignment al);
/* resize(slice, new_n): in place only. */
ZH_NODISCARD bool zh_resize(zh_allocator a, void *ptr, size_t elem_size, size_t n, zh_alignment al, size_t new_n);
/* remap(slice, new_n): may move; NULL means "do it yourself", nothing changed. */
ZH_NODISCARD void *zh_remap(zh_allocator a, void *ptr, size_t elem_size, size_t n, zh_alignment al, size_t new_n);
/* realloc(slice, new_n): remap, else alloc+copy+free. NULL only on out of
 * memory, and then the old slice is untouched and still owned. */
ZH_NODISCARD void *zh_realloc(zh_allocator a, void *ptr, size_t elem_size, size_t n, zh_alignment al, size_t new_n);
/* dupe(u8, src): a copy of `len` bytes (alignment 1). */
ZH_NODISCARD void *zh_dupe(zh_allocator a, const void *src, size_t len);

/* ------------------------------------------------------------------------
 * ValidationAllocator (std.mem.validationWrap): checks the interface contract
 * on every call (len > 0 before forwarding; alloc's result aligned). Zig
 * asserts; here a violation calls `panic` (default: print and abort). If the
 * hook returns, the call fails without reaching the child (alloc: NULL,
 * resize: false, remap: NULL, free: no-op), so an embedder can turn the
 * violation into an error. A misaligned result from the child is freed
 * before the failure is reported, so nothing leaks.
 * ---------------------------------------------------------------------- */

typedef void (*zh_panic_fn)(void *user, const char *message);

typedef struct zh_validation {
    zh_allocator underlying;
    zh_panic_fn panic;   /* NULL: print to stderr and abort */
    void *panic_user;
} zh_validation;

void zh_validation_init(zh_validation *self, zh_allocator underlying);
zh_allocator zh_validation_allocator(zh_validation *self);
static inline void zh_validation_deinit(zh_validation *self) { (void)self; }

/* ------------------------------------------------------------------------
 * Introspection: one visitor per allocator, zh_<name>_visit(self, fn, user),
 * in the style of mimalloc's mi_heap_visit_blocks. It reports what the
 * allocator's own structures know: areas (memory it carved up or got from
 * its child) and blocks in them, each with its kind. Not in Zig: layout
 * pictures, statistics and self-checks are built on it, so nothing outside
 * the core has to know an allocator's geometry.
 *
 * Rules common to every visitor: `fn` runs once per item and must not call
 * the allocator; the visit stops at, and returns, the first non-zero value
 * `fn` returns (0 when it ran to the end). An area comes before the blocks
 * the visitor reports in it, except where a visitor says otherwise.
 * ---------------------------------------------------------------------- */

typedef enum zh_visit_kind {
    ZH_VISIT_AREA = 0, /* memory the allocator manages (`area` says which kind) */
    ZH_VISIT_LIVE,     /* a block handed out and not freed */
    ZH_VISIT_FREE,     /* on a free list or never carved: a later allocation may return it */
    ZH_VISIT_FREED,    /* freed, but kept out of reuse (DebugAllocator catches use after free so) */
    ZH_VISIT_PADDING,  /* bytes a block's slot or alignment takes beyond its length */
    ZH_VISIT_METADATA, /* the allocator's own records, inside the area */
} zh_visit_kind;

typedef struct zh_visit_item {
    zh_visit_kind kind;
    /* AREA: "chunk" (ArenaAllocator, MemoryPool), "buffer" (FixedBuffer),
     * "slab" or "mapping" (SmpAllocator), "bigpage" or "big" (Wasm, Sbrk),
     * "bucket" or "large" (DebugAllocator). NULL for blocks. */
    const char *area;
    uintptr_t address;
    size_t size;            /* bytes */
    size_t used;            /* AREA: bytes in use from its start (up to its bump pointer) */
    size_t slot_size;       /* the size class's slot size; 0: no size class */
    size_t slot_count;      /* AREA: the slots it is carved into, where fixed; 0 otherwise */
    size_t order;           /* FREE: place in its free list, 1 = handed out next; 0: unordered */
    size_t alignment;       /* LIVE: bytes, where known (recorded, or given to *_visit_block); else 0 */
    const uintptr_t *trace; /* LIVE (DebugAllocator): allocation trace, `frames` words (none when 0) */
    size_t frames;
} zh_visit_item;

typedef int (*zh_visit_fn)(void *user, const zh_visit_item *item);

/* ------------------------------------------------------------------------
 * Page sizes.
 * ---------------------------------------------------------------------- */

/* Compile-time bounds (Zig's per-target table); override by defining them. */
#ifndef ZH_PAGE_SIZE_MIN
#  if defined(__APPLE__) && defined(__aarch64__)
#    define ZH_PAGE_SIZE_MIN 16384
#  elif defined(__sparc__)
#    define ZH_PAGE_SIZE_MIN 8192
#  elif defined(__wasm__)
#    define ZH_PAGE_SIZE_MIN 65536
#  else
#    define ZH_PAGE_SIZE_MIN 4096
#  endif
#endif
#ifndef ZH_PAGE_SIZE_MAX
#  if defined(__APPLE__) && defined(__aarch64__)
#    define ZH_PAGE_SIZE_MAX 16384
#  elif defined(__sparc__)
#    define ZH_PAGE_SIZE_MAX 8192
#  elif defined(__wasm__)
#    define ZH_PAGE_SIZE_MAX 65536
#  elif defined(__powerpc__) || defined(__powerpc64__) || defined(__hexagon__)
#    define ZH_PAGE_SIZE_MAX 262144
#  elif defined(__aarch64__) || defined(__mips__) || defined(__loongarch__)
#    define ZH_PAGE_SIZE_MAX 65536
#  else
#    define ZH_PAGE_SIZE_MAX 4096
#  endif
#endif

extern const size_t zh_page_size_min;
extern const size_t zh_page_size_max;

/* defaultQueryPageSize(): asks the OS once and caches the answer. Returns 0
 * if the OS reports a size outside [ZH_PAGE_SIZE_MIN, ZH_PAGE_SIZE_MAX]
 * (Zig asserts). */
size_t zh_default_query_page_size(void);

/* pageSize(): the constant when min == max, else the cached runtime query. */
static inline size_t zh_page_size(void) {
#if ZH_PAGE_SIZE_MIN == ZH_PAGE_SIZE_MAX
    return ZH_PAGE_SIZE_MIN;
#else
    return zh_default_query_page_size();
#endif
}

/* The most memory a program on this machine can write to (physical memory
 * plus swap; SIZE_MAX if unknown): a bound for requests that touch every
 * byte they get (MemoryPool preheat), to fail them at once. */
size_t zh_memory_limit_hint(void);

/* ------------------------------------------------------------------------
 * PageAllocator: every request straight to the OS (mmap/munmap/mremap).
 * Stateless and thread-safe.
 * ---------------------------------------------------------------------- */

zh_allocator zh_page_allocator(void);

/* The address hint passed to the next mmap (next_mmap_addr_hint). Advanced
 * with a compare-and-swap after every successful map. */
void *zh_next_mmap_addr_hint(void);
void zh_set_next_mmap_addr_hint(void *hint);

/* PageAllocator.map(n, alignment): NULL on failure. n > 0. */
ZH_NODISCARD void *zh_page_map(size_t n, zh_alignment al);
/* PageAllocator.unmap(memory): ptr page-aligned, len the mapped length. */
void zh_page_unmap(void *ptr, size_t len);
/* PageAllocator.realloc(memory, new_len, may_move), with later Zig's fix: an
 * allocation aligned beyond the page size is never moved (mremap would only
 * keep page alignment), so a moving remap of one returns NULL unless it can be
 * done in place. */
ZH_NODISCARD void *zh_page_realloc(void *ptr, size_t len, zh_alignment al, size_t new_len, bool may_move);

/* ------------------------------------------------------------------------
 * libc-backed allocators.
 * ---------------------------------------------------------------------- */

/* c_allocator: any power-of-two alignment (malloc up to alignof(max_align_t),
 * posix_memalign beyond: see c_allocator.c); resize succeeds in place when
 * malloc_usable_size allows; remap calls realloc (which may move the block)
 * for alignments up to alignof(max_align_t), and beyond them stays in place,
 * since realloc could lose the alignment. Thread-safe. */
zh_allocator zh_c_allocator(void);

/* raw_c_allocator: plain malloc/realloc/free. Alignment must be at most
 * ZH_RAW_C_MAX_ALIGNMENT (alignof(max_align_t)); a larger one makes alloc
 * return NULL (Zig asserts). resize always fails; remap is realloc. */
zh_allocator zh_raw_c_allocator(void);
#define ZH_RAW_C_MAX_ALIGNMENT ((size_t)_Alignof(max_align_t))

/* ------------------------------------------------------------------------
 * FixedBufferAllocator: a bump allocator over a caller's buffer.
 * ---------------------------------------------------------------------- */

typedef struct zh_fba {
    size_t end_index;   /* bytes used from the start of the buffer */
    char *buffer;
    size_t buffer_len;
} zh_fba;

/* Any buffer: any alignment, any length including 0. */
void zh_fba_init(zh_fba *self, void *buffer, size_t len);
/* The plain interface; not safe to use together with the thread-safe one. */
zh_allocator zh_fba_allocator(zh_fba *self);
/* threadSafeAllocator(): a lock-free atomic bump; resize fails, remap
 * declines and free does nothing (0.15.1's behaviour). */
zh_allocator zh_fba_thread_safe_allocator(zh_fba *self);
static inline void zh_fba_deinit(zh_fba *self) { (void)self; }
/* buffer <= ptr < buffer + len. */
bool zh_fba_owns_ptr(const zh_fba *self, const void *ptr);
/* [ptr, ptr+len) lies inside the buffer. */
bool zh_fba_owns_slice(const zh_fba *self, const void *ptr, size_t len);
/* The slice ends at end_index (false negatives after unreclaimed padding,
 * as Zig documents). */
bool zh_fba_is_last_allocation(const zh_fba *self, const void *ptr, size_t len);
/* end_index = 0: every allocation becomes reusable. */
void zh_fba_reset(zh_fba *self);
/* Visitor: the buffer ("buffer", used = end_index). The buffer keeps no
 * record of its blocks, so that is all. */
int zh_fba_visit(const zh_fba *self, zh_visit_fn fn, void *user);
/* The vtable operations, public as in Zig (StackFallbackAllocator uses them).
 * resize/remap/free of a slice the buffer does not own panic (Zig asserts). */
ZH_NODISCARD void *zh_fba_alloc(zh_fba *self, size_t n, zh_alignment al);
ZH_NODISCARD bool zh_fba_resize(zh_fba *self, void *ptr, size_t len, size_t new_len);
ZH_NODISCARD void *zh_fba_remap(zh_fba *self, void *ptr, size_t len, size_t new_len);
void zh_fba_free(zh_fba *self, void *ptr, size_t len);

/* ------------------------------------------------------------------------
 * ArenaAllocator: many allocations from a child, freed all at once.
 * ---------------------------------------------------------------------- */

/* Header at the start of every chunk: `data` is the chunk's total length,
 * header included. The newest chunk is first. */
typedef struct zh_arena_node {
    size_t data;
    struct zh_arena_node *next;
} zh_arena_node;

typedef struct zh_arena {
    zh_allocator child;
    zh_arena_node *first;   /* newest chunk; older ones are not used until reset */
    size_t end_index;       /* fill level of the newest chunk's usable bytes */
} zh_arena;

typedef enum zh_arena_reset_mode {
    ZH_ARENA_FREE_ALL = 0,
    ZH_ARENA_RETAIN_CAPACITY = 1,
    ZH_ARENA_RETAIN_WITH_LIMIT = 2,
} zh_arena_reset_mode;

void zh_arena_init(zh_arena *self, zh_allocator child);
zh_allocator zh_arena_allocator(zh_arena *self);
/* Frees every chunk to the child. The arena must be re-initialised before
 * further use. */
void zh_arena_deinit(zh_arena *self);
/* Sum of the chunks' usable lengths. */
size_t zh_arena_query_capacity(const zh_arena *self);
/* reset(mode): `limit` is read only for ZH_ARENA_RETAIN_WITH_LIMIT. Returns
 * false only when the retained chunk had to be reallocated and the child
 * refused; the arena is then empty and usable with its oldest chunk. */
bool zh_arena_reset(zh_arena *self, zh_arena_reset_mode mode, size_t limit);
/* Number of chunks (for introspection). */
size_t zh_arena_chunk_count(const zh_arena *self);
/* Visitor: every chunk, newest first, as the child handed it out ("chunk";
 * in use: the newest chunk's node header and end_index, all of an older
 * one, whose tail was abandoned when the arena moved on), then its node
 * header (METADATA: the chunk's length and the link to the next). */
int zh_arena_visit(const zh_arena *self, zh_visit_fn fn, void *user);

/* ------------------------------------------------------------------------
 * StackFallbackAllocator: a fixed buffer first, then a fallback allocator.
 * ---------------------------------------------------------------------- */

/* Zig's StackFallbackAllocator(N) has the N-byte array inline; C has no
 * comptime sizes, so the caller supplies the buffer (usually a local array):
 *     char buf[4096]; zh_stack_fallback sf;
 *     zh_stack_fallback_init(&sf, buf, sizeof buf, zh_c_allocator());
 *     zh_allocator a = zh_stack_fallback_get(&sf); */
typedef struct zh_stack_fallback {
    void *buffer;
    size_t buffer_len;
    zh_allocator fallback_allocator;
    zh_fba fixed_buffer_allocator;  /* set up by get() */
    bool get_called;
} zh_stack_fallback;

/* stackFallback(N, fallback): no allocation, nothing to deinit. */
void zh_stack_fallback_init(zh_stack_fallback *self, void *buffer, size_t len, zh_allocator fallback);
/* Re-initialises the inner FixedBufferAllocator over the buffer and returns
 * the interface. A second call panics (Zig's safety assert: it would
 * silently invalidate every allocation in the buffer). */
zh_allocator zh_stack_fallback_get(zh_stack_fallback *self);

/* ------------------------------------------------------------------------
 * Mutex and ThreadSafeAllocator.
 * ---------------------------------------------------------------------- */

/* Zig's std.Thread.Mutex (the futex implementation): 0 unlocked, 1 locked,
 * 3 locked with sleepers. Zero-initialise (ZH_MUTEX_INIT); not recursive. */
typedef struct zh_mutex {
    uint32_t state;
} zh_mutex;
#define ZH_MUTEX_INIT {0}

bool zh_mutex_try_lock(zh_mutex *m);
void zh_mutex_lock(zh_mutex *m);
void zh_mutex_unlock(zh_mutex *m);

/* ThreadSafeAllocator: every call on the child runs under one mutex. */
typedef struct zh_thread_safe {
    zh_allocator child_allocator;
    zh_mutex mutex;
} zh_thread_safe;

void zh_thread_safe_init(zh_thread_safe *self, zh_allocator child);
zh_allocator zh_thread_safe_allocator(zh_thread_safe *self);

/* ------------------------------------------------------------------------
 * MemoryPool / MemoryPoolAligned / MemoryPoolExtra: fixed-size items from an
 * arena, recycled through a LIFO free list.
 * ---------------------------------------------------------------------- */

/* Options.alignment = null: the item's natural alignment. */
#define ZH_ALIGNMENT_NATURAL ((zh_alignment)0xFF)

typedef struct zh_memory_pool_options {
    zh_alignment alignment; /* log2, or ZH_ALIGNMENT_NATURAL */
    bool growable;          /* false: create() only reuses preheated items */
} zh_memory_pool_options;
#define ZH_MEMORY_POOL_OPTIONS_DEFAULT ((zh_memory_pool_options){ZH_ALIGNMENT_NATURAL, true})

typedef struct zh_memory_pool {
    zh_arena arena;
    void *free_list;            /* first free item; each holds the next */
    size_t item_size;           /* Zig's item_size: max(sizeof(void *), sizeof(Item)) */
    zh_alignment item_alignment; /* max(pointer alignment, options or natural) */
    bool growable;
} zh_memory_pool;

/* MemoryPoolExtra(Item, options).init(child) for an Item of `size_of_item`
 * bytes and natural alignment `align_of_item` (log2). No allocation.
 * MemoryPool(T) is ZH_MEMORY_POOL_INIT(&p, child, T, ZH_MEMORY_POOL_OPTIONS_DEFAULT);
 * MemoryPoolAligned(T, a) sets options.alignment = a. */
void zh_memory_pool_init(zh_memory_pool *self, zh_allocator child, size_t size_of_item,
                         zh_alignment align_of_item, zh_memory_pool_options options);
#define ZH_MEMORY_POOL_INIT(self, child, T, options) \
    zh_memory_pool_init((self), (child), sizeof(T), zh_alignment_from_bytes(_Alignof(T)), (options))
/* initPreheated: init then preheat(n). Returns false on out of memory, with
 * the pool already deinitialised (nothing leaks). */
ZH_NODISCARD bool zh_memory_pool_init_preheated(zh_memory_pool *self, zh_allocator child, size_t size_of_item,
                                                zh_alignment align_of_item, zh_memory_pool_options options,
                                                size_t n);
/* Gives all memory back to the child; the pool must be re-initialised. */
void zh_memory_pool_deinit(zh_memory_pool *self);
/* Adds n items to the free list (even when not growable). False on out of
 * memory; items added before the failure stay. */
ZH_NODISCARD bool zh_memory_pool_preheat(zh_memory_pool *self, size_t n);
/* arena.reset(mode, limit), then an empty free list: every item is gone,
 * even preheated ones. Returns the arena's result. */
bool zh_memory_pool_reset(zh_memory_pool *self, zh_arena_reset_mode mode, size_t limit);
/* The slow path of create: a new item from the arena (NULL if out of memory
 * or not growable). */
ZH_NODISCARD void *zh_memory_pool_create_slow(zh_memory_pool *self);
/* A free item (the most recently destroyed first), else a new one if
 * growable; NULL when out of memory. item_size bytes at item_alignment.
 * Inline, as Zig's generic pool is: a pool is often the hottest allocator
 * in a program. The undefined-fill of Zig's Debug builds is left out. */
ZH_NODISCARD static inline void *zh_memory_pool_create(zh_memory_pool *self) {
    void *item = self->free_list;
    if (item == NULL) return zh_memory_pool_create_slow(self);
    memcpy(&self->free_list, item, sizeof self->free_list);
    return item;
}
/* Push `item` back on the free list. Not checked: an item of another pool
 * or a double destroy corrupts the pool, as in Zig. */
static inline void zh_memory_pool_destroy(zh_memory_pool *self, void *item) {
    memcpy(item, &self->free_list, sizeof self->free_list);
    self->free_list = item;
}
/* Length of the free list, for introspection (stops at `limit` entries, so
 * a list corrupted into a cycle cannot hang the caller). */
size_t zh_memory_pool_free_count(const zh_memory_pool *self, size_t limit);
/* Visitor: its arena's chunks (zh_arena_visit), then every free item
 * (FREE, item_size bytes, `order` from the head: the next create()'s is 1),
 * up to `limit` of them. Items are not reported under their chunk. */
int zh_memory_pool_visit(const zh_memory_pool *self, size_t limit, zh_visit_fn fn, void *user);

/* ------------------------------------------------------------------------
 * SmpAllocator (smp_allocator): the general-purpose, multi-threaded one.
 * ---------------------------------------------------------------------- */

#define ZH_SMP_MAX_THREADS 128
#define ZH_SMP_SLAB_LEN ((size_t)(ZH_PAGE_SIZE_MAX > 65536 ? ZH_PAGE_SIZE_MAX : 65536))
#define ZH_SMP_MIN_CLASS 3 /* log2(sizeof(size_t)) on 64-bit; checked in the .c */
#define ZH_SMP_SIZE_CLASS_COUNT (ZH_SMP_SLAB_LEN == 65536 ? 13 : 15) /* log2(slab) - 3; asserted */

/* The process-wide allocator (Zig's global): any thread, no init, no
 * deinit. Its slabs are never given back, as in Zig. */
zh_allocator zh_smp_allocator(void);

/* Introspection for learners (not in Zig): one thread slot's caches, read
 * under that slot's lock. free_counts[c] is the length of the free list of
 * class c (slot size 8 << c), slabs[c] the slabs this slot mapped for it. */
typedef struct zh_smp_slot_stats {
    size_t free_counts[ZH_SMP_SIZE_CLASS_COUNT];
    size_t slabs[ZH_SMP_SIZE_CLASS_COUNT];
} zh_smp_slot_stats;
/* The number of slots in use (Zig's cpu_count: min(CPUs, 128)). */
unsigned zh_smp_slot_count(void);
void zh_smp_slot_stats_of(unsigned slot, zh_smp_slot_stats *out);
/* The bytes a block of (len, al) takes: its slot size, or 0 when it is too
 * large for a slab and was mapped on its own (page allocator). */
size_t zh_smp_footprint(size_t len, zh_alignment al);
/* Visitor, thread slot by thread slot, each under its lock: each class's
 * current slab ("slab", in use up to its bump pointer), and each free slot
 * (FREE, in list order) after the slab it lies in ("slab", carved to the
 * end). The slabs are process-wide and keep no record of live blocks, so a
 * slab is reported once per thing found in it: merge areas by address, the
 * smallest `used` holds. */
int zh_smp_visit(zh_visit_fn fn, void *user);
/* One block the caller knows is live, (ptr, len, al): its area (the "slab"
 * of its slot, or the "mapping" of a block too large for a slab), itself
 * (LIVE, with its slot size) and its slot's slack (PADDING). No lock: it
 * reads nothing but the arguments. */
int zh_smp_visit_block(const void *ptr, size_t len, zh_alignment al, zh_visit_fn fn, void *user);

/* ------------------------------------------------------------------------
 * WasmAllocator and SbrkAllocator: Zig's two "big page" allocators. Both are
 * power-of-two size classes (16 B .. 32 KiB) carved from 64 KiB big pages,
 * plus power-of-two runs of big pages for larger blocks, with LIFO free
 * lists whose links live in each slot's last word. Memory only ever grows.
 * ---------------------------------------------------------------------- */

#define ZH_BIGPAGE_SIZE ((size_t)65536)
#define ZH_BIGPAGE_SIZE_CLASS_COUNT 12     /* log2(64 KiB) - log2(16) */
#define ZH_BIGPAGE_BIG_CLASS_COUNT 48      /* log2(SIZE_MAX / 64 KiB) + 1 */

/* Shared state (not for direct use): free lists and bump pointers. */
typedef struct zh_bigpage_state {
    uintptr_t next_addrs[ZH_BIGPAGE_SIZE_CLASS_COUNT];
    uintptr_t frees[ZH_BIGPAGE_SIZE_CLASS_COUNT];
    uintptr_t big_frees[ZH_BIGPAGE_BIG_CLASS_COUNT];
} zh_bigpage_state;

/* WasmAllocator over an emulated wasm linear memory: a reserved address
 * range that grows in 64 KiB wasm pages through zh_wasm_memory_grow, up to
 * max_pages. Like a real module's, the memory starts one page long (the
 * "static data" page, never handed out), so no block is at offset 0.
 * Single-threaded, as Zig's (wasm32 without threads). */
#define ZH_WASM_PAGE_SIZE ((size_t)65536)
#define ZH_WASM_DEFAULT_MAX_PAGES ((size_t)65536) /* 4 GiB of reservation */

typedef struct zh_wasm {
    char *base;       /* linear memory offset 0 */
    size_t max_pages; /* the maximum memory.grow may reach */
    size_t pages;     /* memory.size */
    zh_bigpage_state s;
} zh_wasm;

/* Reserves max_pages pages of address space (committing only the first).
 * Returns 0, or -1 when max_pages is 0 or the reservation fails. */
int zh_wasm_init(zh_wasm *self, size_t max_pages);
/* Unmaps the whole linear memory: every block is gone. */
void zh_wasm_deinit(zh_wasm *self);
zh_allocator zh_wasm_allocator_of(zh_wasm *self);
/* memory.grow(delta): the previous size in pages, or -1 past max_pages (or
 * if the OS refuses), with nothing changed. */
ptrdiff_t zh_wasm_memory_grow(zh_wasm *self, size_t delta);
static inline size_t zh_wasm_memory_size(const zh_wasm *self) { return self->pages; }
/* Zig's global wasm_allocator: its own linear memory of the default maximum,
 * created on first use (NULL context until then). */
zh_allocator zh_wasm_allocator(void);
zh_wasm *zh_wasm_global(void);
/* WasmAllocator supports alignments up to its big page (64 KiB). */
#define ZH_WASM_MAX_ALIGNMENT ((size_t)65536)

/* SbrkAllocator(sbrk): the same algorithm over a program break the embedder
 * moves. sbrk(increment, user) returns the old break, or (void *)-1 when it
 * cannot grow; increments are multiples of 64 KiB, and the breaks it returns
 * must be 64 KiB-aligned (the allocation fails otherwise). A mutex makes it
 * thread-safe, as Zig's. */
typedef void *(*zh_sbrk_fn)(ptrdiff_t increment, void *user);

typedef struct zh_sbrk {
    zh_sbrk_fn sbrk;
    void *user;
    zh_mutex mutex;
    bool thread_safe; /* true after init; false only for a caller that serialises itself */
    zh_bigpage_state s;
} zh_sbrk;

void zh_sbrk_init(zh_sbrk *self, zh_sbrk_fn sbrk, void *user);
zh_allocator zh_sbrk_allocator(zh_sbrk *self);

/* An emulated program break: `capacity` bytes of reserved address space
 * (rounded up to 64 KiB, 64 KiB-aligned), committed as the break moves up.
 * zh_brk_region_sbrk is a zh_sbrk_fn over it (user = the region). */
typedef struct zh_brk_region {
    char *start, *brk, *end;
    char *committed; /* [start, committed) is read-write */
} zh_brk_region;

int zh_brk_region_init(zh_brk_region *r, size_t capacity);
void zh_brk_region_deinit(zh_brk_region *r);
void *zh_brk_region_sbrk(ptrdiff_t increment, void *region);
/* Make [ptr, ptr+len) of the region usable (for an sbrk function of the
 * embedder's that hands out parts of the region itself). False if the range
 * is not inside the region or the OS refuses. */
bool zh_brk_region_commit(zh_brk_region *r, const void *ptr, size_t len);

/* Introspection (both): free-list lengths per small class (slot 16 << c) and
 * per big class (1 << c big pages). */
typedef struct zh_bigpage_stats {
    size_t free_counts[ZH_BIGPAGE_SIZE_CLASS_COUNT];
    size_t big_free_counts[ZH_BIGPAGE_BIG_CLASS_COUNT];
} zh_bigpage_stats;
void zh_bigpage_stats_of(const zh_bigpage_state *s, zh_bigpage_stats *out);
/* The bytes a block of (len, al) takes: its slot (16 B .. 32 KiB) or its
 * power-of-two run of big pages; 0 for a size no block can have. */
size_t zh_bigpage_footprint(size_t len, zh_alignment al);
/* Visitor over the memory [lo, hi) the big pages are carved from (big page
 * k starts at lo + k * 64 KiB): each small class's partly carved big page
 * ("bigpage", in use up to its bump pointer; skipped if that lies outside
 * [lo, hi)), each free slot (FREE) after its big page ("bigpage", carved to
 * the end), and each free run of big pages ("big", with its FREE block). As with zh_smp_visit, a page is
 * reported once per thing found in it (the smallest `used` holds), and the
 * pages nothing is known of (every slot live, or a live big block) are not
 * reported: zh_bigpage_visit_block gives the area of a known live block. */
int zh_bigpage_visit(const zh_bigpage_state *s, uintptr_t lo, uintptr_t hi, zh_visit_fn fn, void *user);
/* One block the caller knows is live in the memory from `lo`: its area
 * ("bigpage" with its slot size, or "big" for a run of whole big pages),
 * itself (LIVE) and its slot's or run's slack (PADDING). */
int zh_bigpage_visit_block(uintptr_t lo, const void *ptr, size_t len, zh_alignment al, zh_visit_fn fn, void *user);

/* ------------------------------------------------------------------------
 * FailingAllocator (Zig's std.testing.FailingAllocator): fails on purpose.
 * ---------------------------------------------------------------------- */

typedef struct zh_failing {
    zh_allocator internal_allocator;
    size_t alloc_index;       /* successful allocations so far */
    size_t resize_index;      /* successful resizes/remaps so far */
    size_t fail_index;        /* the alloc_index whose allocation fails (SIZE_MAX: never) */
    size_t resize_fail_index; /* the resize_index whose resize/remap fails */
    size_t allocated_bytes, freed_bytes;
    size_t allocations, deallocations;
    bool has_induced_failure;
    /* Called once, on the first induced failure (Zig captures a stack
     * trace there); optional. */
    void (*on_induced_failure)(void *user);
    void *user;
} zh_failing;

/* Config {fail_index, resize_fail_index}: SIZE_MAX means never. */
void zh_failing_init(zh_failing *self, zh_allocator internal, size_t fail_index, size_t resize_fail_index);
zh_allocator zh_failing_allocator(zh_failing *self);

/* ------------------------------------------------------------------------
 * Check (returned by DebugAllocator.deinit).
 * ---------------------------------------------------------------------- */

typedef enum zh_check { ZH_CHECK_OK = 0, ZH_CHECK_LEAK = 1 } zh_check;

/* ------------------------------------------------------------------------
 * DebugAllocator (GeneralPurposeAllocator): Zig's safety-checking allocator.
 * ---------------------------------------------------------------------- */

/* What the allocator reports: Zig's log.err / log.info lines and panics. */
typedef enum zh_debug_report_kind {
    ZH_DEBUG_DOUBLE_FREE = 0,      /* error; the call does nothing (free) or fails (resize/remap) */
    ZH_DEBUG_SIZE_MISMATCH,        /* error; logged only: the call goes on, as in Zig */
    ZH_DEBUG_ALIGNMENT_MISMATCH,   /* error; logged only */
    ZH_DEBUG_LEAK,                 /* error; one per leaked block, from detect_leaks/deinit */
    ZH_DEBUG_INVALID_FREE,         /* Zig panics "Invalid free" */
    ZH_DEBUG_UNRECOVERABLE_DOUBLE_FREE, /* Zig panics (resize/remap of a freed large block) */
    ZH_DEBUG_INFO,                 /* verbose_log line */
} zh_debug_report_kind;

enum { ZH_DEBUG_TRACE_ALLOC = 0, ZH_DEBUG_TRACE_FREE = 1, ZH_DEBUG_TRACE_THIS = 2 };

typedef struct zh_debug_report {
    zh_debug_report_kind kind;
    const char *message;      /* the whole line as Zig words it, traces left out */
    uintptr_t address;
    size_t length;            /* allocation's length (mismatch: the recorded one) */
    size_t given_length;      /* the caller's length (mismatch, info resize: the new one) */
    size_t alignment;         /* bytes: the recorded alignment */
    size_t given_alignment;   /* bytes: the caller's */
    /* Traces: [ZH_DEBUG_TRACE_ALLOC], [..._FREE] (first free), [..._THIS] (this
     * call); each `frames` entries, zero-terminated when shorter; NULL when
     * there is none. Valid only during the callback. */
    const uintptr_t *traces[3];
    size_t frames;
} zh_debug_report;

/* The embedder's hooks. `report` NULL: print to stderr like Zig's log, and
 * abort on INVALID_FREE / UNRECOVERABLE_DOUBLE_FREE. A `report` that returns
 * from those makes the call do nothing (free) or fail (alloc NULL, resize
 * false, remap NULL). `capture` NULL: C return addresses (backtrace()),
 * starting at the caller's return address as Zig's captureStackTrace does;
 * where libc has no backtrace() (musl) the traces are empty.
 * Both run with the allocator's mutex held: they must not call back into it. */
typedef struct zh_debug_hooks {
    void (*report)(void *user, const zh_debug_report *report);
    /* Fill out[0..n) with up to n frame identifiers (non-zero), zero the rest. */
    void (*capture)(void *user, uintptr_t ret_addr, uintptr_t *out, size_t n);
    void *user;
} zh_debug_hooks;

/* Zig's Config, every field; ZH_DEBUG_CONFIG_DEFAULT is Zig's defaults for a
 * Debug (safe) build on Linux x86_64. */
typedef struct zh_debug_config {
    size_t stack_trace_frames;     /* 6 */
    bool enable_memory_limit;      /* false */
    bool safety;                   /* true */
    bool thread_safe;              /* true: a zh_mutex */
    /* MutexType: when `lock` is set, these are used and thread_safe is ignored. */
    void (*lock)(void *mutex);
    void (*unlock)(void *mutex);
    void *mutex;
    bool never_unmap;              /* false */
    bool retain_metadata;          /* false */
    bool verbose_log;              /* false */
    bool backing_allocator_zeroes; /* true */
    bool resize_stack_traces;      /* false */
    uintptr_t canary;              /* 0x9232a6ff85dff10f, truncated to the word */
    size_t page_size;              /* max(page_size_max, 128 KiB); a power of two, >= 4 KiB */
} zh_debug_config;

zh_debug_config zh_debug_config_default(void);

#define ZH_DEBUG_MAX_BUCKETS 48

typedef struct zh_debug_bucket zh_debug_bucket; /* header at the end of each bucket page */

/* An open-addressing table (storage from the backing allocator). */
typedef struct zh_debug_table {
    void *entries;
    uintptr_t *traces; /* per entry: trace_n * stack_trace_frames words (large table only) */
    size_t capacity, count;
} zh_debug_table;

typedef struct zh_debug {
    zh_allocator backing_allocator;
    zh_debug_config config;
    zh_debug_hooks hooks;
    /* Public, as Zig's fields (meaningful with enable_memory_limit). */
    size_t total_requested_bytes;  /* 0 */
    size_t requested_memory_limit; /* SIZE_MAX; assign it directly */
    /* Internal. */
    zh_mutex mutex_;
    bool fast_; /* no lock hooks, traces, log or limit: small alloc/free try a short path first */
    unsigned small_bucket_count;
    uint32_t slot_counts[ZH_DEBUG_MAX_BUCKETS];
    struct {
        uint32_t bucket_size, sizes_offset, aligns_offset, traces_offset;
    } layout_[ZH_DEBUG_MAX_BUCKETS]; /* metadata offsets per size class */
    zh_debug_bucket *buckets[ZH_DEBUG_MAX_BUCKETS]; /* newest bucket of each class */
    zh_debug_table large;  /* address -> large allocation record */
    zh_debug_table pages;  /* bucket page -> size class: frees never read unknown memory */
    uintptr_t last_page;   /* the last page found in `pages` (0: none), and its class */
    uintptr_t last_class;
} zh_debug;

/* Returns 0, or -1 when the config is unusable (page_size not a power of two
 * in [4 KiB, 2 GiB], or stack_trace_frames > 64). `hooks` may be NULL. The
 * config is fixed from here on, as Zig's comptime Config is: the bucket
 * layout and the short paths are derived from it once. */
int zh_debug_init(zh_debug *self, zh_allocator backing, const zh_debug_config *config, const zh_debug_hooks *hooks);
zh_allocator zh_debug_allocator(zh_debug *self);
/* Reports each leak (ZH_DEBUG_LEAK) and returns whether there was any. */
bool zh_debug_detect_leaks(zh_debug *self);
/* With retain_metadata: free retained large blocks (never_unmap) and forget
 * every freed record. Returns -1 without retain_metadata (Zig: compile error). */
int zh_debug_flush_retained_metadata(zh_debug *self);
/* Leak check (with safety), then release the metadata. Leaked blocks stay
 * allocated in the backing allocator, as in Zig. */
zh_check zh_debug_deinit(zh_debug *self);

/* Introspection, not in Zig: the state of the block at (ptr, len, al) --
 * which never reads memory the allocator does not own. */
typedef enum zh_debug_block_state {
    ZH_DEBUG_UNKNOWN = 0, /* not a block this allocator knows (or its page is gone) */
    ZH_DEBUG_LIVE,
    ZH_DEBUG_FREED,       /* freed, with its metadata still here: a free reports a double free */
} zh_debug_block_state;
zh_debug_block_state zh_debug_block_state_of(zh_debug *self, const void *ptr, size_t len, zh_alignment al);
/* The recorded trace (ZH_DEBUG_TRACE_ALLOC or _FREE) of that block, or NULL
 * when unknown or not recorded; valid until the next call on the allocator. */
const uintptr_t *zh_debug_trace_of(zh_debug *self, const void *ptr, size_t len, zh_alignment al, int kind);

/* Visitor: every small-object bucket, size class by size class, newest
 * first ("bucket": one page, slot_size, slot_count, in use up to its last
 * slot handed out), then its slots in order -- LIVE ones (with their
 * requested length and alignment where safety records them, else the slot
 * size and alignment 0; and their allocation trace, stack_trace_frames
 * words) followed by their slot's slack
 * (PADDING), FREED ones (never handed out again while the bucket lives),
 * the never-used rest (FREE) -- then its metadata at the end of the page
 * (header, used bits, requested sizes, alignments, traces). Then every live
 * large allocation ("large", then its LIVE block). Not under the mutex: the
 * caller makes sure no other thread uses the allocator meanwhile. */
int zh_debug_visit(zh_debug *self, zh_visit_fn fn, void *user);
/* Number of large-allocation records (live and, with retain_metadata, freed). */
size_t zh_debug_large_count(const zh_debug *self, bool include_freed);


/* ------------------------------------------------------------------------
 * Zig's four generic allocator checks (testAllocator, testAllocatorAligned,
 * testAllocatorLargeAlignment, testAllocatorAlignedShrink). Each wraps `a` in
 * a ValidationAllocator, as Zig does, and returns 0 on success or -1 with a
 * description of the first failure in `why` (when `why` is not NULL).
 * ---------------------------------------------------------------------- */

int zh_test_allocator(zh_allocator a, const char **why);
int zh_test_allocator_aligned(zh_allocator a, const char **why);
int zh_test_allocator_large_alignment(zh_allocator a, const char **why);
int zh_test_allocator_aligned_shrink(zh_allocator a, const char **why);

#ifdef __cplusplus
}
#endif
#endif /* ZHEAP_H */
