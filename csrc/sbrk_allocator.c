/* sbrk_allocator.c -- SbrkAllocator(sbrk) (Zig 0.15.1 heap/sbrk_allocator.zig).
 *
 * Purpose: an allocator for targets whose only memory primitive is moving a
 * program break (freestanding, old Unix, teaching).
 * Basic design: bigpage.c's algorithm; new big pages come from sbrk. Zig's
 * sbrk returns the new memory's address or 0; zheap's, POSIX-like, returns
 * the old break or (void *)-1.
 * Thread safety: one mutex around every call, as Zig's. */
#include "internal.h"

#include "prim/prim.h"

void zh_sbrk_init(zh_sbrk *self, zh_sbrk_fn sbrk, void *user) {
    memset(self, 0, sizeof *self);
    self->sbrk = sbrk;
    self->user = user;
    self->mutex = (zh_mutex)ZH_MUTEX_INIT;
    self->thread_safe = true;
}

static void lock(zh_sbrk *self) {
    if (self->thread_safe) _zh_mutex_lock(&self->mutex);
}
static void unlock(zh_sbrk *self) {
    if (self->thread_safe) _zh_mutex_unlock(&self->mutex);
}

static uintptr_t grow(void *ctx, size_t bytes) {
    zh_sbrk *self = ctx;
    if (bytes > (size_t)PTRDIFF_MAX) return 0;
    void *old = self->sbrk((ptrdiff_t)bytes, self->user);
    if (old == (void *)-1 || old == NULL) return 0;
    /* The algorithm needs big pages aligned to 64 KiB (slots are aligned to
     * their size through them); a break that is not cannot be used. */
    if ((uintptr_t)old % ZH_BIGPAGE_SIZE != 0) return 0;
    return (uintptr_t)old;
}

static void *sbrk_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    (void)ra;
    zh_sbrk *self = ctx;
    /* Runs of big pages are only 64 KiB-aligned: the largest alignment. */
    if (zh_alignment_bytes(al) > ZH_BIGPAGE_SIZE) return NULL;
    lock(self);
    void *p = _zh_bigpage_alloc(&self->s, len, al, grow, self);
    unlock(self);
    return p;
}

static bool sbrk_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    (void)mem, (void)ra;
    zh_sbrk *self = ctx;
    lock(self);
    bool ok = _zh_bigpage_resize(len, al, new_len);
    unlock(self);
    return ok;
}

static void *sbrk_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    return sbrk_resize(ctx, mem, len, al, new_len, ra) ? mem : NULL;
}

static void sbrk_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    (void)ra;
    zh_sbrk *self = ctx;
    lock(self);
    _zh_bigpage_free(&self->s, mem, len, al);
    unlock(self);
}

static const zh_allocator_vtable sbrk_vtable = {sbrk_alloc, sbrk_resize, sbrk_remap, sbrk_free};

zh_allocator zh_sbrk_allocator(zh_sbrk *self) { return (zh_allocator){self, &sbrk_vtable}; }

/* --- the emulated program break ------------------------------------------------ */

int zh_brk_region_init(zh_brk_region *r, size_t capacity) {
    memset(r, 0, sizeof *r);
    size_t cap = zh_align_forward(capacity, zh_alignment_from_bytes(ZH_BIGPAGE_SIZE));
    if (cap == 0 || cap < capacity || cap > SIZE_MAX - ZH_BIGPAGE_SIZE) return -1;
    char *start = _zh_prim_reserve(cap, ZH_BIGPAGE_SIZE);
    if (start == NULL) return -1;
    r->start = r->brk = r->committed = start;
    r->end = start + cap;
    return 0;
}

void zh_brk_region_deinit(zh_brk_region *r) {
    if (r->start != NULL) _zh_prim_release(r->start, (size_t)(r->end - r->start));
    memset(r, 0, sizeof *r);
}

bool zh_brk_region_commit(zh_brk_region *r, const void *ptr, size_t len) {
    const char *p = ptr;
    if (p < r->start || p > r->end || len > (size_t)(r->end - p)) return false;
    const char *want = p + len;
    if (want <= r->committed) return true;
    /* Commit from the high-water mark up to the next page boundary. */
    char *to = (char *)zh_align_forward((uintptr_t)want, zh_alignment_from_bytes(zh_page_size()));
    if (to > r->end) to = r->end;
    char *from = r->committed;
    if (p > from) from = (char *)zh_align_backward((uintptr_t)p, zh_alignment_from_bytes(zh_page_size()));
    if (!_zh_prim_commit(from, (size_t)(to - from))) return false;
    if (from <= r->committed) r->committed = to;
    return true;
}

void *zh_brk_region_sbrk(ptrdiff_t increment, void *region) {
    zh_brk_region *r = region;
    if (increment < 0 || increment > r->end - r->brk) return (void *)-1;
    if (!zh_brk_region_commit(r, r->brk, (size_t)increment)) return (void *)-1;
    char *old = r->brk;
    r->brk += increment;
    return old;
}
