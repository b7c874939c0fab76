"""The gate's checks, one test per rule: each fails when the rule is broken by hand.

`.ci/mutate.py` applies such breakages to the sources one at a time and expects the suite
to go red; the tests here are the ones that catch the breakages the rest of the suite did
not (issue 13's list).
"""

import ctypes
import gc
import pickle

import pytest

import zheap


def test_reset_refused_while_a_slice_outlives_its_released_view():
    arena = zheap.ArenaAllocator()
    v = arena.alloc(16)
    s = v[2:4]
    v.release()  # the primary view is gone; the slice still reaches the bytes
    with pytest.raises(BufferError):
        arena.reset("free_all")
    s[0] = 1  # nothing changed
    s.release()
    arena.reset("free_all")
    arena.deinit()


def test_free_refused_while_a_direct_export_of_the_view_lives():
    a = zheap.c_allocator
    v = a.alloc(32)
    pb = pickle.PickleBuffer(v)  # an export of the view itself, not a slice
    with pytest.raises(BufferError):
        a.free(v)
    with pytest.raises(BufferError):
        a.resize(v, 8)
    pb.release()
    a.free(v)


def test_reset_refused_while_a_direct_export_of_a_view_lives():
    fba = zheap.FixedBufferAllocator(256)
    v = fba.alloc(32)
    pb = pickle.PickleBuffer(v)
    with pytest.raises(BufferError):
        fba.reset()
    pb.release()
    fba.reset()


class _Lying(zheap.Allocator):
    """Hands out [base, base + 4096); _resize always says yes; _alloc can be steered."""

    max_alignment = 64

    def __init__(self) -> None:
        self.memory = zheap.page_allocator.alloc(4096)
        self.base = self.add_region(self.memory)
        self.next: int | None = None

    def _alloc(self, length: int, alignment: int) -> int | None:
        address = self.next if self.next is not None else self.base
        self.next = None
        return address

    def _resize(self, address: int, length: int, alignment: int, new_length: int) -> bool:
        return True

    def _free(self, address: int, length: int, alignment: int) -> None:
        pass


def test_python_resize_is_range_checked():
    a = _Lying()
    v = a.alloc(100)
    with pytest.raises(zheap.AllocatorContractError, match="not inside"):
        a.resize(v, 8192)  # past the end of the only region
    assert len(v) == 100 and a.live == 1  # the old view is intact
    a.free(v)


def test_python_alloc_one_byte_past_the_region_is_refused():
    a = _Lying()
    for length in (1, 100, 4096):
        a.next = a.base + 4096 - length + 1  # ends one byte past the region
        with pytest.raises(zheap.AllocatorContractError, match="not inside"):
            a.alloc(length)
        a.next = a.base + 4096 - length  # ends exactly at the end: fine
        v = a.alloc(length)
        a.free(v)
    assert a.live == 0


def test_create_honours_ctypes_alignment():
    fba = zheap.FixedBufferAllocator(1024)
    fba.alloc(1)  # the bump pointer is now odd
    for t in (ctypes.c_int64, ctypes.c_double, ctypes.c_int32 * 3):
        obj = fba.create(t)
        assert ctypes.addressof(obj) % ctypes.alignment(t) == 0, t
        fba.destroy(obj)
        del obj
    gc.collect()


class _TwoRuns(zheap.Allocator):
    """Shows two free runs that touch, never merged: one alloc cannot span both."""

    def __init__(self) -> None:
        self.memory = zheap.page_allocator.alloc(4096)
        self.base = self.add_region(self.memory)

    def _alloc(self, length: int, alignment: int) -> int | None:
        return None

    def _free(self, address: int, length: int, alignment: int) -> None:
        pass

    def _free_blocks(self) -> list[tuple[int, int]]:
        return [(self.base, 1000), (self.base + 1000, 3096)]


def test_largest_free_run_counts_each_free_block_alone():
    assert _TwoRuns().stats()["largest_free_run"] == 3096


def test_page_allocator_remap_keeps_a_large_alignment():
    # Far above the page size, and above the 2 MiB the kernel may align large mappings
    # to: a moving mremap keeps only page alignment, so such a block must not move.
    big = 1 << 24
    for _ in range(16):
        v = zheap.page_allocator.alloc(4096, big)
        w = zheap.page_allocator.alloc(4096)  # likely right after v: a remap must move
        r = zheap.page_allocator.remap(v, 1 << 22)
        if r is not None:
            assert zheap.address_of(r) % big == 0
            v = r
        zheap.page_allocator.free(v)
        zheap.page_allocator.free(w)


def test_a_destroyed_object_dying_inside_a_parents_operation_is_freed_when_it_ends():
    # the ctypes object dies while an operation on the thread-safe wrapper marks its child
    # busy: the free is queued on the child and due when that operation ends, not at the
    # child's own next operation (seed 51, episode 8326834238981188398)
    from zheap.examples import FirstFitAllocator

    holder = []

    class Dropping(FirstFitAllocator):
        def _alloc(self, length, alignment):
            holder.clear()  # the last reference to the destroyed object goes, mid-operation
            return super()._alloc(length, alignment)

    child = Dropping(1 << 16)
    wrapper = zheap.ThreadSafeAllocator(child)
    obj = child.create(ctypes.c_int64)
    child.destroy(obj)
    holder.append(obj)
    del obj
    assert child.live == 1  # destroyed, but a ctypes object still reaches it
    v = wrapper.alloc(8)
    assert holder == [] and child.live == 0
    wrapper.free(v)
