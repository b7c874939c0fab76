"""Instruction counts (valgrind --tool=callgrind) of bench/workloads.c against the Zig
0.15.1 driver, one row at a time (ZHEAP_BENCH_ONLY), at a tenth of the work (a
thousandth in a --quick run): the view that stays stable where wall time is noisy. A run
with no row measured gives the start-up cost, subtracted from every row; each row's own
set-up (its first 1000 blocks, its pool or arena) stays in. Usage (from make -C bench
callgrind): python3 callgrind_table.py ZHEAP_BIN ZIG_BIN."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

DIVISOR = "1000" if os.environ.get("ZHEAP_BENCH_QUICK") else "10"


def instructions(binary: str, only: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        env = dict(os.environ, ZHEAP_BENCH_QUICK=DIVISOR, ZHEAP_BENCH_ONLY=only)
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary],
            env=env,
            check=True,
            capture_output=True,
        )
        with open(out) as f:
            m = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
    if m is None:
        raise RuntimeError(f"no instruction total from callgrind for {binary}")
    return int(m.group(1))


def main(argv: list[str]) -> int:
    zheap_bin, zig_bin = argv[:2]
    listing = subprocess.run(
        [zheap_bin], env=dict(os.environ, ZHEAP_BENCH_QUICK="1000"), check=True,
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    rows = [" ".join(line.split()[:2]) for line in listing.splitlines()]
    base = {b: instructions(b, "none none") for b in (zheap_bin, zig_bin)}
    print("| allocator | workload | zheap instructions | Zig 0.15.1 instructions | zheap / Zig |")
    print("|---|---|---:|---:|---:|")
    for row in rows:
        z = instructions(zheap_bin, row) - base[zheap_bin]
        g = instructions(zig_bin, row) - base[zig_bin]
        allocator, workload = row.split()
        ratio = f"{z / g:.2f}x" if g > 0 else "n/a"
        print(f"| {allocator} | {workload} | {z:,} | {g:,} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
