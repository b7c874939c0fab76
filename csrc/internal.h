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

/* Hot paths inline their checks and keep the reporting out of line; a slow
 * path that is not rare (a new slab, a new bucket) stays out of line too, so
 * the fast path needs no stack frame (no callee-saved registers to save). */
#define ZH_INLINE inline __attribute__((always_inline))
#define ZH_COLD __attribute__((cold, noinline))
#define ZH_NOINLINE __attribute__((noinline))

/* zh_mutex's uncontended paths, inline for the allocators' hot paths (the
 * rest is in mutex.c): a lock or an unlock that meets no other thread is
 * one atomic instruction and no call. */
void _zh_mutex_lock_slow(zh_mutex *m);
void _zh_mutex_unlock_slow(zh_mutex *m, uint32_t prev);

static inline void _zh_mutex_lock(zh_mutex *m) {
    uint32_t expected = 0; /* unlocked */
    /* acquire: the previous holder's critical section happens before ours. */
    if (!__atomic_compare_exchange_n(&m->state, &expected, 1, true, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        _zh_mutex_lock_slow(m);
}

static inline void _zh_mutex_unlock(zh_mutex *m) {
    /* release: our critical section happens before the next holder's. */
    uint32_t prev = __atomic_exchange_n(&m->state, 0, __ATOMIC_RELEASE);
    if (prev != 1) _zh_mutex_unlock_slow(m, prev); /* contended, or not locked at all */
}

/* A live block the caller knows of, for the visitors of allocators that keep
 * no record of them (zh_smp_visit_block, zh_bigpage_visit_block): its area,
 * the block (LIVE, `len` bytes with its slot size and alignment) and, when
 * it takes `took` > len bytes, the rest as PADDING. */
static inline int _zh_visit_live_in(const zh_visit_item *area, uintptr_t addr, size_t len, size_t took,
                                    size_t slot_size, zh_alignment al, zh_visit_fn fn, void *user) {
    zh_visit_item live = {.kind = ZH_VISIT_LIVE, .address = addr, .size = len, .slot_size = slot_size,
                          .alignment = zh_alignment_bytes(al)};
    zh_visit_item slack = {.kind = ZH_VISIT_PADDING, .address = addr + len, .size = took - len,
                           .slot_size = slot_size};
    int rc = fn(user, area);
    if (rc == 0) rc = fn(user, &live);
    if (rc == 0 && took > len) rc = fn(user, &slack);
    return rc;
}

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
