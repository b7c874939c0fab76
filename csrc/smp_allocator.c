/* smp_allocator.c -- SmpAllocator (Zig 0.15.1 heap/SmpAllocator.zig).
 *
 * Purpose: a fast general-purpose allocator for multi-threaded programs.
 * Basic design: one global array of thread slots, each a mutex plus, per
 * power-of-two size class (8 B .. half a slab), a bump pointer into the
 * current slab and a singly linked free list. A thread remembers its slot in
 * a thread-local index and moves to the next slot when its own is locked by
 * another thread (so slots spread over threads without any registration).
 * Frees go to the free list of whatever slot the freeing thread holds, so
 * memory migrates between threads freely. Slabs (64 KiB) come from the page
 * allocator and are never returned; larger requests go straight to it.
 * Thread safety: every operation on a slot holds its lock; the CPU count is
 * computed once with a compare-and-swap.
 * Complexity: O(1) alloc/free; constants are Zig's. */
#include "internal.h"

#include "prim/prim.h"

_Static_assert(sizeof(size_t) == 8, "ZH_SMP_MIN_CLASS assumes a 64-bit target");
_Static_assert(ZH_SMP_SLAB_LEN >> ZH_SMP_MIN_CLASS == (size_t)1 << ZH_SMP_SIZE_CLASS_COUNT,
               "size_class_count = log2(slab_len) - min_class");

enum { MAX_ALLOC_SEARCH = 1 };

/* The slot lock. Zig uses std.Thread.Mutex but only ever calls tryLock on
 * it, so no thread ever sleeps on a slot; a try-only flag then needs no
 * read-modify-write to unlock (a release store), which halves the atomic
 * operations per allocation. Measured: the mutex's lock/unlock took 81% of
 * the 16-byte churn (bench/smp_churn.c) on these machines. */
typedef struct slot_lock {
    uint32_t locked;
} slot_lock;

static bool slot_try_lock(slot_lock *l) {
    /* test, then test-and-set: a held lock costs no cache-line write. */
    return __atomic_load_n(&l->locked, __ATOMIC_RELAXED) == 0 &&
           __atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE) == 0;
}

static void slot_unlock(slot_lock *l) { __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE); }

typedef struct smp_slot {
    _Alignas(64) slot_lock mutex; /* cache-line aligned, as Zig's Thread */
    uintptr_t next_addrs[ZH_SMP_SIZE_CLASS_COUNT];
    uintptr_t frees[ZH_SMP_SIZE_CLASS_COUNT];
    uint32_t slabs[ZH_SMP_SIZE_CLASS_COUNT]; /* introspection only */
} smp_slot;

static struct {
    uint32_t cpu_count;
    smp_slot slots[ZH_SMP_MAX_THREADS];
} global;

/* initial-exec: the extension module is a shared object, where the default
 * TLS model would cost a __tls_get_addr call per allocation. */
static _Thread_local uint32_t thread_index __attribute__((tls_model("initial-exec")));

static uint32_t cpu_count(void) {
    uint32_t n = __atomic_load_n(&global.cpu_count, __ATOMIC_RELAXED);
    if (n != 0) return n;
    unsigned cpus = _zh_prim_cpu_count();
    n = cpus == 0 || cpus > ZH_SMP_MAX_THREADS ? ZH_SMP_MAX_THREADS : cpus;
    uint32_t expected = 0;
    if (!__atomic_compare_exchange_n(&global.cpu_count, &expected, n, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return expected;
    return n;
}

/* Thread.lock() when this thread's slot is taken: the next free one, which
 * becomes this thread's from now on. */
ZH_NOINLINE static smp_slot *lock_other_slot(void) {
    uint32_t index = thread_index;
    smp_slot *t;
    uint32_t n = cpu_count();
    for (;;) {
        index = (index + 1) % n;
        t = &global.slots[index];
        if (slot_try_lock(&t->mutex)) {
            thread_index = index;
            return t;
        }
    }
}

/* Thread.lock(): this thread's slot if free, else lock_other_slot(). */
static inline smp_slot *lock_slot(void) {
    smp_slot *t = &global.slots[thread_index];
    return slot_try_lock(&t->mutex) ? t : lock_other_slot();
}

static size_t size_class_index(size_t len, zh_alignment al) {
    size_t c = len <= 1 ? 0 : (size_t)(64 - __builtin_clzll((unsigned long long)(len - 1)));
    if (c < al) c = al;
    if (c < ZH_SMP_MIN_CLASS) c = ZH_SMP_MIN_CLASS;
    return c - ZH_SMP_MIN_CLASS;
}

static size_t slot_size(size_t class) { return (size_t)1 << (class + ZH_SMP_MIN_CLASS); }

static void *alloc_slow(size_t len, uint8_t al, size_t class, smp_slot *t);

/* The common case inline -- this thread's slot is free and its free list
 * has a slot of the class -- and everything else in alloc_slow: the same
 * algorithm as Zig's, split so that the fast path is a leaf without a
 * stack frame (about 12% of a 64 B churn step: bench/smp_churn.c). */
static void *smp_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    (void)ctx, (void)ra;
    size_t class = size_class_index(len, al);
    if (class >= ZH_SMP_SIZE_CLASS_COUNT) return alloc_slow(len, al, class, NULL);
    smp_slot *t = &global.slots[thread_index];
    if (!slot_try_lock(&t->mutex)) return alloc_slow(len, al, class, NULL);
    uintptr_t top = t->frees[class];
    if (top == 0) return alloc_slow(len, al, class, t);
    uintptr_t next;
    memcpy(&next, (void *)top, sizeof next);
    t->frees[class] = next;
    slot_unlock(&t->mutex);
    return (void *)top;
}

/* smp_alloc's whole algorithm; `t` is the slot already locked, or NULL. */
ZH_NOINLINE static void *alloc_slow(size_t len, uint8_t al, size_t class, smp_slot *t) {
    if (class >= ZH_SMP_SIZE_CLASS_COUNT) return zh_page_map(len, al);
    size_t size = slot_size(class);
    int search_count = 0;
    if (t == NULL) t = lock_slot();
    for (;;) {
        uintptr_t top = t->frees[class];
        if (top != 0) {
            uintptr_t next;
            memcpy(&next, (void *)top, sizeof next);
            t->frees[class] = next;
            slot_unlock(&t->mutex);
            return (void *)top;
        }
        uintptr_t next_addr = t->next_addrs[class];
        if (next_addr % ZH_SMP_SLAB_LEN != 0) {
            t->next_addrs[class] = next_addr + size;
            slot_unlock(&t->mutex);
            return (void *)next_addr;
        }
        if (search_count >= MAX_ALLOC_SEARCH) {
            /* Out of free slots here and in one other slot: a new slab. */
            char *slab = zh_page_map(ZH_SMP_SLAB_LEN, zh_alignment_from_bytes(ZH_SMP_SLAB_LEN));
            if (slab != NULL) {
                t->next_addrs[class] = (uintptr_t)slab + size;
                t->slabs[class]++;
            }
            slot_unlock(&t->mutex);
            return slab;
        }
        /* Look in another slot before mapping a slab: another thread may have
         * freed memory of this class there. */
        slot_unlock(&t->mutex);
        uint32_t n = cpu_count(), index = thread_index;
        for (;;) {
            index = (index + 1) % n;
            t = &global.slots[index];
            if (slot_try_lock(&t->mutex)) {
                thread_index = index;
                search_count++;
                break;
            }
        }
    }
}

static bool smp_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    (void)ctx, (void)ra;
    size_t class = size_class_index(len, al), new_class = size_class_index(new_len, al);
    if (class >= ZH_SMP_SIZE_CLASS_COUNT) {
        if (new_class < ZH_SMP_SIZE_CLASS_COUNT) return false;
        return zh_page_realloc(mem, len, al, new_len, false) != NULL;
    }
    return new_class == class;
}

static void *smp_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    (void)ctx, (void)ra;
    size_t class = size_class_index(len, al), new_class = size_class_index(new_len, al);
    if (class >= ZH_SMP_SIZE_CLASS_COUNT) {
        if (new_class < ZH_SMP_SIZE_CLASS_COUNT) return NULL;
        return zh_page_realloc(mem, len, al, new_len, true);
    }
    return new_class == class ? mem : NULL;
}

static void smp_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    (void)ctx, (void)ra;
    size_t class = size_class_index(len, al);
    if (class >= ZH_SMP_SIZE_CLASS_COUNT) {
        zh_page_unmap(mem, len);
        return;
    }
    smp_slot *t = lock_slot();
    memcpy(mem, &t->frees[class], sizeof(uintptr_t));
    t->frees[class] = (uintptr_t)mem;
    slot_unlock(&t->mutex);
}

static const zh_allocator_vtable smp_vtable = {smp_alloc, smp_resize, smp_remap, smp_free};

zh_allocator zh_smp_allocator(void) { return (zh_allocator){NULL, &smp_vtable}; }

unsigned zh_smp_slot_count(void) { return cpu_count(); }

size_t zh_smp_footprint(size_t len, zh_alignment al) {
    size_t class = size_class_index(len, al);
    return class < ZH_SMP_SIZE_CLASS_COUNT ? slot_size(class) : 0;
}

/* The slab a slot at `addr` lies in: slabs are mapped at their own length's
 * alignment, so masking finds the start. */
static zh_visit_item slab_of(uintptr_t addr, size_t slot, size_t used) {
    return (zh_visit_item){.kind = ZH_VISIT_AREA, .area = "slab", .address = addr & ~(uintptr_t)(ZH_SMP_SLAB_LEN - 1),
                           .size = ZH_SMP_SLAB_LEN, .used = used, .slot_size = slot,
                           .slot_count = ZH_SMP_SLAB_LEN / slot};
}

static int visit_slot(smp_slot *t, zh_visit_fn fn, void *user) {
    int rc = 0;
    for (size_t c = 0; c < ZH_SMP_SIZE_CLASS_COUNT && rc == 0; c++) {
        size_t size = slot_size(c);
        /* A multiple of the slab length means "no current slab" (Zig's test). */
        uintptr_t next = t->next_addrs[c];
        if (next % ZH_SMP_SLAB_LEN != 0) {
            zh_visit_item slab = slab_of(next, size, next % ZH_SMP_SLAB_LEN);
            rc = fn(user, &slab);
        }
        size_t order = 0;
        for (uintptr_t p = t->frees[c]; p != 0 && rc == 0; memcpy(&p, (void *)p, sizeof p)) {
            zh_visit_item slab = slab_of(p, size, ZH_SMP_SLAB_LEN);
            zh_visit_item free_slot = {.kind = ZH_VISIT_FREE, .address = p, .size = size, .slot_size = size,
                                       .order = ++order};
            rc = fn(user, &slab);
            if (rc == 0) rc = fn(user, &free_slot);
        }
    }
    return rc;
}

int zh_smp_visit(zh_visit_fn fn, void *user) {
    int rc = 0;
    for (unsigned i = 0, n = zh_smp_slot_count(); i < n && rc == 0; i++) {
        smp_slot *t = &global.slots[i];
        while (!slot_try_lock(&t->mutex)) _zh_prim_yield();
        rc = visit_slot(t, fn, user);
        slot_unlock(&t->mutex);
    }
    return rc;
}

int zh_smp_visit_block(const void *ptr, size_t len, zh_alignment al, zh_visit_fn fn, void *user) {
    uintptr_t addr = (uintptr_t)ptr;
    size_t slot = zh_smp_footprint(len, al);
    if (slot != 0) {
        zh_visit_item slab = slab_of(addr, slot, ZH_SMP_SLAB_LEN);
        return _zh_visit_live_in(&slab, addr, len, slot, slot, al, fn, user);
    }
    /* Too large for a slab: the page allocator mapped it on its own. */
    size_t page = zh_page_size(), mapped = len > SIZE_MAX - (page - 1) ? len : (len + page - 1) / page * page;
    zh_visit_item mapping = {.kind = ZH_VISIT_AREA, .area = "mapping", .address = addr, .size = mapped, .used = len};
    return _zh_visit_live_in(&mapping, addr, len, mapped, 0, al, fn, user);
}

void zh_smp_slot_stats_of(unsigned slot, zh_smp_slot_stats *out) {
    memset(out, 0, sizeof *out);
    if (slot >= ZH_SMP_MAX_THREADS) return;
    smp_slot *t = &global.slots[slot];
    while (!slot_try_lock(&t->mutex)) _zh_prim_yield();
    for (size_t c = 0; c < ZH_SMP_SIZE_CLASS_COUNT; c++) {
        size_t n = 0;
        for (uintptr_t p = t->frees[c]; p != 0; n++) memcpy(&p, (void *)p, sizeof p);
        out->free_counts[c] = n;
        out->slabs[c] = t->slabs[c];
    }
    slot_unlock(&t->mutex);
}
