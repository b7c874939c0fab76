/* allocator.c -- the std.mem.Allocator helpers, the no-op vtable fillers and
 * the ValidationAllocator (std.mem.validationWrap).
 *
 * The helpers hold every zero-length special case, so that no allocator ever
 * sees a zero length: Zig puts them here too (Allocator.zig), and keeping
 * them in one place is what lets each allocator's vtable assume len > 0. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void _zh_panic(const char *message) {
    fprintf(stderr, "zheap panic: %s\n", message);
    abort();
}

/* --- no-op fillers ----------------------------------------------------- */

bool zh_no_resize(void *ctx, void *mem, size_t len, uint8_t log2_align, size_t new_len, uintptr_t ret_addr) {
    (void)ctx, (void)mem, (void)len, (void)log2_align, (void)new_len, (void)ret_addr;
    return false;
}

void *zh_no_remap(void *ctx, void *mem, size_t len, uint8_t log2_align, size_t new_len, uintptr_t ret_addr) {
    (void)ctx, (void)mem, (void)len, (void)log2_align, (void)new_len, (void)ret_addr;
    return NULL;
}

void zh_no_free(void *ctx, void *mem, size_t len, uint8_t log2_align, uintptr_t ret_addr) {
    (void)ctx, (void)mem, (void)len, (void)log2_align, (void)ret_addr;
}

/* --- helpers ------------------------------------------------------------ */

/* The helpers below are not inline so that ZH_RET_ADDR names their caller,
 * as Zig's @returnAddress() does in the typed helpers. */

void *zh_alloc(zh_allocator a, size_t elem_size, size_t n, zh_alignment al) {
    size_t bytes;
    if (!_zh_mul(elem_size, n, &bytes)) return NULL;
    if (bytes == 0) return zh_empty(al);
    void *p = zh_raw_alloc(a, bytes, al, ZH_RET_ADDR);
    if (p != NULL) _zh_fill_undefined(p, bytes);
    return p;
}

void zh_free(zh_allocator a, void *ptr, size_t elem_size, size_t n, zh_alignment al) {
    size_t bytes;
    /* A live slice's byte length cannot overflow; treat overflow as empty
     * rather than pass a wrapped length down. */
    if (!_zh_mul(elem_size, n, &bytes) || bytes == 0) return;
    _zh_fill_undefined(ptr, bytes);
    zh_raw_free(a, ptr, bytes, al, ZH_RET_ADDR);
}

void *zh_create(zh_allocator a, size_t size, zh_alignment al) {
    if (size == 0) return zh_empty(al);
    void *p = zh_raw_alloc(a, size, al, ZH_RET_ADDR);
    if (p != NULL) _zh_fill_undefined(p, size);
    return p;
}

void zh_destroy(zh_allocator a, void *ptr, size_t size, zh_alignment al) {
    if (size == 0) return;
    zh_raw_free(a, ptr, size, al, ZH_RET_ADDR); /* Zig's destroy does not fill */
}

bool zh_resize(zh_allocator a, void *ptr, size_t elem_size, size_t n, zh_alignment al, size_t new_n) {
    if (new_n == 0) {
        zh_free(a, ptr, elem_size, n, al);
        return true;
    }
    if (n == 0) return false; /* Zig's code (not its doc comment): no new allocation */
    /* Zig has no guard for zero-sized elements and would pass len 0 down,
     * breaking the vtable contract; a zero-sized slice resizes trivially. */
    if (elem_size == 0) return true;
    size_t old_bytes = elem_size * n, new_bytes;
    if (!_zh_mul(elem_size, new_n, &new_bytes)) return false;
    return zh_raw_resize(a, ptr, old_bytes, al, new_bytes, ZH_RET_ADDR);
}

void *zh_remap(zh_allocator a, void *ptr, size_t elem_size, size_t n, zh_alignment al, size_t new_n) {
    if (new_n == 0) {
        zh_free(a, ptr, elem_size, n, al);
        return ptr; /* an empty, non-null slice at the old pointer */
    }
    if (n == 0) return NULL;
    if (elem_size == 0) return ptr;
    size_t old_bytes = elem_size * n, new_bytes;
    if (!_zh_mul(elem_size, new_n, &new_bytes)) return NULL;
    return zh_raw_remap(a, ptr, old_bytes, al, new_bytes, ZH_RET_ADDR);
}

void *zh_realloc(zh_allocator a, void *ptr, size_t elem_size, size_t n, zh_alignment al, size_t new_n) {
    uintptr_t ra = ZH_RET_ADDR;
    if (n == 0) {
        size_t bytes;
        if (!_zh_mul(elem_size, new_n, &bytes)) return NULL;
        if (bytes == 0) return zh_empty(al);
        void *p = zh_raw_alloc(a, bytes, al, ra);
        if (p != NULL) _zh_fill_undefined(p, bytes);
        return p;
    }
    if (new_n == 0) {
        zh_free(a, ptr, elem_size, n, al);
        return zh_empty(al);
    }
    if (elem_size == 0) return ptr;
    size_t old_bytes = elem_size * n, new_bytes;
    if (!_zh_mul(elem_size, new_n, &new_bytes)) return NULL;
    /* No undefined-fill before remap: a failed realloc must leave the old
     * memory exactly as it was. */
    void *moved = zh_raw_remap(a, ptr, old_bytes, al, new_bytes, ra);
    if (moved != NULL) return moved;
    void *fresh = zh_raw_alloc(a, new_bytes, al, ra);
    if (fresh == NULL) return NULL;
    memcpy(fresh, ptr, old_bytes < new_bytes ? old_bytes : new_bytes);
    _zh_fill_undefined(ptr, old_bytes);
    zh_raw_free(a, ptr, old_bytes, al, ra);
    return fresh;
}

void *zh_dupe(zh_allocator a, const void *src, size_t len) {
    if (len == 0) return zh_empty(0);
    void *p = zh_raw_alloc(a, len, 0, ZH_RET_ADDR);
    if (p != NULL) memcpy(p, src, len);
    return p;
}

/* --- ValidationAllocator ------------------------------------------------ */

static void validation_panic(zh_validation *self, const char *message) {
    if (self->panic == NULL) _zh_panic(message);
    self->panic(self->panic_user, message);
}

static void *validation_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    zh_validation *self = ctx;
    if (len == 0) {
        validation_panic(self, "ValidationAllocator: alloc with length 0");
        return NULL;
    }
    void *p = zh_raw_alloc(self->underlying, len, al, ra);
    if (p != NULL && !zh_alignment_check((uintptr_t)p, al)) {
        /* Give the block back first so that a recoverable report leaks
         * nothing; the block is live, so freeing it is within contract. */
        zh_raw_free(self->underlying, p, len, al, ra);
        validation_panic(self, "ValidationAllocator: alloc returned a misaligned address");
        return NULL;
    }
    return p;
}

static bool validation_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    zh_validation *self = ctx;
    if (len == 0) {
        validation_panic(self, "ValidationAllocator: resize of an empty block");
        return false;
    }
    return zh_raw_resize(self->underlying, mem, len, al, new_len, ra);
}

static void *validation_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    zh_validation *self = ctx;
    if (len == 0) {
        validation_panic(self, "ValidationAllocator: remap of an empty block");
        return NULL;
    }
    return zh_raw_remap(self->underlying, mem, len, al, new_len, ra);
}

static void validation_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    zh_validation *self = ctx;
    if (len == 0) {
        validation_panic(self, "ValidationAllocator: free of an empty block");
        return;
    }
    zh_raw_free(self->underlying, mem, len, al, ra);
}

static const zh_allocator_vtable validation_vtable = {
    validation_alloc, validation_resize, validation_remap, validation_free,
};

void zh_validation_init(zh_validation *self, zh_allocator underlying) {
    self->underlying = underlying;
    self->panic = NULL;
    self->panic_user = NULL;
}

zh_allocator zh_validation_allocator(zh_validation *self) {
    return (zh_allocator){self, &validation_vtable};
}
