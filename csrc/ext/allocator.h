/* allocator.h -- the base type zheap.Allocator (allocator.c), and what
 * every type file above it builds on. */
#ifndef ZHEAP_EXT_ALLOCATOR_H
#define ZHEAP_EXT_ALLOCATOR_H

#include "state.h"
#include "args.h"
#include "stack.h"
#include "trace.h"
#include "layout.h"
#include "block.h"
#include "owner.h"

int zx_allocator_init_types(PyObject *module, zheap_state *st);
/* The operations, each one gate transaction (block.h), under a type's name. */
PyObject *zx_alloc_view(ZxAllocator *self, Py_ssize_t len, zh_alignment al);
PyObject *zx_free_view(ZxAllocator *self, PyObject *view, const char *fn);
PyObject *zx_resize_view(ZxAllocator *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                         const char *name);

#endif
