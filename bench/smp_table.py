"""Run the SmpAllocator churn binaries in turn (3 alternating passes) and print the table.

Usage (from make -C bench smp): python3 smp_table.py BIN... where the binaries are, in
order, glibc, mimalloc, jemalloc, zheap and Zig's SmpAllocator. Each binary prints
"workload threads ns" lines; the table shows the median of the passes and zheap's
ratio to each peer (<= 1.00 means zheap is as fast or faster).
"""

from __future__ import annotations

import statistics
import subprocess
import sys

NAMES = ["glibc", "mimalloc", "jemalloc", "zheap smp", "Zig 0.15.1 smp"]


def main() -> int:
    bins = sys.argv[1:]
    runs: dict[str, dict[tuple[str, str], list[float]]] = {n: {} for n in NAMES}
    for _ in range(3):
        for name, path in zip(NAMES, bins, strict=True):
            out = subprocess.run([path], check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                workload, threads, ns = line.split()
                runs[name].setdefault((workload, threads), []).append(float(ns))
    keys = list(runs["zheap smp"])
    print(
        "| workload | threads | " + " | ".join(f"{n} ns" for n in NAMES) + " | zheap vs glibc "
        "| vs mimalloc | vs jemalloc | vs Zig |"
    )
    print("|---|---:|" + "---:|" * (len(NAMES) + 4))
    for key in keys:
        med = {n: statistics.median(runs[n][key]) for n in NAMES}
        z = med["zheap smp"]
        ratios = [z / med[n] for n in ("glibc", "mimalloc", "jemalloc", "Zig 0.15.1 smp")]
        print(
            f"| {key[0]} | {key[1]} | "
            + " | ".join(f"{med[n]:.1f}" for n in NAMES)
            + " | "
            + " | ".join(f"{r:.2f}x" for r in ratios)
            + " |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
