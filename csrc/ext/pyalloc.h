/* pyalloc.h -- allocators written in Python (pyalloc.c). */
#ifndef ZHEAP_EXT_PYALLOC_H
#define ZHEAP_EXT_PYALLOC_H

#include "state.h"

PyObject *zx_pyalloc_new(PyTypeObject *type, PyObject *args, PyObject *kwds);
int zx_pyalloc_traverse(PyObject *op, visitproc visit, void *arg);
void zx_pyalloc_dealloc(PyObject *op);
PyObject *zx_pyalloc_layout(PyObject *op);
PyObject *zx_pyalloc_repr(PyObject *op);
PyObject *zx_allocator_add_region(PyObject *op, PyObject *memory);
extern const char zx_add_region_doc[];

#endif
