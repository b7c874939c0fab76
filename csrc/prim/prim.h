/* prim.h -- the only OS-facing layer of the core. Nothing else calls mmap,
 * munmap, mremap, sysconf or their Windows counterparts directly: porting
 * zheap to another OS means one more file beside prim/unix.c and
 * prim/windows.c. Its calls are shaped so that both can keep them: a mapping
 * or a reservation is made aligned and released whole (Windows cannot free
 * part of one), and shrinking is its own call. */
#ifndef ZHEAP_PRIM_H
#define ZHEAP_PRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Map `len` bytes (a multiple of the page size) of private, zeroed,
 * read-write memory aligned to `align` (a power of two, at least the page
 * size), near `hint` (only a hint). The result is one mapping for
 * _zh_prim_unmap and _zh_prim_shrink. NULL on failure, including a `len`
 * plus alignment slack that overflows. */
void *_zh_prim_map(void *hint, size_t len, size_t align);

/* Unmap the mapping _zh_prim_map returned at `ptr`, now `len` bytes (page
 * multiple) long. Failure is impossible for a mapping the caller owns (Zig
 * treats it as unreachable), so it is not reported. */
void _zh_prim_unmap(void *ptr, size_t len);

/* Give the pages [ptr + new_len, ptr + old_len) of a mapping back to the OS
 * (both lengths page multiples); the mapping is new_len long from now on.
 * POSIX unmaps them; Windows, which frees only whole reservations, decommits
 * them (_zh_prim_unmap at ptr still releases the reservation). */
void _zh_prim_shrink(void *ptr, size_t old_len, size_t new_len);

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

/* Address space only: len bytes aligned to `align` (a power of two, at
 * least the page size), inaccessible, not backed (NULL on failure); commit
 * makes [ptr, ptr+len) of it read-write (false on failure); release unmaps
 * the whole reservation (ptr and len as reserve returned and took them). */
void *_zh_prim_reserve(size_t len, size_t align);
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
