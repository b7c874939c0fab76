/* numpy_handler.h -- numpy data-memory handlers over zheap allocators
 * (numpy_handler.c), the module functions behind zheap/numpy.py. */
#ifndef ZHEAP_EXT_NUMPY_HANDLER_H
#define ZHEAP_EXT_NUMPY_HANDLER_H

#include "state.h"

PyObject *zx_numpy_handler(PyObject *module, PyObject *allocator);
PyObject *zx_numpy_set_handler(PyObject *module, PyObject *handler);
PyObject *zx_numpy_lent(PyObject *module, PyObject *allocator);
/* Whether a numpy handler over `a` holds the block at `addr`. */
bool zx_numpy_holds(ZxAllocator *a, uintptr_t addr);
extern const char zx_numpy_handler_doc[], zx_numpy_set_handler_doc[], zx_numpy_lent_doc[];

#endif
