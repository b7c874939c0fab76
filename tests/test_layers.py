"""The binding (csrc/ext/) is layered one way: no include or call goes up, or sideways.

A file may include the headers of layers below it (and its own), and call functions
defined in layers below it; nothing else. The layers, bottom up, are those state.h's
opening comment lists. A new file must be given its layer here.
"""

import re
from collections import defaultdict
from pathlib import Path

EXT = Path(__file__).resolve().parent.parent / "csrc" / "ext"

LAYERS = [
    ["state"],
    ["args", "frames", "gcstate", "layout", "stack"],
    ["trace"],
    ["block"],
    ["owner"],
    ["pyalloc", "capsule", "numpy_handler"],
    ["allocator"],
    ["debug_report"],
    [
        "types",
        "os_allocators",
        "fixed_buffer",
        "arena",
        "stack_fallback",
        "thread_safe",
        "memory_pool",
        "debug",
        "smp",
        "bigpage",
        "failing",
    ],
    ["module"],
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(EXT.glob("*.[ch]"))}


def test_every_file_has_a_layer():
    assert {Path(n).stem for n in _sources()} <= set(RANK), "give the new file a layer here"


def test_includes_go_down():
    for name, text in _sources().items():
        me = RANK[Path(name).stem]
        for header in re.findall(r'#include "([\w.]+)"', text):
            if header in ("zheap.h", "structmember.h", "pythread.h"):  # the core's, CPython's
                continue
            them = RANK[Path(header).stem]
            own = Path(header).stem == Path(name).stem
            assert own or them < me, f"{name} includes {header}, which is not below it"


def test_calls_go_down():
    sources = {n: t for n, t in _sources().items() if n.endswith(".c")}
    defined = {}
    for name, text in sources.items():
        for m in re.finditer(r"^[A-Za-z_][\w \*]*?\b(zx_\w+)\s*(?:\(|\[\]\s*=|=)", text, re.M):
            line_end = text.index("\n", m.start())
            if not text[m.start() : line_end].rstrip().endswith(";"):
                defined.setdefault(m.group(1), name)
    calls = defaultdict(set)
    for name, text in sources.items():
        for used in set(re.findall(r"\b(zx_\w+)\b", text)):
            where = defined.get(used)
            if where is not None and where != name:
                calls[name].add((where, used))
    bad = [
        f"{caller} uses {fn} from {callee}"
        for caller, uses in calls.items()
        for callee, fn in sorted(uses)
        if RANK[Path(callee).stem] >= RANK[Path(caller).stem]
    ]
    assert not bad, "\n".join(bad)
    assert calls, "the scan found no calls at all: the pattern is broken"
