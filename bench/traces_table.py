"""Replay .rep traces through every allocator of the trace binaries and print the tables.

Usage (from make -C bench traces):
    python3 traces_table.py [--plot PATH] --traces DIR_OR_FILE... -- BIN...

Each BIN is bench/traces.c built for a peer or for zheap, or bench/zig/traces.zig; `BIN
names` lists its allocators. Every allocator x trace pair runs in a fresh process
(`BIN run NAME FILE`), which checks every block, measures its peak RSS and times the
replay. Prints a markdown section: one table per trace, then the geometric means per
allocator with ratios against glibc and against Zig 0.15.1's original, and the
realloc-heavy line the Targets section reads. Exits 1 if a zheap allocator failed a check.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

#: Traces below this peak payload leave RSS to page granularity and the kernel's
#: per-CPU batched counters (about 128 KiB per CPU): their RSS ratio is shown, not averaged.
RSS_MIN_PAYLOAD = 1 << 20

REALLOC_HEAVY = "realloc-1"


def _files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(p.glob("*.rep")) if p.is_dir() else [p]
    return out


def _human(n: float) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def _zig_twin(name: str) -> str | None:
    return "Zig " + name[len("zheap ") :] if name.startswith("zheap ") else None


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


Row = tuple[int, int, int, float]  # ops, peak payload, RSS growth (bytes, -1: unknown), ns/op


def run(bins: list[str], traces: list[Path]) -> tuple[dict[str, dict[str, Row]], list[str]]:
    """Every allocator on every trace: results[allocator][trace], and the failures."""
    subjects: list[tuple[str, str, str]] = []  # binary, argument, display name
    for binary in bins:
        listed = subprocess.run([binary, "names"], check=True, capture_output=True, text=True)
        for line in listed.stdout.splitlines():
            arg, name = line.split("\t")
            subjects.append((binary, arg, name))
    results: dict[str, dict[str, Row]] = {name: {} for _, _, name in subjects}
    failures: list[str] = []
    for trace in traces:
        for binary, arg, name in subjects:
            out = subprocess.run(
                [binary, "run", arg, str(trace)], capture_output=True, text=True, timeout=3600
            )
            if out.returncode != 0:
                why = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
                failures.append(f"{name} on {trace.name}: {why}")
                continue
            cells = out.stdout.strip().split("\t")
            results[name][cells[1]] = (int(cells[2]), int(cells[3]), int(cells[4]), float(cells[5]))
    return results, failures


def _rss_ratio(row: Row) -> float | None:
    _, payload, grown, _ = row
    return grown / payload if grown >= 0 and payload > 0 else None


def tables(results: dict[str, dict[str, Row]], trace_names: list[str]) -> list[str]:
    """The markdown: per trace, the summary, and the realloc-heavy line."""
    names = [n for n in results if results[n]]
    lines: list[str] = []
    for trace in trace_names:
        rows = {n: results[n][trace] for n in names if trace in results[n]}
        if not rows:
            continue
        ops, payload = next(iter(rows.values()))[:2]
        glibc = rows.get("glibc")
        lines += [
            f"#### {trace}: {ops:,} operations, peak payload {_human(payload)}",
            "",
            "| allocator | ns/op | vs glibc | vs Zig's | RSS growth | RSS / payload |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for n, row in rows.items():
            twin = _zig_twin(n)
            zig = rows.get(twin) if twin else None
            ratio = _rss_ratio(row)
            lines.append(
                f"| {n} | {row[3]:.1f} | "
                + (f"{row[3] / glibc[3]:.2f}x" if glibc else "")
                + " | "
                + (f"{row[3] / zig[3]:.2f}x" if zig else "")
                + f" | {_human(row[2]) if row[2] >= 0 else 'n/a'} | "
                + (f"{ratio:.2f}" if ratio is not None else "n/a")
                + " |"
            )
        lines.append("")
    # Geometric means over the traces every column has.
    lines += [
        "#### Geometric means over the traces",
        "",
        "ns/op and the ratios over every trace both sides ran; RSS / payload over the traces",
        f"whose peak payload is at least {_human(RSS_MIN_PAYLOAD)}.",
        "",
        "| allocator | traces | ns/op | vs glibc | vs Zig's | RSS / payload |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for n in names:
        mine = results[n]
        theirs = results.get("glibc", {})
        twin = _zig_twin(n)
        original = results.get(twin, {}) if twin else {}
        vs_glibc = [mine[t][3] / theirs[t][3] for t in mine if t in theirs]
        vs_zig = [mine[t][3] / original[t][3] for t in mine if t in original]
        rss = [r for t, row in mine.items() if row[1] >= RSS_MIN_PAYLOAD and (r := _rss_ratio(row))]
        lines.append(
            f"| {n} | {len(mine)} | {_geomean([row[3] for row in mine.values()]):.1f} | "
            + (f"{_geomean(vs_glibc):.2f}x" if vs_glibc else "")
            + " | "
            + (f"{_geomean(vs_zig):.2f}x" if vs_zig else "")
            + " | "
            + (f"{_geomean(rss):.2f}" if rss else "")
            + " |"
        )
    heavy = [
        results.get(n, {}).get(REALLOC_HEAVY)
        for n in ("zheap c_allocator", "glibc", "Zig c_allocator")
    ]
    if all(heavy):
        z, g, o = (row[3] for row in heavy if row)
        lines += [
            "",
            f"Realloc-heavy trace ({REALLOC_HEAVY}): zheap c_allocator {z:.1f} ns/op, "
            f"glibc {g:.1f}, Zig 0.15.1 c_allocator {o:.1f}: {z / g:.2f}x glibc, {z / o:.2f}x Zig.",
        ]
    return lines


def plot(results: dict[str, dict[str, Row]], trace_names: list[str], path: str) -> bool:
    """ns/op per trace (log scale), one series per allocator; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    names = [n for n in results if results[n]]
    fig, ax = plt.subplots(figsize=(12, 5))
    colours: dict[str, object] = {}
    cmap = plt.get_cmap("tab10")
    xs = range(len(trace_names))
    for n in names:
        base = n.split(" ", 1)[-1] if n.startswith(("zheap ", "Zig ")) else n
        colour = colours.setdefault(base, cmap(len(colours) % 10))
        pts = [(x, results[n][t][3]) for x, t in enumerate(trace_names) if t in results[n]]
        marker = "o" if n.startswith("zheap ") else ("x" if n.startswith("Zig ") else "s")
        style = "-" if n.startswith("zheap ") else (":" if n.startswith("Zig ") else "--")
        ax.plot(
            [p[0] for p in pts],
            [p[1] for p in pts],
            marker=marker,
            linestyle=style,
            color=colour,
            label=n,
            linewidth=1,
        )
    ax.set_xticks(list(xs), trace_names, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("ns per operation (lower is better)")
    ax.set_title("Program traces: zheap (o, solid) against Zig 0.15.1 (x, dotted) and peers")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="x-small", ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv: list[str]) -> int:
    plot_path = None
    if argv[:1] == ["--plot"]:
        plot_path, argv = argv[1], argv[2:]
    if argv[:1] != ["--traces"] or "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    split = argv.index("--")
    traces = _files(argv[1:split])
    bins = argv[split + 1 :]
    if not traces:
        print("traces_table.py: no .rep traces found", file=sys.stderr)
        return 2
    results, failures = run(bins, traces)
    trace_names = list(dict.fromkeys(t.stem for t in traces))
    lines = tables(results, trace_names)
    if failures:
        lines += ["", "Failed runs:", "", *[f"- {f}" for f in failures]]
    print("\n".join(lines))
    if plot_path is not None and plot(results, trace_names, plot_path):
        print(f"\n![program traces]({plot_path.rsplit('/', 1)[-1]})")
    return 1 if any(f.startswith("zheap ") for f in failures) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
