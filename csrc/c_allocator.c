/* c_allocator.c -- c_allocator and raw_c_allocator (Zig 0.15.1 heap.zig).
 *
 * Purpose: libc's heap behind the allocator interface.
 * Basic design: c_allocator takes any power-of-two alignment through
 * posix_memalign (malloc up to alignof(max_align_t)) and reports in-place
 * growth up to malloc_usable_size; remap calls realloc only for blocks of
 * alignment up to alignof(max_align_t), which realloc keeps (Zig 0.15.1
 * never calls it). raw_c_allocator is bare malloc/realloc/free, limited to
 * alignof(max_align_t), and is the better backing for an arena.
 * Thread safety: as libc's malloc (thread-safe).
 * Complexity: that of the libc allocator. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* malloc_usable_size */
#endif
#include "internal.h"

#include <stdlib.h>
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#define ZH_HAVE_MALLOC_USABLE_SIZE 1
#define ZH_HAVE_POSIX_MEMALIGN 1
#elif defined(__APPLE__)
#include <malloc/malloc.h>
#define ZH_HAVE_MALLOC_SIZE 1
#define ZH_HAVE_POSIX_MEMALIGN 1
#elif defined(_WIN32)
#include <malloc.h> /* _msize */
#else
#define ZH_HAVE_POSIX_MEMALIGN 1
#endif

/* Where there is no posix_memalign (Windows), a block aligned beyond malloc's
 * comes from Zig's fallback: malloc len + align - 1 + a pointer, and keep the
 * pointer malloc returned just below the aligned block (Zig 0.15.1 heap.zig,
 * CAllocator.alignedAlloc; MIT, see NOTICE). free takes the same alignment
 * as alloc did, so it knows which kind of block it has. */
#if !defined(ZH_HAVE_POSIX_MEMALIGN)
static void **header_of(void *ptr) { return (void **)((char *)ptr - sizeof(void *)); }

static void *header_alloc(size_t len, size_t align) {
    if (len > SIZE_MAX - align - sizeof(void *)) return NULL;
    char *raw = malloc(len + align - 1 + sizeof(void *));
    if (raw == NULL) return NULL;
    uintptr_t at = ((uintptr_t)raw + sizeof(void *) + (align - 1)) & ~(uintptr_t)(align - 1);
    *header_of((void *)at) = raw;
    return (void *)at;
}
#endif

/* malloc's own usable size of a block c_alloc took from malloc, or 0. */
static size_t usable_size(void *mem) {
#if defined(ZH_HAVE_MALLOC_USABLE_SIZE)
    return malloc_usable_size(mem);
#elif defined(ZH_HAVE_MALLOC_SIZE)
    return malloc_size(mem);
#elif defined(_WIN32)
    return _msize(mem);
#else
    (void)mem;
    return 0;
#endif
}

/* --- c_allocator -------------------------------------------------------- */

static void *c_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    (void)ctx, (void)ra;
    /* A block aligned to half the address space could only sit at its
     * midpoint, which no user-space heap hands out; refuse it here rather
     * than rely on every libc (and ASan's interceptor, which trips an
     * internal CHECK on it) to fail gracefully. */
    if (al >= ZH_ALIGNMENT_MAX) return NULL;
    size_t align = zh_alignment_bytes(al);
    /* Zig calls posix_memalign for every alignment. malloc already gives
     * alignof(max_align_t), and glibc's posix_memalign costs several times
     * its malloc (bench/workloads.c: c_allocator 1.5x Zig's on the size mix
     * before this), so small alignments take malloc. */
    if (align <= _Alignof(max_align_t)) return malloc(len);
#if defined(ZH_HAVE_POSIX_MEMALIGN)
    if (align < sizeof(void *)) align = sizeof(void *); /* posix_memalign's minimum */
    void *p = NULL;
    if (posix_memalign(&p, align, len) != 0) return NULL;
    return p;
#else
    return header_alloc(len, align);
#endif
}

static bool c_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    (void)ctx, (void)ra;
    /* A shrink "succeeds" and gives nothing back to libc, as Zig's does. */
    if (new_len <= len) return true;
#if !defined(ZH_HAVE_POSIX_MEMALIGN)
    if (zh_alignment_bytes(al) > _Alignof(max_align_t)) {
        void *raw = *header_of(mem); /* Zig's alignedAllocSize */
        return new_len <= usable_size(raw) - (size_t)((char *)mem - (char *)raw);
    }
#else
    (void)al;
#endif
    return new_len <= usable_size(mem);
}

static void *c_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    if (c_resize(ctx, mem, len, al, new_len, ra)) return mem;
    /* Zig 0.15.1 stops here, so every growth malloc_usable_size cannot absorb
     * becomes alloc + copy + free in the caller (57x glibc's realloc on the
     * realloc-heavy trace). A block of alignment up to alignof(max_align_t)
     * came from malloc (c_alloc), and realloc keeps that alignment, so it may
     * move it; on failure libc leaves the block intact, as remap must. A
     * larger alignment came from posix_memalign: realloc could lose it. */
    if (zh_alignment_bytes(al) <= _Alignof(max_align_t)) return realloc(mem, new_len);
    return NULL;
}

static void c_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    (void)ctx, (void)len, (void)al, (void)ra;
#if !defined(ZH_HAVE_POSIX_MEMALIGN)
    if (zh_alignment_bytes(al) > _Alignof(max_align_t)) mem = *header_of(mem);
#endif
    free(mem);
}

static const zh_allocator_vtable c_vtable = {c_alloc, c_resize, c_remap, c_free};

zh_allocator zh_c_allocator(void) {
    return (zh_allocator){NULL, &c_vtable};
}

/* --- raw_c_allocator ---------------------------------------------------- */

static void *raw_c_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    (void)ctx, (void)ra;
    /* Zig asserts this; a C caller asking for more gets out-of-memory rather
     * than a silently under-aligned block. malloc may return less than
     * max_align_t alignment for small sizes, which still suits any type of
     * that size (Zig's comment). */
    if (al > ZH_ALIGNMENT_MAX || zh_alignment_bytes(al) > ZH_RAW_C_MAX_ALIGNMENT) return NULL;
    return malloc(len);
}

static void *raw_c_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    (void)ctx, (void)len, (void)al, (void)ra;
    /* On failure libc leaves the block intact: the remap contract. */
    return realloc(mem, new_len);
}

static void raw_c_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    (void)ctx, (void)len, (void)al, (void)ra;
    free(mem);
}

static const zh_allocator_vtable raw_c_vtable = {raw_c_alloc, zh_no_resize, raw_c_remap, raw_c_free};

zh_allocator zh_raw_c_allocator(void) {
    return (zh_allocator){NULL, &raw_c_vtable};
}
