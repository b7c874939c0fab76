/* failing_allocator.c -- FailingAllocator (Zig 0.15.1
 * testing/FailingAllocator.zig).
 *
 * Purpose: test that code survives running out of memory at every point:
 * the fail_index-th allocation (and every one after it, since the index
 * stops counting) fails, and so does the resize_fail_index-th resize.
 * Basic design: counters around a child allocator; byte totals let a test
 * see whether everything allocated was freed.
 * Thread safety: none. */
#include "internal.h"

void zh_failing_init(zh_failing *self, zh_allocator internal, size_t fail_index, size_t resize_fail_index) {
    memset(self, 0, sizeof *self);
    self->internal_allocator = internal;
    self->fail_index = fail_index;
    self->resize_fail_index = resize_fail_index;
}

static void *failing_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    zh_failing *self = ctx;
    if (self->alloc_index == self->fail_index) {
        if (!self->has_induced_failure) {
            self->has_induced_failure = true;
            if (self->on_induced_failure != NULL) self->on_induced_failure(self->user);
        }
        return NULL;
    }
    void *p = zh_raw_alloc(self->internal_allocator, len, al, ra);
    if (p == NULL) return NULL;
    self->allocated_bytes += len;
    self->allocations++;
    self->alloc_index++;
    return p;
}

static void account_resize(zh_failing *self, size_t len, size_t new_len) {
    if (new_len < len) self->freed_bytes += len - new_len;
    else self->allocated_bytes += new_len - len;
    self->resize_index++;
}

static bool failing_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    zh_failing *self = ctx;
    if (self->resize_index == self->resize_fail_index) return false;
    if (!zh_raw_resize(self->internal_allocator, mem, len, al, new_len, ra)) return false;
    account_resize(self, len, new_len);
    return true;
}

static void *failing_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    zh_failing *self = ctx;
    if (self->resize_index == self->resize_fail_index) return NULL;
    void *p = zh_raw_remap(self->internal_allocator, mem, len, al, new_len, ra);
    if (p == NULL) return NULL;
    account_resize(self, len, new_len);
    return p;
}

static void failing_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    zh_failing *self = ctx;
    zh_raw_free(self->internal_allocator, mem, len, al, ra);
    self->deallocations++;
    self->freed_bytes += len;
}

static const zh_allocator_vtable failing_vtable = {failing_alloc, failing_resize, failing_remap, failing_free};

zh_allocator zh_failing_allocator(zh_failing *self) { return (zh_allocator){self, &failing_vtable}; }
