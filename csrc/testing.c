/* testing.c -- Zig's four generic allocator checks (heap.zig testAllocator,
 * testAllocatorAligned, testAllocatorLargeAlignment,
 * testAllocatorAlignedShrink), for any zh_allocator.
 *
 * Each wraps the allocator in a ValidationAllocator as Zig does. Zig's
 * `try`/`expect` become CHECK: on failure the check records why and unwinds
 * through `error:`, releasing what it still holds, so a failing allocator
 * under test does not also leak. */
#include "internal.h"

#define CHECK(cond, msg)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (why != NULL) *why = (msg);                                                         \
            goto error;                                                                            \
        }                                                                                          \
    } while (0)

#define AL_OF(T) zh_alignment_from_bytes(_Alignof(T))

static zh_allocator wrap(zh_validation *v, zh_allocator base) {
    zh_validation_init(v, base);
    return zh_validation_allocator(v);
}

int zh_test_allocator(zh_allocator base, const char **why) {
    zh_validation v;
    zh_allocator a = wrap(&v, base);
    const zh_alignment pal = AL_OF(int32_t *);
    size_t n = 100, created = 0;
    int32_t **slice = zh_alloc(a, sizeof *slice, n, pal);
    CHECK(slice != NULL, "alloc(*i32, 100) failed");
    for (; created < 100; created++) {
        slice[created] = zh_create(a, sizeof(int32_t), AL_OF(int32_t));
        CHECK(slice[created] != NULL, "create(i32) failed");
        *slice[created] = (int32_t)created;
    }
    int32_t **grown = zh_realloc(a, slice, sizeof *slice, n, pal, 20000);
    CHECK(grown != NULL, "realloc to 20000 failed");
    slice = grown;
    n = 20000;
    for (size_t i = 0; i < 100; i++) {
        CHECK(*slice[i] == (int32_t)i, "realloc did not preserve the first 100 entries");
    }
    for (; created > 0; created--) zh_destroy(a, slice[created - 1], sizeof(int32_t), AL_OF(int32_t));
    if (zh_resize(a, slice, sizeof *slice, n, pal, 50)) {
        n = 50;
        if (zh_resize(a, slice, sizeof *slice, n, pal, 25)) {
            n = 25;
            CHECK(zh_resize(a, slice, sizeof *slice, n, pal, 0), "resize to 0 must succeed");
            n = 0;
            slice = zh_realloc(a, slice, sizeof *slice, 0, pal, 10);
            CHECK(slice != NULL, "realloc of an empty slice to 10 failed");
            n = 10;
        }
    }
    zh_free(a, slice, sizeof *slice, n, pal);
    slice = NULL;

    /* Zero-length and zero-sized requests never reach the allocator. */
    void *empty = zh_alloc(a, 1, 0, 0);
    CHECK(empty != NULL, "alloc(u8, 0) returned NULL");
    zh_free(a, empty, 1, 0, 0);
    void *zst = zh_create(a, 0, 0);
    CHECK(zst != NULL, "create(u0) returned NULL");
    zh_destroy(a, zst, 0, 0);
    zst = zh_create(a, 0, AL_OF(uint64_t));
    CHECK(zst != NULL && zh_alignment_check((uintptr_t)zst, AL_OF(uint64_t)), "create([0]u64) failed");
    zh_destroy(a, zst, 0, AL_OF(uint64_t));

    uint32_t *oversize = zh_alloc(a, sizeof(uint32_t), 5, AL_OF(uint32_t));
    CHECK(oversize != NULL, "alignedAlloc(u32, 5) failed");
    for (int i = 0; i < 5; i++) oversize[i] = 0xDEADBEEF;
    zh_free(a, oversize, sizeof(uint32_t), 5, AL_OF(uint32_t));
    return 0;
error:
    if (slice != NULL) {
        for (; created > 0; created--) zh_destroy(a, slice[created - 1], sizeof(int32_t), AL_OF(int32_t));
        zh_free(a, slice, sizeof *slice, n, pal);
    }
    return -1;
}

int zh_test_allocator_aligned(zh_allocator base, const char **why) {
    zh_validation v;
    zh_allocator a = wrap(&v, base);
    static const size_t aligns[] = {1, 2, 4, 8, 16, 32, 64};
    uint8_t *s = NULL;
    size_t n = 0;
    zh_alignment al = 0;
    for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
        al = zh_alignment_from_bytes(aligns[k]);
        s = zh_alloc(a, 1, 10, al);
        CHECK(s != NULL, "alignedAlloc(u8, align, 10) failed");
        n = 10;
        CHECK(zh_alignment_check((uintptr_t)s, al), "alloc result misaligned");
        uint8_t *t = zh_realloc(a, s, 1, n, al, 100);
        CHECK(t != NULL, "realloc to 100 failed");
        s = t, n = 100;
        CHECK(zh_alignment_check((uintptr_t)s, al), "realloc result misaligned");
        if (zh_resize(a, s, 1, n, al, 10)) n = 10;
        CHECK(zh_resize(a, s, 1, n, al, 0), "resize to 0 must succeed");
        s = NULL, n = 0;
        s = zh_realloc(a, s, 1, 0, al, 100);
        CHECK(s != NULL, "realloc of an empty slice to 100 failed");
        n = 100;
        CHECK(zh_alignment_check((uintptr_t)s, al), "realloc result misaligned");
        if (zh_resize(a, s, 1, n, al, 10)) n = 10;
        CHECK(zh_resize(a, s, 1, n, al, 0), "resize to 0 must succeed");
        s = NULL, n = 0;
    }
    return 0;
error:
    if (s != NULL) zh_free(a, s, 1, n, al);
    return -1;
}

int zh_test_allocator_large_alignment(zh_allocator base, const char **why) {
    zh_validation v;
    zh_allocator a = wrap(&v, base);
    const size_t large_align = ZH_PAGE_SIZE_MIN / 2;
    const zh_alignment al = zh_alignment_from_bytes(large_align);
    const uintptr_t mask = ~(uintptr_t)0 << al;
    size_t n = 500;
    uint8_t *s = zh_alloc(a, 1, n, al);
    CHECK(s != NULL, "alignedAlloc(u8, page_size_min/2, 500) failed");
    CHECK(((uintptr_t)s & mask) == (uintptr_t)s, "alloc result misaligned");
    if (zh_resize(a, s, 1, n, al, 100)) n = 100;
    uint8_t *t = zh_realloc(a, s, 1, n, al, 5000);
    CHECK(t != NULL, "realloc to 5000 failed");
    s = t, n = 5000;
    CHECK(((uintptr_t)s & mask) == (uintptr_t)s, "realloc to 5000 lost the alignment");
    if (zh_resize(a, s, 1, n, al, 10)) n = 10;
    t = zh_realloc(a, s, 1, n, al, 20000);
    CHECK(t != NULL, "realloc to 20000 failed");
    s = t, n = 20000;
    CHECK(((uintptr_t)s & mask) == (uintptr_t)s, "realloc to 20000 lost the alignment");
    zh_free(a, s, 1, n, al);
    return 0;
error:
    if (s != NULL) zh_free(a, s, 1, n, al);
    return -1;
}

int zh_test_allocator_aligned_shrink(zh_allocator base, const char **why) {
    zh_validation v;
    zh_allocator a = wrap(&v, base);
    const size_t page = zh_page_size();
    const size_t alloc_size = page * 2 + 50;
    const zh_alignment al = 4; /* 16 */
    /* Zig keeps this bookkeeping in a FixedBufferAllocator over 1000 bytes:
     * room for 1000 / 8 pointers, after which its append fails the test. */
    enum { MAX_STUFF = 1000 / sizeof(void *) };
    uint8_t *stuff[MAX_STUFF];
    size_t nstuff = 0;
    uint8_t *s = zh_alloc(a, 1, alloc_size, al);
    CHECK(s != NULL, "alignedAlloc(u8, 16, 2 pages + 50) failed");
    size_t n = alloc_size;
    /* Skip blocks that happen to be very highly aligned (Windows hands out
     * 64 KiB-aligned ones), so that the shrink below really tests keeping a
     * merely 16-aligned block's contents. */
    while (((uintptr_t)s & (page * 32 - 1)) == 0) {
        CHECK(nstuff < MAX_STUFF, "too many over-aligned blocks");
        stuff[nstuff++] = s;
        s = zh_alloc(a, 1, alloc_size, al);
        CHECK(s != NULL, "alignedAlloc(u8, 16, 2 pages + 50) failed");
    }
    while (nstuff > 0) zh_free(a, stuff[--nstuff], 1, alloc_size, al);
    s[0] = 0x12;
    s[60] = 0x34;
    uint8_t *t = zh_realloc(a, s, 1, n, al, alloc_size / 2);
    CHECK(t != NULL, "realloc to half failed");
    s = t, n = alloc_size / 2;
    CHECK(s[0] == 0x12 && s[60] == 0x34, "shrinking realloc lost the contents");
    zh_free(a, s, 1, n, al);
    return 0;
error:
    while (nstuff > 0) zh_free(a, stuff[--nstuff], 1, alloc_size, al);
    if (s != NULL) zh_free(a, s, 1, n, al);
    return -1;
}
