"""``python -m bench``: every zheap benchmark in one run, written to bench/RESULTS.md.

    python -m bench            # the full run (several minutes)
    python -m bench --quick    # a hundredth of the work: the CI smoke run, numbers meaningless
    python -m bench traces [DIR...]   # only the program traces, with the .rep files in DIR
                                      # (e.g. CS:APP's traces/); prints the tables

Directories listed in ZHEAP_BENCH_TRACES (separated by os.pathsep) are replayed too, in
the full run and by ``traces``.

The scaling curves need mimalloc and jemalloc (Debian libmimalloc-dev libjemalloc-dev),
the instruction counts valgrind, the Zig comparisons ziglang==0.15.1.

It builds what it needs (``make -C bench``: the C benchmarks against libzheap.a, glibc,
mimalloc, jemalloc, and the Zig 0.15.1 drivers with ``python -m ziglang``), runs them and the
Python-level benchmarks, and writes RESULTS.md (tables, machine, versions) plus PNG plots
when matplotlib is installed. Peers that are not installed are skipped and listed.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _run(cmd: list[str], env: dict[str, str], timeout: int = 3600) -> str:
    print("  $", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


def _have_lib(name: str) -> bool:
    probe = subprocess.run(
        ["cc", "-x", "c", "-", f"-l{name}", "-o", os.devnull],
        input="int main(void){return 0;}",
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0


def _have_valgrind() -> bool:
    try:
        return subprocess.run(["valgrind", "--version"], capture_output=True).returncode == 0
    except OSError:
        return False


def _have_zig() -> bool:
    try:
        import ziglang  # noqa: F401
    except ImportError:
        return False
    return True


def _machine() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cc = subprocess.run(["cc", "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    zig = "not installed"
    if _have_zig():
        zig = subprocess.run(
            [sys.executable, "-m", "ziglang", "version"], capture_output=True, text=True
        ).stdout.strip()
    return [
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs ({cpu}), {platform.platform()}",
        f"- compiler: {cc[0] if cc else 'unknown'} (-O2); Zig {zig} (-OReleaseFast -mcpu=baseline)",
        f"- Python {sys.version.split()[0]}",
    ]


def _smp_plot(table: str, out: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [r for r in table.splitlines() if r.startswith("| ") and not r.startswith("| workload")]
    labels, series = [], {}
    names = ["glibc", "mimalloc", "jemalloc", "zheap smp", "Zig 0.15.1 smp"]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        labels.append(
            f"{cells[0]} B x{cells[1]}" if cells[0][0].isdigit() else f"{cells[0]} x{cells[1]}"
        )
        for name, value in zip(names, cells[2:7], strict=True):
            series.setdefault(name, []).append(float(value))
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.16
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + i * width for x in range(len(labels))], values, width, label=name)
    ax.set_xticks([x + 2 * width for x in range(len(labels))], labels, rotation=20)
    ax.set_ylabel("ns per free+alloc step (lower is better)")
    ax.set_title("Small-object churn, 1000 live blocks per thread")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def _ratio_rows(text: str, marker: str) -> dict[str, float]:
    """Rows of a markdown table (after `marker`): name -> last ratio column."""
    out: dict[str, float] = {}
    if marker not in text:
        return out
    for line in text.split(marker, 1)[1].splitlines():
        if line.startswith("|") and "x" in line and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            try:
                out[cells[0]] = float(cells[-1].split("x")[0])
            except ValueError:
                continue
        elif out and not line.startswith("|"):
            break
    return out


def _trace_targets(traces: str) -> list[str]:
    """Issue 15's targets 2 and 5, read off the trace benchmark's output."""
    if not traces:
        return []
    lines = []
    m = re.search(
        r"Realloc-heavy trace \((\S+)\): zheap c_allocator ([0-9.]+) ns/op, glibc ([0-9.]+), "
        r"Zig 0.15.1 c_allocator ([0-9.]+): ([0-9.]+)x glibc",
        traces,
    )
    if m:
        r = float(m.group(5))
        lines.append(
            f"- c_allocator realloc <= 1.2x glibc (issue 15, target 2), on the realloc-heavy "
            f"trace {m.group(1)}: "
            f"{r:.2f}x ({m.group(2)} ns/op against glibc's {m.group(3)}; Zig 0.15.1's "
            f"c_allocator, whose remap never calls realloc, {m.group(4)}) -- "
            + ("met" if r <= 1.2 else "missed")
        )
    means = {}
    if "Geometric means" in traces:
        for line in traces.split("Geometric means", 1)[1].splitlines():
            cells = [c.strip() for c in line.strip("|").split("|")]
            if line.startswith("| ") and len(cells) == 6 and cells[1].isdigit():
                means[cells[0]] = cells
    if means:
        n = max(int(c[1]) for c in means.values())
        picks = ", ".join(
            f"{name[6:]} {c[3]} glibc / {c[4]} Zig"
            for name, c in means.items()
            if name.startswith("zheap ") and c[3] and c[4]
        )
        lines.append(
            f"- Program-trace benchmark (issue 15, target 5): {n} traces through {len(means)} "
            "allocators, every "
            f"block checked, ns/op and peak RSS over peak payload -- met (tables and plot "
            f"below). Geometric means, zheap against glibc / against Zig 0.15.1's: {picks}"
        )
    return lines


def _targets(
    composable: str,
    smp_table: str,
    debug: str,
    py64: str,
    zig_table: str,
    counts: str,
    traces: str = "",
) -> list[str]:
    """The issue's targets against this run's numbers: met or missed, and why."""
    lines = ["## Targets (this run)", ""]
    bump = _ratio_rows(composable, "blocks (125 KiB) per reset")
    arena = bump.get("ArenaAllocator, vtable, reset(retain_capacity)")
    fba = bump.get("FixedBufferAllocator, vtable")
    if arena is not None and fba is not None:
        ok = max(arena, fba) <= 2.0
        lines.append(
            f"- Arena/FBA bump <= 2x the raw bump pointer: arena {arena:.2f}x, FBA {fba:.2f}x "
            f"-- {'met' if ok else 'missed'}"
        )
    rows = [
        r for r in smp_table.splitlines() if r.startswith("| ") and not r.startswith("| workload")
    ]
    if rows:
        vs = [[float(c.strip().rstrip("x")) for c in r.strip("|").split("|")[7:11]] for r in rows]
        fixed = [v for r, v in zip(rows, vs, strict=True) if not r.startswith("| mix")]
        glibc = max(v[0] for v in fixed)
        mim = max(v[1] for v in fixed)
        zig = max(v[3] for v in vs)
        lines.append(
            f"- SmpAllocator <= 1.0x Zig's: worst {zig:.2f}x -- {'met' if zig <= 1.0 else 'missed'}"
        )
        lines.append(
            "- SmpAllocator <= 1.0x glibc on fixed-size churn (16/64/256 B, 1 and 2 threads; "
            f"issue 15, target 1): worst {glibc:.2f}x -- {'met' if glibc <= 1.0 else 'missed'}; "
            f"moonshot, within 1.3x of mimalloc: worst {mim:.2f}x -- "
            f"{'met' if mim <= 1.3 else 'missed'}. The slot lock is not the cost: a build with "
            "its atomic exchange replaced by plain loads and stores was no faster (9.9 against "
            "8.8 ns a 64 B step, one thread, measured 2026-12-05). What gained was splitting "
            "alloc's common case (this thread's slot free, a free slot of the class on its "
            "list) into a leaf function with no stack frame, and the rest of Zig's algorithm, "
            "unchanged, into alloc_slow: 8.8 to 7.7 ns a step in the same measurement."
        )
    m = re.search(r"zheap ([0-9.]+)\s+Zig 0.15.1 ([0-9.]+)\s+ratio ([0-9.]+)x", debug)
    if m:
        r = float(m.group(3))
        churn = re.search(r"\| DebugAllocator \| churn64 \|[^|]*\|[^|]*\| ([0-9.]+)x", counts)
        counted = f"callgrind counts {churn.group(1)}x Zig's instructions" if churn else "callgrind"
        lines.append(
            f"- DebugAllocator <= 1.0x Zig's: {r:.2f}x -- {'met' if r <= 1.0 else 'missed'} "
            f"(wall time is noisy here; {counted}, for the runtime Config and the page table "
            "that keeps frees from reading unmapped memory)"
        )
    py = {}
    for line in py64.splitlines():
        parts = line.rsplit(None, 2)
        if len(parts) == 3 and parts[2].endswith("x"):
            py[parts[0].strip()] = float(parts[2].rstrip("x"))
    picks = {
        k: py.get(k)
        for k in (
            "c_allocator alloc+free",
            "ArenaAllocator alloc(n), reset per 1000",
            "MemoryPool(n) destroy(create())",
        )
    }
    if all(v is not None for v in picks.values()):
        worst = max(v for v in picks.values() if v is not None)
        desc = ", ".join(f"{k.split()[0]} {v:.2f}x" for k, v in picks.items())
        floor = py.get("floor: id(memoryview(live buffer))")
        floor_desc = ""
        if floor is not None:
            verdict = (
                "no allocator that hands out memoryviews can reach 0.6x on this interpreter. "
                if floor > 0.6
                else "0.6x is above it. "
            )
            floor_desc = (
                "The floor row -- a new memoryview over a buffer that already exists, passed "
                f"to one C function, with no allocator at all -- is {floor:.2f}x by itself, so "
                + verdict
            )
        lines.append(
            f"- Python alloc+free of 64 B <= 1.0x memoryview(bytearray(64)): {desc} -- "
            f"{'met' if worst <= 1.0 else 'missed'}; <= 0.6x (issue 15, target 4): "
            f"{'met' if worst <= 0.6 else 'missed'}. {floor_desc}"
            "Profiled (perf, 4M alloc+free of 64 B "
            "on c_allocator, 2026-12-05): 61% of the time is CPython's (allocating, "
            "tracking and freeing the three objects of each view -- Block, managed buffer, "
            "memoryview -- and the eval loop), 27% zheap's (10 points of it the transaction: "
            "begin, end, release, stack marks), 5% malloc's; bytearray(64) alone costs "
            "0.44x."
        )
    zig_rows = [r for r in zig_table.splitlines() if r.startswith("| ") and "zheap" not in r]
    if zig_rows:
        missed = []
        for r in zig_rows:
            cells = [c.strip() for c in r.strip("|").split("|")]
            if float(cells[-1].rstrip("x")) > 1.0:
                missed.append(f"{cells[0]} {cells[1]} {cells[-1]}")
        lines.append(
            "- Every C allocator <= 1.0x its Zig original on every workload: "
            + (
                "met"
                if not missed
                else f"missed on {len(missed)} of {len(zig_rows)}: {', '.join(missed)}. "
                "grow/large are dominated by mmap/mremap/munmap and vary from run to run by "
                "more than these margins; MemoryPool and ArenaAllocator lose to Zig's comptime "
                "specialisation (Zig's pool is generic over the item type and fully inlined)."
            )
        )
    count_rows = [r for r in counts.splitlines() if r.startswith("| ") and "zheap" not in r]
    if count_rows:
        over = []
        for r in count_rows:
            cells = [c.strip() for c in r.strip("|").split("|")]
            if cells[-1] != "n/a" and float(cells[-1].rstrip("x")) > 1.0:
                over.append(f"{cells[0]} {cells[1]} {cells[-1]}")
        lines.append(
            "- The same, counted in instructions (callgrind): "
            + ("at or under Zig's everywhere" if not over else "over Zig's on " + ", ".join(over))
            + ". Where wall time is at parity and instructions are not, the difference is the "
            "interface: Zig's vtable is a compile-time constant in its driver, so LLVM inlines "
            "the allocator into the loop and keeps its state in registers; zheap's is a call "
            "into libzheap.a. MemoryPool's create+destroy are 5 instructions on both sides; "
            "the C loop around them is 20 instructions a step against Zig's 10, because the "
            "byte written into each item may alias the pool's free-list head under C's rules, "
            "which the compiler then reloads (read off the disassembly of both loops). The "
            "page allocator's rows are a few thousand instructions around system calls that "
            "callgrind does not count."
        )
    return lines + _trace_targets(traces) + [""]


def _trace_dirs(extra: list[str]) -> list[str]:
    """The user's .rep directories (arguments, then ZHEAP_BENCH_TRACES), made absolute."""
    listed = [*extra, *filter(None, os.environ.get("ZHEAP_BENCH_TRACES", "").split(os.pathsep))]
    for d in listed:
        if not Path(d).exists():
            raise SystemExit(f"python -m bench traces: no such file or directory: {d}")
    return [str(Path(d).resolve()) for d in listed]


def _traces_section(
    env: dict[str, str], dirs: list[str], plot: Path | None, skipped: list[str]
) -> tuple[str, list[str]]:
    """Run ``make -C bench traces``: the table text and the section's lines."""
    peers = [p for p in ("mimalloc", "jemalloc") if not _have_lib(p)]
    if peers:
        skipped.append(f"program traces through {' and '.join(peers)} (not installed)")
    if not _have_zig():
        skipped.append("program traces through Zig 0.15.1's allocators (ziglang missing)")
    cmd = ["make", "-s", "-C", "bench", "traces", f"TRACES_PLOT={plot.resolve() if plot else ''}"]
    env = {**env, "ZHEAP_BENCH_TRACES": ""}
    out = _run([*cmd, f"TRACE_DIRS={' '.join(dirs)}"], env).strip()
    where = f" and {', '.join(dirs)}" if dirs else ""
    return out, [
        "## C: program traces (`make -C bench traces`)",
        "",
        "malloc-lab `.rep` traces replayed through every allocator, each allocator x trace",
        "in a fresh process (`bench/traces.c`, one binary per peer and one for zheap;",
        "`bench/zig/traces.zig` for Zig 0.15.1's originals): the lab's six generated shapes",
        f"(`python -m zheap lab --generate`){where}. Every block is 16-byte aligned on every",
        "side (mimalloc and jemalloc through their aligned calls) and reallocated with the",
        "allocator's realloc (zheap's `zh_realloc`, Zig's `allocator.realloc`). A checking",
        "pass writes a pattern into every block and checks it on free and realloc; peak RSS",
        "(VmHWM after that pass, minus VmRSS before it) is over the peak of live bytes. The",
        "timed passes touch only the first byte of a block; each repeats the trace for at",
        "least 5 ms, ns/op is the median of 5. ArenaAllocator frees nothing, so its RSS is",
        "its whole footprint; page_allocator and DebugAllocator map pages per block or per",
        "bucket. The kernel counts RSS in per-CPU batches (about 128 KiB each): RSS ratios",
        "of small traces are noise, and only traces of 1 MiB or more enter the mean.",
        "",
        out,
        "",
    ]


def _traces_only(argv: list[str]) -> int:
    """``python -m bench traces [DIR...] [--plot PATH]``: print the trace tables."""
    ap = argparse.ArgumentParser(prog="python -m bench traces", description=_traces_only.__doc__)
    ap.add_argument("dirs", nargs="*", help="directories (or files) of .rep traces")
    ap.add_argument("--plot", type=Path, help="draw the plot into this PNG file")
    ap.add_argument("--quick", action="store_true", help="short traces, one pass")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.quick:
        env["ZHEAP_BENCH_QUICK"] = "1"
    skipped: list[str] = []
    _, section = _traces_section(env, _trace_dirs(args.dirs), args.plot, skipped)
    print("\n".join([*section, *[f"- skipped: {s}" for s in skipped]]))
    return 0


def main(argv: list[str]) -> int:
    """Build, run, write RESULTS.md; 0 on success."""
    if argv[:1] == ["traces"]:
        return _traces_only(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a hundredth of the work (CI smoke run)")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.quick:
        env["ZHEAP_BENCH_QUICK"] = "1"
    skipped: list[str] = []
    sections: list[str] = []

    print("C: bump allocation and pools", flush=True)
    composable = _run(["make", "-s", "-C", "bench", "run"], env)
    sections += ["## C: arena, fixed buffer and pool (`make -C bench`)", "", composable.strip(), ""]

    smp_table = debug = py64 = counts = ""
    peers = {"mimalloc": _have_lib("mimalloc"), "jemalloc": _have_lib("jemalloc")}
    if all(peers.values()) and _have_zig():
        print("C: SmpAllocator against glibc, mimalloc, jemalloc, Zig", flush=True)
        smp = _run(["make", "-s", "-C", "bench", "smp"], env)
        smp_table = "\n".join(line for line in smp.splitlines() if line.startswith("|"))
        sections += [
            "## C: SmpAllocator against its peers (`make -C bench smp`)",
            "",
            "1000 live blocks per thread; each step frees the oldest and allocates one. Median",
            "ns per step (3 alternating passes of each binary); ratios are zheap's time over the",
            "peer's.",
            "",
            smp_table,
            "",
        ]
        if _smp_plot(smp_table, args.out.parent / "smp_churn.png"):
            sections += ["![SmpAllocator churn](smp_churn.png)", ""]
        else:
            skipped.append("plots (matplotlib not installed)")
    else:
        skipped.append(f"SmpAllocator peers (mimalloc/jemalloc/ziglang missing: {peers})")

    zig_table = ""
    if _have_zig():
        print("C: every allocator against its Zig 0.15.1 original", flush=True)
        zig_table = _run(["make", "-s", "-C", "bench", "zig"], env)
        zig_table = "\n".join(line for line in zig_table.splitlines() if line.startswith("|"))
        sections += [
            "## C: every allocator against its Zig 0.15.1 original (`make -C bench zig`)",
            "",
            "The same loops through the allocator interface on both sides (`bench/workloads.c`,",
            "`bench/zig/workloads.zig`): churn64 / mix = 1000 live blocks (64 B / 8..4096 B),",
            "free the oldest and allocate one; grow = realloc x1.5 from 16 B to 64 MiB; large =",
            "alloc+free of 64 KiB..64 MiB; bump64 = 2000 allocations per reset. Median of 3",
            "alternating passes; grow and large are system-call bound and noisy.",
            "",
            zig_table,
            "",
        ]
        print("C: DebugAllocator against Zig's", flush=True)
        debug = _run(["make", "-s", "-C", "bench", "debug"], env)
        sections += ["## C: DebugAllocator against Zig 0.15.1's (`make -C bench debug`)", ""]
        sections += ["```", debug.strip(), "```", ""]
    else:
        skipped.append("DebugAllocator vs Zig (ziglang==0.15.1 missing)")

    if all(peers.values()):
        print("C: scaling curves, aligned allocation, two threads, RSS", flush=True)
        plot = (args.out.parent / "scaling.png").resolve()
        scaling = _run(["make", "-s", "-C", "bench", "scaling", f"SCALING_PLOT={plot}"], env)
        sections += [
            "## C: how the cost scales (`make -C bench scaling`)",
            "",
            "`bench/scaling.c`, one binary per peer (jemalloc replaces malloc when linked).",
            "Median of 3 rounds. SmpAllocator hands blocks above 32 KiB (its largest size",
            "class) straight to the page allocator, as Zig's does: every such alloc+free is an",
            "mmap+munmap pair, where glibc keeps freed memory for the next request. Two",
            "threads share one core pair here: compare rows with each other, not with the",
            "one-thread tables. ThreadSafeAllocator is one mutex around its child, a port of",
            "Zig's futex mutex, which does not spin: with two threads contending, every",
            "hand-over is a futex sleep and wake. It exists to share an allocator that is not",
            "thread-safe, not for throughput. SmpAllocator's RSS over requested bytes is the",
            "price of power-of-two size classes: a uniform 8..4096 B mix leaves a quarter of",
            "each slot unused on average.",
            "",
            scaling.strip(),
            "",
        ]
    else:
        skipped.append(f"scaling curves (mimalloc/jemalloc missing: {peers})")

    if _have_zig() and _have_valgrind():
        print("C: instruction counts under callgrind", flush=True)
        counts = _run(["make", "-s", "-C", "bench", "callgrind"], env)
        sections += [
            "## C: instructions executed, zheap against Zig (`make -C bench callgrind`)",
            "",
            "The workloads of the Zig table at a tenth of the work, one row per process",
            "under `valgrind --tool=callgrind`, start-up subtracted: stable where wall time is",
            "noisy. Zig's driver calls its allocators through `std.mem.Allocator` too, but the",
            "vtable is a compile-time constant there, so LLVM inlines the whole allocator into",
            "the loop (FixedBufferAllocator: about 9 instructions per allocation); zheap's",
            "interface is a real indirect call into libzheap.a (about 50). page_allocator and",
            "large blocks are system calls, whose cost callgrind does not count.",
            "",
            counts.strip(),
            "",
        ]
    else:
        skipped.append("instruction counts (valgrind or ziglang missing)")

    print("C: program traces", flush=True)
    traces, section = _traces_section(env, _trace_dirs([]), args.out.parent / "traces.png", skipped)
    sections += section

    print("Python: alloc+free per call", flush=True)
    number = "2000" if args.quick else "200000"
    repeat = "3" if args.quick else "7"
    for size in ("64", "4096", "1048576"):
        n = number if size != "1048576" else str(max(1, int(number) // 20))
        out = _run(
            [
                sys.executable,
                "bench/bench_python.py",
                "--size",
                size,
                "--number",
                n,
                "--repeat",
                repeat,
            ],
            env,
        )
        if size == "64":
            py64 = out
        sections += [
            f"## Python: alloc+free of {size} B (`bench/bench_python.py --size {size}`)",
            "",
        ]
        sections += ["```", out.strip(), "```", ""]
    debug_py = _run(
        [sys.executable, "bench/bench_debug.py", "--number", "500" if args.quick else "50000"], env
    )
    sections += ["## Python: DebugAllocator and trace capture against tracemalloc", ""]
    sections += ["```", debug_py.strip(), "```", ""]
    print("Python: numpy array code with its data in zheap allocators", flush=True)
    numpy_py = _run(
        [
            sys.executable,
            "bench/bench_numpy.py",
            "--number",
            "200" if args.quick else "20000",
            "--repeat",
            "1" if args.quick else "5",
        ],
        env,
    )
    sections += [
        "## Python: numpy array code in zheap memory (`bench/bench_numpy.py`)",
        "",
        numpy_py.strip(),
        "",
    ]

    text = [
        "# zheap benchmark results",
        "",
        "Written by `python -m bench`"
        + (" --quick (smoke run: the numbers mean nothing)" if args.quick else "")
        + ".",
        "Every comparison is within one run (these machines are shared and noisy): read ratios.",
        "",
        *_machine(),
        "",
        *_targets(composable, smp_table, debug, py64, zig_table, counts, traces),
        *sections,
    ]
    if skipped:
        text += ["## Skipped", "", *[f"- {s}" for s in skipped], ""]
    args.out.write_text("\n".join(text))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
