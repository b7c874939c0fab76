"""The Python examples of the README and the guides run as written, and print what the pages say.

Each file's blocks run in order in one namespace (a page builds on its earlier
blocks), each file in a fresh one.

Printed output. A ```python block whose output a page shows is followed by a plain ```
(or ```text) block, with nothing in between but blank lines and at most one paragraph of
lead-in whose last sentence says "prints" and ends with a colon ("It prints:", "Apart from
the memory map, it prints:", "prints (addresses vary):"). That block is the block's stdout,
and test_printed_output compares them exactly after these normalisations, and no others:

- every hexadecimal number, such as ``0x7f6f3a9c5010``, becomes ``0x...``: addresses change per run;
- trailing blank lines are dropped on both sides;
- when the lead-in says "apart from the memory map", each map a ``zheap.viz.render`` call made
  during the block is taken out of the output (the page shows the map as a picture instead).

The page runs in a fresh Python process (as a reader runs it; the SmpAllocator's state is
the process's) from a temporary directory, each block compiled as a file named ``demo.py``
(the name the trace example shows). The figures on the pages are those of x86-64 Linux with
glibc and 4 KiB pages, outside a sanitizer, so the comparison runs only there.

A page whose output legitimately differs between runs (timings, random seeds, per-machine
figures) can put ``<!-- output varies -->`` on the line right before the output block to
exempt it; prefer an example that prints the same thing every time.
"""

import ast
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest

import zheap

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _blocks(page):
    return re.findall(r"```python\n(.*?)```", page.read_text(), re.S)


def _runnable(block):
    # A block that compiles C needs the source file the reader saved from the page
    # (tests/test_toolkit.py runs that example in full).
    return '["cc",' not in block


def test_readme_examples_run():
    assert len(_blocks(ROOT / "README.md")) >= 4
    namespace: dict[str, object] = {}
    for block in _blocks(ROOT / "README.md"):
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 -- our own docs


@pytest.mark.parametrize(
    "page", [p for p in PAGES[1:] if _blocks(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_guide_examples_run(page, capsys):
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in filter(_runnable, _blocks(page)):
        exec(compile(block, str(page.relative_to(ROOT)), "exec"), namespace)  # noqa: S102
    capsys.readouterr()


# --- printed output -------------------------------------------------------------------

OUTPUT_VARIES = "<!-- output varies -->"
_FENCE = re.compile(r"^```(\S*)")
# The lead-in's last sentence says "prints" and ends with a colon: no full stop in between.
_LEAD_IN = re.compile(r"\bprints\b[^.]*:\Z")


@dataclass
class _Fence:
    info: str  # "python", "text", "" (plain), "sh", ...
    line: int  # of the opening fence, 1-based
    body: str
    before: str  # the page's text between the previous fence's end and this one


def _fences(text):
    fences, lines, i, last_end = [], text.splitlines(keepends=True), 0, 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```")
        before = "".join(lines[last_end:i])
        fences.append(_Fence(m.group(1), i + 1, "".join(lines[i + 1 : end]), before))
        i = last_end = end + 1
    return fences


def _output_blocks(text):
    """[(index of the python block among the page's, its output fence, lead-in)]."""
    pairs, python = [], -1
    fences = _fences(text)
    for prev, fence in zip([None, *fences], fences, strict=False):
        if fence.info == "python":
            python += 1
        if prev is None or prev.info != "python" or fence.info not in ("", "text"):
            continue
        between = fence.before.strip()
        if between.endswith(OUTPUT_VARIES):
            continue
        if between and ("\n\n" in between or not _LEAD_IN.search(" ".join(between.split()))):
            continue
        pairs.append((python, fence, between))
    return pairs


def test_output_block_detection():
    page = """\
```python
print(1)
```

It prints:

```text
1
```

```python
print(0x10)
```
```
16
```

```python
x = 2
```

The format (plain data, easy to print):

```
{"a": int}
```

```sh
python -m zheap
```

prints:

```
a table
```

```python
print(3)
```

The machine prints a snippet. Its first lines make the allocator:

```text
make()
```

```python
print(4)
```

Two paragraphs.

It prints:

```text
4
```

```python
print(5)
```

It prints:

<!-- output varies -->
```text
5
```
"""
    found = [(i, f.body, lead) for i, f, lead in _output_blocks(page)]
    assert found == [(0, "1\n", "It prints:"), (1, "16\n", "")]


_RUNNER = r"""
import contextlib, io, json, sys, traceback

sys.path.insert(0, sys.argv[1])
import zheap.viz

maps = []
_render = zheap.viz.render


def render(*args, **kwargs):
    text = _render(*args, **kwargs)
    maps.append(text)
    return text


zheap.viz.render = render
namespace = {"__name__": "__docs__"}
results = []
for source in json.load(sys.stdin):
    maps.clear()
    out = io.StringIO()
    error = None
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(source, "demo.py", "exec"), namespace)
    except BaseException:
        error = traceback.format_exc()
    results.append({"stdout": out.getvalue(), "maps": list(maps), "error": error})
    if error:
        break
json.dump(results, sys.__stdout__)
"""


def _reference_platform():
    return (
        sys.platform == "linux"
        and platform.machine() == "x86_64"
        and platform.libc_ver()[0] == "glibc"
        and os.sysconf("SC_PAGESIZE") == 4096
        and "asan" not in os.environ.get("LD_PRELOAD", "")
    )


def _normalise(text):
    return re.sub(r"0x[0-9a-fA-F]+", "0x...", text).rstrip("\n")


_WITH_OUTPUT = [p for p in PAGES if _output_blocks(p.read_text())]


def test_pages_show_output():
    # The detection keeps finding the pages' output blocks (12 when this was written).
    assert sum(len(_output_blocks(p.read_text())) for p in _WITH_OUTPUT) >= 12


@pytest.mark.skipif(
    not _reference_platform(),
    reason="the pages show x86-64 Linux/glibc figures (4 KiB pages, no sanitizer)",
)
@pytest.mark.parametrize("page", _WITH_OUTPUT, ids=lambda p: str(p.relative_to(ROOT)))
def test_printed_output(page, tmp_path):
    text = page.read_text()
    blocks = [f.body for f in _fences(text) if f.info == "python"]
    pairs = _output_blocks(text)
    # Run the page up to its last block with output; a block that compiles C stays out.
    to_run = [b if _runnable(b) else "" for b in blocks[: pairs[-1][0] + 1]]
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    proc = subprocess.run(  # noqa: S603 -- our own interpreter on our own docs
        [sys.executable, "-c", _RUNNER, str(pathlib.Path(zheap.__file__).parent.parent)],
        input=json.dumps(to_run),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert results[-1]["error"] is None, results[-1]["error"]
    rel = page.relative_to(ROOT)
    for index, fence, lead_in in pairs:
        result = results[index]
        stdout = result["stdout"]
        if "apart from the memory map" in lead_in.lower():
            assert result["maps"], f"{rel}:{fence.line}: the block prints no memory map"
            for map_text in result["maps"]:
                assert map_text + "\n" in stdout, f"{rel}:{fence.line}: a map was not printed"
                stdout = stdout.replace(map_text + "\n", "", 1)
        assert _normalise(stdout) == _normalise(fence.body), (
            f"{rel}: the output block at line {fence.line} is not what the code prints"
        )


# --- values shown in comments ----------------------------------------------------------


def _commented_values(source):
    """Yield (statement, expected value or None) for each top-level statement of a block.

    The value is that of an ``expr  # literal`` line: a one-line expression statement
    whose comment is a Python literal.
    """
    lines = source.splitlines()
    for stmt in ast.parse(source).body:
        value = None
        m = None
        if isinstance(stmt, ast.Expr) and stmt.lineno == stmt.end_lineno:
            m = re.search(r"\s#\s*(.+)$", lines[stmt.lineno - 1][stmt.end_col_offset :])
        if m is not None:
            try:
                value = (ast.literal_eval(m.group(1).strip()),)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                pass  # prose, or a value with parts elided (0x..., Trace(...))
        yield stmt, None if value is None or value[0] is Ellipsis else value


@pytest.mark.parametrize(
    "page", [p for p in PAGES if _blocks(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_commented_values(page, capsys):
    """``expr  # value`` on a page: the expression evaluates to that literal value."""
    namespace: dict[str, object] = {"__name__": "__docs__"}
    name = str(page.relative_to(ROOT))
    checked = 0
    for block in filter(_runnable, _blocks(page)):
        for stmt, want in _commented_values(block):
            if want is not None and isinstance(stmt, ast.Expr):
                got = eval(compile(ast.Expression(stmt.value), name, "eval"), namespace)  # noqa: S307
                assert got == want[0], f"{name}: {ast.unparse(stmt)} gave {got!r}"
                checked += 1
            else:
                exec(compile(ast.Module([stmt], []), name, "exec"), namespace)  # noqa: S102
    capsys.readouterr()
    if page.name == "README.md":
        assert checked >= 2  # the detection still finds the README's
