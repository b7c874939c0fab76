"""Teaching examples: allocators written in Python on top of zheap.

Each is a subclass of :class:`zheap.Allocator` that manages one block obtained from
``zheap.page_allocator`` and implements the address-level methods. zheap turns it into a
full allocator (safe views, usable under an ArenaAllocator or a MemoryPool) and checks
every address it returns. Fuzz one with::

    from zheap.testing.machine import AllocatorMachine
    from zheap.examples import FirstFitAllocator
    TestFirstFit = AllocatorMachine.for_allocator(FirstFitAllocator).TestCase
"""

from .bump import BumpAllocator
from .first_fit import FirstFitAllocator

__all__ = ["BumpAllocator", "FirstFitAllocator"]
