/* internal.h -- shared by the C core's files; not part of the public API.
 * `_zh_` names are visible across the core's files but are not for users. */
#ifndef ZHEAP_INTERNAL_H
#define ZHEAP_INTERNAL_H

#include "zheap.h"

#include <string.h>

/* Zig's Debug builds write 0xAA ("undefined") into fresh allocations, freed
 * memory and bytes dropped by a shrink; users of the DebugAllocator see it.
 * Off by default because it costs a memset on every call. */
#ifndef ZH_FILL_UNDEFINED
#define ZH_FILL_UNDEFINED 0
#endif

static inline void _zh_fill_undefined(void *p, size_t n) {
#if ZH_FILL_UNDEFINED
    memset(p, 0xAA, n);
#else
    (void)p;
    (void)n;
#endif
}

/* a * b without wrapping: false on overflow (Zig's math.mul). */
static inline bool _zh_mul(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* Hot paths inline their checks and keep the reporting out of line. */
#define ZH_INLINE inline __attribute__((always_inline))
#define ZH_COLD __attribute__((cold, noinline))

/* The engine WasmAllocator and SbrkAllocator share (bigpage.c). `grow`
 * returns the address of `bytes` new bytes (a multiple of 64 KiB, and
 * 64 KiB-aligned), or 0. */
typedef uintptr_t (*_zh_bigpage_grow_fn)(void *ctx, size_t bytes);
void *_zh_bigpage_alloc(zh_bigpage_state *s, size_t len, zh_alignment al, _zh_bigpage_grow_fn grow, void *ctx);
bool _zh_bigpage_resize(size_t len, zh_alignment al, size_t new_len);
void _zh_bigpage_free(zh_bigpage_state *s, void *mem, size_t len, zh_alignment al);

/* Unconditional panic (Zig's @panic): print and abort. */
_Noreturn void _zh_panic(const char *message);

#endif
