/* owner.h -- object heads and the owner graph (owner.c). */
#ifndef ZHEAP_EXT_OWNER_H
#define ZHEAP_EXT_OWNER_H

#include "state.h"

zheap_state *zx_state_of(PyTypeObject *type);
/* A subtype of zheap.Allocator from `spec`, added to the module if public. */
PyTypeObject *zx_add_allocator_type(PyObject *module, zheap_state *st, PyType_Spec *spec, bool public);
void zx_allocator_setup(ZxAllocator *self, zheap_state *st, zh_allocator a, zh_alignment max_align);
int zx_allocator_traverse(PyObject *op, visitproc visit, void *arg);
bool zx_collectable(ZxAllocator *self);
int zx_allocator_clear(PyObject *op);
void zx_allocator_dealloc(PyObject *op);
int zx_check_open(ZxAllocator *self);
ZxAllocator *zx_as_allocator(zheap_state *st, PyObject *obj, const char *fn);
ZxAllocator *zx_child_or_default(zheap_state *st, PyTypeObject *type, PyObject *child, const char *fn);
/* The owner graph's one edge kind: `self` draws from / reaches into `child`. */
int zx_pin_child(ZxAllocator *self, PyObject *child);
void zx_unpin_child(ZxAllocator *self);
void zx_flush_chain(ZxAllocator *self);
void zx_call_quietly(PyObject *owner, void (*fn)(void *), void *arg);
void zx_finalize_quietly(ZxAllocator *self, void (*act)(void *), void *arg);
/* __enter__ of every type with deinit(). */
PyObject *zx_enter(PyObject *op, PyObject *unused);
/* Getter of the allocator a wrapper or owner draws from: None once the
 * collector cleared it (owner.c). */
PyObject *zx_get_child(PyObject *op, void *closure);
/* __exit__ of every type with deinit(): calls deinit(op); see owner.c. */
PyObject *zx_exit(PyObject *op, PyObject *args, PyObject *(*deinit)(PyObject *, PyObject *));
extern const char zx_enter_doc[];
extern const char zx_exit_doc[];

#endif
