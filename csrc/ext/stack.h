/* stack.h -- busy marks (stack.c). */
#ifndef ZHEAP_EXT_STACK_H
#define ZHEAP_EXT_STACK_H

#include "state.h"

/* stack.c: one operation at a time on an allocator stack.
 * zx_stack_begin marks `self` and every allocator it draws from as busy
 * with this thread. Another thread's mark is waited out with the GIL
 * released; this thread's own mark means Python code running inside an
 * operation (an allocator written in Python, a finalizer) re-entered the
 * stack: RuntimeError, nothing changed. `nested_ok` admits the C path of the
 * operation itself coming back down (a wrapper's child call). */
typedef struct zx_mark {
    bool marked;
    int saved_in_act;
} zx_mark;
int zx_stack_begin(ZxAllocator *self, bool nested_ok, zx_mark *m);
void zx_stack_end(ZxAllocator *self, zx_mark *m);
/* For introspection: 0 when no operation is under way on `self`'s stack
 * (waiting for another thread's), else RuntimeError. */
int zx_stack_idle(ZxAllocator *self);
/* Around Python code run from inside an operation (a trampoline). */
int zx_python_enter(void);
void zx_python_leave(int saved);
extern const zh_allocator_vtable zx_gil_vtable;
void zx_stack_init(ZxAllocator *self);

#endif
