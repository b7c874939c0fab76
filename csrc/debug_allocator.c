/* debug_allocator.c -- DebugAllocator (Zig 0.15.1 heap/debug_allocator.zig),
 * a.k.a. the deprecated GeneralPurposeAllocator.
 *
 * Purpose: an allocator that catches misuse: double frees (with the traces of
 * the allocation, the first free and the second), frees with the wrong size
 * or alignment, leaks (with allocation traces), and that keeps addresses
 * from being reused for as long as it can.
 * Basic design: requests up to half a page (`page_size`, 128 KiB by default)
 * go to size-class buckets: one page-aligned page per bucket, slots of the
 * class size from the page start, metadata (header, used bits, requested
 * sizes, alignments, two traces per slot) at the page end. Slots are handed
 * out in order and never reused; a bucket goes back to the backing allocator
 * once every slot in it was freed. Larger requests go straight to the backing
 * allocator and are recorded in a table by address.
 * Config is a runtime struct here (Zig's is comptime), so layout sizes are
 * computed at init; Zig's field layouts are automatic, ours are fixed below.
 *
 * Differences from 0.15.1, each to keep the process alive or the numbers
 * right (README lists them):
 *  - a free/resize never reads a page it does not own: bucket pages are in a
 *    table, and an unknown page is an "Invalid free" report instead of a read
 *    of the would-be header (a segfault in Zig when the page was unmapped);
 *  - panics are reports through a hook (default: print and abort, as Zig);
 *  - a large block goes back to the backing allocator with its recorded
 *    length and alignment, not the caller's (a wrong length is reported, and
 *    must not reach munmap/mremap);
 *  - with retain_metadata, the freed record a moving remap leaves at the old
 *    address keeps the old length and is never freed by the flush/deinit
 *    of retained metadata: the remap gave that range back;
 *  - the memory-limit total is rolled back when an allocation fails, small
 *    resizes are accounted without safety too, and a small free subtracts the
 *    recorded size, so total_requested_bytes always equals the live total.
 * Thread safety: every entry point holds the mutex (config), as Zig's. */
#include "internal.h"
#include "prim/prim.h"

/* The page cache's "empty": not page-aligned, so no address maps to it (0
 * did: a free of an address in the first page hit the empty cache, and the
 * bucket "found" there was read from address 0). */
#define NO_PAGE UINTPTR_MAX


#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define WORD_BITS (sizeof(uintptr_t) * 8)

struct zh_debug_bucket {
    uint32_t allocated_count;
    uint32_t freed_count;
    zh_debug_bucket *prev; /* older bucket of the class */
    zh_debug_bucket *next; /* newer one */
    uintptr_t canary;
};

/* Large allocation record (Zig's LargeAlloc). Traces live beside the table. */
typedef struct large_rec {
    uintptr_t key; /* 0: empty */
    size_t len;
    size_t requested_size;
    zh_alignment align;
    bool freed;
    /* Freed by a remap that moved the block: the record stays (a later free
     * of the old address is a double free) but the range is not ours any
     * more -- the backing allocator released it, and mremap may already have
     * handed it to another mapping -- so nothing may free it again. */
    bool moved;
} large_rec;

typedef struct page_rec {
    uintptr_t key; /* page address; 0: empty */
    uintptr_t size_class;
} page_rec;

zh_debug_config zh_debug_config_default(void) {
    zh_debug_config c = {0};
    c.stack_trace_frames = 6;
    c.safety = true;
    c.thread_safe = true;
    c.backing_allocator_zeroes = true;
    c.canary = (uintptr_t)0x9232a6ff85dff10fULL; /* truncated on 32-bit, as Zig's */
    c.page_size = zh_page_size_max > 128 * 1024 ? zh_page_size_max : 128 * 1024;
    return c;
}

/* --- locking ------------------------------------------------------------------ */

static ZH_INLINE void lock(zh_debug *d) {
    if (d->config.lock != NULL) d->config.lock(d->config.mutex);
    else if (d->config.thread_safe) _zh_mutex_lock(&d->mutex_);
}

static ZH_INLINE void unlock(zh_debug *d) {
    if (d->config.lock != NULL) d->config.unlock(d->config.mutex);
    else if (d->config.thread_safe) _zh_mutex_unlock(&d->mutex_);
}

/* lock/unlock for the short paths: d->fast_ says there are no lock hooks,
 * so only the built-in mutex (when thread_safe) is left to take. */
static ZH_INLINE void lock_fast(zh_debug *d) {
    if (d->config.thread_safe) _zh_mutex_lock(&d->mutex_);
}

static ZH_INLINE void unlock_fast(zh_debug *d) {
    if (d->config.thread_safe) _zh_mutex_unlock(&d->mutex_);
}

/* --- traces --------------------------------------------------------------------- */

static size_t trace_n(const zh_debug *d) { return d->config.retain_metadata ? 2 : 1; }

/* Zig's collectStackTrace: zero the buffer, then capture from ret_addr. */
static void capture(zh_debug *d, uintptr_t ret_addr, uintptr_t *out) {
    size_t n = d->config.stack_trace_frames;
    if (n == 0) return;
    memset(out, 0, n * sizeof *out);
    if (d->hooks.capture != NULL) {
        d->hooks.capture(d->hooks.user, ret_addr, out, n);
        return;
    }
    /* Skip frames until ret_addr (the caller's caller of the vtable entry),
     * as std.debug.captureStackTrace(first_address) does. */
    uintptr_t raw[96];
    size_t got = _zh_prim_backtrace(raw, n + 32 < 96 ? n + 32 : 96), start = 0;
    for (size_t i = 0; i < got; i++) {
        if (raw[i] == ret_addr) {
            start = i;
            break;
        }
    }
    if (start == 0 && got > 2) start = 2; /* not found: skip capture and the vtable entry */
    for (size_t i = 0; i < n && start + i < got; i++) out[i] = raw[start + i];
}

/* --- reports ------------------------------------------------------------------------ */

static void print_trace(const char *label, const uintptr_t *t, size_t n) {
    fprintf(stderr, "%s", label);
    /* Zig prints source lines from debug info; the core has none: addresses. */
    for (size_t i = 0; t != NULL && i < n && t[i] != 0; i++) fprintf(stderr, "\n    0x%" PRIxPTR, t[i]);
}

/* Zig's log output and panics, when the embedder installed no hook. */
static void default_report(const zh_debug_report *r) {
    switch (r->kind) {
    case ZH_DEBUG_INFO:
        fprintf(stderr, "info(gpa): %s\n", r->message);
        return;
    case ZH_DEBUG_INVALID_FREE:
    case ZH_DEBUG_UNRECOVERABLE_DOUBLE_FREE:
        fprintf(stderr, "thread panic: %s\n", r->message);
        abort();
    case ZH_DEBUG_DOUBLE_FREE:
        fprintf(stderr, "error(gpa): %s", r->message);
        print_trace(" Allocation: ", r->traces[0], r->frames);
        print_trace(" First free: ", r->traces[1], r->frames);
        print_trace(" Second free: ", r->traces[2], r->frames);
        break;
    case ZH_DEBUG_LEAK:
        fprintf(stderr, "error(gpa): %s", r->message);
        print_trace(" ", r->traces[0], r->frames);
        break;
    default: /* mismatches */
        fprintf(stderr, "error(gpa): %s", r->message);
        print_trace(" Allocation: ", r->traces[0], r->frames);
        print_trace(" Free: ", r->traces[2], r->frames);
        break;
    }
    fprintf(stderr, "\n");
}

static void report(zh_debug *d, zh_debug_report *r) {
    r->frames = d->config.stack_trace_frames;
    if (d->hooks.report != NULL) d->hooks.report(d->hooks.user, r);
    else default_report(r);
}

static ZH_COLD void report_simple(zh_debug *d, zh_debug_report_kind kind, const char *message, uintptr_t addr,
                                  size_t len) {
    zh_debug_report r = {.kind = kind, .message = message, .address = addr, .length = len};
    report(d, &r);
}

static ZH_COLD void info(zh_debug *d, const char *message, uintptr_t addr, size_t len, size_t new_len) {
    zh_debug_report r = {.kind = ZH_DEBUG_INFO, .message = message, .address = addr, .length = len,
                         .given_length = new_len};
    report(d, &r);
}

/* reportDoubleFree: the second-free trace is captured on the spot. */
static ZH_COLD void report_double_free(zh_debug *d, uintptr_t ret_addr, uintptr_t addr, size_t len,
                                      const uintptr_t *alloc_t, const uintptr_t *free_t) {
    uintptr_t here[64];
    capture(d, ret_addr, here);
    zh_debug_report r = {.kind = ZH_DEBUG_DOUBLE_FREE, .message = "Double free detected.", .address = addr,
                         .length = len};
    r.traces[0] = d->config.stack_trace_frames ? alloc_t : NULL;
    r.traces[1] = d->config.stack_trace_frames ? free_t : NULL;
    r.traces[2] = d->config.stack_trace_frames ? here : NULL;
    report(d, &r);
}

/* A size or alignment mismatch on free/resize: logged, and the call goes on. */
static ZH_COLD void report_mismatch(zh_debug *d, zh_debug_report_kind kind, uintptr_t ret_addr, uintptr_t addr,
                                   size_t recorded, size_t given, const uintptr_t *alloc_t) {
    uintptr_t here[64];
    capture(d, ret_addr, here);
    char msg[128];
    bool size = kind == ZH_DEBUG_SIZE_MISMATCH;
    snprintf(msg, sizeof msg, size ? "Allocation size %zu bytes does not match free size %zu."
                                   : "Allocation alignment %zu does not match free alignment %zu.",
             recorded, given);
    zh_debug_report r = {.kind = kind, .message = msg, .address = addr};
    if (size) r.length = recorded, r.given_length = given;
    else r.alignment = recorded, r.given_alignment = given;
    r.traces[0] = d->config.stack_trace_frames ? alloc_t : NULL;
    r.traces[2] = d->config.stack_trace_frames ? here : NULL;
    report(d, &r);
}

/* --- tables ----------------------------------------------------------------------------
 * Linear probing over power-of-two capacities, keys are addresses (never 0),
 * deletion by backward shift (no tombstones). `tw` trace words ride along with
 * each entry. Storage comes from the backing allocator, as Zig's unmanaged
 * hash map's does. */

static size_t slot_of(uintptr_t key, size_t cap) {
    return (size_t)((key * (uintptr_t)0x9E3779B97F4A7C15ULL) >> 7) & (cap - 1);
}

static uintptr_t key_at(const zh_debug_table *t, size_t esz, size_t i) {
    uintptr_t k;
    memcpy(&k, (const char *)t->entries + i * esz, sizeof k);
    return k;
}

static size_t tbl_find(const zh_debug_table *t, size_t esz, uintptr_t key) {
    /* 0 is the empty slot's key: no block or page is at address 0, and a
     * lookup of 0 (a bad free) must not "find" an empty slot. */
    if (t->capacity == 0 || key == 0) return SIZE_MAX;
    for (size_t i = slot_of(key, t->capacity);; i = (i + 1) & (t->capacity - 1)) {
        uintptr_t k = key_at(t, esz, i);
        if (k == key) return i;
        if (k == 0) return SIZE_MAX;
    }
}

static void tbl_free_storage(zh_debug *d, zh_debug_table *t, size_t esz, size_t tw) {
    if (t->capacity == 0) return;
    zh_raw_free(d->backing_allocator, t->entries, t->capacity * esz, zh_alignment_from_bytes(_Alignof(uintptr_t)),
                0);
    if (tw) zh_raw_free(d->backing_allocator, t->traces, t->capacity * tw * sizeof(uintptr_t),
                        zh_alignment_from_bytes(_Alignof(uintptr_t)), 0);
    *t = (zh_debug_table){0};
}

/* Index to put `key` at, assuming it is absent and there is room. */
static size_t tbl_slot_for(const zh_debug_table *t, size_t esz, uintptr_t key) {
    size_t i = slot_of(key, t->capacity);
    while (key_at(t, esz, i) != 0) i = (i + 1) & (t->capacity - 1);
    return i;
}

/* ensureUnusedCapacity(1): false when the backing allocator refuses. */
static bool tbl_reserve(zh_debug *d, zh_debug_table *t, size_t esz, size_t tw) {
    if ((t->count + 1) * 4 <= t->capacity * 3) return true; /* load <= 75% */
    size_t cap = t->capacity ? t->capacity * 2 : 16, bytes, tbytes = 0;
    zh_alignment wal = zh_alignment_from_bytes(_Alignof(uintptr_t));
    if (!_zh_mul(cap, esz, &bytes) || (tw && !_zh_mul(cap, tw * sizeof(uintptr_t), &tbytes))) return false;
    zh_debug_table nt = {zh_raw_alloc(d->backing_allocator, bytes, wal, 0), NULL, cap, t->count};
    if (nt.entries == NULL) return false;
    if (tw) {
        nt.traces = zh_raw_alloc(d->backing_allocator, tbytes, wal, 0);
        if (nt.traces == NULL) {
            zh_raw_free(d->backing_allocator, nt.entries, bytes, wal, 0);
            return false;
        }
    }
    memset(nt.entries, 0, bytes);
    for (size_t i = 0; i < t->capacity; i++) {
        uintptr_t k = key_at(t, esz, i);
        if (k == 0) continue;
        size_t j = tbl_slot_for(&nt, esz, k);
        memcpy((char *)nt.entries + j * esz, (char *)t->entries + i * esz, esz);
        if (tw) memcpy(nt.traces + j * tw, t->traces + i * tw, tw * sizeof(uintptr_t));
    }
    size_t count = t->count;
    tbl_free_storage(d, t, esz, tw);
    *t = nt;
    t->count = count;
    return true;
}

static size_t tbl_put_assume_capacity(zh_debug_table *t, size_t esz, size_t tw, uintptr_t key) {
    size_t i = tbl_find(t, esz, key);
    if (i != SIZE_MAX) return i;
    i = tbl_slot_for(t, esz, key);
    memset((char *)t->entries + i * esz, 0, esz);
    memcpy((char *)t->entries + i * esz, &key, sizeof key);
    if (tw) memset(t->traces + i * tw, 0, tw * sizeof(uintptr_t));
    t->count++;
    return i;
}

static void tbl_remove_at(zh_debug_table *t, size_t esz, size_t tw, size_t i) {
    size_t mask = t->capacity - 1;
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        uintptr_t k = key_at(t, esz, j);
        if (k == 0) break;
        size_t home = slot_of(k, t->capacity);
        /* Move j back to i if i lies cyclically in [home, j). */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            memcpy((char *)t->entries + i * esz, (char *)t->entries + j * esz, esz);
            if (tw) memcpy(t->traces + i * tw, t->traces + j * tw, tw * sizeof(uintptr_t));
            i = j;
        }
    }
    memset((char *)t->entries + i * esz, 0, esz);
    t->count--;
}

static size_t large_tw(const zh_debug *d) { return trace_n(d) * d->config.stack_trace_frames; }
static large_rec *large_at(zh_debug *d, size_t i) { return (large_rec *)d->large.entries + i; }
/* NULL without traces (no storage: NULL + 0 is undefined). */
static uintptr_t *large_trace(zh_debug *d, size_t i, int kind) {
    if (d->large.traces == NULL) return NULL;
    return d->large.traces + i * large_tw(d) + (size_t)kind * d->config.stack_trace_frames;
}

/* --- bucket layout ----------------------------------------------------------------------- */

static size_t align_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }
static size_t used_bits_count(size_t slots) { return (slots + WORD_BITS - 1) / WORD_BITS; }

static size_t requested_sizes_start(size_t slots) {
    return align_up(sizeof(zh_debug_bucket) + used_bits_count(slots) * sizeof(uintptr_t), _Alignof(uint32_t));
}
static size_t aligns_start(size_t slots) { return requested_sizes_start(slots) + sizeof(uint32_t) * slots; }
static size_t traces_start(const zh_debug *d, size_t slots) {
    size_t unaligned = d->config.safety ? aligns_start(slots) + slots
                                        : sizeof(zh_debug_bucket) + used_bits_count(slots) * sizeof(uintptr_t);
    return align_up(unaligned, _Alignof(uintptr_t));
}
static size_t bucket_size(const zh_debug *d, size_t slots) {
    return traces_start(d, slots) + d->config.stack_trace_frames * sizeof(uintptr_t) * 2 * slots;
}

/* calculateSlotCount, search and early return exactly as Zig's. */
static uint32_t calculate_slot_count(const zh_debug *d, unsigned size_class_index) {
    size_t size_class = (size_t)1 << size_class_index, page_size = d->config.page_size;
    size_t lower = 2;
    if (bucket_size(d, lower) > page_size) return 0;
    size_t upper = (page_size - bucket_size(d, lower)) / size_class;
    while (upper > lower) {
        size_t proposed = lower + (upper - lower) / 2;
        if (proposed == lower) return (uint32_t)lower;
        size_t end = align_up(proposed * size_class, _Alignof(zh_debug_bucket)) + bucket_size(d, proposed);
        if (end > page_size) upper = proposed - 1;
        else lower = proposed;
    }
    size_t end = align_up(lower * size_class, _Alignof(zh_debug_bucket)) + bucket_size(d, lower);
    return end <= page_size ? (uint32_t)lower : 0;
}

/* Per-class layout, computed once at init (Zig's is comptime). */
static zh_debug_bucket *bucket_from_page(const zh_debug *d, uintptr_t page, size_t cls) {
    uintptr_t unaligned = page + d->config.page_size - d->layout_[cls].bucket_size;
    return (zh_debug_bucket *)(unaligned & ~(uintptr_t)(_Alignof(zh_debug_bucket) - 1));
}
static uintptr_t *used_bits(zh_debug_bucket *b) { return (uintptr_t *)(void *)((char *)b + sizeof *b); }
static uint32_t *requested_sizes(const zh_debug *d, zh_debug_bucket *b, size_t cls) {
    return (uint32_t *)(void *)((char *)b + d->layout_[cls].sizes_offset);
}
static uint8_t *slot_aligns(const zh_debug *d, zh_debug_bucket *b, size_t cls) {
    return (uint8_t *)b + d->layout_[cls].aligns_offset;
}
static uintptr_t *slot_trace(const zh_debug *d, zh_debug_bucket *b, size_t cls, size_t slot, int kind) {
    uintptr_t *start = (uintptr_t *)(void *)((char *)b + d->layout_[cls].traces_offset);
    return start + d->config.stack_trace_frames * (2 * slot + (size_t)kind);
}
static uintptr_t page_of(const zh_debug *d, const zh_debug_bucket *b) {
    return (uintptr_t)b & ~(uintptr_t)(d->config.page_size - 1);
}

/* --- init / deinit ------------------------------------------------------------------------- */

int zh_debug_init(zh_debug *self, zh_allocator backing, const zh_debug_config *config, const zh_debug_hooks *hooks) {
    zh_debug_config c = config ? *config : zh_debug_config_default();
    if (!zh_is_power_of_two(c.page_size) || c.page_size < 4096 || c.page_size > ((size_t)1 << 31) ||
        c.stack_trace_frames > 64 || (c.lock != NULL) != (c.unlock != NULL))
        return -1;
    memset(self, 0, sizeof *self);
    self->last_page = NO_PAGE;
    self->backing_allocator = backing;
    self->config = c;
    if (hooks != NULL) self->hooks = *hooks;
    self->requested_memory_limit = SIZE_MAX;
    self->mutex_ = (zh_mutex)ZH_MUTEX_INIT;
    self->fast_ = c.lock == NULL && c.stack_trace_frames == 0 && !c.verbose_log && !c.enable_memory_limit;
    /* small_bucket_count = log2(page_size) - 1: the largest small slot is half a page. */
    unsigned log2_page = zh_alignment_from_bytes(c.page_size);
    self->small_bucket_count = log2_page - 1;
    for (unsigned i = 0; i < self->small_bucket_count; i++) {
        size_t slots = self->slot_counts[i] = calculate_slot_count(self, i);
        /* A page too small for two slots plus metadata: that class (and every
         * larger one) is served as large allocations instead. */
        if (slots == 0) {
            self->small_bucket_count = i;
            break;
        }
        self->layout_[i].bucket_size = (uint32_t)bucket_size(self, slots);
        self->layout_[i].sizes_offset = (uint32_t)requested_sizes_start(slots);
        self->layout_[i].aligns_offset = (uint32_t)aligns_start(slots);
        self->layout_[i].traces_offset = (uint32_t)traces_start(self, slots);
    }
    return 0;
}

zh_check zh_debug_deinit(zh_debug *self) {
    bool leaks = self->config.safety ? zh_debug_detect_leaks(self) : false;
    if (self->config.retain_metadata) (void)zh_debug_flush_retained_metadata(self);
    tbl_free_storage(self, &self->large, sizeof(large_rec), large_tw(self));
    tbl_free_storage(self, &self->pages, sizeof(page_rec), 0);
    self->last_page = NO_PAGE;
    memset(self->buckets, 0, sizeof self->buckets);
    return leaks ? ZH_CHECK_LEAK : ZH_CHECK_OK;
}

/* --- size classes -------------------------------------------------------------------------- */

static unsigned size_class_of(size_t len, zh_alignment al) {
    unsigned c = len <= 1 ? 0 : (unsigned)(64 - __builtin_clzll((unsigned long long)(len - 1)));
    return c > al ? c : al;
}

/* --- the small path ------------------------------------------------------------------------ */

typedef struct slot_ref {
    zh_debug_bucket *bucket;
    size_t cls, index;
} slot_ref;

/* Whether `page` is a bucket page of class `cls`. One-entry cache in front
 * of the table: frees come in runs on the same page. */
static ZH_INLINE bool known_page(zh_debug *d, uintptr_t page, unsigned cls) {
    if (page != d->last_page) {
        size_t i = tbl_find(&d->pages, sizeof(page_rec), page);
        if (i == SIZE_MAX) return false;
        d->last_page = page;
        d->last_class = ((page_rec *)d->pages.entries)[i].size_class;
    }
    return d->last_class == cls;
}

/* The bucket slot behind (addr, class), or an "Invalid free" report and
 * false. Reads nothing but this allocator's own tables and pages. */
static ZH_INLINE bool find_slot(zh_debug *d, uintptr_t addr, unsigned cls, slot_ref *out) {
    uintptr_t page = addr & ~(uintptr_t)(d->config.page_size - 1);
    if (!known_page(d, page, cls)) {
        report_simple(d, ZH_DEBUG_INVALID_FREE, "Invalid free", addr, 0);
        return false;
    }
    size_t slots = d->slot_counts[cls];
    zh_debug_bucket *b = bucket_from_page(d, page, cls);
    size_t index = (addr - page) >> cls;
    /* Past the slots (metadata), or a slot never handed out: Zig reads the
     * used bit there and calls the latter a double free (with empty traces). */
    if (b->canary != d->config.canary || index >= slots || index >= b->allocated_count) {
        report_simple(d, ZH_DEBUG_INVALID_FREE, "Invalid free", addr, 0);
        return false;
    }
    *out = (slot_ref){b, cls, index};
    return true;
}

static bool slot_used(const slot_ref *s) {
    return (used_bits(s->bucket)[s->index / WORD_BITS] >> (s->index % WORD_BITS)) & 1;
}

/* The checks free and resize share on a small slot: false when the call
 * must stop (double free or invalid free, already reported). */
static ZH_INLINE bool check_small(zh_debug *d, const slot_ref *s, uintptr_t addr, size_t len, zh_alignment al,
                                  uintptr_t ret_addr) {
    if (!slot_used(s)) {
        report_double_free(d, ret_addr, addr, len, slot_trace(d, s->bucket, s->cls, s->index, ZH_DEBUG_TRACE_ALLOC),
                           slot_trace(d, s->bucket, s->cls, s->index, ZH_DEBUG_TRACE_FREE));
        return false;
    }
    if (!d->config.safety) return true;
    uint32_t requested = requested_sizes(d, s->bucket, s->cls)[s->index];
    if (requested == 0) {
        report_simple(d, ZH_DEBUG_INVALID_FREE, "Invalid free", addr, len);
        return false;
    }
    zh_alignment slot_al = slot_aligns(d, s->bucket, s->cls)[s->index];
    if (len != requested || al != slot_al) {
        const uintptr_t *alloc_t = slot_trace(d, s->bucket, s->cls, s->index, ZH_DEBUG_TRACE_ALLOC);
        if (len != requested) report_mismatch(d, ZH_DEBUG_SIZE_MISMATCH, ret_addr, addr, requested, len, alloc_t);
        if (al != slot_al)
            report_mismatch(d, ZH_DEBUG_ALIGNMENT_MISMATCH, ret_addr, addr, zh_alignment_bytes(slot_al),
                            zh_alignment_bytes(al), alloc_t);
    }
    return true;
}

/* A new bucket page for class `cls`, its first slot taken (allocated_count
 * 1), or NULL when the backing allocator refuses. Out of line: one call in
 * slot_count, and it keeps alloc_small's fast path without a stack frame. */
ZH_NOINLINE static zh_debug_bucket *new_bucket(zh_debug *d, unsigned cls) {
    size_t slots = d->slot_counts[cls];
    zh_alignment page_al = zh_alignment_from_bytes(d->config.page_size);
    if (!tbl_reserve(d, &d->pages, sizeof(page_rec), 0)) return NULL;
    void *mem = zh_raw_alloc(d->backing_allocator, d->config.page_size, page_al, ZH_RET_ADDR);
    if (mem == NULL) return NULL;
    uintptr_t page = (uintptr_t)mem;
    page_rec *pr = (page_rec *)d->pages.entries + tbl_put_assume_capacity(&d->pages, sizeof(page_rec), 0, page);
    pr->size_class = cls;
    zh_debug_bucket *b = bucket_from_page(d, page, cls);
    *b = (zh_debug_bucket){1, 0, d->buckets[cls], NULL, d->config.canary};
    if (b->prev != NULL) b->prev->next = b;
    d->buckets[cls] = b;
    if (!d->config.backing_allocator_zeroes) {
        memset(used_bits(b), 0, used_bits_count(slots) * sizeof(uintptr_t));
        if (d->config.safety) memset(requested_sizes(d, b, cls), 0, slots * sizeof(uint32_t));
    }
    return b;
}

static ZH_COLD void log_small(zh_debug *d, const char *what, uintptr_t addr, size_t len) {
    char msg[96];
    snprintf(msg, sizeof msg, "small %s %zu bytes at %s%" PRIxPTR, what, len, what[0] == 'a' ? "0x" : "u8@",
             addr);
    info(d, msg, addr, len, 0);
}

/* Slot `index` of `b` handed out for (len, al): its used bit, and with
 * safety its requested length and alignment. alloc_small and dbg_alloc's
 * short path share it. */
static ZH_INLINE void take_slot(zh_debug *d, zh_debug_bucket *b, unsigned cls, size_t index, size_t len,
                                zh_alignment al) {
    used_bits(b)[index / WORD_BITS] |= (uintptr_t)1 << (index % WORD_BITS);
    if (d->config.safety) {
        requested_sizes(d, b, cls)[index] = (uint32_t)len;
        slot_aligns(d, b, cls)[index] = al;
    }
}

static void *alloc_small(zh_debug *d, size_t len, zh_alignment al, unsigned cls, uintptr_t ret_addr) {
    zh_debug_bucket *b = d->buckets[cls];
    size_t index;
    if (b != NULL && b->allocated_count < d->slot_counts[cls]) {
        index = b->allocated_count++;
    } else {
        if ((b = new_bucket(d, cls)) == NULL) return NULL;
        index = 0;
    }
    take_slot(d, b, cls, index, len, al);
    if (d->config.stack_trace_frames) capture(d, ret_addr, slot_trace(d, b, cls, index, ZH_DEBUG_TRACE_ALLOC));
    uintptr_t addr = page_of(d, b) + (index << cls);
    if (d->config.verbose_log) log_small(d, "alloc", addr, len);
    return (void *)addr;
}

/* An empty bucket (full or not): unlinked, and its page given back unless
 * never_unmap. Out of line, as new_bucket. */
ZH_NOINLINE static void release_bucket(zh_debug *d, zh_debug_bucket *b, unsigned cls) {
    if (b->prev != NULL) b->prev->next = b->next;
    if (b->next != NULL) b->next->prev = b->prev;
    else d->buckets[cls] = b->prev;
    if (!d->config.never_unmap) {
        uintptr_t page = page_of(d, b);
        tbl_remove_at(&d->pages, sizeof(page_rec), 0, tbl_find(&d->pages, sizeof(page_rec), page));
        if (d->last_page == page) d->last_page = NO_PAGE;
        zh_raw_free(d->backing_allocator, (void *)page, d->config.page_size,
                    zh_alignment_from_bytes(d->config.page_size), ZH_RET_ADDR);
    }
}

/* Slot `index` of `b` given back: used bit cleared, length forgotten, and
 * the bucket released once every slot it handed out is freed. free_small
 * and dbg_free's short path share it. */
static ZH_INLINE void give_slot(zh_debug *d, zh_debug_bucket *b, unsigned cls, size_t index) {
    used_bits(b)[index / WORD_BITS] &= ~((uintptr_t)1 << (index % WORD_BITS));
    if (d->config.safety) requested_sizes(d, b, cls)[index] = 0;
    b->freed_count++;
    if (b->freed_count == b->allocated_count) release_bucket(d, b, cls);
}

static void free_small(zh_debug *d, void *mem, size_t len, zh_alignment al, unsigned cls, uintptr_t ret_addr) {
    uintptr_t addr = (uintptr_t)mem;
    slot_ref s;
    if (!find_slot(d, addr, cls, &s) || !check_small(d, &s, addr, len, al, ret_addr)) return;
    zh_debug_bucket *b = s.bucket;
    if (d->config.enable_memory_limit)
        d->total_requested_bytes -= d->config.safety ? requested_sizes(d, b, s.cls)[s.index] : len;
    if (d->config.stack_trace_frames) capture(d, ret_addr, slot_trace(d, b, s.cls, s.index, ZH_DEBUG_TRACE_FREE));
    give_slot(d, b, cls, s.index);
    if (d->config.verbose_log) log_small(d, "free", addr, len);
}

static bool resize_small(zh_debug *d, void *mem, size_t len, zh_alignment al, size_t new_len, unsigned cls,
                         uintptr_t ret_addr) {
    unsigned new_cls = size_class_of(new_len, al);
    uintptr_t addr = (uintptr_t)mem;
    slot_ref s = {0};
    if (d->config.safety) {
        if (!find_slot(d, addr, cls, &s) || !check_small(d, &s, addr, len, al, ret_addr)) return false;
    }
    if (new_cls != cls) return false;
    if (d->config.enable_memory_limit) {
        /* Without safety Zig skips this (the total drifts); zheap accounts. */
        size_t old = d->config.safety ? requested_sizes(d, s.bucket, s.cls)[s.index] : len;
        size_t total = d->total_requested_bytes - old + new_len;
        if (total > d->total_requested_bytes && total > d->requested_memory_limit) return false;
        d->total_requested_bytes = total;
    }
    if (new_len < len && len <= ((size_t)1 << cls)) _zh_fill_undefined((char *)mem + new_len, len - new_len);
    if (d->config.verbose_log) {
        char msg[112];
        snprintf(msg, sizeof msg, "small resize %zu bytes at u8@%" PRIxPTR " to %zu", len, addr, new_len);
        info(d, msg, addr, len, new_len);
    }
    if (d->config.safety) {
        requested_sizes(d, s.bucket, s.cls)[s.index] = (uint32_t)new_len;
        if (d->config.resize_stack_traces && d->config.stack_trace_frames)
            capture(d, ret_addr, slot_trace(d, s.bucket, s.cls, s.index, ZH_DEBUG_TRACE_ALLOC));
    }
    return true;
}

/* --- the large path ----------------------------------------------------------------------- */

ZH_NOINLINE static void *alloc_large(zh_debug *d, size_t len, zh_alignment al, uintptr_t ret_addr) {
    if (!tbl_reserve(d, &d->large, sizeof(large_rec), large_tw(d))) return NULL;
    void *p = zh_raw_alloc(d->backing_allocator, len, al, ret_addr);
    if (p == NULL) return NULL;
    /* An existing record can only be a freed one (retain_metadata): the
     * backing allocator reused the address. It is replaced. */
    size_t i = tbl_put_assume_capacity(&d->large, sizeof(large_rec), large_tw(d), (uintptr_t)p);
    large_rec *r = large_at(d, i);
    r->len = len;
    r->requested_size = len;
    r->align = al;
    r->freed = false;
    r->moved = false;
    if (d->config.stack_trace_frames) capture(d, ret_addr, large_trace(d, i, ZH_DEBUG_TRACE_ALLOC));
    if (d->config.verbose_log) {
        char msg[96];
        snprintf(msg, sizeof msg, "large alloc %zu bytes at u8@%" PRIxPTR, len, (uintptr_t)p);
        info(d, msg, (uintptr_t)p, len, 0);
    }
    return p;
}

/* The record of a large block for free/resize, or a report and SIZE_MAX. */
static size_t lookup_large(zh_debug *d, void *mem, size_t len, uintptr_t ret_addr, bool resizing) {
    size_t i = tbl_find(&d->large, sizeof(large_rec), (uintptr_t)mem);
    if (i == SIZE_MAX) {
        report_simple(d, ZH_DEBUG_INVALID_FREE, "Invalid free", (uintptr_t)mem, len);
        return SIZE_MAX;
    }
    large_rec *r = large_at(d, i);
    if (r->freed) {
        report_double_free(d, ret_addr, (uintptr_t)mem, len, large_trace(d, i, ZH_DEBUG_TRACE_ALLOC),
                           large_trace(d, i, ZH_DEBUG_TRACE_FREE));
        if (resizing) report_simple(d, ZH_DEBUG_UNRECOVERABLE_DOUBLE_FREE, "Unrecoverable double free",
                                    (uintptr_t)mem, len);
        return SIZE_MAX;
    }
    if (d->config.safety && len != r->len)
        report_mismatch(d, ZH_DEBUG_SIZE_MISMATCH, ret_addr, (uintptr_t)mem, r->len, len,
                        large_trace(d, i, ZH_DEBUG_TRACE_ALLOC));
    return i;
}

ZH_NOINLINE static void free_large(zh_debug *d, void *mem, size_t len, zh_alignment al, uintptr_t ret_addr) {
    size_t i = lookup_large(d, mem, len, ret_addr, false);
    if (i == SIZE_MAX) return;
    large_rec *r = large_at(d, i);
    /* The recorded length and alignment, not the caller's (Zig passes the
     * caller's): a wrong length already reported must not reach munmap. */
    (void)al;
    if (!d->config.never_unmap) zh_raw_free(d->backing_allocator, mem, r->len, r->align, ret_addr);
    if (d->config.enable_memory_limit) d->total_requested_bytes -= r->requested_size;
    if (d->config.verbose_log) {
        char msg[96];
        snprintf(msg, sizeof msg, "large free %zu bytes at u8@%" PRIxPTR, len, (uintptr_t)mem);
        info(d, msg, (uintptr_t)mem, len, 0);
    }
    if (!d->config.retain_metadata) {
        tbl_remove_at(&d->large, sizeof(large_rec), large_tw(d), i);
    } else {
        r->freed = true;
        if (d->config.stack_trace_frames) capture(d, ret_addr, large_trace(d, i, ZH_DEBUG_TRACE_FREE));
    }
}

ZH_NOINLINE static void *resize_large(zh_debug *d, void *mem, size_t len, zh_alignment al, size_t new_size, uintptr_t ret_addr,
                          bool may_move) {
    /* Reserve before the lookup: growing the table moves the records. */
    if (d->config.retain_metadata && may_move && !tbl_reserve(d, &d->large, sizeof(large_rec), large_tw(d)))
        return NULL;
    size_t i = lookup_large(d, mem, len, ret_addr, true);
    if (i == SIZE_MAX) return NULL;
    /* Never shrink into the small classes in place: that needs bucket metadata. */
    if (size_class_of(new_size, al) < d->small_bucket_count) return NULL;
    large_rec *r = large_at(d, i);
    size_t prev_total = d->total_requested_bytes;
    if (d->config.enable_memory_limit) {
        size_t total = prev_total + new_size - r->requested_size;
        if (total > prev_total && total > d->requested_memory_limit) return NULL;
        d->total_requested_bytes = total;
    }
    /* As in free_large: the backing allocator sees the recorded block. */
    void *p = may_move ? zh_raw_remap(d->backing_allocator, mem, r->len, r->align, new_size, ret_addr)
                       : (zh_raw_resize(d->backing_allocator, mem, r->len, r->align, new_size, ret_addr) ? mem : NULL);
    if (p == NULL) {
        d->total_requested_bytes = prev_total;
        return NULL;
    }
    size_t old_len = r->len, old_requested = r->requested_size;
    r->requested_size = new_size;
    if (d->config.verbose_log) {
        char msg[160];
        snprintf(msg, sizeof msg, "large resize %zu bytes at u8@%" PRIxPTR " to %zu at u8@%" PRIxPTR, len,
                 (uintptr_t)mem, new_size, (uintptr_t)p);
        info(d, msg, (uintptr_t)mem, len, new_size);
    }
    r->len = new_size;
    if (d->config.resize_stack_traces && d->config.stack_trace_frames)
        capture(d, ret_addr, large_trace(d, i, ZH_DEBUG_TRACE_ALLOC));
    if (p != mem) {
        size_t tw = large_tw(d);
        large_rec copy = *r;
        uintptr_t traces[128];
        if (tw) memcpy(traces, large_trace(d, i, 0), tw * sizeof(uintptr_t));
        if (d->config.retain_metadata) {
            /* The old record describes the old block, which the remap gave
             * back: its own length, and marked as owning nothing. (Zig
             * 0.15.1 leaves the new slice in it, so with never_unmap
             * freeRetainedMetadata frees the new block through it, live or
             * already freed through its own record.) */
            r->len = old_len;
            r->requested_size = old_requested;
            r->freed = true;
            r->moved = true;
            if (d->config.stack_trace_frames) capture(d, ret_addr, large_trace(d, i, ZH_DEBUG_TRACE_FREE));
        } else {
            tbl_remove_at(&d->large, sizeof(large_rec), tw, i);
        }
        size_t j = tbl_put_assume_capacity(&d->large, sizeof(large_rec), tw, (uintptr_t)p);
        copy.key = (uintptr_t)p;
        copy.freed = false;
        copy.moved = false;
        *large_at(d, j) = copy;
        if (tw) memcpy(large_trace(d, j, 0), traces, tw * sizeof(uintptr_t));
    }
    return p;
}

/* --- the vtable ------------------------------------------------------------------------------ */

static void *alloc_locked(zh_debug *d, size_t len, zh_alignment al, uintptr_t ret_addr) {
    size_t prev_total = d->total_requested_bytes;
    if (d->config.enable_memory_limit) {
        size_t total;
        if (__builtin_add_overflow(prev_total, len, &total) || total > d->requested_memory_limit) return NULL;
        d->total_requested_bytes = total;
    }
    unsigned cls = size_class_of(len, al);
    void *p = cls >= d->small_bucket_count ? alloc_large(d, len, al, ret_addr)
                                           : alloc_small(d, len, al, cls, ret_addr);
    /* Zig keeps the total raised after a failed allocation; zheap rolls it back. */
    if (p == NULL) d->total_requested_bytes = prev_total;
    return p;
}

ZH_NOINLINE static void *alloc_slow(zh_debug *d, size_t len, uint8_t al, uintptr_t ret_addr) {
    lock(d);
    void *p = alloc_locked(d, len, al, ret_addr);
    unlock(d);
    return p;
}

/* With d->fast_ (no hooks to call, nothing to capture, log or count), a
 * small allocation from the newest bucket of its class with room is done
 * here, as alloc_small does it; anything else goes to alloc_slow, which
 * does the whole of Zig's algorithm. The split keeps this path a leaf. */
static void *dbg_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ret_addr) {
    zh_debug *d = ctx;
    unsigned cls = size_class_of(len, al);
    if (d->fast_ && cls < d->small_bucket_count) {
        lock_fast(d);
        zh_debug_bucket *b = d->buckets[cls];
        if (b != NULL && b->allocated_count < d->slot_counts[cls]) {
            size_t index = b->allocated_count++;
            take_slot(d, b, cls, index, len, al);
            uintptr_t addr = page_of(d, b) + (index << cls);
            unlock_fast(d);
            return (void *)addr;
        }
        unlock_fast(d);
    }
    return alloc_slow(d, len, al, ret_addr);
}

static bool dbg_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ret_addr) {
    zh_debug *d = ctx;
    lock(d);
    unsigned cls = size_class_of(len, al);
    bool ok = cls >= d->small_bucket_count ? resize_large(d, mem, len, al, new_len, ret_addr, false) != NULL
                                            : resize_small(d, mem, len, al, new_len, cls, ret_addr);
    unlock(d);
    return ok;
}

static void *dbg_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ret_addr) {
    zh_debug *d = ctx;
    lock(d);
    unsigned cls = size_class_of(len, al);
    void *p = cls >= d->small_bucket_count
                  ? resize_large(d, mem, len, al, new_len, ret_addr, true)
                  : (resize_small(d, mem, len, al, new_len, cls, ret_addr) ? mem : NULL);
    unlock(d);
    return p;
}

ZH_NOINLINE static void free_slow(zh_debug *d, void *mem, size_t len, uint8_t al, uintptr_t ret_addr) {
    lock(d);
    unsigned cls = size_class_of(len, al);
    if (cls >= d->small_bucket_count) free_large(d, mem, len, al, ret_addr);
    else free_small(d, mem, len, al, cls, ret_addr);
    unlock(d);
}

/* With d->fast_, a small free that passes every check of find_slot and
 * check_small is done here, as free_small does it; anything else (a report
 * to make, a large block) goes to free_slow, which checks it all again. */
static void dbg_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ret_addr) {
    zh_debug *d = ctx;
    unsigned cls = size_class_of(len, al);
    if (d->fast_ && cls < d->small_bucket_count && len != 0) {
        lock_fast(d);
        uintptr_t addr = (uintptr_t)mem, page = addr & ~(uintptr_t)(d->config.page_size - 1);
        if (known_page(d, page, cls)) {
            zh_debug_bucket *b = bucket_from_page(d, page, cls);
            size_t index = (addr - page) >> cls;
            slot_ref s = {b, cls, index};
            if (b->canary == d->config.canary && index < d->slot_counts[cls] && index < b->allocated_count &&
                slot_used(&s) &&
                (!d->config.safety ||
                 (requested_sizes(d, b, cls)[index] == len && slot_aligns(d, b, cls)[index] == al))) {
                give_slot(d, b, cls, index);
                unlock_fast(d);
                return;
            }
        }
        unlock_fast(d);
    }
    free_slow(d, mem, len, al, ret_addr);
}

static const zh_allocator_vtable debug_vtable = {dbg_alloc, dbg_resize, dbg_remap, dbg_free};

zh_allocator zh_debug_allocator(zh_debug *self) { return (zh_allocator){self, &debug_vtable}; }

/* --- leaks, retained metadata, introspection ------------------------------------------------ */

/* A bucket's slots in order, then its metadata (zh_debug_visit). */
static int visit_bucket(zh_debug *self, zh_debug_bucket *b, unsigned c, zh_visit_fn fn, void *user) {
    const size_t slot = (size_t)1 << c, page_size = self->config.page_size;
    const uintptr_t page = page_of(self, b);
    zh_visit_item area = {.kind = ZH_VISIT_AREA, .area = "bucket", .address = page, .size = page_size,
                          .used = b->allocated_count * slot, .slot_size = slot, .slot_count = self->slot_counts[c]};
    int rc = fn(user, &area);
    for (size_t i = 0; i < b->allocated_count && rc == 0; i++) {
        uintptr_t at = page + (i << c);
        if (!((used_bits(b)[i / WORD_BITS] >> (i % WORD_BITS)) & 1)) {
            zh_visit_item freed = {.kind = ZH_VISIT_FREED, .address = at, .size = slot, .slot_size = slot};
            rc = fn(user, &freed);
            continue;
        }
        /* Without safety no requested length is recorded: the slot it is. */
        zh_visit_item live = {.kind = ZH_VISIT_LIVE, .address = at, .size = slot, .slot_size = slot,
                              .trace = slot_trace(self, b, c, i, ZH_DEBUG_TRACE_ALLOC),
                              .frames = self->config.stack_trace_frames};
        if (self->config.safety) {
            live.size = requested_sizes(self, b, c)[i];
            live.alignment = zh_alignment_bytes(slot_aligns(self, b, c)[i]);
        }
        rc = fn(user, &live);
        if (rc == 0 && live.size < slot) {
            zh_visit_item slack = {.kind = ZH_VISIT_PADDING, .address = at + live.size, .size = slot - live.size,
                                   .slot_size = slot};
            rc = fn(user, &slack);
        }
    }
    if (rc == 0 && b->allocated_count < self->slot_counts[c]) {
        zh_visit_item rest = {.kind = ZH_VISIT_FREE, .address = page + b->allocated_count * slot,
                              .size = (self->slot_counts[c] - b->allocated_count) * slot, .slot_size = slot};
        rc = fn(user, &rest);
    }
    if (rc == 0) {
        /* The bucket header sits where bucket_from_page puts it: from there
         * to the end of the page (used bits, sizes, alignments, traces). */
        size_t meta = (uintptr_t)bucket_from_page(self, 0, c);
        zh_visit_item records = {.kind = ZH_VISIT_METADATA, .address = page + meta, .size = page_size - meta};
        rc = fn(user, &records);
    }
    return rc;
}

int zh_debug_visit(zh_debug *self, zh_visit_fn fn, void *user) {
    int rc = 0;
    for (unsigned c = 0; c < self->small_bucket_count && rc == 0; c++)
        for (zh_debug_bucket *b = self->buckets[c]; b != NULL && rc == 0; b = b->prev)
            rc = visit_bucket(self, b, c, fn, user);
    for (size_t i = 0; i < self->large.capacity && rc == 0; i++) {
        large_rec *r = large_at(self, i);
        if (r->key == 0 || r->freed) continue;
        zh_visit_item area = {.kind = ZH_VISIT_AREA, .area = "large", .address = r->key, .size = r->len,
                              .used = r->len};
        zh_visit_item live = {.kind = ZH_VISIT_LIVE, .address = r->key, .size = r->len,
                              .alignment = zh_alignment_bytes(r->align),
                              .trace = large_trace(self, i, ZH_DEBUG_TRACE_ALLOC),
                              .frames = self->config.stack_trace_frames};
        rc = fn(user, &area);
        if (rc == 0) rc = fn(user, &live);
    }
    return rc;
}

static int report_leak(void *user, const zh_visit_item *it) {
    if (it->kind != ZH_VISIT_LIVE) return 0;
    zh_debug *d = user;
    char msg[64];
    snprintf(msg, sizeof msg, "memory address 0x%" PRIxPTR " leaked:", it->address);
    zh_debug_report r = {.kind = ZH_DEBUG_LEAK, .message = msg, .address = it->address, .length = it->size,
                         .alignment = it->alignment};
    r.traces[0] = it->frames ? it->trace : NULL;
    report(d, &r);
    return 0;
}

/* Stops at the first live block. */
static int is_live(void *user, const zh_visit_item *it) {
    (void)user;
    return it->kind == ZH_VISIT_LIVE;
}

bool zh_debug_detect_leaks(zh_debug *self) {
    bool leaked = zh_debug_visit(self, is_live, NULL) != 0;
    if (leaked) (void)zh_debug_visit(self, report_leak, self);
    return leaked;
}

int zh_debug_flush_retained_metadata(zh_debug *self) {
    if (!self->config.retain_metadata) return -1;
    for (size_t i = 0; i < self->large.capacity;) {
        large_rec *r = large_at(self, i);
        if (r->key == 0 || !r->freed) {
            i++;
            continue;
        }
        /* freeRetainedMetadata: with never_unmap the bytes were kept; free
         * them -- unless a remap moved the block, which gave them back. */
        if (self->config.never_unmap && !r->moved)
            zh_raw_free(self->backing_allocator, (void *)r->key, r->len, r->align, ZH_RET_ADDR);
        /* Backward shift may move another entry into i: look at i again. */
        tbl_remove_at(&self->large, sizeof(large_rec), large_tw(self), i);
    }
    return 0;
}

/* Where the block at (ptr, len, al) is described, without reporting and
 * without reading memory the allocator does not own. Mutex held. */
static zh_debug_block_state locate(zh_debug *d, const void *ptr, size_t len, zh_alignment al, slot_ref *slot,
                                   size_t *large_index) {
    if (len == 0) return ZH_DEBUG_UNKNOWN;
    unsigned cls = size_class_of(len, al);
    uintptr_t addr = (uintptr_t)ptr;
    *large_index = SIZE_MAX;
    slot->bucket = NULL;
    if (cls >= d->small_bucket_count) {
        size_t i = tbl_find(&d->large, sizeof(large_rec), addr);
        if (i == SIZE_MAX) return ZH_DEBUG_UNKNOWN;
        *large_index = i;
        return large_at(d, i)->freed ? ZH_DEBUG_FREED : ZH_DEBUG_LIVE;
    }
    uintptr_t page = addr & ~(uintptr_t)(d->config.page_size - 1);
    if (!known_page(d, page, cls)) return ZH_DEBUG_UNKNOWN;
    zh_debug_bucket *b = bucket_from_page(d, page, cls);
    size_t index = (addr - page) >> cls;
    if (b->canary != d->config.canary || index >= b->allocated_count) return ZH_DEBUG_UNKNOWN;
    *slot = (slot_ref){b, cls, index};
    return slot_used(slot) ? ZH_DEBUG_LIVE : ZH_DEBUG_FREED;
}

zh_debug_block_state zh_debug_block_state_of(zh_debug *self, const void *ptr, size_t len, zh_alignment al) {
    slot_ref slot;
    size_t li;
    lock(self);
    zh_debug_block_state st = locate(self, ptr, len, al, &slot, &li);
    unlock(self);
    return st;
}

const uintptr_t *zh_debug_trace_of(zh_debug *self, const void *ptr, size_t len, zh_alignment al, int kind) {
    slot_ref slot;
    size_t li;
    if (self->config.stack_trace_frames == 0 || (kind != ZH_DEBUG_TRACE_ALLOC && kind != ZH_DEBUG_TRACE_FREE))
        return NULL;
    lock(self);
    const uintptr_t *t = NULL;
    if (locate(self, ptr, len, al, &slot, &li) != ZH_DEBUG_UNKNOWN) {
        if (li != SIZE_MAX) t = kind < (int)trace_n(self) ? large_trace(self, li, kind) : NULL;
        else t = slot_trace(self, slot.bucket, slot.cls, slot.index, kind);
    }
    unlock(self);
    return t;
}

size_t zh_debug_large_count(const zh_debug *self, bool include_freed) {
    size_t n = 0;
    for (size_t i = 0; i < self->large.capacity; i++) {
        const large_rec *r = (const large_rec *)self->large.entries + i;
        if (r->key != 0 && (include_freed || !r->freed)) n++;
    }
    return n;
}
