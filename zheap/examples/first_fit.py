"""A first-fit free-list allocator in Python, the classic textbook design.

The managed memory is a sorted list of free spans ``(address, length)``. ``_alloc`` takes
the first span that can hold the request after aligning its start, splitting off what is
left on either side; ``_free`` puts the block back and merges it with adjacent free spans
so that memory does not fragment into pieces too small to use. The bookkeeping lives in
Python lists, not in the managed memory, to keep the example readable.
"""

from __future__ import annotations

import bisect

import zheap


class FirstFitAllocator(zheap.Allocator):
    """First-fit allocation with coalescing over ``capacity`` bytes from the page allocator."""

    max_alignment = 4096

    def __init__(self, capacity: int = 1 << 20, backing: zheap.Allocator | None = None) -> None:
        """Take ``capacity`` bytes from ``backing`` (the page allocator): one free span."""
        self.memory = (backing or zheap.page_allocator).alloc(capacity)
        start = self.add_region(self.memory)
        self.free_starts = [start]  # sorted span starts
        self.free_lengths = {start: capacity}

    def _free_blocks(self) -> list[tuple[int, int]]:
        """Show the free spans in ``layout()`` (and the figures of ``stats()``)."""
        return [(start, self.free_lengths[start]) for start in self.free_starts]

    def _take(self, index: int, address: int, length: int) -> None:
        """Carve [address, address+length) out of free span number ``index``."""
        span = self.free_starts[index]
        span_len = self.free_lengths.pop(span)
        del self.free_starts[index]
        if address > span:  # the head, left free
            self._add_span(span, address - span)
        tail = span + span_len - (address + length)
        if tail > 0:
            self._add_span(address + length, tail)

    def _add_span(self, address: int, length: int) -> None:
        bisect.insort(self.free_starts, address)
        self.free_lengths[address] = length

    def _alloc(self, length: int, alignment: int) -> int | None:
        """Return the start of the first free span that fits the aligned request, or None."""
        for i, span in enumerate(self.free_starts):
            address = (span + alignment - 1) & -alignment
            if address + length <= span + self.free_lengths[span]:
                self._take(i, address, length)
                return address
        return None

    def _resize(self, address: int, length: int, alignment: int, new_length: int) -> bool:
        """Shrink by freeing the tail; grow into a free span that starts right after."""
        if new_length <= length:
            if new_length < length:
                self._free(address + new_length, length - new_length, 1)
            return True
        after = address + length
        i = bisect.bisect_left(self.free_starts, after)
        if i < len(self.free_starts) and self.free_starts[i] == after:
            if self.free_lengths[after] >= new_length - length:
                self._take(i, after, new_length - length)
                return True
        return False

    def _remap(self, address: int, length: int, alignment: int, new_length: int) -> int | None:
        """In place only: moving would be the caller's realloc (alloc, copy, free)."""
        return address if self._resize(address, length, alignment, new_length) else None

    def _free(self, address: int, length: int, alignment: int) -> None:
        """Return the block and merge it with the free spans before and after it."""
        i = bisect.bisect_left(self.free_starts, address)
        if i > 0:
            prev = self.free_starts[i - 1]
            if prev + self.free_lengths[prev] == address:  # merge with the span before
                address, length = prev, self.free_lengths.pop(prev) + length
                del self.free_starts[i - 1]
                i -= 1
        if i < len(self.free_starts) and self.free_starts[i] == address + length:
            nxt = self.free_starts[i]  # merge with the span after
            length += self.free_lengths.pop(nxt)
            del self.free_starts[i]
        self._add_span(address, length)

    def free_bytes(self) -> int:
        """Total free bytes (for tests and learners)."""
        return sum(self.free_lengths.values())
