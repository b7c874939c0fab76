/* debug_report.h -- DebugAllocator's object and its report machinery
 * (debug_report.c), shared with the type (debug.c). */
#ifndef ZHEAP_EXT_DEBUG_REPORT_H
#define ZHEAP_EXT_DEBUG_REPORT_H

#include "state.h"

typedef struct {
    ZxAllocator base;
    zh_debug dbg;
    PyObject *pending;  /* list of report records, delivered after each call */
    Py_ssize_t lost;    /* reports that could not be recorded (out of memory, or past the cap) */
    bool raise_on_leak;
    bool inited;        /* dbg is initialised and not yet deinitialised */
    bool thread_safe;   /* as configured; the core's own mutex is never used (stack.c) */
} DebugObject;

#define Debug_CAST(op) ((DebugObject *)(op))

void zx_debug_capture_hook(void *user, uintptr_t ret_addr, uintptr_t *out, size_t n);
/* At most this many reports wait for delivery. */
#define ZX_DEBUG_PENDING_MAX 100000
void zx_debug_report_hook(void *user, const zh_debug_report *r);
/* A DoubleFreeError/InvalidFreeError for a record (kind, message, ...). */
PyObject *zx_debug_record_exception(DebugObject *self, PyObject *rec);
/* Deliver the pending reports: log lines to the `zheap` logger. */
void zx_debug_flush_logs(ZxAllocator *base);
/* Deliver them, raising the first double/invalid free: -1 then. */
int zx_debug_raise_reported(DebugObject *self);

#endif
