"""A Hypothesis state machine that fuzzes any zheap allocator through its public API.

>>> from zheap.testing.machine import AllocatorMachine
>>> TestPage = AllocatorMachine.for_allocator(lambda: zheap.page_allocator).TestCase

Rules: alloc, free, resize, remap, realloc, dupe, and the misuse rules (double free,
use after free, freeing a view with a live slice) that must raise the documented
exceptions. Invariants after every step: each live view has its length and
alignment, lies in bounds of no other live block (no overlap), and still holds its
own fill pattern; a refused or failed operation changed nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
)

from .. import (
    Allocator,
    ArenaAllocator,
    Check,
    DebugAllocator,
    MemoryPool,
    address_of,
    page_size,
)
from .._source import source_of
from .strategies import (
    _check_debug,
    _check_fixed_buffer,
    _check_layout,
    _check_sound,
    alignments,
    check_everything_back,
    format_snippet,
    free_list_state,
    sizes,
)

__all__ = ["AllocatorMachine", "MemoryPoolMachine", "sizes", "alignments"]

_MiB = 1 << 20

ResetMode = Literal["free_all", "retain_capacity", "retain_with_limit"]


@dataclass(eq=False)
class Live:
    """The model of one live block: its current view, alignment and fill byte."""

    view: memoryview
    alignment: int
    tag: int

    def __repr__(self) -> str:
        try:
            length: object = len(self.view)
        except ValueError:
            length = "released"
        return f"Live(len={length}, alignment={self.alignment}, tag={self.tag})"


def _fill(view: memoryview, tag: int, start: int = 0) -> None:
    if len(view) > start:
        view[start:] = bytes([tag]) * (len(view) - start)


def _intact(view: memoryview, tag: int, upto: int | None = None) -> bool:
    n = len(view) if upto is None else upto
    return bytes(view[:n]) == bytes([tag]) * n


def _reset_modes_of(allocator: Allocator) -> tuple[str, ...]:
    if isinstance(allocator, ArenaAllocator):
        return ("free_all", "retain_capacity", "retain_with_limit")
    if callable(getattr(allocator, "reset", None)):
        return ("plain",)
    return ()


def _draw_limit(data: st.DataObject, capacity: int) -> int:
    """Draw a retain_with_limit limit around ``capacity`` (0 to twice it).

    The drawn quantity is a fraction, not a byte count: capacity depends on
    addresses (alignment padding), and a strategy must not depend on state that
    differs between runs of the same test case.
    """
    per_mille = data.draw(st.integers(0, 2000), label="limit per mille of capacity")
    return capacity * per_mille // 1000


def _raises(exc: type[BaseException], fn: Callable[[], object]) -> bool:
    try:
        fn()
    except exc:
        return True
    return False


class AllocatorMachine(RuleBasedStateMachine):
    """Base machine; use :meth:`for_allocator` to get one bound to an allocator."""

    factory: Callable[[], Allocator]
    max_alignment: int = 1
    max_size: int = _MiB
    reset_modes: tuple[str, ...] = ()
    factory_source: str = "make_allocator()"

    blocks = Bundle("blocks")
    freed = Bundle("freed")

    @classmethod
    def for_allocator(
        cls,
        factory: Callable[[], Allocator],
        *,
        max_alignment: int | None = None,
        max_size: int = _MiB,
        name: str | None = None,
        reset_modes: Sequence[str] | None = None,
        source: str | None = None,
    ) -> type[AllocatorMachine]:
        """Return a machine class over allocators made by ``factory``.

        ``max_alignment`` defaults to the smaller of the allocator's own limit and
        two pages. ``reset_modes`` lists what the reset rule may call: ``"plain"``
        for ``reset()``, or ArenaAllocator's mode names; by default the modes the
        allocator's type has (none for types without ``reset``). ``source`` is the
        Python that builds one, used in the reproduction snippet: import lines, then
        the expression (by default, a call of ``factory`` when it is a class or a
        named function; a lambda shows as ``make_allocator()``).
        """
        probe = factory()
        limit = min(probe.max_alignment, 2 * page_size())
        if max_alignment is not None:
            limit = min(limit, max_alignment)
        if reset_modes is None:
            reset_modes = _reset_modes_of(probe)
        attrs = {
            "factory": staticmethod(factory),
            "max_alignment": limit,
            "max_size": max_size,
            "reset_modes": tuple(reset_modes),
            "factory_source": source or source_of(factory) or "make_allocator()",
        }
        return type(name or f"{type(probe).__name__}Machine", (cls,), attrs)

    def __init__(self) -> None:
        super().__init__()
        self.allocator = self.factory()
        self.start_live = self.allocator.live
        self.live: list[Live] = []
        self.next_tag = 1
        self.capacity_floor = 0
        # An allocator may report its free memory (``free_bytes()``, its own free
        # list): then freeing every block must bring it all back (teardown).
        self.start_free, _ = free_list_state(self.allocator)
        # An exception being handled around the whole test (the machine run from an
        # `except` block) is not a failure of this run: teardown tells them apart.
        self.outer_exception = sys.exc_info()[1]
        # The steps so far in strategies.run_operations' vocabulary: a failing
        # run prints them as a standalone snippet (see teardown).
        self.ops: list[tuple[object, ...]] = []

    def _tag(self) -> int:
        tag = self.next_tag
        self.next_tag = self.next_tag % 255 + 1
        return tag

    def _forget(self, entry: Live) -> None:
        self.live.remove(entry)

    # --- rules ---------------------------------------------------------------

    @rule(target=blocks, data=st.data())
    def alloc(self, data: st.DataObject) -> Live | object:
        """Allocate a block of a drawn size and alignment and fill it with its tag."""
        size = data.draw(sizes(self.max_size), label="size")
        alignment = data.draw(alignments(self.max_alignment), label="alignment")
        self.ops.append(("alloc", size, alignment))
        try:
            view = self.allocator.alloc(size, alignment)
        except MemoryError:
            assert self.allocator.live == self.start_live + len(self.live), (
                "a failed alloc changed state"
            )
            return multiple()
        assert len(view) == size
        entry = Live(view, alignment, self._tag())
        _fill(view, entry.tag)
        self.live.append(entry)
        return entry

    @rule(target=freed, entry=consumes(blocks))
    def free(self, entry: Live) -> memoryview:
        """Free a live block; its view must become unusable."""
        if entry not in self.live:  # invalidated by reset(): freeing it is an error
            assert _raises(ValueError, lambda: self.allocator.free(entry.view))
            return entry.view
        self.ops.append(("free", self.live.index(entry)))
        self.allocator.free(entry.view)
        self._forget(entry)
        assert _raises(ValueError, lambda: entry.view[0:1].tobytes())
        return entry.view

    @precondition(lambda self: self.reset_modes)
    @rule(data=st.data())
    def reset(self, data: st.DataObject) -> None:
        """Reset (a drawn mode): every view is invalidated, capacity follows Zig's rule."""
        mode = data.draw(st.sampled_from(self.reset_modes), label="mode")
        capacity = getattr(self.allocator, "query_capacity", None)
        before = capacity() if capacity else 0
        self.ops.append(("reset",) if mode == "plain" else ("reset", mode))
        if mode == "plain":
            result: object = self.allocator.reset()  # type: ignore[attr-defined]
        elif mode == "retain_with_limit":
            limit = _draw_limit(data, before)
            self.ops[-1] = ("reset", mode, limit)
            result = self.allocator.reset(mode, limit)  # type: ignore[attr-defined]
        else:
            limit = 0
            result = self.allocator.reset(mode)  # type: ignore[attr-defined]
        for entry in self.live:
            assert _raises(ValueError, entry.view.tobytes), "reset left a view usable"
        self.live.clear()
        assert self.allocator.live == self.start_live
        if capacity is not None:
            # ArenaAllocator.reset: the retained capacity is exactly the request
            # (or everything is freed), and False only if the child refused.
            want = {"free_all": 0, "retain_capacity": before}.get(mode, min(before, limit))
            if result:
                assert capacity() == want, f"reset({mode}) kept {capacity()}, expected {want}"
        if hasattr(self.allocator, "end_index"):
            assert self.allocator.end_index == 0
        self.capacity_floor = capacity() if capacity else 0

    @rule(entry=blocks, data=st.data())
    def resize(self, entry: Live, data: st.DataObject) -> None:
        """Resize in place: a new view at the same address, or None and no change."""
        self._resize_like(entry, data, "resize")

    @rule(entry=blocks, data=st.data())
    def remap(self, entry: Live, data: st.DataObject) -> None:
        """Remap, maybe moving: contents kept up to the shorter length, or None."""
        self._resize_like(entry, data, "remap")

    @rule(entry=blocks, data=st.data())
    def realloc(self, entry: Live, data: st.DataObject) -> None:
        """Realloc: always a new view unless MemoryError, which changes nothing."""
        self._resize_like(entry, data, "realloc")

    def _resize_like(self, entry: Live, data: st.DataObject, op: str) -> None:
        if entry not in self.live:  # freed through another rule
            return
        new_len = data.draw(sizes(self.max_size), label="new_length")
        self.ops.append((op, self.live.index(entry), new_len))
        old = entry.view
        old_len, old_addr = len(old), address_of(old)
        try:
            new = getattr(self.allocator, op)(old, new_len)
        except MemoryError:
            assert op == "realloc"
            assert _intact(old, entry.tag), "a failed realloc changed the block"
            return
        if new is None:
            assert op != "realloc"
            assert len(old) == old_len and _intact(old, entry.tag), (
                "a refused resize changed the block"
            )
            return
        # Track the new view first: if a check below fails, teardown must
        # still free the block through the view that owns it.
        entry.view = new
        assert len(new) == new_len
        assert _raises(ValueError, lambda: old.tobytes()), "the superseded view is still usable"
        if op == "resize" and new_len and old_len:
            assert address_of(new) == old_addr, "resize moved the block"
        assert _intact(new, entry.tag, min(old_len, new_len)), f"{op} lost the contents"
        _fill(new, entry.tag, min(old_len, new_len))

    @rule(target=blocks, data=st.binary(max_size=512))
    def dupe(self, data: bytes) -> Live | object:
        """Duplicate drawn bytes into a new block."""
        self.ops.append(("dupe", data))
        try:
            view = self.allocator.dupe(data)
        except MemoryError:
            return multiple()
        assert view.tobytes() == data
        entry = Live(view, 1, self._tag())
        _fill(view, entry.tag)
        self.live.append(entry)
        return entry

    # --- misuse --------------------------------------------------------------

    @rule(view=freed)
    def double_free(self, view: memoryview) -> None:
        """Freeing, resizing or reading a freed view raises ValueError."""
        assert _raises(ValueError, lambda: self.allocator.free(view))
        assert _raises(ValueError, lambda: self.allocator.resize(view, 1))
        assert _raises(ValueError, lambda: view.tobytes())

    @rule(entry=blocks)
    def free_with_live_slice(self, entry: Live) -> None:
        """Check a block with a live slice cannot be freed or moved (BufferError)."""
        if entry not in self.live:
            return
        piece = entry.view[0:1]
        assert _raises(BufferError, lambda: self.allocator.free(entry.view))
        assert _raises(BufferError, lambda: self.allocator.realloc(entry.view, 1))
        piece.release()
        assert _intact(entry.view, entry.tag)

    @precondition(lambda self: self.live)
    @rule()
    def foreign_view(self) -> None:
        """Check a view the allocator did not hand out is rejected (ValueError)."""
        assert _raises(ValueError, lambda: self.allocator.free(memoryview(bytearray(8))))

    # --- invariants ----------------------------------------------------------

    @invariant()
    def fixed_buffer_accounting(self) -> None:
        """Check a FixedBufferAllocator keeps every live block in the used prefix of the buffer."""
        _check_fixed_buffer(self.allocator, [e.view for e in self.live])

    @invariant()
    def debug_accounting(self) -> None:
        """Check a DebugAllocator's own records match the model: its live blocks and totals."""
        _check_debug(self.allocator, [e.view for e in self.live])

    @invariant()
    def layout_shows_every_block(self) -> None:
        """Check layout() shows each live block once, at its address and length, inside a region."""
        _check_layout(self.allocator, [e.view for e in self.live])

    @invariant()
    def capacity_only_grows(self) -> None:
        """Between resets an arena's capacity never shrinks (it only adds chunks)."""
        capacity = getattr(self.allocator, "query_capacity", None)
        if capacity is not None:
            now = capacity()
            assert now >= self.capacity_floor, f"capacity shrank: {self.capacity_floor} -> {now}"
            self.capacity_floor = now

    @invariant()
    def blocks_are_sound(self) -> None:
        """Every live block: counted, aligned, disjoint from the others, contents intact."""
        blocks = [(e.view, e.tag, e.alignment) for e in self.live]
        _check_sound(self.allocator, blocks, self.start_live)

    def teardown(self) -> None:
        """Free every block still live, then check the allocator has it all back.

        Blocks go most recent address first (a bump allocator gets its memory
        back). Then :func:`~zheap.testing.strategies.check_everything_back` runs,
        and a DebugAllocator must report no leak. After a rule or invariant has
        failed, nothing is checked: the failure that happened first is the one
        reported. On the final (shrunk) run of a failing test this also prints the
        steps as a standalone snippet that replays them with ``run_operations``.
        """
        note(format_snippet(self.ops, self.factory_source))
        # Teardown runs in Hypothesis' `finally`: an exception in flight there is a
        # rule's or an invariant's, unless it was already being handled around the run.
        in_flight = sys.exc_info()[1]
        failing = in_flight is not None and in_flight is not self.outer_exception
        for entry in sorted(self.live, key=lambda e: -_address(e.view)):
            try:
                self.allocator.free(entry.view)
            except Exception:
                if not failing:
                    raise
        self.live.clear()
        if failing:
            return
        check_everything_back(self.allocator, self.start_free)
        if isinstance(self.allocator, DebugAllocator) and self.allocator.live == 0:
            assert self.allocator.leaks() == []
            assert self.allocator.deinit() is Check.ok


def _address(view: memoryview) -> int:
    try:
        return address_of(view) if len(view) else 0
    except ValueError:  # released by a reset
        return 0


class MemoryPoolMachine(RuleBasedStateMachine):
    """A state machine over a :class:`zheap.MemoryPool`; use :meth:`for_pool`.

    Rules: create, destroy, preheat, reset (every mode), and the misuse rules
    (double destroy, destroy with a live slice). Invariants: every item is
    ``item_size`` bytes at ``item_alignment``, items are disjoint and keep their
    contents, and the free list has exactly the model's length (destroy pushes,
    create pops the most recent first, reset empties it).
    """

    factory: Callable[[], MemoryPool]

    items = Bundle("items")

    @classmethod
    def for_pool(
        cls, factory: Callable[[], MemoryPool], *, name: str | None = None
    ) -> type[MemoryPoolMachine]:
        """Return a machine class over pools made by ``factory``."""
        probe = factory()
        attrs = {"factory": staticmethod(factory)}
        return type(name or f"{type(probe).__name__}Machine", (cls,), attrs)

    def __init__(self) -> None:
        super().__init__()
        self.pool = self.factory()
        self.live: list[Live] = []
        # The free list, top last: an item's address, or None for a preheated
        # item (never handed out, so its address is not known).
        self.free_stack: list[int | None] = [None] * self.pool.stats()["free"]
        self.next_tag = 1

    def _tag(self) -> int:
        tag = self.next_tag
        self.next_tag = self.next_tag % 255 + 1
        return tag

    @rule(target=items)
    def create(self) -> Live | object:
        """Create an item: the most recently destroyed one if any."""
        try:
            view = self.pool.create()
        except MemoryError:
            # Only an empty free list fails (then the child ran out, or the
            # pool is not growable).
            assert not self.free_stack, "MemoryError with free items"
            return multiple()
        if self.free_stack:
            top = self.free_stack.pop()
            assert top is None or address_of(view) == top, "create() is not LIFO"
        else:
            assert self.pool.growable, "a pool that is not growable allocated a new item"
        entry = Live(view, self.pool.item_alignment, self._tag())
        _fill(view, entry.tag)
        self.live.append(entry)
        return entry

    @rule(entry=consumes(items))
    def destroy(self, entry: Live) -> None:
        """Destroy an item: its view becomes unusable, a second destroy raises."""
        if entry not in self.live:  # reset already invalidated it
            assert _raises(ValueError, lambda: self.pool.destroy(entry.view))
            return
        addr = address_of(entry.view)
        self.pool.destroy(entry.view)
        self.live.remove(entry)
        self.free_stack.append(addr)
        assert _raises(ValueError, entry.view.tobytes)
        assert _raises(ValueError, lambda: self.pool.destroy(entry.view))

    @rule(n=st.integers(0, 8))
    def preheat(self, n: int) -> None:
        """Preheat: n more free items, on top of the list (fewer if the child runs out)."""
        before = len(self.free_stack)
        try:
            self.pool.preheat(n)
        except MemoryError:
            # Zig keeps the items added before the failure.
            added = self.pool.stats()["free"] - before
            assert 0 <= added < n, f"a failed preheat({n}) added {added} items"
            self.free_stack.extend([None] * added)
            return
        self.free_stack.extend([None] * n)

    @rule(data=st.data())
    def reset(self, data: st.DataObject) -> None:
        """Reset: every item invalidated, the free list emptied."""
        modes: list[ResetMode] = ["free_all", "retain_capacity", "retain_with_limit"]
        mode = data.draw(st.sampled_from(modes), label="mode")
        before = self.pool.stats()["capacity"]
        if mode == "retain_with_limit":
            limit = _draw_limit(data, before)
            ok = self.pool.reset(mode, limit)
        else:
            limit = 0
            ok = self.pool.reset(mode)
        for entry in self.live:
            assert _raises(ValueError, entry.view.tobytes), "reset left an item usable"
        self.live.clear()
        self.free_stack.clear()
        want = {"free_all": 0, "retain_capacity": before}.get(mode, min(before, limit))
        if ok:
            assert self.pool.stats()["capacity"] == want

    @rule(entry=items)
    def destroy_with_live_slice(self, entry: Live) -> None:
        """Check an item with a live slice cannot be destroyed (BufferError, no change)."""
        if entry not in self.live:
            return
        piece = entry.view[0:1]
        assert _raises(BufferError, lambda: self.pool.destroy(entry.view))
        piece.release()
        assert _intact(entry.view, entry.tag)

    @invariant()
    def items_are_sound(self) -> None:
        """Every live item: its size, aligned, disjoint, intact; the free list matches."""
        stats = self.pool.stats()
        assert stats["live"] == len(self.live)
        assert stats["free"] == len(self.free_stack)
        spans = []
        for entry in self.live:
            addr = address_of(entry.view)
            assert len(entry.view) == self.pool.item_size
            assert addr % self.pool.item_alignment == 0
            spans.append((addr, addr + self.pool.slot_size))
            assert _intact(entry.view, entry.tag), f"contents of {entry!r} changed"
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end <= start, "two live items overlap"

    def teardown(self) -> None:
        """Give everything back."""
        self.pool.deinit()
