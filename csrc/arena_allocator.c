/* arena_allocator.c -- ArenaAllocator (Zig 0.15.1 heap/arena_allocator.zig).
 *
 * Purpose: allocate many times from a child allocator, free everything at once.
 * Basic design: a singly linked list of chunks, newest first, each one child
 * allocation with a {data, next} header at its start. Allocation bumps
 * `end_index` in the newest chunk; when it does not fit, the arena first asks
 * the child to grow the chunk in place, else adds a chunk of
 * 1.5 x (previous usable + request + alignment + header + 16) bytes. Only the
 * latest allocation can be shrunk, grown or freed for real.
 * reset(retain_capacity) keeps one chunk as large as everything before, so a
 * loop of "work; reset" settles into making no child calls at all.
 * Thread safety: none (wrap it in a ThreadSafeAllocator to share it).
 * Complexity: O(1) allocation; reset/deinit/query_capacity are O(chunks). */
#include "internal.h"

#define NODE_SIZE sizeof(zh_arena_node)
#define NODE_ALIGN ((zh_alignment)zh_alignment_from_bytes(_Alignof(zh_arena_node)))

static char *usable(zh_arena_node *node) { return (char *)node + NODE_SIZE; }

void zh_arena_init(zh_arena *self, zh_allocator child) {
    self->child = child;
    self->first = NULL;
    self->end_index = 0;
}


static void free_chunk(zh_arena *self, zh_arena_node *node) {
    zh_raw_free(self->child, node, node->data, NODE_ALIGN, ZH_RET_ADDR);
}

void zh_arena_deinit(zh_arena *self) {
    zh_arena_node *node = self->first;
    while (node != NULL) {
        zh_arena_node *next = node->next; /* read before the chunk is gone */
        free_chunk(self, node);
        node = next;
    }
    self->first = NULL;
    self->end_index = 0;
}

size_t zh_arena_query_capacity(const zh_arena *self) {
    size_t size = 0;
    for (const zh_arena_node *n = self->first; n != NULL; n = n->next) size += n->data - NODE_SIZE;
    return size;
}

size_t zh_arena_chunk_count(const zh_arena *self) {
    size_t count = 0;
    for (const zh_arena_node *n = self->first; n != NULL; n = n->next) count++;
    return count;
}

bool zh_arena_reset(zh_arena *self, zh_arena_reset_mode mode, size_t limit) {
    size_t requested = 0;
    if (mode == ZH_ARENA_RETAIN_CAPACITY) {
        requested = zh_arena_query_capacity(self);
    } else if (mode == ZH_ARENA_RETAIN_WITH_LIMIT) {
        size_t cap = zh_arena_query_capacity(self);
        requested = limit < cap ? limit : cap;
    }
    if (requested == 0) {
        zh_arena_deinit(self);
        return true;
    }
    const size_t total = requested + NODE_SIZE; /* cannot overflow: <= an existing chunk sum */
    /* Keep the oldest chunk (the list's last), free the others. */
    zh_arena_node *node = self->first, *kept = NULL;
    while (node != NULL) {
        zh_arena_node *next = node->next;
        if (next == NULL) {
            kept = node;
            break;
        }
        free_chunk(self, node);
        node = next;
    }
    self->end_index = 0; /* logically empty before any further child call */
    self->first = kept;
    if (kept == NULL || kept->data == total) return true;
    if (zh_raw_resize(self->child, kept, kept->data, NODE_ALIGN, total, ZH_RET_ADDR)) {
        kept->data = total;
        return true;
    }
    zh_arena_node *fresh = zh_raw_alloc(self->child, total, NODE_ALIGN, ZH_RET_ADDR);
    if (fresh == NULL) return false; /* keep the old chunk: empty and usable */
    free_chunk(self, kept);
    fresh->data = total;
    fresh->next = NULL;
    self->first = fresh;
    return true;
}

/* createNode(prev_len, min_size): NULL on failure or size overflow, with
 * nothing changed. */
static zh_arena_node *create_node(zh_arena *self, size_t prev_len, size_t min_size) {
    size_t actual_min, big, len;
    if (__builtin_add_overflow(min_size, NODE_SIZE + 16, &actual_min) ||
        __builtin_add_overflow(prev_len, actual_min, &big) || __builtin_add_overflow(big, big / 2, &len))
        return NULL;
    zh_arena_node *node = zh_raw_alloc(self->child, len, NODE_ALIGN, ZH_RET_ADDR);
    if (node == NULL) return NULL;
    node->data = len;
    node->next = self->first;
    self->first = node;
    self->end_index = 0;
    return node;
}

/* Everything but "fits in the newest chunk": kept out of line so that the
 * fast path below is a leaf function with no register spills. */
static __attribute__((noinline)) void *alloc_slow(zh_arena *self, size_t n, zh_alignment al) {
    size_t min_size;
    if (al > ZH_ALIGNMENT_MAX || __builtin_add_overflow(n, zh_alignment_bytes(al), &min_size)) return NULL;
    zh_arena_node *cur = self->first ? self->first : create_node(self, 0, min_size);
    if (cur == NULL) return NULL;
    for (;;) {
        size_t cur_len = cur->data - NODE_SIZE;
        uintptr_t addr = (uintptr_t)usable(cur) + self->end_index, adjusted;
        size_t new_end;
        if (zh_align_forward_checked(addr, al, &adjusted) &&
            !__builtin_add_overflow(self->end_index + (size_t)(adjusted - addr), n, &new_end)) {
            if (new_end <= cur_len) {
                self->end_index = new_end;
                return (void *)adjusted;
            }
            if (new_end <= SIZE_MAX - NODE_SIZE &&
                zh_raw_resize(self->child, cur, cur->data, NODE_ALIGN, NODE_SIZE + new_end, ZH_RET_ADDR)) {
                cur->data = NODE_SIZE + new_end;
                continue;
            }
        }
        cur = create_node(self, cur_len, min_size);
        if (cur == NULL) return NULL;
    }
}

static void *arena_alloc(void *ctx, size_t n, uint8_t al, uintptr_t ra) {
    (void)ra;
    zh_arena *self = ctx;
    zh_arena_node *cur = self->first;
    if (cur != NULL && al <= ZH_ALIGNMENT_MAX) {
        /* The common case, bit for bit the first iteration of alloc_slow's
         * loop: bump inside the newest chunk. */
        uintptr_t addr = (uintptr_t)usable(cur) + self->end_index, adjusted;
        size_t new_end;
        if (zh_align_forward_checked(addr, al, &adjusted) &&
            !__builtin_add_overflow(self->end_index + (size_t)(adjusted - addr), n, &new_end) &&
            new_end <= cur->data - NODE_SIZE) {
            self->end_index = new_end;
            return (void *)adjusted;
        }
    }
    return alloc_slow(self, n, al);
}

/* True when buf is the latest allocation of the newest chunk. */
static bool is_latest(const zh_arena *self, const void *mem, size_t len) {
    return (uintptr_t)usable(self->first) + self->end_index == (uintptr_t)mem + len;
}

static bool arena_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    (void)al, (void)ra;
    zh_arena *self = ctx;
    if (self->first == NULL) return false;
    if (!is_latest(self, mem, len)) return new_len <= len;
    if (new_len <= len) {
        self->end_index -= len - new_len;
        return true;
    }
    size_t cur_len = self->first->data - NODE_SIZE;
    if (cur_len - self->end_index >= new_len - len) {
        self->end_index += new_len - len;
        return true;
    }
    return false;
}

static void *arena_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    return arena_resize(ctx, mem, len, al, new_len, ra) ? mem : NULL;
}

static void arena_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    (void)al, (void)ra;
    zh_arena *self = ctx;
    if (self->first == NULL) return;
    if (is_latest(self, mem, len)) self->end_index -= len;
}

static const zh_allocator_vtable arena_vtable = {arena_alloc, arena_resize, arena_remap, arena_free};

zh_allocator zh_arena_allocator(zh_arena *self) { return (zh_allocator){self, &arena_vtable}; }

int zh_arena_visit(const zh_arena *self, zh_visit_fn fn, void *user) {
    for (zh_arena_node *n = self->first; n != NULL; n = n->next) {
        /* n->data is the chunk's whole length, header included: what the
         * child handed out, so what the arena reserved. */
        zh_visit_item chunk = {.kind = ZH_VISIT_AREA, .area = "chunk", .address = (uintptr_t)n, .size = n->data,
                               .used = n == self->first ? NODE_SIZE + self->end_index : n->data};
        zh_visit_item header = {.kind = ZH_VISIT_METADATA, .address = (uintptr_t)n, .size = NODE_SIZE};
        int rc = fn(user, &chunk);
        if (rc == 0) rc = fn(user, &header);
        if (rc != 0) return rc;
    }
    return 0;
}
