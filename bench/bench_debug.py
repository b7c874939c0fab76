"""DebugAllocator cost from Python, and its trace capture against tracemalloc's.

Run: python bench/bench_debug.py [--repeat 7] [--number 50000]

Workload: a FIFO window of 1000 live 64-byte blocks; each step frees the oldest and
allocates one (the steady state of a program, and how the DebugAllocator is meant to be
used: its buckets fill, then empty and go back to the OS). Rows, interleaved round-robin
over --repeat rounds, median ns per step: c_allocator; DebugAllocator with 0, 1 and 6
trace frames; and ``bytearray(64)`` in the same window with tracemalloc off, start(1) and
start(6). The trace-capture cost is DebugAllocator(frames=k) minus (frames=0), two captures
per step (alloc and free), against tracemalloc's overhead on its step with the same k; the
target is a ratio of at most 1.0.

A lone alloc+free pair loop is also shown: Zig's design returns a bucket page as soon as
its last block is freed, so such a loop maps and unmaps a page every time (as 0.15.1 does).
"""

from __future__ import annotations

import argparse
import collections
import platform
import statistics
import sys
import timeit
import tracemalloc
from collections.abc import Callable

import zheap

WINDOW = 1000
STEP = "f(q.popleft())\nq.append(a(64))"
BYTES_STEP = "q.popleft()\nq.append(bytearray(64))"


def window(
    alloc: Callable[[int], memoryview], free: Callable[[memoryview], None]
) -> dict[str, object]:
    """Globals for STEP over an allocator, with WINDOW blocks already live."""
    q = collections.deque(alloc(64) for _ in range(WINDOW))
    return {"a": alloc, "f": free, "q": q}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--number", type=int, default=50_000)
    args = ap.parse_args()

    c = zheap.c_allocator
    gpas = {k: zheap.DebugAllocator(stack_trace_frames=k) for k in (0, 1, 6)}
    rows: dict[str, tuple[str, dict[str, object], int]] = {
        "c_allocator": (STEP, window(c.alloc, c.free), 0)
    }
    for k, g in gpas.items():
        rows[f"DebugAllocator(frames={k})"] = (STEP, window(g.alloc, g.free), 0)
    for k in (0, 1, 6):
        name = "bytearray(64)" + (f", tracemalloc.start({k})" if k else "")
        rows[name] = (BYTES_STEP, {"q": collections.deque(bytearray(64) for _ in range(WINDOW))}, k)
    rows["DebugAllocator(frames=0), lone pair loop"] = (
        "f(a(64))",
        {"a": gpas[0].alloc, "f": gpas[0].free},
        0,
    )
    samples: dict[str, list[float]] = {k: [] for k in rows}
    for _ in range(args.repeat):
        for name, (stmt, env, frames) in rows.items():
            number = args.number // 10 if "pair" in name else args.number
            if frames:
                tracemalloc.start(frames)
            try:
                t = timeit.timeit(stmt, globals=env, number=number)
            finally:
                if frames:
                    tracemalloc.stop()
            samples[name].append(t / number * 1e9)
    for name, (_, env, _) in rows.items():  # give every block back
        if name in (
            "c_allocator",
            "DebugAllocator(frames=0)",
            "DebugAllocator(frames=1)",
            "DebugAllocator(frames=6)",
        ):
            q, free = env["q"], env["f"]
            assert isinstance(q, collections.deque) and callable(free)
            while q:
                free(q.popleft())
    for g in gpas.values():
        assert g.deinit() is zheap.Check.ok

    med = {k: statistics.median(v) for k, v in samples.items()}
    base = med["c_allocator"]
    print(f"# {WINDOW} live 64 B blocks, free oldest + alloc per step; median of {args.repeat}")
    print(f"# Python {sys.version.split()[0]}, {platform.machine()}, {platform.platform()}")
    print(f"{'case':44s} {'ns/step':>9s} {'vs c_allocator':>15s}")
    for name, value in med.items():
        print(f"{name:44s} {value:9.1f} {value / base:14.2f}x")
    print()
    head = "trace capture per step (alloc + free)"
    print(f"{head:44s} {'zheap ns':>9s} {'tracemalloc ns':>15s} {'ratio':>6s}")
    for k in (1, 6):
        ours = med[f"DebugAllocator(frames={k})"] - med["DebugAllocator(frames=0)"]
        theirs = med[f"bytearray(64), tracemalloc.start({k})"] - med["bytearray(64)"]
        print(f"{f'{k} frame(s)':44s} {ours:9.1f} {theirs:15.1f} {ours / theirs:5.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
