"""Type stubs of the zheap._zheap extension module."""

import ctypes
from typing import TypeVar, final

from typing_extensions import Buffer

_CT = TypeVar("_CT", bound=ctypes._CData)

ZH_VERSION: int
page_size_min: int
page_size_max: int
raw_c_max_alignment: int

class ZigPanic(RuntimeError):
    """A contract violation Zig would panic on."""

@final
class Block:
    """The exporter behind every view an allocator hands out (``view.obj``)."""

    @property
    def address(self) -> int: ...
    @property
    def length(self) -> int: ...
    @property
    def alignment(self) -> int: ...
    @property
    def state(self) -> str: ...
    @property
    def exports(self) -> int: ...
    @property
    def allocator(self) -> Allocator: ...

class Allocator:
    """Base type of every zheap allocator (Zig's std.mem.Allocator)."""

    @property
    def live(self) -> int: ...
    @property
    def max_alignment(self) -> int: ...
    def alloc(self, length: int, alignment: int = 1) -> memoryview: ...
    def free(self, view: memoryview, /) -> None: ...
    def resize(self, view: memoryview, new_length: int) -> memoryview | None: ...
    def remap(self, view: memoryview, new_length: int) -> memoryview | None: ...
    def realloc(self, view: memoryview, new_length: int) -> memoryview: ...
    def dupe(self, data: Buffer, /) -> memoryview: ...
    def create(self, ctype: type[_CT], /) -> _CT: ...
    def destroy(self, obj: ctypes._CData, /) -> None: ...

@final
class PageAllocator(Allocator):
    """Every request straight to the OS (mmap/munmap/mremap)."""

    def __init__(self) -> None: ...

@final
class CAllocator(Allocator):
    """libc's heap through posix_memalign."""

    def __init__(self) -> None: ...

@final
class RawCAllocator(Allocator):
    """Plain malloc/realloc/free, alignment up to alignof(max_align_t)."""

    def __init__(self) -> None: ...

@final
class ValidationAllocator(Allocator):
    """Zig's std.mem.ValidationAllocator around another allocator."""

    def __init__(self, allocator: Allocator) -> None: ...
    @property
    def underlying_allocator(self) -> Allocator: ...

page_allocator: PageAllocator
c_allocator: CAllocator
raw_c_allocator: RawCAllocator

def page_size() -> int: ...
def default_query_page_size() -> int: ...
def address_of(view: Buffer, /) -> int: ...
