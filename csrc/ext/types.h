/* types.h -- the Python types above the base type, for module.c. */
#ifndef ZHEAP_EXT_TYPES_H
#define ZHEAP_EXT_TYPES_H

#include "state.h"

int zx_fixed_buffer_init_types(PyObject *module, zheap_state *st);
int zx_arena_init_type(PyObject *module, zheap_state *st);
int zx_stack_fallback_init_types(PyObject *module, zheap_state *st);
int zx_thread_safe_init_type(PyObject *module, zheap_state *st);
int zx_debug_init_types(PyObject *module, zheap_state *st);
int zx_smp_init_type(PyObject *module, zheap_state *st);
int zx_bigpage_init_types(PyObject *module, zheap_state *st);
int zx_memory_pool_init_types(PyObject *module, zheap_state *st);
int zx_os_allocators_init_types(PyObject *module, zheap_state *st);
int zx_failing_init_type(PyObject *module, zheap_state *st);

#endif
