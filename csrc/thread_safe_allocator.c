/* thread_safe_allocator.c -- ThreadSafeAllocator (Zig 0.15.1
 * heap/ThreadSafeAllocator.zig).
 *
 * Purpose: share an allocator that is not thread-safe (an arena, a fixed
 * buffer, a pool's arena) between threads.
 * Basic design: each of the four calls holds one mutex for its whole
 * duration and forwards its arguments unchanged.
 * Complexity: the child's, plus an uncontended lock/unlock pair. */
#include "internal.h"

void zh_thread_safe_init(zh_thread_safe *self, zh_allocator child) {
    self->child_allocator = child;
    self->mutex = (zh_mutex)ZH_MUTEX_INIT;
}

static void *ts_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    zh_thread_safe *self = ctx;
    _zh_mutex_lock(&self->mutex);
    void *p = zh_raw_alloc(self->child_allocator, len, al, ra);
    _zh_mutex_unlock(&self->mutex);
    return p;
}

static bool ts_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    zh_thread_safe *self = ctx;
    _zh_mutex_lock(&self->mutex);
    bool ok = zh_raw_resize(self->child_allocator, mem, len, al, new_len, ra);
    _zh_mutex_unlock(&self->mutex);
    return ok;
}

static void *ts_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    zh_thread_safe *self = ctx;
    _zh_mutex_lock(&self->mutex);
    void *p = zh_raw_remap(self->child_allocator, mem, len, al, new_len, ra);
    _zh_mutex_unlock(&self->mutex);
    return p;
}

static void ts_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    zh_thread_safe *self = ctx;
    _zh_mutex_lock(&self->mutex);
    zh_raw_free(self->child_allocator, mem, len, al, ra);
    _zh_mutex_unlock(&self->mutex);
}

static const zh_allocator_vtable ts_vtable = {ts_alloc, ts_resize, ts_remap, ts_free};

zh_allocator zh_thread_safe_allocator(zh_thread_safe *self) { return (zh_allocator){self, &ts_vtable}; }
