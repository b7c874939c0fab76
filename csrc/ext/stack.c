/* stack.c -- one operation at a time on an allocator stack, and no C lock
 * while Python code runs.
 *
 * An operation on allocator X marks X and every allocator X draws from
 * (its child, the child's child...) as busy with the calling thread, all or
 * nothing, before its act, and clears the marks after. Python code can run
 * inside an act only in an allocator written in Python (or a Python sbrk):
 * the trampolines clear this thread's "in act" flag around that code, so
 *  - the same thread coming back into a marked stack from Python code is
 *    re-entrant use: RuntimeError, like a generator's "already executing",
 *    and nothing changed;
 *  - another thread finding a mark waits, with the GIL released, until the
 *    operation ends (a Python-written allocator may let the GIL go mid-call;
 *    the GIL alone does not serialise whole operations);
 *  - the operation's own C path coming back down through a wrapper (the
 *    tap, a ThreadSafeAllocator's child call) passes: it is the same act.
 * Stacks that need the GIL (needs_gil) are never guarded by a C mutex: a
 * thread holding one while it waits for the GIL deadlocks against a thread
 * holding the GIL while it waits for the mutex. C callers reach them through
 * gil_iface, which takes the GIL and the marks instead. */
#include "stack.h"

#include "pythread.h"

/* This thread is running the C part of an operation (not Python code).
 * initial-exec: in a shared object the default TLS model calls
 * __tls_get_addr on every access, and this is read on every operation. */
static _Thread_local int in_act __attribute__((tls_model("initial-exec")));

static ZxAllocator *next_of(ZxAllocator *a) { return a->child ? ZxAllocator_CAST(a->child) : NULL; }

/* The first allocator of the stack marked by someone, or NULL. */
static ZxAllocator *first_busy(ZxAllocator *self) {
    for (ZxAllocator *a = self; a != NULL; a = next_of(a))
        if (a->busy_thread != 0) return a;
    return NULL;
}

static int reentered(ZxAllocator *self, ZxAllocator *busy) {
    if (PyErr_Occurred()) return -1; /* a C caller going on after an error: keep that one */
    if (busy == self)
        PyErr_Format(PyExc_RuntimeError,
                     "%.100s is in the middle of an operation: Python code running inside it (an allocator "
                     "written in Python, a finalizer) cannot use it until that operation returns",
                     Py_TYPE(self)->tp_name);
    else
        PyErr_Format(PyExc_RuntimeError,
                     "%.100s draws from %.100s, which is in the middle of an operation: Python code running "
                     "inside it cannot use the stack until that operation returns",
                     Py_TYPE(self)->tp_name, Py_TYPE(busy)->tp_name);
    return -1;
}

/* Wait for another thread's operation with the GIL released: spin a few
 * times, then sleep in short timed waits on a lock nobody releases (the
 * portable sleep the Python C API offers). */
static int wait_for_other_thread(int round) {
    static PyThread_type_lock never; /* made under the GIL, then only waited on */
    if (round >= 64 && never == NULL) {
        never = PyThread_allocate_lock();
        if (never != NULL) PyThread_acquire_lock(never, WAIT_LOCK);
    }
    PyThread_type_lock sleeper = round >= 64 ? never : NULL;
    Py_BEGIN_ALLOW_THREADS
    if (sleeper != NULL) (void)PyThread_acquire_lock_timed(sleeper, round < 256 ? 20 : 500, 0);
    Py_END_ALLOW_THREADS
    /* Ctrl-C while waiting: the operation raises and nothing changed. */
    return PyErr_CheckSignals();
}

/* Who waits for whom (under the GIL): a thread waiting for an allocator
 * whose holder waits, through such a chain, for this thread would wait
 * forever. Python code of two stacks' operations calling into each other's
 * stack from two threads is the way there; it gets RuntimeError instead. */
#define ZX_MAX_WAITERS 64
static struct {
    unsigned long thread;
    ZxAllocator *on;
} waiters[ZX_MAX_WAITERS];

static ZxAllocator *waits_on(unsigned long thread) {
    for (size_t i = 0; i < ZX_MAX_WAITERS; i++)
        if (waiters[i].thread == thread) return waiters[i].on;
    return NULL;
}

static bool would_deadlock(unsigned long me, ZxAllocator *busy) {
    for (int hops = 0; busy != NULL && hops < ZX_MAX_WAITERS; hops++) {
        unsigned long holder = busy->busy_thread;
        if (holder == me) return true;
        busy = holder != 0 ? waits_on(holder) : NULL;
    }
    return false;
}

/* Record that `me` waits for `on` (NULL: no longer waits). Past
 * ZX_MAX_WAITERS waiting threads, a wait goes unrecorded (and undetected). */
static void set_waiting(unsigned long me, ZxAllocator *on) {
    size_t free_slot = ZX_MAX_WAITERS;
    for (size_t i = 0; i < ZX_MAX_WAITERS; i++) {
        if (waiters[i].thread == me) {
            waiters[i].thread = on != NULL ? me : 0;
            waiters[i].on = on;
            return;
        }
        if (waiters[i].thread == 0 && free_slot == ZX_MAX_WAITERS) free_slot = i;
    }
    if (on != NULL && free_slot < ZX_MAX_WAITERS) {
        waiters[free_slot].thread = me;
        waiters[free_slot].on = on;
    }
}

int zx_stack_begin(ZxAllocator *self, bool nested_ok, zx_mark *m) {
    unsigned long me = PyThread_get_thread_ident();
    m->marked = false;
    m->saved_in_act = in_act;
    for (int round = 0;; round++) {
        ZxAllocator *busy = first_busy(self);
        if (busy == NULL) break;
        if (busy->busy_thread == me) {
            if (round > 0) set_waiting(me, NULL);
            if (nested_ok && in_act) return 0; /* the operation's own path down */
            return reentered(self, busy);
        }
        if (would_deadlock(me, busy)) {
            set_waiting(me, NULL);
            PyErr_Format(PyExc_RuntimeError,
                         "%.100s is in the middle of an operation of another thread, which waits for an "
                         "operation of this thread to end: waiting would never end",
                         Py_TYPE(busy)->tp_name);
            return -1;
        }
        set_waiting(me, busy);
        if (wait_for_other_thread(round) < 0) {
            set_waiting(me, NULL);
            return -1;
        }
        if (first_busy(self) == NULL) set_waiting(me, NULL); /* the wait is over */
    }
    for (ZxAllocator *a = self; a != NULL; a = next_of(a)) a->busy_thread = me;
    m->marked = true;
    in_act = 1;
    return 0;
}

void zx_stack_end(ZxAllocator *self, zx_mark *m) {
    if (!m->marked) return;
    for (ZxAllocator *a = self; a != NULL; a = next_of(a)) a->busy_thread = 0;
    m->marked = false;
    in_act = m->saved_in_act;
}

int zx_stack_idle(ZxAllocator *self) {
    zx_mark m;
    if (zx_stack_begin(self, false, &m) < 0) return -1;
    zx_stack_end(self, &m); /* marked and unmarked with no code between: only waited */
    return 0;
}

int zx_python_enter(void) {
    int saved = in_act;
    in_act = 0;
    return saved;
}

void zx_python_leave(int saved) { in_act = saved; }

/* --- C callers of a stack that needs the GIL --------------------------------------- */

/* Take the GIL and the marks (a no-op inside this thread's own operation).
 * Fails with an error pending: a C caller that goes on after an error must
 * not run Python code with it set. */
static int gil_lock(ZxAllocator *self, PyGILState_STATE *g, zx_mark *m) {
    *g = PyGILState_Ensure();
    if (PyErr_Occurred() || zx_stack_begin(self, true, m) < 0) {
        PyGILState_Release(*g);
        return -1;
    }
    return 0;
}

static void gil_unlock(ZxAllocator *self, PyGILState_STATE g, zx_mark *m) {
    zx_stack_end(self, m);
    PyGILState_Release(g);
}

static void *gil_alloc(void *ctx, size_t len, uint8_t al, uintptr_t ra) {
    ZxAllocator *self = ctx;
    PyGILState_STATE g;
    zx_mark m;
    if (gil_lock(self, &g, &m) < 0) return NULL;
    void *p = self->a.vtable->alloc(self->a.ctx, len, al, ra);
    gil_unlock(self, g, &m);
    return p;
}

static bool gil_resize(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    ZxAllocator *self = ctx;
    PyGILState_STATE g;
    zx_mark m;
    if (gil_lock(self, &g, &m) < 0) return false;
    bool ok = self->a.vtable->resize(self->a.ctx, mem, len, al, new_len, ra);
    gil_unlock(self, g, &m);
    return ok;
}

static void *gil_remap(void *ctx, void *mem, size_t len, uint8_t al, size_t new_len, uintptr_t ra) {
    ZxAllocator *self = ctx;
    PyGILState_STATE g;
    zx_mark m;
    if (gil_lock(self, &g, &m) < 0) return NULL;
    void *p = self->a.vtable->remap(self->a.ctx, mem, len, al, new_len, ra);
    gil_unlock(self, g, &m);
    return p;
}

static void gil_free(void *ctx, void *mem, size_t len, uint8_t al, uintptr_t ra) {
    ZxAllocator *self = ctx;
    PyGILState_STATE g;
    zx_mark m;
    /* A free cannot fail: wait for the marks even with an error pending. */
    g = PyGILState_Ensure();
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    if (zx_stack_begin(self, true, &m) == 0) {
        self->a.vtable->free(self->a.ctx, mem, len, al, ra);
        zx_stack_end(self, &m);
    } else {
        /* Re-entered from Python code inside an operation: the free would
         * corrupt the stack mid-operation. The block stays allocated (a
         * leak), and the caller learns why. */
        PyErr_WriteUnraisable((PyObject *)self);
    }
    if (et != NULL) {
        if (PyErr_Occurred()) PyErr_WriteUnraisable((PyObject *)self);
        PyErr_Restore(et, ev, tb);
    }
    PyGILState_Release(g);
}

const zh_allocator_vtable zx_gil_vtable = {gil_alloc, gil_resize, gil_remap, gil_free};

void zx_stack_init(ZxAllocator *self) {
    self->busy_thread = 0;
    self->needs_gil = false;
    self->gil_iface = (zh_allocator){self, &zx_gil_vtable};
    self->pending = NULL;
    self->npending = self->cpending = 0;
}
