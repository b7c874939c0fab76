"""The malloc lab: CS:APP-style ``.rep`` traces, replayed, checked and scored.

CS:APP's malloc lab drives a student's allocator with *trace files* and its
``mdriver`` scores it on two figures: **utilisation** (the peak payload over the
peak footprint) and **throughput** (operations a second). This module does the same for
any zheap allocator — Zig's, or one you wrote in Python or C — and reads the
``.rep`` files of the course unmodified::

    import zheap, zheap.lab
    trace = zheap.lab.generate("binary", seed=1)        # or RepTrace.load("amptjp-bal.rep")
    result = zheap.lab.run(zheap.ArenaAllocator, trace)
    print(result.valid, f"{result.util:.0%}", f"{result.kops:.0f} Kops/s")

``python -m zheap lab`` prints mdriver's table for every built-in allocator and
the examples, over the generated traces or the ``.rep`` files you name.

The ``.rep`` format: four header numbers (a suggested heap size, the number of
block ids, the number of operations, a weight; zheap reads them and keeps them),
then one operation a line: ``a ID SIZE`` (allocate), ``r ID SIZE`` (reallocate),
``f ID`` (free). Blank lines and lines starting with ``#`` are skipped.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TextIO

from . import _zheap
from ._source import source_of, split_source

__all__ = [
    "Op",
    "RepTrace",
    "LabResult",
    "SHAPES",
    "generate",
    "suite",
    "run",
    "perf_index",
    "footprint",
    "plot",
    "main",
]

#: mdriver's weight of utilisation in the performance index (CS:APP's 0.60).
UTIL_WEIGHT = 0.60


class Op(NamedTuple):
    """One line of a ``.rep`` trace: ``kind`` is ``"a"``, ``"r"`` or ``"f"``."""

    kind: str
    id: int
    size: int = 0

    def format(self) -> str:
        """Format the operation as a ``.rep`` line."""
        return f"f {self.id}" if self.kind == "f" else f"{self.kind} {self.id} {self.size}"


@dataclass
class RepTrace:
    """A malloc-lab trace: its operations and the four header numbers.

    ``heap_hint`` (the suggested heap size) and ``weight`` are kept as read and
    written back; zheap does not use them. ``num_ids`` and ``num_ops`` are
    computed from the operations when written.
    """

    ops: list[Op]
    name: str = "trace"
    heap_hint: int = 0
    weight: int = 1

    @property
    def num_ids(self) -> int:
        """One more than the largest block id (the ``.rep`` header's count)."""
        return max((op.id for op in self.ops), default=-1) + 1

    def __len__(self) -> int:
        return len(self.ops)

    def __repr__(self) -> str:
        return f"<zheap.lab.RepTrace {self.name!r}: {len(self.ops)} ops, {self.num_ids} ids>"

    # --- the .rep format ---------------------------------------------------------------

    @classmethod
    def loads(cls, text: str, name: str = "trace") -> RepTrace:
        """Read a trace from the text of a ``.rep`` file.

        ValueError names the line of anything that is not the format: a header
        that is not four integers, an unknown operation, a free or realloc of an
        id that is not allocated, an allocation of an id that is.
        """
        numbers: list[int] = []
        ops: list[Op] = []
        live: set[int] = set()
        for n, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if len(numbers) < 4:
                try:
                    numbers.append(int(line.split()[0]))
                except ValueError:
                    raise ValueError(
                        f"{name}:{n}: the header is four integers "
                        f"(heap size, ids, ops, weight), not {raw!r}"
                    ) from None
                continue
            parts = line.split()
            try:
                kind, ident = parts[0], int(parts[1])
                size = int(parts[2]) if kind in ("a", "r") else 0
                if kind not in ("a", "r", "f") or len(parts) != (2 if kind == "f" else 3):
                    raise IndexError
            except (IndexError, ValueError):
                raise ValueError(
                    f"{name}:{n}: an operation is 'a ID SIZE', 'r ID SIZE' or 'f ID', not {raw!r}"
                ) from None
            if ident < 0 or size < 0:
                raise ValueError(f"{name}:{n}: ids and sizes are not negative: {raw!r}")
            if kind == "a" and ident in live:
                raise ValueError(f"{name}:{n}: block {ident} is allocated already: {raw!r}")
            if kind != "a" and ident not in live:
                raise ValueError(f"{name}:{n}: block {ident} is not allocated: {raw!r}")
            (live.discard if kind == "f" else live.add)(ident)
            ops.append(Op(kind, ident, size))
        if len(numbers) < 4:
            raise ValueError(f"{name}: a .rep trace starts with four header numbers")
        return cls(ops, name=name, heap_hint=numbers[0], weight=numbers[3])

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RepTrace:
        """Read a ``.rep`` file; the trace is named after the file."""
        with open(path, encoding="ascii", errors="replace") as f:
            name = os.path.splitext(os.path.basename(os.fspath(path)))[0]
            return cls.loads(f.read(), name=name)

    def dumps(self) -> str:
        """Format the trace as ``.rep`` text (what :meth:`loads` reads)."""
        head = [str(self.heap_hint), str(self.num_ids), str(len(self.ops)), str(self.weight)]
        return "\n".join([*head, *(op.format() for op in self.ops)]) + "\n"

    def dump(self, file: TextIO) -> None:
        """Write the trace to an open text file."""
        file.write(self.dumps())

    # --- to and from zheap.trace ---------------------------------------------------------

    @classmethod
    def from_events(cls, events: Any, name: str = "recorded") -> RepTrace:
        """Make a ``.rep`` trace of what a :func:`zheap.trace` recording did at its top level.

        Allocations and creates become ``a``; a resize or remap that succeeded
        becomes ``r`` with the new size (a realloc is recorded as one of those or as
        an allocation, a copy and a free); frees and destroys become ``f``; a
        reset or deinit frees every block still live. Failed operations are left
        out: the trace says what the program ended up holding.
        """
        ids: dict[int, int] = {}  # address -> id
        ops: list[Op] = []
        next_id = 0
        for e in events.top_level() if hasattr(events, "top_level") else events:
            if e.depth != 0 or e.failed:
                continue
            if e.op in ("alloc", "create"):
                ids[e.result] = next_id
                ops.append(Op("a", next_id, e.length))
                next_id += 1
            elif e.op in ("free", "destroy") and e.address in ids:
                ops.append(Op("f", ids.pop(e.address)))
            elif e.op in ("resize", "remap") and e.address in ids:
                ident = ids.pop(e.address)
                new_address = e.address if e.op == "resize" else e.result
                ids[new_address] = ident
                ops.append(Op("r", ident, e.new_length if e.new_length is not None else 0))
            elif e.op in ("reset", "deinit"):
                ops.extend(Op("f", ident) for ident in ids.values())
                ids.clear()
        return cls(ops, name=name)

    def to_events(self, allocator: Any = None, alignment: int = 16) -> Any:
        """Replay the trace under :func:`zheap.trace` and return the recording.

        The replay runs on ``allocator`` (default ``zheap.c_allocator``); the
        recording is a :class:`zheap.EventTrace`.
        """
        from .tracing import trace

        target = _zheap.c_allocator if allocator is None else allocator
        views: dict[int, Any] = {}
        with trace(target) as t:
            for op in self.ops:
                _apply(target, views, op, alignment)
            for v in views.values():
                target.free(v)
        return t


def _apply(allocator: Any, views: dict[int, Any], op: Op, alignment: int) -> None:
    if op.kind == "a":
        views[op.id] = allocator.alloc(op.size, alignment)
    elif op.kind == "r":
        views[op.id] = allocator.realloc(views.pop(op.id), op.size)
    else:
        allocator.free(views.pop(op.id))


# --- generated traces ---------------------------------------------------------------------

#: The shapes :func:`generate` makes, each the idea of a classic malloc-lab trace.
SHAPES: dict[str, str] = {
    "random": "random sizes (1 B to 4 KiB) allocated and freed in random order",
    "binary": "small and large blocks alternate; the small ones are freed, then larger "
    "blocks asked for: free memory the allocator cannot use unless it splits well",
    "coalescing": "runs of neighbours freed together, then one block as large as all of them: "
    "only an allocator that merges neighbours reuses the memory",
    "realloc": "a few blocks grown by realloc again and again, with small blocks between them",
    "short": "blocks that live for a few operations (a stack-like churn of small sizes)",
    "mixed": "long-lived blocks of every size under a churn of short-lived ones",
}


def generate(shape: str, *, seed: int = 0, ops: int = 4000, max_size: int = 4096) -> RepTrace:
    """Make a trace of one of the :data:`SHAPES` from ``seed``.

    The same seed gives the same trace. ``ops`` is about how many operations it
    has; every block is freed by the end.
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
    if ops < 2 or max_size < 1:
        raise ValueError("ops must be at least 2 and max_size at least 1")
    rng = random.Random(f"{shape}:{seed}")
    g = _Gen()
    half = ops // 2
    if shape == "random":
        while len(g.ops) < ops - len(g.live):
            if g.live and rng.random() < 0.45:
                g.free(rng.choice(list(g.live)))
            else:
                g.alloc(rng.randint(1, max_size))
    elif shape == "binary":
        small, large = max(1, max_size // 64), max(2, max_size // 8)
        pairs = max(1, ops // 5)
        smalls = []
        for _ in range(pairs):
            smalls.append(g.alloc(small))
            g.alloc(large)
        for ident in smalls:
            g.free(ident)
        for _ in range(pairs // 2):
            g.alloc(large + small)
    elif shape == "coalescing":
        # Neighbours freed together, then one block as large as all of them: it fits
        # in their memory only if the allocator merged it; sizes change every round,
        # so the holes a non-merging allocator keeps never fit a later request.
        while len(g.ops) + len(g.live) < ops:
            size = rng.randint(16, max(16, max_size // 4))
            run = [g.alloc(size) for _ in range(rng.randint(2, 6))]
            for ident in run:
                g.free(ident)
            g.free(g.alloc(size * len(run)))
    elif shape == "realloc":
        grown = [g.alloc(rng.randint(1, 64)) for _ in range(4)]
        while len(g.ops) + len(g.live) < ops:
            ident = rng.choice(grown)
            g.realloc(
                ident, min(g.live[ident] + rng.randint(1, max(1, max_size // 16)), max_size * 64)
            )
            if rng.random() < 0.5:
                g.alloc(rng.randint(1, 128))
            if len(g.live) > 12 and rng.random() < 0.6:
                g.free(rng.choice([i for i in g.live if i not in grown]))
    elif shape == "short":
        window: list[int] = []
        while len(g.ops) + len(g.live) < ops:
            if len(window) < rng.randint(1, 8):
                window.append(g.alloc(rng.choice((8, 16, 24, 32, 48, 64, 100, 128))))
            else:
                g.free(window.pop())
    else:  # mixed
        keep = [g.alloc(rng.randint(1, max_size)) for _ in range(max(1, half // 20))]
        churn: list[int] = []
        while len(g.ops) + len(g.live) < ops:
            if churn and rng.random() < 0.5:
                g.free(churn.pop(rng.randrange(len(churn))))
            else:
                churn.append(g.alloc(rng.randint(1, max_size // 4 or 1)))
        del keep
    for ident in list(g.live):
        g.free(ident)
    return RepTrace(g.ops, name=f"{shape}-{seed}", heap_hint=20000000, weight=1)


class _Gen:
    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.live: dict[int, int] = {}
        self.next = 0

    def alloc(self, size: int) -> int:
        ident, self.next = self.next, self.next + 1
        self.live[ident] = size
        self.ops.append(Op("a", ident, size))
        return ident

    def realloc(self, ident: int, size: int) -> None:
        self.live[ident] = size
        self.ops.append(Op("r", ident, size))

    def free(self, ident: int) -> None:
        del self.live[ident]
        self.ops.append(Op("f", ident))


def suite(seed: int = 1, ops: int = 4000) -> list[RepTrace]:
    """One generated trace of every shape: what ``python -m zheap lab`` scores by default."""
    return [generate(shape, seed=seed, ops=ops) for shape in SHAPES]


# --- running and scoring ------------------------------------------------------------------

#: Allocators whose ``stats()["reserved"]`` is only their blocks' own bytes: the C
#: library does not tell a program what its blocks cost, so no utilisation is given.
_NO_FOOTPRINT = ("CAllocator", "RawCAllocator")


def footprint(allocator: Any) -> int | None:
    """Return the bytes ``allocator`` holds from its child or the OS.

    That is ``stats()["reserved"]`` (see docs/teaching.md). None for
    ``c_allocator`` and ``raw_c_allocator``, and a stack-fallback interface over
    one of them, whose cost in the C library's heap cannot be seen.
    """
    if type(allocator).__name__ in _NO_FOOTPRINT:
        return None
    fallback = getattr(getattr(allocator, "stack_fallback", None), "fallback_allocator", None)
    if fallback is not None and type(fallback).__name__ in _NO_FOOTPRINT:
        return None
    return int(allocator.stats()["reserved"])


@dataclass
class LabResult:
    """What :func:`run` measured for one allocator on one trace.

    ``util`` is the peak payload (the most bytes the trace had allocated at once)
    over the peak footprint (the most bytes the allocator held, see
    :func:`footprint`), None when the footprint cannot be measured. ``secs`` is
    the time of the fastest timing pass (no checks in it); ``kops`` is
    thousands of operations a second. When ``valid`` is False, ``error`` says
    what went wrong at operation ``failed_op`` and ``reproduction`` is a Python
    script that shows it.
    """

    trace: str
    ops: int
    valid: bool
    util: float | None = None
    secs: float = 0.0
    peak_payload: int = 0
    peak_footprint: int | None = None
    failed_op: int | None = None
    error: str | None = None
    reproduction: str | None = None
    samples: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def kops(self) -> float:
        """Thousands of operations a second in the timing pass (0 when it did not run)."""
        return self.ops / self.secs / 1000 if self.secs > 0 else 0.0

    def __repr__(self) -> str:
        if not self.valid:
            return f"<LabResult {self.trace}: INVALID at op {self.failed_op}: {self.error}>"
        util = "-" if self.util is None else f"{self.util:.0%}"
        return f"<LabResult {self.trace}: valid, util {util}, {self.kops:.0f} Kops/s>"


class _Invalid(Exception):
    pass


def _pattern(ident: int, size: int) -> bytes:
    # Eight bytes that differ from block to block, repeated over the block, so a
    # block written over by another one, or moved without its contents, shows.
    word = struct.pack("<Q", ((ident + 1) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    return (word * (size // 8 + 1))[:size]


def _check_op(
    allocator: Any,
    op: Op,
    views: dict[int, Any],
    spans: list[tuple[int, int, int]],
    alignment: int,
) -> None:
    """Run ``op`` with every check mdriver makes; _Invalid says which failed."""

    def place(ident: int, view: Any, size: int) -> None:
        if view is None or len(view) != size:
            got = "None" if view is None else f"{len(view)} bytes"
            raise _Invalid(f"block {ident}: asked for {size} bytes, got {got}")
        addr = _zheap.address_of(view)
        if size and addr % alignment:
            raise _Invalid(f"block {ident} at {addr:#x} is not aligned to {alignment}")
        if size:
            i = bisect_left(spans, (addr, -1, -1))
            for j in (i - 1, i):
                if 0 <= j < len(spans):
                    lo, hi, other = spans[j]
                    if lo < addr + size and addr < hi:
                        raise _Invalid(
                            f"block {ident} at {addr:#x} ({size} bytes) overlaps block "
                            f"{other} at {lo:#x} ({hi - lo} bytes)"
                        )
            spans.insert(i, (addr, addr + size, ident))

    def unplace(ident: int, view: Any) -> None:
        if len(view):
            addr = _zheap.address_of(view)
            spans.remove((addr, addr + len(view), ident))

    def verify(ident: int, view: Any, upto: int) -> None:
        if bytes(view[:upto]) != _pattern(ident, upto):
            got = bytes(view[:upto])
            at = next(
                k for k, (x, y) in enumerate(zip(got, _pattern(ident, upto), strict=True)) if x != y
            )
            raise _Invalid(f"block {ident}: byte {at} of its payload changed behind its back")

    if op.kind == "a":
        view = allocator.alloc(op.size, alignment)
        place(op.id, view, op.size)
        view[:] = _pattern(op.id, op.size)
        views[op.id] = view
    elif op.kind == "f":
        view = views.pop(op.id)
        verify(op.id, view, len(view))
        unplace(op.id, view)
        allocator.free(view)
    else:
        view = views.pop(op.id)
        old = len(view)
        verify(op.id, view, old)
        unplace(op.id, view)
        new = allocator.realloc(view, op.size)
        place(op.id, new, op.size)
        verify(op.id, new, min(old, op.size))
        new[:] = _pattern(op.id, op.size)
        views[op.id] = new


def _payload_curve(ops: Sequence[Op]) -> list[int]:
    sizes: dict[int, int] = {}
    total, curve = 0, []
    for op in ops:
        total += op.size - sizes.get(op.id, 0)
        if op.kind == "f":
            del sizes[op.id]
        else:
            sizes[op.id] = op.size
        curve.append(total)
    return curve


def _make(allocator: Any) -> Any:
    return (
        allocator()
        if callable(allocator) and not isinstance(allocator, _zheap.Allocator)
        else allocator
    )


def run(
    allocator: Any,
    trace: RepTrace,
    *,
    alignment: int = 16,
    timing_passes: int = 3,
    samples: int = 128,
    source: str | None = None,
) -> LabResult:
    """Replay ``trace`` on ``allocator`` with mdriver's checks, then time it.

    ``allocator`` is an allocator, or a factory that makes one (an allocator class
    or a function): with a factory, every pass gets a fresh allocator, as mdriver
    calls ``mm_init`` before each. The checking pass fills every block with a
    pattern of its own and checks, at every free and realloc, that the pattern is
    intact (so overlaps, writes past a neighbour's end and realloc that loses
    contents show); that each block has the size asked for, is aligned to
    ``alignment`` and overlaps no other live block. Any exception (MemoryError
    included, as mdriver counts running out of memory as a failure) makes the
    result invalid, with the operation's index and a reproduction. The
    footprint is sampled ``samples`` times evenly over the trace, at the
    operation where the payload peaks and at the end. The timing passes replay
    the operations with no checks; ``secs`` is the fastest (0.0, and ``kops`` 0.0, with
    ``timing_passes=0``: checks only).
    """
    if alignment < 1 or alignment & (alignment - 1):
        raise ValueError("alignment must be a power of two")
    result = LabResult(trace=trace.name, ops=len(trace.ops), valid=True)
    curve = _payload_curve(trace.ops)
    result.peak_payload = max(curve, default=0)
    peak_at = curve.index(result.peak_payload) if curve else -1
    every = max(1, len(trace.ops) // max(1, samples))
    target = _make(allocator)
    base = footprint(target)
    # The page allocator is the process's: count only the pages this run maps.
    # Every other allocator counts from zero (the SmpAllocator's slabs are the
    # process's too, and kept: `python -m zheap lab` runs each trace in a fresh
    # process so that earlier work is not counted).
    if target is not _zheap.page_allocator and base is not None:
        base = 0
    peak_fp: int | None = None if base is None else 0
    views: dict[int, Any] = {}
    spans: list[tuple[int, int, int]] = []
    i = -1
    try:
        for i, op in enumerate(trace.ops):
            _check_op(target, op, views, spans, alignment)
            if base is not None and (i % every == 0 or i == peak_at or i == len(trace.ops) - 1):
                fp = max(0, footprint(target) - base)  # type: ignore[operator]
                peak_fp = max(peak_fp or 0, fp)
                result.samples.append((i, curve[i], fp))
    except Exception as exc:  # noqa: BLE001 -- any failure is the allocator's, and reported
        result.valid = False
        result.failed_op = i
        text = exc.args[0] if isinstance(exc, _Invalid) else f"{type(exc).__name__}: {exc}"
        result.error = f"op {i} ({trace.ops[i].format()}): {text}"
        made_by = source or source_of(allocator) or ""
        result.reproduction = _reproduction(trace, i, alignment, made_by)
        return result
    finally:
        for v in views.values():
            try:
                target.free(v)
            except Exception:  # noqa: BLE001,S110 -- a broken allocator; the result says so
                pass
    result.peak_footprint = peak_fp
    if peak_fp:
        result.util = result.peak_payload / peak_fp
    elif peak_fp == 0 and result.peak_payload == 0:
        result.util = 1.0
    if timing_passes > 0:  # 0: check only (what a reproduction needs)
        result.secs = min(
            _timed(_make(allocator), trace.ops, alignment) for _ in range(timing_passes)
        )
    return result


def _timed(allocator: Any, ops: Sequence[Op], alignment: int) -> float:
    views: dict[int, Any] = {}
    alloc, free, realloc = allocator.alloc, allocator.free, allocator.realloc
    start = time.perf_counter()
    for kind, ident, size in ops:
        if kind == "a":
            views[ident] = alloc(size, alignment)
        elif kind == "f":
            free(views.pop(ident))
        else:
            views[ident] = realloc(views.pop(ident), size)
    secs = time.perf_counter() - start
    for v in views.values():
        free(v)
    return secs


def _reproduction(trace: RepTrace, upto: int, alignment: int, source: str) -> str:
    imports, expr = split_source(source)
    make = f"lambda: {expr}" if expr else "...  # the allocator you ran (or a function making it)"
    prefix = RepTrace(trace.ops[: upto + 1], name=trace.name)
    return (
        "import zheap, zheap.lab\n"
        + "".join(f"{line}\n" for line in imports)
        + f"allocator = {make}\n"
        + f'trace = zheap.lab.RepTrace.loads("""\\\n{prefix.dumps()}""", name={trace.name!r})\n'
        + f"result = zheap.lab.run(allocator, trace, alignment={alignment}, timing_passes=0)\n"
        + "print(result.error)\n"
    )


def perf_index(results: Iterable[LabResult], baseline_kops: float) -> tuple[float, float] | None:
    """Compute mdriver's performance index: ``(util points, throughput points)``.

    The points are out of 60 and 40: the mean utilisation of the results, and
    their total throughput against ``baseline_kops`` (capped at 1). None when a
    result is invalid (mdriver gives no index then) or no utilisation was
    measured.
    """
    rs = list(results)
    if not rs or not all(r.valid for r in rs) or any(r.util is None for r in rs):
        return None
    util = sum(min(1.0, r.util or 0.0) for r in rs) / len(rs)
    secs = sum(r.secs for r in rs)
    kops = sum(r.ops for r in rs) / secs / 1000 if secs > 0 else 0.0
    thru = min(1.0, kops / baseline_kops) if baseline_kops > 0 else 0.0
    return 100 * UTIL_WEIGHT * util, 100 * (1 - UTIL_WEIGHT) * thru


# --- the picture ---------------------------------------------------------------------------


def plot(
    trace: RepTrace,
    results: Mapping[str, LabResult],
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
) -> Any:
    """Draw utilisation over a trace: the payload, and each allocator's footprint.

    The payload (bytes the trace has allocated) is drawn at every operation; each
    result's footprint at the operations :func:`run` sampled, on a log scale so a
    10 KiB payload and an 8 MiB buffer both show. ``results`` maps a label to a
    result on ``trace``; results without a footprint (``c_allocator``) are left out.
    Returns the matplotlib Figure, or ``path`` after saving it there (the format
    follows the suffix). Needs matplotlib (``pip install 'zheap[viz]'``).
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "zheap.lab.plot needs matplotlib: pip install 'zheap[viz]' "
            "(from a clone: pip install -e '.[viz]')"
        ) from exc
    fig = Figure(figsize=(10, 5), dpi=100)
    fig.set_layout_engine("constrained")
    ax = fig.add_subplot()
    curve = _payload_curve(trace.ops)
    ax.plot(range(len(curve)), [max(1, c) for c in curve], color="black", lw=1.5, label="payload")
    for label, r in results.items():
        points = [(i, fp) for i, _, fp in r.samples if fp > 0]
        if not points:
            continue
        util = "" if r.util is None else f" (util {r.util:.0%})"
        xs, ys = zip(*points, strict=True)
        ax.step(xs, ys, where="post", lw=1.2, label=f"{label}{util}")
    ax.set_yscale("log")
    floor = min(
        [max(curve, default=1), *(fp for r in results.values() for *_, fp in r.samples if fp)]
    )
    ax.set_ylim(bottom=max(1, floor / 100))  # the payload's first bytes are not the story
    ax.set_xlabel("operation")
    ax.set_ylabel("bytes")
    ax.set_title(title or f"{trace.name}: payload and footprint")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    if path is None:
        return fig
    fig.savefig(path)
    return path


# --- python -m zheap lab ------------------------------------------------------------------


def _allocators() -> dict[str, tuple[Callable[[], Any], str]]:
    """Return the built-in names ``--allocator`` takes (the fuzz CLI's, examples included)."""
    from .fuzz import BUILTIN, _examples

    return {**BUILTIN, **_examples()}


def _resolve(spec: str) -> tuple[Callable[[], Any], str]:
    """Resolve a name or ``module:factory`` as the fuzz CLI does: (factory, source)."""
    from .fuzz import _resolve as resolve

    return resolve(spec)


def _traces(paths: Sequence[str], seed: int, ops: int) -> list[RepTrace]:
    if not paths:
        return suite(seed=seed, ops=ops)
    out: list[RepTrace] = []
    for p in paths:
        if os.path.isdir(p):
            out.extend(
                RepTrace.load(os.path.join(p, f))
                for f in sorted(os.listdir(p))
                if f.endswith(".rep")
            )
        else:
            out.append(RepTrace.load(p))
    if not out:
        raise SystemExit(f"no .rep traces in {', '.join(paths)}")
    return out


def _child() -> None:
    """Run one isolated job (what :func:`_run_isolated` starts)."""
    job = json.loads(sys.stdin.read())
    factory, source = _resolve(job["spec"])
    trace = RepTrace.loads(job["trace"], name=job["name"])
    r = run(factory, trace, alignment=job["alignment"], source=source)
    print(json.dumps(dataclasses.asdict(r)))


def _run_isolated(spec: str, trace: RepTrace, alignment: int, timeout: float) -> LabResult:
    """Call :func:`run` in a fresh Python process.

    Nothing earlier work left (the SmpAllocator's slabs) is counted, and an
    allocator that crashes or hangs the process is reported as invalid instead
    of ending the lab.
    """
    job = {"spec": spec, "trace": trace.dumps(), "name": trace.name, "alignment": alignment}
    cmd = [sys.executable, "-c", "import zheap.lab; zheap.lab._child()"]
    # The child imports what this process imports: zheap from where this one
    # came, and a module:factory from the working directory.
    path = [os.getcwd(), *(p for p in sys.path if p)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    failed = LabResult(trace=trace.name, ops=len(trace.ops), valid=False, failed_op=None)
    try:
        proc = subprocess.run(
            cmd, input=json.dumps(job), capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        failed.error = f"no result after {timeout:.0f} s: the allocator hangs or is very slow"
        return failed
    if proc.returncode == 0 and proc.stdout.strip():
        fields = json.loads(proc.stdout.strip().splitlines()[-1])
        fields["samples"] = [tuple(x) for x in fields["samples"]]
        return LabResult(**fields)
    tail = (proc.stderr.strip().splitlines() or ["no message"])[-1]
    how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
    failed.error = f"the process ended with {how}: {tail}"
    return failed


def _table(title: str, results: list[LabResult], baseline_kops: float, out: TextIO) -> None:
    print(f"\nResults for {title}:", file=out)
    print(
        f"{'trace':>16s}  {'valid':>5s}  {'util':>5s}  {'ops':>7s}  {'secs':>9s}  {'Kops':>7s}",
        file=out,
    )
    for r in results:
        util = "-" if r.util is None or not r.valid else f"{r.util:.0%}"
        secs = f"{r.secs:9.6f}" if r.valid else f"{'-':>9s}"
        kops = f"{r.kops:7.0f}" if r.valid else f"{'-':>7s}"
        valid = "yes" if r.valid else "no"
        print(f"{r.trace[:16]:>16s}  {valid:>5s}  {util:>5s}  {r.ops:7d}  {secs}  {kops}", file=out)
    valid_results = [r for r in results if r.valid]
    if valid_results:
        utils = [r.util for r in valid_results if r.util is not None]
        util = f"{sum(utils) / len(utils):.0%}" if len(utils) == len(valid_results) else "-"
        total_secs = sum(r.secs for r in valid_results)
        ops = sum(r.ops for r in valid_results)
        rate = ops / total_secs / 1000 if total_secs > 0 else 0.0
        print(
            f"{'Total':>16s}  {'':>5s}  {util:>5s}  {ops:7d}  {total_secs:9.6f}  {rate:7.0f}",
            file=out,
        )
    index = perf_index(results, baseline_kops)
    if index is None:
        why = "an invalid trace" if any(not r.valid for r in results) else "no utilisation measured"
        print(f"Perf index: none ({why})", file=out)
    else:
        u, t = index
        print(f"Perf index = {u:.0f} (util) + {t:.0f} (thru) = {u + t:.0f}/100", file=out)


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """``python -m zheap lab``: score allocators on traces; 0 when every trace was valid."""
    ap = argparse.ArgumentParser(
        prog="python -m zheap lab",
        description="Replay malloc-lab .rep traces on zheap allocators, check every block, "
        "and print mdriver's table (utilisation, throughput, performance index).",
    )
    ap.add_argument(
        "traces", nargs="*", help=".rep files or directories of them (default: generated)"
    )
    ap.add_argument(
        "--allocator",
        "-a",
        action="append",
        default=None,
        help="a built-in name or module:factory (repeatable; default: every built-in and example)",
    )
    ap.add_argument(
        "--alignment", type=int, default=16, help="alignment of every block (default 16)"
    )
    ap.add_argument("--seed", type=int, default=1, help="seed of the generated traces (default 1)")
    ap.add_argument(
        "--ops", type=int, default=4000, help="length of the generated traces (default 4000)"
    )
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, help="runs at once")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds one trace may take")
    ap.add_argument(
        "--generate", metavar="DIR", help="write the generated traces as .rep files and stop"
    )
    ap.add_argument("--list", action="store_true", help="list the allocator names and trace shapes")
    ap.add_argument("--png", metavar="DIR", help="draw each trace's utilisation into DIR")
    args = ap.parse_args(argv)
    out = out or sys.stdout
    if args.list:
        for name, (_, source) in _allocators().items():
            print(f"{name:16s} {source}", file=out)
        for shape, what in SHAPES.items():
            print(f"shape {shape:10s} {what}", file=out)
        return 0
    if args.alignment < 1 or args.alignment & (args.alignment - 1):
        ap.error("--alignment must be a power of two")
    if args.generate:
        os.makedirs(args.generate, exist_ok=True)
        for t in suite(seed=args.seed, ops=args.ops):
            path = os.path.join(args.generate, f"{t.name}.rep")
            with open(path, "w", encoding="ascii") as f:
                t.dump(f)
            print(f"{path}: {len(t)} ops", file=out)
        return 0
    try:
        traces = _traces(args.traces, args.seed, args.ops)
    except (OSError, ValueError) as e:
        print(f"python -m zheap lab: {e}", file=sys.stderr)
        return 2
    if args.png:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            from .viz import VIZ_HINT

            print(f"python -m zheap lab --png {VIZ_HINT}", file=sys.stderr)
            return 2
    names = args.allocator or list(_allocators())
    sources = {name: _resolve(name)[1] for name in names}  # unknown names fail here, before any run
    # Throughput is scored against zheap.c_allocator (glibc's malloc through the same
    # Python calls) on the same traces in the same run, as mdriver scores against libc.
    runs = names if "c" in names else ["c", *names]
    jobs = [(name, t) for name in runs for t in traces]
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = [pool.submit(_run_isolated, n, t, args.alignment, args.timeout) for n, t in jobs]
        done = [f.result() for f in futures]
    results: dict[str, list[LabResult]] = {}
    for (name, _), r in zip(jobs, done, strict=True):
        results.setdefault(name, []).append(r)
    base = results["c"] if "c" in names else results.pop("c")
    secs = sum(r.secs for r in base if r.valid)
    baseline_kops = sum(r.ops for r in base if r.valid) / secs / 1000 if secs > 0 else 0.0
    print(
        f"{len(traces)} traces, alignment {args.alignment}; throughput scored against "
        f"zheap.c_allocator in this run: {baseline_kops:.0f} Kops/s",
        file=out,
    )
    status = 0
    failures: list[tuple[str, LabResult]] = []
    for name in names:
        title = sources[name].splitlines()[-1]
        _table(f"{name} ({title})" if name != title else name, results[name], baseline_kops, out)
        failures += [(name, r) for r in results[name] if not r.valid]
    if args.png:
        os.makedirs(args.png, exist_ok=True)
        for k, t in enumerate(traces):
            drawn = plot(t, {name: results[name][k] for name in names if results[name][k].valid})
            path = os.path.join(args.png, f"util-{t.name}.png")
            drawn.savefig(path)
            print(f"\n{path}: utilisation over {t.name}", file=out)
    if failures:
        status = 1
        where = tempfile.mkdtemp(prefix="zheap-lab-")
        print(f"\n{len(failures)} invalid run(s); reproductions in {where}:", file=out)
        for name, r in failures:
            print(f"  {name} on {r.trace}: {r.error}", file=out)
            if r.reproduction:
                path = os.path.join(
                    where, f"{name.replace(':', '_').replace('.', '_')}-{r.trace}.py"
                )
                with open(path, "w", encoding="utf-8") as f:
                    f.write(r.reproduction)
                print(f"    python {path}", file=out)
    return status
