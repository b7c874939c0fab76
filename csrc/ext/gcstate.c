/* gcstate.c -- the one place the binding reads CPython's private state.
 *
 * CPython 3.11 collects garbage inside any object allocation, so a
 * collection -- and with it every finalizer and weakref callback -- can run
 * in the middle of a memoryview method that has already read the view's
 * address (tolist() takes it before it makes its list). block.c must know when that can be the case, and 3.11 offers no
 * public way to ask: gc.callbacks can be emptied by any Python code, and
 * PyGC_Collect() collects. The interpreter's own flag is read instead, from
 * the internal headers CPython installs (the struct is frozen within 3.11).
 * This file includes nothing of the binding, so that Py_BUILD_CORE changes
 * nothing anywhere else. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x030C0000
/* Only the layout of the interpreter struct is wanted: Python.h itself is
 * included as in every other file, and the internal header's one macro
 * that clashes with a public one (the same test, spelled privately) goes. */
#undef _PyGC_FINALIZED
#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#endif
#include "internal/pycore_interp.h"
#endif

#include "gcstate.h"

bool zx_collecting(void) {
#if PY_VERSION_HEX < 0x030C0000
    return PyInterpreterState_Get()->gc.collecting != 0;
#else
    return false; /* collections run only at the eval breaker, between bytecodes */
#endif
}
