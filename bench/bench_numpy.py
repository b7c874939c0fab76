"""numpy's allocation-heavy array code with its data in zheap allocators (zheap.numpy).

Run: python bench/bench_numpy.py [--repeat 7] [--number 20000]

Each workload runs under numpy's default handler and under `zheap.numpy.use(allocator)`
for several allocators, interleaved round-robin over `--repeat` rounds in one run; the
table gives the median microseconds per workload call and the ratio to numpy's default.
Each (round, allocator) cell runs in a fresh interpreter: glibc's malloc adapts its mmap
threshold to the sizes freed so far, so cells sharing a process would see each other's
history (a 2 MiB temporary is a fresh mmap, page faults included, or a reused heap chunk,
depending on what ran before).
Every zheap handler call takes the GIL (held already here) and the allocator stack's busy
marks, and records the block's length in a hash table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import timeit
from collections.abc import Callable
from typing import Any

import numpy as np

import zheap
import zheap.numpy


def workloads() -> dict[str, tuple[Callable[[], Any], int]]:
    """Name -> (a function doing one unit of array work, a divisor of --number)."""
    small = np.arange(64.0)
    mid = np.arange(4096.0)
    big = np.arange(1 << 18, dtype=np.float64)

    def temporaries_64() -> Any:
        return (small * 2.0 + 1.0) / 3.0  # three 64-element temporaries

    def temporaries_4k() -> Any:
        return (mid * 2.0 + 1.0) / 3.0

    def zeros_2mb() -> Any:
        return np.zeros(1 << 18)  # calloc: zheap zeroes the bytes itself

    def expression_2mb() -> Any:
        return np.sqrt(big * big + 1.0)

    def grow_by_append() -> Any:
        a = np.empty(0)
        for i in range(32):
            a = np.append(a, i)  # a new array each step
        return a

    return {
        "(x*2+1)/3, 64 doubles": (temporaries_64, 1),
        "(x*2+1)/3, 4096 doubles": (temporaries_4k, 4),
        "np.zeros(2 MiB)": (zeros_2mb, 40),
        "sqrt(x*x+1), 2 MiB": (expression_2mb, 200),
        "np.append x32": (grow_by_append, 16),
    }


def allocators() -> dict[str, Callable[[], zheap.Allocator | None]]:
    """Name -> factory of the allocator a row runs in (None: numpy's default handler)."""
    return {
        "numpy default": lambda: None,
        "c_allocator": lambda: zheap.c_allocator,
        "smp_allocator": lambda: zheap.smp_allocator,
        "page_allocator": lambda: zheap.page_allocator,
        "DebugAllocator(no traces)": lambda: zheap.DebugAllocator(stack_trace_frames=0),
        "DebugAllocator()": lambda: zheap.DebugAllocator(),
    }


def _cell(aname: str, number: int) -> dict[str, float]:
    """Time every workload in this process under ``aname``'s handler: name -> us per call."""
    allocator = allocators()[aname]()
    out: dict[str, float] = {}
    for wname, (fn, div) in workloads().items():
        n = max(1, number // div)
        if allocator is None:
            fn()  # warm-up: the first call pays for numpy's own first-use work
            out[wname] = timeit.timeit(fn, number=n) / n * 1e6
        else:
            with zheap.numpy.use(allocator):
                fn()
                out[wname] = timeit.timeit(fn, number=n) / n * 1e6
    if isinstance(allocator, zheap.DebugAllocator):
        assert allocator.deinit() == zheap.Check.ok, "a leak in a numpy workload"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--number", type=int, default=20_000)
    ap.add_argument("--cell", help=argparse.SUPPRESS)  # internal: one cell, JSON out
    args = ap.parse_args()
    if args.cell is not None:
        print(json.dumps(_cell(args.cell, args.number)))
        return 0

    names = list(allocators())
    work = list(workloads())
    samples: dict[tuple[str, str], list[float]] = {(w, a): [] for w in work for a in names}
    for _ in range(args.repeat):
        for aname in names:
            cmd = [sys.executable, __file__, "--cell", aname, "--number", str(args.number)]
            res = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
            for wname in work:
                samples[(wname, aname)].append(res[wname])

    print("# numpy array code, median us per call (fresh interpreter per cell);")
    print("# in parentheses the ratio to numpy's default handler")
    print(f"# Python {sys.version.split()[0]}, numpy {np.__version__}, {platform.machine()}")
    print("| workload | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for wname in work:
        base = statistics.median(samples[(wname, "numpy default")])
        cells = []
        for aname in names:
            med = statistics.median(samples[(wname, aname)])
            ratio = "" if aname == "numpy default" else f" ({med / base:.2f}x)"
            cells.append(f"{med:.2f}{ratio}")
        print(f"| {wname} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
