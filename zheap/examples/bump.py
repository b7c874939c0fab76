"""A bump allocator in Python: the simplest correct allocator.

Allocation moves a pointer forward (after aligning it); only the most recent block can be
freed, shrunk or grown in place, exactly like Zig's FixedBufferAllocator.
"""

from __future__ import annotations

import zheap


class BumpAllocator(zheap.Allocator):
    """Bump allocation over ``capacity`` bytes from ``backing`` (``zheap.page_allocator``)."""

    max_alignment = 4096

    def __init__(self, capacity: int = 1 << 20, backing: zheap.Allocator | None = None) -> None:
        """Take ``capacity`` bytes from ``backing`` (the page allocator) as the region."""
        self.memory = (backing or zheap.page_allocator).alloc(capacity)
        self.start = self.add_region(self.memory)
        self.end = self.start + capacity
        self.next = self.start

    def _free_blocks(self) -> list[tuple[int, int]]:
        """Show what lies past the bump pointer as free in ``layout()``."""
        return [(self.next, self.end - self.next)] if self.next < self.end else []

    def _alloc(self, length: int, alignment: int) -> int | None:
        """Align the bump pointer up, take ``length`` bytes, or None when full."""
        address = (self.next + alignment - 1) & -alignment
        if address + length > self.end:
            return None
        self.next = address + length
        return address

    def _resize(self, address: int, length: int, alignment: int, new_length: int) -> bool:
        """Grow or shrink in place: only the last block may change its end."""
        if address + length != self.next:
            return new_length <= length  # a shrink that reclaims nothing
        if address + new_length > self.end:
            return False
        self.next = address + new_length
        return True

    def _remap(self, address: int, length: int, alignment: int, new_length: int) -> int | None:
        """Remap is resize here: blocks never move."""
        return address if self._resize(address, length, alignment, new_length) else None

    def _free(self, address: int, length: int, alignment: int) -> None:
        """Reclaim the block only if it is the last one."""
        if address + length == self.next:
            self.next = address
