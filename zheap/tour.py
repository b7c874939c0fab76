"""The guided tour (``python -m zheap``): each allocator at work, with its memory map.

Every chapter runs real allocations on built-in defaults, prints a short
explanation and the map :func:`zheap.viz.render` draws from ``layout()``, and
can save each map as a PNG (``--png DIR``; needs matplotlib). Run one chapter
with ``python -m zheap tour NAME``; ``--no-pause`` runs straight through
(the tour only pauses on a terminal anyway).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import zheap
import zheap.testing

from . import viz

__all__ = ["CHAPTERS", "Tour", "main"]

KiB = 1024


class Tour:
    """Prints the steps of a chapter, and saves their maps when asked."""

    def __init__(self, *, pause: bool, png_dir: str | None, width: int | None = None) -> None:
        self.pause = pause
        self.png_dir = png_dir
        self.width = width
        self.chapter = ""
        self.pictures: list[str] = []
        self.layouts: dict[str, Any] = {}  # "CHAPTER-N" -> the layout each map was drawn from
        self._n = 0
        self._lines = 0  # printed since the reader last pressed Enter

    def columns(self) -> int:
        """Return the width to print at: ``--width``, else the terminal's (at most 100)."""
        return self.width or min(shutil.get_terminal_size().columns, 100)

    def begin(self, name: str, title: str) -> None:
        """Start a chapter."""
        self.chapter, self._n = name, 0
        rule = "=" * min(72, self.columns())
        self.out(f"\n{rule}\n{textwrap.fill(title, self.columns())}\n{rule}")

    def say(self, text: str) -> None:
        """Print paragraphs of explanation (blank-line separated), wrapped to :meth:`columns`."""
        paragraphs = text.strip("\n").split("\n\n")
        width = self.columns()
        self.out("\n\n".join(textwrap.fill(" ".join(p.split()), width) for p in paragraphs))

    def verbatim(self, text: str) -> None:
        """Print text as it is (a trace, a table), with zheap's own file paths shortened."""
        self.out(text.strip("\n").replace(os.path.dirname(os.path.abspath(__file__)) + os.sep, ""))

    def show(self, allocator: Any, caption: str) -> None:
        """Print the allocator's memory map (and save it as a PNG with ``--png``)."""
        self.out(f"\n-- {caption}")
        layout = allocator.layout()
        self._n += 1
        self.layouts[f"{self.chapter}-{self._n}"] = layout
        self.out(viz.render(layout, width=self.width))
        if self.png_dir is not None:
            path = os.path.join(self.png_dir, f"{self.chapter}-{self._n}.png")
            viz.plot(layout, path, title=caption, figsize=(9, 3), dpi=80)
            self.pictures.append(path)
        self.wait()

    def save_timeline(self, trace: Any, caption: str) -> None:
        """Save a trace's timeline picture with ``--png``."""
        if self.png_dir is not None:
            path = os.path.join(self.png_dir, f"{self.chapter}-timeline.png")
            viz.timeline(trace, path, title=caption, figsize=(9, 4), dpi=80)
            self.pictures.append(path)

    def out(self, text: str) -> None:
        """Print ``text``; when pausing, stop for Enter before it scrolls off the screen."""
        rows = shutil.get_terminal_size().lines
        for line in text.split("\n"):
            if self.pause and self._lines >= max(rows - 2, 3):
                input("   [Enter: more] ")
                self._lines = 0
            print(line)
            self._lines += 1

    def wait(self) -> None:
        """Wait for Enter, when pausing."""
        if self.pause:
            input("   [Enter] ")
        self._lines = 0


def page(t: Tour) -> None:
    """PageAllocator: whole pages from the OS, aligned beyond a page."""
    t.begin("page", "PageAllocator: memory straight from the OS, a page at a time")
    pa = zheap.PageAllocator()
    small = pa.alloc(100)
    aligned = pa.alloc(100, alignment=1 << 20)
    t.say(f"""
alloc(100) maps a whole page ({zheap.page_size()} bytes): the rest of it is padding, which
the map shows. alloc(100, alignment=1 MiB) landed at {zheap.address_of(aligned):#x}: zheap
maps more than asked, then unmaps the misaligned head and the unused tail, as Zig does.""")
    t.show(pa, "two 100-byte blocks from the page allocator")
    pa.free(small)
    pa.free(aligned)


def arena(t: Tour) -> None:
    """ArenaAllocator: chunks that grow, and the three reset modes."""
    t.begin("arena", "ArenaAllocator: allocate many times, free once")
    # The child is malloc (raw_c_allocator), which never grows a block in place: every
    # full chunk makes a new one, so the tour shows the same four chunks on every run.
    a = zheap.ArenaAllocator(zheap.raw_c_allocator)
    with zheap.trace(a) as rec:
        for n in (100, 300, 2000, 6000):
            a.alloc(n)
    asked = [e for e in rec.events if e.depth == 1]
    chunks = ", ".join(str(e.length) for e in asked if e.op == "alloc")
    refused = sum(e.op == "resize" and e.result is False for e in asked)
    t.say(f"""
Four blocks of 100, 300, 2000 and 6000 bytes, on an arena whose child is malloc
(zheap.raw_c_allocator). Each time the newest chunk is full the arena first asks its
child to grow it in place -- malloc refused {refused} times -- then asks for a new chunk
about 1.5 times bigger: {chunks} bytes. The rest of each older chunk is a hole, never
used again until a reset. Chunks are listed newest first.""")
    t.show(a, "four chunks, each about 1.5 times the last")
    a.reset("retain_with_limit", 4 * KiB)
    t.say("""
reset('retain_with_limit', 4096) frees every block and keeps one chunk of at most
4 KiB; reset('retain_capacity') would keep all the capacity in one chunk; reset('free_all')
gives everything back. Every view the arena handed out is now invalid.""")
    t.show(a, "after reset('retain_with_limit', 4096)")
    a.alloc(50)
    a.reset("free_all")
    t.show(a, "after reset('free_all'): nothing left")
    a.deinit()


def fixed_buffer(t: Tour) -> None:
    """FixedBufferAllocator: a bump pointer over one buffer."""
    t.begin("fixed_buffer", "FixedBufferAllocator: a bump pointer in one buffer")
    f = zheap.FixedBufferAllocator(256)
    a, b, c = f.alloc(40), f.alloc(60, alignment=16), f.alloc(30)
    pad = zheap.address_of(b) - zheap.address_of(a) - 40
    f.free(b)
    t.say(f"""
Three blocks in a 256-byte buffer; b asked for 16-byte alignment, so the bump pointer
skipped {pad} bytes of padding before it. Freeing the middle one (b) reclaims nothing:
only the last allocation can be freed or resized in place. end_index stays {f.end_index};
the hole b left counts as overhead, not as free space.""")
    t.show(f, "a, c live; b freed but not reusable")
    f.free(c)
    t.say(f"Freeing c, the last block, moves end_index back to {f.end_index}.")
    t.show(f, "after freeing the last block")
    f.free(a)


def pool(t: Tour) -> None:
    """MemoryPool: fixed-size items on a LIFO free list."""
    t.begin("pool", "MemoryPool: one item size, recycled last-in first-out")
    p = zheap.MemoryPool(24)
    items = [p.create() for _ in range(6)]
    for i in (1, 3, 4):
        p.destroy(items[i])
    t.say("""
Six 24-byte items, then items 1, 3 and 4 destroyed: they go on the free list (marked free
in the map), inside the arena chunk the pool draws from.""")
    t.show(p, "three live items, three on the free list")
    again = p.create()
    t.say(f"""
The next create() pops the free list: it returns {zheap.address_of(again):#x}, the slot of
item 4, the last one destroyed.""")
    t.show(p, "after one more create()")
    p.deinit()


def debug(t: Tour) -> None:
    """DebugAllocator: a double free with its tracebacks, and a leak."""
    t.begin("debug", "DebugAllocator: catching double frees and leaks")
    d = zheap.DebugAllocator(page_size=4 * KiB)
    keep, block, other = d.alloc(5), d.alloc(8), d.alloc(100)
    d.free(block)
    try:
        d.free(block)
    except zheap.DoubleFreeError as err:
        # The traces are whole Python stacks; the innermost frame is the tour's line.
        t.say(f"DoubleFreeError: the {err.length}-byte block at {err.address:#x} was freed twice")
        for what, trace in (
            ("allocated at", err.allocation_trace),
            ("first freed at", err.first_free_trace),
            ("freed again at", err.free_trace),
        ):
            t.verbatim(f"{what}:\n" + str(zheap.Trace((trace or ())[:1])))
    t.say("""
Each size class has its own bucket pages. A freed slot is never handed out again while its
bucket lives -- that is how a second free, or a use after free, is caught -- and the end of
each page holds the metadata: used bits, requested sizes and the stack traces.""")
    t.show(d, "buckets of 8 and 128 bytes")
    d.free(other)
    (leak,) = d.leaks()
    t.say(f"""
One block is never freed: leaks() reports {leak["length"]} bytes at {leak["address"]:#x},
allocated at line {leak["trace"][0][1]} of {os.path.basename(leak["trace"][0][0])}.
deinit() logs it with its trace and returns Check.leak.""")
    d.free(keep)
    d.deinit()


def smp(t: Tour) -> None:
    """SmpAllocator: size classes in 64 KiB slabs, per-thread caches."""
    t.begin("smp", "SmpAllocator: power-of-two size classes in 64 KiB slabs")
    s = zheap.SmpAllocator()
    views = [s.alloc(n) for n in (8, 24, 24, 100, 1000, 200 * KiB)]
    t.say("""
Each request is rounded up to a power of two (8 B .. 32 KiB): 24 bytes takes a 32-byte
slot, 100 a 128-byte one. Each class carves its own 64 KiB slabs; a block larger than
the largest class is a mapping of its own. The slabs are shared by the whole process, so
the map may also show slots freed by other code.""")
    t.show(s, "six blocks, five size classes")
    for v in views:
        s.free(v)


def wasm(t: Tour) -> None:
    """WasmAllocator: size classes carved from 64 KiB big pages of a growing memory."""
    t.begin("wasm", "WasmAllocator: big pages from a linear memory that only grows")
    w = zheap.WasmAllocator(max_pages=64)
    views = [w.alloc(n) for n in (10, 24, 100, 100, 100_000)]
    w.free(views[2])
    t.say(f"""
The wasm allocator grows its linear memory with memory.grow, 64 KiB at a time (it is
{w.memory_size()} pages now; page 0 is the module's static data). A small block takes a
power-of-two slot with room for a free-list link in its last word: 10 and 24 bytes both
take 32-byte slots, 100 bytes a 128-byte one, each class carved from its own big page.
100,000 bytes take a run of two big pages. The freed 128-byte slot is on its class's
free list; nothing is ever given back to the memory.""")
    t.show(w, "three size classes and a run of big pages")
    for v in views[:2] + views[3:]:
        w.free(v)


def fallback(t: Tour) -> None:
    """StackFallbackAllocator: a small buffer first, then the fallback."""
    t.begin("fallback", "StackFallbackAllocator: a buffer first, then a fallback")
    sfa = zheap.stack_fallback(128, zheap.ArenaAllocator()).get()
    views = [sfa.alloc(n) for n in (40, 40, 40, 40)]
    t.say("""
Four 40-byte blocks from a 128-byte buffer: three fit, the fourth spills over to the
fallback allocator (an arena here). The map shows the buffer, then the arena's chunk.""")
    t.show(sfa, "three blocks in the buffer, one in the fallback")
    for v in reversed(views):
        sfa.free(v)


def trace(t: Tour) -> None:
    """zheap.trace and zheap.replay: one sequence on three allocators."""
    t.begin("trace", "Traces: record once, replay on other allocators, compare")
    a = zheap.ArenaAllocator()
    with zheap.trace(a) as rec:
        views = [a.alloc(n) for n in (24, 24, 100, 24, 500)]
        a.free(views[1])
        a.free(views[4])
        a.alloc(24)
    t.say("The arena's trace (nested lines are the arena asking the page allocator):")
    t.verbatim(rec.dumps())
    t.save_timeline(rec, "the arena trace")
    rows = []
    for other in (zheap.ArenaAllocator(), zheap.SmpAllocator(), zheap.DebugAllocator()):
        zheap.replay(rec, other)
        live, reserved = other.stats()["requested"], _reserved_by(other)
        name = type(other).__name__
        rows.append(f"  {name:<16} reserved {reserved:>8} B  utilisation {live / reserved:6.1%}")
    live = a.stats()["requested"]
    t.say(f"""
Replayed on three allocators: the same {live} bytes live in each, at different costs
(the SmpAllocator's slabs are shared by the whole process: only those holding these
blocks are counted):""")
    t.verbatim("\n".join(rows))
    t.wait()


def _reserved_by(allocator: Any) -> int:
    """Return the bytes an allocator holds for its blocks (``stats()["reserved"]``).

    For an SmpAllocator only the slabs and mappings holding one of its live blocks count:
    its slabs belong to the process; its layout also shows slabs that
    only earlier code (another chapter) left slots free in.
    """
    if not isinstance(allocator, zheap.SmpAllocator):
        return int(allocator.stats()["reserved"])
    regions = allocator.layout()["regions"]
    return sum(r["size"] for r in regions if any(b["state"] == "live" for b in r["blocks"]))


def views(t: Tour) -> None:
    """Show the safety rules of the views the allocators hand out."""
    t.begin("views", "Views: what Python code can and cannot do with a block")
    c = zheap.c_allocator
    v = c.alloc(20)
    v[:5] = b"hello"
    piece = v[:5]
    try:
        c.free(v)
    except BufferError as e:
        t.say(f"freeing a view while a slice of it lives: BufferError: {e}")
    piece.release()
    c.free(v)
    try:
        v[0]
    except ValueError as e:
        t.say(f"reading a freed view: ValueError: {e}")
    t.say(f"zheap.block_of(v) says what ended it: {zheap.block_of(v)!r}")
    point = c.create(ctypes.c_double * 2)
    point[0], point[1] = 1.5, 2.5
    t.say(f"create(c_double * 2): a ctypes object in allocator memory holding {list(point)}")
    c.destroy(point)
    checked = zheap.validation_wrap(zheap.page_allocator)
    for check in (
        zheap.testing.test_allocator,
        zheap.testing.test_allocator_aligned,
        zheap.testing.test_allocator_large_alignment,
        zheap.testing.test_allocator_aligned_shrink,
    ):
        check(checked)
    t.say("Zig's four allocator checks pass on validation_wrap(page_allocator).")


CHAPTERS: dict[str, Callable[[Tour], None]] = {
    "page": page,
    "arena": arena,
    "fixed_buffer": fixed_buffer,
    "pool": pool,
    "debug": debug,
    "smp": smp,
    "wasm": wasm,
    "fallback": fallback,
    "trace": trace,
    "views": views,
}


def main(argv: list[str]) -> int:
    """Run the tour: every chapter, or those named."""
    summary = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m zheap tour", description=summary)
    parser.add_argument("chapters", nargs="*", metavar="NAME", help=f"of {', '.join(CHAPTERS)}")
    parser.add_argument("--no-pause", action="store_true", help="do not wait for Enter")
    parser.add_argument("--png", metavar="DIR", help="save each memory map as DIR/CHAPTER-N.png")
    parser.add_argument("--width", type=int, help="map width in columns")
    args = parser.parse_args(argv)
    unknown = [c for c in args.chapters if c not in CHAPTERS]
    if unknown:
        parser.error(f"no chapter {', '.join(unknown)}: choose from {', '.join(CHAPTERS)}")
    if args.png:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(f"python -m zheap tour --png {viz.VIZ_HINT}", file=sys.stderr)
            return 2
        os.makedirs(args.png, exist_ok=True)
    pause = not args.no_pause and sys.stdin.isatty() and sys.stdout.isatty()
    tour = Tour(pause=pause, png_dir=args.png, width=args.width)
    print(f"zheap {zheap.__version__}: Zig 0.15.1's std.heap allocators, from Python")
    try:
        for name in args.chapters or CHAPTERS:
            CHAPTERS[name](tour)
    except KeyboardInterrupt:  # Ctrl-C ends the tour quietly, with the shell's status for it
        print()
        return 130
    print()
    tour.say("""
That was every chapter. `python -m zheap fuzz` fuzzes the allocators (or yours),
`python -m zheap lab` scores them on malloc-lab traces; docs/teaching.md shows how
to trace, map and replay your own experiments.""")
    if tour.pictures:
        print(f"wrote {len(tour.pictures)} pictures to {args.png}")
    return 0
