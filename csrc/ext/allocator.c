/* allocator.c -- zheap.Allocator, the base type of every allocator: the
 * std.mem.Allocator helper methods on Python objects. Each method parses its
 * arguments, runs the export guard where it destroys something, and calls the
 * core; failures map to exceptions here and nowhere else:
 *   alloc NULL -> MemoryError, resize false / remap NULL -> None,
 *   bad argument -> ValueError/TypeError/OverflowError, exports -> BufferError,
 *   a ValidationAllocator contract report -> zheap.ZigPanic (already set). */
#include "allocator.h"
#include "capsule.h"
#include "gcstate.h"
#include "pyalloc.h"

#include <string.h>

#include "structmember.h"

/* --- argument parsing --------------------------------------------------------- */

/* --- lifetime ----------------------------------------------------------------------- */

/* --- the shared operations ------------------------------------------------------ */

static PyObject *no_memory(ZxAllocator *self, size_t len, zh_alignment al) {
    return zx_no_memory((PyObject *)self, "allocating", len, "bytes", zh_alignment_bytes(al));
}

/* alloc(len, al) as a view (new reference), one transaction. Zero length
 * never reaches the allocator (Zig's helpers): the view is empty, at the
 * sentinel address. */
PyObject *zx_alloc_view(ZxAllocator *self, Py_ssize_t len, zh_alignment al) {
    zx_txn t;
    zx_txn_init(&t, self);
    ZxBlock *b;
    PyObject *view;
    if (zx_prepare_block(self, &t, &b, &view) < 0) return NULL;
    if (zx_txn_begin(&t) < 0) goto fail;
    char *p = len == 0 ? zh_empty(al) : zh_raw_alloc(zx_iface(self), (size_t)len, al, 0);
    zx_txn_end(&t);
    if (p == NULL) {
        no_memory(self, (size_t)len, al);
        goto fail;
    }
    zx_commit_block(b, view, p, (size_t)len, al);
    /* An allocator written in Python raised, yet a parent found memory
     * elsewhere: the block is live (dropping the view leaks it) and the
     * error is what the caller sees. */
    if (PyErr_Occurred()) goto fail;
    zx_txn_release(&t);
    if (self->flush != NULL || self->child != NULL) zx_flush_chain(self);
    return view;
fail:
    zx_txn_release(&t); /* before the view goes: makes an unfilled block dead */
    Py_DECREF(view);
    zx_flush_chain(self);
    return NULL;
}

/* free(view) under the name `fn` (a pool's destroy() is the same path). */
PyObject *zx_free_view(ZxAllocator *self, PyObject *view, const char *fn) {
    zx_txn t;
    zx_txn_init(&t, self);
    if (zx_txn_begin(&t) < 0) return NULL;
    ZxBlock *b = zx_block_from_view(self, view, fn);
    if (b == NULL || zx_guard(b, (PyMemoryViewObject *)view) < 0) {
        zx_txn_release(&t);
        return NULL;
    }
    if (b->len != 0 && zx_collecting()) {
        /* The memory goes back when the last view of it goes (block.c). */
        zx_txn_end(&t);
        zx_retire_freeing(&t, b, (PyMemoryViewObject *)view);
        zx_txn_release(&t);
        Py_RETURN_NONE;
    }
    zx_view_suspend((PyMemoryViewObject *)view); /* a free cannot fail: it stays released */
    if (b->len != 0) zh_raw_free(zx_iface(self), b->ptr, b->len, b->align, 0);
    zx_txn_end(&t);
    /* An allocator written in Python may raise from _free: the block is
     * freed as far as the view goes, and the exception propagates. */
    zx_retire(&t, b, (PyMemoryViewObject *)view, ZX_FREED);
    zx_txn_release(&t);
    zx_flush_chain(self);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

/* --- methods ------------------------------------------------------------------------ */

PyDoc_STRVAR(alloc_doc,
             "alloc($self, /, length, alignment=1)\n--\n\n"
             "Allocate ``length`` bytes aligned to ``alignment`` (a power of two).\n\n"
             "Returns a writable, C-contiguous memoryview of format 'B'. ``alloc(0)`` returns\n"
             "an empty view without calling the allocator, as Zig does.\n"
             "Raises MemoryError when the allocator is out of memory.");

static PyObject *Allocator_alloc(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"length", "alignment"};
    ZxAllocator *self = ZxAllocator_CAST(op);
    PyObject *a[2];
    Py_ssize_t len;
    zh_alignment al;
    if (zx_parse_args("alloc", names, 1, 2, args, nargs, kwnames, a) < 0 || zx_parse_length(a[0], "length", &len) < 0 ||
        zx_parse_alignment(self, a[1], &al) < 0)
        return NULL;
    return zx_alloc_view(self, len, al);
}

PyDoc_STRVAR(free_doc, "free($self, view, /)\n--\n\n"
                       "Free the block behind ``view`` (a view ``alloc`` returned).\n\n"
                       "Afterwards the view raises ValueError on any access. Raises BufferError,\n"
                       "changing nothing, while slices of the view or other exports of it are alive,\n"
                       "and ValueError for a view this allocator did not hand out or already freed.");

static PyObject *Allocator_free(PyObject *op, PyObject *view) {
    return zx_free_view(ZxAllocator_CAST(op), view, "free");
}

enum resize_kind { RESIZE, REMAP, REALLOC };

static PyObject *resize_common(ZxAllocator *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                               const char *fn, enum resize_kind kind) {
    static const char *const names[] = {"view", "new_length"};
    PyObject *a[2];
    Py_ssize_t new_len;
    if (zx_parse_args(fn, names, 2, 2, args, nargs, kwnames, a) < 0 || zx_parse_length(a[1], "new_length", &new_len) < 0)
        return NULL;
    PyMemoryViewObject *mv = (PyMemoryViewObject *)a[0];
    /* Prepare: the view a success returns, whatever the outcome. */
    zx_txn t;
    zx_txn_init(&t, self);
    ZxBlock *nb;
    PyObject *nview = NULL, *result = NULL;
    if (zx_prepare_block(self, &t, &nb, &nview) < 0) return NULL;
    if (zx_txn_begin(&t) < 0) goto done;
    ZxBlock *b = zx_block_from_view(self, a[0], fn);
    if (b == NULL || zx_guard(b, mv) < 0) goto done;
    zh_alignment al = b->align;
    char *p = NULL;
    if (b->len != 0 && zx_collecting()) {
        if (new_len != 0) {
            zx_refuse_in_collection(fn);
            goto done;
        }
        /* A free: the memory goes back when the last view of it goes. */
        zx_txn_end(&t);
        zx_retire_freeing(&t, b, mv);
        zx_commit_block(nb, nview, zh_empty(al), 0, al);
        result = Py_NewRef(nview);
        goto done;
    }
    zx_view_suspend(mv); /* resumed below if nothing happens */
    if (new_len == 0) {
        /* resize/remap/realloc to 0 frees (Zig's helpers) and leaves an
         * empty view. */
        if (b->len != 0) zh_raw_free(zx_iface(self), b->ptr, b->len, al, 0);
        zx_txn_end(&t);
        zx_retire(&t, b, mv, ZX_FREED);
        /* The empty view is made live only if it is returned: after an error
         * (a _free that raised) the block is freed as far as the view goes,
         * and nothing is left counted as live. */
        if (!PyErr_Occurred()) {
            zx_commit_block(nb, nview, zh_empty(al), 0, al);
            result = Py_NewRef(nview);
        }
        goto done;
    }
    if (b->len == 0) {
        if (kind != REALLOC) { /* resize/remap of an empty view: cannot */
            zx_view_resume(mv);
            result = Py_NewRef(Py_None);
            goto done;
        }
        p = zh_raw_alloc(zx_iface(self), (size_t)new_len, al, 0); /* realloc(empty, n) allocates */
    } else if (kind == RESIZE) {
        p = zh_raw_resize(zx_iface(self), b->ptr, b->len, al, (size_t)new_len, 0) ? b->ptr : NULL;
    } else if (kind == REMAP) {
        p = zh_raw_remap(zx_iface(self), b->ptr, b->len, al, (size_t)new_len, 0);
    } else {
        p = zh_realloc(zx_iface(self), b->ptr, 1, b->len, al, (size_t)new_len);
    }
    zx_txn_end(&t);
    if (p == NULL) {
        zx_view_resume(mv); /* the block is as it was */
        if (!PyErr_Occurred())
            result = kind == REALLOC ? no_memory(self, (size_t)new_len, al) : Py_NewRef(Py_None);
        goto done;
    }
    /* Commit: the old view goes stale, the prepared one shows the block. */
    zx_retire(&t, b, mv, ZX_MOVED);
    zx_commit_block(nb, nview, p, (size_t)new_len, al);
    if (!PyErr_Occurred()) result = Py_NewRef(nview);
done:
    zx_txn_release(&t); /* before the view goes: makes an unfilled block dead */
    Py_XDECREF(nview);
    zx_flush_chain(self);
    return result;
}

PyDoc_STRVAR(resize_doc,
             "resize($self, /, view, new_length)\n--\n\n"
             "Grow or shrink the block in place.\n\n"
             "On success the old view is released and a view of ``new_length`` bytes at the\n"
             "same address is returned; ``None`` when the allocator cannot, and the old view\n"
             "stays valid. ``new_length == 0`` frees the block and returns an empty view.");

static PyObject *Allocator_resize(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    return resize_common(ZxAllocator_CAST(op), args, nargs, kwnames, "resize", RESIZE);
}

/* resize/remap/realloc by name, for subtypes that wrap them. */
PyObject *zx_resize_view(ZxAllocator *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                         const char *name) {
    enum resize_kind kind = strcmp(name, "resize") == 0 ? RESIZE : strcmp(name, "remap") == 0 ? REMAP : REALLOC;
    return resize_common(self, args, nargs, kwnames, name, kind);
}

PyDoc_STRVAR(remap_doc,
             "remap($self, /, view, new_length)\n--\n\n"
             "Grow or shrink the block, moving it if the allocator wants to.\n\n"
             "Contents are kept up to the shorter length. ``None`` when the allocator\n"
             "declines (the caller should allocate, copy and free), and the old view stays valid.");

static PyObject *Allocator_remap(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    return resize_common(ZxAllocator_CAST(op), args, nargs, kwnames, "remap", REMAP);
}

PyDoc_STRVAR(realloc_doc,
             "realloc($self, /, view, new_length)\n--\n\n"
             "Remap, else allocate, copy and free. Returns the new view.\n\n"
             "Raises MemoryError on failure, with the old view intact and still owned.");

static PyObject *Allocator_realloc(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    return resize_common(ZxAllocator_CAST(op), args, nargs, kwnames, "realloc", REALLOC);
}

PyDoc_STRVAR(dupe_doc, "dupe($self, data, /)\n--\n\n"
                       "A copy of any contiguous bytes-like object, in memory from this allocator.");

static PyObject *Allocator_dupe(PyObject *op, PyObject *data) {
    ZxAllocator *self = ZxAllocator_CAST(op);
    Py_buffer src;
    if (PyObject_GetBuffer(data, &src, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    PyObject *view = zx_alloc_view(self, src.len, 0);
    if (view != NULL && src.len > 0)
        memcpy(((PyMemoryViewObject *)view)->view.buf, src.buf, (size_t)src.len);
    PyBuffer_Release(&src);
    return view;
}

PyDoc_STRVAR(create_doc,
             "create($self, ctype, /)\n--\n\n"
             "A ctypes instance of ``ctype`` placed in memory from this allocator, with\n"
             "``ctypes.alignment(ctype)``. Release it with ``destroy``.");

/* create(): the object is ``ctypes.cast(address, POINTER(ctype)).contents``.
 * Its _b_base_ is that pointer object, a reference no Python code can drop
 * (ctypes' from_buffer() keeps its buffer in ``_objects``, which anyone can
 * clear), and everything ctypes derives from the object keeps the object.
 * So the pointer dies only when no ctypes object reaches the memory: a weak
 * reference to it tells the block (block.c). */
static PyObject *Allocator_create(PyObject *op, PyObject *ctype) {
    ZxAllocator *self = ZxAllocator_CAST(op);
    PyObject *ctypes = PyImport_ImportModule("ctypes");
    if (ctypes == NULL) return NULL;
    PyObject *size_obj = PyObject_CallMethod(ctypes, "sizeof", "O", ctype);
    PyObject *align_obj = size_obj ? PyObject_CallMethod(ctypes, "alignment", "O", ctype) : NULL;
    PyObject *ptype = align_obj ? PyObject_CallMethod(ctypes, "POINTER", "O", ctype) : NULL;
    PyObject *view = NULL, *addr = NULL, *pointer = NULL, *obj = NULL;
    Py_ssize_t size;
    zh_alignment al;
    if (ptype == NULL || zx_parse_length(size_obj, "ctypes.sizeof(ctype)", &size) < 0 ||
        zx_parse_alignment(self, align_obj, &al) < 0)
        goto done;
    view = zx_alloc_view(self, size, al);
    if (view == NULL) goto done;
    ZxBlock *b = zx_block_of_view(self, view); /* live: the view was just made */
    addr = PyLong_FromVoidPtr(b->ptr);
    pointer = addr ? PyObject_CallMethod(ctypes, "cast", "OO", addr, ptype) : NULL;
    obj = pointer ? PyObject_GetAttrString(pointer, "contents") : NULL;
    if (obj == NULL) goto give_back;
    PyObject *ref = zx_ctypes_ref_new(b, pointer);
    if (ref == NULL) goto give_back;
    /* Python code ran since the block was made (ctypes, finalizers): it is
     * committed to the object only if it is still the live, unexported
     * allocation the view holds. */
    zx_txn t;
    zx_txn_init(&t, self);
    if (zx_txn_begin(&t) < 0 || zx_block_from_view(self, view, "create") == NULL ||
        zx_guard(b, (PyMemoryViewObject *)view) < 0) {
        zx_txn_release(&t);
        Py_DECREF(ref); /* never committed: its callback will not run */
        goto give_back;
    }
    zx_block_hold_ctypes(&t, b, ref); /* the block takes `ref` */
    zx_txn_release(&t);
    goto done;
give_back: {
    /* Give the block back, keeping the error. */
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    Py_CLEAR(obj);
    PyObject *r = zx_free_view(self, view, "create");
    Py_XDECREF(r);
    PyErr_Clear();
    PyErr_Restore(et, ev, tb);
}
done:
    Py_DECREF(ctypes);
    Py_XDECREF(size_obj);
    Py_XDECREF(align_obj);
    Py_XDECREF(ptype);
    Py_XDECREF(addr);
    Py_XDECREF(pointer);
    Py_XDECREF(view);
    return obj;
}

PyDoc_STRVAR(destroy_doc,
             "destroy($self, obj, /)\n--\n\n"
             "Release an object ``create`` returned.\n\n"
             "A ctypes object cannot be invalidated, so the memory is freed the moment\n"
             "the last ctypes object that reaches it (``obj``, its fields, its\n"
             "``_b_base_``) goes: never while Python code can still reach it. Until then\n"
             "reset() and deinit() raise BufferError. Destroying twice, or an object another\n"
             "allocator's create() made, raises ValueError; anything else TypeError.");

static PyObject *Allocator_destroy(PyObject *op, PyObject *obj) {
    ZxAllocator *self = ZxAllocator_CAST(op);
    /* Attribute lookups may run Python code: all of them before the check. */
    /* A ctypes object has _b_base_ (None unless it is part of another). */
    PyObject *pointer = PyObject_GetAttrString(obj, "_b_base_");
    if (pointer == NULL) PyErr_Clear();
    zx_txn t;
    zx_txn_init(&t, self);
    if (zx_txn_begin(&t) < 0) {
        Py_XDECREF(pointer);
        return NULL;
    }
    ZxBlock *b = pointer != NULL ? zx_block_of_ctypes(self, pointer) : NULL;
    if (b == NULL && (pointer == NULL || pointer == Py_None)) {
        /* Not part of anything: no create() made it. */
        PyErr_Format(PyExc_TypeError, "destroy() expects an object create() returned, got %.100s",
                     Py_TYPE(obj)->tp_name);
    } else if (b == NULL) {
        /* Made by another allocator's create(), or through one of its fields. */
        PyErr_Format(PyExc_ValueError, "destroy(): this %.100s was not made by this allocator's create()",
                     Py_TYPE(obj)->tp_name);
    } else if (b->state == ZX_DESTROYING) {
        PyErr_Format(PyExc_ValueError, "destroy(): the object at %p was already destroyed", (void *)b->ptr);
        b = NULL;
    } else {
        b->state = ZX_DESTROYING;
    }
    zx_txn_drop(&t, pointer);
    zx_txn_release(&t);
    if (b == NULL) return NULL;
    Py_RETURN_NONE;
}

/* layout(): an allocator written in Python shows its regions; any other
 * type without a layout() of its own, its blocks (layout.c). */
static PyObject *Allocator_layout(PyObject *op, PyObject *unused) {
    (void)unused;
    return ZxAllocator_CAST(op)->py != NULL ? zx_pyalloc_layout(op) : zx_generic_layout(op);
}

static PyObject *Allocator_get_live(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromSsize_t(ZxAllocator_CAST(op)->nlive);
}

static PyObject *Allocator_get_max_alignment(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromSize_t(zh_alignment_bytes(ZxAllocator_CAST(op)->max_align));
}

static PyObject *Allocator_reduce(PyObject *op, PyObject *unused) {
    (void)unused;
    PyErr_Format(PyExc_TypeError, "cannot pickle %.100s: it owns raw memory", Py_TYPE(op)->tp_name);
    return NULL;
}

static PyMethodDef Allocator_methods[] = {
    {"alloc", (PyCFunction)(void (*)(void))Allocator_alloc, METH_FASTCALL | METH_KEYWORDS, alloc_doc},
    {"free", Allocator_free, METH_O, free_doc},
    {"resize", (PyCFunction)(void (*)(void))Allocator_resize, METH_FASTCALL | METH_KEYWORDS, resize_doc},
    {"remap", (PyCFunction)(void (*)(void))Allocator_remap, METH_FASTCALL | METH_KEYWORDS, remap_doc},
    {"realloc", (PyCFunction)(void (*)(void))Allocator_realloc, METH_FASTCALL | METH_KEYWORDS, realloc_doc},
    {"dupe", Allocator_dupe, METH_O, dupe_doc},
    {"create", Allocator_create, METH_O, create_doc},
    {"destroy", Allocator_destroy, METH_O, destroy_doc},
    {"__reduce__", Allocator_reduce, METH_NOARGS, NULL},
    {"layout", Allocator_layout, METH_NOARGS, zx_layout_doc},
    {"stats", zx_allocator_stats, METH_NOARGS, zx_stats_doc},
    {"_repr_html_", zx_repr_html, METH_NOARGS, NULL},
    {"add_region", zx_allocator_add_region, METH_O, zx_add_region_doc},
    {"capsule", zx_allocator_capsule, METH_NOARGS, zx_capsule_doc},
    {"from_capsule", (PyCFunction)(void (*)(void))zx_allocator_from_capsule,
     METH_FASTCALL | METH_KEYWORDS | METH_CLASS, zx_from_capsule_doc},
    {NULL},
};

static PyGetSetDef Allocator_getset[] = {
    {"live", Allocator_get_live, NULL,
     "Number of blocks handed out through Python that are not freed and that Python can still\n"
     "reach (through a view, a slice or a create() object). A block whose every view was\n"
     "dropped without free() is a leak: it stays allocated, as in Zig, but leaves this count\n"
     "once its views are collected (a DebugAllocator's leaks() still lists it).",
     NULL},
    {"max_alignment", Allocator_get_max_alignment, NULL, "Largest alignment (bytes) alloc() accepts.", NULL},
    {NULL},
};

static PyMemberDef Allocator_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ZxAllocator, weakreflist), READONLY, NULL},
    {NULL},
};

PyDoc_STRVAR(Allocator_doc,
             "Base type of every zheap allocator (Zig's std.mem.Allocator).\n\n"
             "Memory comes as memoryview objects. A view stays valid until it is freed (or\n"
             "superseded by resize/remap/realloc); afterwards it raises ValueError. A view\n"
             "you drop without freeing is a leak, as in Zig.");

static PyType_Slot Allocator_slots[] = {
    {Py_tp_doc, (void *)Allocator_doc},
    {Py_tp_new, zx_pyalloc_new},
    {Py_tp_dealloc, zx_pyalloc_dealloc},
    {Py_tp_repr, zx_pyalloc_repr},
    {Py_tp_traverse, zx_pyalloc_traverse},
    {Py_tp_clear, zx_allocator_clear},
    {Py_tp_methods, Allocator_methods},
    {Py_tp_getset, Allocator_getset},
    {Py_tp_members, Allocator_members},
    {0, NULL},
};

static PyType_Spec Allocator_spec = {
    .name = "zheap.Allocator",
    .basicsize = sizeof(ZxAllocator),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = Allocator_slots,
};

int zx_allocator_init_types(PyObject *module, zheap_state *st) {
    st->Allocator_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &Allocator_spec, NULL);
    if (st->Allocator_type == NULL) return -1;
    return PyModule_AddType(module, st->Allocator_type);
}
