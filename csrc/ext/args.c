/* args.c -- the arguments every type parses the same way (fastcall
 * positional-or-keyword arguments, lengths, alignments, reset modes), and
 * the one wording of running out of memory. No argument here can run Python
 * code (ints are taken as ints: no __index__), so parsing never needs to be
 * re-checked. The exception types are made in module.c. */
#include "args.h"

#include <string.h>

/* Positional-or-keyword arguments for fastcall methods: fills out[0..nmax)
 * (NULL where absent) and checks the first `nreq` are present. */
int zx_parse_args(const char *fn, const char *const *names, int nreq, int nmax, PyObject *const *args,
                  Py_ssize_t nargs, PyObject *kwnames, PyObject **out) {
    if (nargs > nmax) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)", fn, nmax, nargs);
        return -1;
    }
    for (int i = 0; i < nmax; i++) out[i] = i < nargs ? args[i] : NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int i = 0;
        for (; i < nmax; i++)
            if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0) break;
        if (i == nmax) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fn, key);
            return -1;
        }
        if (out[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fn, names[i]);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (int i = 0; i < nreq; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fn, names[i]);
            return -1;
        }
    }
    return 0;
}

/* An int >= least (ValueError below it, OverflowError if it does not fit a
 * Py_ssize_t: no buffer can be that long). */
static int parse_at_least(PyObject *obj, const char *what, Py_ssize_t least, Py_ssize_t *out) {
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_ssize_t n = PyLong_AsSsize_t(obj);
    if (n == -1 && PyErr_Occurred()) return -1;
    if (n < least) {
        PyErr_Format(PyExc_ValueError, "%s must be >= %zd, got %zd", what, least, n);
        return -1;
    }
    *out = n;
    return 0;
}

/* A length: an int >= 0. */
int zx_parse_length(PyObject *obj, const char *what, Py_ssize_t *out) { return parse_at_least(obj, what, 0, out); }

/* A size or count that must not be 0: an int >= 1. */
int zx_parse_positive(PyObject *obj, const char *what, Py_ssize_t *out) { return parse_at_least(obj, what, 1, out); }

/* An alignment in bytes: a power of two, at most what the allocator takes. */
int zx_parse_alignment(ZxAllocator *self, PyObject *obj, zh_alignment *out) {
    if (obj == NULL) {
        *out = 0;
        return 0;
    }
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "alignment must be an int, not %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long sv = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (sv == -1 && PyErr_Occurred()) return -1;
    /* Past a signed 64-bit int, unsigned: 2**63 is a valid alignment (Zig's
     * largest), if not a satisfiable one. */
    unsigned long long v = overflow > 0 ? PyLong_AsUnsignedLongLong(obj) : (unsigned long long)sv;
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_OverflowError, "alignment too large: %R", obj);
        return -1;
    }
    if (overflow < 0 || (overflow == 0 && sv < 0) || v == 0 || (v & (v - 1)) != 0) {
        PyErr_Format(PyExc_ValueError, "alignment must be a positive power of two, got %R", obj);
        return -1;
    }
    zh_alignment al = zh_alignment_from_bytes((size_t)v);
    if (al > self->max_align) {
        PyErr_Format(PyExc_ValueError, "%.100s supports alignments up to %zu bytes, got %llu",
                     Py_TYPE(self)->tp_name, zh_alignment_bytes(self->max_align), v);
        return -1;
    }
    *out = al;
    return 0;
}

/* reset()'s (mode, limit) arguments, shared by ArenaAllocator and the pools. */
int zx_parse_reset_mode(PyObject *mode, PyObject *limit, zh_arena_reset_mode *out, size_t *lim) {
    const char *name = mode ? PyUnicode_AsUTF8(mode) : "retain_capacity";
    if (name == NULL) return -1;
    if (strcmp(name, "free_all") == 0) *out = ZH_ARENA_FREE_ALL;
    else if (strcmp(name, "retain_capacity") == 0) *out = ZH_ARENA_RETAIN_CAPACITY;
    else if (strcmp(name, "retain_with_limit") == 0) *out = ZH_ARENA_RETAIN_WITH_LIMIT;
    else {
        PyErr_Format(PyExc_ValueError,
                     "mode must be 'free_all', 'retain_capacity' or 'retain_with_limit', got %R", mode);
        return -1;
    }
    bool wants_limit = *out == ZH_ARENA_RETAIN_WITH_LIMIT;
    if (wants_limit != (limit != NULL && limit != Py_None)) {
        PyErr_SetString(PyExc_ValueError, wants_limit ? "mode 'retain_with_limit' needs a limit"
                                                      : "limit is only meaningful with mode 'retain_with_limit'");
        return -1;
    }
    *lim = 0;
    if (wants_limit) {
        if (!PyLong_Check(limit)) {
            PyErr_Format(PyExc_TypeError, "limit must be an int, not %.100s", Py_TYPE(limit)->tp_name);
            return -1;
        }
        if (_PyLong_Sign(limit) < 0) {
            PyErr_SetString(PyExc_ValueError, "limit must be >= 0");
            return -1;
        }
        *lim = PyLong_AsSize_t(limit);
        if (*lim == (size_t)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            *lim = SIZE_MAX; /* a limit above any capacity means "no limit" */
        }
    }
    return 0;
}

/* MemoryError for `who` failing to `what` (e.g. "allocating" 64 "bytes"): the
 * one wording of out-of-memory. An error already set (an allocator written
 * in Python raised, a ValidationAllocator reported) is kept instead. */
PyObject *zx_no_memory(PyObject *who, const char *what, size_t n, const char *unit, size_t alignment) {
    if (PyErr_Occurred()) return NULL;
    if (alignment != 0)
        return PyErr_Format(PyExc_MemoryError, "%.100s: out of memory %s %zu %s (alignment %zu)",
                            Py_TYPE(who)->tp_name, what, n, unit, alignment);
    return PyErr_Format(PyExc_MemoryError, "%.100s: out of memory %s %zu %s", Py_TYPE(who)->tp_name, what,
                        n, unit);
}
