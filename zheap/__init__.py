"""zheap: Zig 0.15.1's ``std.heap`` allocators, ported to C and exposed to Python.

Allocators hand out ``memoryview`` buffers. A view stays valid until it is freed
(or superseded by ``resize``/``remap``/``realloc``); after that every access raises
``ValueError``. A view that other objects still export (a slice, numpy, ctypes)
cannot be freed (``BufferError``). A view dropped without ``free`` is a leak, as in Zig.

>>> import zheap
>>> view = zheap.c_allocator.alloc(64, alignment=16)
>>> view[:5] = b"hello"
>>> zheap.c_allocator.free(view)
"""

from __future__ import annotations

import enum as _enum
import warnings as _warnings
from typing import Any as _Any

from ._zheap import (
    ZH_VERSION,
    Allocator,
    AllocatorContractError,
    ArenaAllocator,
    Block,
    CAllocator,
    CapsuleAllocator,
    DebugAllocator,
    DoubleFreeError,
    FailingAllocator,
    FixedBufferAllocator,
    FixedBufferThreadSafeAllocator,
    InvalidFreeError,
    LeakError,
    LeakRecord,
    MemoryPool,
    MemoryPoolAligned,
    MemoryPoolExtra,
    PageAllocator,
    RawCAllocator,
    SbrkAllocator,
    SmpAllocator,
    StackFallbackAllocator,
    StackFallbackInterface,
    ThreadSafeAllocator,
    Trace,
    ValidationAllocator,
    WasmAllocator,
    ZigPanic,
    address_of,
    block_of,
    c_allocator,
    default_query_page_size,
    page_allocator,
    page_size,
    page_size_max,
    page_size_min,
    raw_c_allocator,
    raw_c_max_alignment,
    smp_allocator,
    wasm_allocator,
)
from .tracing import Event, EventTrace, replay, trace

__version__ = "0.1.0"


class Check(_enum.Enum):
    """Result of a leak check (Zig's ``std.heap.Check``), returned by ``DebugAllocator.deinit``."""

    ok = 0
    leak = 1


def validation_wrap(allocator: Allocator) -> ValidationAllocator:
    """Wrap ``allocator`` in a ValidationAllocator (Zig's ``std.mem.validationWrap``).

    Every call is checked against the allocator interface's contract; a violation
    raises :class:`ZigPanic` instead of Zig's panic.
    """
    return ValidationAllocator(allocator)


def stack_fallback(size: int, fallback: Allocator) -> StackFallbackAllocator:
    """Zig's ``stackFallback(size, fallback)``: a :class:`StackFallbackAllocator`.

    Call ``.get()`` once on the result for the allocator::

        allocator = zheap.stack_fallback(4096, zheap.c_allocator).get()
    """
    return StackFallbackAllocator(size, fallback)


__all__ = [
    "Allocator",
    "AllocatorContractError",
    "ArenaAllocator",
    "Block",
    "CAllocator",
    "CapsuleAllocator",
    "DebugAllocator",
    "DoubleFreeError",
    "FailingAllocator",
    "FixedBufferAllocator",
    "FixedBufferThreadSafeAllocator",
    "Check",
    "Event",
    "EventTrace",
    "InvalidFreeError",
    "LeakError",
    "LeakRecord",
    "MemoryPool",
    "MemoryPoolAligned",
    "MemoryPoolExtra",
    "PageAllocator",
    "RawCAllocator",
    "SbrkAllocator",
    "SmpAllocator",
    "StackFallbackAllocator",
    "StackFallbackInterface",
    "ThreadSafeAllocator",
    "Trace",
    "ValidationAllocator",
    "WasmAllocator",
    "ZH_VERSION",
    "ZigPanic",
    "__version__",
    "address_of",
    "block_of",
    "c_allocator",
    "default_query_page_size",
    "page_allocator",
    "page_size",
    "page_size_max",
    "page_size_min",
    "raw_c_allocator",
    "raw_c_max_alignment",
    "replay",
    "smp_allocator",
    "stack_fallback",
    "trace",
    "validation_wrap",
    "wasm_allocator",
]


#: Submodules ``zheap.NAME`` reaches without an import of its own (loaded on first use,
#: so ``import zheap`` imports neither matplotlib, Hypothesis nor numpy).
_SUBMODULES = ("examples", "lab", "numpy", "testing", "tracing", "viz")


def __getattr__(name: str) -> _Any:
    """Load a submodule on first use; resolve Zig 0.15.1's deprecated aliases."""
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    if name == "GeneralPurposeAllocator":
        _warnings.warn(
            "zheap.GeneralPurposeAllocator is deprecated, as in Zig: use zheap.DebugAllocator",
            DeprecationWarning,
            stacklevel=2,
        )
        return DebugAllocator
    raise AttributeError(f"module 'zheap' has no attribute {name!r}")


def __dir__() -> list[str]:
    """List the public names, the submodules loaded on first use, and the dunders."""
    return sorted({*globals(), *_SUBMODULES} - {"annotations"})
