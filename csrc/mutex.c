/* mutex.c -- zh_mutex, a port of Zig 0.15.1's std.Thread.Mutex futex
 * implementation. Zig's allocators that need a lock (ThreadSafeAllocator,
 * DebugAllocator's thread_safe, SmpAllocator's thread slots) use it; it is a
 * 4-byte word, so those structures stay free of OS headers.
 *
 * States: UNLOCKED, LOCKED (no sleepers), CONTENDED (maybe sleepers). A
 * thread that has slept always takes the lock as CONTENDED, so that its
 * unlock wakes the next sleeper; the cost is one needless wake at the end. */
#include "internal.h"
#include "prim/prim.h"

enum { UNLOCKED = 0, LOCKED = 1, CONTENDED = 3 };

bool zh_mutex_try_lock(zh_mutex *m) {
    uint32_t expected = UNLOCKED;
    /* acquire: the previous holder's critical section happens before ours. */
    return __atomic_compare_exchange_n(&m->state, &expected, LOCKED, true, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

_Static_assert(UNLOCKED == 0 && LOCKED == 1, "internal.h's inline fast paths use 0 and 1");

void _zh_mutex_lock_slow(zh_mutex *m) {
    /* Skip the swap when the state already says contended: a swap dirties the
     * cache line even when it changes nothing. */
    if (__atomic_load_n(&m->state, __ATOMIC_RELAXED) == CONTENDED) _zh_prim_futex_wait(&m->state, CONTENDED);
    while (__atomic_exchange_n(&m->state, CONTENDED, __ATOMIC_ACQUIRE) != UNLOCKED)
        _zh_prim_futex_wait(&m->state, CONTENDED);
}

/* The unlocking swap found `prev` other than LOCKED: CONTENDED (wake a
 * sleeper) or UNLOCKED (unlocking a mutex nobody holds: a bug). */
void _zh_mutex_unlock_slow(zh_mutex *m, uint32_t prev) {
    if (prev == UNLOCKED) _zh_panic("zh_mutex_unlock: the mutex was not locked");
    if (prev == CONTENDED) _zh_prim_futex_wake_one(&m->state);
}

void zh_mutex_lock(zh_mutex *m) { _zh_mutex_lock(m); }

void zh_mutex_unlock(zh_mutex *m) { _zh_mutex_unlock(m); }
