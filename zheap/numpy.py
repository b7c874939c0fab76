"""numpy arrays in zheap memory: a data-memory handler (numpy's NEP 49) over an allocator.

::

    import numpy as np
    import zheap, zheap.numpy

    with zheap.ArenaAllocator() as arena, zheap.numpy.use(arena):
        a = np.zeros(1_000_000)     # a's data lives in the arena
        b = a * 2                   # so does b's

Rules, exactly:

- ``use(allocator)`` makes a handler over ``allocator`` numpy's current one for the
  block, and puts back the one before it on exit. numpy keeps its handler in a
  ``contextvars`` variable: the block covers the thread (or task) that entered it, not
  threads started inside it, which make arrays with numpy's default handler unless they
  enter ``use()`` themselves.
- Only allocators whose operations run no Python code qualify: numpy calls its allocator
  in the middle of its own C code (``ndarray.resize`` and ``__setstate__`` read the data
  pointer, reallocate, then store the new one), where Python code could free, view or
  rewrite the very array being moved. An allocator written in Python, a ``SbrkAllocator``
  with a Python ``sbrk``, and any allocator drawing from one of them (an arena over a
  Python allocator, say) are refused with ``ValueError``. Every other zheap allocator
  qualifies, thread-safe or not: ``DebugAllocator`` with its tracebacks, and
  ``FailingAllocator``, which makes numpy's allocations fail on cue.
- Every array whose data a handler allocated keeps the handler, and the handler keeps its
  allocator alive: an array that outlives the block is freed through the same allocator,
  in whichever thread drops it. Each handler call takes the GIL and the allocator stack's
  busy marks, as an operation from Python does.
- Array data pins the allocator: ``reset()``/``deinit()`` raise ``BufferError`` and change
  nothing while an array's data is in its memory (``lent(allocator)`` counts the blocks),
  as they do while a view is exported; ``DebugAllocator.raw_free`` refuses those blocks
  (``InvalidFreeError``, reason ``'in use by a numpy array'``).
- The allocator sees each array's data as one block of exactly the bytes numpy asks for
  (at least 1) at alignment 16, malloc's; the allocator keeps the lengths in a table
  (numpy's ``realloc`` does not pass the old one). ``calloc`` zeroes the bytes itself. An
  allocator whose ``max_alignment`` is under 16 is refused (``ValueError``).
- numpy expects no Python exception from its allocator. A failed allocation becomes
  numpy's own ``MemoryError``; if the reason was not out-of-memory (a deinitialized
  allocator), it is also reported through ``sys.unraisablehook``.
- numpy's blocks are not zheap views: ``Allocator.live`` does not count them and
  ``zheap.trace()`` does not record numpy's calls (it does record what they cause further
  down: an arena's chunk requests to its child); a ``DebugAllocator`` sees every one
  (``leaks()``, ``stats()``, ``layout()``, with Python tracebacks when it records traces).
  Its ``verbose_log`` lines for numpy's calls reach the ``zheap`` logger at the allocator's
  next operation from Python, since no Python code may run inside numpy's call; at most
  100000 records wait, and any beyond are logged as a count of lost reports.
- ``import zheap`` never imports numpy; ``use()`` and ``set_handler()`` import it
  (numpy 1.22 or later) and find its C API the way numpy's own ``import_array()`` does.
- A numpy behaviour to know: when the allocation in ``ndarray.__setstate__`` fails, numpy
  leaves the array with its new shape and no data, and reading it crashes. That is
  numpy's own (seen with numpy 2.4 and an object dtype; plain numpy does it too, given a
  large enough shape); a small
  ``FixedBufferAllocator`` makes the failure easy to reach, so do not unpickle into one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import _zheap

if TYPE_CHECKING:
    from typing_extensions import CapsuleType

    from ._zheap import Allocator

__all__ = ["handler", "lent", "set_handler", "use"]


def handler(allocator: Allocator) -> CapsuleType:
    """Make a numpy data-memory handler over ``allocator``: a capsule named ``"mem_handler"``.

    Its name (numpy's ``get_handler_name()``) is ``"zheap:"`` followed by the
    allocator's type. It keeps ``allocator`` alive while it lives; numpy keeps it alive
    while any array it allocated lives. Raises ``TypeError`` for an object that is not a
    ``zheap.Allocator``, ``ValueError`` for a deinitialized one or one that cannot align
    to 16 bytes.
    """
    return _zheap._numpy_handler(allocator)


def set_handler(h: CapsuleType | None) -> CapsuleType:
    """Make ``h`` the current context's numpy handler (numpy's ``PyDataMem_SetHandler``).

    ``None`` means numpy's default. Returns the handler it replaces (pass it back to
    restore it). Raises ``ImportError`` without numpy 1.22 or later, ``TypeError`` for
    anything but a ``"mem_handler"`` capsule or ``None``.
    """
    return _zheap._numpy_set_handler(h)


@contextlib.contextmanager
def use(allocator: Allocator) -> Iterator[Allocator]:
    """Allocate the data of the arrays numpy makes in this block from ``allocator``.

    Yields ``allocator``. On exit the previous handler is back, whether the block raised
    or not; the arrays made inside keep theirs (see the module's rules).
    """
    old = set_handler(handler(allocator))
    try:
        yield allocator
    finally:
        set_handler(old)


def lent(allocator: Allocator) -> int:
    """Count the array buffers numpy handlers hold in ``allocator``'s memory right now."""
    return _zheap._numpy_lent(allocator)
