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

#include <stdlib.h>
#include <string.h>

#if PY_VERSION_HEX < 0x030C0000
/* The headers are those of the 3.11 release this was built with; the
 * interpreter may be another 3.11 release. zx_gcstate_init checks the layout
 * against what the gc module reports, and if it does not match (or
 * ZHEAP_GCSTATE_FALLBACK is set, for the tests), follows the collections
 * with two gc.callbacks entries instead: the first in the list sees a
 * collection start before any other callback runs, the last sees it stop
 * after those there at import. Python code can remove them, or add
 * callbacks after them; the interpreter's own flag has neither weakness. */
static int layout_ok = 0;
static int fallback_collecting = 0;

static PyObject *follow(PyObject *self, PyObject *args, const char *mine, int value) {
    (void)self;
    const char *phase;
    PyObject *info;
    if (!PyArg_ParseTuple(args, "sO", &phase, &info)) return NULL;
    if (strcmp(phase, mine) == 0) fallback_collecting = value;
    Py_RETURN_NONE;
}

static PyObject *follow_start(PyObject *self, PyObject *args) { return follow(self, args, "start", 1); }
static PyObject *follow_stop(PyObject *self, PyObject *args) { return follow(self, args, "stop", 0); }

static PyMethodDef follow_defs[] = {
    {"_zheap_collection_starts", follow_start, METH_VARARGS, NULL},
    {"_zheap_collection_stops", follow_stop, METH_VARARGS, NULL},
};

static bool layout_matches(void) {
    const char *force = getenv("ZHEAP_GCSTATE_FALLBACK");
    if (force != NULL && force[0] != '\0' && force[0] != '0') return false;
    PyInterpreterState *interp = PyInterpreterState_Get();
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *t = gc ? PyObject_CallMethod(gc, "get_threshold", NULL) : NULL;
    Py_XDECREF(gc);
    long t0 = t && PyTuple_Check(t) && PyTuple_GET_SIZE(t) > 0 ? PyLong_AsLong(PyTuple_GET_ITEM(t, 0)) : -1;
    Py_XDECREF(t);
    PyErr_Clear();
    return t0 >= 0 && interp->gc.generations[0].threshold == t0 && interp->gc.enabled == PyGC_IsEnabled() &&
           (interp->gc.collecting == 0 || interp->gc.collecting == 1);
}
#endif

int zx_gcstate_init(void) {
#if PY_VERSION_HEX < 0x030C0000
    static bool done = false;
    if (done) return 0;
    layout_ok = layout_matches();
    if (!layout_ok) {
        PyObject *gc = PyImport_ImportModule("gc");
        PyObject *callbacks = gc ? PyObject_GetAttrString(gc, "callbacks") : NULL;
        PyObject *first = callbacks ? PyCFunction_New(&follow_defs[0], NULL) : NULL;
        PyObject *last = first ? PyCFunction_New(&follow_defs[1], NULL) : NULL;
        int rc = last && PyList_Check(callbacks) && PyList_Insert(callbacks, 0, first) == 0
                     ? PyList_Append(callbacks, last)
                     : -1;
        Py_XDECREF(first);
        Py_XDECREF(last);
        Py_XDECREF(callbacks);
        Py_XDECREF(gc);
        if (rc < 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ImportError, "gc.callbacks is not a list");
            return -1;
        }
    }
    done = true;
#endif
    return 0;
}

bool zx_collecting(void) {
#if PY_VERSION_HEX < 0x030C0000
    return layout_ok ? PyInterpreterState_Get()->gc.collecting != 0 : fallback_collecting != 0;
#else
    return false; /* collections run only at the eval breaker, between bytecodes */
#endif
}
