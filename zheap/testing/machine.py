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

from collections.abc import Callable
from dataclasses import dataclass

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

from .. import Allocator, address_of, page_size

__all__ = ["AllocatorMachine", "sizes", "alignments"]

_MiB = 1 << 20


def sizes(max_size: int = _MiB) -> st.SearchStrategy[int]:
    """Block sizes from 0 to ``max_size``, skewed small (most under 256 bytes)."""
    return st.one_of(
        st.integers(0, 64),
        st.integers(0, 4096),
        st.integers(0, max_size),
    )


def alignments(max_alignment: int) -> st.SearchStrategy[int]:
    """Powers of two from 1 to ``max_alignment``."""
    top = max_alignment.bit_length() - 1
    return st.integers(0, top).map(lambda k: 1 << k)


@dataclass(eq=False)
class Live:
    """The model of one live block: its current view, alignment and fill byte."""

    view: memoryview
    alignment: int
    tag: int

    def __repr__(self) -> str:
        return f"Live(len={len(self.view)}, alignment={self.alignment}, tag={self.tag})"


def _fill(view: memoryview, tag: int, start: int = 0) -> None:
    if len(view) > start:
        view[start:] = bytes([tag]) * (len(view) - start)


def _intact(view: memoryview, tag: int, upto: int | None = None) -> bool:
    n = len(view) if upto is None else upto
    return bytes(view[:n]) == bytes([tag]) * n


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
    ) -> type[AllocatorMachine]:
        """Return a machine class over allocators made by ``factory``.

        ``max_alignment`` defaults to the smaller of the allocator's own limit and
        two pages.
        """
        probe = factory()
        limit = min(probe.max_alignment, 2 * page_size())
        if max_alignment is not None:
            limit = min(limit, max_alignment)
        attrs = {"factory": staticmethod(factory), "max_alignment": limit, "max_size": max_size}
        return type(name or f"{type(probe).__name__}Machine", (cls,), attrs)

    def __init__(self) -> None:
        super().__init__()
        self.allocator = self.factory()
        self.start_live = self.allocator.live
        self.live: list[Live] = []
        self.next_tag = 1

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
        self.allocator.free(entry.view)
        self._forget(entry)
        assert _raises(ValueError, lambda: entry.view[0:1].tobytes())
        return entry.view

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
        assert len(new) == new_len
        assert _raises(ValueError, lambda: old.tobytes()), "the superseded view is still usable"
        if op == "resize" and new_len and old_len:
            assert address_of(new) == old_addr, "resize moved the block"
        assert _intact(new, entry.tag, min(old_len, new_len)), f"{op} lost the contents"
        entry.view = new
        _fill(new, entry.tag, min(old_len, new_len))

    @rule(target=blocks, data=st.binary(max_size=512))
    def dupe(self, data: bytes) -> Live | object:
        """Duplicate drawn bytes into a new block."""
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
    def blocks_are_sound(self) -> None:
        """Every live block: counted, aligned, disjoint from the others, contents intact."""
        assert self.allocator.live == self.start_live + len(self.live)
        spans = []
        for entry in self.live:
            view = entry.view
            addr = address_of(view)
            if len(view):
                assert addr % entry.alignment == 0, f"misaligned: {addr:#x} % {entry.alignment}"
                spans.append((addr, addr + len(view)))
            assert _intact(view, entry.tag), f"contents of {entry!r} changed"
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end <= start, "two live blocks overlap"

    def teardown(self) -> None:
        """Free every block still live."""
        for entry in self.live:
            self.allocator.free(entry.view)
        self.live.clear()
