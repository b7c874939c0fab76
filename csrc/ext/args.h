/* args.h -- argument parsing shared by every type (args.c). */
#ifndef ZHEAP_EXT_ARGS_H
#define ZHEAP_EXT_ARGS_H

#include "state.h"

/* Positional-or-keyword arguments for fastcall methods: fills out[0..nmax)
 * (NULL where absent) and checks the first `nreq` are present. */
int zx_parse_args(const char *fn, const char *const *names, int nreq, int nmax, PyObject *const *args,
                  Py_ssize_t nargs, PyObject *kwnames, PyObject **out);
/* A length: an int >= 0 (ValueError if negative, OverflowError past Py_ssize_t). */
int zx_parse_length(PyObject *obj, const char *what, Py_ssize_t *out);
int zx_parse_positive(PyObject *obj, const char *what, Py_ssize_t *out);
/* An alignment in bytes: a power of two, at most what `self` takes; NULL: 1. */
int zx_parse_alignment(ZxAllocator *self, PyObject *obj, zh_alignment *out);
/* reset()'s (mode, limit), shared by ArenaAllocator and the pools. */
int zx_parse_reset_mode(PyObject *mode, PyObject *limit, zh_arena_reset_mode *out, size_t *lim);
/* MemoryError "<type>: out of memory <what> <n> <unit> (alignment
 * A)", unless an error is already set. Returns NULL. */
PyObject *zx_no_memory(PyObject *who, const char *what, size_t n, const char *unit, size_t alignment);

#endif
