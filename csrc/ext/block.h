/* block.h -- the gate (block.c). */
#ifndef ZHEAP_EXT_BLOCK_H
#define ZHEAP_EXT_BLOCK_H

#include "state.h"
#include "stack.h"

/* block.c: the gate. Every operation that changes memory is one
 * transaction: prepare (every Python object made: zx_prepare_block) ->
 * begin (zx_txn_begin: busy mark, open check) -> check (zx_block_from_view,
 * zx_guard, zx_guard_all) -> act (C only; the core, and Python only inside
 * allocators written in Python, under the busy mark) -> end -> commit
 * (zx_commit_block, zx_retire, zx_retire_all: links and invalidations,
 * no reference dropped) -> release (zx_txn_release: every reference
 * dropped, so finalizers run only once the allocator is consistent). */
#define ZX_TXN_DROPS 6
typedef struct zx_txn {
    ZxAllocator *self;
    ZxBlock *prepared; /* borrowed (its view holds it): made dead at release unless committed */
    zx_mark mark;
    bool begun;
    /* The allocator is garbage the collector finalizes: no memoryview
     * method can be reading its memory (zx_finalize_quietly). */
    bool garbage;
    PyObject *drop[ZX_TXN_DROPS];
    size_t ndrop;
    PyObject **bulk; /* retire_all's views (PyMem_Raw) */
    size_t nbulk, cbulk;
} zx_txn;
int zx_block_init_type(PyObject *module, zheap_state *st);
int zx_prepare_block(ZxAllocator *owner, zx_txn *t, ZxBlock **b, PyObject **view);
void zx_commit_block(ZxBlock *b, PyObject *view, char *ptr, size_t len, zh_alignment al);
void zx_txn_init(zx_txn *t, ZxAllocator *self);
int zx_txn_begin(zx_txn *t);
void zx_txn_end(zx_txn *t);
void zx_txn_drop(zx_txn *t, PyObject *obj);
void zx_txn_release(zx_txn *t);
ZxBlock *zx_block_from_view(ZxAllocator *owner, PyObject *view, const char *fn);
int zx_guard(ZxBlock *b, PyMemoryViewObject *mv);
void zx_view_suspend(PyMemoryViewObject *mv);
void zx_view_resume(PyMemoryViewObject *mv);
void zx_retire(zx_txn *t, ZxBlock *b, PyMemoryViewObject *mv, enum zx_block_state state);
int zx_refuse_in_collection(const char *what);
void zx_retire_freeing(zx_txn *t, ZxBlock *b, PyMemoryViewObject *mv);
int zx_guard_all(ZxAllocator *self, const char *what);
bool zx_memory_reachable(ZxAllocator *self);
int zx_retire_all(zx_txn *t, ZxAllocator *self);
int zx_txn_begin_bulk(zx_txn *t, const char *what);
int zx_txn_reserve(zx_txn *t, size_t n);
ZxBlock *zx_block_of_view(ZxAllocator *owner, PyObject *view);
void zx_run_pending(ZxAllocator *self);
PyObject *zx_ctypes_ref_new(ZxBlock *b, PyObject *pointer);
void zx_block_hold_ctypes(zx_txn *t, ZxBlock *b, PyObject *ref);
ZxBlock *zx_block_of_ctypes(ZxAllocator *owner, PyObject *pointer);
int zx_get_long_buffer(PyObject *obj, Py_buffer *out, char **range, Py_ssize_t *len);

#endif
