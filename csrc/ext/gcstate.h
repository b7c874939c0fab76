/* gcstate.h -- whether a garbage collection is running (gcstate.c). */
#ifndef ZHEAP_EXT_GCSTATE_H
#define ZHEAP_EXT_GCSTATE_H

#include <stdbool.h>

/* True while CPython 3.11 runs a garbage collection (its finalizers and
 * weakref callbacks included), in any thread; always false on 3.12+, which
 * collects only between bytecodes. block.c says why it matters. */
bool zx_collecting(void);
/* Module exec: on 3.11, check that the interpreter's layout is the one built
 * against, else follow collections through gc.callbacks. -1 with an error. */
int zx_gcstate_init(void);

#endif
