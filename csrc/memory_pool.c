/* memory_pool.c -- MemoryPool, MemoryPoolAligned and MemoryPoolExtra (Zig
 * 0.15.1 heap/memory_pool.zig).
 *
 * Purpose: many objects of one size, created and destroyed often, faster
 * than a general-purpose allocator.
 * Basic design: each item is its own allocation from an ArenaAllocator over
 * the child; a destroyed item goes on an intrusive LIFO free list (the link
 * lives in the item's first bytes, hence items of at least a pointer) and is
 * never given back to the arena. reset/deinit drop everything at once.
 * Thread safety: none.
 * Complexity: create/destroy O(1); preheat(n) O(n). */
#include "internal.h"

#include <stdalign.h>

static zh_alignment max_al(zh_alignment a, zh_alignment b) { return a > b ? a : b; }

void zh_memory_pool_init(zh_memory_pool *self, zh_allocator child, size_t size_of_item,
                         zh_alignment align_of_item, zh_memory_pool_options options) {
    const zh_alignment node_alignment = zh_alignment_from_bytes(alignof(void *));
    zh_arena_init(&self->arena, child);
    self->free_list = NULL;
    self->item_size = size_of_item > sizeof(void *) ? size_of_item : sizeof(void *);
    /* Options.alignment replaces the natural alignment (it may lower it),
     * but never below what the free-list link needs. */
    zh_alignment wanted = options.alignment == ZH_ALIGNMENT_NATURAL ? align_of_item : options.alignment;
    self->item_alignment = max_al(node_alignment, wanted);
    self->growable = options.growable;
}

void zh_memory_pool_deinit(zh_memory_pool *self) {
    zh_arena_deinit(&self->arena);
    self->free_list = NULL;
}

static void *next_of(void *item) {
    void *next;
    memcpy(&next, item, sizeof next);
    return next;
}

static void push(zh_memory_pool *self, void *item) {
    memcpy(item, &self->free_list, sizeof self->free_list);
    self->free_list = item;
}

/* allocNew: one arena allocation of item_size bytes at item_alignment. */
static void *alloc_new(zh_memory_pool *self) {
    return zh_raw_alloc(zh_arena_allocator(&self->arena), self->item_size, self->item_alignment, 0);
}

bool zh_memory_pool_preheat(zh_memory_pool *self, size_t n) {
    for (size_t i = 0; i < n; i++) {
        void *item = alloc_new(self);
        if (item == NULL) return false;
        push(self, item);
    }
    return true;
}

bool zh_memory_pool_init_preheated(zh_memory_pool *self, zh_allocator child, size_t size_of_item,
                                   zh_alignment align_of_item, zh_memory_pool_options options, size_t n) {
    zh_memory_pool_init(self, child, size_of_item, align_of_item, options);
    if (zh_memory_pool_preheat(self, n)) return true;
    zh_memory_pool_deinit(self);
    return false;
}

bool zh_memory_pool_reset(zh_memory_pool *self, zh_arena_reset_mode mode, size_t limit) {
    bool ok = zh_arena_reset(&self->arena, mode, limit);
    /* The free items lived in the arena too: all gone, even preheated ones. */
    self->free_list = NULL;
    return ok;
}

void *zh_memory_pool_create_slow(zh_memory_pool *self) {
    void *item = self->free_list;
    if (item != NULL) self->free_list = next_of(item);
    else if (self->growable) item = alloc_new(self);
    return item;
}

size_t zh_memory_pool_free_count(const zh_memory_pool *self, size_t limit) {
    size_t n = 0;
    for (void *it = self->free_list; it != NULL && n < limit; it = next_of(it)) n++;
    return n;
}

int zh_memory_pool_visit(const zh_memory_pool *self, size_t limit, zh_visit_fn fn, void *user) {
    int rc = zh_arena_visit(&self->arena, fn, user);
    size_t n = 0;
    for (void *it = self->free_list; rc == 0 && it != NULL && n < limit; it = next_of(it)) {
        zh_visit_item free_item = {.kind = ZH_VISIT_FREE, .address = (uintptr_t)it, .size = self->item_size,
                                   .order = ++n};
        rc = fn(user, &free_item);
    }
    return rc;
}
