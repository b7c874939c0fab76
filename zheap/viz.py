"""Pictures of allocator memory: text, HTML and matplotlib maps of ``layout()`` and traces.

    >>> from zheap import viz
    >>> arena = zheap.ArenaAllocator(); block = arena.alloc(100)
    >>> print(viz.render(arena))            # text memory map, coloured on a terminal
    >>> viz.html(arena)                     # the same map as an HTML fragment (Jupyter)
    >>> viz.plot(arena, "arena.png")        # a matplotlib picture (PNG or SVG)
    >>> viz.timeline(trace, "trace.svg")    # block lifetimes of a zheap.trace recording

``render``, ``html`` and ``legend`` need only the standard library; ``plot`` and
``timeline`` import matplotlib when called (``pip install 'zheap[viz]'``).
"""

from __future__ import annotations

import functools
import html as _html
import io
import math
import os
import shutil
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar, overload

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "MAX_BLOCKS",
    "MAX_HTML_BLOCKS",
    "MAX_OPEN_TABLE",
    "MAX_REGIONS",
    "LayoutDiff",
    "MAX_STEPS",
    "animate",
    "diff",
    "html",
    "legend",
    "plot",
    "render",
    "steps_html",
    "timeline",
]

MAX_REGIONS = 64  # regions drawn before "… N more regions" (text, HTML and plot)
MAX_BLOCKS = 8  # blocks listed under each region in the text map
MAX_HTML_BLOCKS = 512  # boxes per region in HTML: a browser copes with more than a terminal
MAX_OPEN_TABLE = 16  # a region's block table starts open in HTML up to this many boxes

# state -> (text char, ANSI SGR colours, HTML/matplotlib colour); the order is the legend's.
_STATES: dict[str, tuple[str, str, str]] = {
    "live": ("#", "30;42", "#4caf50"),
    "free": (".", "30;44", "#64b5f6"),
    "freed": ("x", "30;41", "#e57373"),
    "padding": ("~", "30;43", "#ffd54f"),
    "metadata": ("m", "30;45", "#ba68c8"),
    "hole": ("-", "30;100", "#ffffff"),  # below `used`, no block: lost until a reset
    "unused": (" ", "", "#eeeeee"),  # past `used`, no block: never handed out
}
_UNKNOWN = ("?", "30;47", "#9e9e9e")  # a state this module does not know yet
# When two states cover a cell equally, show the one a reader most needs to see.
_PRIORITY = {"live": 5, "freed": 4, "free": 3, "metadata": 2, "padding": 1, "hole": 0, "unused": -1}
_HATCH = {"hole": "////"}  # matplotlib hatch of states drawn as a pattern, not a flat colour
_HTML_FILL = {"hole": "repeating-linear-gradient(45deg,#fff 0 3px,#999 3px 4px)"}
# Creating op -> timeline colour.
_OPS = {"alloc": "#1f77b4", "create": "#17becf", "remap": "#ff7f0e", "resize": "#9467bd"}

_P = TypeVar("_P", str, "os.PathLike[str]")


class _HasLayout(Protocol):
    def layout(self) -> Mapping[str, Any]: ...


class _Event(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def depth(self) -> int: ...
    @property
    def allocator(self) -> str: ...
    @property
    def op(self) -> str: ...
    @property
    def address(self) -> int | None: ...
    @property
    def length(self) -> int: ...
    @property
    def new_length(self) -> int | None: ...
    @property
    def result(self) -> int | bool | None: ...
    @property
    def mode(self) -> str | None: ...
    @property
    def failed(self) -> bool: ...


class _Trace(Protocol):
    @property
    def events(self) -> Sequence[_Event]: ...


def _layout(obj: _HasLayout | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(obj, Mapping):
        return obj
    if not callable(getattr(obj, "layout", None)):
        raise TypeError(f"expected an allocator with layout() or a layout dict, not {obj!r}")
    return obj.layout()


def _style(state: str) -> tuple[str, str, str]:
    return _STATES.get(state, _UNKNOWN)


def _human(n: float) -> str:
    """Format a size in bytes as ``183 B``, ``4.0 KiB``, ``1.5 MiB``..."""
    unit = "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if n < 1024:
            break
        n, unit = n / 1024, bigger
    return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _summary(layout: Mapping[str, Any]) -> str:
    regions = layout["regions"]
    live = [b for r in regions for b in r["blocks"] if b["state"] == "live"]
    live_bytes = sum(b["length"] for b in live)
    reserved = sum(r["size"] for r in regions)
    pct = 100 * live_bytes / reserved if reserved else 0.0
    return (
        f"{layout.get('allocator', 'layout')}: {_count(len(regions), 'region')},"
        f" {_count(len(live), 'live block')},"
        f" {_human(live_bytes)} live / {_human(reserved)} reserved ({pct:.1f}% used)"
    )


@dataclass(frozen=True)
class _Segment:
    """One box of a region's map: a block of the layout, or a stretch no block covers."""

    address: int
    offset: int  # from the region's start
    length: int
    state: str
    size_class: int | None
    block: bool  # False: a gap (hole below `used`, unused past it)
    next: int | None = None  # a free item's place in its free list (1: reused next)


def _used(region: Mapping[str, Any]) -> int:
    size: int = max(region["size"], 0)
    used: int = region.get("used", size)
    return min(max(used, 0), size)


def _segments(region: Mapping[str, Any]) -> list[_Segment]:
    """Return every block of a region by address, with the bytes between them as gaps.

    Bytes no block covers are a ``hole`` below the region's ``used`` (handed out once,
    not reusable until a reset: a FixedBufferAllocator's freed middle block, the rest of
    an arena's older chunk) and ``unused`` past it (never handed out). A gap that spans
    ``used`` is split there, so the bump pointer is always a box edge. Blocks are never
    merged, even when they touch and share a state.
    """
    base, size, used = region["address"], max(region["size"], 0), _used(region)
    out: list[_Segment] = []

    def gap(lo: int, hi: int) -> None:
        for a, b, state in ((lo, min(hi, used), "hole"), (max(lo, used), hi, "unused")):
            if b > a:
                out.append(_Segment(base + a, a, b - a, state, None, False))

    pos = 0
    for b in sorted(region["blocks"], key=lambda b: b["address"]):
        offset = b["address"] - base
        if offset > pos:
            gap(pos, min(offset, size))
        out.append(
            _Segment(
                b["address"],
                offset,
                b["length"],
                b["state"],
                b.get("size_class"),
                True,
                b.get("next"),
            )
        )
        pos = max(pos, offset + b["length"])
    gap(pos, size)
    return out


def _weight(length: int) -> float:
    """Drawn width of a stretch of bytes: grows with log2, so an 8-byte slot stays visible."""
    return 1.0 + math.log2(1 + max(length, 0))


def _edges(segments: Sequence[_Segment]) -> dict[int, float]:
    """Map every segment edge (an offset) to its x in [0, 1] along the region's row.

    Each stretch between two neighbouring edges gets :func:`_weight` of its bytes, so
    every boundary has room (a villoc-style axis) and overlapping blocks still line up.
    """
    points = sorted({p for s in segments for p in (s.offset, s.offset + max(s.length, 0))})
    xs, total = [0.0], 0.0
    for lo, hi in zip(points, points[1:], strict=False):
        total += _weight(hi - lo)
        xs.append(total)
    return {p: x / total if total else 0.0 for p, x in zip(points, xs, strict=True)}


def _row_length(size: int, largest: int) -> float:
    """Length of a region's row, from 0.2 to 1: log-scaled, so 183 B and 14.9 KiB differ."""
    if largest <= 0:
        return 1.0
    return max(0.2, math.log2(1 + max(size, 0)) / math.log2(1 + largest))


def _cells(region: Mapping[str, Any], n: int) -> list[str]:
    """Return the state each of ``n`` equal cells of a region shows."""
    size = region["size"]
    if size <= 0:
        return ["unused"] * n
    # Scale offsets by n so cell i is exactly [i*size, (i+1)*size): integer math, no rounding.
    tally: list[dict[str, int]] = [{} for _ in range(n)]
    for seg in _segments(region):
        lo = max(seg.offset, 0) * n
        hi = min(seg.offset + seg.length, size) * n
        for i in range(lo // size, (hi - 1) // size + 1) if hi > lo else ():
            covered = min(hi, (i + 1) * size) - max(lo, i * size)
            tally[i][seg.state] = tally[i].get(seg.state, 0) + covered
    # A cell shows the most telling state it holds, not the one covering most bytes: a
    # 5-byte live block must stay visible in a 64 KiB slab.
    return [max(c.items(), key=lambda kv: (_PRIORITY.get(kv[0], 0), kv[1]))[0] if c else "unused"
            for c in tally]  # fmt: skip


def _paint(states: Iterable[str], color: bool) -> str:
    """Cells as text; in colour, each run of one state shares an escape sequence."""
    out = []
    for state, run in groupby(states):
        char, sgr, _ = _style(state)
        chars = char * len(list(run))
        out.append(f"\x1b[{sgr}m{chars}\x1b[0m" if color and sgr else chars)
    return "".join(out)


def _legend(color: bool) -> str:
    return "legend: " + "  ".join(f"[{_paint([s], color)}] {s}" for s in _STATES)


def _legend_lines(color: bool, width: int) -> list[str]:
    """Return the legend in lines of at most ``width`` columns (escapes do not count)."""
    lines: list[tuple[int, str]] = [(7, "legend:")]  # (visible length, text)
    for state in _STATES:
        entry, shown = f"[{_paint([state], color)}] {state}", len(state) + 4
        n, text = lines[-1]
        if n > 8 and n + 2 + shown > width:
            lines.append((8 + shown, " " * 8 + entry))  # under the first entry
        else:
            gap = " " if n == 7 else "  "
            lines[-1] = (n + len(gap) + shown, text + gap + entry)
    return [text for _, text in lines]


def legend() -> str:
    """Return the plain-text legend of :func:`render`'s cell characters."""
    return _legend(False)


def _use_color(stream: IO[str] | None) -> bool:
    # https://no-color.org: a non-empty NO_COLOR turns colour off.
    isatty = getattr(stream if stream is not None else sys.stdout, "isatty", None)
    return bool(callable(isatty) and isatty() and not os.environ.get("NO_COLOR"))


def render(
    obj: _HasLayout | Mapping[str, Any],
    *,
    file: IO[str] | None = None,
    color: bool | None = None,
    width: int | None = None,
) -> str:
    """Return a text memory map of an allocator (anything with ``layout()``) or a layout dict.

    A header with totals, one row per region (kind, hex address, size and a bar whose cells
    show the most telling state among their bytes), the region's first :data:`MAX_BLOCKS`
    boxes (its blocks, and the holes and unused bytes between them), and a legend. At most
    :data:`MAX_REGIONS` regions are drawn.

    ``file``: also write the map (plus a newline) to this text stream. ``color``: ANSI
    colours; by default when ``file`` (or sys.stdout) is a terminal and NO_COLOR is unset.
    ``width``: columns, by default the terminal's, at most 100; the summary and the legend
    wrap to it, and region rows fit it with their " slots of N B" suffix.
    """
    layout = _layout(obj)
    color = _use_color(file) if color is None else color
    width = min(shutil.get_terminal_size().columns, 100) if width is None else width
    regions = layout["regions"]
    shown = regions[:MAX_REGIONS]
    kind_w = max((len(str(r["kind"])) for r in shown), default=0)
    addr_w = max((len(f"{r['address']:#x}") for r in shown), default=0)
    suffixes = [f" slots of {r['size_class']} B" if "size_class" in r else "" for r in shown]
    suffix_w = max(map(len, suffixes), default=0)
    # 10: the size column, 5: spaces and bars; every bar is as long, whatever its suffix.
    cells = max(width - (kind_w + addr_w + 10 + 5) - suffix_w, 10)

    lines = textwrap.wrap(_summary(layout), max(width, 20), subsequent_indent="  ")
    for region, slots in zip(shown, suffixes, strict=True):
        bar = _paint(_cells(region, cells), color)
        row = f"{region['kind']:<{kind_w}} {region['address']:<#{addr_w}x} "
        lines.append(f"{row}{_human(region['size']):>10} |{bar}|{slots}")
        segments = _segments(region)
        for seg in segments[:MAX_BLOCKS]:
            shown_cls = seg.size_class not in (None, region.get("size_class"))
            extra = f" size_class {seg.size_class}" if shown_cls else ""  # else in the row
            if seg.next is not None:
                extra += f" #{seg.next}"  # a free pool item's place in the free list
            swatch = _paint([seg.state], color)
            lines.append(
                f"    {seg.address:#x} +{seg.offset:<8}"
                f" {seg.length:>10} B [{swatch}] {seg.state}{extra}"
            )
        if len(segments) > MAX_BLOCKS:
            lines.append(f"    … {len(segments) - MAX_BLOCKS} more blocks")
    if len(regions) > MAX_REGIONS:
        lines.append(f"… {len(regions) - MAX_REGIONS} more regions")
    lines.extend(_legend_lines(color, width))
    text = "\n".join(lines)
    if file is not None:
        file.write(text + "\n")
    return text


def _used_label(region: Mapping[str, Any]) -> str:
    """Name a region's ``used``: a buffer's or arena chunk's bump pointer is end_index."""
    return "end_index" if region.get("kind") in ("buffer", "chunk") else "used"


def _marks_used(region: Mapping[str, Any]) -> bool:
    size: int = region["size"]
    return 0 < _used(region) < size


def _region_title(region: Mapping[str, Any]) -> str:
    """``kind 0xaddr size``, then the slot size and the bump pointer where they exist."""
    parts = [f"{region['kind']} {region['address']:#x} {_human(region['size'])}"]
    if region.get("size_class") is not None:
        parts.append(f"slots of {region['size_class']} B")
    if _marks_used(region):
        parts.append(f"{_used_label(region)} {_used(region)}")
    return ", ".join(parts)


def _html_box(seg: _Segment, weight: float, edge: bool) -> str:
    """One segment as a bordered box of the map's bar (``edge``: the bump pointer's left)."""
    esc = _html.escape
    extra = f", slots of {seg.size_class} B" if seg.size_class is not None else ""
    if seg.next is not None:
        extra += f", next #{seg.next} in the free list"
    tip = f"{seg.address:#x} (+{seg.offset}): {seg.length} B {seg.state}{extra}"
    label = _human(seg.length) + ("" if seg.next is None else f" #{seg.next}")
    fill = _HTML_FILL.get(seg.state, _style(seg.state)[2])
    border = "1px dashed #999" if seg.state == "unused" else "1px solid #333"
    left = "border-left:3px solid #000;" if edge else ""
    return (
        f'<span title="{esc(tip)}" style="flex:{weight:.3f} 1 0;min-width:6px;'
        f"box-sizing:border-box;border:{border};{left}background:{fill};"
        "overflow:hidden;white-space:nowrap;text-align:center;font-size:10px;"
        f'line-height:16px">{esc(label)}</span>'
    )


def _html_table(region: Mapping[str, Any], segments: Sequence[_Segment]) -> list[str]:
    """Return the block table under a region's bar: offset, address, length, state, class."""
    esc = _html.escape
    used = _used(region) if _marks_used(region) else None
    cell = 'style="padding:0 8px;text-align:right"'
    head = "".join(
        f"<th {cell}>{h}</th>" for h in ("offset", "address", "length", "state", "class")
    )
    rows = [
        f"<details{' open' if len(segments) <= MAX_OPEN_TABLE else ''}>"
        f"<summary>{_count(len(segments), 'box')}</summary>",
        '<table style="border-collapse:collapse;font-size:11px">',
        f"<tr>{head}</tr>",
    ]
    for seg in segments[:MAX_HTML_BLOCKS]:
        swatch = (
            f'<span style="display:inline-block;width:10px;height:10px;border:1px solid #333;'
            f'background:{_HTML_FILL.get(seg.state, _style(seg.state)[2])}"></span> '
        )
        note = f" ← {_used_label(region)}" if seg.offset == used else ""
        if seg.next is not None:
            note += f" (next #{seg.next})"
        cls = "" if seg.size_class is None else f"{seg.size_class} B"
        rows.append(
            f"<tr><td {cell}>+{seg.offset}</td><td {cell}>{seg.address:#x}</td>"
            f"<td {cell}>{seg.length} B</td>"
            f'<td style="padding:0 8px">{swatch}{esc(seg.state)}{note}</td>'
            f"<td {cell}>{cls}</td></tr>"
        )
    rows.append("</table>")
    if len(segments) > MAX_HTML_BLOCKS:
        rows.append(f"<div>… {len(segments) - MAX_HTML_BLOCKS} more blocks</div>")
    rows.append("</details>")
    return rows


def html(obj: _HasLayout | Mapping[str, Any]) -> str:
    """Return the memory map as a self-contained HTML fragment (inline styles, no scripts).

    A ``<div class="zheap-map">`` with, for each region, a title (kind, address, size,
    slot size, bump pointer), a bar of bordered boxes -- one per block, hole and unused
    stretch, never merged, each at least a few pixels wide and growing with the log of
    its bytes, the bar's length log-scaled by the region's size -- and a table of the
    boxes (offset, address, length, state, size class). The bump pointer (``end_index``
    of a buffer or arena chunk, else ``used``) is a thick left edge.
    """
    layout = _layout(obj)
    esc = _html.escape
    regions = layout["regions"]
    shown = regions[:MAX_REGIONS]
    largest = max((r["size"] for r in shown), default=0)
    out = [
        '<div class="zheap-map" style="font-family:monospace;font-size:12px;line-height:1.4">',
        f'<div style="font-weight:bold">{esc(_summary(layout))}</div>',
    ]
    for region in shown:
        segments = _segments(region)
        edges = _edges(segments)
        used = _used(region) if _marks_used(region) else None
        out.append('<div class="zheap-region" style="margin:6px 0">')
        out.append(f"<div>{esc(_region_title(region))}</div>")
        length = 100 * _row_length(region["size"], largest)
        out.append(f'<div style="display:flex;width:{length:.1f}%;height:18px">')
        for seg in segments[:MAX_HTML_BLOCKS]:
            lo, hi = edges[seg.offset], edges[seg.offset + max(seg.length, 0)]
            out.append(_html_box(seg, 1000 * (hi - lo), seg.offset == used))
        out.append("</div>")
        out.extend(_html_table(region, segments))
        out.append("</div>")
    if len(regions) > MAX_REGIONS:
        out.append(f"<div>… {len(regions) - MAX_REGIONS} more regions</div>")
    swatches = (
        f'<span style="display:inline-block;width:14px;height:10px;border:1px solid #333;'
        f'background:{_HTML_FILL.get(s, c)}"></span> {s}'
        for s, (_, _, c) in _STATES.items()
    )
    out.append(f"<div>{' &nbsp; '.join(swatches)}</div></div>")
    return "\n".join(out)


#: How to get matplotlib, for the one-line messages of whatever needs it.
VIZ_HINT = "needs matplotlib: pip install 'zheap[viz]' (from a clone: pip install -e '.[viz]')"


def _require_matplotlib(caller: str) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"zheap.viz.{caller} {VIZ_HINT}") from exc


def _png(fig: Figure) -> bytes:
    """Return a figure as PNG bytes (what Jupyter shows of the figures viz returns)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


@functools.cache
def _figure_type() -> type[Figure]:
    """Return matplotlib's Figure with ``_repr_png_``, made once matplotlib is imported.

    Jupyter shows what :func:`plot` and :func:`timeline` return as a picture without
    ``%matplotlib inline``; with it, the inline backend's own PNG formatter is used.
    """
    from matplotlib.figure import Figure

    return type("Figure", (Figure,), {"_repr_png_": _png, "__module__": __name__})


def _axes(
    ax: Axes | None, figsize: tuple[float, float] | None, dpi: float | None, rows: int
) -> tuple[Figure, Axes]:
    # A bare Figure, not pyplot: no global figure list to leak into, no GUI backend to pick,
    # so it works headless. To show it in a window pass ax=plt.subplots()[1].
    from matplotlib.figure import Figure

    if ax is not None:
        fig = ax.figure
        return (fig if isinstance(fig, Figure) else fig.figure), ax
    fig = _figure_type()(figsize=figsize or (10, max(2.5, 1.5 + 0.35 * rows)), dpi=dpi or 100)
    fig.set_layout_engine("constrained")  # room for the labels and the legend on the right
    return fig, fig.add_subplot()


def _finish(fig: Figure, path: _P | None) -> Figure | _P:
    if path is None:
        return fig
    fig.savefig(path)  # the format follows the suffix: .png, .svg, .pdf...
    return path


@overload
def plot(
    obj: _HasLayout | Mapping[str, Any],
    path: None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure: ...
@overload
def plot(
    obj: _HasLayout | Mapping[str, Any],
    path: _P,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> _P: ...
def plot(
    obj: _HasLayout | Mapping[str, Any],
    path: _P | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure | _P:
    """Draw the memory map with matplotlib: one row per region, one bordered box per block.

    Every block, hole (bytes below ``used`` no block covers) and unused stretch is its
    own box, never merged with a neighbour; its width grows with the log of its bytes, so
    an 8-byte slot stays visible next to 4 KiB of metadata, and boxes wide enough are
    labelled with their size. A row's length is log-scaled by its region's size. The tick
    labels give kind, size, slot size and address; a black bar marks the bump pointer
    (``end_index`` of a buffer or arena chunk, else ``used``). With ``path`` save the
    picture there (format by suffix) and return ``path``; otherwise return the Figure,
    whose ``_repr_png_`` makes Jupyter show it with no ``%matplotlib inline``. ``ax``
    draws into existing axes; ``figsize`` (inches) and ``dpi`` fix the size of a new
    figure.
    """
    _require_matplotlib("plot")
    layout = _layout(obj)
    regions = layout["regions"][:MAX_REGIONS]
    fig, ax = _axes(ax, figsize, dpi, len(regions))
    labels = _draw_map(ax, regions)
    more = len(layout["regions"]) - len(regions)
    ax.set_title(title or _summary(layout) + (f" (first {MAX_REGIONS})" if more > 0 else ""))
    _label_boxes(fig, ax, labels)
    return _finish(fig, path)


_BAR = 0.6  # height of a region's boxes, in rows
_FONT = 7.5  # points, of the size inside a box


_Label = tuple[float, int, float, str, bool]  # a box's x centre, row, width, text, hatched


def _draw_map(ax: Axes, regions: Sequence[Mapping[str, Any]]) -> list[_Label]:
    """Draw regions as rows of boxes (see :func:`plot`); return the boxes' size labels."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    largest = max((r["size"] for r in regions), default=0)
    by_state: dict[str, tuple[list[int], list[float], list[float]]] = {}
    labels: list[_Label] = []
    marks: list[tuple[float, int, str]] = []
    for y, region in enumerate(regions):
        segments = _segments(region)
        edges, length = _edges(segments), _row_length(region["size"], largest)
        used = _used(region) if _marks_used(region) else None
        for seg in segments:
            lo = edges[seg.offset] * length
            hi = edges[seg.offset + max(seg.length, 0)] * length
            ys, lefts, widths = by_state.setdefault(seg.state, ([], [], []))
            ys.append(y)
            lefts.append(lo)
            widths.append(hi - lo)
            text = _human(seg.length) + ("" if seg.next is None else f" #{seg.next}")
            labels.append(((lo + hi) / 2, y, hi - lo, text, seg.state in _HATCH))
        if used is not None:
            marks.append((edges[used] * length, y, _used_label(region)))
    order = {s: i for i, s in enumerate(_STATES)}
    handles: list[Any] = []
    for state in sorted(by_state, key=lambda s: order.get(s, len(order))):
        ys, lefts, widths = by_state[state]
        color = _style(state)[2]
        hatch = _HATCH.get(state)
        unused = state == "unused"  # a dashed outline: nothing was ever there
        ax.barh(
            ys,
            widths,
            left=lefts,
            height=_BAR,
            color=color,
            hatch=hatch,
            edgecolor="#999" if unused else "#333",
            linewidth=0.8,
            linestyle="--" if unused else "-",
        )
        handles.append(Patch(facecolor=color, edgecolor="#333", hatch=hatch, label=state))
    for x, y, name in marks:
        ax.plot([x, x], [y - 0.45, y + 0.45], color="black", linewidth=2.5, solid_capstyle="butt")
        ax.text(x, y - 0.47, name, ha="center", va="bottom", fontsize=6)
    if marks:
        names = sorted({name for _, _, name in marks})
        handles.append(Line2D([], [], color="black", linewidth=2.5, label=" / ".join(names)))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    else:
        ax.text(0.5, 0.5, "no regions", ha="center", va="center", transform=ax.transAxes)
    ticks = []
    for r in regions:
        cls = f", slots of {r['size_class']} B" if r.get("size_class") is not None else ""
        ticks.append(f"{r['kind']} {_human(r['size'])}{cls}\n{r['address']:#x}")
    ax.set_yticks(list(range(len(regions))), ticks, fontsize="small")
    ax.set_ylim(max(len(regions), 1) - 0.4, -0.75)  # first region on top, as in render()
    ax.set_xlim(0, 1)
    ax.set_xticks([])
    ax.set_xlabel("blocks by address; a box's width grows with log2 of its bytes")
    return labels


def _label_boxes(fig: Figure, ax: Axes, labels: Sequence[_Label]) -> None:
    """Write each box's size inside it where the text fits (measured on the laid-out axes)."""
    if not labels:
        return
    fig.draw_without_rendering()  # lay out first: the axes' width in points is then known
    points = ax.get_window_extent().width * 72 / fig.dpi
    for x, y, width, text, hatched in labels:
        if width * points >= 0.62 * _FONT * len(text) + 6:  # a glyph is ~0.62 em wide
            box = {"facecolor": "white", "edgecolor": "none", "pad": 1} if hatched else None
            ax.text(x, y, text, ha="center", va="center", fontsize=_FONT, bbox=box, clip_on=True)


@dataclass
class _Life:
    start: int
    end: int
    address: int
    length: int
    op: str
    nested: bool


def _address(result: object) -> int | None:
    """Return the address a successful alloc/create/remap gave (a resize's bool is none)."""
    return result if isinstance(result, int) and not isinstance(result, bool) else None


def _lifetimes(events: Iterable[_Event]) -> tuple[list[_Life], list[tuple[int, int | None]]]:
    """Block lifetimes and failures (seq, address or None) of a trace, per the trace rules."""
    # Keyed by (allocator, address): a nested allocator's block may start where its child's does.
    live: dict[tuple[str, int | None], _Life] = {}
    done: list[_Life] = []
    failures: list[tuple[int, int | None]] = []

    def end(allocator: str, address: int | None, seq: int) -> None:
        life = live.pop((allocator, address), None)
        if life is not None:
            life.end = seq
            done.append(life)

    last = -1
    for ev in sorted(events, key=lambda e: e.seq):
        last = ev.seq
        if ev.op in ("free", "destroy"):
            end(ev.allocator, ev.address, ev.seq)
        elif ev.op in ("reset", "deinit"):
            for allocator, address in [k for k in live if k[0] == ev.allocator]:
                end(allocator, address, ev.seq)
        elif ev.op in _OPS:  # alloc, create, resize, remap: the ops that make blocks
            resized = ev.op == "resize" and ev.result is True
            made = ev.address if resized else _address(ev.result)
            if made is None:
                failures.append((ev.seq, ev.address))
                continue
            length = ev.length
            if ev.op in ("resize", "remap"):  # the old block ends, moved or not
                end(ev.allocator, ev.address, ev.seq)
                length = ev.length if ev.new_length is None else ev.new_length
            end(ev.allocator, made, ev.seq)  # an address reused without a traced free
            live[(ev.allocator, made)] = _Life(ev.seq, -1, made, length, ev.op, ev.depth > 0)
    for allocator, address in list(live):
        end(allocator, address, last + 1)  # still live when the trace stops
    return done, failures


@overload
def timeline(
    trace: _Trace | Iterable[_Event],
    path: None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure: ...
@overload
def timeline(
    trace: _Trace | Iterable[_Event],
    path: _P,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> _P: ...
def timeline(
    trace: _Trace | Iterable[_Event],
    path: _P | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: float | None = None,
) -> Figure | _P:
    """Draw a trace's block lifetimes: x is the event seq, y the address (hex).

    Each block is a bar from the event that made it to the one that ended it, as tall as
    its length (at least a visible minimum) and coloured by the op that made it; blocks of
    nested calls (depth > 0) are lighter and hatched, failed calls are red crosses (at the
    bottom when they had no address). ``trace`` is a zheap trace (``.events``) or a
    sequence of events. Saving and the other arguments work as in :func:`plot`.
    """
    _require_matplotlib("timeline")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

    events = list(trace.events if hasattr(trace, "events") else trace)
    lives, failures = _lifetimes(events)
    fig, ax = _axes(ax, figsize, dpi, 12)
    tops = [lf.address + lf.length for lf in lives] + [a for _, a in failures if a is not None]
    bottoms = [lf.address for lf in lives] + [a for _, a in failures if a is not None]
    lo, hi = min(bottoms, default=0), max(tops, default=1)
    hi = max(hi, lo + 1)
    min_height = (hi - lo) * 0.006  # a 16-byte block among far-apart mappings stays visible

    handles: list[Any] = []
    groups: dict[tuple[str, bool], list[_Life]] = {}
    for life in lives:
        groups.setdefault((life.op, life.nested), []).append(life)
    # Nested blocks first, underneath, and only outlined: an arena's chunk spans the
    # blocks carved from it, and must not hide them.
    for (op, nested), group in sorted(groups.items(), key=lambda kv: (not kv[0][1], kv[0][0])):
        colour = _OPS.get(op, "#9e9e9e")
        ax.bar(
            [lf.start for lf in group],
            [max(lf.length, min_height) for lf in group],
            width=[lf.end - lf.start for lf in group],
            bottom=[lf.address for lf in group],
            align="edge",
            color="none" if nested else colour,
            alpha=1.0 if nested else 0.9,
            hatch="//" if nested else None,
            edgecolor=colour if nested else "#333",
            linestyle="--" if nested else "-",
            linewidth=1.0 if nested else 0.3,
            zorder=1 if nested else 2,
        )
    for op in sorted({op for op, _ in groups}):
        handles.append(Patch(color=_OPS.get(op, "#9e9e9e"), label=op))
    if any(nested for _, nested in groups):
        handles.append(Patch(facecolor="white", edgecolor="#333", hatch="///", label="nested"))
    known = [(s, a) for s, a in failures if a is not None]
    if known:
        ax.plot([s for s, _ in known], [a for _, a in known], "x", color="red", markersize=8)
    unknown = [s for s, a in failures if a is None]
    if unknown:  # y in axes units: just above the x axis
        ax.plot(
            unknown, [0.03] * len(unknown), "x", color="red", transform=ax.get_xaxis_transform()
        )
    if failures:
        handles.append(Line2D([], [], marker="x", color="red", linestyle="", label="failed"))

    if events:
        ax.set_xlim(min(e.seq for e in events) - 0.5, max(e.seq for e in events) + 1.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # seqs are whole events
        ax.set_ylim(lo - (hi - lo) * 0.02, hi + min_height + (hi - lo) * 0.02)
        # Ticks on powers of two, so the hex labels come out round (0x1000, 0x2000...).
        step = 2 ** max(int(math.log2((hi - lo) / 6)), 0) if hi - lo >= 6 else 1
        ax.yaxis.set_major_locator(MultipleLocator(step))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(v):#x}"))
    else:
        ax.text(0.5, 0.5, "no events", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    ax.set_xlabel("event seq")
    ax.set_ylabel("address")
    ax.set_title(title or f"trace: {len(events)} events, {len(lives)} blocks")
    return _finish(fig, path)


# --- a trace, step by step -----------------------------------------------------------------

#: Colours a trace's blocks keep from their allocation to their free.
_PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip

#: Steps :func:`steps_html` draws at most; the rest is counted.
MAX_STEPS = 200


def _call_text(e: _Event) -> str:
    """Write an event as the call that made it: ``alloc(100, 1) -> 0x7f..``."""
    args = [] if e.address is None else [f"{e.address:#x}"]
    if e.op not in ("free", "deinit", "reset"):
        args.append(str(e.length))
    if e.new_length is not None and e.op in ("resize", "remap"):
        args.append(str(e.new_length))
    if e.op == "reset":
        args = [repr(e.mode)]
    text = f"{e.op}({', '.join(args)})"
    if e.op in ("alloc", "create", "remap", "resize", "reset"):
        if isinstance(e.result, bool):
            text += f" -> {e.result}"
        else:
            text += " -> " + ("None" if e.result is None else f"{e.result:#x}")
    return text


@dataclass(frozen=True)
class _Step:
    """One top-level event of a trace and the live blocks after it."""

    event: _Event
    blocks: list[tuple[int, int, int, bool]]  # address, block number, length, freed by it
    changed: int | None  # address of the block the event made, moved or resized


def _steps(trace: _Trace, max_steps: int) -> tuple[list[_Step], int]:
    """Replay a trace's top-level events; return the first ``max_steps`` and the total."""
    live: dict[int, tuple[int, int]] = {}  # address -> (block number, length)
    count = 0
    out: list[_Step] = []
    top = [e for e in trace.events if e.depth == 0]
    for e in top[:max_steps]:
        changed: int | None = None
        gone: tuple[int, int, int] | None = None  # address, number, length
        if e.op in ("alloc", "create") and isinstance(e.result, int) and not e.failed:
            live[e.result] = (count, e.length)
            changed, count = e.result, count + 1
        elif e.op in ("free", "destroy") and e.address in live:
            number, length = live.pop(e.address)
            gone = (e.address, number, length)
        elif e.op in ("resize", "remap") and e.address in live and not e.failed:
            number, _ = live.pop(e.address)
            where = e.address if e.op == "resize" else e.result
            if isinstance(where, int) and e.new_length is not None:
                live[where] = (number, e.new_length)
                changed = where
        elif e.op in ("reset", "deinit"):
            live.clear()
        blocks = [(a, n, ln, False) for a, (n, ln) in live.items()]
        if gone is not None:
            blocks.append((gone[0], gone[1], gone[2], True))
        out.append(_Step(e, sorted(blocks), changed))
    return out, len(top)


def steps_html(trace: _Trace, *, max_steps: int = MAX_STEPS) -> str:
    """Return an HTML step-through of a trace's top-level events (Jupyter shows it).

    One row per operation: its call, then every live block by address, each in the
    colour it keeps from its allocation to its free, its width growing with log2 of
    its bytes. The block the operation made, moved or resized has a thick black
    border; a freed one shows once more, dashed, where it was. ``EventTrace``
    displays this as its ``_repr_html_``.
    """
    steps, total = _steps(trace, max_steps)
    rows: list[str] = []
    for step in steps:
        boxes = []
        for address, number, length, freed in step.blocks:
            colour = _PALETTE[number % len(_PALETTE)]
            border = "2px dashed #555" if freed else "1px solid #888"
            if address == step.changed:
                border = "3px solid #000"
            what = f"block {number}: {length} B at {address:#x}" + (" (freed)" if freed else "")
            boxes.append(
                f'<span title="{_html.escape(what)}" style="display:inline-block;'
                f"box-sizing:border-box;min-width:{8 + 6 * _weight(length):.0f}px;height:18px;"
                f"margin-right:2px;background:{'#fff' if freed else colour};border:{border};"
                f'font-size:10px;text-align:center;line-height:14px">{number}</span>'
            )
        e = step.event
        call = _html.escape(_call_text(e))
        failed = ' style="color:#c00"' if e.failed else ""
        rows.append(
            f'<tr><td style="text-align:right">{e.seq}</td><td{failed}><code>{call}</code></td>'
            f'<td style="text-align:left;white-space:nowrap">{"".join(boxes)}</td></tr>'
        )
    more = total - len(rows)
    tail = f"<div>... {more} more steps</div>" if more > 0 else ""
    return (
        '<div class="zheap-steps"><table style="border-collapse:collapse;font-size:12px">'
        "<tr><th>#</th><th>call</th><th>live blocks by address (colour: the block, black "
        "border: changed by this call, dashed: freed by it)</th></tr>"
        + "".join(rows)
        + f"</table>{tail}</div>"
    )


def animate(
    trace: _Trace,
    path: str | os.PathLike[str],
    *,
    max_steps: int = MAX_STEPS,
    interval_ms: int = 700,
) -> str | os.PathLike[str]:
    """Save a trace as an animated GIF: one frame per top-level operation.

    Each frame is :func:`steps_html`'s row drawn with matplotlib: the call as the
    title, then every live block by address as a box whose width grows with log2 of
    its bytes, in the colour it keeps from its allocation to its free, labelled with
    its number and size. The block the call made, moved or resized has a thick black
    border; a freed one shows once more, dashed and empty, where it was. Frames
    change every ``interval_ms``. Needs matplotlib (Pillow, which it installs,
    writes the GIF). Returns ``path``.
    """
    _require_matplotlib("animate")
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    steps, _ = _steps(trace, max_steps)
    if not steps:
        raise ValueError("the trace has no top-level events to animate")
    widest = max(sum(1 + _weight(b[2]) for b in s.blocks) for s in steps) or 1.0
    fig = Figure(figsize=(9, 2.2), dpi=90)
    ax = fig.add_subplot()

    def draw(k: int) -> list[Any]:
        ax.clear()
        ax.set_xlim(0, widest)
        ax.set_ylim(0, 1)
        ax.axis("off")
        step = steps[k]
        colour = "#c00" if step.event.failed else "black"
        ax.set_title(f"#{step.event.seq}  {_call_text(step.event)}", color=colour, loc="left")
        x = 0.0
        for address, number, length, freed in step.blocks:
            w = _weight(length)
            edge = 3.0 if address == step.changed else 1.0
            ax.add_patch(
                Rectangle(
                    (x, 0.2), w, 0.6,
                    facecolor="white" if freed else _PALETTE[number % len(_PALETTE)],
                    edgecolor="black" if address == step.changed else "#555",
                    linewidth=edge, linestyle="--" if freed else "-",
                )
            )  # fmt: skip
            ax.text(x + w / 2, 0.5, f"{number}\n{_human(length)}", ha="center", va="center",
                    fontsize=7)  # fmt: skip
            x += w + 1
        return []

    animation = FuncAnimation(fig, draw, frames=len(steps), interval=interval_ms, blit=False)
    animation.save(os.fspath(path), writer=PillowWriter(fps=max(1, round(1000 / interval_ms))))
    return path


# --- two layouts, compared -----------------------------------------------------------------


def _shape_of(block: Mapping[str, Any]) -> tuple[Any, Any]:
    return block.get("state"), block.get("length")


class LayoutDiff:
    """What changed between two layouts: blocks added, removed, and changed state or size.

    ``added`` and ``removed`` are block dicts; ``changed`` holds ``(before, after)``
    pairs of blocks at the same address. ``str()`` is a text report, and Jupyter
    shows it as an HTML table (``_repr_html_``).
    """

    def __init__(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        """Compare ``before`` with ``after`` block by block (keyed by address)."""

        def blocks(layout: Mapping[str, Any]) -> dict[int, Mapping[str, Any]]:
            return {b["address"]: b for r in layout.get("regions", []) for b in r.get("blocks", [])}

        old, new = blocks(before), blocks(after)
        self.added = [new[a] for a in sorted(new.keys() - old.keys())]
        self.removed = [old[a] for a in sorted(old.keys() - new.keys())]
        self.changed = [
            (old[a], new[a])
            for a in sorted(old.keys() & new.keys())
            if (old[a].get("state"), old[a].get("length"))
            != (new[a].get("state"), new[a].get("length"))
        ]

    def __bool__(self) -> bool:
        """Tell whether anything changed."""
        return bool(self.added or self.removed or self.changed)

    def _lines(self) -> list[tuple[str, str]]:
        def show(b: Mapping[str, Any]) -> str:
            return f"{b.get('state')} {b.get('length')} B at {b['address']:#x}"

        out = [("+", show(b)) for b in self.added] + [("-", show(b)) for b in self.removed]
        out += [
            ("~", f"{show(x)} -> {y.get('state')} {y.get('length')} B") for x, y in self.changed
        ]
        return sorted(out, key=lambda kv: kv[1].rsplit(" at ", 1)[-1])

    def __str__(self) -> str:
        """One line per change: ``+`` added, ``-`` removed, ``~`` changed."""
        lines = self._lines()
        return "\n".join(f"{mark} {text}" for mark, text in lines) if lines else "no change"

    def __repr__(self) -> str:
        return (
            f"<zheap.viz.LayoutDiff +{len(self.added)} -{len(self.removed)} ~{len(self.changed)}>"
        )

    def _repr_html_(self) -> str:
        colour = {"+": "#e8f5e9", "-": "#ffebee", "~": "#fff8e1"}
        rows = "".join(
            f'<tr style="background:{colour[m]}"><td>{m}</td><td>{_html.escape(t)}</td></tr>'
            for m, t in self._lines()
        )
        return f'<table style="font-size:12px">{rows or "<tr><td>no change</td></tr>"}</table>'


def diff(
    before: _HasLayout | Mapping[str, Any], after: _HasLayout | Mapping[str, Any]
) -> LayoutDiff:
    """Compare two layouts (or an allocator's layout now against one taken earlier).

    >>> before = arena.layout(); v = arena.alloc(10)
    >>> print(viz.diff(before, arena))        # "+ live 10 B at 0x..."
    """
    return LayoutDiff(_layout(before), _layout(after))
