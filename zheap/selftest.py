"""``python -m zheap selftest``: zheap's own hostile-API fuzzer.

zheap promises that Python code can never crash, hang or corrupt the interpreter
through its public API. This module attacks that promise::

    python -m zheap selftest                         # 20,000 calls on every core
    python -m zheap selftest --calls 200000 --seed 7 --jobs 2 --timeout 30

It builds random stacks of every allocator type (the C ones, the pools, and
allocators written in Python, including hostile ones that re-enter the stack,
raise, lie about addresses, release the GIL or collect garbage from inside their
methods), then runs random valid and invalid calls on them, with finalizers,
weakref callbacks, ``__index__`` bombs, exports (slices, numpy, ctypes,
PickleBuffer) and short phases of Python threads.

Every call is one line of Python run in a namespace of its own, so that the log
of an episode *is* a standalone reproduction script. A model shadows every live
view's bytes and checks after each call that nothing changed behind its back,
that live views never overlap, that dead views raise ValueError, that a call
which raised changed nothing, and that only documented exception types escape.

The campaign runs in child processes: a crash (a signal, a sanitizer report) or
a hang (no progress for ``--timeout`` seconds) is caught, counted and printed
with its reproduction script, as is every model violation. The last line is::

    selftest: N calls, C crashes, H hangs, V violations

and the exit status is 0 only when all three are 0.
"""

from __future__ import annotations

import argparse
import ctypes
import faulthandler
import gc
import hashlib
import json
import logging
import os
import pickle
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import zheap
from zheap.examples import FirstFitAllocator

np: Any
try:  # numpy is optional: exports through numpy arrays when it is there
    import numpy as np
except ImportError:  # pragma: no cover - depends on the environment
    np = None

__all__ = [
    "Bomb",
    "DOCUMENTED",
    "Entry",
    "Fuzzer",
    "Hostile",
    "HostileError",
    "IX",
    "PoolSub",
    "PySbrk",
    "SelftestFailure",
    "Violation",
    "act",
    "bind",
    "bomb",
    "cfill",
    "digest",
    "evil_ctype",
    "expect_raises",
    "fill",
    "log_hook",
    "main",
    "make_sbrk",
    "pattern",
    "release_objects",
    "threads",
    "touch_all",
    "wref",
]

# ============================================================================
# Runtime: what the generated statements call. A reproduction script does
# ``from zheap import selftest as S; S.bind(globals())`` and then runs the
# logged statements, so everything here must work without the fuzzer.
# ============================================================================


class HostileError(Exception):
    """Raised on purpose by a test allocator (a documented way for it to fail)."""


class SelftestFailure(AssertionError):
    """A check inside a runtime helper failed (threads phase, reproduction asserts)."""


@dataclass
class Entry:
    """One action run from Python code zheap called back (hook, finalizer...)."""

    src: str
    origin: str  # "hook:a3:alloc", "hook:sbrk", "finalizer", "weakref", "index", "lie:a3", ...
    exc: type[BaseException] | None
    message: str
    depth: int  # nesting of act() calls: 1 = directly inside the top-level call
    thread: str
    in_gc: bool = False  # ran while a collection ran: before, inside or after the operation


class _Runtime:
    """Module state of the runtime, in one object (bind() swaps the namespace)."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {}
        self.journal: list[Entry] = []
        self.keep: list[Any] = []  # weakrefs with callbacks, kept so that they fire
        self.stash: list[Any] = []  # objects evil code smuggled out
        self.depth = 0
        self.epoch = 0
        self.armed = True
        self.collecting = False  # a collection is running (_gc_phase)
        self.code: dict[str, types.CodeType] = {}
        self.verbose = False


RT = _Runtime()

#: Operations CPython 3.11 refuses while a garbage collection runs (README, rule 8).
_REFUSED_IN_GC = frozenset({"resize", "remap", "realloc", "reset", "deinit"})

#: The exception types zheap's API may raise (zheap's own derive from these).
DOCUMENTED: tuple[type[BaseException], ...] = (
    BufferError,
    RuntimeError,
    ValueError,
    TypeError,
    MemoryError,
    OverflowError,
    HostileError,
)

#: Subclasses of documented types that are nonetheless bugs when they escape.
UNDOCUMENTED_SUBCLASSES: tuple[type[BaseException], ...] = (
    RecursionError,
    NotImplementedError,
    UnicodeError,
)


def documented(exc: type[BaseException]) -> bool:
    """Whether ``exc`` is an exception type the public API may raise."""
    return issubclass(exc, DOCUMENTED) and not issubclass(exc, UNDOCUMENTED_SUBCLASSES)


def bind(namespace: dict[str, Any]) -> None:
    """Run actions in ``namespace`` (a reproduction script passes ``globals()``)."""
    RT.ns = namespace
    RT.epoch += 1
    RT.armed = True
    if _gc_phase not in gc.callbacks:  # an episode's gc.callbacks.clear() drops it
        gc.callbacks.insert(0, _gc_phase)


def disarm() -> None:
    """Stop running actions: the episode they were written for is over."""
    RT.armed = False


def _compile(src: str) -> types.CodeType:
    code = RT.code.get(src)
    if code is None:
        if len(RT.code) > 20000:
            RT.code.clear()
        code = RT.code[src] = compile(src, "<selftest>", "exec")
    return code


def _gc_phase(phase: str, info: dict[str, Any], rt: _Runtime = RT) -> None:
    """Follow the collections (gc.callbacks): what runs inside one has no fixed place."""
    rt.collecting = phase == "start"  # (rt bound early: at exit the module's globals go)


def act(src: str, origin: str, me: Any = None, epoch: int | None = None) -> None:
    """Run the statement ``src`` in the bound namespace; journal its outcome.

    Exceptions are recorded, never propagated: ``src`` runs from inside zheap
    (an allocator method, a finalizer), where the fuzzer checks the outcome later.
    """
    if not RT.armed or (epoch is not None and epoch != RT.epoch):
        return
    if me is not None:
        RT.ns["me"] = me
    RT.depth += 1
    in_gc = RT.collecting
    exc: type[BaseException] | None = None
    message = ""
    try:
        exec(_compile(src), RT.ns)
    except Exception as e:  # noqa: BLE001 -- recorded for the model
        exc, message = type(e), f"{type(e).__name__}: {e}"[:300]
        e.__traceback__ = None
    finally:
        RT.depth -= 1
    RT.journal.append(
        Entry(src, origin, exc, message, RT.depth + 1, threading.current_thread().name, in_gc)
    )
    if RT.verbose:
        print(f"    [{origin}] d={RT.depth + 1} {src} -> {message or 'ok'}", file=sys.stderr)


def pattern(n: int, seed: int) -> bytes:
    """``n`` bytes determined by ``seed`` (what fill() writes)."""
    if n <= 0:
        return b""
    head = hashlib.blake2b(seed.to_bytes(8, "little", signed=True), digest_size=64).digest()
    return (head * (n // 64 + 1))[:n]


def fill(view: Any, seed: int, start: int = 0, stop: int | None = None) -> None:
    """Write ``pattern(stop - start, seed)`` into ``view[start:stop]``."""
    n = len(view)
    stop = n if stop is None else stop
    data = pattern(stop - start, seed)
    if np is not None and isinstance(view, np.ndarray):
        # numpy reads a bytes object as one scalar (b'7' is the number 7): write the bytes
        view[start:stop] = np.frombuffer(data, dtype=view.dtype)
        return
    view[start:stop] = data


def cfill(obj: Any, seed: int) -> None:
    """Write ``pattern`` over a ctypes object's whole memory."""
    n = ctypes.sizeof(obj)
    if n:
        ctypes.memmove(ctypes.addressof(obj), pattern(n, seed), n)


def digest(obj: Any, n: int | None = None) -> str:
    """Hash the first ``n`` bytes of a buffer, short (reproduction asserts)."""
    data = bytes(obj)
    return hashlib.blake2b(data if n is None else data[:n], digest_size=8).hexdigest()


def expect_raises(src: str, allowed: tuple[type[BaseException], ...], ok: bool = False) -> None:
    """Run ``src``; fail unless it raises one of ``allowed`` (or succeeds, if ``ok``)."""
    try:
        exec(_compile(src), RT.ns)
    except allowed:
        return
    except Exception as e:
        raise SelftestFailure(f"{src!r} raised {type(e).__name__}: {e}; allowed: {allowed}") from e
    if not ok:
        raise SelftestFailure(f"{src!r} succeeded; it should have raised one of {allowed}")


def touch_all() -> None:
    """Read every buffer in the namespace (what the checker does after a step)."""
    # dict.copy(): no Python code runs while it copies (a finalizer adding a name while
    # the items are being listed would break the iteration)
    for name, obj in [*RT.ns.copy().items(), *(("stash", x) for x in RT.stash.copy())]:
        if name.startswith("__"):
            continue
        try:
            if isinstance(obj, memoryview) or (np is not None and isinstance(obj, np.ndarray)):
                bytes(obj)
            elif isinstance(obj, ctypes._SimpleCData | ctypes.Array | ctypes.Structure):
                bytes(memoryview(obj).cast("B"))
        except Exception:  # noqa: BLE001,S112 -- dead views raise; only crashes matter here
            continue


# --- allocators written in Python that misbehave on request --------------------------


class Hostile(FirstFitAllocator):
    """A first-fit allocator that runs armed plans from inside its methods.

    ``arm(method, kind, arg, after)``: on the ``after``-th next call of ``method``
    ("alloc", "resize", "remap", "free", "free_blocks" or "*"), do ``kind``:

    - ``"act"``: run the statement ``arg`` (re-enter the stack, free, reset...);
    - ``"sleep"``: release the GIL (``time.sleep(0)``); ``"gc"``: ``gc.collect()``;
    - a lie instead of the honest answer: ``"raise"``, ``"misaligned"``,
      ``"outside"``, ``"overlap"``, ``"huge"``, ``"negative"``, ``"nonint"``,
      ``"bool"`` (alloc/remap), ``"true"``, ``"badbool"``, ``"actbool"`` (resize),
      ``"garbage"`` (free_blocks).
    """

    max_alignment = 4096
    top = 0  # the end of the highest region given to add_region(): "outside" lies past it

    def __init__(
        self, capacity: int = 1 << 16, backing: zheap.Allocator | None = None, name: str = "h"
    ) -> None:
        """Take ``capacity`` bytes from ``backing`` (the page allocator) as the region."""
        super().__init__(capacity, backing)
        self.lo = self.free_starts[0]
        self.hi = self.lo + capacity
        self.name = name
        self.plan: list[list[Any]] = []
        self.epoch = RT.epoch

    def add_region(self, memory: Any, /) -> int:
        """Register ``memory`` with zheap, and keep the "outside" lie outside it too."""
        base = super().add_region(memory)
        with memoryview(memory) as m:
            self.top = max(self.top, base + m.nbytes)
        return base

    def arm(self, method: str, kind: str, arg: Any = None, after: int = 0) -> None:
        """Schedule ``kind`` for the ``after``-th next call of ``method``."""
        self.plan.append([method, after, kind, arg])

    def _fire(self, method: str) -> tuple[str, Any] | None:
        lie: tuple[str, Any] | None = None
        for p in list(getattr(self, "plan", ())):
            if p[0] not in (method, "*"):
                continue
            if p[1] > 0:
                p[1] -= 1
                continue
            at = next((i for i, q in enumerate(self.plan) if q is p), None)
            if at is None:
                continue  # a call nested in an earlier plan's act (a finalizer's) took it
            del self.plan[at]
            kind, arg = p[2], p[3]
            if kind == "act":
                act(arg, f"hook:{self.name}:{method}", self, self.epoch)
            elif kind == "sleep":
                time.sleep(0)
            elif kind == "gc":
                gc.collect()
            elif lie is None:
                lie = (kind, arg)
        if lie is not None and RT.armed and self.epoch == RT.epoch:
            RT.journal.append(
                Entry(f"{method}:{lie[0]}", f"lie:{self.name}", None, "", RT.depth + 1, "")
            )
        return lie

    def _used_address(self) -> int | None:
        """Return an address some live block covers, if any."""
        if not self.free_starts or self.free_starts[0] > self.lo:
            return self.lo if self.free_starts or self.lo < self.hi else None
        end = self.free_starts[0] + self.free_lengths[self.free_starts[0]]
        return end if end < self.hi else None

    def _lie_address(self, kind: str, alignment: int) -> Any:
        if kind == "raise":
            raise HostileError(f"{self.name}: told to raise")
        if kind == "misaligned" and alignment > 1:
            return ((self.lo + alignment - 1) & -alignment) + 1
        if kind == "overlap":
            used = self._used_address()
            if used is not None:
                # rounded down to the alignment it may land in free space, where it is no
                # lie at all: then the used address itself (a misaligned one, if need be)
                aligned = used & -alignment
                free = any(a <= aligned < a + self.free_lengths[a] for a in self.free_starts)
                return aligned if aligned >= self.lo and not free else used
        if kind == "huge":
            return 2**64 + 4096
        if kind == "negative":
            return -4096
        if kind == "nonint":
            return "an address"
        if kind == "bool":
            return True
        # "outside", and the fallbacks: past every region, or zheap may rightly accept it
        # (a region add_region() gave can lie just above the first one)
        return ((self.top + alignment - 1) & -alignment) + 4096 * alignment

    def _alloc(self, length: int, alignment: int) -> Any:
        with _as_hostile():
            return self._alloc_(length, alignment)

    def _resize(self, address: int, length: int, alignment: int, new_length: int) -> Any:
        with _as_hostile():
            return self._resize_(address, length, alignment, new_length)

    def _remap(self, address: int, length: int, alignment: int, new_length: int) -> Any:
        with _as_hostile():
            return self._remap_(address, length, alignment, new_length)

    def _free(self, address: int, length: int, alignment: int) -> None:
        with _as_hostile():
            self._free_(address, length, alignment)

    def _free_blocks(self) -> Any:
        with _as_hostile():
            return self._free_blocks_()

    def __del__(self) -> None:
        """Run the actions armed for "del" (a finalizer on a Python allocator)."""
        self._fire("del")

    def _alloc_(self, length: int, alignment: int) -> Any:
        lie = self._fire("alloc")
        if lie is not None:
            return self._lie_address(lie[0], alignment)
        return super()._alloc(length, alignment)

    def _resize_(self, address: int, length: int, alignment: int, new_length: int) -> Any:
        lie = self._fire("resize")
        if lie is not None:
            kind = lie[0]
            if kind == "raise":
                raise HostileError(f"{self.name}: told to raise")
            if kind == "badbool":
                return _BadBool(None)
            if kind == "actbool":
                return _BadBool(lie[1])
            return True  # "true": claim success whatever the truth
        return super()._resize(address, length, alignment, new_length)

    def _remap_(self, address: int, length: int, alignment: int, new_length: int) -> Any:
        lie = self._fire("remap")
        if lie is not None:
            bad = self._lie_address(lie[0], alignment)
            if isinstance(bad, int) and address <= bad < address + max(length, 1):
                # the block's own memory: a remap in place is no lie (the only live block)
                bad = self._lie_address("outside", alignment)
            return bad
        return super()._remap(address, length, alignment, new_length)

    def _free_(self, address: int, length: int, alignment: int) -> None:
        lie = self._fire("free")
        if not hasattr(self, "hi"):
            return  # the collector cleared this object while a parent still frees into it
        if address < self.lo or address >= self.hi:
            return  # not ours (a lie zheap should never have accepted)
        super()._free(address, length, alignment)
        if lie is not None:
            raise HostileError(f"{self.name}: told to raise from _free")

    def _free_blocks_(self) -> Any:
        lie = self._fire("free_blocks")
        if lie is not None:
            kind = lie[0]
            if kind == "raise":
                raise HostileError(f"{self.name}: told to raise")
            if kind == "huge":
                return [(2**70, 5)]
            if kind == "negative":
                return [(-5, -5)]
            return [("garbage", None), 7]
        return super()._free_blocks()


def _raised_by_test_allocator(e: BaseException) -> bool:
    """Whether ``e`` was raised inside an example allocator's own Python code."""
    tb = e.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last is not None and os.sep + "examples" + os.sep in last


class _as_hostile:
    """Turn any error inside a test allocator into HostileError (it is the allocator's own)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: Any, ev: Any, tb: Any) -> None:
        if ev is not None and isinstance(ev, Exception) and not isinstance(ev, HostileError):
            raise HostileError(f"the test allocator failed: {type(ev).__name__}: {ev}") from ev


class _BadBool:
    """A result whose truth value raises, or runs an action first."""

    def __init__(self, src: str | None) -> None:
        self.src = src

    def __bool__(self) -> bool:
        if self.src is None:
            raise HostileError("__bool__ told to raise")
        act(self.src, "bool")
        return True


class PySbrk:
    """A Python ``sbrk`` for SbrkAllocator, honest unless armed like Hostile."""

    def __init__(self, name: str = "sbrk") -> None:
        """Start with no region (``make_sbrk`` wires it); ``name`` is its allocator's."""
        self.name = name
        self.region: tuple[int, int] = (0, 0)
        self.brk = 0
        self.plan: list[list[Any]] = []
        self.epoch = RT.epoch

    def arm(self, kind: str, arg: Any = None, after: int = 0) -> None:
        """Schedule ``kind`` for the ``after``-th next call.

        Kinds: "act", "raise", "below", "unaligned", "outside", "nonint", "fail",
        "sleep", "gc".
        """
        self.plan.append(["sbrk", after, kind, arg])

    def __call__(self, increment: int) -> Any:
        """Return the old break and move it by ``increment``, or -1."""
        lie = None
        for p in list(self.plan):
            if p[1] > 0:
                p[1] -= 1
                continue
            at = next((i for i, q in enumerate(self.plan) if q is p), None)
            if at is None:
                continue  # a call nested in an earlier plan's act took it
            del self.plan[at]
            if p[2] == "act":
                act(p[3], f"hook:{self.name}:sbrk", self, self.epoch)
            elif p[2] == "sleep":
                time.sleep(0)
            elif p[2] == "gc":
                gc.collect()
            elif lie is None:
                lie = p[2]
        if lie is not None and RT.armed and self.epoch == RT.epoch:
            RT.journal.append(Entry(f"sbrk:{lie}", "lie:sbrk", None, "", RT.depth + 1, ""))
        lo, hi = self.region
        if self.brk == 0:
            self.brk = (lo + 0xFFFF) & ~0xFFFF
        if lie == "raise":
            raise HostileError("sbrk told to raise")
        if lie == "below":
            return lo - 0x10000
        if lie == "unaligned":
            return self.brk + 8
        if lie == "outside":
            return hi + 0x10000
        if lie == "nonint":
            return "brk"
        if lie == "fail" or self.brk + increment > hi:
            return -1
        old = self.brk
        self.brk += increment
        return old


def make_sbrk(capacity: int = 1 << 22, name: str = "sbrk") -> zheap.SbrkAllocator:
    """Make an SbrkAllocator over a :class:`PySbrk` (reach it as ``allocator.sbrk``)."""
    fn = PySbrk(name)
    a = zheap.SbrkAllocator(capacity=capacity, sbrk=fn)
    fn.region = a.region
    return a


class PoolSub(zheap.MemoryPool):
    """A MemoryPool subclass whose ``__init__`` runs ``PoolSub.on_init`` once (as ``me``)."""

    on_init: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Run the pending ``on_init`` action with the new pool as ``me``."""
        src, PoolSub.on_init = PoolSub.on_init, None
        if src is not None:
            act(src, "pool_init", self)


# --- objects that run actions at awkward moments ---------------------------------------


class Bomb:
    """An object in a reference cycle whose ``__del__`` runs an action (a GC bomb)."""

    def __init__(self, src: str, held: tuple[Any, ...]) -> None:
        """Hold ``held`` until collected; run ``src`` when finalized."""
        self.src = src
        self.held = held
        self.cycle = self
        self.epoch = RT.epoch

    def __del__(self) -> None:
        """Run the action (from the garbage collector, at any allocation)."""
        act(self.src, "finalizer", None, self.epoch)


def bomb(src: str, *held: Any) -> None:
    """Drop a :class:`Bomb` holding ``held``: it goes off at the next collection."""
    Bomb(src, held)


class _LogHook(logging.Handler):
    """A handler on the "zheap" logger that runs an action once, on the next record."""

    def __init__(self, src: str) -> None:
        super().__init__(logging.DEBUG)
        self.src: str | None = src
        self.epoch = RT.epoch

    def emit(self, record: logging.LogRecord) -> None:
        src, self.src = self.src, None
        if src is not None:
            act(src, "log", None, self.epoch)


def log_hook(src: str) -> None:
    """Run ``src`` from the next record a DebugAllocator logs (a logging handler)."""
    logger = logging.getLogger("zheap")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(_LogHook(src))


def wref(obj: Any, src: str) -> None:
    """Run ``src`` when ``obj`` dies (a weakref callback)."""
    epoch = RT.epoch
    RT.keep.append(weakref.ref(obj, lambda _r: act(src, "weakref", None, epoch)))


class IX:
    """An object with ``__index__``: returns ``value`` after running ``src``."""

    def __init__(self, value: int, src: str | None = None) -> None:
        """``value`` is what ``__index__`` returns."""
        self.value = value
        self.src = src
        self.epoch = RT.epoch

    def __index__(self) -> int:
        """Run the action, then return the value."""
        if self.src is not None:
            act(self.src, "index", None, self.epoch)
        return self.value

    def __repr__(self) -> str:
        return f"IX({self.value!r}, {self.src!r})"


def evil_ctype(base: str, mode: str, src: str | None = None) -> type:
    """Make a ctypes type whose ``from_buffer`` runs ``src`` and then misbehaves.

    ``base`` names a type in ctypes, or "char16" for ``c_char * 16``. By ``mode``:
    "plain" (behaves), "stash" (keeps the view it was given in ``S.RT.stash``),
    "view" (returns that view instead of a ctypes object), "raise", "other"
    (returns a bytearray).
    """
    parent: Any = ctypes.c_char * 16 if base == "char16" else getattr(ctypes, base)
    epoch = RT.epoch

    class Evil(parent):  # type: ignore[misc]
        @classmethod
        def from_buffer(cls, source: Any, offset: int = 0) -> Any:
            if src is not None:
                act(src, "from_buffer", None, epoch)
            if mode in ("stash", "view"):
                RT.stash.append(source)
                if mode == "view":
                    return source
            if mode == "raise":
                raise HostileError("from_buffer told to raise")
            if mode == "other":
                return bytearray(8)
            return type(parent).from_buffer(cls, source, offset)

    return Evil


def release_objects(obj: Any) -> None:
    """Release every memoryview a ctypes object keeps in ``_objects``."""
    objs = obj._objects
    views = [objs] if isinstance(objs, memoryview) else list((objs or {}).values())
    for v in views:
        if isinstance(v, memoryview):
            v.release()


# --- the threads phase ---------------------------------------------------------------------


def threads(
    allocators: list[Any], n: int, seed: int, nthreads: int = 2, interval: float = 1e-6
) -> None:
    """Run ``nthreads`` threads of ``n`` calls each on shared ``allocators``.

    The calls are alloc/write/check/realloc/free; threads switch every ``interval``
    seconds. Each thread checks its own blocks' bytes; SelftestFailure lists what broke.
    Every block a thread allocates is freed before it ends.
    """
    problems: list[str] = []
    old = sys.getswitchinterval()

    def body(k: int) -> None:
        rng = random.Random(seed * 31 + k)
        mine: list[tuple[Any, Any, int]] = []  # (allocator, view, seed)
        try:
            for i in range(n):
                r = rng.random()
                try:
                    if r < 0.4 or not mine:
                        a = rng.choice(allocators)
                        v = a.alloc(rng.choice((1, 8, 24, 100, 1000, 5000)), rng.choice((1, 8, 16)))
                        s = rng.getrandbits(30)
                        fill(v, s)
                        mine.append((a, v, s))
                    elif r < 0.7:
                        a, v, s = mine.pop(rng.randrange(len(mine)))
                        a.free(v)
                    elif r < 0.85:
                        j = rng.randrange(len(mine))
                        a, v, s = mine[j]
                        nv = a.realloc(v, rng.choice((1, 16, 200, 3000)))
                        s2 = rng.getrandbits(30)
                        fill(nv, s2)
                        mine[j] = (a, nv, s2)
                    else:
                        for _, v, s in mine:
                            if bytes(v) != pattern(len(v), s):
                                problems.append(f"thread {k} op {i}: a block's bytes changed")
                except Exception as e:  # noqa: BLE001 -- judged below
                    if not documented(type(e)) and not _raised_by_test_allocator(e):
                        problems.append(f"thread {k} op {i}: {type(e).__name__}: {e}")
            for _, v, s in mine:
                if bytes(v) != pattern(len(v), s):
                    problems.append(f"thread {k}: a block's bytes changed")
        finally:
            for a, v, _ in mine:
                try:
                    a.free(v)
                except Exception:  # noqa: BLE001,S110 -- best effort
                    pass

    sys.setswitchinterval(interval)
    try:
        ts = [
            threading.Thread(target=body, args=(k,), name=f"selftest-{k}") for k in range(nthreads)
        ]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        sys.setswitchinterval(old)
    if problems:
        raise SelftestFailure("; ".join(problems[:5]))


def teardown(namespace: dict[str, Any], careful: bool = False) -> None:
    """End an episode: drop every object it made, collect, and disarm the actions.

    Garbage goes first while the views are still alive, then names newest first (exports
    before their views): CPython 3.11 crashes collecting a memoryview in one cycle with
    an object exporting it (PickleBuffer), which is not zheap's to fix. ``careful``
    collects the views (leaked blocks) before any allocator goes, so that no allocator
    is collected in one cycle with the allocator it draws from.
    """
    for t in [v for v in namespace.values() if isinstance(v, zheap.EventTrace)]:
        t.stop()
    RT.keep.clear()
    RT.stash.clear()
    logger = logging.getLogger("zheap")
    for h in [h for h in logger.handlers if isinstance(h, _LogHook)]:
        logger.removeHandler(h)
    logger.setLevel(logging.NOTSET)
    gc.collect()
    names = [n for n in namespace if not n.startswith("__") and n not in _PRELUDE_NAMES]
    names.sort(key=lambda n: int(re.sub(r"\D", "", n) or 0), reverse=True)
    allocators: list[str] = []
    if careful:
        kinds = (zheap.Allocator, zheap.MemoryPool, zheap.StackFallbackAllocator)
        allocators = [n for n in names if isinstance(namespace[n], kinds)]
        names = [n for n in names if n not in allocators]
    for name in names:
        del namespace[name]
    if careful:
        gc.collect()
        for name in allocators:
            del namespace[name]
    PoolSub.on_init = None
    gc.collect()
    gc.collect()
    gc.set_threshold(700, 10, 10)
    disarm()
    RT.journal.clear()


_PRELUDE = """\
import ctypes, gc, pickle, sys, weakref
import zheap
import zheap.examples, zheap.testing
from zheap import selftest as S
S.bind(globals())
np = S.np
"""
_PRELUDE_NAMES = {"ctypes", "gc", "pickle", "sys", "weakref", "zheap", "S", "np"}

# ============================================================================
# The model
# ============================================================================

_MUTATING = {
    "alloc",
    "free",
    "resize",
    "remap",
    "realloc",
    "dupe",
    "create",
    "destroy",
    "reset",
    "deinit",
    "pcreate",
    "pdestroy",
    "preheat",
    "raw_alloc",
    "raw_free",
}


@dataclass
class Act:
    """One statement of the action language: its source and what the model needs."""

    op: str
    src: str
    on: tuple[str, ...] = ()  # allocators whose operation it is
    kw: dict[str, Any] = field(default_factory=dict)

    @property
    def mutating(self) -> bool:
        """Whether it is an allocator call that changes state (the re-entrancy rule)."""
        return self.op in _MUTATING


@dataclass
class Exp:
    """What the model allows an action to do."""

    ok: bool = True
    errs: tuple[type[BaseException], ...] = ()
    vague: bool = False  # any documented outcome; resync from the objects afterwards
    why: str = ""


@dataclass
class AM:
    """An allocator (or pool) of the episode."""

    name: str
    kind: str
    children: list[str]
    max_align: int
    reset: str = ""  # "fba", "arena", "pool", or "" (no reset)
    deinit: str = ""  # "arena", "pool", "debug", or ""
    pool: bool = False
    baseline: int = 0
    closed: bool = False
    extra: int = 0  # views of it held inside other objects (regions of Python allocators)
    capsules: int = 0  # bare capsules of it in the namespace
    uncertain: bool = False  # live count no longer modelled
    temp_pins: bool = False  # a throwaway wrapper may still draw from it (until collected)
    # CPython 3.11: a view copied from one of its views while a collection freed that view
    # holds the memory (a "freeing" block) until the copy goes
    late_copies: bool = False
    hostile: bool = False
    tainted: bool = False  # a Python allocator that lied: its bookkeeping is off from then on
    leaked: bool = False  # a block of it may be left allocated with nothing reaching it
    shared: bool = False  # a process-wide allocator: earlier episodes' garbage may go any time
    debug_cfg: dict[str, Any] = field(default_factory=dict)
    region_of: str = ""  # a Python allocator's region comes from this allocator


@dataclass
class VM:
    """A view (or ctypes object from create) the model shadows."""

    name: str
    alloc: str
    length: int
    align: int
    addr: int
    shadow: bytearray
    known: int = 0  # shadow[:known] is what the memory must hold
    alive: bool = True
    exports: int = 0
    maybe_exports: int = 0
    donated: bool = False  # handed to a FixedBufferAllocator: its contents are not ours
    forever: bool = False  # donated and gone from the model: counted in the baseline
    donee: str = ""  # the allocator it was handed to (the FBA, the Python allocator)
    cobj: bool = False
    destroyed: bool = False
    tampered: bool = False  # its ctypes object's _objects views were released
    released: bool = False  # released (v.release()) while an export of it lived: the block too


@dataclass
class EM:
    """An export of a view: a slice, memoryview, numpy array, ctypes object, PickleBuffer."""

    name: str
    view: str
    kind: str
    off: int
    length: int


@dataclass
class Violation:
    """A broken promise, with what reproduces it."""

    kind: str
    message: str
    statement: str = ""
    assert_src: str = ""
    repro: str = ""

    def signature(self) -> str:
        """Return what two reports of the same bug have in common."""
        return f"{self.kind}: {re.sub(r'0x[0-9a-f]+|[0-9]+', 'N', self.message)[:120]}"


class _EndEpisode(Exception):
    """A violation ended the episode (the model is unreliable from there on)."""


SIZES = (
    0,
    1,
    2,
    3,
    7,
    8,
    15,
    16,
    24,
    31,
    32,
    48,
    63,
    64,
    100,
    127,
    128,
    200,
    255,
    256,
    500,
    512,
    1000,
    1024,
    2048,
    4000,
    4096,
    4097,
    8192,
    10000,
    16384,
    65536,
    65537,
    100000,
    131072,
    262144,
    300000,
)
ALIGNS = (1, 1, 1, 2, 4, 8, 8, 16, 16, 32, 64, 128, 256, 4096, 8192, 65536)
MODES = ("free_all", "retain_capacity", "retain_with_limit")


def _is_pow2(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x > 0 and x & (x - 1) == 0


class Fuzzer:
    """One worker's episodes: random stacks, random calls, a model checking each call."""

    def __init__(
        self,
        seed: int,
        *,
        log: Callable[[str], None] | None = None,
        strict_reentry: bool = True,
        verbose: bool = False,
        skip: set[str] | None = None,
    ) -> None:
        """Drive an episode by ``seed``; ``log`` gets every line before it runs."""
        self.rng = random.Random(seed)
        self.skip = skip or set()
        self.seed = seed
        self.log = log or (lambda line: None)
        self.strict_reentry = strict_reentry
        self.verbose = verbose
        self.ns: dict[str, Any] = {}
        self.allocs: dict[str, AM] = {}
        self.views: dict[str, VM] = {}
        self.exports: dict[str, EM] = {}
        self.limbo: list[tuple[Any, str]] = []  # (weakref or None, allocator) of dropped views
        self.limbo_cobjs: set[str] = set()  # allocators whose dropped ctypes objects may live on
        self.raws: dict[str, tuple[str, int, int, int]] = {}  # name -> (alloc, addr, len, align)
        # views dropped from the namespace while an export of them lived (a finalizer made
        # the export in the very statement that dropped the view): the export still reads
        # their bytes and pins their block
        self.orphans: dict[str, VM] = {}
        # the views the running statement frees, moves or retires: Python code running
        # inside it sees them released (rule 4; a reset retires its views before it frees)
        self.held: set[str] = set()
        # the view the running statement reads while Python code runs inside it (dupe's
        # source, exported from before its alloc to after its copy): pinned (rule 2)
        self.pinned: VM | None = None
        self.deferred: list[tuple[set[str], list[str]]] | None = None  # resyncs, see process
        self.capsules: dict[str, str] = {}
        self.traces: dict[str, str] = {}  # trace name -> allocator
        self.actions: dict[str, Act] = {}
        self.lines: list[str] = []
        self.raised: set[int] = set()  # indexes of lines that raised
        self.calls = 0
        self.violations: list[Violation] = []
        self.counter = 0
        self.current = ""

    # --- names and the namespace -------------------------------------------------

    def fresh(self, prefix: str) -> str:
        """Return a new variable name."""
        self.counter += 1
        return f"{prefix}{self.counter}"

    def start(self) -> None:
        """Run the prelude in a fresh namespace."""
        exec(_PRELUDE, self.ns)

    def script(self, upto: int | None = None, extra: Iterable[str] = ()) -> str:
        """Return the episode so far as a standalone Python script."""
        body = self.lines if upto is None else self.lines[:upto]
        out = [_guarded(src) if i in self.raised else src for i, src in enumerate(body)]
        flags = (f" --skip {','.join(sorted(self.skip))}" if self.skip else "") + (
            "" if self.strict_reentry else " --lenient"
        )
        head = (
            f"# zheap selftest reproduction: episode seed {self.seed}\n"
            f"# in process: python -m zheap selftest --episode {self.seed}{flags}\n{_RUN_NOTE}"
        )
        return head + _PRELUDE + "\n".join([*out, *extra]) + "\n"

    # --- running statements ---------------------------------------------------------

    def run(self, a: Act) -> None:
        """Run one statement and check everything the model knows afterwards."""
        exp = self.expect(a)
        busy = self.busy(a.on)
        self.current = a.src
        self.held = set()
        pinned = self.views.get(a.kw.get("pins", ""))
        self.pinned = pinned if pinned is not None and pinned.alive else None
        if a.op in ("free", "pdestroy", "resize", "remap", "realloc") and "errs" not in a.kw:
            self.held = {a.kw.get("v", "")}
        elif a.op in ("reset", "deinit") and a.on and a.on[0] in self.allocs:
            mine = {a.on[0], *self.interfaces(a.on[0])}
            self.held = {v.name for v in self.views.values() if v.alloc in mine}
        self.lines.append(a.src)
        self.log(f"{a.src}  # {a.op}")
        if self.verbose:
            print(f"  {a.src}", file=sys.stderr)
        RT.journal.clear()
        gc.enable()
        exc: type[BaseException] | None = None
        message = ""
        try:
            exec(_compile(a.src), self.ns)
        except Exception as e:  # noqa: BLE001 -- judged by the model
            exc, message = type(e), f"{type(e).__name__}: {e}"[:400]
            if not documented(exc) and _raised_by_test_allocator(e):
                exc = HostileError  # the example allocators' own failure, not zheap's
            e.__traceback__ = None
            del e
        finally:
            gc.disable()
        self.calls += 1
        if exc is not None:
            self.raised.add(len(self.lines) - 1)
            self.log(f"# raised {exc.__name__}")
            if self.verbose:
                print(f"    -> {message}", file=sys.stderr)
        entries, RT.journal[:] = list(RT.journal), []
        if any(
            e.origin == "log" and (x := self.actions.get(e.src)) is not None and x.mutating
            for e in entries
        ):
            # a log handler ran when the operation ended (a DebugAllocator delivers its
            # records then) and reset, deinitialized or freed: the view the statement just
            # got may be retired before its next part (S.fill) touches it
            exp = Exp(ok=exp.ok, errs=(*exp.errs, ValueError), vague=exp.vague, why=exp.why)
        before = set(self.views)
        disturbed, lie_top = self.process(entries, busy)
        if (
            lie_top
            and all(e.origin.startswith("lie:") for e in entries)  # nothing else interfered
            and exc is None
            and a.op in ("alloc", "realloc", "remap", "dupe", "create", "pcreate")
        ):
            # only alloc/remap lies must fail; a resize lie may be accepted
            if any(
                e.origin.startswith("lie:") and not e.src.startswith(("resize", "free"))
                for e in entries
            ):
                self.violate(
                    "lie-accepted",
                    f"{a.src!r} succeeded although a Python allocator returned an invalid "
                    f"address ({', '.join(e.src for e in entries if e.origin.startswith('lie:'))})",
                    f"assert False, {'the lie was accepted: ' + a.src!r}",
                )
        if disturbed or lie_top:
            exp = Exp(vague=True, errs=exp.errs)  # (types it names stay allowed)
        self.judge(a, exp, exc, message, top=True)
        self.apply(a, exc, vague=exp.vague)
        if a.op in ("reset", "deinit") and exc is None:
            # a finalizer's alloc in this statement may have run after the reset (while
            # its references were dropped): then its view lives on, in a fresh chunk
            for n in set(self.views) - before:
                if not self.views[n].cobj:
                    self.views[n].alive = self.probe(n)
        self.log("# check")
        self.check()

    def process(self, entries: list[Entry], busy: set[str]) -> tuple[bool, bool]:
        """Apply the actions zheap ran us back for during a statement.

        Resyncs (believing the objects) wait for the end: the objects show the state after
        the whole statement, not after the entry being applied. After an entry whose
        outcome the model could not predict, the next ones are only checked for
        undocumented exceptions.
        """
        self.deferred = []
        pin = self.pinned
        if pin is not None:
            pin.exports += 1  # while the entries ran
        try:
            return self._process(entries, busy)
        finally:
            if pin is not None:
                pin.exports -= 1
            deferred, self.deferred = self.deferred, None
            for allocs, extra in deferred:
                self.resync(allocs, extra)

    def _process(self, entries: list[Entry], busy: set[str]) -> tuple[bool, bool]:
        disturbed = lie_top = fuzzy = False
        lied = any(e.origin.startswith("lie:") for e in entries)
        # the journal is in order of completion: entries deeper than the next one ran inside
        # it, before or after its own call (a weakref callback fired while a reset in an
        # __index__ dropped its references): that entry's outcome is not predictable
        had_children = [i > 0 and entries[i - 1].depth > e.depth for i, e in enumerate(entries)]
        for i, e in enumerate(entries):
            if had_children[i]:
                fuzzy = True
            if e.origin.startswith("lie:"):
                who = e.origin[4:]
                for am in self.allocs.values():
                    if am.name == who or (who == "sbrk" and am.kind == "pysbrk"):
                        am.tainted = True
                disturbed = True
                lie_top = lie_top or e.depth == 1
                continue
            a = self.actions.get(e.src)
            if a is None:
                disturbed = True
                continue
            if e.exc is NameError:
                continue  # what it names was dropped already
            if a.op == "gc":
                continue  # a collection inside a collection (a finalizer's) does nothing
            method = e.origin.split(":")[2] if e.origin.count(":") == 2 else ""
            # _free_blocks() is asked by layout()/stats(), which are no operation (the
            # stack is not busy); __del__ of a Python allocator is a finalizer
            outside_op = method == "free_blocks"
            nested = (
                e.depth > 1
                or e.thread != "MainThread"
                or not e.origin.startswith("hook")
                or method == "del"
                # a hook a collection ran (a garbage arena's teardown freeing into a Python
                # allocator) may have run before the statement's operation began
                or e.in_gc
            )
            # DebugAllocator's log records are delivered after its operation has ended: a
            # handler run directly by the statement (not from inside other Python code that
            # zheap called) is not inside any operation, so its calls are not re-entry
            after_op = e.origin == "log" and e.depth == 1 and e.thread == "MainThread"
            # a deinit of an allocator already deinitialized touches nothing (and a closed
            # allocator no longer draws from its child): a no-op, not re-entry
            noop = a.op == "deinit" and all(self.allocs[n].closed for n in a.on)
            # a hook of a Python allocator (or sbrk) fires inside an operation on it, whatever
            # the statement (a dropped ctypes object freed, a collection): it is busy too
            owner = e.origin.split(":")[1] if e.origin.startswith("hook:") else ""
            here = busy | (self.chain(owner) if owner in self.allocs and method != "del" else set())
            reentrant = (
                a.mutating
                and not after_op
                and not outside_op
                and not noop
                and bool(here & self.chain_all(a.on))
            )
            if reentrant:
                if (
                    e.exc is not None
                    and documented(e.exc)
                    and not issubclass(e.exc, zheap.LeakError)  # a deinit that happened
                    # a Python allocator's own error: it ran (outside the busy window, in
                    # the statement's preparation) and may have freed before raising
                    and not issubclass(e.exc, HostileError)
                ):
                    continue  # refused (RuntimeError, or an error it would raise anyway)
                if self.strict_reentry and not nested:
                    self.violate(
                        "reentry-accepted" if e.exc is None else "reentry-wrong-error",
                        f"a {a.op} re-entered from {e.origin} inside the operation on "
                        f"{', '.join(sorted(busy))} {'succeeded' if e.exc is None else e.message}; "
                        "it must raise RuntimeError and change nothing",
                        f"assert False, 're-entrant {a.op} was not refused'",
                    )
                self.apply(a, e.exc, vague=True)
                disturbed = fuzzy = True
                continue
            exp = self.expect(a)
            if lied or fuzzy:
                exp = Exp(vague=True)
            if a.kw.get("v") in self.held and not after_op:
                # inside the free/resize/remap/realloc of that very view, Python code sees it
                # released: no access, no export (ValueError)
                exp = Exp(ok=exp.ok, errs=(*exp.errs, ValueError), vague=exp.vague, why=exp.why)
            if after_op:
                # after the statement's operation: it may have freed, moved or closed what
                # the handler names, or dropped an export (ordering the model cannot see)
                exp = Exp(
                    ok=exp.ok or BufferError in exp.errs,
                    errs=(*exp.errs, BufferError, ValueError),
                    vague=exp.vague,
                    why=exp.why,
                )
            elif nested or e.origin in ("finalizer", "weakref", "index", "bool", "from_buffer"):
                # it may run inside the statement's operation (RuntimeError), and an export
                # dying with it may be released before or after it runs (BufferError)
                # ... and the view it names may have died earlier in the statement (ValueError)
                extra = (
                    (RuntimeError, BufferError, ValueError)
                    if e.origin in ("finalizer", "weakref", "log")
                    else (RuntimeError, ValueError)
                )
                exp = Exp(
                    ok=exp.ok or BufferError in exp.errs,
                    errs=(*exp.errs, *extra),
                    vague=exp.vague,
                    why=exp.why,
                )
            if sys.version_info < (3, 12) and a.op in _REFUSED_IN_GC:
                # CPython 3.11: any Python code zheap calls back (a hook, a finalizer, a log
                # handler) may run inside a collection, which refuses these (README rule 8)
                exp.errs = (*exp.errs, RuntimeError)
            if exp.ok and not self.expect(a).ok and a.op == "realloc":
                # refused for an export the model counts, which went first: then it ran, and
                # may have found no memory
                exp.errs = (*exp.errs, MemoryError)
            self.judge(a, exp, e.exc, e.message, top=False, origin=e.origin)
            vague = exp.vague or (e.exc is not None and issubclass(e.exc, RuntimeError))
            self.apply(a, e.exc, vague=vague)
            fuzzy = fuzzy or vague
            if (a.mutating or a.op in ("write", "export") or a.kw.get("vague")) and e.exc is None:
                disturbed = True
        return disturbed, lie_top

    def judge(
        self,
        a: Act,
        exp: Exp,
        exc: type[BaseException] | None,
        message: str,
        *,
        top: bool,
        origin: str = "",
    ) -> None:
        """Compare an outcome with what the model allows."""
        where = f" (from {origin})" if origin else ""
        # an undocumented type is a violation unless the model names it for this call
        # (AttributeError: a DebugAllocator's memory-limit properties without the limit);
        # the undocumented subclasses of documented types never pass
        named = not issubclass(exc or Exception, DOCUMENTED) and issubclass(
            exc or Exception, exp.errs
        )
        if exc is not None and not documented(exc) and not named:
            self.violate(
                "undocumented-exception",
                f"{a.src!r}{where} raised {message}",
                f"S.expect_raises({a.src!r}, S.DOCUMENTED, ok=True)" if top else "",
            )
        if exp.vague:
            return
        if exc is None and not exp.ok:
            self.violate(
                "should-have-raised",
                f"{a.src!r}{where} succeeded; expected {'/'.join(t.__name__ for t in exp.errs)}"
                f"{': ' + exp.why if exp.why else ''}",
                f"S.expect_raises({a.src!r}, {_tuple_src(exp.errs)})" if top else "",
            )
        elif exc is not None and not issubclass(exc, exp.errs):
            self.violate(
                "wrong-exception",
                f"{a.src!r}{where} raised {message}; expected "
                f"{'success' if exp.ok else ''}{'/' if exp.ok and exp.errs else ''}"
                f"{'/'.join(t.__name__ for t in exp.errs)}{': ' + exp.why if exp.why else ''}",
                f"S.expect_raises({a.src!r}, {_tuple_src(exp.errs)}, ok={exp.ok})" if top else "",
            )

    def violate(self, kind: str, message: str, assert_src: str = "") -> NoReturn:
        """Record a violation and end the episode."""
        lines = len(self.lines)
        v = Violation(kind, message, self.current, assert_src)
        v.repro = self.script(lines, [assert_src] if assert_src else [])
        self.violations.append(v)
        if self.verbose:
            print(f"VIOLATION {kind}: {message}", file=sys.stderr)
        raise _EndEpisode(kind)

    # --- model queries -----------------------------------------------------------------

    def chain(self, name: str) -> set[str]:
        """``name`` and every allocator it draws from, transitively."""
        out: set[str] = set()
        todo = [name]
        while todo:
            n = todo.pop()
            if n in out or n not in self.allocs:
                continue
            out.add(n)
            todo.extend(self.allocs[n].children)
        return out

    def chain_all(self, names: Iterable[str]) -> set[str]:
        """Return the union of the chains of ``names``."""
        out: set[str] = set()
        for n in names:
            out |= self.chain(n)
        return out

    def busy(self, names: Iterable[str]) -> set[str]:
        """Return the allocators busy while a statement on ``names`` runs."""
        return self.chain_all(names)

    def alive_views(self, alloc: str) -> list[VM]:
        """Return the live views (and ctypes objects) of ``alloc``, orphans included."""
        return [
            v
            for v in [*self.views.values(), *self.orphans.values()]
            if v.alloc == alloc and v.alive
        ]

    def vm(self, name: str) -> VM | None:
        """Return the model of the view ``name``, in the namespace or an orphan."""
        return self.views.get(name) or self.orphans.get(name)

    def interfaces(self, name: str) -> list[str]:
        """Return the thread_safe_allocator() interfaces of the FBA ``name`` (same state)."""
        if self.allocs[name].kind != "fba":
            return []
        return [d.name for d in self.allocs.values() if d.kind == "fba_ts" and name in d.children]

    def reached(self, name: str) -> tuple[str, str]:
        """Why reset/deinit of ``name`` must raise BufferError ("" if not), and why it may."""
        must = may = ""
        for i in self.interfaces(name):
            # the same state, not a drawer: its views, exports and drawers count as ours
            m2, y2 = self.reached(i)
            must, may = must or (m2 and f"{m2} (of the interface {i})"), may or y2
        for d in self.allocs.values():
            if d.kind == "fba_ts" and self.allocs[name].kind == "fba":
                continue
            if name in d.children and d.name != name:
                if not d.closed:
                    must = must or f"{d.name} ({d.kind}) draws from it"
                elif self.alive_views(d.name):
                    must = must or f"{d.name} ({d.kind}) is closed but its views still live"
                elif any(al == d.name for _, al in self.limbo):
                    may = may or f"{d.name} may still have a dropped live view"
        if name in self.limbo_cobjs:
            may = may or "a dropped ctypes object from create() may still be alive"
        am = self.allocs[name]
        if am.extra:
            must = must or "a Python allocator's region is one of its views"
        for v in [*self.views.values(), *self.orphans.values()]:
            if v.alloc == name and v.released:
                must = must or f"an export of the released {v.name} is alive"
        for v in self.alive_views(name):
            if v.cobj:
                must = must or f"the ctypes object {v.name} from create() is alive"
            elif v.exports or v.donated:
                must = must or f"{v.name} is exported"
            elif v.maybe_exports:
                may = may or f"{v.name} may still be exported"
        if am.capsules:
            may = may or "a capsule of it is alive"
        if am.temp_pins:
            may = may or "a throwaway wrapper may still draw from it"
        if am.late_copies:
            may = may or "a copy of a view freed during a collection may still be alive"
        return must, may

    def live_bounds(self, name: str) -> tuple[int, int]:
        """Return the range ``allocator.live`` must be in."""
        everything = [*self.views.values(), *self.orphans.values()]
        held = sum(1 for v in everything if v.alloc == name and v.released)
        n = self.allocs[name].baseline + len(self.alive_views(name)) + held
        return n, n + sum(1 for _, al in self.limbo if al == name)

    # --- expectations ---------------------------------------------------------------------

    def expect(self, a: Act) -> Exp:
        """Return what the model allows ``a`` to do now."""
        fn = getattr(self, f"exp_{a.op}", None)
        if fn is None:
            return Exp(vague=True)
        result: Exp = fn(a)
        # a Python allocator's constructor takes its region from region_of (not a child)
        drawn = [*a.on, *([a.kw["region_of"]] if a.kw.get("region_of") else [])]
        if any(self.allocs[n].tainted for n in self.chain_all(drawn)):
            # a Python allocator that lied before: its own books are wrong now, and zheap
            # catches what it hands out (AllocatorContractError) or it fails (HostileError)
            result.errs = (*result.errs, zheap.ZigPanic, HostileError, MemoryError)
        return result

    def _closed(self, name: str) -> bool:
        return self.allocs[name].closed

    def exp_alloc(self, a: Act) -> Exp:
        """alloc(length, alignment)."""
        al = self.allocs[a.on[0]]
        errs: tuple[type[BaseException], ...] = a.kw.get("errs", ())
        if al.closed:
            errs = (*errs, ValueError)
        if errs:
            return Exp(ok=False, errs=errs, why="invalid arguments or a closed allocator")
        return Exp(ok=True, errs=(MemoryError,))

    def _view_state(self, name: str, vname: str, fn: str) -> Exp | None:
        """Return the errors every call on an existing view shares, or None if it is usable."""
        if self._closed(name):
            return Exp(ok=False, errs=(ValueError,), why="closed allocator")
        v = self.views.get(vname)
        if v is None or not v.alive:
            return Exp(ok=False, errs=(ValueError,), why="dead view")
        if v.alloc != name:
            return Exp(ok=False, errs=(ValueError,), why="another allocator's view")
        if v.exports or v.donated:
            return Exp(ok=False, errs=(BufferError,), why="exported view")
        return None

    def _maybe(self, vname: str, exp: Exp) -> Exp:
        """Allow BufferError while exports dropped into a garbage cycle may live."""
        v = self.views.get(vname)
        if v is not None and v.maybe_exports and exp.ok:
            exp.errs = (*exp.errs, BufferError)
        return exp

    def exp_free(self, a: Act) -> Exp:
        """free(view) and pool.destroy(view) of a view the model knows."""
        if "errs" in a.kw:
            if self._sole_full_copy(a) is not None:
                # the view was released by its holder after the copy was made: the copy is
                # now the one view of the block, and frees it as the view alloc returned
                return Exp(ok=True, errs=a.kw["errs"], why="the sole copy of a released view")
            return Exp(ok=False, errs=a.kw["errs"])
        st = self._view_state(a.on[0], a.kw["v"], "free")
        return st or self._maybe(a.kw["v"], Exp(ok=True))

    exp_pdestroy = exp_free

    def _sole_full_copy(self, a: Act) -> VM | None:
        """Return the released view whose only export, ``a.kw["e"]``, is a full copy of it."""
        e = self.exports.get(a.kw.get("e", ""))
        v = self.vm(e.view) if e is not None else None
        if (
            e is None
            or v is None
            or not v.released
            or v.alloc != a.on[0]
            or e.kind != "mv"
            or e.off != 0
            or e.length != v.length
            or v.exports != 1
        ):
            return None
        return v

    def exp_resize(self, a: Act) -> Exp:
        """resize/remap/realloc(view, new_length)."""
        errs: tuple[type[BaseException], ...] = a.kw.get("errs", ())
        st = self._view_state(a.on[0], a.kw["v"], a.op)
        if errs:
            return Exp(ok=False, errs=(*errs, *(st.errs if st else ())))
        if st is not None:
            return st
        if a.op == "realloc" and a.kw["n"] != 0:
            return self._maybe(a.kw["v"], Exp(ok=True, errs=(MemoryError,)))
        return self._maybe(a.kw["v"], Exp(ok=True))

    exp_remap = exp_resize
    exp_realloc = exp_resize

    def exp_dupe(self, a: Act) -> Exp:
        """dupe(data)."""
        errs: tuple[type[BaseException], ...] = a.kw.get("errs", ())
        if self._closed(a.on[0]):
            errs = (*errs, ValueError)
        if errs:
            return Exp(ok=False, errs=errs)
        return Exp(ok=True, errs=(MemoryError,))

    def exp_create(self, a: Act) -> Exp:
        """create(ctype)."""
        if a.kw.get("evil"):
            return Exp(vague=True)
        errs: tuple[type[BaseException], ...] = a.kw.get("errs", ())
        if self._closed(a.on[0]):
            errs = (*errs, ValueError)
        if errs:
            return Exp(ok=False, errs=errs)
        if a.kw["align"] > self.allocs[a.on[0]].max_align:
            return Exp(ok=False, errs=(ValueError,))
        return Exp(ok=True, errs=(MemoryError,))

    def exp_destroy(self, a: Act) -> Exp:
        """destroy(obj)."""
        if "errs" in a.kw:
            return Exp(ok=False, errs=a.kw["errs"])
        if self._closed(a.on[0]):
            return Exp(ok=False, errs=(ValueError,))
        c = self.views.get(a.kw["v"])
        # (release_objects() cannot detach create()'s object from its memory any more: its
        # _b_base_ is a pointer no Python code can drop, so tampering changes nothing)
        if c is None or not c.alive:
            return Exp(ok=False, errs=(ValueError, TypeError))
        if c.alloc != a.on[0] or c.destroyed:
            return Exp(ok=False, errs=(ValueError,))
        return Exp(ok=True)

    def exp_reset(self, a: Act) -> Exp:
        """reset(mode, limit) of an FBA, arena or pool."""
        errs: tuple[type[BaseException], ...] = a.kw.get("errs", ())
        am = self.allocs[a.on[0]]
        if am.closed:
            errs = (*errs, ValueError)
        if errs:
            return Exp(ok=False, errs=errs)
        must, may = self.reached(a.on[0])
        if must:
            return Exp(ok=False, errs=(BufferError,), why=must)
        if may:
            return Exp(ok=True, errs=(BufferError,), why=may)
        return Exp(ok=True)

    def exp_deinit(self, a: Act) -> Exp:
        """deinit() of an arena, pool or DebugAllocator."""
        am = self.allocs[a.on[0]]
        if am.closed:
            return Exp(ok=True)
        must, may = self.reached(a.on[0])
        if am.deinit == "debug" and not must:
            # the rule of every deinit (BufferError while exported or drawn from, else
            # every view dies, leaked ones included); leaks raise LeakError if asked to
            errs: tuple[type[BaseException], ...] = (BufferError,) if may else ()
            if am.debug_cfg.get("raise_on_leak") and (
                self.alive_views(a.on[0])
                or any(r[0] == a.on[0] for r in self.raws.values())
                or am.leaked
                or am.uncertain
                or any(self.allocs[n].tainted for n in self.chain(a.on[0]))
            ):
                errs = (*errs, zheap.LeakError)
            return Exp(ok=True, errs=errs, why=may or "leaks")
        if must:
            return Exp(ok=False, errs=(BufferError,), why=must)
        if may:
            return Exp(ok=True, errs=(BufferError,), why=may)
        return Exp(ok=True)

    def exp_pcreate(self, a: Act) -> Exp:
        """pool.create()."""
        if self._closed(a.on[0]):
            return Exp(ok=False, errs=(ValueError,))
        return Exp(ok=True, errs=(MemoryError,))

    def exp_preheat(self, a: Act) -> Exp:
        """pool.preheat(n)."""
        errs: tuple[type[BaseException], ...] = a.kw.get("errs", ())
        if self._closed(a.on[0]):
            errs = (*errs, ValueError)
        if errs:
            return Exp(ok=False, errs=errs)
        return Exp(ok=True, errs=(MemoryError,))

    def exp_write(self, a: Act) -> Exp:
        """Expect a write through a view or an export to work on live views."""
        v = self.views.get(a.kw["v"])
        if "e" in a.kw:
            return Exp(ok=a.kw["e"] in self.exports, errs=(ValueError, TypeError))
        if v is None or not v.alive:
            return Exp(ok=False, errs=(ValueError,))
        return Exp(ok=True)

    def exp_read(self, a: Act) -> Exp:
        """Expect a read of a live view to work."""
        v = self.views.get(a.kw["v"])
        if a.kw.get("evil"):
            # v[i] = x: CPython looks i up in the view after __index__ ran (IndexError out
            # of bounds) and checks that the view is released only then (ValueError)
            return Exp(vague=True, errs=(IndexError,) if "write" in a.kw else ())
        if v is None or not v.alive:
            return Exp(ok=False, errs=(ValueError,))
        return Exp(ok=True, errs=a.kw.get("errs", ()))

    def exp_export(self, a: Act) -> Exp:
        """Expect an export of a live view to work."""
        v = self.views.get(a.kw["v"])
        if v is None or not v.alive:
            return Exp(ok=False, errs=(ValueError,))
        return Exp(ok=True)

    def exp_unexport(self, a: Act) -> Exp:
        """Releasing an export."""
        return Exp(ok=True)

    def exp_drop(self, a: Act) -> Exp:
        """``del`` of a view, ctypes object or export."""
        return Exp(ok=True)

    def exp_misc(self, a: Act) -> Exp:
        """Anything whose outcome is only checked for crashes and exception types."""
        return Exp(ok=True, errs=a.kw.get("errs", DOCUMENTED), vague=a.kw.get("vague", False))

    def exp_bad(self, a: Act) -> Exp:
        """Expect a call to raise one of kw['errs']."""
        return Exp(ok=False, errs=a.kw["errs"])

    def exp_new(self, a: Act) -> Exp:
        """Expect a constructor to work (or raise kw['errs'])."""
        errs: tuple[type[BaseException], ...] = a.kw.get("errs", ())
        if any(self._closed(c) for c in a.kw.get("children", ()) if c in self.allocs):
            errs = (*errs, ValueError)
        if errs:
            return Exp(ok=a.kw.get("may_ok", False), errs=errs)
        return Exp(ok=True, errs=a.kw.get("allow", ()))

    def exp_raw_alloc(self, a: Act) -> Exp:
        """DebugAllocator.raw_alloc."""
        errs: tuple[type[BaseException], ...] = a.kw.get("errs", ())
        if self._closed(a.on[0]):
            errs = (*errs, ValueError)
        if errs:
            return Exp(ok=False, errs=errs)
        return Exp(ok=True, errs=(MemoryError,))

    def exp_raw_free(self, a: Act) -> Exp:
        """DebugAllocator.raw_free."""
        if self._closed(a.on[0]):
            return Exp(ok=False, errs=(ValueError,))
        drawers = [d for d in self.allocs.values() if a.on[0] in d.children]
        if any(not d.closed or self.alive_views(d.name) for d in drawers):
            return Exp(ok=False, errs=(BufferError,))
        am = self.allocs[a.on[0]]
        kind = a.kw["kind"]
        if am.temp_pins or am.capsules:
            # a throwaway wrapper (or one made from a capsule) may still draw from it
            errs = (BufferError,) if kind == "exact" else (BufferError, ValueError)
            return Exp(ok=kind != "view", errs=errs, vague=kind == "wrong")
        if kind == "exact":
            return Exp(ok=True)
        if kind == "view":
            return Exp(ok=False, errs=(ValueError,), why="the memory of a live view")
        return Exp(ok=True, errs=(ValueError,), vague=kind == "wrong")

    # --- applying outcomes ---------------------------------------------------------------

    def apply(self, a: Act, exc: type[BaseException] | None, *, vague: bool) -> None:
        """Update the model with what a statement did."""
        fn = getattr(self, f"app_{a.op}", None)
        if fn is not None:
            fn(a, exc, vague)
        elif vague:
            self.resync(self.chain_all(a.on))

    def probe(self, name: str) -> bool:
        """Whether the view ``name`` can be accessed (the ground truth)."""
        obj = self.ns.get(name)
        if obj is None:
            return False
        if isinstance(obj, memoryview):
            try:
                len(obj)
                return True
            except ValueError:
                return False
        return True

    def resync(self, allocs: set[str], extra: Iterable[str] = ()) -> None:
        """After an outcome the model cannot predict: believe the objects."""
        if self.deferred is not None:
            self.deferred.append((set(allocs), list(extra)))
            return
        # an FBA's thread_safe_allocator() interfaces are its state: what was unpredictable
        # for the FBA is for their views too (kill_all kills them together)
        allocs = set(allocs)
        allocs |= {i for n in list(allocs) if n in self.allocs for i in self.interfaces(n)}
        names = {v.name for v in self.views.values() if v.alloc in allocs} | set(extra)
        for n in names:
            v = self.views.get(n)
            if v is None or v.cobj or n not in self.ns:
                # not in the namespace: the running statement dropped it (``del``), and its
                # app_drop, still to come, counts its block; the name is no ground truth
                continue
            alive = self.probe(n)
            if v.alive and not alive:
                v.alive = False
            elif alive and not v.alive:
                v.alive = True  # a raise left it live after all
        for n in allocs:
            am = self.allocs.get(n)
            if am is not None and am.deinit and not am.closed:
                try:
                    r = repr(self.ns[n])
                except Exception:  # noqa: BLE001
                    continue
                if "deinitialized" in r:
                    self.close(n)

    def new_view(self, name: str, alloc: str, align: int, data: bytes | None = None) -> None:
        """Register the view the namespace now holds under ``name``."""
        obj = self.ns[name]
        if not isinstance(obj, memoryview):
            self.violate(
                "wrong-result", f"{self.current!r} gave {type(obj).__name__}, not a memoryview"
            )
        if not self.probe(name):  # made and already freed within one statement
            self.views[name] = VM(name, alloc, 0, align, 0, bytearray(), alive=False)
            return
        n = len(obj)
        addr = zheap.address_of(obj)
        if n and addr % align:
            self.violate(
                "misaligned", f"{self.current!r}: address {addr:#x} is not {align}-aligned"
            )
        shadow = bytearray(n)
        known = 0
        if data is not None:
            shadow[: len(data)] = data
            known = len(data)
        self.views[name] = VM(name, alloc, n, align, addr, shadow, known)

    def app_alloc(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Register the new view, filled if the statement filled it."""
        if vague:
            self.resync(self.chain_all(a.on))
        if exc is not None or a.kw["v"] not in self.ns:
            return
        name = a.kw["v"]
        self.new_view(name, a.on[0], a.kw.get("al") or 1)
        v = self.views[name]
        if v.alive and v.length != a.kw["n"] and a.kw["n"] is not None:
            self.violate("wrong-length", f"{a.src!r} gave {v.length} bytes")
        if "seed" in a.kw:
            v.shadow[:] = pattern(v.length, a.kw["seed"])
            v.known = v.length

    def app_free(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Mark the view dead (a Python allocator's _free may raise after freeing it)."""
        v = self.views.get(a.kw.get("v", ""))
        if v is None or "errs" in a.kw:
            copied = self._sole_full_copy(a) if "errs" in a.kw else None
            if copied is not None and exc is None:
                copied.released = False  # its block is freed: the copy was its last reach
                copied.exports -= 1
                self.exports.pop(a.kw["e"], None)
            if vague:
                self.resync(self.chain_all(a.on))
            return
        if exc is None:
            v.alive = False
        elif vague or issubclass(exc, HostileError):
            self.resync(self.chain_all(a.on), [v.name])

    app_pdestroy = app_free

    def app_resize(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Replace the old view by the new one, unless nothing changed."""
        v = self.views.get(a.kw["v"])
        was_alive = v is not None and v.alive
        # a Python allocator's own error, or zheap catching its lie: raised after the block
        # may have moved (a remap that lied, then alloc + copy + free)
        own = exc is not None and issubclass(exc, (HostileError, zheap.AllocatorContractError))
        if vague or own:
            # (a Python allocator's own error may come after it moved or freed the block)
            self.resync(self.chain_all(a.on), [a.kw["v"]])
        if (
            a.op == "realloc"
            and own
            and "errs" not in a.kw
            and a.kw["n"]
            and was_alive
            and v is not None
            and not self.probe(v.name)  # (a resync inside process() is deferred)
        ):
            # realloc moved the block (alloc, copy), then freeing the old one raised (a
            # Python allocator's _free), or a remap that lied was caught first: the new
            # block is live, but its view was never returned: a leak until the collector
            # takes that view
            self.limbo.append((None, v.alloc))
            self.allocs[v.alloc].leaked = True
        if exc is not None or v is None or "errs" in a.kw:
            return
        new = self.ns.get(a.kw["new"])
        if new is None:
            if a.op == "realloc":
                self.violate("wrong-result", f"{a.src!r} returned None")
            return
        if not vague and self.probe(v.name):
            self.violate("stale-view-usable", f"{a.src!r} succeeded but the old view still works")
        v.alive = False
        self.new_view(a.kw["new"], v.alloc, v.align)
        nv = self.views[a.kw["new"]]
        keep = min(v.known, nv.length)
        nv.shadow[:keep] = v.shadow[:keep]
        nv.known = keep
        if a.op == "resize" and nv.length and v.length and nv.addr != v.addr:
            self.violate(
                "resize-moved", f"{a.src!r} moved the block from {v.addr:#x} to {nv.addr:#x}"
            )
        if nv.alive and nv.length != a.kw["n"]:
            self.violate("wrong-length", f"{a.src!r} gave {nv.length} bytes")

    app_remap = app_resize
    app_realloc = app_resize

    def app_dupe(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Register a new view holding the data."""
        if vague:
            self.resync(self.chain_all(a.on))
        if exc is None and a.kw["v"] in self.ns:
            # a finalizer may have written the source before the copy or after it: when
            # anything ran inside the statement, the copy's contents are not known
            self.new_view(a.kw["v"], a.on[0], 1, None if vague else a.kw.get("data"))

    def app_create(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Register a ctypes object in allocator memory."""
        if vague:
            self.resync(self.chain_all(a.on))
        name = a.kw["v"]
        if exc is not None or name not in self.ns:
            return
        obj = self.ns[name]
        if isinstance(obj, memoryview):
            self.new_view(name, a.on[0], 1)
            return
        if not isinstance(obj, ctypes._SimpleCData | ctypes.Array | ctypes.Structure):
            self.limbo.append((None, a.on[0]))  # a block nothing reaches: collected later
            return
        n = ctypes.sizeof(obj)
        c = VM(
            name, a.on[0], n, a.kw.get("align", 1), ctypes.addressof(obj), bytearray(n), cobj=True
        )
        if "seed" in a.kw:
            c.shadow[:] = pattern(n, a.kw["seed"])
            c.known = n
        self.views[name] = c

    def app_destroy(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Mark it destroyed: it stays usable, its memory goes when it dies."""
        c = self.views.get(a.kw.get("v", ""))
        if exc is None and c is not None and "errs" not in a.kw:
            c.destroyed = True

    def kill_all(self, name: str) -> None:
        """Every view of ``name`` (and of its FBA interfaces) is invalid (reset/deinit)."""
        names = {name, *self.interfaces(name)}
        for v in [*self.views.values(), *self.orphans.values()]:
            if v.alloc in names and not v.cobj:
                v.alive = False
        self.limbo = [(r, al) for r, al in self.limbo if al not in names]

    def close(self, name: str) -> None:
        """``name`` was deinitialized."""
        self.allocs[name].closed = True

    def app_reset(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Every view of the allocator is dead, or nothing changed."""
        if vague:
            self.resync(self.chain_all(a.on))
            if exc is None and "errs" not in a.kw:
                self.kill_all(a.on[0])
            return
        if exc is None:
            self.kill_all(a.on[0])

    def app_deinit(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Close it; its views die (arena, pool) or live on (DebugAllocator)."""
        am = self.allocs[a.on[0]]
        if vague:
            self.resync(self.chain_all(a.on))
        if exc is None or (exc is zheap.LeakError):
            if am.deinit == "debug" and (
                am.leaked
                or am.uncertain
                or self.alive_views(a.on[0])
                or any(r[0] == a.on[0] for r in self.raws.values())
                # never_unmap: pages its freed blocks emptied were never given back, and
                # Zig's deinit does not give them back either
                or am.debug_cfg.get("never_unmap")
            ):
                for c in am.children:  # its leaks stay allocated in its backing
                    if c in self.allocs:
                        self.allocs[c].leaked = True
            self.kill_all(a.on[0])  # a DebugAllocator's leaked views too
            if am.deinit == "debug":
                self.raws = {k: r for k, r in self.raws.items() if r[0] != a.on[0]}
            self.close(a.on[0])
        elif not vague and not issubclass(exc, BufferError):
            # a backing written in Python raised from inside: believe the objects
            self.resync(self.chain_all(a.on))

    def app_pcreate(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Register a new pool item."""
        if vague:
            self.resync(self.chain_all(a.on))
        if exc is None and a.kw["v"] in self.ns:
            self.new_view(a.kw["v"], a.on[0], a.kw["align"])
            v = self.views[a.kw["v"]]
            if v.alive and v.length != a.kw["n"]:
                self.violate("wrong-length", f"{a.src!r} gave {v.length} bytes")
            if "seed" in a.kw:
                v.shadow[:] = pattern(v.length, a.kw["seed"])
                v.known = v.length

    def app_write(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Make the shadow follow the write."""
        v = self.vm(a.kw["v"]) if "e" in a.kw else self.views.get(a.kw["v"])
        if exc is not None or v is None:
            return
        start = a.kw.get("start", 0) + a.kw.get("off", 0)
        if "e" in a.kw and a.kw["e"] not in self.exports:
            return
        stop = a.kw.get("stop")
        stop = (
            (v.length if "e" not in a.kw else start + self.exports[a.kw["e"]].length)
            if stop is None
            else stop + a.kw.get("off", 0)
        )
        v.shadow[start:stop] = pattern(stop - start, a.kw["seed"])
        if start <= v.known:
            v.known = max(v.known, stop)
        if v.donated and v.alive:
            self._lent_bytes_written(v, v.addr + start, v.addr + stop)

    def _lent_bytes_written(self, v: VM, lo: int, hi: int) -> None:
        """Forget what was carved from donated ``v`` in [lo, hi): it was written through."""
        for w in [*self.views.values(), *self.orphans.values()]:
            if w is not v and w.alive and w.addr < hi and lo < w.addr + w.length:
                w.known = 0

    def app_read(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Change nothing for a read (resync after an evil index)."""
        if vague:
            self.resync(set(self.allocs), [a.kw["v"]])
            if a.kw.get("write") is not None and exc is None:
                v = self.views[a.kw["v"]]
                if v.alive and v.length:
                    v.shadow[0] = a.kw["write"]
                    if v.donated:
                        self._lent_bytes_written(v, v.addr, v.addr + 1)

    def app_export(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Count the view's new export."""
        v = self.vm(a.kw["v"])
        if exc is not None or v is None:
            return
        if not v.alive:
            if sys.version_info < (3, 12):
                # begun before a collection in the statement freed the view: CPython checks
                # the view, allocates the new one (the collection runs the finalizer) and
                # then copies the view's buffer. A free while a collection runs leaves the
                # memory to the block until its last view goes, this copy included
                # (moves and resets are refused then), so the copy pins it
                if self.reach(a.kw["e"]) > 0:
                    self.allocs[v.alloc].late_copies = True
                return
            self.violate("dead-view-exported", f"{a.src!r}: an export of a dead view was made")
        v.exports += 1
        self.exports[a.kw["e"]] = EM(a.kw["e"], v.name, a.kw["kind"], a.kw["off"], a.kw["len"])

    def reach(self, name: str) -> int:
        """How many bytes the export ``name`` in the namespace reaches (0: released)."""
        obj = self.ns.get(name)
        if obj is None:
            return 0
        try:
            with memoryview(obj) as m:
                return m.nbytes
        except ValueError:
            return 0

    def app_unexport(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Count the view's lost export (for sure, or once the garbage goes)."""
        e = self.exports.pop(a.kw["e"], None)
        if e is None or exc is not None:
            return
        v = self.vm(e.view)
        if v is None:
            return
        v.exports -= 1
        if v.released and not v.exports:
            v.released = False  # its last export went: a leak now
            self.limbo.append((None, v.alloc))
            self.allocs[v.alloc].leaked = True
        if a.kw.get("maybe"):
            v.maybe_exports += 1
        elif v.name in self.orphans and not v.exports:
            del self.orphans[v.name]  # its last export went: a dropped view, a leak
            if v.alive:
                self.limbo.append((None, v.alloc))
                self.allocs[v.alloc].leaked = True

    def pin_forever(self, v: VM) -> None:
        """``v`` left the namespace but something holds its memory for good (a region)."""
        if v.forever:
            return
        v.forever = True
        am = self.allocs[v.alloc]
        am.extra += 1
        am.baseline += 1
        am.leaked = True

    def app_drop(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Drop the view from the model; its block lives until collected."""
        v = self.views.pop(a.kw["v"], None)
        if v is None:
            return
        if any(e.view == v.name for e in self.exports.values()):
            self.orphans[v.name] = v  # an export made in this very statement holds it
            return
        if v.alive and v.donated:
            self.pin_forever(v)  # an FBA's buffer or a Python allocator's region
        elif v.alive:
            if v.cobj and v.destroyed and not a.kw.get("held"):
                pass  # freed right away
            else:
                self.limbo.append((a.kw.get("ref"), v.alloc))
                self.allocs[v.alloc].leaked = True  # nothing frees it (until reset or deinit)
            if v.cobj and (a.kw.get("held") or v.tampered):
                self.limbo_cobjs.add(v.alloc)

    def app_gc(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Forget dropped exports and unreachable blocks after a full collection."""
        for v in [*self.views.values(), *self.orphans.values()]:
            v.maybe_exports = 0
        self.orphans = {n: v for n, v in self.orphans.items() if v.exports}
        for am in self.allocs.values():
            am.temp_pins = False
        self.limbo_cobjs.clear()
        self.limbo = [(r, al) for r, al in self.limbo if r is not None and r() is not None]

    def app_new(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Register a new allocator."""
        if vague:
            self.resync(self.chain_all(a.kw.get("children", ())))
        name = a.kw["name"]
        if exc is not None or name not in self.ns:
            return
        obj = self.ns[name]
        kind = a.kw["kind"]
        pool = isinstance(obj, zheap.MemoryPool)
        max_align = obj.item_alignment if pool else obj.max_alignment
        am = AM(name, kind, list(a.kw.get("children", ())), max_align, pool=pool)
        am.reset = a.kw.get("reset", "")
        am.deinit = a.kw.get("deinit", "")
        am.hostile = kind in ("hostile", "pysbrk")
        am.debug_cfg = a.kw.get("cfg", {})
        am.baseline = obj.live
        am.shared = bool(a.kw.get("shared"))
        if a.kw.get("preheat_hooked"):
            am.uncertain = True
        if am.deinit and "deinitialized" in repr(obj):
            am.closed = True
        if "region_of" in a.kw and a.kw["region_of"] in self.allocs:
            self.allocs[a.kw["region_of"]].baseline += 1
            self.allocs[a.kw["region_of"]].extra += 1
            self.allocs[a.kw["region_of"]].leaked = True
        am.region_of = a.kw.get("region_of") or ""
        if "donates" in a.kw:
            self.views[a.kw["donates"]].donated = True
            self.views[a.kw["donates"]].donee = name
        if kind == "capsule" and a.kw.get("capsule") in self.capsules:
            pass
        self.allocs[name] = am

    def app_raw_alloc(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Register a raw block (an address, no view)."""
        if exc is None and a.kw["r"] in self.ns:
            self.raws[a.kw["r"]] = (a.on[0], self.ns[a.kw["r"]], a.kw["n"], a.kw["al"])

    def app_raw_free(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Forget the raw block (a free that was not exact forgets them all)."""
        if exc is not None and issubclass(exc, (BufferError, RuntimeError)):
            return  # refused before anything changed: drawn from, exported or busy
        if a.kw["kind"] == "exact" and exc is None:
            self.raws.pop(a.kw["r"], None)
        elif a.kw["kind"] != "view":
            kept = {k: r for k, r in self.raws.items() if r[0] != a.on[0]}
            if len(kept) < len(self.raws):
                # the forgotten raw blocks may still be allocated: deinit may report them
                self.allocs[a.on[0]].leaked = True
            self.raws = kept

    def app_capsule(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Register a bare capsule of an allocator."""
        if exc is None:
            self.capsules[a.kw["k"]] = a.on[0]
            self.allocs[a.on[0]].capsules += 1

    def app_dropcapsule(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Forget the capsule."""
        al = self.capsules.pop(a.kw["k"], None)
        if al is not None:
            self.allocs[al].capsules -= 1

    def app_threads(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Threads leave no block behind, unless a free failed: stop counting."""
        for n in self.chain_all(a.on):
            self.allocs[n].uncertain = True
        self.resync(self.chain_all(a.on))

    def app_misc(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Introspection changes nothing; some misc statements name what they may change."""
        if a.kw.get("uncertain"):
            for n in a.kw["uncertain"]:
                if n in self.allocs:
                    self.allocs[n].uncertain = True
                    self.allocs[n].temp_pins = True
        if a.kw.get("donate") and exc is None:
            dv = self.views.get(a.kw["donate"])
            if dv is not None:
                dv.donated = True
                dv.donee = a.on[0] if a.on else ""
        if a.kw.get("trace") and exc is None:
            self.traces[a.kw["trace"][0]] = a.kw["trace"][1]
        if a.kw.get("tamper") and exc is None:
            c = self.views.get(a.kw["tamper"])
            if c is not None:
                c.tampered = True
        if vague:
            self.resync(self.chain_all(a.on))

    # --- the checks --------------------------------------------------------------------------

    def check(self) -> None:
        """Everything the model knows, against the objects."""
        ranges: list[tuple[int, int, str]] = []
        for v in list(self.views.values()):
            obj = self.ns.get(v.name)
            if obj is None:
                self.violate("internal", f"{v.name} vanished from the namespace")
            if v.cobj:
                self._check_cobj(v, obj, ranges)
                continue
            try:
                n = len(obj)
                alive = True
            except ValueError:
                alive = False
            except Exception as e:  # noqa: BLE001
                self.violate(
                    "undocumented-exception", f"len({v.name}) raised {type(e).__name__}: {e}"
                )
            if v.alive and not alive:
                self.violate(
                    "view-died",
                    f"{v.name} (of {v.alloc}, {self.allocs[v.alloc].kind}) became unusable behind "
                    "the model's back",
                    f"assert len({v.name}) >= 0",
                )
            if not v.alive:
                if alive:
                    self.violate(
                        "dead-view-usable",
                        f"{v.name} (of {v.alloc}, {self.allocs[v.alloc].kind}) should be dead "
                        "(freed, moved or reset) but is still usable",
                        f"S.expect_raises('len({v.name})', (ValueError,))",
                    )
                for probe in (bytes, zheap.address_of):
                    try:
                        probe(obj)
                    except ValueError:
                        continue
                    except Exception as e:  # noqa: BLE001
                        self.violate(
                            "undocumented-exception",
                            f"{probe.__name__}({v.name}) of a dead view raised "
                            f"{type(e).__name__}: {e}",
                        )
                    self.violate(
                        "dead-view-usable", f"{probe.__name__}({v.name}) of a dead view worked"
                    )
                continue
            if n != v.length:
                self.violate("length-changed", f"{v.name} is {n} bytes, not {v.length}")
            addr = zheap.address_of(obj)
            if addr != v.addr:
                self.violate("address-changed", f"{v.name} moved from {v.addr:#x} to {addr:#x}")
            if v.known and not v.donated:
                data = obj[: v.known].tobytes() if v.known < n else obj.tobytes()
                if data != v.shadow[: v.known]:
                    at = next(i for i in range(v.known) if data[i] != v.shadow[i])
                    self.violate(
                        "content-changed",
                        f"{v.name} (of {v.alloc}, {self.allocs[v.alloc].kind}, {n} bytes at "
                        f"{addr:#x}) changed behind the model's back at offset {at}",
                        f"assert S.digest({v.name}, {v.known}) == {_digest(v.shadow[: v.known])!r}",
                    )
            if n and not v.donated:
                ranges.append((addr, n, v.name))
        for em in self.exports.values():
            self._check_export(em)
        for obj in RT.stash:  # views evil code smuggled out: reading them must not crash
            if isinstance(obj, memoryview):
                try:
                    obj.tobytes()
                except ValueError:
                    pass
        for rname, (_al, addr, n, _align) in self.raws.items():
            ranges.append((addr, n, rname))
        ranges.sort()
        for (a1, n1, x), (a2, _n2, y) in zip(ranges, ranges[1:], strict=False):
            if a1 + n1 > a2:
                self.violate(
                    "overlap",
                    f"{x} [{a1:#x}, +{n1}) and {y} [{a2:#x}, ...) overlap",
                    f"assert S.disjoint({x}, {y})",
                )
        for am in self.allocs.values():
            if am.uncertain:
                continue
            lo, hi = self.live_bounds(am.name)
            live = self.ns[am.name].live
            if am.shared and live < lo:
                # its baseline counts blocks of earlier episodes that a collection may still
                # free (a Python allocator's region in garbage): lower it, the ceiling too
                am.baseline -= lo - live
                lo, hi = self.live_bounds(am.name)
            if not lo <= live <= hi:
                self.violate(
                    "live-count",
                    f"{am.name} ({am.kind}).live is {live}, the model says {lo}"
                    + (f"..{hi}" if hi != lo else ""),
                    f"assert {am.name}.live in range({lo}, {hi + 1})",
                )

    def _check_cobj(self, v: VM, obj: Any, ranges: list[tuple[int, int, str]]) -> None:
        try:
            addr, n = ctypes.addressof(obj), ctypes.sizeof(obj)
        except Exception as e:  # noqa: BLE001
            self.violate(
                "undocumented-exception", f"a ctypes object raised {type(e).__name__}: {e}"
            )
        if addr != v.addr:
            self.violate("address-changed", f"{v.name} moved")
        if v.known and n:
            data = ctypes.string_at(addr, v.known)
            if data != bytes(v.shadow[: v.known]):
                self.violate(
                    "content-changed",
                    f"the ctypes object {v.name} (of {v.alloc}, {self.allocs[v.alloc].kind}"
                    f"{', destroyed' if v.destroyed else ''}) changed behind the model's back",
                    f"assert S.digest({v.name}, {v.known}) == {_digest(v.shadow[: v.known])!r}",
                )
        if n:
            ranges.append((addr, n, v.name))

    def _check_export(self, e: EM) -> None:
        v = self.vm(e.view)
        if v is None:
            self.violate("internal", f"the model lost {e.view}, which {e.name} exports")
        if not v.alive and not v.released:
            self.violate(
                "export-outlived-view",
                f"{e.name} ({e.kind} of {v.name}) is alive but {v.name} is dead: it points at "
                "freed memory",
                f"assert False, '{e.name} reads freed memory'",
            )
        obj = self.ns[e.name]
        try:
            data = _export_bytes(obj)
        except Exception as ex:  # noqa: BLE001
            self.violate(
                "export-broken", f"reading {e.name} ({e.kind}) raised {type(ex).__name__}: {ex}"
            )
        hi = min(e.off + e.length, v.known)
        if v.donated:
            return  # an FBA or a Python allocator writes there: its bytes are not ours
        if hi > e.off and data[: hi - e.off] != v.shadow[e.off : hi]:
            self.violate(
                "content-changed",
                f"{e.name} ({e.kind} of {v.name}) reads bytes the model did not write",
                f"assert False, '{e.name} changed'",
            )


def _export_bytes(obj: Any) -> bytes:
    if isinstance(obj, pickle.PickleBuffer):
        with obj.raw() as m:
            return m.tobytes()
    if isinstance(obj, memoryview):
        return obj.tobytes()
    if np is not None and isinstance(obj, np.ndarray):
        return bytes(obj.tobytes())
    return ctypes.string_at(ctypes.addressof(obj), ctypes.sizeof(obj))


def _digest(data: bytes | bytearray) -> str:
    return hashlib.blake2b(bytes(data), digest_size=8).hexdigest()


def _tuple_src(types_: tuple[type[BaseException], ...]) -> str:
    return "(" + "".join(_qual(t) + ", " for t in dict.fromkeys(types_)) + ")"


def _qual(t: type[BaseException]) -> str:
    if t.__module__ in ("builtins",):
        return t.__name__
    if t.__module__.startswith("zheap"):
        return f"zheap.{t.__name__}" if hasattr(zheap, t.__name__) else f"S.{t.__name__}"
    return f"{t.__module__}.{t.__name__}"


def disjoint(x: Any, y: Any) -> bool:
    """Whether two buffers' address ranges are disjoint (reproduction asserts)."""
    ax, ay = zheap.address_of(x), zheap.address_of(y)
    return ax + len(x) <= ay or ay + len(y) <= ax


# ============================================================================
# The generator: random stacks, random statements
# ============================================================================

_LEAVES = (
    ("page_g", 3),
    ("c_g", 3),
    ("raw_c_g", 2),
    ("smp_g", 2),
    ("wasm_g", 1),
    ("page", 1),
    ("c", 1),
    ("raw_c", 1),
    ("smp", 1),
    ("fba_int", 4),
    ("fba_ba", 2),
    ("fba_view", 2),
    ("wasm", 2),
    ("sbrk", 1),
    ("pysbrk", 2),
    ("bump", 1),
    ("firstfit", 1),
    ("hostile", 6),
)
_WRAPPERS = (
    ("arena", 6),
    ("ts", 3),
    ("sfa", 3),
    ("debug", 4),
    ("failing", 2),
    ("validation", 2),
    ("capsule", 3),
    ("fba_ts", 2),
    ("pool", 4),
    ("hostile_over", 2),
)
_GLOBALS = {
    "page_g": ("page", "zheap.page_allocator"),
    "c_g": ("c", "zheap.c_allocator"),
    "raw_c_g": ("raw_c", "zheap.raw_c_allocator"),
    "smp_g": ("smp", "zheap.smp_allocator"),
    "wasm_g": ("wasm", "zheap.wasm_allocator"),
}


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    total = sum(w for _, w in table)
    x = rng.randrange(total)
    for name, w in table:
        x -= w
        if x < 0:
            return name
    return table[-1][0]


class Episode(Fuzzer):
    """A Fuzzer that also writes its own statements: stacks first, then random calls."""

    # --- picking --------------------------------------------------------------------------

    def pick_alloc(
        self,
        *,
        pool: bool | None = False,
        open_: bool | None = None,
        pred: Callable[[AM], bool] | None = None,
    ) -> AM | None:
        """Pick a random allocator of the episode that matches."""
        cands = [
            a
            for a in self.allocs.values()
            if (pool is None or a.pool == pool)
            and (open_ is None or a.closed != open_)
            and (pred is None or pred(a))
        ]
        return self.rng.choice(cands) if cands else None

    def pick_view(
        self,
        *,
        alive: bool | None = True,
        cobj: bool = False,
        pred: Callable[[VM], bool] | None = None,
    ) -> VM | None:
        """Pick a random view (or ctypes object) of the model that matches."""
        cands = [
            v
            for v in self.views.values()
            if v.cobj == cobj and (alive is None or v.alive == alive) and (pred is None or pred(v))
        ]
        return self.rng.choice(cands) if cands else None

    def size(self) -> int:
        """Pick a length, mostly small."""
        r = self.rng.random()
        if r < 0.05:
            return 0
        if r < 0.9:
            return self.rng.choice(SIZES[1:24])
        return self.rng.choice(SIZES)

    def align(self, am: AM) -> int:
        """Pick a valid alignment for ``am``, mostly small."""
        al = self.rng.choice(ALIGNS)
        while al > am.max_align:
            al //= 2
        return max(al, 1)

    # --- building stacks --------------------------------------------------------------------

    def build(self) -> None:
        """One to three stacks of allocators."""
        for _ in range(self.rng.randint(1, 3)):
            name = self.new_leaf()
            for _ in range(self.rng.choice((0, 1, 1, 2, 2, 3))):
                if name is None or self.allocs[name].pool:
                    break
                name = self.new_wrapper(name) or name

    def run_new(self, src: str, name: str, kind: str, **kw: Any) -> str | None:
        """Run a constructor statement; the name if it made an allocator."""
        self.run(Act("new", src, tuple(kw.get("children", ())), {"name": name, "kind": kind, **kw}))
        return name if name in self.allocs else None

    def backing_expr(self) -> tuple[str, str | None]:
        """Pick the backing of a Python allocator: the page allocator or one of ours."""
        cand = self.pick_alloc(open_=True, pred=lambda a: not a.hostile and a.max_align >= 1)
        if cand is None or self.rng.random() < 0.5:
            for a in self.allocs.values():
                if (
                    a.kind == "page"
                    and a.name in self.ns
                    and self.ns[a.name] is zheap.page_allocator
                ):
                    return "zheap.page_allocator", a.name
            return "zheap.page_allocator", None
        return cand.name, cand.name

    def new_leaf(self) -> str | None:
        """Make a new base allocator."""
        kind = _weighted(self.rng, _LEAVES)
        name = self.fresh("a")
        rng = self.rng
        if kind in _GLOBALS:
            k, expr = _GLOBALS[kind]
            obj = eval(expr, {"zheap": zheap})  # noqa: S307 -- one of five fixed names
            for am in self.allocs.values():
                if self.ns.get(am.name) is obj:
                    return am.name  # one model entry per object: its live count is shared
            return self.run_new(f"{name} = {expr}", name, k, shared=True)
        if kind in ("page", "c", "raw_c", "smp"):
            cls = {
                "page": "PageAllocator",
                "c": "CAllocator",
                "raw_c": "RawCAllocator",
                "smp": "SmpAllocator",
            }
            return self.run_new(f"{name} = zheap.{cls[kind]}()", name, kind)
        if kind == "fba_int":
            n = rng.choice((0, 64, 1000, 4096, 65536, 1 << 20))
            return self.run_new(
                f"{name} = zheap.FixedBufferAllocator({n})", name, "fba", reset="fba"
            )
        if kind == "fba_ba":
            n = rng.choice((16, 4096, 65536))
            return self.run_new(
                f"{name} = zheap.FixedBufferAllocator(bytearray({n}))", name, "fba", reset="fba"
            )
        if kind == "fba_view":
            v = self.pick_view(pred=lambda v: v.length >= 64 and not v.exports and not v.donated)
            if v is None:
                return self.new_leaf()
            return self.run_new(
                f"{name} = zheap.FixedBufferAllocator({v.name})",
                name,
                "fba",
                reset="fba",
                donates=v.name,
            )
        if kind == "wasm":
            return self.run_new(
                f"{name} = zheap.WasmAllocator(max_pages={rng.choice((2, 3, 8, 64))})", name, "wasm"
            )
        if kind == "sbrk":
            cap = rng.choice((1 << 16, 1 << 20, 4 << 20))
            return self.run_new(f"{name} = zheap.SbrkAllocator(capacity={cap})", name, "sbrk")
        if kind == "pysbrk":
            cap = rng.choice((1 << 18, 1 << 20, 4 << 20))
            return self.run_new(f"{name} = S.make_sbrk({cap}, {name!r})", name, "pysbrk")
        expr, region_of = self.backing_expr()
        cap = rng.choice((4096, 1 << 16, 1 << 18))
        cls = {
            "bump": "zheap.examples.BumpAllocator",
            "firstfit": "zheap.examples.FirstFitAllocator",
        }
        allow = (MemoryError, ValueError)
        if kind in cls:
            return self.run_new(
                f"{name} = {cls[kind]}({cap}, {expr})", name, kind, allow=allow, region_of=region_of
            )
        return self.run_new(
            f"{name} = S.Hostile({cap}, {expr}, {name!r})",
            name,
            "hostile",
            allow=allow,
            region_of=region_of,
        )

    def new_wrapper(self, child: str) -> str | None:
        """Make a new allocator drawing from ``child``."""
        kind = _weighted(self.rng, _WRAPPERS)
        name = self.fresh("a")
        rng = self.rng
        c = self.allocs[child]
        ch = {"children": (child,)}
        if kind == "arena":
            return self.run_new(
                f"{name} = zheap.ArenaAllocator({child})",
                name,
                "arena",
                reset="arena",
                deinit="arena",
                **ch,
            )
        if kind == "ts":
            return self.run_new(f"{name} = zheap.ThreadSafeAllocator({child})", name, "ts", **ch)
        if kind == "sfa":
            n = rng.choice((0, 16, 256, 4096))
            f = rng.choice(("zheap.stack_fallback", "zheap.StackFallbackAllocator"))
            return self.run_new(f"{name} = {f}({n}, {child}).get()", name, "sfa", **ch)
        if kind == "debug":
            cfg: dict[str, Any] = {}
            for key, choices in (
                ("stack_trace_frames", (0, 1, 4, 8)),
                ("enable_memory_limit", (True, False)),
                ("safety", (True, False)),
                ("thread_safe", (True, False)),
                ("never_unmap", (True, False)),
                ("retain_metadata", (True, False)),
                ("backing_allocator_zeroes", (True, False)),
                ("resize_stack_traces", (True, False)),
                ("page_size", (4096, 16384, 131072)),
                ("raise_on_leak", (True, False)),
                ("verbose_log", (True, False)),
            ):
                if rng.random() < 0.4:
                    cfg[key] = rng.choice(choices)
            args = "".join(f", {k}={v!r}" for k, v in cfg.items())
            return self.run_new(
                f"{name} = zheap.DebugAllocator({child}{args})",
                name,
                "debug",
                deinit="debug",
                cfg=cfg,
                **ch,
            )
        if kind == "failing":
            fi = rng.choice((None, 0, 1, 3, 10, 50))
            rfi = rng.choice((None, 0, 2, 10))
            return self.run_new(
                f"{name} = zheap.FailingAllocator({child}, fail_index={fi}, "
                f"resize_fail_index={rfi})",
                name,
                "failing",
                **ch,
            )
        if kind == "validation":
            f = rng.choice(("zheap.validation_wrap", "zheap.ValidationAllocator"))
            return self.run_new(f"{name} = {f}({child})", name, "validation", **ch)
        if kind == "capsule" and self.on("capsule"):
            ma = rng.choice(("", "", ", max_alignment=16", ", max_alignment=65536"))
            return self.run_new(
                f"{name} = zheap.Allocator.from_capsule({child}.capsule(){ma})",
                name,
                "capsule",
                allow=(ValueError,) if ma else (),
                **ch,
            )
        if kind == "fba_ts":
            if c.kind != "fba":
                return None
            return self.run_new(f"{name} = {child}.thread_safe_allocator()", name, "fba_ts", **ch)
        if kind == "hostile_over":
            cap = rng.choice((4096, 1 << 16))
            return self.run_new(
                f"{name} = S.Hostile({cap}, {child}, {name!r})",
                name,
                "hostile",
                allow=(MemoryError, ValueError),
                region_of=child,
            )
        return self.new_pool(name, child)

    def new_pool(self, name: str, child: str) -> str | None:
        """Make a new pool over ``child``."""
        rng = self.rng
        item = rng.choice((1, 7, 8, 16, 24, 100, 4096))
        al = rng.choice((None, None, 1, 8, 16, 64, 4096))
        ch = {"children": (child,), "reset": "pool", "deinit": "pool"}
        alarg = "" if al is None else f", alignment={al}"
        r = rng.random()
        if r < 0.3:
            growable = rng.random() < 0.8
            src = f"{name} = zheap.MemoryPool({item}{alarg}, growable={growable}, child={child})"
        elif r < 0.45:
            src = f"{name} = zheap.MemoryPoolAligned({item}, {al or 16}, child={child})"
        elif r < 0.55:
            src = f"{name} = zheap.MemoryPoolExtra({item}{alarg}, growable=True, child={child})"
        elif r < 0.75:
            n = rng.choice((0, 1, 5, 100))
            cls = rng.choice(("MemoryPool", "MemoryPoolExtra"))
            src = f"{name} = zheap.{cls}.preheated({item}, {n}{alarg}, child={child})"
            return self.run_new(src, name, "pool", allow=(MemoryError,), **ch)
        elif self.on("poolsub"):
            hook = self.hook_act(pool_me=True)
            if hook is None:
                return None
            self.run(Act("misc", f"S.PoolSub.on_init = {hook.src!r}", (), {"errs": ()}))
            n = rng.choice((0, 1, 4))
            if rng.random() < 0.5:
                src = f"{name} = S.PoolSub.preheated({item}, {n}, child={child})"
            else:
                src = f"{name} = S.PoolSub({item}, child={child})"
            return self.run_new(src, name, "pool", allow=DOCUMENTED, preheat_hooked=True, **ch)
        else:
            src = f"{name} = zheap.MemoryPool({item}, child={child})"
        return self.run_new(src, name, "pool", allow=(MemoryError,), **ch)

    # --- hook actions (run from inside zheap) -----------------------------------------------

    def hook_act(self, *, pool_me: bool = False) -> Act | None:
        """Make a statement for a hook, finalizer, weakref callback or __index__."""
        rng = self.rng
        r = rng.random()
        a: Act | None = None
        am: AM | None
        v: Any
        if pool_me:
            choice = rng.choice(
                (
                    "me.deinit()",
                    "me.reset('free_all')",
                    "me.preheat(10)",
                    "me.create()",
                    "me.deinit(); me.deinit()",
                    "S.RT.stash.append(me.create())",
                )
            )
            return self.register(Act("misc", choice, (), {"vague": True}))
        if r < 0.25:
            v = self.pick_view()
            if v is not None:
                am = self.allocs[v.alloc]
                call = "destroy" if am.pool else "free"
                op = "pdestroy" if am.pool else "free"
                if v.cobj:
                    a = Act("destroy", f"{am.name}.destroy({v.name})", (am.name,), {"v": v.name})
                else:
                    a = Act(op, f"{am.name}.{call}({v.name})", (am.name,), {"v": v.name})
        elif r < 0.45:
            am = self.pick_alloc(pool=None, pred=lambda a: bool(a.reset or a.deinit))
            if am is not None:
                if am.deinit and rng.random() < 0.4:
                    a = Act("deinit", f"{am.name}.deinit()", (am.name,))
                elif am.reset == "fba":
                    a = Act("reset", f"{am.name}.reset()", (am.name,))
                elif am.reset:
                    a = Act("reset", f"{am.name}.reset('free_all')", (am.name,))
        elif r < 0.6:
            am = self.pick_alloc(pool=None)
            if am is not None:
                v = self.fresh("v")
                if am.pool:
                    a = Act(
                        "pcreate",
                        f"{v} = {am.name}.create()",
                        (am.name,),
                        {"v": v, "n": self.ns[am.name].item_size, "align": am.max_align},
                    )
                else:
                    n = self.size()
                    a = Act(
                        "alloc",
                        f"{v} = {am.name}.alloc({n})",
                        (am.name,),
                        {"v": v, "n": n, "al": 1},
                    )
        elif r < 0.68:
            v = self.pick_view(pred=lambda v: not self.allocs[v.alloc].pool)
            if v is not None:
                nv = self.fresh("v")
                n = self.size()
                a = Act(
                    "realloc",
                    f"{nv} = {v.alloc}.realloc({v.name}, {n})",
                    (v.alloc,),
                    {"v": v.name, "new": nv, "n": n},
                )
        elif r < 0.76:
            v = self.pick_view()
            if v is not None:
                e = self.fresh("e")
                a = Act(
                    "export",
                    f"{e} = memoryview({v.name})",
                    (),
                    {"v": v.name, "e": e, "kind": "mv", "off": 0, "len": v.length},
                )
        elif r < 0.82:
            v = self.pick_view(pred=lambda v: self.writable(v, later=True))
            if v is not None:
                s = rng.getrandbits(30)
                a = Act("write", f"S.fill({v.name}, {s})", (), {"v": v.name, "seed": s})
        elif r < 0.86:
            a = Act("gc", "gc.collect()")
        elif r < 0.9:
            c = self.pick_view(cobj=True)
            if c is not None and self.on("release_objects"):
                a = Act(
                    "misc",
                    f"S.release_objects({c.name})",
                    (),
                    {"errs": DOCUMENTED, "tamper": c.name},
                )
        elif r < 0.92 and self.traces and self.on("trace"):
            t = rng.choice(list(self.traces))
            a = Act("misc", f"{t}.stop()", (), {"errs": DOCUMENTED})
        elif r < 0.95 or not self.on("trace"):
            am = self.pick_alloc(pool=None)
            if am is not None:
                a = Act(
                    "misc",
                    f"{am.name}.layout(); {am.name}.stats()",
                    (am.name,),
                    {"errs": DOCUMENTED},
                )
        else:
            am = self.pick_alloc(pool=False)
            if am is not None:
                t = self.fresh("t")
                a = Act("misc", f"{t} = zheap.trace({am.name})", (am.name,), {"errs": DOCUMENTED})
        return self.register(a) if a is not None else None

    def on(self, family: str) -> bool:
        """Whether the attack family is in use (``--skip`` leaves families out)."""
        return family not in self.skip

    def writable(self, v: VM | None, *, later: bool = False) -> bool:
        """Whether to write through ``v`` (family donated_writes for a donated view).

        A donated view (an FBA's buffer, a Python allocator's region) is where the
        allocators drawing from it keep their own headers (an arena's chunk headers, a
        pool's free list): writing over those is outside the promise (README, "What ctypes
        can and cannot be promised"). So a donated view is written only while nothing
        keeping headers draws from it, and never ``later`` (a hook, a finalizer: one may
        draw from it by the time it runs).
        """
        if v is None or not v.donated:
            return v is not None
        return self.on("donated_writes") and not later and not self.keeps_headers_in(v.donee)

    def keeps_headers_in(self, name: str) -> bool:
        """Whether an arena, pool or DebugAllocator draws from ``name``, even via regions."""
        if name not in self.allocs:
            return True  # not known: assume so
        for am in self.allocs.values():
            if not (am.pool or am.kind in ("arena", "debug")):
                continue
            seen: set[str] = set()
            todo = [am.name]
            while todo:
                n = todo.pop()
                if n == name:
                    return True
                if n in seen or n not in self.allocs:
                    continue
                seen.add(n)
                todo.extend(self.allocs[n].children)
                if self.allocs[n].region_of:
                    todo.append(self.allocs[n].region_of)
        return False

    def register(self, a: Act) -> Act:
        """Remember what a hook's source means."""
        self.actions[a.src] = a
        return a

    # --- statements ---------------------------------------------------------------------------

    def step(self) -> None:
        """Generate and run one random statement."""
        for _ in range(20):
            op = _weighted(self.rng, self.weights())
            a = getattr(self, f"gen_{op}")()
            if a is not None:
                self.run(a)
                return

    def weights(self) -> tuple[tuple[str, int], ...]:
        """Statement kinds and their weights (freeing more when many views are live)."""
        many = len(self.views) > 40
        return (
            ("alloc", 8 if many else 16),
            ("free", 14 if many else 8),
            ("resize", 9),
            ("write", 6),
            ("read", 3),
            ("dupe", 3),
            ("create", 3),
            ("destroy", 3),
            ("export", 6),
            ("unexport", 5),
            ("reset", 4),
            ("pool", 6),
            ("bad", 6),
            ("info", 4),
            ("gc", 2),
            ("drop", 6 if many else 2),
            ("arm", 5),
            ("bomb", 3),
            ("wref", 3),
            ("evil", 3),
            ("newalloc", 2),
            ("capsule", 1),
            ("trace", 1),
            ("raw", 2),
            ("threads", 1),
            ("threshold", 1),
            ("misc", 2),
            ("race", 5),
            ("region", 1),
            ("release", 1),
        )

    def gen_alloc(self) -> Act | None:
        """alloc(length[, alignment]), valid or not."""
        am = self.pick_alloc(open_=None)
        if am is None:
            return None
        rng = self.rng
        v = self.fresh("v")
        n: Any = self.size()
        al: Any = self.align(am)
        errs: tuple[type[BaseException], ...] = ()
        nsrc, alsrc = str(n), str(al)
        if rng.random() < 0.12:
            bad = rng.choice(
                (
                    ("-1", ValueError, "n"),
                    (str(2**63), OverflowError, "n"),
                    (str(2**64), OverflowError, "n"),
                    ("'10'", TypeError, "n"),
                    ("1.5", TypeError, "n"),
                    ("None", TypeError, "n"),
                    ("S.IX(10)", TypeError, "n"),
                    ("0", ValueError, "al"),
                    ("3", ValueError, "al"),
                    ("-8", ValueError, "al"),
                    (str(2**64), OverflowError, "al"),
                    ("'8'", TypeError, "al"),
                    (
                        str(am.max_align * 2),
                        ValueError if am.max_align < 2**63 else OverflowError,
                        "al",
                    ),
                    ("S.IX(8)", TypeError, "al"),
                    (str(2**63), ValueError if am.max_align < 2**63 else MemoryError, "al"),
                )
            )
            if bad[2] == "n":
                nsrc, n = bad[0], None
            else:
                alsrc, al = bad[0], None
            errs = (bad[1],) if bad[1] is not MemoryError else ()
            if not errs:  # 2**63 is a valid alignment here
                al = 2**63
        elif rng.random() < 0.03:
            n = rng.choice((2**47, 2**50, 2**62, 2**63 - 1))
            nsrc = str(n)
        tail = ""
        kw: dict[str, Any] = {"v": v, "n": n, "al": al, "errs": errs}
        if not errs and n is not None and n < (1 << 20) and rng.random() < 0.75:
            kw["seed"] = s = rng.getrandbits(30)
            tail = f"; S.fill({v}, {s})"
        if rng.random() < 0.2 and al == 1:
            call = f"{am.name}.alloc({nsrc})"
        elif rng.random() < 0.1:
            call = f"{am.name}.alloc(length={nsrc}, alignment={alsrc})"
        else:
            call = f"{am.name}.alloc({nsrc}, {alsrc})"
        if am.pool:
            return None
        return Act("alloc", f"{v} = {call}{tail}", (am.name,), kw)

    def gen_free(self) -> Act | None:
        """free(view) of a live, dead, foreign or wrong thing."""
        rng = self.rng
        am = self.pick_alloc(pool=False)
        if am is None:
            return None
        r = rng.random()
        if r < 0.7:
            v = self.pick_view(pred=lambda v: v.alloc == am.name) or self.pick_view(alive=None)
            if v is None or v.cobj:
                return None
            return Act("free", f"{am.name}.free({v.name})", (am.name,), {"v": v.name})
        if r < 0.8:
            v = self.pick_view(alive=False)
            if v is None:
                return None
            return Act("free", f"{am.name}.free({v.name})", (am.name,), {"v": v.name})
        e = next((x for x in self.exports.values() if x.kind in ("slice", "mv", "obj")), None)
        if r < 0.88 and e is not None:
            return Act(
                "free",
                f"{am.name}.free({e.name})",
                (am.name,),
                {"errs": (ValueError, BufferError), "e": e.name},
            )
        bad = rng.choice(
            (
                ("bytearray(8)", TypeError),
                ("memoryview(bytearray(8))", ValueError),
                ("None", TypeError),
                ("42", TypeError),
                ("ctypes.c_int(1)", TypeError),
            )
        )
        return Act("free", f"{am.name}.free({bad[0]})", (am.name,), {"errs": (bad[1], ValueError)})

    def gen_resize(self) -> Act | None:
        """resize/remap/realloc of a view."""
        rng = self.rng
        v = self.pick_view(
            alive=None if rng.random() < 0.1 else True, pred=lambda v: not self.allocs[v.alloc].pool
        )
        if v is None:
            return None
        op = rng.choice(("resize", "remap", "realloc"))
        owner = v.alloc if rng.random() < 0.95 else (self.pick_alloc() or self.allocs[v.alloc]).name
        nv = self.fresh("v")
        n: Any = rng.choice(
            (0, 1, v.length // 2, v.length, v.length + 1, v.length * 2 + 8, self.size())
        )
        errs: tuple[type[BaseException], ...] = ()
        nsrc = str(n)
        if rng.random() < 0.08:
            nsrc, err = rng.choice(
                (
                    ("-1", ValueError),
                    (str(2**64), OverflowError),
                    ("'1'", TypeError),
                    ("S.IX(4)", TypeError),
                )
            )
            errs, n = (err,), None
        return Act(
            op,
            f"{nv} = {owner}.{op}({v.name}, {nsrc})",
            (owner,),
            {"v": v.name, "new": nv, "n": n, "errs": errs}
            if errs
            else {"v": v.name, "new": nv, "n": n},
        )

    def gen_write(self) -> Act | None:
        """Write through a view (or through an export of it)."""
        rng = self.rng
        s = rng.getrandbits(30)
        if self.exports and rng.random() < 0.3:
            e = rng.choice(list(self.exports.values()))
            if e.kind in ("pb",) or not self.writable(self.vm(e.view)):
                return None
            src = f"S.fill({e.name}, {s})"
            return Act("write", src, (), {"v": e.view, "e": e.name, "seed": s, "off": e.off})
        v = self.pick_view(alive=None if rng.random() < 0.1 else True, pred=self.writable)
        if v is None:
            return None
        if v.length > 4 and rng.random() < 0.3:
            start = rng.randrange(v.length)
            stop = rng.randrange(start, v.length + 1)
            return Act(
                "write",
                f"S.fill({v.name}, {s}, {start}, {stop})",
                (),
                {"v": v.name, "seed": s, "start": start, "stop": stop},
            )
        return Act("write", f"S.fill({v.name}, {s})", (), {"v": v.name, "seed": s})

    def gen_read(self) -> Act | None:
        """Read a view, maybe through an index that runs code."""
        rng = self.rng
        v = self.pick_view(alive=None if rng.random() < 0.15 else True)
        if v is None:
            return None
        r = rng.random()
        if r < 0.15 and v.length and self.on("index"):
            hook = self.hook_act()
            if hook is None:
                return None
            if rng.random() < 0.5 or not self.writable(v):
                return Act(
                    "read", f"{v.name}[S.IX(0, {hook.src!r})]", (), {"v": v.name, "evil": True}
                )
            b = rng.randrange(256)
            return Act(
                "read",
                f"{v.name}[S.IX(0, {hook.src!r})] = {b}",
                (),
                {"v": v.name, "evil": True, "write": b},
            )
        form = rng.choice(
            (
                "bytes({})",
                "{}.tobytes()",
                "{}.hex()",
                "zheap.address_of({})",
                "{}.obj.state",
                "repr({}.obj)",
                "{}.obj.exports",
                "list({}[:4])",
            )
        )
        return Act("read", form.format(v.name), (), {"v": v.name})

    def gen_dupe(self) -> Act | None:
        """dupe(data) of bytes, a view, a dead view or junk."""
        rng = self.rng
        am = self.pick_alloc(open_=None)
        if am is None:
            return None
        v = self.fresh("v")
        r = rng.random()
        kw: dict[str, Any] = {"v": v}
        if r < 0.4:
            data = pattern(rng.choice((0, 1, 10, 100, 5000)), rng.getrandbits(20))
            src = (
                f"{v} = {am.name}.dupe({data!r})"
                if len(data) < 64
                else f"{v} = {am.name}.dupe(S.pattern({len(data)}, 1))"
            )
            kw["data"] = data if len(data) < 64 else pattern(len(data), 1)
        elif r < 0.8:
            w = self.pick_view(alive=None)
            if w is None:
                return None
            src = f"{v} = {am.name}.dupe({w.name})"
            if not w.alive:
                kw["errs"] = (ValueError,)
            else:
                kw["pins"] = w.name
            # a donated view's bytes are written by what is carved from it: not modelled
            if w.alive and w.known == w.length and not w.donated:
                kw["data"] = bytes(w.shadow)
        else:
            err: type[BaseException]
            junk, err = rng.choice((("42", TypeError), ("'str'", TypeError), ("None", TypeError)))
            w = self.pick_view(pred=lambda w: w.length >= 3)
            if w is not None and rng.random() < 0.5:
                junk, err = f"{w.name}[::2]", BufferError
            src = f"{v} = {am.name}.dupe({junk})"
            kw["errs"] = (err, TypeError, ValueError)
        if am.pool:
            return None
        return Act("dupe", src, (am.name,), kw)

    _CTYPES = (
        ("ctypes.c_int32", 4, 4),
        ("ctypes.c_double", 8, 8),
        ("ctypes.c_char * 16", 16, 1),
        ("ctypes.c_uint64 * 0", 0, 8),
        ("ctypes.c_char * 300", 300, 1),
        ("ctypes.c_uint8", 1, 1),
        ("ctypes.c_int64 * 3", 24, 8),
    )

    def gen_create(self) -> Act | None:
        """create(ctype), sometimes of an evil ctype."""
        rng = self.rng
        am = self.pick_alloc(pool=False)
        if am is None:
            return None
        c = self.fresh("c")
        if rng.random() < 0.15 and self.on("evil_ctype"):
            hook = self.hook_act() if rng.random() < 0.5 else None
            mode = rng.choice(("plain", "stash", "view", "raise", "other"))
            base = rng.choice(("c_int64", "c_double", "char16"))
            hsrc = hook.src if hook else None
            src = f"{c} = {am.name}.create(S.evil_ctype({base!r}, {mode!r}, {hsrc!r}))"
            return Act("create", src, (am.name,), {"v": c, "evil": True})
        if rng.random() < 0.08:
            junk = rng.choice(("int", "5", "bytes"))
            return Act(
                "create",
                f"{c} = {am.name}.create({junk})",
                (am.name,),
                {"v": c, "errs": (TypeError,)},
            )
        expr, size, al = rng.choice(self._CTYPES)
        kw: dict[str, Any] = {"v": c, "size": size, "align": al}
        tail = ""
        if size and rng.random() < 0.7:
            kw["seed"] = s = rng.getrandbits(30)
            tail = f"; S.cfill({c}, {s})"
        return Act("create", f"{c} = {am.name}.create({expr}){tail}", (am.name,), kw)

    def gen_destroy(self) -> Act | None:
        """destroy() of a created object, twice, or of the wrong thing."""
        rng = self.rng
        c = self.pick_view(cobj=True)
        if c is None or rng.random() < 0.1:
            am = self.pick_alloc(pool=False)
            if am is None:
                return None
            v = self.pick_view()
            # TypeError for what no create() made: a view, a ctypes object of its own,
            # anything else; ValueError for another allocator's object (below)
            junk = (
                v.name
                if v is not None and rng.random() < 0.5
                else rng.choice(("ctypes.c_int(3)", "(ctypes.c_char * 8)()", "42", "None"))
            )
            errs: tuple[type[BaseException], ...] = (TypeError,)
            if am.closed:
                errs = (*errs, ValueError)
            return Act("destroy", f"{am.name}.destroy({junk})", (am.name,), {"errs": errs})
        owner = (
            c.alloc
            if rng.random() < 0.9
            else (self.pick_alloc(pool=False) or self.allocs[c.alloc]).name
        )
        return Act("destroy", f"{owner}.destroy({c.name})", (owner,), {"v": c.name})

    def gen_export(self) -> Act | None:
        """Export a view: slice, memoryview, view.obj, numpy, ctypes, PickleBuffer."""
        rng = self.rng
        v = self.pick_view(alive=None if rng.random() < 0.1 else True)
        if v is None:
            return None
        e = self.fresh("e")
        kinds = ["slice", "mv", "obj", "ct", "pb", "cast"] + (["np"] if np is not None else [])
        kind = rng.choice(kinds)
        off, n = 0, v.length
        if kind == "slice":
            off = rng.randrange(v.length + 1)
            end = rng.randrange(off, v.length + 1)
            n = end - off
            src = f"{e} = {v.name}[{off}:{end}]"
        elif kind == "mv":
            src = f"{e} = memoryview({v.name})"
        elif kind == "obj":
            src = f"{e} = memoryview({v.name}.obj)"
        elif kind == "cast":
            src = f"{e} = {v.name}.cast('B')"
        elif kind == "ct":
            n = rng.randrange(v.length + 1)
            src = f"{e} = (ctypes.c_char * {n}).from_buffer({v.name})"
        elif kind == "pb":
            src = f"{e} = pickle.PickleBuffer({v.name})"
        else:
            src = f"{e} = np.frombuffer({v.name}, dtype='u1')"
        return Act("export", src, (), {"v": v.name, "e": e, "kind": kind, "off": off, "len": n})

    def gen_unexport(self) -> Act | None:
        """Release an export: release(), del, or into a garbage cycle."""
        if not self.exports:
            return None
        rng = self.rng
        e = rng.choice(list(self.exports.values()))
        r = rng.random()
        if r < 0.2 and self.on("bombs"):
            hook = self.hook_act()
            if hook is not None:
                return Act(
                    "unexport",
                    f"S.bomb({hook.src!r}, {e.name}); del {e.name}",
                    (),
                    {"e": e.name, "maybe": True},
                )
        if e.kind in ("slice", "mv", "obj", "cast", "pb") and r < 0.7:
            return Act("unexport", f"{e.name}.release(); del {e.name}", (), {"e": e.name})
        return Act("unexport", f"del {e.name}", (), {"e": e.name})

    def gen_reset(self) -> Act | None:
        """reset/deinit of an FBA, arena, pool or DebugAllocator, with valid or bad arguments."""
        rng = self.rng
        am = self.pick_alloc(pool=None, pred=lambda a: bool(a.reset or a.deinit))
        if am is None:
            return None
        if am.deinit == "debug" and not self.on("debug_deinit"):
            return None
        if am.deinit and (not am.reset or rng.random() < 0.3):
            return Act("deinit", f"{am.name}.deinit()", (am.name,))
        if am.reset == "fba":
            if rng.random() < 0.1:
                return Act(
                    "reset", f"{am.name}.reset('free_all')", (am.name,), {"errs": (TypeError,)}
                )
            return Act("reset", f"{am.name}.reset()", (am.name,))
        r = rng.random()
        if r < 0.12:
            bad, err = rng.choice(
                (
                    ("'bogus'", ValueError),
                    ("5", TypeError),
                    ("'free_all', 10", ValueError),
                    ("'retain_with_limit'", ValueError),
                    ("'retain_with_limit', -1", ValueError),
                    ("'retain_with_limit', 'x'", TypeError),
                    ("limit=3", ValueError),
                )
            )
            return Act("reset", f"{am.name}.reset({bad})", (am.name,), {"errs": (err,)})
        mode = rng.choice(MODES)
        if mode == "retain_with_limit":
            lim = rng.choice((0, 1, 100, 4096, 1 << 20, 2**70))
            args = rng.choice((f"'{mode}', {lim}", f"mode='{mode}', limit={lim}"))
        else:
            args = rng.choice((f"'{mode}'", "") if mode == "retain_capacity" else (f"'{mode}'",))
        return Act("reset", f"{am.name}.reset({args})", (am.name,))

    def gen_pool(self) -> Act | None:
        """create/destroy/preheat on a pool."""
        rng = self.rng
        am = self.pick_alloc(pool=True)
        if am is None:
            return None
        r = rng.random()
        if r < 0.5:
            v = self.fresh("v")
            kw: dict[str, Any] = {"v": v, "n": self.ns[am.name].item_size, "align": am.max_align}
            tail = ""
            if rng.random() < 0.7:
                kw["seed"] = s = rng.getrandbits(30)
                tail = f"; S.fill({v}, {s})"
            return Act("pcreate", f"{v} = {am.name}.create(){tail}", (am.name,), kw)
        if r < 0.85:
            item = self.pick_view(
                alive=None if rng.random() < 0.15 else True,
                pred=lambda v: v.alloc == am.name or rng.random() < 0.05,
            )
            if item is None or item.cobj:
                return None
            return Act("pdestroy", f"{am.name}.destroy({item.name})", (am.name,), {"v": item.name})
        n: Any = rng.choice((0, 1, 3, 50, 1000))
        nsrc = str(n)
        kw2: dict[str, Any] = {}
        if rng.random() < 0.15:
            nsrc, err = rng.choice(
                (
                    ("-1", ValueError),
                    ("'3'", TypeError),
                    (str(2**64), OverflowError),
                    # more items than the machine's memory holds: MemoryError at once
                    (str(2**62), MemoryError),
                    (str(2**40), MemoryError),
                )
            )
            kw2["errs"] = (err,)
        return Act("preheat", f"{am.name}.preheat({nsrc})", (am.name,), kw2)

    def gen_bad(self) -> Act | None:
        """Call with wrong arguments that must raise a precise exception."""
        rng = self.rng
        am = self.pick_alloc(pool=False)
        v = self.pick_view()
        name = am.name if am else "zheap.c_allocator"
        cases: list[tuple[str, tuple[type[BaseException], ...]]] = [
            (f"{name}.alloc()", (TypeError,)),
            (f"{name}.alloc(1, 2, 3)", (TypeError,)),
            (f"{name}.alloc(n=5)", (TypeError,)),
            (f"{name}.free()", (TypeError,)),
            (f"{name}.resize(bytearray(4), 2)", (TypeError,)),
            (f"{name}.realloc(memoryview(b'abc'), 2)", (ValueError,)),
            ("zheap.address_of(5)", (TypeError,)),
            (f"pickle.dumps({name})", (TypeError,)),
            ("zheap.Allocator()", (TypeError,)),
            ("zheap.Block()", (TypeError,)),
            ("zheap.CapsuleAllocator()", (TypeError,)),
            ("zheap.ArenaAllocator(5)", (TypeError,)),
            ("zheap.ThreadSafeAllocator(bytearray(1))", (TypeError,)),
            ("zheap.FixedBufferAllocator(-1)", (ValueError,)),
            ("zheap.FixedBufferAllocator(b'readonly')", (BufferError, TypeError)),
            (f"zheap.FixedBufferAllocator({2**63})", (OverflowError,)),
            ("zheap.DebugAllocator(page_size=1000)", (ValueError,)),
            ("zheap.DebugAllocator(stack_trace_frames=65)", (ValueError,)),
            ("zheap.DebugAllocator(canary=-1)", (ValueError,)),
            ("zheap.DebugAllocator(bogus=1)", (TypeError,)),
            ("zheap.MemoryPool(0)", (ValueError,)),
            ("zheap.MemoryPool(-1)", (ValueError,)),
            ("zheap.MemoryPool(8, alignment=3)", (ValueError,)),
            ("zheap.MemoryPoolAligned(8)", (TypeError,)),
            ("zheap.MemoryPool('x')", (TypeError,)),
            ("zheap.MemoryPool.preheated(8, -1)", (ValueError,)),
            ("zheap.WasmAllocator(max_pages=0)", (ValueError,)),
            (f"zheap.WasmAllocator(max_pages={2**33})", (ValueError,)),
            ("zheap.SbrkAllocator(capacity=0)", (ValueError,)),
            ("zheap.SbrkAllocator(sbrk=5)", (TypeError,)),
            ("zheap.StackFallbackAllocator(-1, zheap.c_allocator)", (ValueError,)),
            ("zheap.StackFallbackAllocator(10, 5)", (TypeError,)),
            ("zheap.Allocator.from_capsule(5)", (TypeError, ValueError)),
            (
                "zheap.Allocator.from_capsule(zheap.c_allocator.capsule(), max_alignment=3)",
                (ValueError,),
            ),
            ("zheap.FailingAllocator(zheap.c_allocator, fail_index=-1)", (ValueError,)),
            ("type('X', (zheap.Allocator,), {'_alloc': lambda s, n, a: None})()", (TypeError,)),
            ("type('Y', (S.Hostile,), {'max_alignment': 0})()", (ValueError,)),
            ("s = zheap.stack_fallback(8, zheap.c_allocator); s.get(); s.get()", (zheap.ZigPanic,)),
            (f"__import__('copy').copy({name})", (TypeError,)),
            ("type('Z', (zheap.ArenaAllocator,), {})", (TypeError,)),
            ("zheap.Allocator.alloc(zheap.MemoryPool(8), 5)", (TypeError,)),
            (f"zheap.MemoryPool.create({name})", (TypeError,)),
        ]
        kind = am.kind if am else "c"
        if kind != "arena":
            cases.append((f"zheap.ArenaAllocator.reset({name})", (TypeError,)))
        if kind != "debug":
            cases.append((f"zheap.DebugAllocator.raw_alloc({name}, 8)", (TypeError,)))
        if kind != "fba":
            cases.append((f"zheap.FixedBufferAllocator.reset({name})", (TypeError,)))
        if v is not None:
            cases.append((f"pickle.dumps({v.name}.obj)", (TypeError,)))
            if self.ns.get(v.alloc) is not zheap.c_allocator:
                cases.append((f"zheap.c_allocator.free({v.name})", (ValueError,)))
        if am is not None and am.kind == "debug":
            cases += [
                (f"{name}.raw_alloc(0)", (ValueError,)),
                (f"{name}.raw_free(0, 0)", (ValueError,)),
                (
                    f"{name}.requested_memory_limit = -1",
                    (ValueError,) if am.debug_cfg.get("enable_memory_limit") else (AttributeError,),
                ),
            ]
        src, errs = rng.choice(cases)
        if am is not None and am.closed and src.startswith(name):
            errs = (*errs, ValueError)
        return Act("bad", src, (am.name,) if am and src.startswith(am.name) else (), {"errs": errs})

    def gen_info(self) -> Act | None:
        """Introspection: layout, stats, repr, properties, allocator-specific queries."""
        rng = self.rng
        am = self.pick_alloc(pool=None)
        if am is None:
            return None
        n = am.name
        forms = [f"{n}.layout()", f"{n}.stats()", f"repr({n})", f"{n}.live", f"{n}._repr_html_()"]
        kind = am.kind
        if not am.pool:
            forms.append(f"{n}.max_alignment")
        if kind == "fba":
            forms += [f"{n}.end_index", f"{n}.capacity"]
            v = self.pick_view()
            if v is not None:
                forms += [f"{n}.owns({v.name})", f"{n}.is_last_allocation({v.name})"]
        if kind == "sfa":
            v = self.pick_view()
            forms += [f"{n}.stack_fallback.stats()", f"{n}.stack_fallback.get_called"]
            if v is not None:
                forms.append(f"{n}.in_buffer({v.name})")
        if kind == "wasm":
            forms += [
                f"{n}.memory_size()",
                f"{n}.memory_grow({rng.choice((0, 1, 3, 2**40))})",
                f"{n}.base",
            ]
        if kind in ("sbrk", "pysbrk"):
            forms += [f"{n}.brk()", f"{n}.region", f"{n}.sbrk"]
        if kind == "debug":
            forms += [
                f"{n}.detect_leaks()",
                f"{n}.leaks()",
                f"{n}.large_allocations()",
                f"{n}.buckets()",
                f"{n}.config",
                f"{n}.flush_retained_metadata()",
            ]
            if am.debug_cfg.get("enable_memory_limit"):
                forms += [
                    f"{n}.total_requested_bytes",
                    f"{n}.requested_memory_limit = {rng.choice((0, 100, 10**6, 2**64 - 1))}",
                ]
            elif rng.random() < 0.15:
                # documented: AttributeError without enable_memory_limit=True
                src = rng.choice(
                    (
                        f"{n}.total_requested_bytes",
                        f"{n}.requested_memory_limit",
                        f"{n}.requested_memory_limit = 100",
                    )
                )
                errs: tuple[type[BaseException], ...] = (AttributeError,)
                if am.closed:
                    errs = (*errs, ValueError)
                return Act("bad", src, (n,), {"errs": errs})
        if kind == "failing":
            forms += [
                f"{n}.alloc_index",
                f"{n}.has_induced_failure",
                f"{n}.failure_trace",
                f"repr({n})",
            ]
        if kind == "arena":
            forms += [f"{n}.query_capacity()", f"{n}.child_allocator"]
        if am.pool:
            forms += [f"{n}.item_size", f"{n}.slot_size", f"{n}.growable", f"{n}.child_allocator"]
        if kind == "hostile" and rng.random() < 0.3:
            lie = rng.choice(("raise", "garbage", "huge", "negative"))
            forms.append(f"{n}.arm('free_blocks', {lie!r}); {n}.layout()")
        return Act("misc", rng.choice(forms), (n,), {"errs": DOCUMENTED})

    def gen_gc(self) -> Act | None:
        """Collect all garbage."""
        return Act("gc", "gc.collect()")

    def gen_threshold(self) -> Act | None:
        """Collect at (almost) every allocation, or go back to normal."""
        t = self.rng.choice(("1", "1, 1, 1", "2", "3", "5", "8", "13", "700, 10, 10"))
        return Act("misc", f"gc.set_threshold({t})", (), {"errs": ()})

    def gen_release(self) -> Act | None:
        """Call release() on a view alloc() returned (not a copy).

        The view dies; its block stays allocated (a leak) until a reset or the collector.
        """
        v = self.pick_view(pred=lambda v: not v.cobj and not v.exports and not v.maybe_exports)
        if v is None:
            return None
        return Act("release", f"{v.name}.release()", (), {"v": v.name})

    def exp_release(self, a: Act) -> Exp:
        """Releasing a primary view works (on a dead one too: release() is idempotent)."""
        return Exp(ok=True)

    def app_release(self, a: Act, exc: type[BaseException] | None, vague: bool) -> None:
        """Mark the view dead; its block lives on as a leak (like a dropped view)."""
        v = self.views.get(a.kw["v"])
        if v is not None and exc is None and not v.alive and v.donated:
            # a resync inside this statement (a collection's hook) saw it released already;
            # a donated view is never freed (its holder exports it), so this release ended it
            self.pin_forever(v)
        elif v is not None and exc is None and v.alive:
            v.alive = False
            if v.exports:
                # a finalizer exported it within this very statement: the export keeps the
                # block (and reads it) until it goes
                v.released = True
            elif v.donated:
                self.pin_forever(v)  # the FBA or region holder still exports the block
            else:
                self.limbo.append((weakref.ref(self.ns[v.name]), v.alloc))
                self.allocs[v.alloc].leaked = True

    def gen_drop(self) -> Act | None:
        """``del`` of a view or ctypes object: a leak, maybe with a finalizer or weakref."""
        rng = self.rng
        v = self.pick_view(
            alive=None,
            cobj=rng.random() < 0.3,
            pred=lambda v: not v.exports and not v.maybe_exports and not v.donated,
        )
        if v is None:
            return None
        ref = None
        obj = self.ns.get(v.name)
        if isinstance(obj, memoryview):
            ref = weakref.ref(obj)
        r = rng.random()
        if r < 0.25 and self.on("weakrefs"):
            hook = self.hook_act()
            if hook is not None:
                return Act(
                    "drop",
                    f"S.wref({v.name}, {hook.src!r}); del {v.name}",
                    (),
                    {"v": v.name, "ref": ref},
                )
        if r < 0.45 and self.on("bombs"):
            hook = self.hook_act()
            if hook is not None:
                return Act(
                    "drop",
                    f"S.bomb({hook.src!r}, {v.name}); del {v.name}",
                    (),
                    {"v": v.name, "ref": ref, "held": True},
                )
        return Act("drop", f"del {v.name}", (), {"v": v.name, "ref": ref})

    def gen_arm(self) -> Act | None:
        """Arm a hostile allocator (or a Python sbrk) with an action or a lie."""
        rng = self.rng
        am = self.pick_alloc(pred=lambda a: a.hostile)
        if am is None:
            return None
        after = rng.choice((0, 0, 0, 1, 2, 5))
        if am.kind == "pysbrk":
            kind = rng.choice(
                (
                    "act",
                    "act",
                    "raise",
                    "below",
                    "unaligned",
                    "outside",
                    "nonint",
                    "fail",
                    "sleep",
                    "gc",
                )
            )
            if (kind == "act" and not self.on("hooks")) or (
                kind not in ("act", "sleep", "gc") and not self.on("lies")
            ):
                return None
            hook = self.hook_act() if kind == "act" else None
            if kind == "act" and hook is None:
                return None
            arg = f", {hook.src!r}" if hook else ", None"
            return Act("misc", f"{am.name}.sbrk.arm({kind!r}{arg}, {after})", (), {"errs": ()})
        method = rng.choice(("alloc", "alloc", "resize", "remap", "free", "*", "del"))
        lies = {
            "alloc": (
                "raise",
                "misaligned",
                "outside",
                "overlap",
                "huge",
                "negative",
                "nonint",
                "bool",
            ),
            "remap": ("raise", "misaligned", "outside", "overlap", "huge", "nonint"),
            "resize": ("raise", "true", "badbool", "actbool"),
            "free": ("raise",),
            "*": ("raise",),
            "del": ("sleep",),
        }[method]
        r = rng.random()
        if r < 0.5:
            hook = self.hook_act() if self.on("hooks") else None
            if hook is None:
                return None
            kind, arg = "act", repr(hook.src)
        elif r < 0.65:
            kind, arg = rng.choice(("sleep", "gc")), "None"
        else:
            if not self.on("lies"):
                return None
            kind = rng.choice(lies)
            arg = "None"
            if kind == "actbool":
                hook = self.hook_act()
                if hook is None:
                    return None
                arg = repr(hook.src)
        return Act("misc", f"{am.name}.arm({method!r}, {kind!r}, {arg}, {after})", (), {"errs": ()})

    def gen_bomb(self) -> Act | None:
        """Drop a garbage cycle whose finalizer runs an action (or hook the zheap logger)."""
        hook = self.hook_act() if self.on("bombs") else None
        if hook is None:
            return None
        if self.rng.random() < 0.25 and any(a.kind == "debug" for a in self.allocs.values()):
            return Act("misc", f"S.log_hook({hook.src!r})", (), {"errs": ()})
        return Act("misc", f"S.bomb({hook.src!r})", (), {"errs": ()})

    def gen_wref(self) -> Act | None:
        """Put a weakref callback on an allocator or an export."""
        hook = self.hook_act() if self.on("weakrefs") else None
        if hook is None:
            return None
        targets = [
            e.name for e in self.exports.values() if e.kind in ("mv", "slice", "obj", "cast", "np")
        ]
        targets += list(self.allocs)
        return Act("misc", f"S.wref({self.rng.choice(targets)}, {hook.src!r})", (), {"errs": ()})

    def gen_evil(self) -> Act | None:
        """Hostile odds and ends: a ctypes object's views released, stash abuse."""
        rng = self.rng
        r = rng.random()
        c = self.pick_view(cobj=True)
        if r < 0.5 and c is not None and self.on("release_objects"):
            return Act(
                "misc", f"S.release_objects({c.name})", (), {"errs": DOCUMENTED, "tamper": c.name}
            )
        if r < 0.7 and RT.stash:
            am = self.pick_alloc(pool=False)
            if am is not None:
                op = rng.choice(
                    (
                        "free(S.RT.stash[-1])",
                        "realloc(S.RT.stash[-1], 64)",
                        "resize(S.RT.stash[-1], 1)",
                    )
                )
                return Act(
                    "misc", f"{am.name}.{op}", (am.name,), {"errs": DOCUMENTED, "vague": True}
                )
        return Act("misc", "S.touch_all()", (), {"errs": ()})

    def gen_newalloc(self) -> Act | None:
        """Make a new allocator over an existing one (or a new stack)."""
        am = self.pick_alloc()
        if am is None or self.rng.random() < 0.3:
            self.new_leaf()
        else:
            self.new_wrapper(am.name)
        return None if self.rng.random() < 0.5 else self.gen_info()

    def gen_capsule(self) -> Act | None:
        """Take a bare capsule of an allocator, or drop one."""
        if not self.on("capsule"):
            return None
        if self.capsules and self.rng.random() < 0.5:
            k = self.rng.choice(list(self.capsules))
            return Act("dropcapsule", f"del {k}", (), {"k": k})
        am = self.pick_alloc(pool=False)
        if am is None:
            return None
        k = self.fresh("k")
        return Act("capsule", f"{k} = {am.name}.capsule()", (am.name,), {"k": k})

    def gen_trace(self) -> Act | None:
        """zheap.trace() on an allocator, or stop/read/replay of a trace."""
        rng = self.rng
        if not self.on("trace"):
            return None
        if self.traces and rng.random() < 0.6:
            t = rng.choice(list(self.traces))
            form = rng.choice(
                (
                    f"{t}.stop()",
                    f"{t}.dumps()",
                    f"len({t}.events)",
                    f"{t}.outcomes()",
                    f"zheap.replay({t}, zheap.FixedBufferAllocator(1 << 16))",
                    f"zheap.replay({t}, zheap.ArenaAllocator())",
                )
            )
            return Act("misc", form, (), {"errs": DOCUMENTED})
        am = self.pick_alloc(pool=None)
        if am is None:
            return None
        t = self.fresh("t")
        return Act(
            "misc",
            f"{t} = zheap.trace({am.name})",
            (am.name,),
            {"errs": (RuntimeError, ValueError, TypeError), "trace": (t, am.name)},
        )

    def gen_raw(self) -> Act | None:
        """DebugAllocator.raw_alloc/raw_free, right and wrong."""
        rng = self.rng
        if not self.on("debug_raw"):
            return None
        am = self.pick_alloc(pred=lambda a: a.kind == "debug")
        if am is None:
            return None
        if not self.raws or rng.random() < 0.4:
            r = self.fresh("r")
            n = rng.choice((1, 8, 24, 100, 5000, 200000))
            al = self.align(am)
            return Act(
                "raw_alloc",
                f"{r} = {am.name}.raw_alloc({n}, {al})",
                (am.name,),
                {"r": r, "n": n, "al": al},
            )
        x = rng.random()
        if x < 0.5:
            rname = rng.choice([k for k, r in self.raws.items()] or [""])
            if rname and self.raws[rname][0] == am.name:
                _, _, n, al = self.raws[rname]
                return Act(
                    "raw_free",
                    f"{am.name}.raw_free({rname}, {n}, {al})",
                    (am.name,),
                    {"r": rname, "kind": "exact"},
                )
        v = self.pick_view(pred=lambda v: v.alloc == am.name and v.length > 0)
        if x < 0.75 and v is not None:
            return Act(
                "raw_free",
                f"{am.name}.raw_free(zheap.address_of({v.name}), {v.length}, {v.align})",
                (am.name,),
                {"kind": "view"},
            )
        if v is not None:
            off = rng.choice((1, 8, 16, v.length // 2))
            n = rng.choice((1, 8, v.length))
            return Act(
                "raw_free",
                f"{am.name}.raw_free(zheap.address_of({v.name}) + {off}, {n})",
                (am.name,),
                {"kind": "wrong"},
            )
        addr = rng.choice((0, 8, 4096, 2**64 - 8, 2**63))
        return Act(
            "raw_free",
            f"{am.name}.raw_free({addr}, {rng.choice((1, 8, 4096))})",
            (am.name,),
            {"kind": "wrong"},
        )

    def gen_threads(self) -> Act | None:
        """Run a short phase of Python threads sharing allocators."""
        rng = self.rng
        if not self.on("threads"):
            return None
        cands = [a for a in self.allocs.values() if not a.pool and not a.closed]
        if not cands:
            return None
        chosen = rng.sample(cands, min(len(cands), rng.randint(1, 2)))
        names = ", ".join(a.name for a in chosen)
        n = rng.choice((20, 50, 100))
        k = rng.choice((2, 2, 3))
        self.calls += n * k - 1
        return Act(
            "threads",
            f"S.threads([{names}], {n}, {rng.getrandbits(20)}, {k})",
            tuple(a.name for a in chosen),
            {"errs": DOCUMENTED},
        )

    def gen_race(self) -> Act | None:
        """Run Python code at the worst moment: between a call's check and its act.

        A finalizer, weakref callback or hook acts on the very view or allocator the
        next call works on.
        """
        rng = self.rng
        if not (self.on("bombs") or self.on("weakrefs") or self.on("hooks")):
            return None
        v = self.pick_view(pred=lambda v: not v.cobj)
        if v is None:
            return None
        am = self.allocs[v.alloc]
        name = am.name
        nv0, e0 = self.fresh("v"), self.fresh("e")
        call = "destroy" if am.pool else "free"
        targets = [
            Act(
                "pdestroy" if am.pool else "free",
                f"{name}.{call}({v.name})",
                (name,),
                {"v": v.name},
            ),
            *(
                [Act("write", f"S.fill({v.name}, 7)", (), {"v": v.name, "seed": 7})]
                if self.writable(v, later=True)
                else []
            ),
            Act(
                "export",
                f"{e0} = memoryview({v.name})",
                (),
                {"v": v.name, "e": e0, "kind": "mv", "off": 0, "len": v.length},
            ),
            Act("gc", "gc.collect()"),
        ]
        if am.reset == "fba":
            targets.append(Act("reset", f"{name}.reset()", (name,)))
        elif am.reset:
            targets.append(Act("reset", f"{name}.reset({rng.choice(MODES[:2])!r})", (name,)))
        if am.deinit:
            targets.append(Act("deinit", f"{name}.deinit()", (name,)))
        if not am.pool:
            targets.append(
                Act("alloc", f"{nv0} = {name}.alloc(64)", (name,), {"v": nv0, "n": 64, "al": 1})
            )
            targets.append(
                Act(
                    "realloc",
                    f"{nv0} = {name}.realloc({v.name}, 1)",
                    (name,),
                    {"v": v.name, "new": nv0, "n": 1},
                )
            )
        act_ = self.register(rng.choice(targets))
        way = rng.choice(("bomb", "wref", "hook"))
        if way == "hook":
            hostile = [a for a in self.chain(name) if self.allocs[a].kind == "hostile"]
            if not hostile or not self.on("hooks"):
                way = "bomb"
            else:
                method = rng.choice(("alloc", "resize", "remap", "free", "*"))
                self.run(
                    Act(
                        "misc",
                        f"{hostile[0]}.arm({method!r}, 'act', {act_.src!r})",
                        (),
                        {"errs": ()},
                    )
                )
        if way == "wref":
            other = self.pick_view(
                pred=lambda w: (
                    w.alloc == name
                    and w.name != v.name
                    and not w.exports
                    and not w.maybe_exports
                    and not w.cobj
                    and not w.donated
                )
            )
            if other is None or not self.on("weakrefs"):
                way = "bomb"
            else:
                ref = (
                    weakref.ref(self.ns[other.name])
                    if isinstance(self.ns.get(other.name), memoryview)
                    else None
                )
                self.run(
                    Act(
                        "drop",
                        f"S.wref({other.name}, {act_.src!r}); del {other.name}",
                        (),
                        {"v": other.name, "ref": ref},
                    )
                )
        prefix = ""
        if way == "bomb":
            # the bomb is made in the statement of the call, so that the collection comes
            # about `t` objects into the call
            t = rng.choice((1, 1, 2, 3, 4, 6, 9, 14))
            self.run(Act("misc", f"gc.set_threshold({t})", (), {"errs": ()}))
            prefix = f"S.bomb({act_.src!r}); "
        if v.name not in self.views or not self.views[v.name].alive:
            return None
        # the call the action lands in
        nv = self.fresh("v")
        ops = [
            Act(
                "free" if not am.pool else "pdestroy",
                f"{name}.{'destroy' if am.pool else 'free'}({v.name})",
                (name,),
                {"v": v.name},
            )
        ]
        if not am.pool:
            n = rng.choice((1, v.length + 16, 4096))
            op = rng.choice(("resize", "remap", "realloc"))
            ops.append(
                Act(
                    op,
                    f"{nv} = {name}.{op}({v.name}, {n})",
                    (name,),
                    {"v": v.name, "new": nv, "n": n},
                )
            )
            ops.append(
                Act("alloc", f"{nv} = {name}.alloc(48)", (name,), {"v": nv, "n": 48, "al": 1})
            )
            ops.append(Act("dupe", f"{nv} = {name}.dupe({v.name})", (name,), {"v": nv}))
        else:
            ops.append(
                Act(
                    "pcreate",
                    f"{nv} = {name}.create()",
                    (name,),
                    {"v": nv, "n": self.ns[name].item_size, "align": am.max_align},
                )
            )
        if am.reset == "fba":
            ops.append(Act("reset", f"{name}.reset()", (name,)))
        elif am.reset:
            ops.append(Act("reset", f"{name}.reset('free_all')", (name,)))
        if am.deinit:
            ops.append(Act("deinit", f"{name}.deinit()", (name,)))
        ops.append(Act("misc", f"{name}.layout()", (name,), {"errs": DOCUMENTED}))
        ops.append(Act("misc", f"{name}.stats()", (name,), {"errs": DOCUMENTED}))
        if am.kind == "debug":
            walk = rng.choice(("leaks", "large_allocations", "buckets", "detect_leaks"))
            ops.append(Act("misc", f"{name}.{walk}()", (name,), {"errs": DOCUMENTED}))
        chosen = rng.choice(ops)
        chosen.src = prefix + chosen.src
        return chosen

    def gen_region(self) -> Act | None:
        """add_region() on an allocator written in Python (or on one that is not)."""
        am = self.pick_alloc(pool=False)
        if am is None:
            return None
        if am.kind not in ("hostile", "bump", "firstfit"):
            return Act(
                "bad", f"{am.name}.add_region(bytearray(64))", (am.name,), {"errs": (TypeError,)}
            )
        v = self.pick_view(
            pred=lambda v: not v.cobj and not v.exports and not v.donated and v.alive
        )
        if v is None or self.rng.random() < 0.3:
            return Act("misc", f"{am.name}.add_region(bytearray(4096))", (am.name,), {"errs": ()})
        return Act(
            "misc", f"{am.name}.add_region({v.name})", (am.name,), {"errs": (), "donate": v.name}
        )

    def gen_misc(self) -> Act | None:
        """Odd corners: a second get(), FBA over a live view, capsule-of-capsule, pickling."""
        rng = self.rng
        am = self.pick_alloc(pool=False)
        if am is None:
            return None
        forms = [
            f"zheap.Allocator.from_capsule({am.name}.capsule()).alloc(8)",
            f"zheap.validation_wrap({am.name}).alloc(1)",
            f"zheap.ArenaAllocator({am.name}).alloc(100)",
            f"zheap.ThreadSafeAllocator({am.name}).stats()",
            f"zheap.stack_fallback(16, {am.name}).get().alloc(32)",
            f"zheap.testing.test_allocator({am.name})",
        ]
        return Act(
            "misc",
            rng.choice(forms),
            (am.name,),
            {"errs": DOCUMENTED, "vague": True, "uncertain": [am.name]},
        )

    # --- an episode -------------------------------------------------------------------------------

    def planted(self, what: str) -> None:
        """Test-only (``--plant``): an episode that crashes, hangs, or breaks the model."""
        try:
            self.run_new("aP = zheap.c_allocator", "aP", "c")
            if what in ("crash", "hang"):
                self.run(Act("misc", f"S._plant({what!r})", (), {"errs": ()}))
            self.run(
                Act(
                    "alloc",
                    "vP = aP.alloc(16); S.fill(vP, 1)",
                    ("aP",),
                    {"v": "vP", "n": 16, "al": 1, "seed": 1},
                )
            )
            self.run(Act("misc", "vP[0] ^= 0xFF", (), {"errs": ()}))  # behind the model's back
        except _EndEpisode:
            pass

    def episode(self, budget: int) -> int:
        """Build stacks and run about ``budget`` statements; the calls made."""
        self.start()
        try:
            self.build()
            while self.calls < budget:
                self.step()
        except _EndEpisode:
            pass
        return self.calls

    def finish(self) -> None:
        """Tear the episode down (logged: a crash there is a finding too)."""
        careful = not self.on("gc_teardown") or self.rng.random() < 0.5
        src = f"S.teardown(globals(){', careful=True' if careful else ''})  # teardown"
        self.lines.append(src)
        self.log(src)
        gc.enable()
        try:
            exec(_compile(src), self.ns)
        except Exception as e:  # noqa: BLE001
            print(f"selftest: teardown raised {type(e).__name__}: {e}", file=sys.stderr)
        gc.disable()


def _plant(what: str) -> None:
    """Test-only: make this worker crash or hang (see ``--plant``)."""
    if what == "crash":
        os.abort()
    if what == "hang":
        while True:
            time.sleep(3600)


# ============================================================================
# The worker: episodes in one child process
# ============================================================================


def _worker(args: argparse.Namespace) -> int:
    """Run ``args.calls`` calls in episodes; write the results as JSON."""
    fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    faulthandler.enable()  # a crash (or the SIGABRT a hang gets) prints the Python stacks

    def log(line: str) -> None:
        os.write(fd, (line + "\n").encode())

    rng = random.Random(args.seed)
    calls = 0
    episodes = 0
    quiet = logging.getLogger("zheap")  # DebugAllocator leak reports: expected, and many
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    violations: list[dict[str, str]] = []
    RT.verbose = args.verbose > 1
    skip = set(filter(None, (args.skip or "").split(",")))
    while calls < args.calls:
        ep_seed = rng.getrandbits(63)
        # the previous episode's log stays next to this one: corruption it left may
        # only crash this episode
        os.close(fd)
        os.replace(args.log, args.log + ".prev")
        fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        log(
            f"# zheap selftest: worker seed {args.seed}, episode {episodes} (seed {ep_seed}), "
            f"calls_before={calls}"
        )
        os.write(fd, _PRELUDE.encode())
        log("# --- statements")
        ep = Episode(
            ep_seed, log=log, strict_reentry=not args.lenient, verbose=args.verbose > 1, skip=skip
        )
        bind(ep.ns)
        budget = min(args.calls - calls, rng.randint(40, 400))
        try:
            if args.plant and episodes == 0:
                ep.start()
                ep.planted(args.plant)
            else:
                ep.episode(budget)
        except Exception as e:  # noqa: BLE001 -- the fuzzer's own bug, or one it cannot model
            tb = "".join(traceback.format_exception(e))
            print(f"selftest: episode {ep_seed} failed:\n{tb}", file=sys.stderr)
            ep.violations.append(
                Violation("internal", f"{type(e).__name__}: {e}", ep.current, "", ep.script())
            )
        ep.finish()
        calls += max(ep.calls, 1)
        episodes += 1
        for v in ep.violations:
            violations.append(
                {
                    "kind": v.kind,
                    "message": v.message,
                    "signature": v.signature(),
                    "statement": v.statement,
                    "repro": v.repro,
                    "seed": str(ep_seed),
                }
            )
            if args.verbose:
                print(f"[worker {args.seed}] violation: {v.kind}: {v.message}", file=sys.stderr)
    with open(args.result, "w") as f:
        json.dump({"calls": calls, "episodes": episodes, "violations": violations}, f)
    os.close(fd)
    return 3 if violations else 0


def _one_episode(args: argparse.Namespace) -> int:
    """Run the episode ``args.episode`` here, printing each call; 1 if it broke a promise."""
    faulthandler.enable()
    skip = set(filter(None, (args.skip or "").split(",")))
    ep = Episode(args.episode, log=print, strict_reentry=not args.lenient, skip=skip)
    bind(ep.ns)
    ep.episode(args.budget)
    ep.finish()
    for v in ep.violations:
        print(f"VIOLATION {v.kind}: {v.message}")
    return 1 if ep.violations else 0


# ============================================================================
# The campaign: workers in child processes, crashes and hangs caught
# ============================================================================

_SANITIZER = re.compile(
    r"(ERROR: AddressSanitizer: [\w-]+|runtime error: .*|Fatal Python error: .*|"
    r"ERROR: LeakSanitizer.*|AddressSanitizer:DEADLYSIGNAL)"
)


@dataclass
class Finding:
    """One distinct crash, hang or violation of the campaign."""

    kind: str  # "crash", "hang", "violation"
    signature: str
    message: str
    repro_path: str
    count: int = 1
    minimized: str = ""


@dataclass
class _Run:
    index: int
    seed: int
    calls: int
    proc: subprocess.Popen[bytes]
    log: str
    result: str
    out: str
    err: str
    started: float
    last_change: float = 0.0
    last_mtime: int = 0


def _crash_kind(rc: int, err: str) -> str:
    """Describe a crash: the signal, and the core's panic or the sanitizer's report."""
    parts = [_signal_name(rc)] if rc < 0 else []
    panic = re.search(r"^.*panic: .*$", err, re.M)
    asan = re.search(
        r"(ERROR: AddressSanitizer: [\w-]+|runtime error: .*|ERROR: LeakSanitizer.*)", err
    )
    if asan:
        parts.append(asan.group(1))
    elif panic:
        parts.append(panic.group(0).strip())
    return ": ".join(parts) or "crash"


def _crash_frame(err: str) -> str:
    """Return " in FUNC": the first zheap frame of a sanitizer report's faulting stack.

    That is the stack before "freed by" / "previously allocated"; without a zheap frame,
    its first frame that is not an interceptor; "" without a report.
    """
    m = re.search(r"ERROR: AddressSanitizer.*?\n(.*?)(\n\s*\n|$)", err, re.S)
    stack = m.group(1) if m else err.split("\n\n", 1)[0]
    frame = re.search(r"#\d+ 0x[0-9a-f]+ in (\w+) \S*csrc/", stack) or re.search(
        r"#\d+ 0x[0-9a-f]+ in ((?!__interceptor)\w+) ", stack
    )
    return f" in {frame.group(1)}" if frame else ""


def _signal_name(rc: int) -> str:
    try:
        return signal.Signals(-rc).name
    except ValueError:
        return f"signal {-rc}"


def _read_log(path: str, with_previous: bool = False) -> tuple[int, list[str]]:
    """Return the calls made before the current episode, and its statements.

    ``with_previous``: when the episode crashed before its third statement, the
    previous episode (which may have left the corruption) comes first.
    """
    try:
        with open(path, errors="replace") as f:
            text = f.read()
    except OSError:
        return 0, []
    m = re.search(r"calls_before=(\d+)", text)
    body = text.split("# --- statements\n", 1)[1] if "# --- statements\n" in text else ""
    lines = body.splitlines()
    if with_previous and sum(1 for ln in lines if ln and not ln.startswith("#")) < 3:
        _, prev = _read_log(path + ".prev")
        lines = [*prev, _NEXT, *lines] if prev else lines
    return (int(m.group(1)) if m else 0), lines


_NEXT = "# --- the next episode"


def _head(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.readline()
    except OSError:
        return ""


def crash_script(lines: list[str], header: str) -> str:
    """Make a reproduction script from a crashed episode's log lines."""
    out: list[str] = []
    for i, ln in enumerate(lines):
        if ln == "# check" or ln.startswith("# raised"):
            continue
        if ln == _NEXT:
            out.append("S.bind(globals())  # the next episode")
            continue
        raised = i + 1 < len(lines) and lines[i + 1].startswith("# raised")
        out.append(_guarded(ln) if raised else ln)
    if lines and lines[-1] == "# check":
        out.append("S.touch_all()  # the checker was reading every view when it crashed")
    return header + _RUN_NOTE + _PRELUDE + "\n".join(out) + "\n"


def _guarded(src: str) -> str:
    """Wrap a statement that raised so that the script goes on."""
    return f"try: {src}\nexcept Exception as e: print('raised', repr(e)[:200])"


_RUN_NOTE = (
    f"# run from the tree root: PYTHONPATH={os.path.dirname(os.path.dirname(zheap.__file__))}\n"
)


class Campaign:
    """Runs workers until ``calls`` calls are made; collects findings."""

    def __init__(self, args: argparse.Namespace) -> None:
        """Take the settings from the command line."""
        self.args = args
        self.out = args.out or tempfile.mkdtemp(prefix="zheap-selftest-")
        os.makedirs(self.out, exist_ok=True)
        self.calls = 0
        self.crashes = self.hangs = self.violations = 0
        self.findings: dict[str, Finding] = {}
        jobs = max(1, args.jobs)
        self.per_run = args.per_run or max(300, min(4000, args.calls // (jobs * 3) or 300))
        self.next_index = 0
        self.running: list[_Run] = []
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        """Progress output (with --verbose)."""
        if self.args.verbose:
            print(text, file=sys.stderr, flush=True)

    def launch(self, calls: int) -> None:
        """Start one worker."""
        i = self.next_index
        self.next_index += 1
        seed = (self.args.seed * 1_000_003 + i * 7919) & ((1 << 62) - 1)
        base = os.path.join(self.out, f"run{i:04d}")
        cmd = [
            sys.executable,
            "-m",
            "zheap",
            "selftest",
            "--_worker",
            "--seed",
            str(seed),
            "--calls",
            str(calls),
            "--_log",
            base + ".log",
            "--_result",
            base + ".json",
        ]
        if self.args.lenient:
            cmd.append("--lenient")
        if self.args.skip:
            cmd += ["--skip", self.args.skip]
        if self.args.verbose > 1:
            cmd += ["--verbose", "--verbose"]
        if self.args.plant and i == 0:
            cmd += ["--_plant", self.args.plant]
        out, err = open(base + ".out", "wb"), open(base + ".err", "wb")  # noqa: SIM115
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=_env())
        out.close()
        err.close()
        now = time.monotonic()
        self.running.append(
            _Run(
                i,
                seed,
                calls,
                proc,
                base + ".log",
                base + ".json",
                base + ".out",
                base + ".err",
                now,
                now,
            )
        )
        self.say(f"worker {i} (seed {seed}): {calls} calls")

    def run(self) -> int:
        """Run the whole campaign; return the exit status."""
        self.scheduled = 0
        while True:
            while len(self.running) < max(1, self.args.jobs) and self.scheduled < self.args.calls:
                n = min(self.per_run, self.args.calls - self.scheduled)
                self.launch(n)
                self.scheduled += n
            if not self.running:
                break
            time.sleep(0.05)
            for r in list(self.running):
                rc = r.proc.poll()
                if rc is None:
                    self.watch(r)
                    continue
                self.running.remove(r)
                done = self.finish(r, rc)
                if done < r.calls:  # the worker died early: schedule the rest
                    self.scheduled -= r.calls - done
        self.report()
        return 0 if self.crashes == self.hangs == self.violations == 0 else 1

    def watch(self, r: _Run) -> None:
        """Kill a worker that made no progress for --timeout seconds (a hang)."""
        try:
            mtime = os.stat(r.log).st_mtime_ns
        except OSError:
            mtime = 0
        now = time.monotonic()
        if mtime != r.last_mtime:
            r.last_mtime, r.last_change = mtime, now
        elif now - r.last_change > self.args.timeout:
            r.proc.send_signal(signal.SIGABRT)  # faulthandler prints where every thread is
            try:
                r.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                r.proc.kill()
                r.proc.wait()
            self.running.remove(r)
            before, lines = _read_log(r.log, with_previous=True)
            current = lines[lines.index(_NEXT) + 1 :] if _NEXT in lines else lines
            calls = before + sum(1 for ln in current if ln and not ln.startswith("#"))
            self.calls += calls
            self.scheduled -= max(0, r.calls - max(calls, 1))
            self.hangs += 1
            stmt = next((ln for ln in reversed(lines) if ln and ln != "# check"), "?")
            op = stmt.rsplit("# ", 1)[-1] if "  # " in stmt else "?"
            self.add(
                "hang",
                f"hang in {op}",
                f"no progress for {self.args.timeout:g} s at: {stmt}",
                r,
                lines,
            )

    def finish(self, r: _Run, rc: int) -> int:
        """Collect a finished worker's calls and findings; the calls it made."""
        try:
            with open(r.err, errors="replace") as f:
                err = f.read()
        except OSError:
            err = ""
        result: dict[str, Any] | None = None
        if os.path.exists(r.result):
            with open(r.result) as f:
                result = json.load(f)
        sanitizer = _SANITIZER.search(err)
        if rc < 0 or sanitizer or result is None:
            before, lines = _read_log(r.log, with_previous=True)
            current = lines[lines.index(_NEXT) + 1 :] if _NEXT in lines else lines
            calls = before + sum(1 for ln in current if ln and not ln.startswith("#"))
            self.calls += calls
            stmt = next((ln for ln in reversed(lines) if ln and not ln.startswith("#")), "?")
            op = stmt.rsplit("# ", 1)[-1] if "  # " in stmt else "?"
            if rc < 0 or sanitizer:
                self.crashes += 1
                what = _crash_kind(rc, err)
                where = _crash_frame(err)
                checking = " (while checking)" if lines and lines[-1] == "# check" else ""
                msg = f"{what}{where} at: {stmt}{checking}"
                self.add(
                    "crash",
                    f"{re.sub(r'0x[0-9a-f]+', 'N', what)}{where} in {op}{checking}",
                    msg,
                    r,
                    lines,
                )
            else:  # the worker failed: the fuzzer's own bug, or an exception it could not handle
                self.violations += 1
                tail = "\n".join(err.strip().splitlines()[-6:])
                self.add(
                    "violation",
                    f"worker error: {tail.splitlines()[-1] if tail else rc}",
                    f"worker exited with {rc}:\n{tail}",
                    r,
                    lines,
                )
            return calls
        self.calls += result["calls"]
        for v in result["violations"]:
            self.violations += 1
            path = os.path.join(self.out, f"violation-{r.index:04d}-{self.violations}.py")
            with open(path, "w") as f:
                f.write(v["repro"])
            self.add("violation", v["signature"], f"{v['kind']}: {v['message']}", r, None, path)
        return int(result["calls"])

    def add(
        self,
        kind: str,
        sig: str,
        message: str,
        r: _Run,
        lines: list[str] | None,
        path: str | None = None,
    ) -> None:
        """Record a finding (one report per distinct signature)."""
        if path is None:
            path = os.path.join(self.out, f"{kind}-{r.index:04d}.py")
            episode = re.search(r"episode \d+ \(seed (\d+)\)", _head(r.log))
            header = (
                f"# zheap selftest {kind}: {message.splitlines()[0]}\n"
                f"# worker seed {r.seed}; log {r.log}; stderr {r.err}\n"
                + (f"# in process: python -m zheap selftest --episode {episode.group(1)}"
                   f"{' --skip ' + self.args.skip if self.args.skip else ''}"
                   f"{' --lenient' if self.args.lenient else ''}\n" if episode else "")
            )  # fmt: skip
            with open(path, "w") as f:
                f.write(crash_script(lines or [], header))
        f0 = self.findings.get(sig)
        if f0 is not None:
            f0.count += 1
            return
        self.findings[sig] = Finding(kind, sig, message, path)
        print(f"\n*** {kind.upper()}: {message}\n    reproduction: {path}", flush=True)
        if self.args.minimize:
            self.findings[sig].minimized = minimize(path, kind, self.args.timeout)
            if self.findings[sig].minimized:
                print(f"    minimized: {self.findings[sig].minimized}", flush=True)
        with open(self.findings[sig].minimized or path) as f:
            body = f.read().splitlines()
        seeds = [ln for ln in body[:4] if ln.startswith(("# in process", "# worker seed"))]
        skip = ("#", "import", "from ", "np = ", "S.bind(", "except Exception as e: print")
        steps = [ln for ln in body if ln and not ln.startswith(skip)]
        k = 40 if self.args.verbose else 12
        for ln in seeds:
            print(f"    {ln}")
        print(f"    last {min(k, len(steps))} of {len(steps)} statements:")
        for ln in steps[-k:]:
            print(f"    | {ln}")

    def report(self) -> None:
        """Print the findings, then the summary line."""
        secs = time.monotonic() - self.started
        if self.findings:
            print(f"\n{len(self.findings)} distinct finding(s) (output in {self.out}):")
            for f in self.findings.values():
                print(f"  [{f.kind}] x{f.count} {f.signature}\n      {f.minimized or f.repro_path}")
        else:
            if not self.args.keep:
                shutil.rmtree(self.out, ignore_errors=True)
        print(f"({secs:.1f} s, {self.calls / max(secs, 1e-9):.0f} calls/s)")
        print(
            f"selftest: {self.calls} calls, {self.crashes} crashes, {self.hangs} hangs, "
            f"{self.violations} violations"
        )


# ============================================================================
# Minimising a reproduction
# ============================================================================


def _env() -> dict[str, str]:
    """Return the environment of child processes: this zheap first on the path."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(zheap.__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _outcome(path: str, timeout: float) -> str:
    """How running a script ends: "crash:SIG:WHERE", "hang", "fail:Type", or "ok".

    WHERE is what the crashing line of the script does (its ``# op`` tag), from the
    Python stack faulthandler prints, and the core's panic message if any.
    """
    env = dict(_env(), PYTHONFAULTHANDLER="1")
    try:
        p = subprocess.run(
            [sys.executable, path], capture_output=True, timeout=timeout,
            stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return "hang"
    err = p.stderr.decode(errors="replace")
    m = _SANITIZER.search(err)
    if p.returncode < 0 or m:
        where = ""
        frame = re.findall(rf'File "{re.escape(path)}", line (\d+)', err)
        if frame:
            with open(path) as f:
                lines = f.read().splitlines()
            n = int(frame[-1]) - 1
            line = lines[n] if n < len(lines) else ""
            where = line.rsplit("# ", 1)[-1] if "  # " in line else line.split("(")[0][:40]
        panic = re.search(r"panic: (.*)", err)
        return (
            f"crash:{_signal_name(p.returncode) if p.returncode < 0 else 'sanitizer'}:{where}"
            f"{':' + panic.group(1) if panic else ''}"
        )
    if p.returncode != 0:
        last = err.strip().splitlines()[-1] if err.strip() else ""
        return "fail:" + last.split(":")[0]
    return "ok"


def minimize(path: str, kind: str, timeout: float, budget: float = 240.0) -> str:
    """Delta-debug the statements of a reproduction script; the path of the result."""
    with open(path) as f:
        text = f.read()
    head, sep, body = text.partition(_PRELUDE)
    if not sep:
        return ""
    lines = [ln for ln in body.splitlines() if ln.strip()]
    keep_last = bool(lines) and (
        (kind == "violation" and lines[-1].startswith(("assert", "S.expect_raises")))
        or lines[-1].startswith(("S.teardown", "S.touch_all"))
    )
    tail = [lines.pop()] if keep_last else []
    limit = min(timeout, 20.0)
    target = _outcome(path, limit)
    if not target.startswith(kind) or _outcome(path, limit) != target:
        return ""  # not reproducible as a script (see --episode), or not stably
    out = path[:-3] + "-min.py"
    deadline = time.monotonic() + budget

    def same(cand: list[str]) -> bool:
        with open(out, "w") as f:
            f.write(head + _PRELUDE + "\n".join(cand + tail) + "\n")
        # twice: a flaky outcome must not steer the reduction
        return _outcome(out, limit) == target and _outcome(out, limit) == target

    n = 2
    while len(lines) >= 2 and time.monotonic() < deadline:
        chunk = max(1, len(lines) // n)
        reduced = False
        for i in range(0, len(lines), chunk):
            cand = lines[:i] + lines[i + chunk :]
            if cand and same(cand):
                lines, n, reduced = cand, max(n - 1, 2), True
                break
            if time.monotonic() > deadline:
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(lines), n * 2)
    with open(out, "w") as f:
        f.write(
            head + f"# minimized: ends in {target}\n" + _PRELUDE + "\n".join(lines + tail) + "\n"
        )
    return out


# ============================================================================
# The command line
# ============================================================================


def main(argv: list[str]) -> int:
    """``python -m zheap selftest``: run a campaign (or, internally, one worker)."""
    ap = argparse.ArgumentParser(
        prog="python -m zheap selftest",
        description="zheap's own hostile-API fuzzer: random allocator stacks, random valid "
        "and invalid calls, finalizers, weakref callbacks, threads and Python allocators "
        "that misbehave, against a model of every live view.",
    )
    ap.add_argument("--calls", type=int, default=20000, help="calls in total (default 20000)")
    ap.add_argument("--seed", type=int, default=None, help="campaign seed (default: random)")
    ap.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds without progress before a worker counts as hung (default 30)",
    )
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="workers at once")
    ap.add_argument(
        "--verbose", "-v", action="count", default=0, help="progress; twice: every call"
    )
    ap.add_argument("--out", default=None, help="directory for logs and reproductions")
    ap.add_argument("--keep", action="store_true", help="keep the output directory when all passed")
    ap.add_argument(
        "--minimize", action="store_true", help="delta-debug each finding's reproduction"
    )
    ap.add_argument(
        "--lenient",
        action="store_true",
        help="do not report re-entrant calls that were accepted (look for crashes beyond)",
    )
    ap.add_argument(
        "--skip",
        default="",
        help=f"comma-separated attack families to leave out: {', '.join(FAMILIES)}",
    )
    ap.add_argument(
        "--episode",
        type=int,
        metavar="SEED",
        help="run one episode in this process, printing every call (the seed a report names): "
        "a faithful reproduction when the standalone script is not",
    )
    ap.add_argument("--budget", type=int, default=400, help="calls of the --episode (default 400)")
    ap.add_argument("--per-run", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--_log", help=argparse.SUPPRESS)
    ap.add_argument("--_result", help=argparse.SUPPRESS)
    ap.add_argument(
        "--_plant",
        "--plant",
        dest="plant",
        choices=("crash", "hang", "violation"),
        help=argparse.SUPPRESS,
    )
    args = ap.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    if args._worker:
        args.log, args.result = args._log, args._result
        return _worker(args)
    if args.episode is not None:
        return _one_episode(args)
    print(
        f"selftest: seed {args.seed}, {args.calls} calls, {args.jobs} job(s), "
        f"timeout {args.timeout:g} s",
        flush=True,
    )
    return Campaign(args).run()


#: Attack families ``--skip`` can leave out (to look past a known bug).
FAMILIES = (
    "release_objects",
    "hooks",
    "capsule",
    "evil_ctype",
    "poolsub",
    "index",
    "threads",
    "bombs",
    "weakrefs",
    "lies",
    "debug_raw",
    "debug_deinit",
    "trace",
    "gc_teardown",
    "donated_writes",
)
