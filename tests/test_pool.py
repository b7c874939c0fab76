"""MemoryPool, MemoryPoolAligned, MemoryPoolExtra: Zig's tests, the safety rules, the machine."""

import ctypes

import pytest

import zheap
from zheap.testing.machine import MemoryPoolMachine

# --- Zig's memory_pool.zig tests ------------------------------------------------


def test_basic():
    pool = zheap.MemoryPool(4)  # MemoryPool(u32)
    p1, p2, p3 = pool.create(), pool.create(), pool.create()
    addrs = {zheap.address_of(v) for v in (p1, p2, p3)}
    assert len(addrs) == 3  # uniqueness
    a2 = zheap.address_of(p2)
    pool.destroy(p2)
    p4 = pool.create()
    assert zheap.address_of(p4) == a2  # memory reuse
    pool.deinit()


def test_preheating_success():
    pool = zheap.MemoryPool.preheated(4, 4)
    assert pool.stats()["free"] == 4
    for _ in range(3):
        pool.create()
    assert pool.stats()["free"] == 1
    pool.deinit()


def test_preheating_failure():
    # Zig's failing_allocator: an empty fixed buffer fails every allocation.
    failing = zheap.FixedBufferAllocator(0)
    with pytest.raises(MemoryError):
        zheap.MemoryPool.preheated(4, 5, child=failing)
    failing.reset()  # the failed pool released its pin on the child


def test_preheating_failure_midway_gives_everything_back():
    backing = zheap.FixedBufferAllocator(300)
    with pytest.raises(MemoryError):
        zheap.MemoryPool.preheated(64, 100, child=backing)
    assert backing.end_index == 0  # errdefer pool.deinit()


def test_growable():
    pool = zheap.MemoryPoolExtra.preheated(4, 4, growable=False)
    items = [pool.create() for _ in range(4)]
    with pytest.raises(MemoryError, match="not growable"):
        pool.create()
    addr = zheap.address_of(items[2])
    pool.destroy(items[2])
    assert zheap.address_of(pool.create()) == addr  # a destroyed item can come back
    with pytest.raises(MemoryError):
        pool.create()
    pool.deinit()


def test_greater_than_pointer_alignment():
    # "greater than pointer default/manual alignment": items aligned to 16.
    for pool in (zheap.MemoryPool(8, alignment=16), zheap.MemoryPoolAligned(8, 16)):
        assert pool.item_alignment == 16
        for _ in range(20):
            assert zheap.address_of(pool.create()) % 16 == 0
        pool.deinit()


# --- Zig's constants and documented behaviour ------------------------------------


def test_item_size_and_alignment_constants():
    pool = zheap.MemoryPool(3)
    # item_size = max(@sizeOf(Node), @sizeOf(Item)); alignment at least a pointer's.
    assert pool.item_size == 3 and pool.slot_size == ctypes.sizeof(ctypes.c_void_p)
    assert pool.item_alignment == ctypes.alignment(ctypes.c_void_p)
    assert len(pool.create()) == 3
    big = zheap.MemoryPool(100, alignment=2)  # a smaller alignment never goes below a pointer's
    assert big.slot_size == 100 and big.item_alignment == ctypes.alignment(ctypes.c_void_p)
    assert zheap.MemoryPoolAligned(8, 4096).item_alignment == 4096


def test_reset_drops_free_list_even_preheated():
    pool = zheap.MemoryPoolExtra.preheated(8, 3, growable=False)
    a = pool.create()
    assert pool.reset("retain_capacity") is True
    with pytest.raises(ValueError, match="released"):
        a[0]
    with pytest.raises(ValueError, match="invalidated by reset"):
        pool.destroy(a)
    assert pool.stats()["free"] == 0
    with pytest.raises(MemoryError):
        pool.create()  # must be preheated again
    pool.preheat(1)
    pool.create()


def test_reset_modes_and_capacity():
    pool = zheap.MemoryPool(100)
    for _ in range(100):
        pool.create()
    cap = pool.stats()["capacity"]
    assert pool.reset() and pool.stats()["capacity"] == cap
    assert pool.reset("retain_with_limit", 500) and pool.stats()["capacity"] == 500
    assert pool.reset("free_all") and pool.stats()["capacity"] == 0
    with pytest.raises(ValueError, match="mode"):
        pool.reset("everything")
    with pytest.raises(ValueError, match="needs a limit"):
        pool.reset("retain_with_limit")


def test_exported_item_blocks_destroy_reset_deinit():
    pool = zheap.MemoryPool(16)
    v = pool.create()
    piece = v[2:4]
    for op in (lambda: pool.destroy(v), pool.reset, pool.deinit):
        with pytest.raises(BufferError):
            op()
    assert pool.live == 1 and v.tobytes() is not None  # nothing changed
    piece.release()
    pool.destroy(v)
    with pytest.raises(ValueError, match="double free"):
        pool.destroy(v)


def test_destroy_rejects_foreign_views():
    pool, other = zheap.MemoryPool(8), zheap.MemoryPool(8)
    v = other.create()
    with pytest.raises(ValueError, match="another allocator"):
        pool.destroy(v)
    with pytest.raises(ValueError, match="not handed out"):
        pool.destroy(memoryview(bytearray(8)))
    with pytest.raises(TypeError):
        pool.destroy(b"12345678")
    piece = v[:4]
    with pytest.raises(ValueError, match="part of the block"):
        other.destroy(piece)
    piece.release()
    other.destroy(v)


def test_deinit_and_context_manager():
    with zheap.MemoryPool(32) as pool:
        v = pool.create()
        v[:] = b"x" * 32
    with pytest.raises(ValueError):
        v[0]
    assert "deinitialized" in repr(pool)
    with pytest.raises(ValueError, match="deinitialized"):
        pool.create()
    with pytest.raises(ValueError, match="deinitialized"):
        pool.preheat(1)
    pool.deinit()  # a second deinit does nothing


@pytest.mark.parametrize(
    ("args", "kwargs", "exc"),
    [
        ((0,), {}, ValueError),
        ((-1,), {}, ValueError),
        (("8",), {}, TypeError),
        ((8,), {"alignment": 3}, ValueError),
        ((8,), {"alignment": 0}, ValueError),
        ((8,), {"alignment": 1 << 70}, OverflowError),
        ((8,), {"child": 5}, TypeError),
        ((8,), {"bogus": 1}, TypeError),
        ((1 << 80,), {}, OverflowError),
    ],
)
def test_bad_constructor_arguments(args, kwargs, exc):
    with pytest.raises(exc):
        zheap.MemoryPool(*args, **kwargs)


def test_aligned_signature():
    with pytest.raises(TypeError):
        zheap.MemoryPoolAligned(8)  # alignment is required
    with pytest.raises(TypeError):
        zheap.MemoryPoolAligned(8, None)
    with pytest.raises(TypeError):
        zheap.MemoryPoolAligned(8, 16, growable=False)  # Zig's Aligned has no options
    pool = zheap.MemoryPoolAligned.preheated(8, 2, alignment=32)
    assert isinstance(pool, zheap.MemoryPoolAligned) and isinstance(pool, zheap.MemoryPool)
    assert pool.item_alignment == 32 and pool.stats()["free"] == 2


def test_absurd_sizes_are_memory_errors():
    pool = zheap.MemoryPool(1 << 60)
    with pytest.raises(MemoryError):
        pool.create()
    assert pool.live == 0
    pool = zheap.MemoryPool(8, alignment=1 << 40)
    with pytest.raises(MemoryError):
        pool.create()
    with pytest.raises(ValueError):
        pool.preheat(-1)


def test_pool_over_arena_pins_the_arena():
    arena = zheap.ArenaAllocator()
    pool = zheap.MemoryPool(24, child=arena)
    assert pool.child_allocator is arena
    pool.create()
    with pytest.raises(BufferError, match="draw"):
        arena.reset()
    pool.deinit()
    arena.reset()  # unpinned


def test_pool_keeps_child_alive_and_repr():
    pool = zheap.MemoryPoolExtra(12, growable=False, child=zheap.ArenaAllocator())
    assert isinstance(pool.child_allocator, zheap.ArenaAllocator)
    text = repr(pool)
    assert "MemoryPoolExtra" in text and "item_size=12" in text and "growable=False" in text
    stats = pool.stats()
    assert stats == {
        "item_size": 12,
        "slot_size": 12,
        "item_alignment": 8,
        "growable": False,
        "live": 0,
        "free": 0,
        "capacity": 0,
        "chunks": 0,
        "requested": 0,
        "reserved": 0,
        "overhead": 0,
        "utilisation": 0.0,
        "largest_free_run": 0,
    }


def test_subclassable():
    class Nodes(zheap.MemoryPool):
        """A user's pool type."""

    pool = Nodes.preheated(8, 1)
    assert type(pool) is Nodes and pool.stats()["free"] == 1


# --- the state machine over pools and stacks ----------------------------------

TestPoolMachine = MemoryPoolMachine.for_pool(lambda: zheap.MemoryPool(24)).TestCase
TestPoolAlignedMachine = MemoryPoolMachine.for_pool(
    lambda: zheap.MemoryPoolAligned(8, 64), name="AlignedMachine"
).TestCase
TestPoolFixedMachine = MemoryPoolMachine.for_pool(
    lambda: zheap.MemoryPoolExtra.preheated(16, 6, growable=False), name="FixedMachine"
).TestCase
TestPoolOverArenaMachine = MemoryPoolMachine.for_pool(
    lambda: zheap.MemoryPool(40, child=zheap.ArenaAllocator()), name="OverArenaMachine"
).TestCase
TestPoolOverSmallBufferMachine = MemoryPoolMachine.for_pool(
    lambda: zheap.MemoryPool(40, child=zheap.FixedBufferAllocator(2048)), name="OverBufferMachine"
).TestCase
