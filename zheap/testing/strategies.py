"""Hypothesis strategies for allocator tests, and a replayer for recorded sequences.

>>> from hypothesis import given
>>> from zheap.testing.strategies import operations, run_operations
>>> @given(operations(max_alignment=64))
... def test_my_allocator(ops):
...     run_operations(MyAllocator(), ops)

An operation is a plain tuple, so a failing sequence can be printed and replayed:

* ``("alloc", length, alignment)`` -- a new block, appended to the live list;
* ``("free", i)`` -- free live block ``i % len(live)``;
* ``("resize" | "remap" | "realloc", i, new_length)``;
* ``("dupe", data)`` -- a copy of ``data`` (bytes);
* ``("reset",)`` or ``("reset", mode[, limit])`` -- reset (every live block is gone).

:func:`run_operations` checks every result (length, alignment, no overlap, contents kept
across resizes, failed calls change nothing) and, when a check fails, attaches the
sequence so far as a standalone Python snippet (``format_snippet``) to the exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from .. import Allocator, DebugAllocator, FixedBufferAllocator, address_of
from .._source import source_of, split_source

__all__ = [
    "alignments",
    "check_everything_back",
    "format_snippet",
    "free_list_state",
    "operations",
    "run_operations",
    "sizes",
]

_MiB = 1 << 20

Op = tuple[Any, ...]


def sizes(max_size: int = _MiB) -> st.SearchStrategy[int]:
    """Block sizes from 0 to ``max_size``, skewed small (most under 256 bytes)."""
    return st.one_of(
        st.integers(0, min(64, max_size)),
        st.integers(0, min(4096, max_size)),
        st.integers(0, max_size),
    )


def alignments(max_alignment: int) -> st.SearchStrategy[int]:
    """Powers of two from 1 to ``max_alignment``."""
    top = max_alignment.bit_length() - 1
    return st.integers(0, top).map(lambda k: 1 << k)


def operations(
    max_size: int = 64 * 1024, max_alignment: int = 16, max_ops: int = 50
) -> st.SearchStrategy[list[Op]]:
    """Sequences of up to ``max_ops`` operations (see the module docstring)."""
    index = st.integers(0, 1 << 16)
    op = st.one_of(
        st.tuples(st.just("alloc"), sizes(max_size), alignments(max_alignment)),
        st.tuples(st.just("free"), index),
        st.tuples(st.sampled_from(["resize", "remap", "realloc"]), index, sizes(max_size)),
        st.tuples(st.just("dupe"), st.binary(max_size=256)),
    )
    return st.lists(op, max_size=max_ops)


def format_snippet(ops: Sequence[Op], factory_source: str = "make_allocator()") -> str:
    """Return a standalone Python program that replays ``ops`` on ``factory_source``.

    ``factory_source`` is the expression that makes the allocator, after any import
    lines it needs, one a line (``import mymod`` then ``mymod.make()``): the program
    imports them first.
    """
    imports, expr = split_source(factory_source)
    lines = ["import zheap", *imports, "from zheap.testing.strategies import run_operations", ""]
    lines += [f"allocator = {expr}", "run_operations(allocator, ["]
    lines += [f"    {op!r}," for op in ops]
    lines.append("])")
    return "\n".join(lines)


def free_list_state(allocator: Allocator) -> tuple[int | None, list[tuple[int, int]] | None]:
    """Read ``free_bytes()`` and ``_free_blocks()``: what :func:`check_everything_back` uses.

    Each is None when the allocator does not define it (allocators written in Python
    may: the examples do).
    """
    probe = getattr(allocator, "free_bytes", None)
    blocks = getattr(allocator, "_free_blocks", None)
    return (
        int(probe()) if callable(probe) else None,
        [(int(a), int(n)) for a, n in blocks()] if callable(blocks) else None,
    )


def check_everything_back(allocator: Allocator, start_free: int | None) -> None:
    """Check an allocator whose blocks were all freed has all its memory back.

    Two checks, for allocators written in Python that report their free memory:

    * with ``free_bytes()``: it equals ``start_free``, what it was before the first
      allocation (no byte leaked, none counted twice);
    * with ``_free_blocks()`` (its own free list): the largest run of touching free
      blocks can be allocated as one block. A free list that never merges (coalesces)
      neighbours fails here: its pieces add up, but no request larger than one piece
      fits.
    """
    now, blocks = free_list_state(allocator)
    if start_free is not None and now is not None and now != start_free:
        lost = start_free - now
        what = f"{lost} bytes were not given back" if lost > 0 else f"{-lost} bytes appeared"
        raise AssertionError(
            f"every block was freed, but free_bytes() is {now}, and was {start_free} before "
            f"the first allocation: {what}"
        )
    if not blocks:
        return
    runs: list[tuple[int, int, int]] = []  # start, end, entries
    for address, length in sorted(blocks):
        if runs and runs[-1][1] == address:
            runs[-1] = (runs[-1][0], address + length, runs[-1][2] + 1)
        else:
            runs.append((address, address + length, 1))
    start, end, entries = max(runs, key=lambda r: r[1] - r[0])
    if entries == 1 or end == start:
        return
    try:
        view = allocator.alloc(end - start, 1)
    except MemoryError:
        raise AssertionError(
            f"every block was freed, and the free list holds {end - start} contiguous bytes "
            f"at {start:#x} in {entries} touching entries, but alloc({end - start}) failed: "
            "free blocks that touch are never merged (coalesced)"
        ) from None
    allocator.free(view)


def _check_fixed_buffer(allocator: Allocator, views: Sequence[memoryview]) -> None:
    """Check a FixedBufferAllocator keeps every live block in the used prefix of its buffer."""
    if not isinstance(allocator, FixedBufferAllocator):
        return
    assert 0 <= allocator.end_index <= allocator.capacity
    assert sum(len(v) for v in views) <= allocator.end_index
    for view in views:
        if len(view):
            assert allocator.owns(view), "a live block lies outside the buffer"


def _check_debug(allocator: Allocator, views: Sequence[memoryview]) -> None:
    """Check a DebugAllocator's own records (leaks(), its totals) match the live views."""
    if not isinstance(allocator, DebugAllocator):
        return
    live = [v for v in views if len(v)]
    recorded = {leak["address"]: leak["length"] for leak in allocator.leaks()}
    expected = {address_of(v): len(v) for v in live}
    assert recorded.keys() == expected.keys(), "leaks() disagrees with the model"
    for addr, length in expected.items():
        # Without safety a small block's requested length is not recorded:
        # leaks() gives its slot size.
        exact = allocator.config["safety"]
        assert recorded[addr] == length if exact else recorded[addr] >= length
    if allocator.config["enable_memory_limit"]:
        assert allocator.total_requested_bytes == sum(len(v) for v in live)


def _check_layout(allocator: Allocator, views: Sequence[memoryview]) -> None:
    """Check layout() shows each live block once, at its address and length, inside a region."""
    layout = getattr(allocator, "layout", None)
    if layout is None:
        return
    found: dict[int, int] = {}
    for region in layout()["regions"]:
        start, end = region["address"], region["address"] + region["size"]
        for block in region["blocks"]:
            assert start <= block["address"] and block["address"] + block["length"] <= end
            if block["state"] == "live":
                assert block["address"] not in found, "layout() shows a block twice"
                found[block["address"]] = block["length"]
    for view in views:
        if len(view):
            addr = address_of(view)
            assert found.get(addr) == len(view), (
                f"layout() lacks the live block at {addr:#x} ({len(view)} bytes)"
            )


def _check_sound(
    allocator: Allocator, blocks: Sequence[tuple[memoryview, int, int]], start_live: int
) -> None:
    """Check every live block (view, fill byte, alignment): counted, aligned, disjoint, intact."""
    assert allocator.live == start_live + len(blocks), (
        f"allocator.live is {allocator.live}, the model has {start_live + len(blocks)}"
    )
    spans = []
    for view, tag, alignment in blocks:
        if len(view):
            addr = address_of(view)
            assert addr % alignment == 0, f"block at {addr:#x} not aligned to {alignment}"
            spans.append((addr, addr + len(view)))
        assert view.tobytes() == bytes([tag]) * len(view), "a block's contents changed"
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start, "two live blocks overlap"


def _check_model(
    allocator: Allocator, blocks: Sequence[tuple[memoryview, int, int]], start_live: int
) -> None:
    """Run every check the state machine runs after each step (its invariants).

    ``blocks`` are the live blocks, each ``(view, fill byte, alignment)``;
    ``start_live`` is ``allocator.live`` before the first allocation. Checked: the
    live count, each block's alignment and contents, no two blocks overlap,
    ``layout()`` shows each live block, and for a DebugAllocator or a
    FixedBufferAllocator, their own records. (The machine's capacity check needs the
    history between resets; :func:`run_operations` keeps it too.)
    """
    _check_sound(allocator, blocks, start_live)
    views = [view for view, _, _ in blocks]
    _check_fixed_buffer(allocator, views)
    _check_debug(allocator, views)
    _check_layout(allocator, views)


class _Replay:
    """The live blocks of a replay: views, their fill byte and alignment."""

    def __init__(self, allocator: Allocator) -> None:
        self.allocator = allocator
        self.start_live = allocator.live
        self.live: list[tuple[memoryview, int, int]] = []
        self.tag = 0
        self.capacity_floor = 0

    def fill(self, view: memoryview, start: int = 0) -> int:
        self.tag = self.tag % 255 + 1
        if len(view) > start:
            view[start:] = bytes([self.tag]) * (len(view) - start)
        return self.tag

    def check_all(self) -> None:
        _check_model(self.allocator, self.live, self.start_live)
        capacity = getattr(self.allocator, "query_capacity", None)
        if capacity is not None:
            now = capacity()
            assert now >= self.capacity_floor, f"capacity shrank: {self.capacity_floor} -> {now}"
            self.capacity_floor = now

    def step(self, op: Op) -> None:
        kind = op[0]
        if kind == "alloc":
            _, length, alignment = op
            try:
                view = self.allocator.alloc(length, alignment)
            except MemoryError:
                return
            assert len(view) == length, f"alloc({length}) gave {len(view)} bytes"
            self.live.append((view, self.fill(view), alignment))
        elif kind == "reset":
            self.allocator.reset(*op[1:])  # type: ignore[attr-defined]
            for view, _, _ in self.live:
                assert _released(view), "reset() left a view usable"
            self.live.clear()
            capacity = getattr(self.allocator, "query_capacity", None)
            self.capacity_floor = capacity() if capacity else 0
        elif kind == "dupe":
            try:
                view = self.allocator.dupe(op[1])
            except MemoryError:
                return
            assert view.tobytes() == op[1], "dupe() did not copy"
            self.live.append((view, self.fill(view), 1))
        elif self.live:
            i = op[1] % len(self.live)
            view, tag, alignment = self.live[i]
            if kind == "free":
                self.allocator.free(view)
                del self.live[i]
                return
            new_length = op[2]
            old_length, old_addr = len(view), address_of(view)
            try:
                new = getattr(self.allocator, kind)(view, new_length)
            except MemoryError:
                assert kind == "realloc" and view.tobytes() == bytes([tag]) * old_length
                return
            if new is None:
                assert kind != "realloc", "realloc returned None"
                assert view.tobytes() == bytes([tag]) * old_length, (
                    f"a refused {kind} changed the block"
                )
                return
            self.live[i] = (new, tag, alignment)
            assert len(new) == new_length
            if kind == "resize" and new_length and old_length:
                assert address_of(new) == old_addr, "resize moved the block"
            kept = min(old_length, new_length)
            assert new[:kept].tobytes() == bytes([tag]) * kept, f"{kind} lost the contents"
            if len(new) > kept:
                new[kept:] = bytes([tag]) * (len(new) - kept)


def _released(view: memoryview) -> bool:
    try:
        view.tobytes()
    except ValueError:
        return True
    return False


def run_operations(
    allocator: Allocator, ops: Sequence[Op], *, factory_source: str | None = None
) -> int:
    """Replay ``ops`` on ``allocator``, checking every result; free what is left.

    Returns the number of operations run. After the last operation every block still
    live is freed (the most recent address first) and :func:`check_everything_back`
    runs, as the state machine's teardown does. A failed check raises AssertionError
    (any other exception propagates) with the sequence up to the failing operation
    attached as a note: a standalone snippet that reproduces it. ``factory_source`` is
    the Python that makes the allocator (import lines, then the expression); by
    default the allocator's class is called with no arguments.
    """
    replay = _Replay(allocator)
    start_free, _ = free_list_state(allocator)
    done = 0
    try:
        for op in ops:
            done += 1
            replay.step(op)
            replay.check_all()
        for view, _, _ in sorted(replay.live, key=lambda e: -_address(e[0])):
            allocator.free(view)
        replay.live.clear()
        check_everything_back(allocator, start_free)
    except BaseException as exc:
        source = factory_source or source_of(type(allocator)) or "make_allocator()"
        exc.add_note("Reproduce with:\n" + format_snippet(list(ops[:done]), source))
        raise
    return done


def _address(view: memoryview) -> int:
    return address_of(view) if len(view) else 0
