"""``python -m zheap``: a short tour of the allocators on built-in defaults.

``python -m zheap fuzz ...`` runs fuzz campaigns instead (see :mod:`zheap.fuzz`).
"""

from __future__ import annotations

import ctypes

import zheap
import zheap.testing


def _step(title: str, text: str) -> None:
    print(f"\n== {title} ==")
    print(text)


def tour() -> None:
    """Walk through the foundation allocators, printing what each step shows."""
    print(f"zheap {zheap.__version__}: Zig 0.15.1's std.heap allocators, from Python")

    page = zheap.page_size()
    _step(
        "page size",
        f"page_size() = {page}  (page_size_min = {zheap.page_size_min}, "
        f"page_size_max = {zheap.page_size_max})",
    )

    a = zheap.page_allocator
    v = a.alloc(100, alignment=1 << 20)
    _step(
        "page_allocator: alignment beyond a page",
        f"alloc(100, alignment=1 MiB) -> {len(v)} bytes at {zheap.address_of(v):#x}\n"
        "The OS maps whole pages; for a 1 MiB alignment zheap over-maps and trims the\n"
        "misaligned head and the unused tail, as Zig's PageAllocator does.",
    )
    a.free(v)

    c = zheap.c_allocator
    v = c.alloc(20)
    v[:5] = b"hello"
    grown = c.resize(v, 24)
    in_place = grown is not None
    if grown is not None:
        v = grown
    _step(
        "c_allocator: resize in place",
        f"resize(20 -> 24 bytes) {'succeeded in place' if in_place else 'was refused'}: "
        "malloc_usable_size says how far a block may grow without moving.\n"
        "resize never moves; remap may; realloc falls back to alloc+copy+free.",
    )
    v = c.realloc(v, 1 << 16)
    print(f"realloc to 64 KiB keeps the bytes: {v[:5].tobytes()!r}")

    piece = v[:5]
    try:
        c.free(v)
    except BufferError as e:
        _step("safety: a view with live exports cannot be freed", f"BufferError: {e}")
    piece.release()
    c.free(v)
    try:
        v[0]
    except ValueError as e:
        _step("safety: a freed view is unusable", f"ValueError: {e}")
    try:
        c.free(v)
    except ValueError as e:
        print(f"and freeing it again: ValueError: {e}")

    point = c.create(ctypes.c_double * 2)
    point[0], point[1] = 1.5, 2.5
    _step(
        "create/destroy: ctypes objects in allocator memory",
        f"create(c_double * 2) at {ctypes.addressof(point):#x} holds {list(point)}",
    )
    c.destroy(point)
    del point

    raw = zheap.raw_c_allocator
    try:
        raw.alloc(8, alignment=64)
    except ValueError as e:
        _step("raw_c_allocator: plain malloc, limited alignment", f"ValueError: {e}")

    with zheap.ArenaAllocator(zheap.raw_c_allocator) as arena:
        for n in (100, 1000, 10000):
            arena.alloc(n)
        before = arena.stats()
        arena.reset("retain_capacity")
        after = arena.stats()
    _step(
        "ArenaAllocator: many allocations, one reset",
        f"over raw_c_allocator, after 100 + 1000 + 10000 bytes: {before['chunks']} chunk(s), "
        f"capacity {before['capacity']} bytes\n"
        f"reset('retain_capacity'): {after['chunks']} chunk of {after['capacity']} bytes,\n"
        "so the next round of the same work needs no new chunk.\n"
        "Every view the arena handed out is invalid after the reset.",
    )

    with zheap.MemoryPool(24) as pool:
        items = [pool.create() for _ in range(3)]
        freed_at = zheap.address_of(items[1])
        pool.destroy(items.pop(1))
        again = pool.create()
        stats = pool.stats()
        _step(
            "MemoryPool: fixed-size items, recycled last-in first-out",
            f"three 24-byte items; destroy the one at {freed_at:#x};\n"
            f"the next create() returns {zheap.address_of(again):#x}: the same memory.\n"
            f"stats: {stats['live']} live, {stats['free']} free, arena capacity "
            f"{stats['capacity']} bytes",
        )
        del items, again

    small = zheap.stack_fallback(64, zheap.c_allocator).get()
    first, second = small.alloc(48), small.alloc(48)
    _step(
        "StackFallbackAllocator: a small buffer first, then a fallback",
        f"two 48-byte blocks from a 64-byte buffer: in the buffer? "
        f"{small.in_buffer(first)}, {small.in_buffer(second)} (the second came from c_allocator)",
    )
    small.free(second)
    small.free(first)

    gpa = zheap.DebugAllocator()
    keep, block = gpa.alloc(8), gpa.alloc(8)
    gpa.free(block)
    try:
        gpa.free(block)
    except zheap.DoubleFreeError as err:
        where = err.first_free_trace[0] if err.first_free_trace else ("?", 0, "?")
        _step(
            "DebugAllocator: a double free, caught with its traces",
            f"DoubleFreeError: the block at {err.address:#x} was first freed at line {where[1]}\n"
            f"of {where[0]}, and the exception carries the allocation, first-free and\n"
            "second-free traces as Python tracebacks.",
        )
    leak = gpa.leaks()[0]
    _step(
        "DebugAllocator: leak detection",
        f"one block left: {leak['length']} bytes at {leak['address']:#x}, "
        f"allocated at line {leak['trace'][0][1]};\n"
        "deinit() would log it with its trace to the 'zheap' logger and return Check.leak.",
    )
    gpa.free(keep)
    gpa.deinit()

    checked = zheap.validation_wrap(zheap.page_allocator)
    for check in (
        zheap.testing.test_allocator,
        zheap.testing.test_allocator_aligned,
        zheap.testing.test_allocator_large_alignment,
        zheap.testing.test_allocator_aligned_shrink,
    ):
        check(checked)
    _step(
        "Zig's own allocator checks",
        "testAllocator, testAllocatorAligned, testAllocatorLargeAlignment and\n"
        "testAllocatorAlignedShrink pass on validation_wrap(page_allocator).",
    )
    print("\nEvery std.heap allocator is here: see the feature table in README.md, and")
    print("`python -m zheap fuzz` to fuzz them (or an allocator of your own).")


def main(argv: list[str]) -> int:
    """Run the tour, or ``fuzz`` campaigns when the first argument is ``fuzz``."""
    if argv[:1] == ["fuzz"]:
        from .fuzz import main as fuzz_main

        return fuzz_main(argv[1:])
    tour()
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
