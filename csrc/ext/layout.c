/* layout.c -- layout() for the allocators without a core visitor of their
 * own, the collector every visitor's layout goes through, and the
 * fragmentation figures every stats() reports.
 *
 * A layout is gathered in plain C first (regions, then blocks from the
 * core's visitor and the object's live list), because the core visitors run
 * under the allocators' locks, where no Python object may be made. It is
 * then turned into the dicts layout() documents: every block goes into the
 * region that contains its address, by address. */
#include "layout.h"

#include <stdlib.h>
#include <string.h>

int zx_lay_region(zx_layout *l, const char *kind, uintptr_t addr, size_t size, size_t used, size_t size_class) {
    zx_lregion *r = zx_grow(l->r, &l->cr, l->nr, sizeof *r, 16);
    if (r == NULL) return l->oom = -1;
    l->r = r;
    r[l->nr++] = (zx_lregion){kind, addr, size, used, size_class};
    return 0;
}

int zx_lay_item(zx_layout *l, const char *state, uintptr_t addr, size_t len, size_t size_class) {
    if (len == 0) return 0;
    zx_litem *it = zx_grow(l->it, &l->ci, l->ni, sizeof *it, 64);
    if (it == NULL) return l->oom = -1;
    l->it = it;
    it[l->ni++] = (zx_litem){state, addr, len, size_class, 0};
    return 0;
}

/* The zh_visit_fn of every core visitor: each area a region, each block
 * an item with its state. C only: visitors run under the core's locks. A
 * free item keeps its place in its free list (1: reused next) where the
 * layout asks for it (`orders`: a pool's one LIFO list is its behaviour). */
int zx_lay_visit(void *user, const zh_visit_item *it) {
    zx_layout *l = user;
    static const char *const states[] = {
        [ZH_VISIT_LIVE] = "live",       [ZH_VISIT_FREE] = "free",         [ZH_VISIT_FREED] = "freed",
        [ZH_VISIT_PADDING] = "padding", [ZH_VISIT_METADATA] = "metadata",
    };
    if (it->kind == ZH_VISIT_AREA) return zx_lay_region(l, it->area, it->address, it->size, it->used, it->slot_size);
    if (zx_lay_item(l, states[it->kind], it->address, it->size, it->slot_size) < 0) return -1;
    if (l->orders && it->kind == ZH_VISIT_FREE && it->size != 0) l->it[l->ni - 1].order = it->order;
    return 0;
}

static int region_by_address(const void *a, const void *b) {
    const zx_lregion *x = a, *y = b;
    return (x->addr > y->addr) - (x->addr < y->addr);
}

/* Regions in address order, each once: visitors over memory with no record
 * of its areas (slabs, big pages) report an area once per thing found in
 * it, and the smallest `used` holds (only the bump pointer's report knows
 * where carving stopped). */
void zx_lay_merge_regions(zx_layout *l) {
    if (l->nr > 1) qsort(l->r, l->nr, sizeof *l->r, region_by_address);
    size_t n = 0;
    for (size_t i = 0; i < l->nr; i++) {
        if (n > 0 && l->r[n - 1].addr == l->r[i].addr) {
            zx_lregion *kept = &l->r[n - 1];
            if (l->r[i].used < kept->used) kept->used = l->r[i].used;
            if (kept->size_class == 0) kept->size_class = l->r[i].size_class;
        } else {
            l->r[n++] = l->r[i];
        }
    }
    l->nr = n;
}

/* The object's live blocks; where `footprint` says a block takes more than
 * its length (a slot, whole pages), the rest follows it as padding. It
 * also gives the block's size class (0: none). */
int zx_lay_live(zx_layout *l, ZxAllocator *owner, size_t (*footprint)(const ZxBlock *b, size_t *size_class)) {
    for (ZxBlock *b = owner->live; b != NULL; b = b->next) {
        if (b->len == 0) continue;
        size_t cls = 0, took = footprint ? footprint(b, &cls) : b->len;
        if (zx_lay_item(l, "live", (uintptr_t)b->ptr, b->len, cls) < 0) return -1;
        if (took > b->len && zx_lay_item(l, "padding", (uintptr_t)b->ptr + b->len, took - b->len, cls) < 0) return -1;
    }
    return 0;
}

void zx_lay_free(zx_layout *l) {
    PyMem_RawFree(l->r);
    PyMem_RawFree(l->it);
    *l = (zx_layout){0};
}

/* qsort/bsearch order of zx_litem: by address. */
int zx_litem_by_address(const void *a, const void *b) {
    uintptr_t x = ((const zx_litem *)a)->addr, y = ((const zx_litem *)b)->addr;
    return (x > y) - (x < y);
}

static int put(PyObject *d, const char *key, PyObject *value) {
    int rc = value ? PyDict_SetItemString(d, key, value) : -1;
    Py_XDECREF(value);
    return rc;
}

static PyObject *item_dict(const zx_litem *it) {
    PyObject *d = PyDict_New();
    if (d == NULL) return NULL;
    if (put(d, "address", PyLong_FromUnsignedLongLong(it->addr)) < 0 ||
        put(d, "length", PyLong_FromSize_t(it->len)) < 0 || put(d, "state", PyUnicode_FromString(it->state)) < 0 ||
        (it->size_class && put(d, "size_class", PyLong_FromSize_t(it->size_class)) < 0) ||
        (it->order && put(d, "next", PyLong_FromSize_t(it->order)) < 0))
        Py_CLEAR(d);
    return d;
}

/* The first item at or after addr (items sorted). */
size_t zx_lay_first_item(const zx_layout *l, uintptr_t addr) {
    size_t lo = 0, hi = l->ni;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->it[mid].addr < addr) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* One region of a layout: {kind, address, size, used, blocks}. */
static PyObject *layout_region(const char *kind, uintptr_t start, size_t size, size_t used, PyObject *blocks) {
    if (blocks == NULL) return NULL;
    return Py_BuildValue("{s:s,s:k,s:n,s:n,s:N}", "kind", kind, "address", (unsigned long)start, "size",
                         (Py_ssize_t)size, "used", (Py_ssize_t)used, "blocks", blocks);
}

/* {"allocator": type name, "regions": regions} (steals `regions`). */
static PyObject *layout_of(PyObject *self, PyObject *regions) {
    if (regions == NULL) return NULL;
    return Py_BuildValue("{s:s,s:N}", "allocator", Py_TYPE(self)->tp_name, "regions", regions);
}

/* The layout dict of `self` from what was gathered (and frees it). Regions
 * keep the order they were added in; blocks outside every region are left
 * out (the gatherer adds the regions its blocks live in). */
PyObject *zx_lay_finish(zx_layout *l, PyObject *self) {
    PyObject *regions = NULL, *result = NULL;
    if (l->oom) {
        PyErr_NoMemory();
        goto done;
    }
    if (l->ni > 1) qsort(l->it, l->ni, sizeof *l->it, zx_litem_by_address);
    if ((regions = PyList_New(0)) == NULL) goto done;
    for (size_t i = 0; i < l->nr; i++) {
        const zx_lregion *r = &l->r[i];
        PyObject *blocks = PyList_New(0);
        if (blocks == NULL) goto done;
        for (size_t j = zx_lay_first_item(l, r->addr); j < l->ni && l->it[j].addr - r->addr < r->size; j++) {
            PyObject *d = item_dict(&l->it[j]);
            if (d == NULL || PyList_Append(blocks, d) < 0) {
                Py_XDECREF(d);
                Py_DECREF(blocks);
                goto done;
            }
            Py_DECREF(d);
        }
        PyObject *region = layout_region(r->kind, r->addr, r->size, r->used, blocks);
        if (region != NULL && r->size_class && put(region, "size_class", PyLong_FromSize_t(r->size_class)) < 0)
            Py_CLEAR(region);
        if (region == NULL || PyList_Append(regions, region) < 0) {
            Py_XDECREF(region);
            goto done;
        }
        Py_DECREF(region);
    }
    result = layout_of(self, Py_NewRef(regions));
done:
    Py_XDECREF(regions);
    zx_lay_free(l);
    return result;
}

/* --- reading a layout someone else made ------------------------------------------- */

/* A layout() result may come from Python code (an allocator written in
 * Python may override layout()): every piece is read through a strong
 * reference, type-checked, and copied into a zx_layout before anything is
 * computed from it, so hostile dicts (keys whose __eq__ mutates the lists,
 * wrong types) raise TypeError or ValueError instead of leaving a borrowed
 * pointer to a freed object. Strings become the binding's own names. */

static const char *const known_names[] = {
    "live", "free", "freed", "padding", "metadata", "hole", "unused", "header",
    "buffer", "chunk", "page", "mapping", "slab", "bucket", "large", "big", "bigpage", "run", "region", "block",
};

static const char *own_name(PyObject *s, const char *fallback) {
    if (s == NULL || !PyUnicode_Check(s)) return fallback;
    for (size_t i = 0; i < sizeof known_names / sizeof *known_names; i++)
        if (PyUnicode_CompareWithASCIIString(s, known_names[i]) == 0) return known_names[i];
    return fallback;
}

/* d[key] as a new reference, NULL (no error) if absent; TypeError if `d`
 * is not a dict. */
static PyObject *get_ref(PyObject *d, const char *key, int *err) {
    if (!PyDict_Check(d)) {
        PyErr_Format(PyExc_TypeError, "a layout is made of dicts, got %.100s", Py_TYPE(d)->tp_name);
        *err = -1;
        return NULL;
    }
    PyObject *k = PyUnicode_FromString(key);
    PyObject *v = k ? PyDict_GetItemWithError(d, k) : NULL;
    Py_XINCREF(v);
    Py_XDECREF(k);
    if (v == NULL && PyErr_Occurred()) *err = -1;
    return v;
}

static int get_uint(PyObject *d, const char *key, bool required, uintptr_t *out) {
    int err = 0;
    PyObject *v = get_ref(d, key, &err);
    *out = 0;
    if (v == NULL) {
        if (err == 0 && required) PyErr_Format(PyExc_TypeError, "a layout entry has no '%s'", key);
        return err == 0 && !required ? 0 : -1;
    }
    int rc = 0;
    if (!PyLong_Check(v)) {
        PyErr_Format(PyExc_TypeError, "layout '%s' must be an int, not %.100s", key, Py_TYPE(v)->tp_name);
        rc = -1;
    } else {
        unsigned long long x = PyLong_AsUnsignedLongLong(v);
        if (x == (unsigned long long)-1 && PyErr_Occurred()) rc = -1;
        else *out = (uintptr_t)x;
    }
    Py_DECREF(v);
    return rc;
}

/* A strong snapshot of d[key], which must be a list or tuple. */
static PyObject *get_tuple(PyObject *d, const char *key) {
    int err = 0;
    PyObject *v = get_ref(d, key, &err);
    if (v == NULL) {
        if (err == 0) PyErr_Format(PyExc_TypeError, "a layout entry has no '%s'", key);
        return NULL;
    }
    PyObject *t = PyList_Check(v) || PyTuple_Check(v) ? PySequence_Tuple(v) : NULL;
    if (t == NULL && !PyErr_Occurred())
        PyErr_Format(PyExc_TypeError, "layout '%s' must be a list, not %.100s", key, Py_TYPE(v)->tp_name);
    Py_DECREF(v);
    return t;
}

/* Append the regions of `layout` and their blocks to `l`; -1 with an
 * exception (l keeps what was read). first_item[i] gets the index of
 * region i's first item when not NULL (sized by the caller's l->nr). */
int zx_lay_parse(PyObject *layout, zx_layout *l) {
    PyObject *regions = get_tuple(layout, "regions");
    if (regions == NULL) return -1;
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PyTuple_GET_SIZE(regions); i++) {
        PyObject *r = PyTuple_GET_ITEM(regions, i); /* the tuple holds it */
        uintptr_t addr, size, used, cls;
        int err = 0;
        PyObject *kind = get_ref(r, "kind", &err);
        if (err < 0 || get_uint(r, "address", true, &addr) < 0 || get_uint(r, "size", true, &size) < 0 ||
            get_uint(r, "used", false, &used) < 0 || get_uint(r, "size_class", false, &cls) < 0) {
            Py_XDECREF(kind);
            rc = -1;
            break;
        }
        if (zx_lay_region(l, own_name(kind, "region"), addr, size, used, cls) < 0) rc = -1;
        Py_XDECREF(kind);
        PyObject *blocks = rc == 0 ? get_tuple(r, "blocks") : NULL;
        if (blocks == NULL) {
            rc = -1;
            break;
        }
        for (Py_ssize_t j = 0; rc == 0 && j < PyTuple_GET_SIZE(blocks); j++) {
            PyObject *b = PyTuple_GET_ITEM(blocks, j);
            uintptr_t baddr, blen, bcls;
            PyObject *state = get_ref(b, "state", &err);
            if (err < 0 || get_uint(b, "address", true, &baddr) < 0 || get_uint(b, "length", true, &blen) < 0 ||
                get_uint(b, "size_class", false, &bcls) < 0)
                rc = -1;
            else if (zx_lay_item(l, own_name(state, "live"), baddr, blen, bcls) < 0)
                rc = -1;
            Py_XDECREF(state);
        }
        Py_DECREF(blocks);
    }
    Py_DECREF(regions);
    if (rc == 0 && l->oom) {
        PyErr_NoMemory();
        rc = -1;
    }
    return rc;
}

/* --- the generic layout() ----------------------------------------------------------- */

/* An allocator whose memory has no structure of its own to show (c_allocator,
 * an allocator from a capsule): each live block is its own region. A
 * wrapper (ThreadSafeAllocator, FailingAllocator, ValidationAllocator, a
 * stack-fallback interface) shows its child's layout with its own blocks
 * placed in the child's regions. */
PyObject *zx_merge_into_child(ZxAllocator *self, zx_layout *lead) {
    if (self->child == NULL) { /* cleared by the collector (owner.c): closed */
        zx_lay_free(lead);
        PyErr_Format(PyExc_ValueError, "%.100s was deinitialized", Py_TYPE(self)->tp_name);
        return NULL;
    }
    /* The child's layout may come from Python code: read into C first. The
     * child is held meanwhile (that code may drop this allocator's). */
    PyObject *child = Py_NewRef(self->child);
    PyObject *theirs = PyObject_CallMethod(child, "layout", NULL);
    Py_DECREF(child);
    if (theirs == NULL) {
        zx_lay_free(lead);
        return NULL;
    }
    zx_layout l = *lead; /* the regions of this allocator's own (a stack-fallback buffer) first */
    *lead = (zx_layout){0};
    int rc = zx_lay_parse(theirs, &l);
    Py_DECREF(theirs);
    if (rc < 0) {
        zx_lay_free(&l);
        return NULL;
    }
    /* Our blocks, copied out of the live list before any object is made
     * (the collector may free blocks of the list meanwhile). A block in no
     * region of the child's is a region of its own. */
    zx_layout mine = {0};
    if (zx_lay_live(&mine, self, NULL) < 0) {
        zx_lay_free(&mine);
        zx_lay_free(&l);
        return PyErr_NoMemory();
    }
    size_t nr = l.nr;
    for (size_t k = 0; k < mine.ni; k++) {
        const zx_litem *it = &mine.it[k];
        bool home = false;
        for (size_t i = 0; i < nr && !home; i++) home = it->addr >= l.r[i].addr && it->addr - l.r[i].addr < l.r[i].size;
        if (!home) zx_lay_region(&l, "block", it->addr, it->len, it->len, 0);
        zx_lay_item(&l, "live", it->addr, it->len, 0);
    }
    zx_lay_free(&mine);
    return zx_lay_finish(&l, (PyObject *)self);
}

static size_t page_footprint(const ZxBlock *b, size_t *size_class) {
    size_t page = zh_page_size();
    *size_class = 0;
    return (b->len + page - 1) / page * page;
}

PyObject *zx_generic_layout(PyObject *op) {
    ZxAllocator *self = ZxAllocator_CAST(op);
    if (self->child != NULL && !self->closed) {
        zx_layout none = {0};
        return zx_merge_into_child(self, &none);
    }
    zx_layout l = {0};
    if (PyObject_TypeCheck(op, self->st->PageAllocator_type)) {
        /* The page allocator maps whole pages per block. */
        for (ZxBlock *b = self->live; b != NULL; b = b->next) {
            size_t cls, took = page_footprint(b, &cls);
            if (b->len != 0) zx_lay_region(&l, "mapping", (uintptr_t)b->ptr, took, b->len, 0);
        }
        zx_lay_live(&l, self, page_footprint);
    } else {
        for (ZxBlock *b = self->live; b != NULL; b = b->next)
            if (b->len != 0) zx_lay_region(&l, "block", (uintptr_t)b->ptr, b->len, b->len, 0);
        zx_lay_live(&l, self, NULL);
    }
    return zx_lay_finish(&l, op); /* raises MemoryError if gathering ran out */
}

/* --- figures ------------------------------------------------------------------------ */

/* The longest piece of free memory in one region (items [first, end) of
 * `l`, sorted by address, are its blocks) that the allocator could hand out
 * as it is: one "free" block, or a stretch past `used` that no block covers
 * (never handed out). Each counts alone: two free blocks that touch are two
 * entries of the allocator's own lists, and an allocator that does not merge
 * them cannot hand them out as one. A hole below `used` that no block covers
 * is not free either: a bump allocator cannot reuse it -- that is its
 * fragmentation. */
static void region_free_run(const zx_lregion *r, const zx_litem *items, size_t n, size_t *largest) {
    uintptr_t start = r->addr, used = r->used < r->size ? r->used : r->size;
    uintptr_t tail = start + used, end = start + r->size;
    for (size_t j = 0; j < n; j++) {
        uintptr_t lo = items[j].addr, hi = lo + items[j].len;
        if (items[j].state == known_names[1] /* "free" */) {
            if (items[j].len > *largest) *largest = items[j].len;
        } else if (hi > tail) { /* blocks come by address: what the tail has before this one is free */
            if (lo > tail && lo - tail > *largest) *largest = lo - tail;
            tail = hi;
        }
    }
    if (end > tail && end - tail > *largest) *largest = end - tail;
}

/* requested / reserved / overhead / utilisation / largest_free_run of a
 * layout dict, which may come from Python code (read through zx_lay_parse). */
PyObject *zx_layout_figures(PyObject *layout) {
    zx_layout l = {0};
    if (zx_lay_parse(layout, &l) < 0) {
        zx_lay_free(&l);
        return NULL;
    }
    if (l.ni > 1) qsort(l.it, l.ni, sizeof *l.it, zx_litem_by_address);
    size_t requested = 0, reserved = 0, largest = 0;
    for (size_t i = 0; i < l.nr; i++) {
        const zx_lregion *r = &l.r[i];
        size_t first = zx_lay_first_item(&l, r->addr), end = first;
        while (end < l.ni && l.it[end].addr - r->addr < r->size) end++;
        reserved += r->size;
        for (size_t j = first; j < end; j++)
            if (l.it[j].state == known_names[0] /* "live" */) requested += l.it[j].len;
        region_free_run(r, l.it + first, end - first, &largest);
    }
    zx_lay_free(&l);
    return Py_BuildValue("{s:n,s:n,s:n,s:d,s:n}", "requested", (Py_ssize_t)requested, "reserved",
                         (Py_ssize_t)reserved, "overhead", (Py_ssize_t)(reserved - requested), "utilisation",
                         reserved ? (double)requested / (double)reserved : 0.0, "largest_free_run",
                         (Py_ssize_t)largest);
}

/* stats() of every type ends here: its own figures, then those of its
 * layout (steals `stats`). */
PyObject *zx_stats_with_figures(PyObject *self, PyObject *unused, PyObject *(*own)(PyObject *, PyObject *)) {
    /* The layout first: building it makes many objects, so the collector may
     * run and free dropped blocks; the type's own counters, read after it,
     * then agree with what the collector left. */
    PyObject *layout = PyObject_CallMethod(self, "layout", NULL);
    PyObject *figures = layout ? zx_layout_figures(layout) : NULL;
    Py_XDECREF(layout);
    PyObject *stats = figures ? own(self, unused) : NULL;
    if (stats != NULL && PyDict_Merge(stats, figures, 1) < 0) Py_CLEAR(stats);
    Py_XDECREF(figures);
    return stats;
}

static PyObject *own_stats(PyObject *op, PyObject *unused) {
    (void)unused;
    ZxAllocator *self = ZxAllocator_CAST(op);
    size_t bytes = 0;
    for (ZxBlock *b = self->live; b != NULL; b = b->next) bytes += b->len;
    return Py_BuildValue("{s:n,s:n}", "live", self->nlive, "live_bytes", (Py_ssize_t)bytes);
}

PyObject *zx_allocator_stats(PyObject *op, PyObject *unused) { return zx_stats_with_figures(op, unused, own_stats); }

/* _repr_html_: Jupyter shows an allocator as its memory map (zheap.viz). */
PyObject *zx_repr_html(PyObject *op, PyObject *unused) {
    (void)unused;
    PyObject *viz = PyImport_ImportModule("zheap.viz");
    PyObject *html = viz ? PyObject_CallMethod(viz, "html", "O", op) : NULL;
    Py_XDECREF(viz);
    return html;
}

const char zx_layout_doc[] =
    "layout($self, /)\n--\n\n"
    "The allocator's memory right now, from its own structures: a dict with\n"
    "``allocator`` (the type name) and ``regions``, each a dict of ``kind``,\n"
    "``address``, ``size``, ``used`` (bytes in use from its start),\n"
    "``size_class`` where it has one, and ``blocks`` by address, each with\n"
    "``address``, ``length``, ``state`` (live, free, freed, padding, metadata),\n"
    "``size_class`` where known, and ``next`` for a free item whose list order\n"
    "the allocator follows (1: reused next). A wrapper shows its child's regions with\n"
    "its own blocks in them. See docs/teaching.md.";

const char zx_stats_doc[] =
    "stats($self, /)\n--\n\n"
    "A dict: ``live`` and ``live_bytes`` (blocks handed out through Python),\n"
    "and the figures of layout(): ``requested``, ``reserved``, ``overhead``,\n"
    "``utilisation`` and ``largest_free_run``.";

/* A list of sizes, for stats(). */
PyObject *zx_size_list(const size_t *v, size_t n) {
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; l != NULL && i < n; i++) {
        PyObject *x = PyLong_FromSize_t(v[i]);
        if (x == NULL) Py_CLEAR(l);
        else PyList_SET_ITEM(l, (Py_ssize_t)i, x);
    }
    return l;
}
