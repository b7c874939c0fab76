/* module.c -- the zheap._zheap extension module: multi-phase init, module
 * state (the types and the exception), the singletons and module functions.
 * No static PyObject state: every interpreter that imports zheap gets its
 * own types and singletons. */
#include "allocator.h"
#include "capsule.h"
#include "frames.h"
#include "gcstate.h"
#include "numpy_handler.h"
#include "types.h"

#include <string.h>

static int zheap_traverse(PyObject *m, visitproc visit, void *arg) {
    zheap_state *st = PyModule_GetState(m);
    Py_VISIT(st->Block_type);
    Py_VISIT(st->Allocator_type);
    Py_VISIT(st->PageAllocator_type);
    Py_VISIT(st->CAllocator_type);
    Py_VISIT(st->RawCAllocator_type);
    Py_VISIT(st->ValidationAllocator_type);
    Py_VISIT(st->FixedBufferAllocator_type);
    Py_VISIT(st->FbaThreadSafe_type);
    Py_VISIT(st->ArenaAllocator_type);
    Py_VISIT(st->StackFallbackAllocator_type);
    Py_VISIT(st->StackFallbackInterface_type);
    Py_VISIT(st->ThreadSafeAllocator_type);
    Py_VISIT(st->MemoryPool_type);
    Py_VISIT(st->MemoryPoolAligned_type);
    Py_VISIT(st->MemoryPoolExtra_type);
    Py_VISIT(st->DebugAllocator_type);
    Py_VISIT(st->LeakRecord_type);
    Py_VISIT(st->SmpAllocator_type);
    Py_VISIT(st->WasmAllocator_type);
    Py_VISIT(st->SbrkAllocator_type);
    Py_VISIT(st->FailingAllocator_type);
    Py_VISIT(st->CapsuleAllocator_type);
    Py_VISIT(st->AllocatorContractError);
    Py_VISIT(st->Trace_type);
    Py_VISIT(st->DoubleFreeError);
    Py_VISIT(st->InvalidFreeError);
    Py_VISIT(st->LeakError);
    for (size_t i = 0; i < st->frames.n; i++) Py_VISIT(st->frames.items[i].code);
    Py_VISIT(st->ZigPanic);
    return 0;
}

static int zheap_clear(PyObject *m) {
    zheap_state *st = PyModule_GetState(m);
    Py_CLEAR(st->Block_type);
    Py_CLEAR(st->Allocator_type);
    Py_CLEAR(st->PageAllocator_type);
    Py_CLEAR(st->CAllocator_type);
    Py_CLEAR(st->RawCAllocator_type);
    Py_CLEAR(st->ValidationAllocator_type);
    Py_CLEAR(st->FixedBufferAllocator_type);
    Py_CLEAR(st->FbaThreadSafe_type);
    Py_CLEAR(st->ArenaAllocator_type);
    Py_CLEAR(st->StackFallbackAllocator_type);
    Py_CLEAR(st->StackFallbackInterface_type);
    Py_CLEAR(st->ThreadSafeAllocator_type);
    Py_CLEAR(st->MemoryPool_type);
    Py_CLEAR(st->MemoryPoolAligned_type);
    Py_CLEAR(st->MemoryPoolExtra_type);
    Py_CLEAR(st->DebugAllocator_type);
    Py_CLEAR(st->LeakRecord_type);
    Py_CLEAR(st->SmpAllocator_type);
    Py_CLEAR(st->WasmAllocator_type);
    Py_CLEAR(st->SbrkAllocator_type);
    Py_CLEAR(st->FailingAllocator_type);
    Py_CLEAR(st->CapsuleAllocator_type);
    Py_CLEAR(st->AllocatorContractError);
    Py_CLEAR(st->Trace_type);
    Py_CLEAR(st->DoubleFreeError);
    Py_CLEAR(st->InvalidFreeError);
    Py_CLEAR(st->LeakError);
    zx_frames_clear(&st->frames);
    Py_CLEAR(st->ZigPanic);
    return 0;
}

static void zheap_free(void *m) { (void)zheap_clear((PyObject *)m); }

/* --- functions ------------------------------------------------------------ */

PyDoc_STRVAR(page_size_doc, "page_size($module, /)\n--\n\n"
                            "The page size (Zig's pageSize()): a constant where the target has one\n"
                            "page size, else the cached OS query.");

static PyObject *zheap_page_size(PyObject *m, PyObject *unused) {
    (void)m, (void)unused;
    return PyLong_FromSize_t(zh_page_size());
}

PyDoc_STRVAR(default_query_page_size_doc,
             "default_query_page_size($module, /)\n--\n\n"
             "Ask the OS for the page size once and cache it (Zig's defaultQueryPageSize()).");

static PyObject *zheap_default_query_page_size(PyObject *m, PyObject *unused) {
    (void)m, (void)unused;
    size_t n = zh_default_query_page_size();
    if (n == 0) {
        PyErr_SetString(PyExc_RuntimeError, "the OS reported a page size outside [page_size_min, page_size_max]");
        return NULL;
    }
    return PyLong_FromSize_t(n);
}

PyDoc_STRVAR(address_of_doc, "address_of($module, view, /)\n--\n\n"
                             "The start address of a buffer (a view an allocator returned, a slice, any\n"
                             "bytes-like object) as an int. Empty views report Zig's sentinel address.");

static PyObject *zheap_address_of(PyObject *m, PyObject *obj) {
    (void)m;
    Py_buffer b;
    if (PyObject_GetBuffer(obj, &b, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *r = PyLong_FromVoidPtr(b.buf);
    PyBuffer_Release(&b);
    return r;
}

PyDoc_STRVAR(block_of_doc,
             "block_of($module, view, /)\n--\n\n"
             "The zheap.Block behind ``view`` (a view an allocator handed out, or a slice or\n"
             "cast of one), also after it was freed, moved or reset, when every access to\n"
             "the view raises CPython's bare \"operation forbidden on released memoryview\n"
             "object\": the block's ``state`` and repr tell what ended it. None for a\n"
             "memoryview of anything else, or one released with ``release()``.");

static PyObject *zheap_block_of(PyObject *m, PyObject *obj) {
    if (!PyMemoryView_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "block_of() expects a memoryview, got %.100s", Py_TYPE(obj)->tp_name);
        return NULL;
    }
    zheap_state *st = PyModule_GetState(m);
    /* The managed buffer lives as long as the view; retiring a view leaves
     * its master (the Block) in place, release() clears it. */
    PyMemoryViewObject *mv = (PyMemoryViewObject *)obj;
    /* A view the collector cleared has no managed buffer (reachable from a
     * weakref callback the collection runs): released. */
    if (mv->mbuf == NULL) Py_RETURN_NONE;
    PyObject *exporter = mv->mbuf->master.obj;
    if (exporter == NULL || !Py_IS_TYPE(exporter, st->Block_type)) Py_RETURN_NONE;
    /* A released view was released by its holder, unless it is the one view
     * zheap ended the block through: the view passed to free/resize/remap/
     * realloc, or the primary a reset retired (while any other view of the
     * block lives, zheap ends none). Its address is unique among the live
     * views of this managed buffer, and no view of it is made afterwards. */
    if ((mv->flags & _Py_MEMORYVIEW_RELEASED) && obj != ((ZxBlock *)exporter)->retired) Py_RETURN_NONE;
    return Py_NewRef(exporter);
}

static PyMethodDef zheap_methods[] = {
    {"block_of", zheap_block_of, METH_O, block_of_doc},
    {"page_size", zheap_page_size, METH_NOARGS, page_size_doc},
    {"default_query_page_size", zheap_default_query_page_size, METH_NOARGS, default_query_page_size_doc},
    {"address_of", zheap_address_of, METH_O, address_of_doc},
    {"_numpy_handler", zx_numpy_handler, METH_O, zx_numpy_handler_doc},
    {"_numpy_set_handler", zx_numpy_set_handler, METH_O, zx_numpy_set_handler_doc},
    {"_numpy_lent", zx_numpy_lent, METH_O, zx_numpy_lent_doc},
    {NULL},
};

/* --- exec ------------------------------------------------------------------- */

static int add_instance(PyObject *m, const char *name, PyTypeObject *type) {
    PyObject *empty = PyTuple_New(0);
    if (empty == NULL) return -1;
    PyObject *obj = PyObject_Call((PyObject *)type, empty, NULL);
    Py_DECREF(empty);
    if (obj == NULL) return -1;
    int rc = PyModule_AddObjectRef(m, name, obj);
    Py_DECREF(obj);
    return rc;
}

static int add_size(PyObject *m, const char *name, size_t value) {
    PyObject *v = PyLong_FromSize_t(value);
    if (v == NULL) return -1;
    int rc = PyModule_AddObjectRef(m, name, v);
    Py_DECREF(v);
    return rc;
}

/* The exceptions, all made here (types raise them through the state). */
static PyObject *add_error_with(PyObject *m, const char *name, const char *doc, PyObject *base, PyObject *dict) {
    PyObject *e = PyErr_NewExceptionWithDoc(name, doc, base, dict);
    if (e != NULL && PyModule_AddObjectRef(m, strrchr(name, '.') + 1, e) < 0) Py_CLEAR(e);
    return e;
}

static PyObject *add_error(PyObject *m, const char *name, const char *doc, PyObject *base) {
    return add_error_with(m, name, doc, base, NULL);
}

/* A free report's attributes, as class defaults: an instance made by hand
 * (raise zheap.DoubleFreeError("...")) has them too, as the stubs say. */
static PyObject *free_report_defaults(void) {
    return Py_BuildValue("{s:i,s:i,s:i,s:O,s:O,s:O,s:O}", "address", 0, "length", 0, "alignment", 0, "reason",
                         Py_None, "allocation_trace", Py_None, "first_free_trace", Py_None, "free_trace", Py_None);
}

static int add_errors(PyObject *m, zheap_state *st) {
    st->ZigPanic = add_error(m, "zheap.ZigPanic",
                             "A contract violation Zig would panic on (reported by a ValidationAllocator).",
                             PyExc_RuntimeError);
    if (st->ZigPanic == NULL) return -1;
    st->AllocatorContractError = add_error(
        m, "zheap.AllocatorContractError",
        "An allocator written in Python broke the allocator contract: an address outside its regions,\n"
        "misaligned, or overlapping a live block. The message names the rule and the blocks.",
        st->ZigPanic);
    PyObject *defaults = free_report_defaults();
    if (defaults == NULL) return -1;
    st->DoubleFreeError = add_error_with(
        m, "zheap.DoubleFreeError",
        "A block was freed twice (DebugAllocator). Attributes: address, length, alignment,\n"
        "allocation_trace, first_free_trace, free_trace (zheap.Trace, or None where unknown),\n"
        "reason (None).",
        PyExc_ValueError, defaults);
    st->InvalidFreeError = add_error_with(
        m, "zheap.InvalidFreeError",
        "A free the DebugAllocator cannot match to a block it handed out (Zig's \"Invalid free\").\n"
        "``reason``: 'not owned', 'wrong size', 'wrong alignment', 'in use by a view' or 'in use by\n"
        "a numpy array'. ``address`` is the one freed; ``length`` is the block's recorded length\n"
        "for 'wrong size' and ``alignment`` its recorded alignment for 'wrong alignment' (0 where\n"
        "the report has none, as for 'not owned'); the traces where known, else None.",
        PyExc_ValueError, defaults);
    Py_DECREF(defaults);
    st->LeakError = add_error(m, "zheap.LeakError",
                              "DebugAllocator.deinit() found leaks (raise_on_leak=True). Attribute: leaks, the\n"
                              "records DebugAllocator.leaks() returns.",
                              PyExc_RuntimeError);
    return st->AllocatorContractError && st->DoubleFreeError && st->InvalidFreeError && st->LeakError ? 0 : -1;
}

static int zheap_exec(PyObject *m) {
#ifndef Py_mod_multiple_interpreters
    /* CPython 3.11 has no slot to refuse subinterpreters (see zheap_slots):
     * refuse them here, before any state is made. */
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
        PyErr_SetString(PyExc_ImportError, "zheap._zheap does not support loading in subinterpreters");
        return -1;
    }
#endif
    zheap_state *st = PyModule_GetState(m);
    if (zx_gcstate_init() < 0) return -1;
    if (add_errors(m, st) < 0) return -1;
    if (zx_block_init_type(m, st) < 0) return -1;
    if (zx_frames_init_type(m, st) < 0) return -1;
    if (PyModule_AddFunctions(m, zx_trace_methods) < 0) return -1;
    if (zx_allocator_init_types(m, st) < 0) return -1;
    if (zx_os_allocators_init_types(m, st) < 0) return -1;
    if (zx_fixed_buffer_init_types(m, st) < 0) return -1;
    if (zx_arena_init_type(m, st) < 0) return -1;
    if (zx_stack_fallback_init_types(m, st) < 0) return -1;
    if (zx_thread_safe_init_type(m, st) < 0) return -1;
    if (zx_memory_pool_init_types(m, st) < 0) return -1;
    if (zx_debug_init_types(m, st) < 0) return -1;
    if (zx_smp_init_type(m, st) < 0) return -1;
    if (zx_bigpage_init_types(m, st) < 0) return -1;
    if (zx_failing_init_type(m, st) < 0) return -1;
    if (zx_capsule_init_type(m, st) < 0) return -1;
    if (add_instance(m, "page_allocator", st->PageAllocator_type) < 0) return -1;
    if (add_instance(m, "c_allocator", st->CAllocator_type) < 0) return -1;
    if (add_instance(m, "raw_c_allocator", st->RawCAllocator_type) < 0) return -1;
    if (add_instance(m, "smp_allocator", st->SmpAllocator_type) < 0) return -1;
    if (add_size(m, "page_size_min", zh_page_size_min) < 0) return -1;
    if (add_size(m, "page_size_max", zh_page_size_max) < 0) return -1;
    if (add_size(m, "raw_c_max_alignment", ZH_RAW_C_MAX_ALIGNMENT) < 0) return -1;
    if (PyModule_AddIntConstant(m, "ZH_VERSION", ZH_VERSION) < 0) return -1;
    return 0;
}

static PyModuleDef_Slot zheap_slots[] = {
    {Py_mod_exec, zheap_exec},
#ifdef Py_mod_multiple_interpreters
    /* One interpreter per process. The memory behind wasm_allocator and the
     * C allocators is process-wide, an operation's busy mark (stack.c) is
     * per thread, not per interpreter, and allocators written in Python
     * re-enter through PyGILState_Ensure, which knows only the main
     * interpreter: importing zheap in a subinterpreter raises ImportError. */
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
#ifdef Py_mod_gil
    /* The GIL serialises the binding's state (busy marks, live lists). */
    {Py_mod_gil, Py_MOD_GIL_USED},
#endif
    {0, NULL},
};

PyModuleDef zheap_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "zheap._zheap",
    .m_doc = "C core of zheap: Zig 0.15.1's std.heap allocators.",
    .m_size = sizeof(zheap_state),
    .m_methods = zheap_methods,
    .m_slots = zheap_slots,
    .m_traverse = zheap_traverse,
    .m_clear = zheap_clear,
    .m_free = zheap_free,
};

PyMODINIT_FUNC PyInit__zheap(void) { return PyModuleDef_Init(&zheap_module_def); }
