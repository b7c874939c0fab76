"""Run bench/scaling.c's binaries (one per peer, one for zheap) and print the tables:
cost against block size and against live-set size, aligned allocations, two threads
through ThreadSafeAllocator, and peak RSS per requested byte. With --plot PATH, also
draw the two scaling curves. Usage (from make -C bench scaling):
python3 scaling_table.py [--plot PATH] BIN..."""

from __future__ import annotations

import subprocess
import sys


def _human(n: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n // size} {unit}"
    return f"{n} B"


def _table(data, workload, names, label, fmt=_human):
    params = sorted({p for (_, w, p) in data if w == workload})
    if not params:
        return []
    cols = [n for n in names if any((n, workload, p) in data for p in params)]
    out = [f"| {label} | " + " | ".join(cols) + " |", "|---" + "|---:" * len(cols) + "|"]
    for p in params:
        cells = [f"{data[(n, workload, p)]:.1f}" if (n, workload, p) in data else "" for n in cols]
        out.append(f"| {fmt(p)} | " + " | ".join(cells) + " |")
    return out


def _plot(data, names, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, workload, xlabel in (
        (axes[0], "size", "block size (bytes)"),
        (axes[1], "live", "live blocks (64 B each)"),
    ):
        for n in names:
            pts = sorted((p, v) for (m, w, p), v in data.items() if m == n and w == workload)
            if pts:
                ax.plot([p for p, _ in pts], [v for _, v in pts], marker="o", label=n)
        ax.set_xscale("log", base=2 if workload == "size" else 10)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("ns per operation (lower is better)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_title("alloc+free against block size")
    axes[1].set_title("free+alloc (random victim) against live set")
    axes[0].legend(fontsize="small")  # the left panel has every series (page_allocator too)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv: list[str]) -> int:
    plot = None
    if argv[:1] == ["--plot"]:
        plot, argv = argv[1], argv[2:]
    data: dict[tuple[str, str, int], float] = {}
    names: list[str] = []
    rss: dict[str, tuple[int, float]] = {}
    for binary in argv:
        out = subprocess.run([binary], check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            name, workload, param, value = line.rsplit(None, 3)
            data[(name, workload, int(param))] = float(value)
            if name not in names:
                names.append(name)
        listed = subprocess.run([binary, "names"], check=True, capture_output=True, text=True)
        for name in listed.stdout.splitlines():
            if "page_allocator" in name:
                continue  # a page per block: its RSS is pages, nothing to compare
            line = subprocess.run(
                [binary, "rss", name], check=True, capture_output=True, text=True
            ).stdout.split()
            rss[name] = (int(line[-2]), float(line[-1]))
    lines = ["### Cost against block size: alloc+free with one same-size block live (ns)", ""]
    lines += _table(data, "size", names, "size")
    lines += ["", "### Cost against live-set size: 64 B, free a random block + allocate (ns)", ""]
    lines += _table(data, "live", names, "live blocks", fmt=lambda p: f"{p:,}")
    lines += ["", "### Aligned alloc+free of 64 B (ns): posix_memalign and friends", ""]
    lines += _table(data, "aligned", names, "alignment", fmt=lambda p: f"{p} B")
    lines += ["", "### Two threads, 1000 live 64 B blocks each, free oldest + allocate (ns)", ""]
    rows = [(n, v) for (n, w, _), v in data.items() if w == "threads2"]
    lines += ["| allocator | ns per step |", "|---|---:|"]
    lines += [f"| {n} | {v:.1f} |" for n, v in rows]
    title = "### Memory: 10^5 live blocks of 8..4096 B churned: peak RSS growth / peak requested"
    lines += ["", title, ""]
    lines += ["| allocator | peak requested | RSS / requested |", "|---|---:|---:|"]
    lines += [f"| {n} | {_human(p)} | {r:.3f} |" for n, (p, r) in rss.items()]
    print("\n".join(lines))
    if plot is not None and _plot(data, names, plot):
        print(f"\n![scaling curves]({plot.rsplit('/', 1)[-1]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
