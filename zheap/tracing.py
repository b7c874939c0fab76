"""Event traces: record what an allocator does, save it as text, replay it elsewhere.

``with zheap.trace(allocator) as t:`` records every operation on ``allocator``
and on the allocators under it (an arena's page allocator, a pool's child...),
the latter as nested events (``depth`` 1, 2, ...). Recording happens in C
while each call runs; :attr:`EventTrace.events` turns it into :class:`Event`
tuples.

The text format (:meth:`EventTrace.dumps`, :func:`load`) has one event a line, in
the spirit of the CS:APP malloc-lab trace files::

    # zheap trace 1
    # allocators: 0=ArenaAllocator 1=PageAllocator
    alloc @0 len=100 align=1 -> 0x7f6f3a9c5010  # demo.py:5
    . alloc @1 len=199 align=8 -> 0x7f6f3a9c5000  # demo.py:5
    free @0 addr=0x7f6f3a9c5010 len=100 align=1  # demo.py:6
    reset @0 mode=retain_capacity limit=0 -> true  # demo.py:7

A leading ``.`` per nesting level marks events an allocator made on its
child. :func:`replay` runs a trace's top-level events on any allocator, so
one sequence can be compared across an arena, a pool and the SmpAllocator.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, TextIO

from . import _zheap

__all__ = ["Event", "EventTrace", "trace", "load", "loads", "replay"]

_FORMAT = "# zheap trace 1"
_RESET_MODES = ("free_all", "retain_capacity", "retain_with_limit")


class Event(NamedTuple):
    """One allocator operation in a trace.

    ``address`` is the block operated on (None for alloc, create, reset and
    deinit); ``result`` is the new address (None on failure) for alloc,
    create and remap, a bool for resize and reset, None otherwise. ``mode``
    is a reset's mode and ``new_length`` its limit. ``where`` is the Python
    ``file:line`` the operation was called from ("" if unknown).
    """

    seq: int
    depth: int
    allocator: str
    op: str
    address: int | None
    length: int
    alignment: int = 1
    new_length: int | None = None
    result: int | bool | None = None
    where: str = ""
    mode: str | None = None

    @property
    def failed(self) -> bool:
        """Whether the operation was refused (alloc/create/remap/resize/reset)."""
        if self.op in ("alloc", "create", "remap"):
            return self.result is None
        if self.op in ("resize", "reset"):
            return self.result is False
        return False

    def format(self) -> str:
        """Format this event as one line of the text format."""
        parts = [". " * self.depth + self.op, f"@{self._index}"]
        if self.op == "reset":
            parts.append(f"mode={self.mode}")
            parts.append(f"limit={self.new_length}")
        else:
            if self.address is not None:
                parts.append(f"addr={self.address:#x}")
            if self.op != "deinit":
                parts.append(f"len={self.length}")
                parts.append(f"align={self.alignment}")
            if self.new_length is not None:
                parts.append(f"new={self.new_length}")
        if self.op not in ("free", "deinit"):
            parts.append("->")
            parts.append(_format_result(self.result))
        line = " ".join(parts)
        return f"{line}  # {self.where}" if self.where else line

    @property
    def _index(self) -> str:
        # Labels are "N=Name" in the header; events refer to the number.
        return self.allocator.split("=", 1)[0] if "=" in self.allocator else self.allocator


def _format_result(result: int | bool | None) -> str:
    if result is None:
        return "null"
    if isinstance(result, bool):
        return "true" if result else "false"
    return f"{result:#x}"


def _parse_result(text: str) -> int | bool | None:
    if text == "null":
        return None
    if text in ("true", "false"):
        return text == "true"
    return int(text, 16)


class EventTrace:
    """The events recorded by :func:`trace`, or loaded from text by :func:`load`.

    ``allocators`` lists the recorded allocators' labels, root first, as
    ``"N=TypeName"``; each event's ``allocator`` is one of them. ``lost``
    counts events dropped because memory for the record ran out.
    """

    def __init__(self, events: Sequence[Event] = (), allocators: Sequence[str] = ()) -> None:
        self._events = list(events)
        self.allocators: list[str] = list(allocators)
        self.lost = 0
        self._recorder: Any = None
        self._who: tuple[Any, ...] = ()

    @property
    def events(self) -> list[Event]:
        """Every event so far, in order (also while recording)."""
        if self._recorder is not None:
            self._take()
        return self._events

    def _take(self) -> None:
        raw, lost = _zheap._trace_take(self._recorder)
        self.lost += lost
        base = len(self._events)
        for i, (depth, who, op, address, length, align, new, result, where) in enumerate(raw):
            mode = None
            if op == "reset":
                mode, length = _RESET_MODES[length], 0
            event = Event(base + i, depth, self.allocators[who], op, address, length, align, new,
                          result, where, mode)  # fmt: skip
            self._events.append(event)

    def __enter__(self) -> EventTrace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop recording (``with`` does it on exit); the events stay."""
        if self._recorder is not None:
            _zheap._trace_stop(self._recorder)
            self._take()
            self._recorder = None
            self._who = ()

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, i: int) -> Event:
        return self.events[i]

    def _repr_html_(self) -> str:
        """Show the trace in Jupyter as a step-through (:func:`zheap.viz.steps_html`)."""
        from .viz import steps_html

        return steps_html(self)

    def __repr__(self) -> str:
        state = " recording" if self._recorder is not None else ""
        return f"<zheap.EventTrace{state} events={len(self.events)} allocators={self.allocators}>"

    def top_level(self) -> list[Event]:
        """Return the events called from Python on the root allocator (what replay runs)."""
        root = self.allocators[0] if self.allocators else None
        return [e for e in self.events if e.depth == 0 and e.allocator == root]

    def outcomes(self) -> list[str]:
        """Return what each top-level event came to, in the words :func:`replay` uses."""
        return [_outcome(e.op, e.address, e.result) for e in self.top_level()]

    def dumps(self) -> str:
        """Return the trace in the text format."""
        out = io.StringIO()
        self.dump(out)
        return out.getvalue()

    def dump(self, file: TextIO) -> None:
        """Write the trace in the text format to ``file``."""
        file.write(_FORMAT + "\n")
        file.write("# allocators: " + " ".join(self.allocators) + "\n")
        for e in self.events:
            file.write(e.format() + "\n")


def trace(allocator: Any) -> EventTrace:
    """Record ``allocator``'s operations, and those it makes on its children.

    Use as ``with zheap.trace(arena) as t: ...``; the events are in
    ``t.events`` (also while recording). RuntimeError if the allocator is
    being traced already.
    """
    recorder, who = _zheap._trace_start(allocator)
    labels = [f"{i}={type(a).__name__}" for i, a in enumerate(who)]
    t = EventTrace(allocators=labels)
    t._recorder, t._who = recorder, who
    return t


_LINE = re.compile(r"^((?:\. )*)(\w+) @(\d+)((?: \w+=\S+)*)(?: -> (\S+))?$")


def loads(text: str) -> EventTrace:
    """Read a trace from its text format (what :meth:`EventTrace.dumps` wrote)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != _FORMAT:
        raise ValueError(f"not a zheap trace: the first line must be {_FORMAT!r}")
    allocators: list[str] = []
    events: list[Event] = []
    for n, raw in enumerate(lines[1:], start=2):
        if raw.startswith("# allocators:"):
            allocators = raw.split(":", 1)[1].split()
            continue
        if not raw.strip() or raw.startswith("#"):
            continue
        body, _, where = raw.partition("  # ")
        m = _LINE.match(body.rstrip())
        if m is None:
            raise ValueError(f"line {n}: cannot read {raw!r}")
        dots, op, index, fields, result = m.groups()
        kv = dict(f.split("=", 1) for f in fields.split())
        label = next((a for a in allocators if a.split("=", 1)[0] == index), index)
        try:
            mode = kv.get("mode")
            events.append(
                Event(
                    seq=len(events),
                    depth=len(dots) // 2,
                    allocator=label,
                    op=op,
                    address=int(kv["addr"], 16) if "addr" in kv else None,
                    length=int(kv.get("len", 0)),
                    alignment=int(kv.get("align", 1)),
                    new_length=int(kv["limit"] if mode else kv["new"])
                    if ("new" in kv or mode)
                    else None,
                    result=_parse_result(result) if result else None,
                    where=where.strip(),
                    mode=mode,
                )
            )
        except (KeyError, ValueError) as e:
            raise ValueError(f"line {n}: cannot read {raw!r}: {e}") from None
    t = EventTrace(events, allocators)
    return t


def load(file: TextIO) -> EventTrace:
    """Read a trace from a text file (see :func:`loads`)."""
    return loads(file.read())


def _outcome(op: str, address: int | None, result: int | bool | None) -> str:
    if op in ("alloc", "create"):
        return "fail" if result is None else "ok"
    if op == "remap":
        return "fail" if result is None else ("same" if result == address else "moved")
    if op in ("resize", "reset"):
        return "ok" if result else "fail"
    return "ok"


def replay(t: EventTrace, allocator: Any) -> list[str]:
    """Run the top-level events of ``t`` on ``allocator``; return their outcomes.

    Outcomes are "ok" / "fail" (alloc, create, resize, reset), "same" / "moved"
    / "fail" (remap), "ok" (free, deinit), and "skipped" for an event on a
    block this replay does not have (an earlier step went differently).
    On the allocator type the trace was recorded on, the outcomes equal
    ``t.outcomes()``. Creates become ``alloc(length, alignment)`` on an
    allocator without ``create``; on a pool, allocs become ``create()``
    when the length fits its items ("fail" otherwise) and resize/remap fail.
    A reset or deinit on an allocator without one frees the blocks the
    replay holds. Blocks left live at the end stay allocated.
    """
    views: dict[int, Any] = {}
    out: list[str] = []
    is_pool = hasattr(allocator, "create") and not hasattr(allocator, "alloc")
    for e in t.top_level():
        if e.op in ("alloc", "create"):
            if is_pool and e.length > allocator.item_size:
                out.append("fail")  # the pool's items are too small for it
                continue
            try:
                if is_pool:
                    v = allocator.create()
                else:
                    v = allocator.alloc(e.length, e.alignment)
            except MemoryError:
                out.append("fail")
                continue
            if e.result is not None:
                views[e.result] = v
            out.append("ok")
        elif e.op in ("free", "resize", "remap"):
            v = views.get(e.address) if e.address is not None else None
            if v is None:
                out.append("skipped")
                continue
            if e.op == "free":
                (allocator.destroy if is_pool else allocator.free)(v)
                del views[e.address]  # type: ignore[arg-type]
                out.append("ok")
                continue
            before = _zheap.address_of(v)
            # A pool's items have one size: it cannot resize or remap them.
            new = None if is_pool else getattr(allocator, e.op)(v, e.new_length)
            if new is None:
                out.append("fail")
                continue
            del views[e.address]  # type: ignore[arg-type]
            if e.op == "resize":
                views[e.address] = new  # type: ignore[index]
                out.append("ok")
            else:
                if e.result is not None:
                    views[e.result] = new
                out.append("moved" if _zheap.address_of(new) != before else "same")
        elif e.op in ("reset", "deinit"):
            out.append(_end_all(allocator, e, views, is_pool))
    return out


def _end_all(allocator: Any, e: Event, views: dict[int, Any], is_pool: bool) -> str:
    """Replay a reset or deinit: every block of the trace's allocator ends."""
    if not hasattr(allocator, e.op):
        # An allocator without reset (c_allocator, SmpAllocator...): free the
        # blocks one by one, which is what the reset meant for them.
        for v in views.values():
            (allocator.destroy if is_pool else allocator.free)(v)
        views.clear()
        return "ok"
    views.clear()
    if e.op == "deinit":
        allocator.deinit()
        return "ok"
    if isinstance(allocator, _zheap.FixedBufferAllocator):
        allocator.reset()  # no modes: it always frees everything
        return "ok"
    if e.mode == "retain_with_limit":
        ok = allocator.reset(e.mode, e.new_length)
    else:
        ok = allocator.reset(e.mode or "retain_capacity")
    return "fail" if ok is False else "ok"
