/* fixed_buffer_allocator.c -- FixedBufferAllocator (Zig 0.15.1
 * heap/FixedBufferAllocator.zig).
 *
 * Purpose: allocation from one caller-supplied buffer, never calling another
 * allocator.
 * Basic design: a bump pointer, `end_index`. Only the most recent allocation
 * can be shrunk, grown or freed for real; anything else "shrinks" without
 * reclaiming and cannot grow. Alignment padding is never reclaimed.
 * Thread safety: the plain interface is single-threaded; the thread-safe
 * interface bumps `end_index` with a compare-and-swap and supports nothing
 * else. The two must not be used at the same time.
 * Complexity: O(1) everything. */
#include "internal.h"

void zh_fba_init(zh_fba *self, void *buffer, size_t len) {
    self->end_index = 0;
    self->buffer = buffer;
    self->buffer_len = len;
}

bool zh_fba_owns_ptr(const zh_fba *self, const void *ptr) {
    uintptr_t p = (uintptr_t)ptr, b = (uintptr_t)self->buffer;
    return p >= b && p - b < self->buffer_len;
}

bool zh_fba_owns_slice(const zh_fba *self, const void *ptr, size_t len) {
    uintptr_t p = (uintptr_t)ptr, b = (uintptr_t)self->buffer;
    return p >= b && p - b <= self->buffer_len && len <= self->buffer_len - (p - b);
}

bool zh_fba_is_last_allocation(const zh_fba *self, const void *ptr, size_t len) {
    return (uintptr_t)ptr + len == (uintptr_t)self->buffer + self->end_index;
}

void zh_fba_reset(zh_fba *self) { self->end_index = 0; }

int zh_fba_visit(const zh_fba *self, zh_visit_fn fn, void *user) {
    zh_visit_item it = {.kind = ZH_VISIT_AREA, .area = "buffer", .address = (uintptr_t)self->buffer,
                        .size = self->buffer_len, .used = self->end_index};
    return fn(user, &it);
}

/* Where an allocation of n bytes at 2^al would start and end if the buffer
 * is filled to `end`; false when it does not fit (or the arithmetic would
 * overflow, which Zig leaves to a safety panic). */
static bool fit(const zh_fba *self, size_t end, size_t n, zh_alignment al, size_t *start, size_t *new_end) {
    uintptr_t base = (uintptr_t)self->buffer + end, aligned;
    if (!zh_align_forward_checked(base, al, &aligned)) return false;
    size_t s = end + (size_t)(aligned - base);
    if (s < end || s > self->buffer_len || n > self->buffer_len - s) return false;
    *start = s;
    *new_end = s + n;
    return true;
}

void *zh_fba_alloc(zh_fba *self, size_t n, zh_alignment al) {
    size_t start, new_end;
    if (!fit(self, self->end_index, n, al, &start, &new_end)) return NULL;
    self->end_index = new_end;
    return self->buffer + start;
}

static void require_owned(const zh_fba *self, const void *ptr, size_t len) {
    if (!zh_fba_owns_slice(self, ptr, len)) _zh_panic("FixedBufferAllocator: slice not owned by this buffer");
}

bool zh_fba_resize(zh_fba *self, void *ptr, size_t len, size_t new_len) {
    require_owned(self, ptr, len);
    if (!zh_fba_is_last_allocation(self, ptr, len)) return new_len <= len;
    if (new_len <= len) {
        self->end_index -= len - new_len;
        return true;
    }
    size_t grow = new_len - len;
    if (grow > self->buffer_len - self->end_index) return false;
    self->end_index += grow;
    return true;
}

void *zh_fba_remap(zh_fba *self, void *ptr, size_t len, size_t new_len) {
    return zh_fba_resize(self, ptr, len, new_len) ? ptr : NULL;
}

void zh_fba_free(zh_fba *self, void *ptr, size_t len) {
    require_owned(self, ptr, len);
    if (zh_fba_is_last_allocation(self, ptr, len)) self->end_index -= len;
}

static void *fba_alloc(void *ctx, size_t n, uint8_t al, uintptr_t ra) {
    (void)ra;
    return zh_fba_alloc(ctx, n, al);
}
static bool fba_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    (void)al, (void)ra;
    return zh_fba_resize(ctx, mem, len, new_len);
}
static void *fba_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    (void)al, (void)ra;
    return zh_fba_remap(ctx, mem, len, new_len);
}
static void fba_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    (void)al, (void)ra;
    zh_fba_free(ctx, mem, len);
}

static const zh_allocator_vtable fba_vtable = {fba_alloc, fba_resize, fba_remap, fba_free};

zh_allocator zh_fba_allocator(zh_fba *self) { return (zh_allocator){self, &fba_vtable}; }

/* Lock-free bump: retry the compare-and-swap from whatever value another
 * thread left. seq_cst as Zig's. */
static void *fba_thread_safe_alloc(void *ctx, size_t n, uint8_t al, uintptr_t ra) {
    (void)ra;
    zh_fba *self = ctx;
    size_t end = __atomic_load_n(&self->end_index, __ATOMIC_SEQ_CST);
    for (;;) {
        size_t start, new_end;
        if (!fit(self, end, n, al, &start, &new_end)) return NULL;
        if (__atomic_compare_exchange_n(&self->end_index, &end, new_end, true, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return self->buffer + start;
    }
}

static const zh_allocator_vtable fba_thread_safe_vtable = {fba_thread_safe_alloc, zh_no_resize, zh_no_remap,
                                                           zh_no_free};

zh_allocator zh_fba_thread_safe_allocator(zh_fba *self) { return (zh_allocator){self, &fba_thread_safe_vtable}; }
