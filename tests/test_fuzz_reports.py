"""What a user sees when `python -m zheap fuzz` finds a bug in their allocator.

tests/buggy_freelist.py is a header free list with one classic bug switched on per
factory. Each is fuzzed through the CLI as a user would (`module:factory`); the report
must name the right root error first, and every snippet it prints must reproduce its
failure when run as it is.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import zheap
import zheap.examples
from zheap.testing.strategies import check_everything_back, run_operations

HERE = Path(__file__).resolve().parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *filter(None, sys.path)])}

# bug -> the root errors it may be reported with: (exception, words its message has).
# Which one Hypothesis reaches first depends on its search (and on the Python version):
# an off-by-8 split shows as an overlap once a second block is allocated, and as 8 bytes
# counted twice when the only block is freed. Each is the rule that broke first in the
# sequence printed with it.
BUGS = {
    "off_by_8_split": [
        ("AllocatorContractError", "overlaps the live block"),
        ("AssertionError", "8 bytes appeared"),
    ],
    "capped_alignment": [("AllocatorContractError", "not aligned to")],
    "unchecked_resize": [("AllocatorContractError", "overlaps the live block")],
    "lost_header": [("AssertionError", "8 bytes were not given back")],
    "no_coalescing": [("AssertionError", "never merged (coalesced)")],
    "overlap": [("AllocatorContractError", "overlaps the live block")],
}


def _fuzz(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zheap", "fuzz", *args],
        capture_output=True,
        text=True,
        cwd=HERE,
        env=ENV,
        timeout=600,
    )


@pytest.fixture(scope="module")
def campaigns() -> dict[str, subprocess.CompletedProcess[str]]:
    """One CLI campaign per bug (and the correct list), run side by side."""
    names = [*BUGS, "ok"]
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        runs = pool.map(
            lambda b: _fuzz(f"buggy_freelist:make_{b}", "--seed", "1", "--examples", "15"), names
        )
        return dict(zip(names, runs, strict=True))


def _failures(out: str) -> list[tuple[str, str]]:
    """(the "Type: message" line, the snippet) of each failure the report prints."""
    found = []
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "Reproduce with:":
            head = re.sub(r"^\s*(failure \d+ of \d+: )?", "", lines[i - 1])
            body = []
            for more in lines[i + 1 :]:
                if more and not more.startswith("    "):
                    break
                body.append(more)
            found.append((head, textwrap.dedent("\n".join(body)).strip() + "\n"))
    return found


def _shape(text: str) -> str:
    """A message with its addresses and other large numbers blotted out."""
    return re.sub(r"0x[0-9a-f]+|\b\d{6,}\b", "N", text)


_CATCH = """
import sys
try:
    exec(sys.stdin.read())
except Exception as e:
    print(f"{type(e).__name__}: {e}")
else:
    print("ran clean")
"""


def _run_snippet(snippet: str) -> str:
    """Run a printed snippet as a user would; return the "Type: message" it ends with."""
    proc = subprocess.run(
        [sys.executable, "-c", _CATCH],
        input=snippet,
        capture_output=True,
        text=True,
        cwd=HERE,
        env=ENV,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize("bug", list(BUGS))
def test_each_bug_is_reported_root_first_with_snippets_that_reproduce(
    bug: str, campaigns: dict[str, subprocess.CompletedProcess[str]]
):
    proc = campaigns[bug]
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    headline = next(line for line in out.splitlines() if "FAILED after" in line)
    failures = _failures(out)
    assert failures, out
    assert any(
        f"first {exc}: " in headline
        and words in headline
        and failures[0][0].startswith(f"{exc}: ")
        and words in failures[0][0]
        for exc, words in BUGS[bug]
    ), out
    for head, snippet in failures:
        # The user's module is imported and their factory called as they named it.
        assert "import buggy_freelist\n" in snippet
        assert f"allocator = buggy_freelist.make_{bug}()\n" in snippet
        assert _shape(_run_snippet(snippet)) == _shape(head), snippet


def test_a_correct_allocator_passes(campaigns: dict[str, subprocess.CompletedProcess[str]]):
    proc = campaigns["ok"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 0 failed" in proc.stdout


def test_fuzz_without_hypothesis_says_how_to_get_it(tmp_path: Path):
    # A `hypothesis` package that cannot be imported stands for one not installed.
    (tmp_path / "hypothesis").mkdir()
    (tmp_path / "hypothesis" / "__init__.py").write_text("raise ImportError('not here')\n")
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(tmp_path), ENV["PYTHONPATH"]])}
    proc = subprocess.run(
        [sys.executable, "-m", "zheap", "fuzz", "arena"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "python -m zheap fuzz needs Hypothesis: pip install 'zheap[fuzz]' "
        "(from a clone: pip install -e '.[fuzz]')"
    ]


def test_an_unknown_factory_is_one_line():
    proc = _fuzz("buggy_freelist:make_nothing")
    assert proc.returncode != 0
    assert "cannot load 'buggy_freelist:make_nothing'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_operations_checks_what_the_teardown_checks():
    import buggy_freelist

    with pytest.raises(AssertionError, match="8 bytes were not given back") as e:
        run_operations(buggy_freelist.make_lost_header(), [("alloc", 1, 1)])
    note = "".join(getattr(e.value, "__notes__", []))
    assert "allocator = buggy_freelist.FreeList()" in note  # its class, called: no factory known
    with pytest.raises(AssertionError, match="never merged"):
        run_operations(buggy_freelist.make_no_coalescing(), [("alloc", 1, 1)])
    assert run_operations(buggy_freelist.make_ok(), [("alloc", 1, 1), ("alloc", 5, 8)]) == 2


def test_run_operations_checks_what_the_invariants_check():
    # Found by CI: the machine's layout() invariant hit the split's corrupt free list
    # (a KeyError in the user's _free_blocks), but the snippet replayed without calling
    # layout() and reported a teardown leak instead. Each invariant now runs in both.
    import buggy_freelist

    ops = [("alloc", 1, 1), ("dupe", b"\x00"), ("realloc", 0, 0), ("dupe", b"\x00")]
    ops += [("realloc", 1, 6), ("realloc", 2, 2), ("free", 1), ("alloc", 2, 1)]
    with pytest.raises(KeyError):
        run_operations(buggy_freelist.make_off_by_8_split(), ops)

    # A live count that disagrees with the model (blocks_are_sound).
    class Miscounts(zheap.examples.BumpAllocator):
        @property
        def live(self) -> int:
            return 7

    with pytest.raises(AssertionError, match="allocator.live is 7"):
        run_operations(Miscounts(), [("alloc", 8, 1)])

    # A layout() that omits a live block (layout_shows_every_block).
    class Hides(zheap.examples.BumpAllocator):
        def layout(self) -> dict[str, object]:
            return {"regions": []}

    with pytest.raises(AssertionError, match="layout\\(\\) lacks the live block"):
        run_operations(Hides(), [("alloc", 8, 1)])


def test_everything_back_allows_a_bump_allocator_and_the_examples():
    from zheap.examples import BumpAllocator, FirstFitAllocator

    for make in (BumpAllocator, FirstFitAllocator):
        a = make()
        views = [a.alloc(n, 16) for n in (10, 100, 1000)]
        for v in reversed(views):
            a.free(v)
        check_everything_back(a, getattr(a, "free_bytes", lambda: None)())
    check_everything_back(zheap.ArenaAllocator(), None)  # nothing to check: no free list


def test_teardown_checks_run_when_the_machine_runs_inside_an_except_block():
    # An exception being handled around the run is not a rule that failed in it.
    import buggy_freelist
    from hypothesis import settings
    from hypothesis.stateful import run_state_machine_as_test

    from zheap.testing.machine import AllocatorMachine

    machine = AllocatorMachine.for_allocator(buggy_freelist.make_lost_header, name="Lost")
    try:
        raise KeyError("handled around the run")
    except KeyError:
        with pytest.raises(AssertionError, match="were not given back"):
            run_state_machine_as_test(
                machine, settings=settings(max_examples=20, deadline=None, print_blob=False)
            )
