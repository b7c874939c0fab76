/* bigpage.c -- the algorithm Zig 0.15.1 writes out twice, in
 * heap/WasmAllocator.zig and heap/sbrk_allocator.zig, written once here.
 *
 * Every block takes a power-of-two slot of at least len + one word (the
 * word at the slot's end holds the free-list link) and at least its
 * alignment. Slots up to 32 KiB are carved in order from 64 KiB big pages,
 * one bump pointer per size class; larger blocks take a power-of-two run of
 * big pages. Freed slots and runs go on LIFO lists per class and are reused
 * only by the same class; nothing is ever given back. Addresses handed out
 * are aligned to their slot size, because big pages are 64 KiB-aligned. */
#include "internal.h"

enum { MIN_CLASS = 4 }; /* log2(ceilPowerOfTwo(1 + sizeof(usize))) */

_Static_assert(sizeof(uintptr_t) == 8, "MIN_CLASS assumes 8-byte words");

/* ceilPowerOfTwo; false when it does not fit. */
static bool ceil_pow2(size_t n, size_t *out) {
    if (n <= 1) {
        *out = 1;
        return true;
    }
    unsigned bits = 64 - (unsigned)__builtin_clzll((unsigned long long)(n - 1));
    if (bits >= 64) return false;
    *out = (size_t)1 << bits;
    return true;
}

static unsigned log2_exact(size_t pow2) { return (unsigned)__builtin_ctzll((unsigned long long)pow2); }

static size_t actual_len(size_t len, zh_alignment al) {
    size_t a = len > SIZE_MAX - sizeof(uintptr_t) ? SIZE_MAX : len + sizeof(uintptr_t); /* +| */
    size_t al_bytes = zh_alignment_bytes(al);
    return a > al_bytes ? a : al_bytes;
}

static size_t big_pages_needed(size_t byte_count) {
    return (byte_count + (ZH_BIGPAGE_SIZE + (sizeof(uintptr_t) - 1))) / ZH_BIGPAGE_SIZE;
}

static uintptr_t load_link(uintptr_t at) {
    uintptr_t v;
    memcpy(&v, (void *)at, sizeof v);
    return v;
}

static void store_link(uintptr_t at, uintptr_t v) { memcpy((void *)at, &v, sizeof v); }

static uintptr_t alloc_big_pages(zh_bigpage_state *s, size_t n, _zh_bigpage_grow_fn grow, void *ctx) {
    size_t pow2_pages, slot_bytes;
    if (!ceil_pow2(n, &pow2_pages) || !_zh_mul(pow2_pages, ZH_BIGPAGE_SIZE, &slot_bytes)) return 0;
    unsigned class = log2_exact(pow2_pages);
    if (class >= ZH_BIGPAGE_BIG_CLASS_COUNT) return 0;
    uintptr_t top = s->big_frees[class];
    if (top != 0) {
        s->big_frees[class] = load_link(top + (slot_bytes - sizeof(uintptr_t)));
        return top;
    }
    return grow(ctx, slot_bytes);
}

void *_zh_bigpage_alloc(zh_bigpage_state *s, size_t len, zh_alignment al, _zh_bigpage_grow_fn grow, void *ctx) {
    size_t actual = actual_len(len, al), slot_size;
    if (!ceil_pow2(actual, &slot_size)) return NULL;
    unsigned class = log2_exact(slot_size) - MIN_CLASS;
    if (class < ZH_BIGPAGE_SIZE_CLASS_COUNT) {
        uintptr_t top = s->frees[class];
        if (top != 0) {
            s->frees[class] = load_link(top + (slot_size - sizeof(uintptr_t)));
            return (void *)top;
        }
        uintptr_t next = s->next_addrs[class];
        /* Zig's sbrk_allocator tests next % pageSize() here, which on 4 KiB
         * pages uses a sixteenth of each big page; the wasm one (whose page
         * is the big page) tests the big page, as here. */
        if (next % ZH_BIGPAGE_SIZE == 0) {
            uintptr_t addr = alloc_big_pages(s, 1, grow, ctx);
            if (addr == 0) return NULL;
            s->next_addrs[class] = addr + slot_size;
            return (void *)addr;
        }
        s->next_addrs[class] = next + slot_size;
        return (void *)next;
    }
    return (void *)alloc_big_pages(s, big_pages_needed(actual), grow, ctx);
}

bool _zh_bigpage_resize(size_t len, zh_alignment al, size_t new_len) {
    size_t old_actual = actual_len(len, al), new_actual = actual_len(new_len, al);
    size_t old_slot, new_slot;
    if (!ceil_pow2(old_actual, &old_slot)) return false;
    if (log2_exact(old_slot) - MIN_CLASS < ZH_BIGPAGE_SIZE_CLASS_COUNT)
        return ceil_pow2(new_actual, &new_slot) && old_slot == new_slot;
    size_t old_pages, new_pages;
    if (!ceil_pow2(big_pages_needed(old_actual), &old_pages)) return false;
    return ceil_pow2(big_pages_needed(new_actual), &new_pages) && old_pages == new_pages;
}

void _zh_bigpage_free(zh_bigpage_state *s, void *mem, size_t len, zh_alignment al) {
    size_t actual = actual_len(len, al), slot_size;
    if (!ceil_pow2(actual, &slot_size)) return; /* no such block can exist */
    unsigned class = log2_exact(slot_size) - MIN_CLASS;
    uintptr_t addr = (uintptr_t)mem;
    if (class < ZH_BIGPAGE_SIZE_CLASS_COUNT) {
        store_link(addr + (slot_size - sizeof(uintptr_t)), s->frees[class]);
        s->frees[class] = addr;
        return;
    }
    size_t pow2_pages;
    if (!ceil_pow2(big_pages_needed(actual), &pow2_pages)) return;
    unsigned big_class = log2_exact(pow2_pages);
    store_link(addr + (pow2_pages * ZH_BIGPAGE_SIZE - sizeof(uintptr_t)), s->big_frees[big_class]);
    s->big_frees[big_class] = addr;
}

size_t zh_bigpage_footprint(size_t len, zh_alignment al) {
    size_t actual = actual_len(len, al), slot_size, pages;
    if (!ceil_pow2(actual, &slot_size)) return 0;
    if (log2_exact(slot_size) - MIN_CLASS < ZH_BIGPAGE_SIZE_CLASS_COUNT) return slot_size;
    if (!ceil_pow2(big_pages_needed(actual), &pages) || !_zh_mul(pages, ZH_BIGPAGE_SIZE, &slot_size)) return 0;
    return slot_size;
}

/* The big page a slot at `addr` lies in (pages count from `lo`), carved
 * into `slot`-byte slots and in use up to `used`. */
static zh_visit_item bigpage_of(uintptr_t lo, uintptr_t addr, size_t slot, size_t used) {
    return (zh_visit_item){.kind = ZH_VISIT_AREA, .area = "bigpage",
                           .address = lo + ((addr - lo) & ~(uintptr_t)(ZH_BIGPAGE_SIZE - 1)), .size = ZH_BIGPAGE_SIZE,
                           .used = used, .slot_size = slot, .slot_count = ZH_BIGPAGE_SIZE / slot};
}

int zh_bigpage_visit(const zh_bigpage_state *s, uintptr_t lo, uintptr_t hi, zh_visit_fn fn, void *user) {
    int rc = 0;
    for (size_t c = 0; c < ZH_BIGPAGE_SIZE_CLASS_COUNT && rc == 0; c++) {
        size_t slot = (size_t)16 << c;
        /* The bump pointer is at a page boundary when the class has no
         * partly carved page (Zig's test). */
        uintptr_t next = s->next_addrs[c];
        if (next % ZH_BIGPAGE_SIZE != 0 && next >= lo && next < hi) {
            zh_visit_item page = bigpage_of(lo, next, slot, 0);
            page.used = next - page.address;
            rc = fn(user, &page);
        }
        size_t order = 0;
        for (uintptr_t p = s->frees[c]; p != 0 && rc == 0; p = load_link(p + slot - sizeof(uintptr_t))) {
            zh_visit_item page = bigpage_of(lo, p, slot, ZH_BIGPAGE_SIZE);
            zh_visit_item free_slot = {.kind = ZH_VISIT_FREE, .address = p, .size = slot, .slot_size = slot,
                                       .order = ++order};
            rc = fn(user, &page);
            if (rc == 0) rc = fn(user, &free_slot);
        }
    }
    for (size_t c = 0; c < ZH_BIGPAGE_BIG_CLASS_COUNT && rc == 0; c++) {
        size_t bytes = ZH_BIGPAGE_SIZE << c, order = 0;
        for (uintptr_t p = s->big_frees[c]; p != 0 && rc == 0; p = load_link(p + bytes - sizeof(uintptr_t))) {
            zh_visit_item run = {.kind = ZH_VISIT_AREA, .area = "big", .address = p, .size = bytes, .used = bytes};
            zh_visit_item free_run = {.kind = ZH_VISIT_FREE, .address = p, .size = bytes, .order = ++order};
            rc = fn(user, &run);
            if (rc == 0) rc = fn(user, &free_run);
        }
    }
    return rc;
}

int zh_bigpage_visit_block(uintptr_t lo, const void *ptr, size_t len, zh_alignment al, zh_visit_fn fn, void *user) {
    uintptr_t addr = (uintptr_t)ptr;
    size_t took = zh_bigpage_footprint(len, al);
    if (took < len) took = len; /* no such block: report it as it is */
    bool small = took < ZH_BIGPAGE_SIZE;
    zh_visit_item area = small ? bigpage_of(lo, addr, took, ZH_BIGPAGE_SIZE)
                               : (zh_visit_item){.kind = ZH_VISIT_AREA, .area = "big", .address = addr,
                                                 .size = took, .used = took};
    return _zh_visit_live_in(&area, addr, len, took, small ? took : 0, al, fn, user);
}

void zh_bigpage_stats_of(const zh_bigpage_state *s, zh_bigpage_stats *out) {
    memset(out, 0, sizeof *out);
    for (size_t c = 0; c < ZH_BIGPAGE_SIZE_CLASS_COUNT; c++) {
        size_t slot = (size_t)16 << c;
        for (uintptr_t p = s->frees[c]; p != 0; p = load_link(p + slot - sizeof(uintptr_t))) out->free_counts[c]++;
    }
    for (size_t c = 0; c < ZH_BIGPAGE_BIG_CLASS_COUNT; c++) {
        size_t bytes = ZH_BIGPAGE_SIZE << c;
        for (uintptr_t p = s->big_frees[c]; p != 0; p = load_link(p + bytes - sizeof(uintptr_t)))
            out->big_free_counts[c]++;
    }
}
