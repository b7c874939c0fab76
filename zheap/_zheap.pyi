"""Type stubs of the zheap._zheap extension module."""

import ctypes
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, final

from typing_extensions import Buffer, CapsuleType, disjoint_base

from . import Check

_CT = TypeVar("_CT", bound=ctypes._CData)
_ResetMode = Literal["free_all", "retain_capacity", "retain_with_limit"]

ZH_VERSION: int
page_size_min: int
page_size_max: int
raw_c_max_alignment: int

class ZigPanic(RuntimeError):
    """A contract violation Zig would panic on."""

def _numpy_handler(allocator: Allocator, /) -> CapsuleType: ...
def _numpy_set_handler(handler: CapsuleType | None, /) -> CapsuleType: ...
def _numpy_lent(allocator: Allocator, /) -> int: ...

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
    def state(self) -> str:
        """The block's state: one of eight names; ``'live'`` or ``'freed'`` for most.

        ``'moved'``: superseded by the view a resize/remap/realloc returned; ``'reset'``:
        invalidated by reset()/deinit(); ``'destroying'``: destroy()ed, freed when its last
        ctypes object goes; ``'freeing'``: freed while a garbage collection ran on CPython
        3.11, the memory goes back when the last view of it goes or at the allocator's next
        operation outside a collection; ``'prepared'``: made for an operation still under
        way; ``'untracked'``: never filled, or a create()d block never destroyed.
        """
    @property
    def exports(self) -> int: ...
    @property
    def allocator(self) -> Allocator: ...

class AllocatorContractError(ZigPanic):
    """An allocator written in Python returned an address that breaks the contract."""

@disjoint_base
class Allocator:
    """Base type of every zheap allocator (Zig's std.mem.Allocator).

    Subclass it in Python and implement ``_alloc``/``_free`` (and optionally
    ``_resize``/``_remap``, and ``_free_blocks`` for ``layout()``) to write an
    allocator of your own.
    """

    def add_region(self, memory: Buffer, /) -> int: ...
    def capsule(self) -> CapsuleType: ...
    @classmethod
    def from_capsule(cls, capsule: CapsuleType, max_alignment: int = 4096) -> CapsuleAllocator: ...
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
    def layout(self) -> dict[str, Any]: ...
    def stats(self) -> dict[str, Any]: ...
    def _repr_html_(self) -> str: ...

@final
class PageAllocator(Allocator):
    """Every request straight to the OS (mmap/munmap/mremap)."""

    def __new__(cls) -> Self: ...

@final
class CAllocator(Allocator):
    """libc's heap: malloc for small alignments, posix_memalign beyond."""

    def __new__(cls) -> Self: ...

@final
class RawCAllocator(Allocator):
    """Plain malloc/realloc/free, alignment up to alignof(max_align_t)."""

    def __new__(cls) -> Self: ...

@final
class ValidationAllocator(Allocator):
    """Zig's std.mem.ValidationAllocator around another allocator."""

    def __new__(cls, allocator: Allocator) -> Self: ...
    @property
    def underlying_allocator(self) -> Allocator: ...

@final
class FixedBufferAllocator(Allocator):
    """Zig's FixedBufferAllocator: a bump allocator over one buffer."""

    def __new__(cls, buffer: Buffer | int) -> Self: ...
    @property
    def end_index(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    def reset(self) -> None: ...
    def owns(self, view: Buffer, /) -> bool: ...
    def is_last_allocation(self, view: Buffer, /) -> bool: ...
    def thread_safe_allocator(self) -> FixedBufferThreadSafeAllocator: ...
    def stats(self) -> dict[str, Any]: ...
    def layout(self) -> dict[str, Any]: ...

@final
class FixedBufferThreadSafeAllocator(Allocator):
    """The lock-free interface of a FixedBufferAllocator."""

    def stats(self) -> dict[str, Any]: ...

@final
class ArenaAllocator(Allocator):
    """Zig's ArenaAllocator over a child allocator."""

    def __new__(cls, child: Allocator | None = None) -> Self: ...
    @property
    def child_allocator(self) -> Allocator: ...
    def reset(self, mode: _ResetMode = "retain_capacity", limit: int | None = None) -> bool: ...
    def deinit(self) -> None: ...
    def query_capacity(self) -> int: ...
    def stats(self) -> dict[str, Any]: ...
    def layout(self) -> dict[str, Any]: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...

@final
class StackFallbackAllocator:
    """Zig's StackFallbackAllocator(size): a buffer first, then a fallback allocator."""

    def __new__(cls, size: int, fallback: Allocator) -> Self: ...
    @property
    def size(self) -> int: ...
    @property
    def fallback_allocator(self) -> Allocator: ...
    @property
    def get_called(self) -> bool: ...
    def get(self) -> StackFallbackInterface: ...
    def stats(self) -> dict[str, Any]: ...

@final
class StackFallbackInterface(Allocator):
    """The allocator StackFallbackAllocator.get() returns."""

    @property
    def stack_fallback(self) -> StackFallbackAllocator: ...
    def in_buffer(self, view: Buffer, /) -> bool: ...
    def stats(self) -> dict[str, Any]: ...

@final
class ThreadSafeAllocator(Allocator):
    """Zig's ThreadSafeAllocator: every call on the child under one mutex."""

    def __new__(cls, child: Allocator) -> Self: ...
    @property
    def child_allocator(self) -> Allocator: ...
    def stats(self) -> dict[str, Any]: ...

@disjoint_base
class MemoryPool:
    """Zig's memory pool: fixed-size items from an arena, recycled LIFO."""

    def __new__(
        cls,
        item_size: int,
        *,
        alignment: int | None = None,
        growable: bool = True,
        child: Allocator | None = None,
    ) -> Self: ...
    @classmethod
    def preheated(cls, item_size: int, initial_size: int, /, **options: Any) -> Self: ...
    @property
    def item_size(self) -> int: ...
    @property
    def slot_size(self) -> int: ...
    @property
    def item_alignment(self) -> int: ...
    @property
    def growable(self) -> bool: ...
    @property
    def live(self) -> int: ...
    @property
    def child_allocator(self) -> Allocator | None: ...
    def create(self) -> memoryview: ...
    def destroy(self, view: memoryview, /) -> None: ...
    def reset(self, mode: _ResetMode = "retain_capacity", limit: int | None = None) -> bool: ...
    def preheat(self, n: int, /) -> None: ...
    def deinit(self) -> None: ...
    def layout(self) -> dict[str, Any]: ...
    def stats(self) -> dict[str, Any]: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...

class MemoryPoolAligned(MemoryPool):
    """Zig's MemoryPoolAligned(Item, alignment)."""

    def __new__(cls, item_size: int, alignment: int, *, child: Allocator | None = None) -> Self: ...

class MemoryPoolExtra(MemoryPool):
    """Zig's MemoryPoolExtra(Item, options)."""

@final
class Trace(tuple[tuple[str, int, str], ...]):
    """Python frames (filename, lineno, name), innermost first; str() prints a traceback.

    In IPython or Jupyter, str() starts at the user's code: frames outside the innermost
    frame of IPython or ipykernel are left out, and a cell shows as ``Cell In[n]``.
    """

    def format(self) -> str: ...

class DoubleFreeError(ValueError):
    """A block was freed twice (DebugAllocator)."""

    address: int
    length: int
    alignment: int
    reason: str | None
    allocation_trace: Trace | None
    first_free_trace: Trace | None
    free_trace: Trace | None

class InvalidFreeError(ValueError):
    """A free the DebugAllocator cannot match to a block it handed out.

    ``reason``: "not owned", "wrong size", "wrong alignment", "in use by a view" or "in
    use by a numpy array". ``address`` is the one freed; ``length`` is the block's
    recorded length for "wrong size" and ``alignment`` its recorded alignment for "wrong
    alignment" (0 where the report has none, as for "not owned").
    """

    address: int
    length: int
    alignment: int
    reason: str | None
    allocation_trace: Trace | None
    first_free_trace: Trace | None
    free_trace: Trace | None

@final
class LeakRecord(dict[str, Any]):
    """A block a DebugAllocator has not taken back: address, length, alignment, trace.

    A dict whose repr shows the address in hex.
    """

class LeakError(RuntimeError):
    """DebugAllocator.deinit() found leaks (raise_on_leak=True)."""

    leaks: list[LeakRecord]

@final
class DebugAllocator(Allocator):
    """Zig's DebugAllocator (GeneralPurposeAllocator)."""

    def __new__(
        cls,
        backing: Allocator | None = None,
        *,
        stack_trace_frames: int = 6,
        enable_memory_limit: bool = False,
        safety: bool = True,
        thread_safe: bool = True,
        never_unmap: bool = False,
        retain_metadata: bool = False,
        verbose_log: bool = False,
        backing_allocator_zeroes: bool = True,
        resize_stack_traces: bool = False,
        canary: int = 0x9232A6FF85DFF10F,
        page_size: int = 131072,
        raise_on_leak: bool = False,
    ) -> Self: ...
    @property
    def total_requested_bytes(self) -> int:
        """Bytes requested and not freed; AttributeError without enable_memory_limit=True."""

    @property
    def requested_memory_limit(self) -> int:
        """The limit allocations must stay under; AttributeError without enable_memory_limit."""
    @requested_memory_limit.setter
    def requested_memory_limit(self, value: int) -> None: ...
    @property
    def config(self) -> dict[str, int | bool]: ...
    @property
    def backing_allocator(self) -> Allocator | None: ...
    def raw_alloc(self, length: int, alignment: int = 1) -> int: ...
    def raw_free(self, address: int, length: int, alignment: int = 1) -> None: ...
    def deinit(self) -> Check: ...
    def detect_leaks(self) -> bool: ...
    def leaks(self) -> list[LeakRecord]: ...
    def large_allocations(self) -> list[LeakRecord]: ...
    def buckets(self) -> list[dict[str, int]]: ...
    def flush_retained_metadata(self) -> None: ...
    def stats(self) -> dict[str, Any]: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...

@final
class SmpAllocator(Allocator):
    """Zig's SmpAllocator: the process-wide allocator for threaded programs."""

    def __new__(cls) -> Self: ...
    def stats(self) -> dict[str, Any]: ...

@final
class WasmAllocator(Allocator):
    """Zig's WasmAllocator over an emulated wasm linear memory."""

    def __new__(cls, *, max_pages: int = 65536) -> Self: ...
    @property
    def max_pages(self) -> int: ...
    @property
    def base(self) -> int: ...
    def memory_size(self) -> int: ...
    def memory_grow(self, delta: int, /) -> int: ...
    def stats(self) -> dict[str, Any]: ...

@final
class SbrkAllocator(Allocator):
    """Zig's SbrkAllocator(sbrk) over an emulated or Python-driven program break."""

    def __new__(
        cls, *, capacity: int = 268435456, sbrk: Callable[[int], int] | None = None
    ) -> Self: ...
    @property
    def region(self) -> tuple[int, int]: ...
    @property
    def sbrk(self) -> Callable[[int], int] | None: ...
    def brk(self) -> int: ...
    def stats(self) -> dict[str, Any]: ...

@final
class CapsuleAllocator(Allocator):
    """An allocator over a zh_allocator from C (Allocator.from_capsule())."""

@final
class FailingAllocator(Allocator):
    """Zig's std.testing.FailingAllocator."""

    def __new__(
        cls,
        child: Allocator,
        *,
        fail_index: int | None = None,
        resize_fail_index: int | None = None,
    ) -> Self: ...
    @property
    def alloc_index(self) -> int: ...
    @property
    def resize_index(self) -> int: ...
    @property
    def fail_index(self) -> int | None: ...
    @property
    def resize_fail_index(self) -> int | None: ...
    @property
    def allocated_bytes(self) -> int: ...
    @property
    def freed_bytes(self) -> int: ...
    @property
    def allocations(self) -> int: ...
    @property
    def deallocations(self) -> int: ...
    @property
    def has_induced_failure(self) -> bool: ...
    @property
    def failure_trace(self) -> traceback.StackSummary | None: ...

page_allocator: PageAllocator
c_allocator: CAllocator
wasm_allocator: WasmAllocator
smp_allocator: SmpAllocator
raw_c_allocator: RawCAllocator

def page_size() -> int: ...
def default_query_page_size() -> int: ...
def address_of(view: Buffer, /) -> int: ...
def block_of(view: memoryview, /) -> Block | None:
    """Return the Block behind a view an allocator handed out (or a slice), freed or not.

    A freed, moved or reset view raises CPython's bare "operation forbidden on released
    memoryview object" on every access; ``block_of(view).state`` tells what ended it.
    None for a memoryview of anything else, or one released with ``release()``.
    """

def _trace_start(allocator: Any, /) -> tuple[Any, tuple[Any, ...]]: ...
def _trace_take(
    recorder: Any, /
) -> tuple[
    list[tuple[int, int, str, int | None, int, int, int | None, int | bool | None, str]], int
]: ...
def _trace_stop(recorder: Any, /) -> None: ...
