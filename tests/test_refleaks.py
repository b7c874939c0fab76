"""Reference leaks in the binding: every path, success and error, run many times.

A leaked reference keeps its object alive, so Python-level memory grows with the
number of iterations. tracemalloc measures that growth (it sees the object
allocations of the interpreter, not the allocators' own C memory, which is freed).
"""

import ctypes
import gc
import tracemalloc

import pytest
from allocators import ALLOCATORS

import zheap


def _exercise(a):
    if hasattr(a, "reset"):
        a.reset()  # bump allocators reclaim only the last block: start from empty
    v = a.alloc(64, 8)
    s = v[:4]
    for op in (a.free, lambda x: a.realloc(x, 128)):
        try:
            op(v)
        except BufferError:
            pass
    s.release()
    v = a.realloc(v, 4096)
    r = a.resize(v, 16)
    v = r if r is not None else v
    m = a.remap(v, 32)
    v = m if m is not None else v
    a.free(v)
    for bad in (
        lambda: a.free(v),
        lambda: a.alloc(-1),
        lambda: a.alloc(8, 3),
        lambda: a.alloc("x"),
        lambda: a.free(memoryview(b"ab")),
        lambda: a.free(3),
    ):
        try:
            bad()
        except (ValueError, TypeError):
            pass
    e = a.resize(a.alloc(8), 0)
    a.free(e)
    d = a.dupe(b"hello")
    a.free(d)
    obj = a.create(ctypes.c_int64)
    a.destroy(obj)
    del obj


def _growth(exercise, obj):
    """Python memory growth over two batches of 3000 rounds, after a warm-up."""
    for _ in range(200):  # warm caches, interned strings, free lists
        exercise(obj)
    gc.collect()
    tracemalloc.start()
    try:
        growth = []
        for _ in range(2):
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(3000):
                exercise(obj)
            gc.collect()
            growth.append(tracemalloc.get_traced_memory()[0] - before)
    finally:
        tracemalloc.stop()
    return growth


@pytest.mark.parametrize(
    ("name", "factory"), [(n, f) for n, f, _ in ALLOCATORS], ids=[n for n, _, _ in ALLOCATORS]
)
def test_no_reference_leaks(name, factory):
    a = factory()
    if "thread_safe" in name:
        pytest.skip("its free is a no-op: the buffer fills up; the plain FBA covers the paths")
    growth = _growth(_exercise, a)
    # A leaked reference keeps a block, a view or an exception alive on every
    # round: >= 3000 * 64 bytes per batch. Unrelated one-off growth (dicts
    # resizing elsewhere) does not repeat in both batches.
    assert min(growth) < 64 * 1024, f"{name}: Python memory grew by {growth} bytes per 3000 rounds"
    assert a.live == 0 or a is zheap.page_allocator


def _exercise_pool(pool):
    v = pool.create()
    s = v[:2]
    for op in (pool.destroy, lambda _: pool.reset()):
        try:
            op(v)
        except BufferError:
            pass
    s.release()
    pool.destroy(v)
    for bad in (
        lambda: pool.destroy(v),
        lambda: pool.destroy(memoryview(b"ab")),
        lambda: pool.destroy(3),
        lambda: pool.preheat(-1),
        lambda: pool.reset("bogus"),
    ):
        try:
            bad()
        except (ValueError, TypeError):
            pass
    pool.preheat(2)
    w = pool.create()
    pool.reset("retain_with_limit", 4096)
    del w
    pool.stats()


@pytest.mark.parametrize(
    "factory",
    [
        lambda: zheap.MemoryPool(24),
        lambda: zheap.MemoryPoolAligned(8, 64, child=zheap.ArenaAllocator()),
    ],
    ids=["MemoryPool", "MemoryPoolAligned over arena"],
)
def test_pool_no_reference_leaks(factory):
    pool = factory()
    growth = _growth(_exercise_pool, pool)
    assert min(growth) < 64 * 1024, f"Python memory grew by {growth} bytes per 3000 rounds"
    assert pool.live == 0


def _exercise_teaching(a):
    make = getattr(a, "alloc", None)
    v = make(64, 8) if make else a.create()
    a.layout()
    a.stats()
    with zheap.trace(a) as t:
        w = make(200) if make else a.create()
        (a.free if make else a.destroy)(w)
    t.events  # noqa: B018 -- turns the C records into Event tuples
    (a.free if make else a.destroy)(v)
    try:
        zheap.trace(3)
    except TypeError:
        pass


@pytest.mark.parametrize(
    "factory",
    [
        zheap.ArenaAllocator,
        lambda: zheap.DebugAllocator(page_size=4096),
        zheap.SmpAllocator,
        lambda: zheap.WasmAllocator(max_pages=64),
        lambda: zheap.MemoryPool(24),
        lambda: zheap.ThreadSafeAllocator(zheap.ArenaAllocator()),
        lambda: zheap.stack_fallback(256, zheap.c_allocator).get(),
        zheap.PageAllocator,
    ],
    ids=["arena", "debug", "smp", "wasm", "pool", "thread-safe", "stack-fallback", "page"],
)
def test_layout_stats_trace_no_reference_leaks(factory):
    a = factory()
    growth = _growth(_exercise_teaching, a)
    assert min(growth) < 64 * 1024, f"Python memory grew by {growth} bytes per 3000 rounds"
    assert a.live == 0
