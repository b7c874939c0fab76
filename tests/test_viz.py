"""zheap.viz: text, HTML and matplotlib memory maps of layout() and traces."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

import zheap
from zheap import Event, viz

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Trace(NamedTuple):
    events: list[Event]


def _region(kind, address, size, blocks, **extra):
    blocks = [{"address": a, "length": n, "state": s} for a, n, s in blocks]
    return {"kind": kind, "address": address, "size": size, "used": size, "blocks": blocks, **extra}


def _layout(*regions, name="test.Alloc"):
    return {"allocator": name, "regions": list(regions)}


def _many_regions(n):
    return _layout(
        *(
            _region("slab", 0x10000 + i * 0x100, 64, [(0x10000 + i * 0x100, 16, "live")])
            for i in range(n)
        )
    )


def _many_blocks(n):
    return _layout(
        _region("bucket", 0x4000, 16 * n, [(0x4000 + 16 * i, 16, "live") for i in range(n)])
    )


SAMPLE = _layout(
    _region("buffer", 0x1000, 100, [(0x1000, 50, "live"), (0x1032, 50, "free")]),
    _region(
        "slab",
        0x7F0000002000,
        4096,
        [
            (0x7F0000002040, 1024, "live"),
            (0x7F0000002440, 1024, "freed"),
            (0x7F0000002840, 1024, "padding"),
            (0x7F0000002C40, 960, "metadata"),
        ],
        size_class=1024,
    ),
    _region("mapping", 0x7F0000100000, 4 << 20, [], used=0),
)


def _addresses(layout):
    return [r["address"] for r in layout["regions"]]


# render --------------------------------------------------------------------------------------


def test_render_real_allocators():
    fba = zheap.FixedBufferAllocator(256)
    arena = zheap.ArenaAllocator()
    pool = zheap.MemoryPool(16)
    views = [fba.alloc(10), fba.alloc(20, 16), arena.alloc(100), arena.alloc(5000)]
    items = [pool.create() for _ in range(5)]
    destroyed = zheap.address_of(items[2])
    pool.destroy(items.pop(2))
    views += items
    for allocator in (fba, arena, pool):
        layout = allocator.layout()
        text = viz.render(allocator, color=False)
        assert text.startswith(layout["allocator"])
        for region in layout["regions"]:
            assert region["kind"] in text and f"{region['address']:#x}" in text
    text = "".join(viz.render(a, color=False) for a in (fba, arena, pool))
    for view in views:
        assert f"{zheap.address_of(view):#x}" in text
    (line,) = [x for x in viz.render(pool, color=False).splitlines() if "] free #" in x]
    # the free item says its place in the pool's free list, as the pictures do
    assert line.startswith(f"    {destroyed:#x} ") and line.endswith("16 B [.] free #1")


def test_render_synthetic_layout():
    text = viz.render(SAMPLE, color=False, width=80)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)  # wrapped, and rows count their suffix
    assert lines[0] + " " + lines[1].strip() == (
        "test.Alloc: 3 regions, 2 live blocks, 1.0 KiB live / 4.0 MiB reserved (0.0% used)"
    )
    for region in SAMPLE["regions"]:
        assert region["kind"] in text and f"{region['address']:#x}" in text
        for block in region["blocks"]:
            assert f"{block['address']:#x}" in text
    slab_row = next(line for line in lines if line.startswith("slab"))
    for char in "m#x~":
        assert char in slab_row
    assert slab_row.endswith("| slots of 1024 B") and "4.0 KiB" in slab_row
    mapping_row = next(line for line in lines if line.startswith("mapping"))
    assert set(mapping_row.split("|")[1]) == {" "}  # no blocks, used 0: all unused
    assert "    0x7f0000002000 +0                64 B [-] hole" in lines  # before the first block
    assert len(slab_row) == 80
    bars = {len(line.split("|")[1]) for line in lines if line.startswith(("buffer", "mapping"))}
    assert bars == {len(slab_row.split("|")[1])}  # every bar as long, suffix or not
    assert lines[-2] + "  " + lines[-1].strip() == viz.legend()


def test_render_cells_show_the_most_telling_state():
    # 10 cells over 100 bytes: each cell is 10 bytes, the block edge falls on a cell edge.
    lines = viz.render(SAMPLE, color=False, width=10 + 27 + 17).splitlines()
    row = next(line for line in lines if line.startswith("buffer "))
    assert "|#####.....|" in row  # 17: the slab's " slots of 1024 B"
    uneven = _layout(_region("buffer", 0x1000, 100, [(0x1000, 14, "live"), (0x1050, 20, "free")]))
    row = viz.render(uneven, color=False, width=37).splitlines()[3]  # after the summary
    # 14 bytes: cell 1 is 4 live, 6 hole; a cell shows live if it holds any live byte.
    assert row.endswith("|##------..|")
    bumped = _layout(_region("buffer", 0x1000, 100, [(0x1000, 14, "live")], used=40))
    row = viz.render(bumped, color=False, width=37).splitlines()[3]
    assert row.endswith("|##--      |")  # a hole below used, never-used bytes past it


def test_render_caps_regions_and_blocks():
    text = viz.render(_many_regions(500), color=False)
    assert f"… {500 - viz.MAX_REGIONS} more regions" in text
    addresses = _addresses(_many_regions(500))
    assert all(f"{a:#x}" in text for a in addresses[: viz.MAX_REGIONS])
    assert f"{addresses[viz.MAX_REGIONS]:#x}" not in text
    assert len(text.splitlines()) < 200
    text = viz.render(_many_blocks(500), color=False, width=100)
    assert f"… {500 - viz.MAX_BLOCKS} more blocks" in text
    assert len(text.splitlines()) == 1 + 1 + viz.MAX_BLOCKS + 1 + 1


def test_render_empty_layout():
    text = viz.render(_layout(), color=False, width=100)
    assert text.splitlines() == [
        "test.Alloc: 0 regions, 0 live blocks, 0 B live / 0 B reserved (0.0% used)",
        viz.legend(),
    ]
    arena = zheap.ArenaAllocator()
    arena.deinit()
    assert "0 regions" in viz.render(arena)


def test_render_color(monkeypatch):
    assert "\x1b[" in viz.render(SAMPLE, color=True)
    assert "\x1b[" not in viz.render(SAMPLE, color=False)
    # The default follows the stream: colour only on a terminal, and never with NO_COLOR.
    assert "\x1b[" not in viz.render(SAMPLE, file=io.StringIO())

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\x1b[" in viz.render(SAMPLE, file=Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in viz.render(SAMPLE, file=Tty())
    # Colour changes the escapes only, not the text.
    plain = viz.render(SAMPLE, color=False, width=70)
    coloured = viz.render(SAMPLE, color=True, width=70)
    for code in ("30;42m", "30;44m", "30;41m", "30;43m", "30;45m", "30;100m"):
        coloured = coloured.replace("\x1b[" + code, "")
    assert coloured.replace("\x1b[0m", "") == plain


def test_render_writes_to_file():
    out = io.StringIO()
    text = viz.render(SAMPLE, file=out, color=False)
    assert out.getvalue() == text + "\n"


@pytest.mark.parametrize(("columns", "width"), [("300", 100), ("80", 80)])
def test_render_default_width(monkeypatch, columns, width):
    monkeypatch.setenv("COLUMNS", columns)  # the terminal's width, capped to 100
    lines = viz.render(SAMPLE, color=False).splitlines()
    assert max(map(len, lines)) == width
    row = next(line for line in lines if line.startswith("slab"))
    assert len(row) == width and row.endswith("| slots of 1024 B")


def test_render_rejects_other_objects():
    with pytest.raises(TypeError, match="layout"):
        viz.render(42)  # type: ignore[arg-type]


def test_legend_is_plain():
    text = viz.legend()
    assert "\x1b[" not in text
    for part in ("[#] live", "[.] free", "[x] freed", "[~] padding", "[m] metadata", "[-] hole"):
        assert part in text
    assert text.endswith("[ ] unused")


# html ----------------------------------------------------------------------------------------


def _boxes(out):
    """The title of every box in an HTML map."""
    return re.findall(r'<span title="([^"]*)" style="flex:', out)


def test_html_has_every_region_and_block():
    out = viz.html(SAMPLE)
    assert out.startswith('<div class="zheap-map"') and out.endswith("</div>")
    for region in SAMPLE["regions"]:
        assert region["kind"] in out and f"{region['address']:#x}" in out
    boxes = _boxes(out)
    # Blocks, plus the gaps: the slab's 0x40 hole and the mapping's unused 4 MiB.
    assert len(boxes) == sum(len(r["blocks"]) for r in SAMPLE["regions"]) + 2
    assert "0x1000 (+0): 50 B live" in boxes and "0x7f0000002000 (+0): 64 B hole" in boxes
    assert "slab 0x7f0000002000 4.0 KiB, slots of 1024 B" in out
    assert out.count("<div") == out.count("</div>")
    assert out.count("<table") == out.count("</table>") == 3
    assert out.count("<details") == out.count("</details>") == 3


def test_html_boxes_are_never_merged():
    pool = zheap.MemoryPool(16)
    items = [pool.create() for _ in range(6)]
    boxes = _boxes(viz.html(pool))
    for item in items:
        assert f"{zheap.address_of(item):#x} (+" in " ".join(boxes)
    assert sum(b.endswith("16 B live") for b in boxes) == 6
    fba = zheap.FixedBufferAllocator(256)
    _views = [fba.alloc(40), fba.alloc(60), fba.alloc(30)]
    assert sum(b.endswith("live") for b in _boxes(viz.html(fba))) == 3


def test_html_block_table_hole_and_end_index():
    fba = zheap.FixedBufferAllocator(256)
    a, b, c = fba.alloc(40), fba.alloc(60, alignment=16), fba.alloc(30)
    fba.free(b)
    out = viz.html(fba)
    head, *rows = re.findall(r"<tr>(.*?)</tr>", out)
    assert re.findall(r"<th[^>]*>(.*?)</th>", head) == [
        "offset", "address", "length", "state", "class"
    ]  # fmt: skip
    text = [re.sub(r"<[^>]*>", " ", r).split() for r in rows]
    text = [" ".join(t) for t in text]
    assert text[0] == f"+0 {zheap.address_of(a):#x} 40 B live"
    assert text[1] == f"+40 {zheap.address_of(a) + 40:#x} 8 B padding"  # b's alignment gap
    assert text[2] == f"+48 {zheap.address_of(a) + 48:#x} 60 B hole"  # b, freed
    assert text[3] == f"+108 {zheap.address_of(c):#x} 30 B live"
    assert text[4] == f"+138 {zheap.address_of(c) + 30:#x} 118 B unused ← end_index"
    assert f"end_index {fba.end_index}" in out and "border-left:3px solid #000" in out
    # A hole is a pattern, unused space a flat colour: they never look alike.
    (hole,) = [m for m in re.findall(r'style="flex:[^"]*"', out) if "linear-gradient" in m]
    assert "dashed" not in hole
    del a, c


def test_html_box_widths():
    gpa = zheap.DebugAllocator(page_size=4096)
    keep, block = gpa.alloc(5), gpa.alloc(8)
    gpa.free(block)
    out = viz.html(gpa)
    boxes = re.findall(r'<span title="[^"]*: (\d+) B (\w+)[^"]*" style="flex:([\d.]+) ', out)
    flex = {state: float(w) for _, state, w in boxes}
    total = sum(float(w) for _, _, w in boxes)
    assert flex["freed"] / total > 0.08  # the freed 8-byte slot has room
    assert flex["metadata"] / total < 0.5  # metadata does not fill the bar
    assert "min-width:6px" in out
    arena = zheap.ArenaAllocator(zheap.raw_c_allocator)
    _views = [arena.alloc(100), arena.alloc(6000)]
    widths = [float(w) for w in re.findall(r"display:flex;width:([\d.]+)%", viz.html(arena))]
    assert len(widths) == 2 and widths[0] == 100 and widths[1] < 70  # 183 B vs 9 KiB chunks
    gpa.free(keep)


def test_html_real_allocator():
    pool = zheap.MemoryPool(16)
    items = [pool.create() for _ in range(3)]
    out = viz.html(pool)
    for item in items:
        assert f"{zheap.address_of(item):#x} (+" in out
    assert out.count("16 B live") == 3


def test_html_escapes():
    evil = _layout(_region("<script>", 0x1000, 64, [(0x1000, 8, "<b>")]), name="a&b<c>")
    out = viz.html(evil)
    assert "<script>" not in out and "<b>" not in out
    assert "&lt;script&gt;" in out and "a&amp;b&lt;c&gt;" in out


def test_html_caps():
    out = viz.html(_many_regions(500))
    assert len(_boxes(out)) == 2 * viz.MAX_REGIONS  # a live block and a hole each
    assert f"… {500 - viz.MAX_REGIONS} more regions" in out
    n = viz.MAX_HTML_BLOCKS + 88
    out = viz.html(_many_blocks(n))
    assert len(_boxes(out)) == viz.MAX_HTML_BLOCKS and "… 88 more blocks" in out
    assert "<details open>" not in out and "<details>" in out  # a long table starts closed
    assert "0 regions" in viz.html(_layout())


# plot ----------------------------------------------------------------------------------------


def _png_size(path):
    image = pytest.importorskip("matplotlib.image")
    assert Path(path).read_bytes()[:8] == PNG_MAGIC
    height, width = image.imread(path).shape[:2]
    return width, height


def test_plot_png_size(tmp_path):
    pytest.importorskip("matplotlib")
    arena = zheap.ArenaAllocator()
    _views = [arena.alloc(100), arena.alloc(5000)]  # kept: a collected view frees its block
    path = tmp_path / "arena.png"
    assert viz.plot(arena, path, figsize=(4, 3), dpi=50) == path
    assert _png_size(path) == (200, 150)


def test_plot_svg_and_layouts(tmp_path):
    pytest.importorskip("matplotlib")
    path = str(tmp_path / "map.svg")
    assert viz.plot(SAMPLE, path, title="<sample>") == path
    svg = Path(path).read_text()
    assert "<svg" in svg and "&lt;sample&gt;" in svg
    for layout in (_layout(), _many_regions(500), _many_blocks(500)):
        assert Path(viz.plot(layout, tmp_path / "x.png")).read_bytes()[:8] == PNG_MAGIC


def test_plot_returns_figure_and_draws_into_axes():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    fig = viz.plot(SAMPLE, title="t")
    assert isinstance(fig, Figure) and fig.axes[0].get_title() == "t"
    # Jupyter shows it without %matplotlib inline: the figure has a PNG representation.
    assert fig._repr_png_()[:8] == PNG_MAGIC and viz.timeline(TRACE)._repr_png_()[:8] == PNG_MAGIC
    assert type(fig) is type(viz.timeline([]))  # one type, made once
    plt = pytest.importorskip("matplotlib.pyplot")
    own, ax = plt.subplots()
    try:
        assert viz.plot(SAMPLE, ax=ax) is own
        assert len(ax.get_yticklabels()) == 3
    finally:
        plt.close(own)


def _rects(fig, color):
    from matplotlib.colors import to_rgba

    ax = fig.axes[0]
    return [p for p in ax.patches if p.get_facecolor() == to_rgba(color)]


def test_plot_small_blocks_are_visible_boxes():
    pytest.importorskip("matplotlib")
    gpa = zheap.DebugAllocator(page_size=4096)
    keep, block = gpa.alloc(5), gpa.alloc(8)
    gpa.free(block)
    fig = viz.plot(gpa, figsize=(9, 3), dpi=80)
    (freed,) = _rects(fig, "#e57373")
    (metadata,) = _rects(fig, "#ba68c8")
    assert freed.get_width() > 0.08 and metadata.get_width() < 0.5  # x is the row, 0..1
    assert freed.get_edgecolor()[:3] == (0.2, 0.2, 0.2)  # bordered
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "8 B" in texts and "5 B" in texts  # sizes written in the boxes
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks[0].startswith("bucket 4.0 KiB, slots of 8 B\n0x")
    gpa.free(keep)


def test_plot_never_merges_and_scales_rows():
    pytest.importorskip("matplotlib")
    pool = zheap.MemoryPool(24)
    items = [pool.create() for _ in range(6)]
    assert len(_rects(viz.plot(pool), "#4caf50")) == 6  # six live items, six boxes
    arena = zheap.ArenaAllocator(zheap.raw_c_allocator)
    _views = [arena.alloc(100), arena.alloc(6000)]
    fig = viz.plot(arena)
    ends = {}
    for p in fig.axes[0].patches:
        row = round(p.get_y() + p.get_height() / 2)
        ends[row] = max(ends.get(row, 0), p.get_x() + p.get_width())
    assert ends[0] == pytest.approx(1) and ends[1] < 0.7  # 9 KiB chunk, then a 183 B one
    del items


def test_plot_hole_end_index():
    pytest.importorskip("matplotlib")
    fba = zheap.FixedBufferAllocator(256)
    views = [fba.alloc(40), fba.alloc(60, alignment=16), fba.alloc(30)]
    fba.free(views[1])
    fig = viz.plot(fba)
    ax = fig.axes[0]
    (hole,) = [p for p in ax.patches if p.get_hatch()]
    (unused,) = _rects(fig, "#eeeeee")
    assert hole.get_facecolor() != unused.get_facecolor() and not unused.get_hatch()
    assert hole.get_x() + hole.get_width() < unused.get_x()  # the hole, c, then unused
    assert "end_index" in [t.get_text() for t in ax.texts]
    (mark,) = ax.lines
    assert mark.get_xdata()[0] == pytest.approx(unused.get_x())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["live", "padding", "hole", "unused", "end_index"]


# timeline ------------------------------------------------------------------------------------

TRACE = Trace(
    [
        Event(0, 0, "ArenaAllocator", "alloc", None, 100, result=0x10010),
        Event(1, 1, "PageAllocator", "alloc", None, 4096, 4096, result=0x10000),
        Event(2, 0, "ArenaAllocator", "alloc", None, 64, result=0x10080),
        Event(3, 0, "ArenaAllocator", "free", 0x10080, 64),
        Event(4, 0, "ArenaAllocator", "remap", 0x10010, 100, new_length=300, result=0x10200),
        Event(5, 0, "ArenaAllocator", "resize", 0x10200, 300, new_length=400, result=True),
        Event(6, 0, "ArenaAllocator", "resize", 0x10200, 400, new_length=9000, result=False),
        Event(7, 0, "ArenaAllocator", "alloc", None, 1 << 40, result=None),
        Event(8, 0, "MemoryPool", "create", None, 16, result=0x20000),
        Event(9, 0, "ArenaAllocator", "reset", None, 0, 1),
        Event(10, 1, "PageAllocator", "free", 0x10000, 4096, 4096),
    ]
)


def test_trace_lifetimes():
    lives, failures = viz._lifetimes(TRACE.events)
    got = sorted((lf.start, lf.end, lf.address, lf.length, lf.op, lf.nested) for lf in lives)
    assert got == [
        (0, 4, 0x10010, 100, "alloc", False),  # moved by the remap
        (1, 10, 0x10000, 4096, "alloc", True),  # nested: the arena's chunk
        (2, 3, 0x10080, 64, "alloc", False),
        (4, 5, 0x10200, 300, "remap", False),
        (5, 9, 0x10200, 400, "resize", False),  # ended by the arena's reset
        (8, 11, 0x20000, 16, "create", False),  # still live at the end of the trace
    ]
    assert failures == [(6, 0x10200), (7, None)]


def test_timeline_png_svg(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "trace.png"
    assert viz.timeline(TRACE, path, figsize=(5, 3), dpi=40) == path
    assert _png_size(path) == (200, 120)
    svg = viz.timeline(TRACE.events, str(tmp_path / "trace.svg"), title="events")
    assert "<svg" in Path(svg).read_text()


def test_timeline_figure_and_empty_trace(tmp_path):
    pytest.importorskip("matplotlib")
    fig = viz.timeline(TRACE)
    ax = fig.axes[0]
    assert ax.get_title() == "trace: 11 events, 6 blocks"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["alloc", "create", "remap", "resize", "nested", "failed"]
    fig.canvas.draw()
    assert all(t.get_text().startswith("0x") for t in ax.get_yticklabels() if t.get_text())
    empty = viz.timeline(Trace([]))
    assert empty.axes[0].get_legend() is None
    assert _png_size(viz.timeline([], tmp_path / "empty.png", figsize=(3, 2), dpi=50)) == (150, 100)


def test_timeline_of_a_recorded_trace(tmp_path):
    pytest.importorskip("matplotlib")
    arena = zheap.ArenaAllocator()
    with zheap.trace(arena) as t:
        views = [arena.alloc(n) for n in (24, 500, 24)]
        arena.free(views[2])
        arena.reset("free_all")
    lives, failures = viz._lifetimes(t.events)
    assert failures == []
    mine = sorted((lf.length, lf.nested) for lf in lives if not lf.nested)
    assert mine == [(24, False), (24, False), (500, False)]
    assert any(lf.nested for lf in lives)  # the arena's chunk from the page allocator
    assert _png_size(viz.timeline(t, tmp_path / "t.png", figsize=(4, 3), dpi=50)) == (200, 150)


# imports -------------------------------------------------------------------------------------


def _run(code, **env):
    # Without a display, whatever the environment had: plot() must not need one.
    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_import_without_matplotlib():
    code = """
import sys
sys.modules["matplotlib"] = None  # import matplotlib now raises ImportError
import zheap, zheap.viz as viz
assert "[#] live" in viz.render(zheap.FixedBufferAllocator(64), color=False)
assert "zheap-map" in viz.html({"allocator": "x", "regions": []})
for draw in (viz.plot, viz.timeline):
    try:
        draw({"allocator": "x", "regions": []} if draw is viz.plot else [])
    except ImportError as exc:
        assert str(exc) == f"zheap.viz.{draw.__name__} {viz.VIZ_HINT}"
        assert "pip install 'zheap[viz]'" in viz.VIZ_HINT
    else:
        raise AssertionError("no ImportError")
print("ok")
"""
    assert _run(code) == "ok"


def test_import_is_light_and_plot_is_headless(tmp_path):
    pytest.importorskip("matplotlib")
    # A GUI backend configured but no display: plot() never touches pyplot, so it still saves.
    path = tmp_path / "headless.png"
    code = f"""
import sys
import zheap.viz as viz
assert "matplotlib" not in sys.modules
viz.plot({{"allocator": "x", "regions": []}}, {str(path)!r})
assert "matplotlib.pyplot" not in sys.modules
print("ok")
"""
    assert _run(code, MPLBACKEND="tkagg") == "ok"
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_allocators_show_as_maps_in_jupyter():
    arena = zheap.ArenaAllocator()
    v = arena.alloc(100)
    html = arena._repr_html_()
    assert 'class="zheap-map"' in html and f"{zheap.address_of(v):#x}" in html
    pool = zheap.MemoryPool(16)
    item = pool.create()
    assert 'class="zheap-map"' in pool._repr_html_()
    pool.destroy(item)
    arena.free(v)


def test_a_trace_steps_through_as_html():
    arena = zheap.ArenaAllocator()
    with zheap.trace(arena) as t:
        a = arena.alloc(100)
        b = arena.alloc(30)
        b = arena.resize(b, 20)
        arena.free(a)
    page = t._repr_html_()
    assert page == viz.steps_html(t)
    rows = page.split("<tr>")[2:]  # after the header row
    assert len(rows) == 4  # top-level events only: the arena's chunk is not a step
    assert "alloc(100)" in rows[0] and "3px solid #000" in rows[0]  # made by this call
    assert rows[1].count("block ") == 2 and "resize(" in rows[2] and "3px solid #000" in rows[2]
    assert "free(" in rows[3] and "dashed" in rows[3] and "(freed)" in rows[3]
    assert rows[3].count("block ") == 2  # b live, a shown once more where it was
    assert "... 2 more steps" in viz.steps_html(t, max_steps=2)


def test_diff_names_what_changed():
    arena = zheap.ArenaAllocator()
    keep = arena.alloc(16)
    before = arena.layout()
    fresh = arena.alloc(10)
    d = viz.diff(before, arena)
    assert d and len(d.added) == 1 and d.added[0]["length"] == 10 and not d.removed
    assert str(d).startswith("+ live 10 B at 0x") and "<table" in d._repr_html_()
    assert repr(d) == "<zheap.viz.LayoutDiff +1 -0 ~0>"
    assert not viz.diff(arena, arena) and str(viz.diff(arena, arena)) == "no change"
    arena.free(fresh)
    gone = viz.diff(before, arena)
    assert not gone.added
    del keep


def test_animate_writes_one_frame_per_call(tmp_path):
    pytest.importorskip("matplotlib")
    image = pytest.importorskip("PIL.Image")
    arena = zheap.ArenaAllocator()
    with zheap.trace(arena) as t:
        a = arena.alloc(100)
        arena.alloc(30)
        arena.free(a)
    out = viz.animate(t, tmp_path / "steps.gif", interval_ms=200)
    assert out == tmp_path / "steps.gif"
    with image.open(out) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3
    with pytest.raises(ValueError, match="no top-level events"):
        viz.animate(zheap.EventTrace(), tmp_path / "none.gif")
