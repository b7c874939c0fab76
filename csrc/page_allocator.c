/* page_allocator.c -- PageAllocator and the page-size queries (Zig 0.15.1
 * heap/PageAllocator.zig, heap.zig pageSize/defaultQueryPageSize).
 *
 * Purpose: every request goes straight to the OS, rounded up to whole pages.
 * Basic design: alloc maps `round_up(n, page)` bytes; an alignment above the
 * page size is met by over-mapping and unmapping the misaligned head and the
 * unused tail (prim/unix.c; prim/windows.c reserves at an aligned address).
 * resize/remap use mremap where the OS has it (in place for resize, moving
 * allowed for remap); shrinking in place always succeeds.
 * Thread safety: stateless except the mmap hint, which is updated with a
 * compare-and-swap, so every function may be called from any thread.
 * Complexity: one system call per operation (three for an over-aligned map).
 *
 * Differences from 0.15.1, each a fix of a known bug:
 *  - remap of a block aligned beyond the page size could return a merely
 *    page-aligned address (mremap MAYMOVE). Here such a block is never moved:
 *    remap only succeeds in place, and the caller copies otherwise.
 *  - when rounding the mapped address up to the alignment overflowed, Zig
 *    returned NULL and leaked the mapping; here it is unmapped.
 *  - `aligned_len + max_drop_len` could overflow for absurd alignments (a
 *    panic in Zig's safe builds); here the request fails with NULL. */
#include "internal.h"
#include "prim/prim.h"

#include <stdatomic.h>

const size_t zh_page_size_min = ZH_PAGE_SIZE_MIN;
const size_t zh_page_size_max = ZH_PAGE_SIZE_MAX;

/* Relaxed ("unordered" in Zig) is enough: the value is a cache of an
 * idempotent query, and every thread computes the same answer. */
static _Atomic size_t cached_page_size;

size_t zh_default_query_page_size(void) {
    size_t size = atomic_load_explicit(&cached_page_size, memory_order_relaxed);
    if (size > 0) return size;
    size = _zh_prim_page_size();
    if (size < ZH_PAGE_SIZE_MIN || size > ZH_PAGE_SIZE_MAX) return 0;
    atomic_store_explicit(&cached_page_size, size, memory_order_relaxed);
    return size;
}

/* next_mmap_addr_hint: where the previous mapping ended, so that successive
 * mappings tend to be contiguous and grow-in-place (mremap) has room. */
static _Atomic(uintptr_t) next_hint;

void *zh_next_mmap_addr_hint(void) {
    return (void *)atomic_load_explicit(&next_hint, memory_order_relaxed);
}

void zh_set_next_mmap_addr_hint(void *hint) {
    atomic_store_explicit(&next_hint, (uintptr_t)hint, memory_order_relaxed);
}

/* round_up(n, p) for a power-of-two p; false on overflow. */
static bool round_up_page(size_t n, size_t p, size_t *out) {
    if (n > SIZE_MAX - (p - 1)) return false;
    *out = (n + (p - 1)) & ~(p - 1);
    return true;
}

void *zh_page_map(size_t n, zh_alignment al) {
    const size_t page = zh_page_size();
    if (page == 0 || n >= SIZE_MAX - page) return NULL;
    if (al > ZH_ALIGNMENT_MAX) return NULL;
    const size_t align_bytes = zh_alignment_bytes(al);
    size_t aligned_len;
    if (!round_up_page(n, page, &aligned_len)) return NULL;
    /* prim over-maps by align - page and trims (POSIX), or reserves aligned
     * (Windows); either fails cleanly where Zig overflowed or leaked. */
    uintptr_t hint = atomic_load_explicit(&next_hint, memory_order_relaxed);
    char *mapped = _zh_prim_map((void *)hint, aligned_len, align_bytes > page ? align_bytes : page);
    if (mapped == NULL) return NULL;
    /* Another thread may have moved the hint meanwhile; then leave it. */
    uintptr_t expected = hint;
    atomic_compare_exchange_strong_explicit(&next_hint, &expected, (uintptr_t)mapped + aligned_len,
                                            memory_order_relaxed, memory_order_relaxed);
    return mapped;
}

void zh_page_unmap(void *ptr, size_t len) {
    size_t rounded;
    if (!round_up_page(len, zh_page_size(), &rounded)) return;
    _zh_prim_unmap(ptr, rounded);
}

void *zh_page_realloc(void *ptr, size_t len, zh_alignment al, size_t new_len, bool may_move) {
    const size_t page = zh_page_size();
    size_t new_aligned, old_aligned;
    if (!round_up_page(new_len, page, &new_aligned) || !round_up_page(len, page, &old_aligned))
        return NULL;
    if (new_aligned == old_aligned) return ptr; /* same number of pages */
    if (_zh_prim_has_mremap()) {
        /* mremap keeps only page alignment when it moves (0.15.1 bug). */
        if (zh_alignment_bytes(al) > page) may_move = false;
        return _zh_prim_mremap(ptr, len, new_len, may_move);
    }
    if (new_aligned < old_aligned) {
        _zh_prim_shrink(ptr, old_aligned, new_aligned);
        return ptr;
    }
    return NULL;
}

static void *page_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    (void)ctx, (void)ra;
    return zh_page_map(len, al);
}

static bool page_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    (void)ctx, (void)ra;
    return zh_page_realloc(mem, len, al, new_len, false) != NULL;
}

static void *page_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    (void)ctx, (void)ra;
    return zh_page_realloc(mem, len, al, new_len, true);
}

static void page_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    (void)ctx, (void)al, (void)ra;
    zh_page_unmap(mem, len);
}

static const zh_allocator_vtable page_vtable = {page_alloc, page_resize, page_remap, page_free};

zh_allocator zh_page_allocator(void) {
    return (zh_allocator){NULL, &page_vtable};
}

size_t zh_memory_limit_hint(void) { return _zh_prim_memory_total(); }
