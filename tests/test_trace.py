"""zheap.trace / EventTrace / replay: record, export, load, replay."""

import io

import pytest

import zheap
from zheap import tracing


def test_trace_records_nested_child_events():
    arena = zheap.ArenaAllocator()
    with zheap.trace(arena) as t:
        v = arena.alloc(100)  # the first chunk comes from the page allocator
        address = zheap.address_of(v)
        arena.free(v)
        arena.reset("free_all")
    assert t.allocators == ["0=ArenaAllocator", "1=PageAllocator"]
    ops = [(e.depth, e.allocator, e.op) for e in t.events]
    assert ops[0] == (0, "0=ArenaAllocator", "alloc")
    assert ops[1] == (1, "1=PageAllocator", "alloc")
    assert (0, "0=ArenaAllocator", "reset") in ops
    reset = ops.index((0, "0=ArenaAllocator", "reset"))
    assert ops[reset + 1] == (1, "1=PageAllocator", "free")  # the chunk goes back
    first = t.events[0]
    assert first.length == 100 and first.result == address
    line = test_trace_records_nested_child_events.__code__.co_firstlineno + 3
    assert first.where.endswith(f"test_trace.py:{line}")
    assert t.events[reset].mode == "free_all"
    assert [e.seq for e in t.events] == list(range(len(t.events)))


def test_trace_stops_on_exit_and_refuses_double_tracing():
    c = zheap.ThreadSafeAllocator(zheap.c_allocator)
    with zheap.trace(c) as t:
        with pytest.raises(RuntimeError, match="traced already"):
            zheap.trace(c)
        v = c.alloc(8)
        assert len(t.events) == 2  # readable while recording: ts alloc + c_allocator alloc
    c.free(v)
    assert len(t.events) == 2
    with zheap.trace(c) as again:  # a new trace can start
        pass
    assert again.events == []
    with pytest.raises(TypeError):
        zheap.trace(object())


def test_failures_and_resize_results_are_recorded():
    f = zheap.FixedBufferAllocator(64)
    with zheap.trace(f) as t:
        a = f.alloc(32)
        with pytest.raises(MemoryError):
            f.alloc(64)
        a = f.resize(a, 40)
        assert a is not None
        b = f.alloc(8)
        b_address = zheap.address_of(b)
        assert f.resize(a, 48) is None  # not the last block any more
        f.free(b)
    alloc, failed, grown, _, refused, free = t.events
    assert failed.op == "alloc" and failed.result is None and failed.failed
    assert grown.op == "resize" and grown.result is True and grown.new_length == 40
    assert refused.result is False and refused.failed
    assert free.op == "free" and free.address == b_address
    assert t.outcomes() == ["ok", "fail", "ok", "ok", "fail", "ok"]


def record_session(allocator):
    with zheap.trace(allocator) as t:
        views = [allocator.alloc(n) for n in (16, 200, 3000, 24)]
        allocator.free(views[1])
        views[2] = allocator.remap(views[2], 5000) or views[2]
        grown = allocator.resize(views[0], 8)
        if grown is not None:
            views[0] = grown
        allocator.free(views[3])
    return t, [v for i, v in enumerate(views) if i not in (1, 3)]


@pytest.mark.parametrize(
    "factory",
    [zheap.ArenaAllocator, zheap.DebugAllocator, lambda: zheap.FixedBufferAllocator(1 << 16),
     zheap.SmpAllocator, lambda: zheap.WasmAllocator(max_pages=64)],
)  # fmt: skip
def test_record_export_load_replay_reproduces_the_results(factory):
    original = factory()
    t, live = record_session(original)
    text = t.dumps()
    assert text.startswith("# zheap trace 1\n")
    loaded = zheap.tracing.loads(text)
    assert loaded.events == t.events
    buf = io.StringIO()
    t.dump(buf)
    buf.seek(0)
    assert tracing.load(buf).events == t.events
    fresh = factory()
    assert zheap.replay(loaded, fresh) == t.outcomes()
    for v in live:
        original.free(v)


@pytest.mark.parametrize(
    "other",
    [zheap.ArenaAllocator, lambda: zheap.MemoryPool(32), lambda: zheap.c_allocator,
     zheap.SmpAllocator, lambda: zheap.FixedBufferAllocator(64)],
)  # fmt: skip
def test_replay_on_another_type_runs(other):
    arena = zheap.ArenaAllocator()
    t, _ = record_session(arena)
    with zheap.trace(arena) as t2:
        arena.reset("retain_with_limit", 100)
        arena.deinit()
    combined = zheap.EventTrace(t.events + t2.events, t.allocators)
    outcomes = zheap.replay(combined, other())
    assert len(outcomes) == len(combined.top_level())
    assert set(outcomes) <= {"ok", "fail", "same", "moved", "skipped"}


def test_pool_trace_records_create_and_replays_it():
    pool = zheap.MemoryPool(24)
    with zheap.trace(pool) as t:
        a, _ = pool.create(), pool.create()
        pool.destroy(a)
        pool.reset()
    assert [e.op for e in t.top_level()] == ["create", "create", "free", "reset"]
    assert t.top_level()[0].length == 24
    assert zheap.replay(t, zheap.MemoryPool(24)) == t.outcomes() == ["ok", "ok", "ok", "ok"]
    assert zheap.replay(t, zheap.c_allocator) == ["ok", "ok", "ok", "ok"]


def test_loads_rejects_garbage():
    with pytest.raises(ValueError, match="not a zheap trace"):
        tracing.loads("alloc 1 2\n")
    with pytest.raises(ValueError, match="line 3"):
        tracing.loads("# zheap trace 1\n# allocators: 0=X\nalloc @0 len=zz\n")


def test_trace_repr_and_format():
    a = zheap.ArenaAllocator()
    with zheap.trace(a) as t:
        assert "recording" in repr(t)
        a.alloc(10)
    assert "events=2" in repr(t)
    line = t.events[0].format()
    assert line.startswith("alloc @0 len=10 align=1 -> 0x")
    assert t.events[1].format().startswith(". alloc @1 ")
