/* trace.h -- the tap and the recorder (trace.c). */
#ifndef ZHEAP_EXT_TRACE_H
#define ZHEAP_EXT_TRACE_H

#include "state.h"

/* trace.c: the tap every parent reaches its child through, and the
 * recorder behind zheap.trace(). */
enum zx_op { ZX_OP_ALLOC, ZX_OP_RESIZE, ZX_OP_REMAP, ZX_OP_FREE, ZX_OP_CREATE, ZX_OP_RESET, ZX_OP_DEINIT };
typedef struct zx_event {
    uint8_t op, depth;
    uint16_t who;        /* the allocator's trace_index */
    zh_alignment align;
    uintptr_t addr;      /* the block operated on */
    size_t len, new_len;
    uintptr_t result;    /* address, or bool */
    uintptr_t where;     /* interned frame id of the caller, 0 if none */
} zx_event;
extern const zh_allocator_vtable zx_tap_vtable;
extern PyMethodDef zx_trace_methods[];
/* The interface a parent allocator draws from `child` through. */
static inline zh_allocator zx_child_iface(ZxAllocator *child) { return (zh_allocator){child, &zx_tap_vtable}; }
/* The interface the binding calls `self` through: the tap while traced. */
static inline zh_allocator zx_iface(ZxAllocator *self) {
    return self->tracer != NULL ? zx_child_iface(self) : self->a;
}
/* An operation that is not a vtable call (create, destroy, reset, deinit):
 * begin returns a token (0: not traced) for end, which records the result. */
size_t zx_trace_begin(ZxAllocator *self, enum zx_op op, const void *addr, size_t len, zh_alignment al,
                      size_t new_len);
void zx_trace_end(ZxAllocator *self, size_t token, uintptr_t result);

#endif
