/* prim.h -- the only OS-facing layer of the core. Nothing else calls mmap,
 * munmap, mremap or sysconf directly, so porting zheap to another OS means
 * writing one more file beside prim/unix.c. */
#ifndef ZHEAP_PRIM_H
#define ZHEAP_PRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Map `len` bytes (a multiple of the page size) of private, zeroed,
 * read-write memory near `hint` (only a hint). NULL on failure. */
void *_zh_prim_mmap(void *hint, size_t len);

/* Unmap [ptr, ptr+len); ptr page-aligned. Failure is impossible for ranges
 * the caller mapped (Zig treats it as unreachable), so it is not reported. */
void _zh_prim_munmap(void *ptr, size_t len);

/* True where the OS can resize a mapping (Linux mremap). */
bool _zh_prim_has_mremap(void);

/* mremap(ptr, old_len, new_len, may_move ? MREMAP_MAYMOVE : 0); NULL on
 * failure or where _zh_prim_has_mremap() is false. Lengths need not be
 * page multiples; the kernel rounds them. */
void *_zh_prim_mremap(void *ptr, size_t old_len, size_t new_len, bool may_move);

/* The OS page size, or 0 if it cannot be read. */
size_t _zh_prim_page_size(void);
/* Physical memory plus swap, in bytes (SIZE_MAX if unknown): no amount of
 * memory that is written to can be larger. */
size_t _zh_prim_memory_total(void);

/* Futex-style waiting (Zig's std.Thread.Futex): sleep while *addr == expect
 * (spurious wake-ups allowed), and wake one sleeper on addr. Where the OS has
 * no futex, wait yields the processor instead, which is correct but spins. */
void _zh_prim_futex_wait(const uint32_t *addr, uint32_t expect);
void _zh_prim_futex_wake_one(const uint32_t *addr);

/* Address space only: len bytes, inaccessible, not backed (NULL on
 * failure); commit makes [ptr, ptr+len) read-write (false on failure);
 * release unmaps. ptr and len page-aligned. */
void *_zh_prim_reserve(size_t len);
bool _zh_prim_commit(void *ptr, size_t len);
void _zh_prim_release(void *ptr, size_t len);

/* Give up the processor for a moment (sched_yield). */
void _zh_prim_yield(void);

/* Online processors, or 0 if unknown (SmpAllocator's getCpuCount). */
unsigned _zh_prim_cpu_count(void);

/* Up to n return addresses of the calling thread, innermost first; the
 * count (0 where the platform cannot). */
size_t _zh_prim_backtrace(uintptr_t *out, size_t n);

#endif
