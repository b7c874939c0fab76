/* frames.h -- interned Python frames and zheap.Trace (frames.c). */
#ifndef ZHEAP_EXT_FRAMES_H
#define ZHEAP_EXT_FRAMES_H

#include "state.h"

/* The id of (code, lineno), interning it; 0 when out of memory. */
uintptr_t zx_frames_intern(zx_frames *f, PyObject *code, int lineno);
void zx_frames_clear(zx_frames *frames);
/* The calling Python frames, innermost first, as ids in out[0..n) (0 past
 * the last one). No Python code runs (the collector is off meanwhile). */
void zx_capture_frames(zx_frames *frames, uintptr_t *out, size_t n);
/* A zheap.Trace from `n` frame ids (zero-terminated when shorter); None for NULL. */
PyObject *zx_trace_from_ids(zheap_state *st, const uintptr_t *ids, size_t n);
int zx_frames_init_type(PyObject *module, zheap_state *st);

#endif
