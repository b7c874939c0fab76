/* prim/unix.c -- POSIX implementation of prim.h (Linux gets mremap). */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* mremap, MREMAP_MAYMOVE */
#endif
#include "prim.h"

#if defined(__GLIBC__) || defined(__APPLE__)
#include <execinfo.h>
#define ZH_HAVE_BACKTRACE 1
#endif
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#endif

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif

/* Map len + slack bytes with `prot`/`flags` and unmap the misaligned head
 * and the unused tail, so that an aligned run of len bytes stays (Zig's
 * over-map for alignments above the page size). No slack is needed up to
 * the page size: mmap returns page-aligned memory. */
static void *map_aligned(void *hint, size_t len, size_t align, int prot, int flags) {
    size_t page = _zh_prim_page_size();
    size_t slack = align > page ? align - page : 0;
    if (page == 0 || len > SIZE_MAX - slack) return NULL;
    char *mapped = mmap(hint, len + slack, prot, flags, -1, 0);
    if (mapped == MAP_FAILED) return NULL;
    uintptr_t start = (uintptr_t)mapped;
    if (start > UINTPTR_MAX - (align - 1)) { /* rounding up overflows: Zig leaked it */
        (void)munmap(mapped, len + slack);
        return NULL;
    }
    size_t head = (size_t)(((start + (align - 1)) & ~(uintptr_t)(align - 1)) - start);
    if (head != 0) (void)munmap(mapped, head);
    if (slack - head != 0) (void)munmap(mapped + head + len, slack - head);
    return mapped + head;
}

void *_zh_prim_map(void *hint, size_t len, size_t align) {
    return map_aligned(hint, len, align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
}

void _zh_prim_unmap(void *ptr, size_t len) {
    (void)munmap(ptr, len);
}

void _zh_prim_shrink(void *ptr, size_t old_len, size_t new_len) {
    (void)munmap((char *)ptr + new_len, old_len - new_len);
}

bool _zh_prim_has_mremap(void) {
#if defined(__linux__)
    return true;
#else
    return false;
#endif
}

void *_zh_prim_mremap(void *ptr, size_t old_len, size_t new_len, bool may_move) {
#if defined(__linux__)
    void *p = mremap(ptr, old_len, new_len, may_move ? MREMAP_MAYMOVE : 0);
    return p == MAP_FAILED ? NULL : p;
#else
    (void)ptr;
    (void)old_len;
    (void)new_len;
    (void)may_move;
    return NULL;
#endif
}

size_t _zh_prim_page_size(void) {
    long n = sysconf(_SC_PAGESIZE);
    return n > 0 ? (size_t)n : 0;
}

size_t _zh_prim_memory_total(void) {
#if defined(__linux__)
    struct sysinfo si;
    if (sysinfo(&si) == 0) {
        unsigned long long total = ((unsigned long long)si.totalram + si.totalswap) * si.mem_unit;
        return total < SIZE_MAX ? (size_t)total : SIZE_MAX;
    }
#elif defined(_SC_PHYS_PAGES)
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && size > 0 && (unsigned long long)pages <= SIZE_MAX / (size_t)size) return (size_t)pages * (size_t)size;
#endif
    return SIZE_MAX;
}

void _zh_prim_futex_wait(const uint32_t *addr, uint32_t expect) {
#if defined(__linux__)
    /* EAGAIN (the value changed), EINTR and spurious wake-ups all return to
     * the caller, which re-checks the state. */
    (void)syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expect, NULL, NULL, 0);
#else
    (void)addr;
    (void)expect;
    (void)sched_yield();
#endif
}

void _zh_prim_futex_wake_one(const uint32_t *addr) {
#if defined(__linux__)
    (void)syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
#else
    (void)addr;
#endif
}

size_t _zh_prim_backtrace(uintptr_t *out, size_t n) {
#if defined(ZH_HAVE_BACKTRACE)
    void *frames[128];
    int got = backtrace(frames, n < 128 ? (int)n : 128);
    for (int i = 0; i < got; i++) out[i] = (uintptr_t)frames[i];
    return got > 0 ? (size_t)got : 0;
#else
    (void)out;
    (void)n;
    return 0;
#endif
}

unsigned _zh_prim_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 0;
}

void _zh_prim_yield(void) { (void)sched_yield(); }

void *_zh_prim_reserve(size_t len, size_t align) {
#ifdef MAP_NORESERVE
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
#else
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#endif
    return map_aligned(NULL, len, align, PROT_NONE, flags);
}

bool _zh_prim_commit(void *ptr, size_t len) { return mprotect(ptr, len, PROT_READ | PROT_WRITE) == 0; }

void _zh_prim_release(void *ptr, size_t len) { (void)munmap(ptr, len); }
