"""StackFallbackAllocator and ThreadSafeAllocator: routing, Zig's get() guard, threads."""

import gc
import random
import sys
import threading
import weakref

import pytest

import zheap

# --- StackFallbackAllocator -------------------------------------------------------


def test_stack_fallback_routing():
    # The layout shows c_allocator's blocks, which are the process's: collect the views
    # earlier tests dropped in cycles, so that only this test's blocks are counted.
    gc.collect()
    sfa = zheap.stack_fallback(64, zheap.c_allocator)
    assert isinstance(sfa, zheap.StackFallbackAllocator) and sfa.size == 64
    assert sfa.fallback_allocator is zheap.c_allocator and not sfa.get_called
    assert sfa.stats() == {"size": 64, "end_index": 0, "get_called": False}
    a = sfa.get()
    assert sfa.get_called and a.stack_fallback is sfa
    p = a.alloc(48)
    q = a.alloc(32)  # does not fit in what is left: the fallback serves it
    assert a.in_buffer(p) and not a.in_buffer(q)
    assert (
        a.stats().items()
        >= {
            "buffer_size": 64,
            "end_index": 48,
            "live": 2,
            "in_buffer": 1,
            "in_fallback": 1,
            "requested": 80,
        }.items()
    )
    # The buffer block grows in place as the last allocation...
    p = a.resize(p, 64)
    assert p is not None and a.stats()["end_index"] == 64
    # ...never migrates through remap, and realloc copies it to the fallback.
    assert a.remap(p, 65) is None
    p[:] = bytes(range(64))
    r = a.realloc(p, 100)
    assert not a.in_buffer(r) and r[:64].tobytes() == bytes(range(64))
    assert a.stats()["end_index"] == 0  # the buffer block was the last one: reclaimed
    a.free(q)
    a.free(r)
    assert a.live == 0


def test_stack_fallback_get_twice_is_zig_panic():
    sfa = zheap.StackFallbackAllocator(128, zheap.c_allocator)
    a = sfa.get()
    v = a.alloc(16)
    with pytest.raises(zheap.ZigPanic, match="twice"):
        sfa.get()
    v[:] = b"still mine here!"  # the guard kept the buffer intact
    assert v.tobytes() == b"still mine here!"
    a.free(v)


def test_stack_fallback_keeps_buffer_and_pins_fallback():
    arena = zheap.ArenaAllocator()
    a = zheap.stack_fallback(16, arena).get()
    del arena
    big = a.alloc(1000)  # from the arena
    with pytest.raises(BufferError, match="draw"):
        a.stack_fallback.fallback_allocator.reset()
    a.free(big)
    assert "StackFallbackAllocator.get()" in repr(a) and "size=16" in repr(a)


def test_stack_fallback_bad_arguments():
    with pytest.raises(TypeError):
        zheap.StackFallbackAllocator(16, object())
    with pytest.raises(ValueError):
        zheap.StackFallbackAllocator(-1, zheap.c_allocator)
    with pytest.raises(TypeError):
        zheap.StackFallbackAllocator("16", zheap.c_allocator)
    with pytest.raises(TypeError):
        zheap.StackFallbackAllocator(16)
    with pytest.raises(TypeError):
        zheap.StackFallbackInterface()
    arena = zheap.ArenaAllocator()
    sfa = zheap.StackFallbackAllocator(16, arena)
    arena.deinit()
    with pytest.raises(ValueError, match="deinitialized"):
        sfa.get()
    assert not sfa.get_called  # the failed get() changed nothing


def test_stack_fallback_takes_weak_references_and_says_why_it_has_no_memory():
    sfa = zheap.StackFallbackAllocator(64, zheap.c_allocator)
    called = []
    ref = weakref.ref(sfa, lambda _: called.append(True))
    a = sfa.get()
    a.free(a.alloc(8))
    assert ref() is sfa
    del a, sfa
    gc.collect()
    assert ref() is None and called == [True]
    with pytest.raises(MemoryError, match=f"out of memory allocating its {1 << 62}-byte"):
        zheap.StackFallbackAllocator(1 << 62, zheap.c_allocator)  # beyond any address space


def test_stack_fallback_alignment_follows_fallback():
    a = zheap.stack_fallback(256, zheap.raw_c_allocator).get()
    assert a.max_alignment == zheap.raw_c_max_alignment
    with pytest.raises(ValueError, match="alignments up to"):
        a.alloc(8, 2 * zheap.raw_c_max_alignment)


# --- ThreadSafeAllocator ------------------------------------------------------------


def test_thread_safe_forwards_everything():
    arena = zheap.ArenaAllocator()
    ts = zheap.ThreadSafeAllocator(arena)
    assert ts.child_allocator is arena
    v = ts.alloc(100)
    v = ts.resize(v, 50)  # the arena's in-place rule shows through
    assert v is not None and arena.stats()["end_index"] == 50
    ts.free(v)
    assert arena.stats()["end_index"] == 0
    assert ts.stats().items() >= {"live": 0, "locked": False, "requested": 0}.items()
    with pytest.raises(BufferError):
        arena.reset()  # pinned while the wrapper lives
    assert "ThreadSafeAllocator" in repr(ts)


def test_thread_safe_bad_arguments():
    with pytest.raises(TypeError):
        zheap.ThreadSafeAllocator()
    with pytest.raises(TypeError):
        zheap.ThreadSafeAllocator(bytearray(10))
    assert (
        zheap.ThreadSafeAllocator(zheap.raw_c_allocator).max_alignment == zheap.raw_c_max_alignment
    )


def _hammer(allocator, n_threads=4, rounds=400, frees=True):
    """Threads allocate, fill, verify and free; returns the first problem or None."""
    errors = []
    start = threading.Barrier(n_threads)

    def work(seed):
        rng = random.Random(seed)
        mine = []
        start.wait()
        try:
            for _ in range(rounds):
                if mine and rng.random() < 0.4:
                    view, tag = mine.pop(rng.randrange(len(mine)))
                    if view.tobytes() != bytes([tag]) * len(view):
                        errors.append(f"thread {seed}: block corrupted")
                    if frees:
                        allocator.free(view)
                    continue
                try:
                    view = allocator.alloc(rng.randint(1, 512), 1 << rng.randint(0, 4))
                except MemoryError:
                    continue
                tag = (seed * 37 + len(mine)) % 255 + 1
                view[:] = bytes([tag]) * len(view)
                mine.append((view, tag))
            for view, tag in mine:
                if view.tobytes() != bytes([tag]) * len(view):
                    errors.append(f"thread {seed}: block corrupted")
                if frees:
                    allocator.free(view)
        except Exception as exc:  # noqa: BLE001 -- report, don't lose, a thread's failure
            errors.append(f"thread {seed}: {exc!r}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.parametrize(
    "factory",
    [
        lambda: zheap.ThreadSafeAllocator(zheap.ArenaAllocator()),
        lambda: zheap.ThreadSafeAllocator(zheap.FixedBufferAllocator(4 << 20)),
        lambda: zheap.ThreadSafeAllocator(zheap.c_allocator),
    ],
    ids=["arena", "fixed-buffer", "c_allocator"],
)
def test_thread_safe_under_python_threads(factory):
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    try:
        ts = factory()
        assert _hammer(ts) == []
        assert ts.live == 0
    finally:
        sys.setswitchinterval(old)


def test_fba_thread_safe_interface_under_python_threads():
    fba = zheap.FixedBufferAllocator(4 << 20)
    ts = fba.thread_safe_allocator()
    assert _hammer(ts, frees=False) == []
    assert fba.end_index <= fba.capacity
    stats = ts.stats()
    assert stats["end_index"] == fba.end_index and stats["capacity"] == 4 << 20
    assert stats["live"] == ts.live and fba.live == 0  # blocks belong to the interface
