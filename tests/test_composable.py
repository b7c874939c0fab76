"""FixedBufferAllocator and ArenaAllocator: Zig's tests and the bulk-invalidation rules."""

import random
import struct
import threading

import pytest

import zheap

# --- FixedBufferAllocator ------------------------------------------------------


def test_fba_reset():
    fba = zheap.FixedBufferAllocator(8)
    x = fba.alloc(8, 1)
    struct.pack_into("Q", x, 0, 0xEEEEEEEEEEEEEEEE)
    with pytest.raises(MemoryError):
        fba.alloc(8, 1)
    addr = zheap.address_of(x)
    fba.reset()
    with pytest.raises(ValueError):
        x[0]  # invalidated by reset
    y = fba.alloc(8, 1)
    assert zheap.address_of(y) == addr


def test_fba_reuse_memory_on_realloc():
    fba = zheap.FixedBufferAllocator(10)
    a = fba.alloc(5)
    addr = zheap.address_of(a)
    b = fba.realloc(a, 10)
    assert zheap.address_of(b) == addr and len(b) == 10
    with pytest.raises(MemoryError):
        fba.realloc(b, 11)
    assert len(b) == 10  # still valid

    fba = zheap.FixedBufferAllocator(10)
    s1 = fba.alloc(2)
    s1[:] = b"\x01\x02"
    s2 = fba.alloc(2)
    s3 = fba.realloc(s1, 4)
    assert zheap.address_of(s3) not in (zheap.address_of(s2),)
    assert s3[:2].tobytes() == b"\x01\x02"


def test_fba_last_allocation_rules():
    buf = bytearray(64)
    fba = zheap.FixedBufferAllocator(buf)
    p = fba.alloc(10)
    q = fba.alloc(10)
    assert not fba.is_last_allocation(p) and fba.is_last_allocation(q)
    assert fba.owns(p) and not fba.owns(memoryview(bytearray(4)))
    p = fba.resize(p, 5)  # a non-last shrink "succeeds" without reclaiming
    assert p is not None and fba.end_index == 20
    assert fba.resize(p, 6) is None  # a non-last grow fails
    fba.free(p)  # accepted; reclaims nothing
    assert fba.end_index == 20
    q = fba.resize(q, 54)
    assert q is not None and fba.end_index == 64
    fba.free(q)
    assert fba.end_index == 10
    assert fba.stats().items() >= {"capacity": 64, "end_index": 10, "free": 54, "live": 0}.items()
    # The 10 bytes below end_index are a hole the buffer cannot reuse.
    assert fba.stats()["largest_free_run"] == 54


def test_fba_holds_an_export_on_its_buffer():
    buf = bytearray(32)
    fba = zheap.FixedBufferAllocator(buf)
    with pytest.raises(BufferError):
        buf.extend(b"x")  # bytearray refuses to resize while exported
    v = fba.alloc(4)
    v[:] = b"abcd"
    assert buf[:4] == b"abcd"
    fba.free(v)
    del fba, v
    buf.extend(b"x")


def test_fba_bad_buffers():
    # a read-only or non-contiguous buffer is a wrong argument, as for socket.recv_into or
    # ctypes' from_buffer: TypeError
    with pytest.raises(TypeError, match="writable, C-contiguous buffer is required, not bytes"):
        zheap.FixedBufferAllocator(b"read-only")
    with pytest.raises(TypeError, match="read-only memoryview"):
        zheap.FixedBufferAllocator(memoryview(bytearray(8)).toreadonly())
    with pytest.raises(TypeError, match="non-contiguous memoryview"):
        zheap.FixedBufferAllocator(memoryview(bytearray(8))[::2])
    with pytest.raises(ValueError):
        zheap.FixedBufferAllocator(-1)
    with pytest.raises(TypeError):
        zheap.FixedBufferAllocator("text")
    empty = zheap.FixedBufferAllocator(0)
    with pytest.raises(MemoryError):
        empty.alloc(1)


def test_fba_over_a_zheap_view_pins_nothing_but_holds_the_view():
    outer = zheap.c_allocator.alloc(256)
    fba = zheap.FixedBufferAllocator(outer)
    with pytest.raises(BufferError):
        zheap.c_allocator.free(outer)  # the FBA exports it
    del fba
    zheap.c_allocator.free(outer)


def test_fba_thread_safe_allocator_threads():
    fba = zheap.FixedBufferAllocator(1 << 20)
    ts = fba.thread_safe_allocator()
    views: list[list[memoryview]] = [[] for _ in range(4)]

    def work(k):
        for _ in range(500):
            v = ts.alloc(64, 8)
            v[:] = bytes([k]) * 64
            views[k].append(v)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spans = sorted((zheap.address_of(v), k) for k, vs in enumerate(views) for v in vs)
    assert len(spans) == 2000
    for (a, _), (b, _) in zip(spans, spans[1:], strict=False):
        assert b - a >= 64
    for k, vs in enumerate(views):
        assert all(v.tobytes() == bytes([k]) * 64 for v in vs)
    assert ts.resize(views[0][0], 8) is None and ts.remap(views[0][0], 8) is None
    s = views[1][0][:8]
    with pytest.raises(BufferError):
        fba.reset()  # a slice of an interface view is alive: nothing changes
    assert views[1][0].tobytes() == bytes([1]) * 64
    s.release()
    for v in views[0]:
        ts.free(v)  # a no-op through this interface, but the views go stale
    with pytest.raises(ValueError):
        views[0][0].tobytes()
    # The interface is the same buffer, not a child: reset() invalidates its views too.
    fba.reset()
    assert ts.live == 0 and fba.end_index == 0
    with pytest.raises(ValueError):
        views[1][0].tobytes()


# --- ArenaAllocator -------------------------------------------------------------


def test_arena_reset_with_preheating():
    arena = zheap.ArenaAllocator(zheap.c_allocator)
    rng = random.Random(1234)
    for _ in range(25):
        assert arena.reset("retain_capacity")
        assert arena.stats()["chunks"] <= 1
        total, done = rng.randint(256, 16384), 0
        while done < total:
            size = rng.randint(16, 256)
            v = arena.alloc(size, 32)
            assert zheap.address_of(v) % 32 == 0 and len(v) == size
            done += size
    arena.deinit()


def test_arena_reset_while_retaining_a_buffer():
    arena = zheap.ArenaAllocator(zheap.c_allocator)
    arena.alloc(1)
    arena.alloc(1000)
    assert arena.stats()["chunks"] == 2
    assert arena.reset("retain_with_limit", limit=1)
    assert arena.stats()["chunks"] == 1 and arena.query_capacity() == 1
    arena.deinit()


def test_arena_capacity_never_shrinks_on_retain_capacity():
    arena = zheap.ArenaAllocator()
    for n in (10, 1000, 100000):
        arena.alloc(n)
    cap = arena.query_capacity()
    assert arena.reset()  # default mode: retain_capacity
    assert arena.query_capacity() == cap
    assert arena.reset("free_all") and arena.query_capacity() == 0


def test_arena_reset_invalidates_every_view_or_changes_nothing():
    arena = zheap.ArenaAllocator()
    views = [arena.alloc(16) for _ in range(5)]
    for i, v in enumerate(views):
        v[:] = bytes([i]) * 16
    piece = views[3][2:4]
    with pytest.raises(BufferError):
        arena.reset()
    with pytest.raises(BufferError):
        arena.deinit()
    assert [v.tobytes() for v in views] == [bytes([i]) * 16 for i in range(5)]
    assert arena.live == 5
    piece.release()
    assert arena.reset()
    assert arena.live == 0
    for v in views:
        with pytest.raises(ValueError):
            v.tobytes()
        with pytest.raises(ValueError, match="reset"):
            arena.free(v)


def test_arena_free_of_a_non_latest_block_is_a_no_op_that_invalidates():
    arena = zheap.ArenaAllocator()
    a = arena.alloc(10)
    b = arena.alloc(10)
    end = arena.stats()["end_index"]
    arena.free(a)
    assert arena.stats()["end_index"] == end
    with pytest.raises(ValueError):
        a[0]
    arena.free(b)
    assert arena.stats()["end_index"] == end - 10


def test_arena_deinit_and_with():
    with zheap.ArenaAllocator(zheap.c_allocator) as arena:
        v = arena.alloc(10)
    assert "deinitialized" in repr(arena)
    with pytest.raises(ValueError):
        v[0]
    with pytest.raises(ValueError, match="deinitialized"):
        arena.alloc(1)
    with pytest.raises(ValueError, match="deinitialized"):
        arena.reset()
    arena.deinit()  # a second deinit does nothing


def test_arena_pins_its_child():
    fba = zheap.FixedBufferAllocator(1 << 16)
    arena = zheap.ArenaAllocator(fba)
    arena.alloc(100)
    with pytest.raises(BufferError, match="draws memory"):
        fba.reset()
    arena.deinit()
    fba.reset()
    assert fba.end_index == 0


def test_arena_over_exhausted_fba_is_memory_error():
    arena = zheap.ArenaAllocator(zheap.FixedBufferAllocator(256))
    with pytest.raises(MemoryError):
        arena.alloc(1000)
    assert arena.live == 0
    assert len(arena.alloc(16)) == 16


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"mode": "bogus"}, ValueError),
        ({"mode": "retain_with_limit"}, ValueError),
        ({"mode": "free_all", "limit": 3}, ValueError),
        ({"mode": "retain_with_limit", "limit": -1}, ValueError),
        ({"mode": "retain_with_limit", "limit": "3"}, TypeError),
        ({"mode": 3}, TypeError),
    ],
)
def test_arena_bad_reset_arguments(kwargs, exc):
    arena = zheap.ArenaAllocator()
    v = arena.alloc(8)
    with pytest.raises(exc):
        arena.reset(**kwargs)
    assert v.obj.state == "live"
    arena.free(v)


def test_arena_bad_child():
    with pytest.raises(TypeError):
        zheap.ArenaAllocator(object())
