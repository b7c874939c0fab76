/* layout.h -- layouts in C, and their dicts (layout.c). */
#ifndef ZHEAP_EXT_LAYOUT_H
#define ZHEAP_EXT_LAYOUT_H

#include "state.h"

/* layout.c: layouts gathered in C (no Python objects: visitors run under
 * the core's locks), then turned into layout() dicts. */
typedef struct zx_lregion {
    const char *kind;
    uintptr_t addr;
    size_t size, used, size_class; /* size_class 0: none */
} zx_lregion;
typedef struct zx_litem {
    const char *state; /* live, free, freed, padding, metadata */
    uintptr_t addr;
    size_t len, size_class;
    size_t order; /* a free item's place in its free list, 1 = reused next; 0: none */
} zx_litem;
typedef struct zx_layout {
    zx_lregion *r;
    size_t nr, cr;
    zx_litem *it;
    size_t ni, ci;
    int oom; /* -1 once an append failed: finish raises MemoryError */
    bool orders; /* keep a free item's list order (`next`): where reuse follows one list */
} zx_layout;
int zx_lay_region(zx_layout *l, const char *kind, uintptr_t addr, size_t size, size_t used, size_t size_class);
int zx_lay_item(zx_layout *l, const char *state, uintptr_t addr, size_t len, size_t size_class);
int zx_lay_visit(void *user, const zh_visit_item *it);
void zx_lay_merge_regions(zx_layout *l);
int zx_lay_live(zx_layout *l, ZxAllocator *owner, size_t (*footprint)(const ZxBlock *b, size_t *size_class));
void zx_lay_free(zx_layout *l);
int zx_litem_by_address(const void *a, const void *b);
size_t zx_lay_first_item(const zx_layout *l, uintptr_t addr);
PyObject *zx_lay_finish(zx_layout *l, PyObject *self);
PyObject *zx_generic_layout(PyObject *op);
PyObject *zx_merge_into_child(ZxAllocator *self, zx_layout *lead);
int zx_lay_parse(PyObject *layout, zx_layout *l);
PyObject *zx_layout_figures(PyObject *layout);
PyObject *zx_stats_with_figures(PyObject *self, PyObject *unused, PyObject *(*own)(PyObject *, PyObject *));
PyObject *zx_allocator_stats(PyObject *op, PyObject *unused);
/* NAME_with_figures: a type's stats method NAME, plus the layout figures. */
#define ZX_STATS_WITH_FIGURES(name)                                           \
    static PyObject *name##_with_figures(PyObject *op, PyObject *unused) {   \
        return zx_stats_with_figures(op, unused, name);                      \
    }
PyObject *zx_repr_html(PyObject *op, PyObject *unused);
extern const char zx_layout_doc[], zx_stats_doc[];

PyObject *zx_size_list(const size_t *v, size_t n);

#endif
