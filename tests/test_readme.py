"""The Python examples of the README and the guides run as written.

Each file's blocks run in order in one namespace (a page builds on its earlier
blocks), each file in a fresh one.
"""

import pathlib
import re

import pytest

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
