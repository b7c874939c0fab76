"""The Python API of the foundation: views, the safety rules, error paths."""

import ctypes
import gc
import pickle

import pytest
from allocators import ALLOCATORS

import zheap

FACTORIES = [pytest.param(f, id=n) for n, f, _ in ALLOCATORS]


@pytest.fixture(params=FACTORIES)
def a(request):
    allocator = request.param()
    # An allocator a previous test made may still hold blocks of this one (a
    # Python allocator's region from page_allocator) until the GC runs.
    gc.collect()
    before = allocator.live
    yield allocator
    gc.collect()
    assert allocator.live == before, "the test leaked blocks"


# --- views -----------------------------------------------------------------


def test_alloc_view_shape(a):
    v = a.alloc(100, 16)
    assert isinstance(v, memoryview)
    assert (v.format, v.itemsize, v.ndim, len(v), v.nbytes) == ("B", 1, 1, 100, 100)
    assert not v.readonly and v.c_contiguous
    assert zheap.address_of(v) % 16 == 0
    v[:] = bytes(range(100))
    assert v.tobytes() == bytes(range(100))
    assert isinstance(v.obj, zheap.Block)
    assert v.obj.length == 100 and v.obj.alignment == 16 and v.obj.state == "live"
    assert v.obj.allocator is a
    a.free(v)


def test_alloc_zero_is_empty_sentinel(a):
    v = a.alloc(0, 8)
    assert len(v) == 0
    assert zheap.address_of(v) == (2**64 - 1) & ~7  # Zig's sentinel address
    a.free(v)
    with pytest.raises(ValueError):
        a.free(v)


def test_free_invalidates_view_and_slices_made_before(a):
    v = a.alloc(32)
    a.free(v)
    for access in (
        lambda: v[0],
        lambda: v.tobytes(),
        lambda: len(v),
        lambda: v[1:2],
        lambda: memoryview(v),
        lambda: v.obj,
    ):
        with pytest.raises(ValueError):
            access()
    v.release()  # releasing a freed view is harmless


def test_double_free_is_value_error(a):
    v = a.alloc(32)
    a.free(v)
    with pytest.raises(ValueError, match="(?i)double free"):
        a.free(v)


def test_free_foreign_views(a):
    with pytest.raises(ValueError, match="not handed out"):
        a.free(memoryview(bytearray(8)))
    with pytest.raises(TypeError):
        a.free(bytearray(8))
    other = zheap.CAllocator() if not isinstance(a, zheap.CAllocator) else zheap.PageAllocator()
    v = other.alloc(8)
    with pytest.raises(ValueError, match="another allocator"):
        a.free(v)
    other.free(v)


@pytest.mark.parametrize(
    "export",
    [
        lambda v: v[1:3],
        lambda v: v.cast("I"),
        lambda v: memoryview(v),
        lambda v: memoryview(v.obj),
        lambda v: (ctypes.c_char * 8).from_buffer(v),
    ],
    ids=["slice", "cast", "memoryview(view)", "memoryview(obj)", "ctypes"],
)
def test_exports_block_destruction(a, export):
    v = a.alloc(8)
    v[:] = b"abcdefgh"
    e = export(v)
    for op in (
        lambda: a.free(v),
        lambda: a.resize(v, 4),
        lambda: a.remap(v, 4),
        lambda: a.realloc(v, 100),
    ):
        with pytest.raises(BufferError):
            op()
    assert v.tobytes() == b"abcdefgh" and v.obj.state == "live"
    del e
    gc.collect()
    a.free(v)


def test_numpy_export_blocks_free(a):
    np = pytest.importorskip("numpy")
    v = a.alloc(16)
    arr = np.frombuffer(v, dtype=np.uint8)
    with pytest.raises(BufferError):
        a.free(v)
    del arr
    a.free(v)


def test_partial_view_cannot_free(a):
    v = a.alloc(8)
    s = v[2:4]
    v.release()  # the primary view is gone, only a slice is left
    with pytest.raises(ValueError, match="only part"):
        a.free(s)
    s.release()


# --- resize / remap / realloc -----------------------------------------------


def test_resize_returns_new_view_or_none(a):
    v = a.alloc(64)
    v[:] = b"x" * 64
    addr = zheap.address_of(v)
    r = a.resize(v, 32)
    if r is None:
        assert v.tobytes() == b"x" * 64  # unchanged, still valid
        a.free(v)
        return
    assert zheap.address_of(r) == addr and r.tobytes() == b"x" * 32
    with pytest.raises(ValueError):
        v.tobytes()
    with pytest.raises(ValueError, match="stale"):
        a.free(v)
    a.free(r)


def test_remap_keeps_prefix(a):
    v = a.alloc(100)
    v[:] = bytes(range(100))
    r = a.remap(v, 200000)
    if r is None:
        assert v.tobytes() == bytes(range(100))
        r = v
    else:
        assert r[:100].tobytes() == bytes(range(100))
    a.free(r)


def test_realloc_grow_shrink(a):
    v = a.alloc(10)
    v[:] = b"0123456789"
    v = a.realloc(v, 1 << 20)
    assert len(v) == 1 << 20 and v[:10].tobytes() == b"0123456789"
    v = a.realloc(v, 3)
    assert v.tobytes() == b"012"
    a.free(v)


def test_zero_length_rules(a):
    v = a.alloc(16)
    e = a.resize(v, 0)  # resize to 0 frees and returns an empty view
    assert e is not None and len(e) == 0
    assert a.resize(e, 5) is None  # resize(empty, n) cannot
    assert a.remap(e, 5) is None
    v = a.realloc(e, 5)  # realloc(empty, n) allocates
    assert len(v) == 5
    e = a.realloc(v, 0)
    assert len(e) == 0
    v = a.alloc(4)
    e2 = a.remap(v, 0)
    assert e2 is not None and len(e2) == 0
    a.free(e)
    a.free(e2)


def test_realloc_oom_keeps_old(a):
    v = a.alloc(8)
    v[:] = b"12345678"
    with pytest.raises((MemoryError, OverflowError)):
        a.realloc(v, 2**62)
    assert v.tobytes() == b"12345678"
    a.free(v)


# --- bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "exc"),
    [
        ((-1,), ValueError),
        ((8, 3), ValueError),
        ((8, 0), ValueError),
        ((8, -4), ValueError),
        ((8, 2**64), OverflowError),
        ((2**64,), OverflowError),
        (("8",), TypeError),
        ((8.0,), TypeError),
        ((8, 1.0), TypeError),
        ((), TypeError),
        ((1, 2, 3), TypeError),
    ],
)
def test_bad_alloc_arguments(a, args, exc):
    with pytest.raises(exc):
        a.alloc(*args)


def test_bad_keywords(a):
    with pytest.raises(TypeError):
        a.alloc(8, align=8)
    with pytest.raises(TypeError):
        a.alloc(8, 1, alignment=2)
    v = a.alloc(8, alignment=8)
    with pytest.raises(ValueError):
        a.resize(v, -1)
    with pytest.raises(TypeError):
        a.resize(v)
    a.free(v)


def test_huge_request_is_memory_error(a):
    with pytest.raises(MemoryError):
        a.alloc(2**62)
    if a.max_alignment >= 2**40:
        with pytest.raises(MemoryError):
            a.alloc(1, 2**40)


def test_raw_c_alignment_cap():
    with pytest.raises(ValueError, match="up to 16"):
        zheap.raw_c_allocator.alloc(8, 32)
    assert zheap.raw_c_allocator.max_alignment == zheap.raw_c_max_alignment


# --- dupe, create, destroy ----------------------------------------------------


def test_dupe(a):
    v = a.dupe(b"hello")
    assert v.tobytes() == b"hello"
    a.free(v)
    v = a.dupe(bytearray())
    assert len(v) == 0
    a.free(v)
    with pytest.raises(TypeError):
        a.dupe("text")


class Point(ctypes.Structure):
    _fields_ = [("x", ctypes.c_double), ("y", ctypes.c_int32)]


def test_create_destroy(a):
    p = a.create(Point)
    assert ctypes.addressof(p) % ctypes.alignment(Point) == 0
    p.x, p.y = 1.5, 7
    live = a.live
    a.destroy(p)
    with pytest.raises(ValueError, match="destroyed"):
        a.destroy(p)
    assert a.live == live  # freed only once no Python object can reach it
    del p
    assert a.live == live - 1


def test_destroy_rejects_other_objects(a):
    with pytest.raises(TypeError):
        a.destroy(ctypes.c_int(3))
    with pytest.raises(TypeError):
        a.create(int)


# --- module surface ------------------------------------------------------------


def test_page_sizes():
    p = zheap.page_size()
    assert p & (p - 1) == 0
    assert zheap.page_size_min <= p <= zheap.page_size_max
    assert zheap.default_query_page_size() == p


def test_check_enum():
    assert [m.name for m in zheap.Check] == ["ok", "leak"]


def test_singletons_and_types():
    assert isinstance(zheap.page_allocator, zheap.PageAllocator)
    assert isinstance(zheap.c_allocator, zheap.CAllocator)
    assert isinstance(zheap.raw_c_allocator, zheap.RawCAllocator)
    assert issubclass(zheap.PageAllocator, zheap.Allocator)
    with pytest.raises(TypeError):
        zheap.Allocator()
    with pytest.raises(TypeError):
        zheap.Block()
    with pytest.raises(TypeError):
        zheap.PageAllocator(1)
    with pytest.raises(TypeError):
        zheap.ValidationAllocator(object())
    w = zheap.validation_wrap(zheap.c_allocator)
    assert w.underlying_allocator is zheap.c_allocator
    assert "PageAllocator" in repr(zheap.page_allocator)


def test_not_picklable(a):
    with pytest.raises(TypeError):
        pickle.dumps(a)
    v = a.alloc(4)
    with pytest.raises(TypeError):
        pickle.dumps(v.obj)
    a.free(v)


def test_view_keeps_allocator_alive():
    import weakref

    al = zheap.PageAllocator()
    ref = weakref.ref(al)
    v = al.alloc(10)
    del al
    gc.collect()
    assert ref() is not None
    ref().free(v)
    del v
    gc.collect()
    assert ref() is None


def test_dropped_view_is_a_leak_not_a_crash():
    al = zheap.CAllocator()
    al.alloc(10)
    gc.collect()
    assert al.live == 0  # the view and block are gone; the bytes stay allocated (Zig's leak)


@pytest.mark.parametrize(("name", "factory"), [(n, f) for n, f, _ in ALLOCATORS])
def test_huge_alignments_fail_cleanly(name, factory):
    # 2**63 is a valid alignment that no allocator can satisfy; beyond it, too large.
    a = factory()
    live = a.live
    for alignment in (2**62, 2**63):
        with pytest.raises((MemoryError, ValueError)):
            a.alloc(1, alignment)
    with pytest.raises(OverflowError, match="alignment too large"):
        a.alloc(1, 2**64)
    assert a.live == live


def test_block_of_says_what_ended_a_view():
    arena = zheap.ArenaAllocator(zheap.page_allocator)
    v, w = arena.alloc(16), arena.alloc(8)
    piece = v[2:4]
    assert zheap.block_of(v) is zheap.block_of(piece) is v.obj
    piece.release()
    moved = arena.realloc(w, 4096)
    arena.free(v)
    reset_me = arena.alloc(4)
    arena.reset()
    for view, state in ((v, "freed"), (w, "moved"), (moved, "reset"), (reset_me, "reset")):
        with pytest.raises(ValueError, match="released memoryview"):
            view[0]
        block = zheap.block_of(view)
        assert block is not None and block.state == state and f"Block {state} " in repr(block)
    assert zheap.block_of(memoryview(b"abc")) is None
    mine = arena.alloc(4)
    mine.release()  # released by its holder: the managed buffer let the block go
    assert zheap.block_of(mine) is None
    kept = arena.alloc(4)
    copy, piece = memoryview(kept), kept[1:3]
    copy.release()  # released by its holder while the block lives on (the slice holds it)
    piece.release()
    assert zheap.block_of(copy) is None and zheap.block_of(piece) is None
    assert zheap.block_of(kept) is kept.obj
    arena.free(kept)
    assert zheap.block_of(kept).state == "freed" and zheap.block_of(copy) is None
    primary = arena.alloc(4)
    whole = primary[:]  # a copy of the whole block
    primary.release()  # its holder releases the primary: the copy is the block's one view
    arena.free(whole)  # ... so free() takes it and ends the block through it
    assert zheap.block_of(whole).state == "freed"
    assert zheap.block_of(primary) is None  # released by its holder, not by zheap
    with pytest.raises(TypeError):
        zheap.block_of(b"abc")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [zheap.ArenaAllocator, lambda: zheap.MemoryPool(16), zheap.DebugAllocator],
    ids=["arena", "pool", "debug"],
)
def test_leaving_a_with_block_that_raised_keeps_its_exception(make):
    def body(a):
        view = a.create() if isinstance(a, zheap.MemoryPool) else a.alloc(10)
        return view, view[1:3]

    with pytest.raises(KeyError) as info:
        with make() as a:
            view, piece = body(a)
            raise KeyError("mine")
    # deinit() refused (the slice lives) and changed nothing; it is a note on the KeyError
    assert any("raised BufferError" in n for n in info.value.__notes__)
    assert view[0] == view[0] and a.live == 1
    with pytest.raises(BufferError):  # without an exception from the block: deinit's own
        with a:
            pass
    piece.release()
    with a:
        pass
    with pytest.raises(ValueError):
        view[0]  # deinit ran on leaving the last block


def test_leaving_a_with_block_that_raised_notes_a_leak_error():
    with pytest.raises(ZeroDivisionError) as info:
        with zheap.DebugAllocator(raise_on_leak=True) as d:
            d.alloc(8)  # dropped: a leak
            1 / 0  # noqa: B018
    assert any("raised LeakError" in n for n in info.value.__notes__)
    with pytest.raises(ValueError):
        d.alloc(1)  # deinit() happened before it reported the leak
