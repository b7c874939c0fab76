/* memory_pool.c -- MemoryPool, MemoryPoolAligned and MemoryPoolExtra as
 * Python types.
 *
 * A pool is not a std.mem.Allocator in Zig (no alloc/resize), so these types
 * do not derive from zheap.Allocator. They share its object head, though, so
 * that every item is a Block like any allocation: the same views, export
 * guard, bulk invalidation and double-free errors. The head's zh_allocator is
 * a small adapter whose free is the pool's destroy. */
#include "allocator.h"

#include "structmember.h"

typedef struct {
    ZxAllocator base;
    zh_memory_pool pool;
    size_t view_len; /* the Item's size: what create() hands out */
} PoolObject;

#define Pool_CAST(op) ((PoolObject *)(op))

/* The adapter behind base.a. Blocks only ever free through it (free() of a
 * view, the deferred free of the Block exporter); create() calls the pool. */
static void *adapter_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    (void)ctx, (void)len, (void)al, (void)ra;
    return NULL;
}
static void adapter_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    (void)len, (void)al, (void)ra;
    zh_memory_pool_destroy(ctx, mem);
}
static const zh_allocator_vtable adapter_vtable = {adapter_alloc, zh_no_resize, zh_no_remap, adapter_free};

static int parse_item_size(PyObject *obj, size_t *out) {
    Py_ssize_t n;
    if (zx_parse_positive(obj, "item_size", &n) < 0) return -1; /* an item is a view of item_size bytes */
    *out = (size_t)n;
    return 0;
}

static PyObject *Pool_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    zheap_state *st = zx_state_of(type);
    if (st == NULL) return NULL;
    PyObject *size_obj, *align_obj = Py_None, *child = NULL;
    int growable = 1;
    if (PyType_IsSubtype(type, st->MemoryPoolAligned_type)) {
        /* Zig's MemoryPoolAligned(Item, alignment): no options. */
        static char *kwlist[] = {"item_size", "alignment", "child", NULL};
        if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|$O:MemoryPoolAligned", kwlist, &size_obj, &align_obj,
                                         &child))
            return NULL;
        if (align_obj == Py_None) {
            PyErr_SetString(PyExc_TypeError, "MemoryPoolAligned() needs an alignment (use MemoryPool for natural)");
            return NULL;
        }
    } else {
        static char *kwlist[] = {"item_size", "alignment", "growable", "child", NULL};
        /* The format's name is the one errors give: the subtype's own. */
        const char *fmt = PyType_IsSubtype(type, st->MemoryPoolExtra_type) ? "O|$OpO:MemoryPoolExtra" : "O|$OpO:MemoryPool";
        if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &size_obj, &align_obj, &growable, &child))
            return NULL;
    }
    size_t item_size;
    if (parse_item_size(size_obj, &item_size) < 0) return NULL;
    ZxAllocator *c = zx_child_or_default(st, type, child, "MemoryPool()");
    if (c == NULL) return NULL;
    PoolObject *self = (PoolObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(c);
        return NULL;
    }
    zx_allocator_setup(&self->base, st, (zh_allocator){NULL, NULL}, ZH_ALIGNMENT_MAX);
    zh_memory_pool_options options = {ZH_ALIGNMENT_NATURAL, growable != 0};
    if (align_obj != Py_None && zx_parse_alignment(&self->base, align_obj, &options.alignment) < 0) {
        Py_DECREF(c);
        Py_DECREF(self);
        return NULL;
    }
    /* A Python item is bytes: natural alignment 1, so a pointer's after
     * Zig's max with the free-list link. */
    zh_memory_pool_init(&self->pool, zx_child_iface(c), item_size, 0, options);
    self->view_len = item_size;
    self->base.a = (zh_allocator){&self->pool, &adapter_vtable};
    self->base.max_align = self->pool.item_alignment;
    zx_pin_child(&self->base, (PyObject *)c);
    Py_DECREF(c);
    return (PyObject *)self;
}

static void pool_deinit_cb(void *pool) { zh_memory_pool_deinit(pool); }

static void Pool_dealloc(PyObject *op) {
    /* Untracked before any code runs: a collection during the teardown
     * (Python code in a child) must not see this dying object. */
    PyObject_GC_UnTrack(op);
    PoolObject *self = Pool_CAST(op);
    /* No item is left (each holds the pool): give the arena back. */
    if (!self->base.closed && self->base.child != NULL) zx_call_quietly(op, pool_deinit_cb, &self->pool);
    zx_allocator_dealloc(op);
}

static int Pool_clear(PyObject *op) {
    if (!zx_collectable(ZxAllocator_CAST(op))) return 0; /* owner.c says why */
    PoolObject *self = Pool_CAST(op);
    /* The child may go with this cycle: give the memory back while it is here. */
    if (!self->base.closed && self->base.child != NULL) {
        zx_call_quietly(op, pool_deinit_cb, &self->pool);
        self->base.closed = true;
    }
    return zx_allocator_clear(op);
}

/* Tears down before the collector clears anything (arena.c's
 * Arena_finalize says why). */
static void Pool_finalize(PyObject *op) {
    zx_finalize_quietly(ZxAllocator_CAST(op), pool_deinit_cb, &Pool_CAST(op)->pool);
}

PyDoc_STRVAR(Pool_create_doc,
             "create($self, /)\n--\n\n"
             "A view of ``item_size`` bytes at ``item_alignment``: the most recently\n"
             "destroyed item first, else a new one from the arena. MemoryError when the\n"
             "child is out of memory, or when a pool that is not growable has no free item.");

static PyObject *Pool_create(PyObject *op, PyObject *unused) {
    (void)unused;
    PoolObject *self = Pool_CAST(op);
    zx_txn t;
    zx_txn_init(&t, &self->base);
    ZxBlock *b;
    PyObject *view;
    if (zx_prepare_block(&self->base, &t, &b, &view) < 0) return NULL;
    if (zx_txn_begin(&t) < 0) goto fail;
    size_t tok = zx_trace_begin(&self->base, ZX_OP_CREATE, NULL, self->view_len, self->pool.item_alignment, 0);
    char *p = zh_memory_pool_create(&self->pool);
    zx_trace_end(&self->base, tok, (uintptr_t)p);
    zx_txn_end(&t);
    if (p == NULL) {
        if (PyErr_Occurred()) goto fail; /* raised by a child written in Python */
        if (!self->pool.growable)
            PyErr_Format(PyExc_MemoryError, "%.100s: no free item and the pool is not growable", Py_TYPE(op)->tp_name);
        else
            zx_no_memory(op, "creating an item of", self->view_len, "bytes", 0);
        goto fail;
    }
    zx_commit_block(b, view, p, self->view_len, self->pool.item_alignment);
    if (PyErr_Occurred()) goto fail;
    zx_txn_release(&t);
    zx_flush_chain(&self->base);
    return view;
fail:
    zx_txn_release(&t); /* before the view goes: makes an unfilled block dead */
    Py_DECREF(view);
    zx_flush_chain(&self->base);
    return NULL;
}

PyDoc_STRVAR(Pool_destroy_doc,
             "destroy($self, view, /)\n--\n\n"
             "Put the item behind ``view`` back on the free list (the arena keeps the\n"
             "memory). Afterwards the view raises ValueError on any access. BufferError,\n"
             "changing nothing, while slices or other exports of it are alive; ValueError\n"
             "for a view this pool did not hand out or already destroyed (Zig does not check).");

static PyObject *Pool_destroy(PyObject *op, PyObject *view) {
    return zx_free_view(&Pool_CAST(op)->base, view, "destroy");
}

PyDoc_STRVAR(Pool_reset_doc,
             "reset($self, /, mode='retain_capacity', limit=None)\n--\n\n"
             "Destroy every item at once: the arena's reset(mode, limit), then an empty\n"
             "free list (even preheated items are gone, so a pool that is not growable\n"
             "must be preheated again). Returns the arena's result. Every outstanding view\n"
             "is invalidated; BufferError (and no change) while one is exported.");

static PyObject *Pool_reset(PyObject *op, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"mode", "limit", NULL};
    PoolObject *self = Pool_CAST(op);
    PyObject *mode = NULL, *limit = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|UO:reset", kwlist, &mode, &limit)) return NULL;
    zh_arena_reset_mode m;
    size_t lim;
    if (zx_parse_reset_mode(mode, limit, &m, &lim) < 0) return NULL;
    zx_txn t;
    zx_txn_init(&t, &self->base);
    if (zx_txn_begin_bulk(&t, "reset the pool") < 0) return NULL;
    size_t tok = zx_trace_begin(&self->base, ZX_OP_RESET, NULL, (size_t)m, 0, lim);
    bool ok = zh_memory_pool_reset(&self->pool, m, lim);
    zx_trace_end(&self->base, tok, ok);
    zx_txn_release(&t);
    zx_flush_chain(&self->base);
    if (PyErr_Occurred()) return NULL; /* raised by a child written in Python */
    return PyBool_FromLong(ok);
}

PyDoc_STRVAR(Pool_preheat_doc,
             "preheat($self, n, /)\n--\n\n"
             "Add ``n`` new items to the free list, so that ``n`` more create() calls succeed\n"
             "even if the pool is not growable. MemoryError when the child runs out; items\n"
             "added before that stay, as in Zig.");

/* preheat(n) builds n items one by one, writing a link into each, so it
 * can never succeed past what the machine's memory holds: refuse such a
 * count at once (MemoryError) instead of looping until the child fails.
 * The bound also rules out n * item size overflowing. */
static int check_preheat_count(PoolObject *self, size_t n) {
    size_t stride = self->pool.item_size, total;
    size_t limit = zh_memory_limit_hint();
    if (__builtin_mul_overflow(n, stride, &total) || total > limit) {
        PyErr_Format(PyExc_MemoryError,
                     "%.100s: cannot preheat %zu items of %zu bytes: more than this machine's memory (%zu bytes)",
                     Py_TYPE(self)->tp_name, n, stride, limit);
        return -1;
    }
    return 0;
}

static PyObject *Pool_preheat(PyObject *op, PyObject *n_obj) {
    PoolObject *self = Pool_CAST(op);
    Py_ssize_t n;
    if (zx_parse_length(n_obj, "n", &n) < 0 || check_preheat_count(self, (size_t)n) < 0) return NULL;
    zx_txn t;
    zx_txn_init(&t, &self->base);
    if (zx_txn_begin(&t) < 0) return NULL;
    bool ok = zh_memory_pool_preheat(&self->pool, (size_t)n);
    zx_txn_release(&t);
    zx_flush_chain(&self->base);
    if (!ok && PyErr_Occurred()) return NULL;
    if (!ok)
        return zx_no_memory(op, "preheating", (size_t)n, "items", 0);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(Pool_preheated_doc,
             "preheated(item_size, initial_size, /, **options)\n--\n\n"
             "Zig's initPreheated: ``cls(item_size, **options)`` with ``initial_size``\n"
             "items already on the free list. On MemoryError nothing is kept: the pool is\n"
             "deinitialized, and items a subclass's ``__init__`` created are invalidated.");

static PyObject *pool_deinit(PoolObject *self);

static PyObject *Pool_preheated(PyObject *cls, PyObject *args, PyObject *kwds) {
    PyObject *size_obj, *n_obj;
    if (!PyArg_ParseTuple(args, "OO:preheated", &size_obj, &n_obj)) return NULL;
    Py_ssize_t n;
    if (zx_parse_length(n_obj, "initial_size", &n) < 0) return NULL;
    PyObject *ctor_args = PyTuple_Pack(1, size_obj);
    if (ctor_args == NULL) return NULL;
    PyObject *pool = PyObject_Call(cls, ctor_args, kwds);
    Py_DECREF(ctor_args);
    if (pool == NULL) return NULL;
    zheap_state *st = zx_state_of((PyTypeObject *)cls);
    if (st == NULL || !PyObject_TypeCheck(pool, st->MemoryPool_type)) {
        if (st != NULL)
            PyErr_Format(PyExc_TypeError, "preheated(): %R() returned %.100s, not a MemoryPool", cls,
                         Py_TYPE(pool)->tp_name);
        Py_DECREF(pool);
        return NULL;
    }
    PyObject *r = Pool_preheat(pool, n_obj);
    if (r != NULL) {
        Py_DECREF(r);
        return pool;
    }
    /* errdefer pool.deinit(): every view it handed out goes too. If one is
     * exported (a subclass kept a slice), the pool cannot be deinitialized;
     * it is dropped instead and gives its memory back when its last item goes. */
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    r = pool_deinit(Pool_CAST(pool));
    Py_XDECREF(r);
    PyErr_Clear();
    PyErr_Restore(et, ev, tb);
    Py_DECREF(pool);
    return NULL;
}

PyDoc_STRVAR(Pool_deinit_doc, "deinit($self, /)\n--\n\n"
                              "Give all memory back to the child. Every outstanding view is invalidated;\n"
                              "BufferError (and no change) while one is exported. The pool is unusable\n"
                              "afterwards; a second deinit() does nothing.");

static PyObject *pool_deinit(PoolObject *self) {
    if (self->base.closed) Py_RETURN_NONE;
    zx_txn t;
    zx_txn_init(&t, &self->base);
    if (zx_txn_begin_bulk(&t, "deinit the pool") < 0) return NULL;
    size_t tok = zx_trace_begin(&self->base, ZX_OP_DEINIT, NULL, 0, 0, 0);
    zh_memory_pool_deinit(&self->pool);
    zx_trace_end(&self->base, tok, 0);
    self->base.closed = true;
    zx_unpin_child(&self->base);
    zx_txn_release(&t);
    zx_flush_chain(&self->base);
    if (PyErr_Occurred()) return NULL; /* raised by a child written in Python */
    Py_RETURN_NONE;
}

static PyObject *Pool_deinit(PyObject *op, PyObject *unused) {
    (void)unused;
    return pool_deinit(Pool_CAST(op));
}

static PyObject *Pool_exit(PyObject *op, PyObject *args) {
    return zx_exit(op, args, Pool_deinit);
}

static size_t free_items(PoolObject *self) {
    /* The binding refuses double destroys, so the list has no cycle; the
     * bound only guards the C invariant. */
    return self->base.closed ? 0 : zh_memory_pool_free_count(&self->pool, SIZE_MAX);
}

static PyObject *Pool_stats(PyObject *op, PyObject *unused) {
    (void)unused;
    PoolObject *self = Pool_CAST(op);
    return Py_BuildValue("{s:n,s:n,s:n,s:O,s:n,s:n,s:n,s:n}", "item_size", (Py_ssize_t)self->view_len, "slot_size",
                         (Py_ssize_t)self->pool.item_size, "item_alignment",
                         (Py_ssize_t)zh_alignment_bytes(self->pool.item_alignment), "growable",
                         self->pool.growable ? Py_True : Py_False, "live", self->base.nlive, "free",
                         (Py_ssize_t)free_items(self), "capacity",
                         (Py_ssize_t)(self->base.closed ? 0 : zh_arena_query_capacity(&self->pool.arena)), "chunks",
                         (Py_ssize_t)(self->base.closed ? 0 : zh_arena_chunk_count(&self->pool.arena)));
}
ZX_STATS_WITH_FIGURES(Pool_stats)

static PyObject *Pool_get_item_size(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromSize_t(Pool_CAST(op)->view_len);
}
static PyObject *Pool_get_slot_size(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromSize_t(Pool_CAST(op)->pool.item_size);
}
static PyObject *Pool_get_item_alignment(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromSize_t(zh_alignment_bytes(Pool_CAST(op)->pool.item_alignment));
}
static PyObject *Pool_get_growable(PyObject *op, void *c) {
    (void)c;
    return PyBool_FromLong(Pool_CAST(op)->pool.growable);
}
static PyObject *Pool_get_live(PyObject *op, void *c) {
    (void)c;
    return PyLong_FromSsize_t(Pool_CAST(op)->base.nlive);
}

static PyObject *Pool_repr(PyObject *op) {
    PoolObject *self = Pool_CAST(op);
    if (self->base.closed) return PyUnicode_FromFormat("<%s deinitialized>", Py_TYPE(op)->tp_name);
    return PyUnicode_FromFormat("<%s item_size=%zu item_alignment=%zu live=%zd free=%zu capacity=%zu growable=%s>",
                                Py_TYPE(op)->tp_name, self->view_len, zh_alignment_bytes(self->pool.item_alignment),
                                self->base.nlive, free_items(self), zh_arena_query_capacity(&self->pool.arena),
                                self->pool.growable ? "True" : "False");
}

static PyObject *Pool_reduce(PyObject *op, PyObject *unused) {
    (void)unused;
    PyErr_Format(PyExc_TypeError, "cannot pickle %.100s: it owns raw memory", Py_TYPE(op)->tp_name);
    return NULL;
}

/* An item takes its whole slot (Zig's item_size, at least a pointer: a free
 * item holds the free list's link); the part past the view is padding. */
static size_t pool_footprint(const ZxBlock *b, size_t *size_class) {
    *size_class = 0;
    return Pool_CAST((PyObject *)b->owner)->pool.item_size;
}

static PyObject *Pool_layout(PyObject *op, PyObject *unused) {
    (void)unused;
    PoolObject *self = Pool_CAST(op);
    /* Gathered in C, then made Python (layout.c). */
    zx_layout l = {.orders = true};
    if (!self->base.closed) (void)zh_memory_pool_visit(&self->pool, SIZE_MAX, zx_lay_visit, &l);
    zx_lay_live(&l, &self->base, pool_footprint);
    return zx_lay_finish(&l, op);
}

static PyMethodDef Pool_methods[] = {
    {"_repr_html_", zx_repr_html, METH_NOARGS, NULL},
    {"layout", Pool_layout, METH_NOARGS,
     "layout($self, /)\n--\n\nThe pool's memory: its arena's chunks, each with its live items and its\n"
     "free-list items ({address, length, state 'live' | 'free'})."},
    {"create", Pool_create, METH_NOARGS, Pool_create_doc},
    {"destroy", Pool_destroy, METH_O, Pool_destroy_doc},
    {"reset", (PyCFunction)(void (*)(void))Pool_reset, METH_VARARGS | METH_KEYWORDS, Pool_reset_doc},
    {"preheat", Pool_preheat, METH_O, Pool_preheat_doc},
    {"preheated", (PyCFunction)(void (*)(void))Pool_preheated, METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     Pool_preheated_doc},
    {"deinit", Pool_deinit, METH_NOARGS, Pool_deinit_doc},
    {"stats", Pool_stats_with_figures, METH_NOARGS,
     "stats($self, /)\n--\n\nA dict: item_size, slot_size, item_alignment, growable, live, free, capacity, "
     "chunks."},
    {"__enter__", zx_enter, METH_NOARGS, zx_enter_doc},
    {"__exit__", Pool_exit, METH_VARARGS, zx_exit_doc},
    {"__reduce__", Pool_reduce, METH_NOARGS, NULL},
    {NULL},
};

static PyGetSetDef Pool_getset[] = {
    {"item_size", Pool_get_item_size, NULL, "Length of every view create() returns.", NULL},
    {"slot_size", Pool_get_slot_size, NULL,
     "Bytes each item occupies (Zig's item_size: at least a pointer, for the free-list link).", NULL},
    {"item_alignment", Pool_get_item_alignment, NULL, "Alignment of every item, in bytes.", NULL},
    {"growable", Pool_get_growable, NULL, "Whether create() may allocate beyond the free list.", NULL},
    {"live", Pool_get_live, NULL,
     "Items created and not yet destroyed that Python can still reach. An item whose views\n"
     "were all dropped without destroy() is a leak: it stays taken until reset() or deinit(),\n"
     "but leaves this count once its views are collected.",
     NULL},
    {"child_allocator", zx_get_child, NULL, "The allocator the pool's arena draws from.", NULL},
    {NULL},
};

static PyMemberDef Pool_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ZxAllocator, weakreflist), READONLY, NULL},
    {NULL},
};

#define POOL_SLOTS(doc)                                                                                             \
    {                                                                                                               \
        {Py_tp_doc, (void *)(doc)}, {Py_tp_new, Pool_new}, {Py_tp_dealloc, Pool_dealloc},                           \
            {Py_tp_traverse, zx_allocator_traverse}, {Py_tp_clear, Pool_clear}, {Py_tp_finalize, Pool_finalize}, {Py_tp_repr, Pool_repr},            \
            {Py_tp_methods, Pool_methods}, {Py_tp_getset, Pool_getset}, {Py_tp_members, Pool_members}, {0, NULL}, \
    }

PyDoc_STRVAR(Pool_doc,
             "MemoryPool(item_size, *, alignment=None, growable=True, child=None)\n--\n\n"
             "Zig's memory pool: items of ``item_size`` bytes, each an allocation from an\n"
             "ArenaAllocator over ``child``, recycled through a LIFO free list. create()\n"
             "returns a view, destroy(view) recycles it, reset()/deinit() drop everything.\n"
             "``alignment`` None is a pointer's (Zig's for a byte item); ``growable=False``\n"
             "makes create() only reuse preheated items. While it lives, ``child`` cannot be\n"
             "reset; None is the page allocator. Subclasses take these arguments in\n"
             "``__new__`` (the pool is made there, as a tuple is).");

PyDoc_STRVAR(PoolAligned_doc,
             "MemoryPoolAligned(item_size, alignment, *, child=None)\n--\n\n"
             "Zig's MemoryPoolAligned(Item, alignment): a growable MemoryPool whose items\n"
             "are aligned to ``alignment`` (at least a pointer's).");

PyDoc_STRVAR(PoolExtra_doc,
             "MemoryPoolExtra(item_size, *, alignment=None, growable=True, child=None)\n--\n\n"
             "Zig's MemoryPoolExtra(Item, options): a MemoryPool with Zig's Options\n"
             "(``alignment``, ``growable``) spelled out.");

static PyType_Slot Pool_slots[] = POOL_SLOTS(Pool_doc);
static PyType_Slot PoolAligned_slots[] = POOL_SLOTS(PoolAligned_doc);
static PyType_Slot PoolExtra_slots[] = POOL_SLOTS(PoolExtra_doc);

#define POOL_FLAGS (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE)

static PyType_Spec Pool_spec = {"zheap.MemoryPool", sizeof(PoolObject), 0, POOL_FLAGS, Pool_slots};
static PyType_Spec PoolAligned_spec = {"zheap.MemoryPoolAligned", sizeof(PoolObject), 0, POOL_FLAGS,
                                       PoolAligned_slots};
static PyType_Spec PoolExtra_spec = {"zheap.MemoryPoolExtra", sizeof(PoolObject), 0, POOL_FLAGS, PoolExtra_slots};

static PyTypeObject *add_type(PyObject *module, PyType_Spec *spec, PyTypeObject *base) {
    PyTypeObject *t = (PyTypeObject *)PyType_FromModuleAndSpec(module, spec, (PyObject *)base);
    if (t != NULL && PyModule_AddType(module, t) < 0) Py_CLEAR(t);
    return t;
}

int zx_memory_pool_init_types(PyObject *module, zheap_state *st) {
    if ((st->MemoryPool_type = add_type(module, &Pool_spec, NULL)) == NULL) return -1;
    if ((st->MemoryPoolAligned_type = add_type(module, &PoolAligned_spec, st->MemoryPool_type)) == NULL) return -1;
    if ((st->MemoryPoolExtra_type = add_type(module, &PoolExtra_spec, st->MemoryPool_type)) == NULL) return -1;
    return 0;
}
