/* frames.c -- Python frames as DebugAllocator traces and trace events store
 * them: interned (code, line) pairs, as tracemalloc interns them, so that a
 * trace is a row of ids and no Python object is made while it is captured;
 * and zheap.Trace, the tuple those ids become when Python asks. */
#include "frames.h"

#include <string.h>

/* ===================================================================== */
/* Interned frames                                                        */
/* ===================================================================== */

static size_t frame_hash(PyObject *code, int lineno) {
    uintptr_t h = (uintptr_t)code * (uintptr_t)0x9E3779B97F4A7C15ULL;
    return (size_t)((h >> 7) ^ (uintptr_t)(unsigned)lineno * 0x85EBCA6Bu);
}

static int frames_grow_index(zx_frames *f) {
    size_t cap = f->index_cap ? f->index_cap * 2 : 256;
    size_t *index = PyMem_RawCalloc(cap, sizeof *index);
    if (index == NULL) return -1;
    for (size_t id = 1; id <= f->n; id++) {
        size_t i = frame_hash(f->items[id - 1].code, f->items[id - 1].lineno) & (cap - 1);
        while (index[i] != 0) i = (i + 1) & (cap - 1);
        index[i] = id;
    }
    PyMem_RawFree(f->index);
    f->index = index;
    f->index_cap = cap;
    return 0;
}

/* The id of (code, lineno), interning it; 0 when out of memory (the trace
 * then ends there). */
uintptr_t zx_frames_intern(zx_frames *f, PyObject *code, int lineno) {
    if ((f->n + 1) * 2 > f->index_cap && frames_grow_index(f) < 0) return 0;
    size_t i = frame_hash(code, lineno) & (f->index_cap - 1);
    for (; f->index[i] != 0; i = (i + 1) & (f->index_cap - 1)) {
        zx_frame *fr = &f->items[f->index[i] - 1];
        if (fr->code == code && fr->lineno == lineno) return f->index[i];
    }
    zx_frame *items = zx_grow(f->items, &f->cap, f->n, sizeof *items, 128);
    if (items == NULL) return 0;
    f->items = items;
    items[f->n] = (zx_frame){Py_NewRef(code), lineno};
    f->index[i] = ++f->n;
    return f->n;
}

void zx_frames_clear(zx_frames *f) {
    for (size_t i = 0; i < f->n; i++) Py_CLEAR(f->items[i].code);
    PyMem_RawFree(f->items);
    PyMem_RawFree(f->index);
    *f = (zx_frames){0};
}

/* ===================================================================== */
/* Trace                                                                  */
/* ===================================================================== */

/* A frame of what runs a notebook (IPython, ipykernel and the event loop
 * under them), which a report in a notebook leaves out, as IPython's own
 * tracebacks do: the user's cells are the story. */
static bool is_notebook_machinery(PyObject *frame) {
    if (!PyTuple_Check(frame) || PyTuple_GET_SIZE(frame) != 3 || !PyUnicode_Check(PyTuple_GET_ITEM(frame, 0)))
        return false;
    const char *file = PyUnicode_AsUTF8(PyTuple_GET_ITEM(frame, 0));
    if (file == NULL) {
        PyErr_Clear();
        return false;
    }
    static const char *const parts[] = {"/IPython/", "/ipykernel/", "/ipykernel_launcher.py", NULL};
    for (const char *const *p = parts; *p != NULL; p++)
        if (strstr(file, *p) != NULL) return true;
    return false;
}

/* IPython's map from a cell's temporary file name to its execution count
 * (IPython >= 8 keeps it on the shell's compiler), or NULL when IPython is
 * not running; never an error. */
static PyObject *cell_numbers(void) {
    PyObject *name = PyUnicode_FromString("IPython");
    PyObject *mod = name ? PyImport_GetModule(name) : NULL;
    Py_XDECREF(name);
    PyObject *shell = mod ? PyObject_CallMethod(mod, "get_ipython", NULL) : NULL;
    Py_XDECREF(mod);
    PyObject *compiler = shell && shell != Py_None ? PyObject_GetAttrString(shell, "compile") : NULL;
    Py_XDECREF(shell);
    PyObject *map = compiler ? PyObject_GetAttrString(compiler, "_filename_map") : NULL;
    Py_XDECREF(compiler);
    /* An IPython that answers oddly only costs the cell names; Ctrl-C and
     * other non-Exception errors are left pending for str() to raise. */
    if (PyErr_Occurred() && PyErr_ExceptionMatches(PyExc_Exception)) PyErr_Clear();
    if (map != NULL && !PyDict_Check(map)) Py_CLEAR(map);
    return map;
}

static PyObject *format_frame(PyObject *fr, PyObject *cells) {
    if (!PyTuple_Check(fr) || PyTuple_GET_SIZE(fr) != 3) return PyUnicode_FromFormat("  %R\n", fr);
    PyObject *file = PyTuple_GET_ITEM(fr, 0), *line = PyTuple_GET_ITEM(fr, 1), *name = PyTuple_GET_ITEM(fr, 2);
    PyObject *cell = cells ? PyDict_GetItemWithError(cells, file) : NULL;
    if (cell != NULL) {
        /* Held while str() of it runs Python code that may empty the map. */
        Py_INCREF(cell);
        PyObject *text = PyUnicode_FromFormat("  Cell In[%S], line %S, in %S\n", cell, line, name);
        Py_DECREF(cell);
        return text;
    }
    if (PyErr_Occurred()) { /* comparing the file name with a key raised */
        if (!PyErr_ExceptionMatches(PyExc_Exception)) return NULL;
        PyErr_Clear(); /* a plain frame line then, as without IPython */
    }
    return PyUnicode_FromFormat("  File \"%S\", line %S, in %S\n", file, line, name);
}

/* A Trace is a tuple of (filename, lineno, name) frames, innermost first;
 * str() prints it outermost first, like a Python traceback. In a notebook
 * it starts at the user's code: the frames outside the innermost frame of
 * IPython or ipykernel are left out, and a cell shows as "Cell In[n]". */
static PyObject *Trace_str(PyObject *op) {
    Py_ssize_t n = PyTuple_GET_SIZE(op), outer = n;
    for (Py_ssize_t i = 0; i < n; i++)
        if (is_notebook_machinery(PyTuple_GET_ITEM(op, i))) {
            outer = i;
            break;
        }
    PyObject *cells = outer < n ? cell_numbers() : NULL;
    if (PyErr_Occurred()) return NULL;
    PyObject *lines = PyList_New(0);
    if (lines == NULL) {
        Py_XDECREF(cells);
        return NULL;
    }
    for (Py_ssize_t i = outer - 1; i >= 0; i--) {
        PyObject *line = format_frame(PyTuple_GET_ITEM(op, i), cells);
        if (line == NULL || PyList_Append(lines, line) < 0) {
            Py_XDECREF(line);
            Py_DECREF(lines);
            Py_XDECREF(cells);
            return NULL;
        }
        Py_DECREF(line);
    }
    Py_XDECREF(cells);
    PyObject *empty = PyUnicode_FromString("");
    PyObject *text = empty ? PyUnicode_Join(empty, lines) : NULL;
    Py_XDECREF(empty);
    Py_DECREF(lines);
    return text;
}

static PyObject *Trace_repr(PyObject *op) {
    PyObject *as_tuple = PySequence_Tuple(op);
    if (as_tuple == NULL) return NULL;
    PyObject *r = PyUnicode_FromFormat("Trace(%R)", as_tuple);
    Py_DECREF(as_tuple);
    return r;
}

static PyObject *Trace_format(PyObject *op, PyObject *unused) {
    (void)unused;
    return Trace_str(op);
}

static PyMethodDef Trace_methods[] = {
    {"format", Trace_format, METH_NOARGS,
     "format($self, /)\n--\n\nThe frames as traceback lines, outermost first (what str() gives)."},
    {NULL},
};

PyDoc_STRVAR(Trace_doc,
             "Trace(frames)\n--\n\n"
             "Python frames captured by a DebugAllocator: a tuple of (filename, lineno,\n"
             "name), innermost (the caller of alloc/free) first. str() prints it like a\n"
             "traceback, outermost first; in IPython or Jupyter it starts at the user's code\n"
             "(no IPython or ipykernel frames) and names cells \"Cell In[n]\".");

static PyType_Slot Trace_slots[] = {
    {Py_tp_doc, (void *)Trace_doc},
    {Py_tp_str, Trace_str},
    {Py_tp_repr, Trace_repr},
    {Py_tp_methods, Trace_methods},
    {0, NULL},
};

static PyType_Spec Trace_spec = {
    .name = "zheap.Trace",
    .basicsize = 0,
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Trace_slots,
};

/* A Trace from `n` frame ids (zero-terminated when shorter); None for NULL. */
PyObject *zx_trace_from_ids(zheap_state *st, const uintptr_t *ids, size_t n) {
    if (ids == NULL) Py_RETURN_NONE;
    size_t len = 0;
    while (len < n && ids[len] != 0 && ids[len] <= st->frames.n) len++;
    PyObject *frames = PyTuple_New((Py_ssize_t)len);
    if (frames == NULL) return NULL;
    for (size_t i = 0; i < len; i++) {
        zx_frame *fr = &st->frames.items[ids[i] - 1];
        PyCodeObject *co = (PyCodeObject *)fr->code;
        PyObject *t = Py_BuildValue("(OiO)", co->co_filename, fr->lineno, co->co_name);
        if (t == NULL) {
            Py_DECREF(frames);
            return NULL;
        }
        PyTuple_SET_ITEM(frames, (Py_ssize_t)i, t);
    }
    PyObject *trace = PyObject_CallOneArg((PyObject *)st->Trace_type, frames);
    Py_DECREF(frames);
    return trace;
}

/* The calling Python frames, innermost first, as interned ids in out[0..n)
 * (0 past the last one). Called under core locks: getting a frame object
 * may allocate one, and an allocation may start a garbage collection whose
 * finalizers could call back into the locked allocator, so the collector
 * is off meanwhile. */
void zx_capture_frames(zx_frames *frames, uintptr_t *out, size_t n) {
    int gc_was_on = PyGC_Disable();
    PyFrameObject *f = PyThreadState_GetFrame(PyThreadState_Get());
    for (size_t i = 0; f != NULL && i < n; i++) {
        PyCodeObject *co = PyFrame_GetCode(f);
        out[i] = zx_frames_intern(frames, (PyObject *)co, PyFrame_GetLineNumber(f));
        Py_DECREF(co);
        PyFrameObject *back = PyFrame_GetBack(f);
        Py_DECREF(f);
        f = back;
        if (out[i] == 0) break;
    }
    Py_XDECREF(f);
    if (gc_was_on) PyGC_Enable();
}

int zx_frames_init_type(PyObject *module, zheap_state *st) {
    st->Trace_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &Trace_spec, (PyObject *)&PyTuple_Type);
    if (st->Trace_type == NULL || PyModule_AddType(module, st->Trace_type) < 0) return -1;
    return 0;
}
