/* debug_report.c -- what DebugAllocator's core reports, made Python.
 *
 * The core calls two hooks in the middle of an operation:
 *  - capture: the calling Python frames, interned as ids (frames.c), the
 *    way tracemalloc stores tracebacks;
 *  - report: copied at once into a pending list of plain records (the
 *    traces resolved to zheap.Trace objects, with the collector off so that
 *    no Python code runs mid-operation), because the trace storage may go
 *    away when the call goes on, and because logging or raising runs Python
 *    code, which must wait until the operation is over.
 * The pending list is delivered after the call: log lines go to the `zheap`
 * logger; a double or invalid free reported by the core becomes
 * DoubleFreeError / InvalidFreeError. */
#include "debug_report.h"

#include "frames.h"

/* --- hooks (core mutex held; GIL held: every caller is the binding) ------- */

void zx_debug_capture_hook(void *user, uintptr_t ret_addr, uintptr_t *out, size_t n) {
    (void)ret_addr;
    DebugObject *self = user;
    zx_capture_frames(&self->base.st->frames, out, n);
}

/* A record: (kind, message, address, length, given_length, alignment,
 * given_alignment, alloc trace, first free trace, this call's trace). */
void zx_debug_report_hook(void *user, const zh_debug_report *r) {
    DebugObject *self = user;
    zheap_state *st = self->base.st;
    /* Called in the middle of an operation: the objects made here must not
     * start a collection, whose finalizers could call back into the stack. */
    int gc_was_on = PyGC_Disable();
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb); /* a report must not clobber an error being raised */
    PyObject *t0 = zx_trace_from_ids(st, r->traces[0], r->frames);
    PyObject *t1 = t0 ? zx_trace_from_ids(st, r->traces[1], r->frames) : NULL;
    PyObject *t2 = t1 ? zx_trace_from_ids(st, r->traces[2], r->frames) : NULL;
    PyObject *rec = t2 ? Py_BuildValue("(isknnnnOOO)", (int)r->kind, r->message, (unsigned long)r->address,
                                       (Py_ssize_t)r->length, (Py_ssize_t)r->given_length,
                                       (Py_ssize_t)r->alignment, (Py_ssize_t)r->given_alignment, t0, t1, t2)
                       : NULL;
    /* Records wait for the next operation from Python (numpy's calls through
     * zheap.numpy deliver none: no Python code may run there), so they are
     * capped; past the cap they are counted as lost and reported then. */
    if (rec == NULL || PyList_GET_SIZE(self->pending) >= ZX_DEBUG_PENDING_MAX ||
        PyList_Append(self->pending, rec) < 0) {
        PyErr_Clear();
        self->lost++;
    }
    Py_XDECREF(rec);
    Py_XDECREF(t0);
    Py_XDECREF(t1);
    Py_XDECREF(t2);
    PyErr_Restore(et, ev, tb);
    if (gc_was_on) PyGC_Enable();
}

/* --- delivering reports ---------------------------------------------------- */

static const char *const trace_labels[3] = {"Allocation", "First free", "Second free"};

/* "message Allocation:\n<trace> ..." as Zig's log line, traces as Python's. */
static PyObject *format_record(PyObject *rec) {
    int kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(rec, 0));
    PyObject *text = Py_NewRef(PyTuple_GET_ITEM(rec, 1));
    for (int k = 0; k < 3 && text != NULL; k++) {
        PyObject *t = PyTuple_GET_ITEM(rec, 7 + k);
        if (t == Py_None) continue;
        const char *label = kind == ZH_DEBUG_LEAK ? "" : trace_labels[k];
        if (kind != ZH_DEBUG_DOUBLE_FREE && kind != ZH_DEBUG_LEAK && k == 2) label = "Free";
        PyObject *piece = PyUnicode_FromFormat("%U %s%s\n%S", text, label, *label ? ":" : "", t);
        Py_SETREF(text, piece);
    }
    return text;
}

/* The exception a record stands for, or NULL (with no error) for one that is
 * only logged. */
PyObject *zx_debug_record_exception(DebugObject *self, PyObject *rec) {
    zheap_state *st = self->base.st;
    int kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(rec, 0));
    PyObject *type, *reason = NULL;
    switch (kind) {
    case ZH_DEBUG_DOUBLE_FREE:
    case ZH_DEBUG_UNRECOVERABLE_DOUBLE_FREE:
        type = st->DoubleFreeError;
        break;
    case ZH_DEBUG_INVALID_FREE:
        type = st->InvalidFreeError;
        reason = PyUnicode_FromString("not owned");
        break;
    case ZH_DEBUG_SIZE_MISMATCH:
        type = st->InvalidFreeError;
        reason = PyUnicode_FromString("wrong size");
        break;
    case ZH_DEBUG_ALIGNMENT_MISMATCH:
        type = st->InvalidFreeError;
        reason = PyUnicode_FromString("wrong alignment");
        break;
    default:
        return NULL;
    }
    PyObject *msg = format_record(rec);
    PyObject *exc = msg ? PyObject_CallOneArg(type, msg) : NULL;
    Py_XDECREF(msg);
    if (exc == NULL) {
        Py_XDECREF(reason);
        return NULL;
    }
    static const char *const attrs[] = {"address",          "length",           "alignment",
                                        "allocation_trace", "first_free_trace", "free_trace"};
    static const int idx[] = {2, 3, 5, 7, 8, 9};
    for (int i = 0; i < 6; i++) {
        if (PyObject_SetAttrString(exc, attrs[i], PyTuple_GET_ITEM(rec, idx[i])) < 0) goto fail;
    }
    if (PyObject_SetAttrString(exc, "reason", reason ? reason : Py_None) < 0) goto fail;
    Py_XDECREF(reason);
    return exc;
fail:
    Py_XDECREF(reason);
    Py_DECREF(exc);
    return NULL;
}

static PyObject *get_logger(void) {
    PyObject *logging = PyImport_ImportModule("logging");
    if (logging == NULL) return NULL;
    PyObject *logger = PyObject_CallMethod(logging, "getLogger", "s", "zheap");
    Py_DECREF(logging);
    return logger;
}

/* Deliver every pending record. Log lines go to the `zheap` logger (info for
 * verbose_log, error for Zig's error lines). When `raising`, the first
 * double/invalid-free record becomes the returned exception (not logged);
 * otherwise those are logged too. Logging failures are unraisable: a report
 * must never turn a successful call into a failed one. */
static PyObject *deliver(DebugObject *self, bool raising) {
    if (self->lost > 0) {
        Py_ssize_t lost = self->lost;
        self->lost = 0;
        PyObject *logger = get_logger();
        PyObject *r = logger ? PyObject_CallMethod(logger, "error", "sn",
                                                   "%d DebugAllocator reports were lost (out of memory, or more "
                                                   "than " Py_STRINGIFY(ZX_DEBUG_PENDING_MAX) " waiting)",
                                                   lost)
                             : NULL;
        if (r == NULL) PyErr_WriteUnraisable((PyObject *)self);
        Py_XDECREF(r);
        Py_XDECREF(logger);
    }
    if (self->pending == NULL || PyList_GET_SIZE(self->pending) == 0) return NULL;
    PyObject *records = self->pending;
    self->pending = PyList_New(0);
    if (self->pending == NULL) {
        PyErr_WriteUnraisable((PyObject *)self);
        self->pending = records; /* keep them for the next delivery */
        return NULL;
    }
    PyObject *error = NULL, *logger = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(records); i++) {
        PyObject *rec = PyList_GET_ITEM(records, i);
        if (raising && error == NULL) {
            error = zx_debug_record_exception(self, rec);
            if (error != NULL) continue;
            if (PyErr_Occurred()) PyErr_WriteUnraisable((PyObject *)self);
        }
        int kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(rec, 0));
        if (logger == NULL && (logger = get_logger()) == NULL) {
            PyErr_WriteUnraisable((PyObject *)self);
            break;
        }
        PyObject *text = format_record(rec);
        PyObject *r = text ? PyObject_CallMethod(logger, kind == ZH_DEBUG_INFO ? "info" : "error", "sO", "%s", text)
                           : NULL;
        if (r == NULL) PyErr_WriteUnraisable((PyObject *)self);
        Py_XDECREF(r);
        Py_XDECREF(text);
    }
    Py_XDECREF(logger);
    Py_DECREF(records);
    return error;
}

void zx_debug_flush_logs(ZxAllocator *base) {
    DebugObject *self = (DebugObject *)base;
    if (self->pending == NULL || PyList_GET_SIZE(self->pending) == 0) return;
    /* The operation may be raising (MemoryError, a Python allocator's
     * error): logging runs Python code, which must not see it, and must not
     * lose it either. */
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    PyObject *error = deliver(self, false);
    Py_XDECREF(error);
    if (PyErr_Occurred()) PyErr_WriteUnraisable((PyObject *)Py_TYPE(base));
    PyErr_Restore(et, ev, tb);
}

/* Raise what the core reported during the call just made; -1 if it did. */
int zx_debug_raise_reported(DebugObject *self) {
    PyObject *error = deliver(self, true);
    if (error == NULL) return 0;
    PyErr_SetObject((PyObject *)Py_TYPE(error), error);
    Py_DECREF(error);
    return -1;
}
