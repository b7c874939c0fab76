"""Run bench/workloads.c's binary and the Zig 0.15.1 driver in turn (3 passes each) and
print the table: median ns per operation and zheap's ratio to Zig (<= 1.00: as fast or
faster). Usage (from make -C bench zig): python3 zig_table.py ZHEAP_BIN ZIG_BIN."""

from __future__ import annotations

import statistics
import subprocess
import sys


def main() -> int:
    zheap_bin, zig_bin = sys.argv[1:3]
    runs: dict[str, dict[tuple[str, str], list[float]]] = {"zheap": {}, "zig": {}}
    for _ in range(3):
        for name, path in (("zheap", zheap_bin), ("zig", zig_bin)):
            out = subprocess.run([path], check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                allocator, workload, ns = line.split()
                runs[name].setdefault((allocator, workload), []).append(float(ns))
    print("| allocator | workload | zheap ns/op | Zig 0.15.1 ns/op | zheap / Zig |")
    print("|---|---|---:|---:|---:|")
    for key in runs["zheap"]:
        z = statistics.median(runs["zheap"][key])
        g = statistics.median(runs["zig"][key])
        print(f"| {key[0]} | {key[1]} | {z:.1f} | {g:.1f} | {z / g:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
