"""Testing tools: Zig's four generic allocator checks, runnable on any zheap allocator.

``test_allocator``, ``test_allocator_aligned``, ``test_allocator_large_alignment`` and
``test_allocator_aligned_shrink`` are Zig's ``testAllocator`` family from ``std.heap``.
Each wraps the allocator in a ValidationAllocator (as Zig does) and raises
``AssertionError`` on the first failure. ``test_allocator_aligned`` (alignments up to 64)
and ``test_allocator_large_alignment`` (``page_size_min // 2``) need an allocator that
takes those alignments: one whose ``max_alignment`` is smaller refuses them with its own
``ValueError``, as ``raw_c_allocator`` (16) does; Zig runs only ``testAllocator`` on
``raw_c_allocator``. They carry ``__test__ = False`` so that
pytest does not collect them when imported into a test module.

The Hypothesis state machine lives in :mod:`zheap.testing.machine` (it needs the
``test`` extra); the pytest fixture ``leak_check`` (a DebugAllocator that fails the test
on a leak) in :mod:`zheap.testing.fixtures`, also reachable as ``zheap.testing.leak_check``.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable
from typing import Any

from .. import (
    Allocator,
    FailingAllocator,
    address_of,
    c_allocator,
    page_size,
    page_size_min,
    validation_wrap,
)

__all__ = [
    "FailingAllocator",
    "MemoryLeakDetectedError",
    "NondeterministicMemoryUsageError",
    "SwallowedOutOfMemoryError",
    "check_all_allocation_failures",
    "leak_check",
    "test_allocator",
    "test_allocator_aligned",
    "test_allocator_large_alignment",
    "test_allocator_aligned_shrink",
]


def _check(cond: bool, message: str) -> None:
    # Explicit raise rather than `assert`: these must hold under `python -O` too.
    if not cond:
        raise AssertionError(message)


def _no_leaks(a: Allocator) -> None:
    _check(a.live == 0, f"{a.live} block(s) left live")


def _aligned(view: memoryview, alignment: int) -> bool:
    return address_of(view) % alignment == 0


_PTR = ctypes.sizeof(ctypes.c_void_p)
_PTR_ALIGN = ctypes.alignment(ctypes.c_void_p)


def test_allocator(allocator: Allocator) -> None:
    """Zig's ``testAllocator``: pointers, create/destroy, realloc, resize to 0, zero sizes."""
    a = validation_wrap(allocator)
    slots = a.alloc(100 * _PTR, _PTR_ALIGN)
    _check(len(slots) == 100 * _PTR, "alloc(*i32, 100) has the wrong length")
    items = []
    for i in range(100):
        item = a.create(ctypes.c_int32)
        item.value = i
        items.append(item)
        struct.pack_into("P", slots, i * _PTR, ctypes.addressof(item))
    slots = a.realloc(slots, 20000 * _PTR)
    _check(len(slots) == 20000 * _PTR, "realloc to 20000 has the wrong length")
    for i, item in enumerate(items):
        (addr,) = struct.unpack_from("P", slots, i * _PTR)
        _check(addr == ctypes.addressof(item), "realloc did not preserve the pointer array")
        _check(item.value == i, "a created i32 lost its value")
        a.destroy(item)
    # A destroyed object's memory is freed as its last reference goes.
    del item
    items.clear()

    if (shorter := a.resize(slots, 50 * _PTR)) is not None:
        slots = shorter
        if (shorter := a.resize(slots, 25 * _PTR)) is not None:
            slots = shorter
            emptied = a.resize(slots, 0)
            _check(emptied is not None and len(emptied) == 0, "resize to 0 must succeed")
            assert emptied is not None
            slots = a.realloc(emptied, 10 * _PTR)
            _check(len(slots) == 10 * _PTR, "realloc of an empty slice to 10 has the wrong length")
    a.free(slots)

    # Zero-length and zero-sized requests never reach the allocator.
    empty = a.alloc(0)
    _check(len(empty) == 0, "alloc(0) is not empty")
    a.free(empty)
    for zst in (ctypes.c_uint8 * 0, ctypes.c_uint64 * 0):
        obj = a.create(zst)
        a.destroy(obj)
        del obj

    oversize = a.alloc(5 * 4, 4)
    _check(len(oversize) >= 5 * 4, "alignedAlloc(u32, 5) is too short")
    for i in range(5):
        struct.pack_into("I", oversize, i * 4, 0xDEADBEEF)
    a.free(oversize)
    _no_leaks(a)


def test_allocator_aligned(allocator: Allocator) -> None:
    """Zig's ``testAllocatorAligned``: alignments 1..64 through realloc and resize."""
    a = validation_wrap(allocator)
    for alignment in (1, 2, 4, 8, 16, 32, 64):
        s = a.alloc(10, alignment)
        _check(len(s) == 10 and _aligned(s, alignment), f"alloc(10, {alignment}) is wrong")
        s = a.realloc(s, 100)
        _check(len(s) == 100 and _aligned(s, alignment), f"realloc to 100 at {alignment} is wrong")
        for _ in range(2):
            if (shorter := a.resize(s, 10)) is not None:
                s = shorter
            emptied = a.resize(s, 0)
            _check(emptied is not None, "resize to 0 must succeed")
            assert emptied is not None
            s = a.realloc(emptied, 100)
            _check(len(s) == 100 and _aligned(s, alignment), "realloc of an empty slice is wrong")
        a.free(s)
    _no_leaks(a)


def test_allocator_large_alignment(allocator: Allocator) -> None:
    """Zig's ``testAllocatorLargeAlignment``: page_size_min / 2 alignment kept through realloc."""
    a = validation_wrap(allocator)
    large = page_size_min // 2
    s = a.alloc(500, large)
    _check(_aligned(s, large), "alloc at page_size_min / 2 is misaligned")
    if (shorter := a.resize(s, 100)) is not None:
        s = shorter
    s = a.realloc(s, 5000)
    _check(_aligned(s, large), "realloc to 5000 lost the alignment")
    if (shorter := a.resize(s, 10)) is not None:
        s = shorter
    s = a.realloc(s, 20000)
    _check(_aligned(s, large), "realloc to 20000 lost the alignment")
    a.free(s)
    _no_leaks(a)


def test_allocator_aligned_shrink(allocator: Allocator) -> None:
    """Zig's ``testAllocatorAlignedShrink``: shrinking realloc keeps a 16-aligned block's bytes."""
    a = validation_wrap(allocator)
    page = page_size()
    alloc_size = page * 2 + 50
    s = a.alloc(alloc_size, 16)
    # Skip blocks that happen to be very highly aligned, so the shrink really
    # tests a merely 16-aligned block (Zig keeps at most 1000 bytes of them).
    stuff: list[memoryview] = []
    while address_of(s) % (page * 32) == 0:
        _check(len(stuff) < 1000 // _PTR, "too many over-aligned blocks")
        stuff.append(s)
        s = a.alloc(alloc_size, 16)
    for block in stuff:
        a.free(block)
    s[0] = 0x12
    s[60] = 0x34
    s = a.realloc(s, alloc_size // 2)
    _check(s[0] == 0x12 and s[60] == 0x34, "shrinking realloc lost the contents")
    a.free(s)
    _no_leaks(a)


for _fn in (
    test_allocator,
    test_allocator_aligned,
    test_allocator_large_alignment,
    test_allocator_aligned_shrink,
):
    _fn.__test__ = False  # type: ignore[attr-defined]
del _fn


class SwallowedOutOfMemoryError(AssertionError):
    """The function succeeded although an allocation was made to fail: it hid a MemoryError."""


class NondeterministicMemoryUsageError(AssertionError):
    """The function made fewer allocations than on the first run: it is not deterministic."""


class MemoryLeakDetectedError(AssertionError):
    """After the injected MemoryError, bytes allocated != bytes freed."""


def check_all_allocation_failures(
    fn: Callable[..., object], *args: Any, backing: Allocator | None = None, **kwargs: Any
) -> int:
    """Zig's ``std.testing.checkAllAllocationFailures``.

    Run ``fn(allocator, *args, **kwargs)`` once over a counting
    :class:`FailingAllocator` (over ``backing``, default ``zheap.c_allocator``) to learn
    how many allocations it makes, then once more for each of them with that allocation
    made to fail. Each failing run must end in ``MemoryError`` with every byte given back
    (use ``try``/``finally`` as Zig uses ``errdefer``). Raises
    :class:`SwallowedOutOfMemoryError`, :class:`NondeterministicMemoryUsageError` or
    :class:`MemoryLeakDetectedError`; returns the number of failure points checked.
    """
    backing = c_allocator if backing is None else backing
    counting = FailingAllocator(backing)
    fn(counting, *args, **kwargs)
    needed: int = counting.alloc_index
    for fail_index in range(needed):
        failing = FailingAllocator(backing, fail_index=fail_index)
        try:
            fn(failing, *args, **kwargs)
        except MemoryError:
            if failing.allocated_bytes != failing.freed_bytes:
                raise MemoryLeakDetectedError(
                    f"fail_index {fail_index}/{needed}: allocated {failing.allocated_bytes} bytes, "
                    f"freed {failing.freed_bytes} ({failing.allocations} allocations, "
                    f"{failing.deallocations} frees); the allocation made to fail was at:\n"
                    + "".join(_format_stack(failing.failure_trace))
                ) from None
            continue
        if failing.has_induced_failure:
            raise SwallowedOutOfMemoryError(
                f"fail_index {fail_index}/{needed}: the MemoryError did not reach the caller"
            )
        raise NondeterministicMemoryUsageError(
            f"fail_index {fail_index}/{needed}: fewer allocations than on the first run"
        )
    return needed


def _format_stack(stack: Any) -> list[str]:
    import traceback

    return traceback.format_list(stack) if stack is not None else []


def __getattr__(name: str) -> Any:
    """Import the pytest fixture lazily: zheap.testing works without pytest."""
    if name == "leak_check":
        from .fixtures import leak_check

        return leak_check
    raise AttributeError(f"module 'zheap.testing' has no attribute {name!r}")
