"""A header free list written in Python, with one classic bug switched on at a time.

Each block has an 8-byte header before it (the bytes from the start of its span to the
block). The free list is sorted and coalesces neighbours. The factories ``make_<bug>``
switch on one bug each; ``make_ok`` has none. tests/test_fuzz_reports.py fuzzes each
with ``python -m zheap fuzz buggy_freelist:make_<bug>`` and checks that the report
names the right root error and that its snippets reproduce it.
"""

from __future__ import annotations

import bisect

import zheap

HEADER = 8


class FreeList(zheap.Allocator):
    """First fit over one region, an 8-byte header before each block."""

    max_alignment = 4096

    def __init__(self, bug: str = "", capacity: int = 1 << 16) -> None:
        """Take ``capacity`` bytes from the page allocator as one free span."""
        self.bug = bug
        self.memory = zheap.page_allocator.alloc(capacity)
        start = self.add_region(self.memory)
        self.starts = [start]
        self.lengths = {start: capacity}
        self.spans: dict[int, int] = {}  # block address -> start of its span (header)

    def free_bytes(self) -> int:
        """Bytes in the free list."""
        return sum(self.lengths.values())

    def _free_blocks(self) -> list[tuple[int, int]]:
        """The free list, for layout() and the fuzzer's coalescing check."""
        return [(s, self.lengths[s]) for s in self.starts]

    def _insert(self, start: int, length: int) -> None:
        if length <= 0:
            return
        i = bisect.bisect_left(self.starts, start)
        if self.bug != "no_coalescing":
            if i > 0 and self.starts[i - 1] + self.lengths[self.starts[i - 1]] == start:
                i -= 1
                prev = self.starts.pop(i)
                start, length = prev, self.lengths.pop(prev) + length
            if i < len(self.starts) and self.starts[i] == start + length:
                length += self.lengths.pop(self.starts.pop(i))
        self.starts.insert(i, start)
        self.lengths[start] = length

    def _alloc(self, length: int, alignment: int) -> int | None:
        """Take the first span with room for the header, the padding and the block."""
        if self.bug == "capped_alignment":
            alignment = min(alignment, 16)
        for i, start in enumerate(self.starts):
            address = (start + HEADER + alignment - 1) & -alignment
            end = address + length
            if end > start + self.lengths[start]:
                continue
            rest = start + self.lengths.pop(start) - end
            del self.starts[i]
            if self.bug == "off_by_8_split":
                end -= 8  # the rest starts inside the block
                rest += 8
            self._insert(end, rest)
            if self.bug == "overlap" and length <= 8 and self.spans:
                return max(self.spans)  # a small block goes where the newest block is
            self.spans[address] = start
            return address
        return None

    def _resize(self, address: int, length: int, alignment: int, new_length: int) -> bool:
        """Shrink into the free list, or grow into a free span right after the block."""
        end = address + length
        if new_length <= length:
            self._insert(address + new_length, length - new_length)
            return True
        if self.bug == "unchecked_resize":
            return True  # grows over whatever follows
        if end in self.lengths and self.lengths[end] >= new_length - length:
            rest = self.lengths.pop(end) - (new_length - length)
            self.starts.remove(end)
            self._insert(address + new_length, rest)
            return True
        return False

    def _remap(self, address: int, length: int, alignment: int, new_length: int) -> int | None:
        """In place only."""
        return address if self._resize(address, length, alignment, new_length) else None

    def _free(self, address: int, length: int, alignment: int) -> None:
        """Give the span back: the header, the padding and the block."""
        start = self.spans.pop(address)
        if self.bug == "lost_header":
            start = address  # the header's bytes are never given back
        self._insert(start, address + length - start)


def make_ok() -> FreeList:
    """No bug."""
    return FreeList()


def make_off_by_8_split() -> FreeList:
    """Splitting leaves the rest of the span starting 8 bytes inside the block."""
    return FreeList("off_by_8_split")


def make_capped_alignment() -> FreeList:
    """Alignments above 16 are served at 16."""
    return FreeList("capped_alignment")


def make_unchecked_resize() -> FreeList:
    """Growing in place never checks what follows the block."""
    return FreeList("unchecked_resize")


def make_lost_header() -> FreeList:
    """Freeing forgets the header's bytes."""
    return FreeList("lost_header")


def make_no_coalescing() -> FreeList:
    """Free spans are never merged with their neighbours."""
    return FreeList("no_coalescing")


def make_overlap() -> FreeList:
    """A small block is handed out over the newest live block."""
    return FreeList("overlap")
