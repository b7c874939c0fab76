"""Python-level cost of alloc+free, side by side with the buffers a user would use instead.

Run: python bench/bench_python.py [--size 64] [--repeat 7] [--number 200000]

Every row is measured in the same run, interleaved round-robin over `--repeat` rounds,
and reported as the median ns per alloc+free pair and as a ratio to
`memoryview(bytearray(n))` (the target for c_allocator is <= 1.0x). One anchor block of
the same size stays alive in every allocator so that no libc fast path is hit only by
the loop's lone block.
"""

from __future__ import annotations

import argparse
import ctypes
import mmap
import platform
import statistics
import sys
import timeit

import zheap

_BATCH = 1000


def cases(
    n: int, arena: zheap.ArenaAllocator, pool: zheap.MemoryPool
) -> dict[str, tuple[str, dict[str, object]]]:
    """Name -> (statement, globals) for one alloc+free of n bytes.

    Statements starting with ``for`` do ``_BATCH`` operations (the arena rows: a batch
    of allocations, then one reset, as arenas are used).
    """
    c = zheap.c_allocator
    p = zheap.page_allocator
    r = zheap.raw_c_allocator
    batch = range(_BATCH)
    out: dict[str, tuple[str, dict[str, object]]] = {
        "c_allocator alloc+free": ("free(alloc(n))", {"alloc": c.alloc, "free": c.free, "n": n}),
        "raw_c_allocator alloc+free": (
            "free(alloc(n))",
            {"alloc": r.alloc, "free": r.free, "n": n},
        ),
        "page_allocator alloc+free": ("free(alloc(n))", {"alloc": p.alloc, "free": p.free, "n": n}),
        "MemoryPool(n) destroy(create())": (
            "destroy(create())",
            {"create": pool.create, "destroy": pool.destroy},
        ),
        "ArenaAllocator alloc(n), reset per 1000": (
            "for _ in batch: alloc(n)\nreset()",
            {"alloc": arena.alloc, "reset": arena.reset, "batch": batch, "n": n},
        ),
        "memoryview(bytearray(n)), same loop": (
            "for _ in batch: memoryview(bytearray(n))",
            {"batch": batch, "n": n},
        ),
        "smp_allocator alloc+free": (
            "free(alloc(n))",
            {"alloc": zheap.smp_allocator.alloc, "free": zheap.smp_allocator.free, "n": n},
        ),
        "bytearray(n)": ("bytearray(n)", {"n": n}),
        "mmap.mmap(-1, n)": ("mmap(-1, n).close()", {"mmap": mmap.mmap, "n": n}),
        "memoryview(bytearray(n))": ("memoryview(bytearray(n))", {"n": n}),
        "ctypes.create_string_buffer(n)": ("csb(n)", {"csb": ctypes.create_string_buffer, "n": n}),
        "floor: no-op C method call": ("f()", {"f": [].clear}),
        # What any allocator handing out memoryviews pays before doing any work: a new
        # memoryview (managed buffer + view) over a buffer that already exists, passed to a
        # C function. free(alloc(n)) pays this plus a second call and the allocator's work.
        "floor: id(memoryview(live buffer))": (
            "f(memoryview(b))",
            {"f": id, "b": bytearray(n)},
        ),
    }
    try:
        import numpy

        out["numpy.empty(n, uint8)"] = (
            "empty(n, uint8)",
            {"empty": numpy.empty, "uint8": numpy.uint8, "n": n},
        )
    except ImportError:  # the bench extra is optional
        pass
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--number", type=int, default=200_000)
    args = ap.parse_args()

    anchors = [
        (a, a.alloc(args.size))
        for a in (zheap.c_allocator, zheap.raw_c_allocator, zheap.page_allocator)
    ]
    arena = zheap.ArenaAllocator()
    pool = zheap.MemoryPool(args.size)
    pool_anchor = pool.create()
    table = cases(args.size, arena, pool)
    samples: dict[str, list[float]] = {k: [] for k in table}
    for _ in range(args.repeat):
        for name, (stmt, env) in table.items():
            slow = name.startswith(("page_allocator", "mmap"))
            number = args.number // 20 if slow else args.number
            ops = _BATCH if stmt.startswith("for") else 1
            number = max(1, number // ops)
            t = timeit.timeit(stmt, globals=env, number=number)
            samples[name].append(t / (number * ops) * 1e9)
    for a, v in anchors:
        a.free(v)
    pool.destroy(pool_anchor)
    pool.deinit()
    arena.deinit()

    base = statistics.median(samples["memoryview(bytearray(n))"])
    print(f"# alloc+free of {args.size} B, median of {args.repeat} interleaved rounds")
    print(f"# Python {sys.version.split()[0]}, {platform.machine()}, {platform.platform()}")
    print(f"{'case':40s} {'ns/op':>9s} {'vs memoryview(bytearray)':>26s}")
    for name, xs in samples.items():
        med = statistics.median(xs)
        print(f"{name:40s} {med:9.1f} {med / base:25.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
