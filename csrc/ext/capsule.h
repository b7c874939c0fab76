/* capsule.h -- capsules to and from C (capsule.c). */
#ifndef ZHEAP_EXT_CAPSULE_H
#define ZHEAP_EXT_CAPSULE_H

#include "state.h"

PyObject *zx_allocator_capsule(PyObject *op, PyObject *unused);
PyObject *zx_allocator_from_capsule(PyObject *cls, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);
extern const char zx_capsule_doc[], zx_from_capsule_doc[];
int zx_capsule_init_type(PyObject *module, zheap_state *st);

#endif
