/* stack_fallback_allocator.c -- StackFallbackAllocator (Zig 0.15.1 heap.zig,
 * StackFallbackAllocator(size) and stackFallback(size, fallback)).
 *
 * Purpose: serve small, short-lived allocations from a buffer the caller owns
 * (usually on its stack) and only go to a real allocator when it runs out.
 * Basic design: a FixedBufferAllocator over the buffer; every call whose
 * pointer lies in the buffer goes to it, every other call to the fallback.
 * A block never migrates: remap of a buffer block that cannot grow in place
 * fails, and the typed realloc then copies it to wherever alloc puts it.
 * Thread safety: none (the fallback's own, for calls that reach it). */
#include "internal.h"

void zh_stack_fallback_init(zh_stack_fallback *self, void *buffer, size_t len, zh_allocator fallback) {
    self->buffer = buffer;
    self->buffer_len = len;
    self->fallback_allocator = fallback;
    zh_fba_init(&self->fixed_buffer_allocator, buffer, len);
    self->get_called = false;
}

static void *sf_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    zh_stack_fallback *self = ctx;
    void *p = zh_fba_alloc(&self->fixed_buffer_allocator, len, al);
    return p != NULL ? p : zh_raw_alloc(self->fallback_allocator, len, al, ra);
}

static bool sf_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    zh_stack_fallback *self = ctx;
    if (zh_fba_owns_ptr(&self->fixed_buffer_allocator, mem))
        return zh_fba_resize(&self->fixed_buffer_allocator, mem, len, new_len);
    return zh_raw_resize(self->fallback_allocator, mem, len, al, new_len, ra);
}

static void *sf_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    zh_stack_fallback *self = ctx;
    if (zh_fba_owns_ptr(&self->fixed_buffer_allocator, mem))
        return zh_fba_remap(&self->fixed_buffer_allocator, mem, len, new_len);
    return zh_raw_remap(self->fallback_allocator, mem, len, al, new_len, ra);
}

static void sf_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    zh_stack_fallback *self = ctx;
    if (zh_fba_owns_ptr(&self->fixed_buffer_allocator, mem)) zh_fba_free(&self->fixed_buffer_allocator, mem, len);
    else zh_raw_free(self->fallback_allocator, mem, len, al, ra);
}

static const zh_allocator_vtable sf_vtable = {sf_alloc, sf_resize, sf_remap, sf_free};

zh_allocator zh_stack_fallback_get(zh_stack_fallback *self) {
    /* Zig asserts under runtime safety: a second get() would re-initialise
     * the buffer under every block already allocated from it. */
    if (self->get_called)
        _zh_panic("StackFallbackAllocator: get() called twice; call it once and keep the allocator it returns");
    self->get_called = true;
    zh_fba_init(&self->fixed_buffer_allocator, self->buffer, self->buffer_len);
    return (zh_allocator){self, &sf_vtable};
}
