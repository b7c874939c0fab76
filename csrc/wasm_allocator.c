/* wasm_allocator.c -- WasmAllocator (Zig 0.15.1 heap/WasmAllocator.zig)
 * running natively over an emulated wasm linear memory.
 *
 * Purpose: let native programs (and learners) run the allocator Zig uses on
 * wasm32, with wasm's one primitive: memory.grow in 64 KiB pages up to a
 * maximum.
 * Basic design: the algorithm is bigpage.c's; the linear memory is one
 * reserved address range committed page by page as memory.grow asks.
 * Thread safety: none (Zig's requires single-threaded wasm). */
#include "internal.h"

#include "prim/prim.h"

int zh_wasm_init(zh_wasm *self, size_t max_pages) {
    size_t bytes;
    memset(self, 0, sizeof *self);
    if (max_pages == 0 || !_zh_mul(max_pages, ZH_WASM_PAGE_SIZE, &bytes) || bytes > SIZE_MAX - ZH_WASM_PAGE_SIZE)
        return -1;
    /* 64 KiB-aligned: slots are aligned to their size only if big pages are. */
    char *base = _zh_prim_reserve(bytes, ZH_WASM_PAGE_SIZE);
    if (base == NULL) return -1;
    /* The first page stands for the module's static data: committed, never
     * handed out, so that no block sits at offset 0. */
    if (!_zh_prim_commit(base, ZH_WASM_PAGE_SIZE)) {
        _zh_prim_release(base, bytes);
        return -1;
    }
    self->base = base;
    self->max_pages = max_pages;
    self->pages = 1;
    return 0;
}

void zh_wasm_deinit(zh_wasm *self) {
    if (self->base != NULL) _zh_prim_release(self->base, self->max_pages * ZH_WASM_PAGE_SIZE);
    memset(self, 0, sizeof *self);
}

ptrdiff_t zh_wasm_memory_grow(zh_wasm *self, size_t delta) {
    size_t prev = self->pages;
    if (delta > self->max_pages - prev) return -1;
    if (delta != 0 && !_zh_prim_commit(self->base + prev * ZH_WASM_PAGE_SIZE, delta * ZH_WASM_PAGE_SIZE))
        return -1;
    self->pages = prev + delta;
    return (ptrdiff_t)prev;
}

/* allocBigPages' @wasmMemoryGrow: linear-memory offset -> native address. */
static uintptr_t grow(void *ctx, size_t bytes) {
    zh_wasm *self = ctx;
    ptrdiff_t page_index = zh_wasm_memory_grow(self, bytes / ZH_WASM_PAGE_SIZE);
    if (page_index == -1) return 0;
    return (uintptr_t)self->base + (size_t)page_index * ZH_WASM_PAGE_SIZE;
}

static void *wasm_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    (void)ra;
    /* Big pages come from memory.grow, so 64 KiB is the largest alignment
     * the algorithm can honour (Zig's documented maximum). */
    if (zh_alignment_bytes(al) > ZH_WASM_MAX_ALIGNMENT) return NULL;
    zh_wasm *self = ctx;
    return _zh_bigpage_alloc(&self->s, len, al, grow, self);
}

static bool wasm_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    (void)ctx, (void)mem, (void)ra;
    return _zh_bigpage_resize(len, al, new_len);
}

static void *wasm_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    return wasm_resize(ctx, mem, len, al, new_len, ra) ? mem : NULL;
}

static void wasm_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    (void)ra;
    zh_wasm *self = ctx;
    _zh_bigpage_free(&self->s, mem, len, al);
}

static const zh_allocator_vtable wasm_vtable = {wasm_alloc, wasm_resize, wasm_remap, wasm_free};

zh_allocator zh_wasm_allocator_of(zh_wasm *self) { return (zh_allocator){self, &wasm_vtable}; }

static zh_wasm global;
static zh_mutex global_init = ZH_MUTEX_INIT;
static bool global_ready;

zh_wasm *zh_wasm_global(void) {
    if (!__atomic_load_n(&global_ready, __ATOMIC_ACQUIRE)) {
        zh_mutex_lock(&global_init);
        if (!global_ready && zh_wasm_init(&global, ZH_WASM_DEFAULT_MAX_PAGES) == 0)
            __atomic_store_n(&global_ready, true, __ATOMIC_RELEASE);
        zh_mutex_unlock(&global_init);
    }
    return __atomic_load_n(&global_ready, __ATOMIC_ACQUIRE) ? &global : NULL;
}

/* Without a linear memory (the reservation failed) every alloc fails. */
static void *no_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    (void)ctx, (void)len, (void)al, (void)ra;
    return NULL;
}
static const zh_allocator_vtable failing_vtable = {no_alloc, zh_no_resize, zh_no_remap, zh_no_free};

zh_allocator zh_wasm_allocator(void) {
    zh_wasm *g = zh_wasm_global();
    return g != NULL ? zh_wasm_allocator_of(g) : (zh_allocator){NULL, &failing_vtable};
}
