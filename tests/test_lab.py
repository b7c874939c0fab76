"""The malloc lab (zheap.lab): .rep traces, mdriver's checks and scores, the CLI."""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import zheap
import zheap.lab as lab
from zheap.examples import FirstFitAllocator

# A trace in CS:APP's format, as the course ships them: four header numbers, then ops.
CSAPP_STYLE = """\
20000
4
9
1
a 0 2040
a 1 2040
f 1
a 2 48
a 3 4072
f 3
r 0 4000
f 0
f 2
"""


def test_reads_a_csapp_trace_unmodified_and_writes_it_back():
    t = lab.RepTrace.loads(CSAPP_STYLE, name="short1-bal")
    assert (t.heap_hint, t.num_ids, len(t), t.weight) == (20000, 4, 9, 1)
    assert t.ops[0] == lab.Op("a", 0, 2040) and t.ops[2] == lab.Op("f", 1)
    assert t.ops[6] == lab.Op("r", 0, 4000)
    assert t.dumps() == CSAPP_STYLE
    assert lab.RepTrace.loads(t.dumps()).ops == t.ops


def test_reads_a_rep_file_and_a_directory_from_disk(tmp_path: Path):
    (tmp_path / "one.rep").write_text(CSAPP_STYLE)
    (tmp_path / "two.rep").write_text("0\n1\n2\n1\n\n# a comment\na 0 1\nf 0\n")
    assert lab.RepTrace.load(tmp_path / "one.rep").name == "one"
    out = io.StringIO()
    assert lab.main([str(tmp_path), "-a", "arena", "--jobs", "1"], out=out) == 0
    text = out.getvalue()
    assert "one" in text and "two" in text and "Perf index =" in text


@pytest.mark.parametrize(
    "text, message",
    [
        ("1\n2\n", "starts with four header numbers"),
        ("x\n1\n1\n1\na 0 1\n", "the header is four integers"),
        ("0\n1\n1\n1\nm 0 1\n", "'a ID SIZE', 'r ID SIZE' or 'f ID'"),
        ("0\n1\n1\n1\na 0\n", "'a ID SIZE'"),
        ("0\n1\n1\n1\nf 0\n", "block 0 is not allocated"),
        ("0\n1\n2\n1\na 0 8\na 0 8\n", "block 0 is allocated already"),
        ("0\n1\n1\n1\na 0 -8\n", "not negative"),
    ],
)
def test_a_malformed_trace_names_its_line(text: str, message: str):
    with pytest.raises(ValueError, match="t:") as e:
        lab.RepTrace.loads(text, name="t")
    assert message in str(e.value)


@pytest.mark.parametrize("shape", list(lab.SHAPES))
def test_generated_traces_are_deterministic_and_free_everything(shape: str):
    a, b = lab.generate(shape, seed=3, ops=600), lab.generate(shape, seed=3, ops=600)
    assert a.ops == b.ops and a.name == f"{shape}-3"
    assert lab.generate(shape, seed=4, ops=600).ops != a.ops or shape in ("binary", "coalescing")
    assert 300 <= len(a) <= 700
    again = lab.RepTrace.loads(a.dumps())  # only valid traces load
    live: set[int] = set()
    for op in again.ops:
        (live.discard if op.kind == "f" else live.add)(op.id)
    assert not live


def test_generate_refuses_what_it_cannot_make():
    with pytest.raises(ValueError, match="unknown shape"):
        lab.generate("fractal")
    with pytest.raises(ValueError):
        lab.generate("random", ops=1)


@pytest.mark.parametrize("factory", [zheap.ArenaAllocator, zheap.DebugAllocator, FirstFitAllocator])
def test_run_checks_scores_and_times_an_allocator(factory):
    t = lab.generate("random", seed=1, ops=800)
    r = lab.run(factory, t, timing_passes=1)
    assert r.valid, r.error
    assert r.util is not None and 0 < r.util <= 1
    assert r.peak_footprint is not None and r.peak_footprint >= r.peak_payload > 0
    assert r.secs > 0 and r.kops > 0 and r.ops == len(t)
    assert r.samples and all(fp >= 0 for _, _, fp in r.samples)


def test_util_is_peak_payload_over_peak_footprint():
    # One 100-byte block in a fixed buffer of 1000 bytes: 10 %.
    t = lab.RepTrace.loads("0\n1\n2\n1\na 0 100\nf 0\n")
    r = lab.run(lambda: zheap.FixedBufferAllocator(1000), t, timing_passes=1)
    assert (r.peak_payload, r.peak_footprint) == (100, 1000)
    assert r.util == pytest.approx(0.1)


def test_the_c_library_heap_has_no_measured_footprint():
    r = lab.run(zheap.c_allocator, lab.generate("short", seed=1, ops=200), timing_passes=1)
    assert r.valid and r.util is None and r.peak_footprint is None
    assert lab.perf_index([r], 1000.0) is None


def test_perf_index_weights_util_60_and_throughput_40():
    r = lab.LabResult(trace="t", ops=1000, valid=True, util=0.5, secs=0.001)  # 1000 Kops
    u, t = lab.perf_index([r], baseline_kops=2000.0)  # type: ignore[misc]
    assert (u, t) == (pytest.approx(30.0), pytest.approx(20.0))
    u, t = lab.perf_index([r], baseline_kops=10.0)  # type: ignore[misc]
    assert t == pytest.approx(40.0)  # throughput is capped at the baseline's


class Overlapping(FirstFitAllocator):
    """Hands the previous block out again: a bug the binding's contract check sees."""

    def _alloc(self, length: int, alignment: int) -> int | None:
        """Allocate, then give the second block the first one's address."""
        address = super()._alloc(length, alignment)
        if address is not None and getattr(self, "first", None) is None:
            self.first = address
        elif address is not None and length <= 16:
            return self.first
        return address


class LosingRealloc(FirstFitAllocator):
    """Moves a block on remap without copying it: realloc loses the contents."""

    def _remap(self, address: int, length: int, alignment: int, new_length: int) -> int | None:
        """Move to a fresh block and forget to copy."""
        new = super()._alloc(new_length, alignment)
        if new is not None:
            super()._free(address, length, alignment)
        return new


def test_an_overlapping_allocator_is_invalid_at_the_op_that_overlapped():
    t = lab.RepTrace.loads("0\n2\n4\n1\na 0 32\na 1 8\nf 1\nf 0\n")
    r = lab.run(Overlapping, t)
    assert not r.valid and r.failed_op == 1
    assert "op 1 (a 1 8)" in r.error and "overlaps" in r.error
    assert r.reproduction and "allocator = lambda: test_lab.Overlapping()" in r.reproduction


def test_a_reproduction_without_a_source_is_a_script_to_complete():
    t = lab.RepTrace.loads("0\n2\n4\n1\na 0 600\na 1 600\nf 1\nf 0\n")
    r = lab.run(zheap.FixedBufferAllocator(1000), t)  # an instance: no source remakes it
    assert not r.valid and r.reproduction
    ast.parse(r.reproduction)  # the placeholder's comment does not swallow the call
    assert "allocator = ...  # the allocator you ran" in r.reproduction


def test_a_realloc_that_loses_contents_is_invalid_and_its_reproduction_runs(tmp_path: Path):
    t = lab.RepTrace.loads("0\n1\n3\n1\na 0 64\nr 0 4096\nf 0\n")
    r = lab.run(LosingRealloc, t)
    assert not r.valid and r.failed_op == 1
    assert "byte 0 of its payload changed" in r.error
    script = tmp_path / "repro.py"
    script.write_text(r.reproduction or "")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == r.error


def test_running_out_of_memory_is_a_failure_as_in_mdriver():
    t = lab.RepTrace.loads("0\n2\n4\n1\na 0 600\na 1 600\nf 1\nf 0\n")
    r = lab.run(lambda: zheap.FixedBufferAllocator(1000), t)
    assert not r.valid and r.failed_op == 1 and "MemoryError" in (r.error or "")


def test_a_recording_becomes_a_rep_trace_and_back():
    arena = zheap.ArenaAllocator()
    with zheap.trace(arena) as rec:
        a = arena.alloc(100)
        b = arena.alloc(30)
        b = arena.realloc(b, 60)
        arena.free(a)
        arena.alloc(7)
        arena.reset("free_all")
    t = lab.RepTrace.from_events(rec)
    assert [op.kind for op in t.ops] == ["a", "a", "r", "f", "a", "f", "f"]
    assert t.ops[2] == lab.Op("r", 1, 60)
    back = lab.RepTrace.loads(t.dumps()).to_events(zheap.ArenaAllocator())
    assert [e.op for e in back.top_level()][:2] == ["alloc", "alloc"]
    assert lab.RepTrace.from_events(back).ops[:2] == t.ops[:2]


def test_cli_scores_builtins_and_a_users_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "student.py").write_text(
        textwrap.dedent(
            """
            import os
            from zheap.examples import FirstFitAllocator
            def make():
                return FirstFitAllocator(1 << 18)
            class Crashing(FirstFitAllocator):
                def _alloc(self, length, alignment):
                    if length > 3000: os.abort()
                    return super()._alloc(length, alignment)
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    status = lab.main(
        ["-a", "smp", "-a", "student:make", "-a", "student:Crashing", "--ops", "300"], out=out
    )
    text = out.getvalue()
    assert status == 1, text
    assert "Results for smp (zheap.smp_allocator)" in text
    assert "Results for student:make (student.make())" in text
    assert text.count("Perf index =") == 2  # smp and the student's; the crashing one has none
    assert "the process ended with signal 6" in text
    assert "throughput scored against zheap.c_allocator" in text


def test_cli_generates_traces_that_load(tmp_path: Path):
    out = io.StringIO()
    assert lab.main(["--generate", str(tmp_path), "--ops", "200"], out=out) == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == sorted(f"{s}-1.rep" for s in lab.SHAPES)
    for f in files:
        assert len(lab.RepTrace.load(tmp_path / f)) > 0


def test_cli_reproduction_runs_from_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "mine.py").write_text(
        "import zheap\ndef small():\n    return zheap.FixedBufferAllocator(1000)\n"
    )
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert lab.main(["-a", "mine:small", "--ops", "100"], out=out) == 1
    scripts = re.findall(r"python (\S+\.py)", out.getvalue())
    assert scripts, out.getvalue()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    zheap_root = str(Path(zheap.__file__).resolve().parent.parent)
    proc = subprocess.run(
        [sys.executable, scripts[0]],
        capture_output=True,
        text=True,
        cwd=elsewhere,  # the student's module is not next to the script, nor in the cwd
        env={**os.environ, "PYTHONPATH": zheap_root},
    )
    assert proc.returncode == 0, proc.stderr
    assert "out of memory" in proc.stdout


def test_cli_is_listed_in_the_top_level_help():
    proc = subprocess.run(
        [sys.executable, "-m", "zheap", "--help"], capture_output=True, text=True, check=True
    )
    assert "lab " in proc.stdout and "python -m zheap lab" in proc.stdout


def test_plot_draws_payload_and_each_footprint(tmp_path: Path):
    pytest.importorskip("matplotlib")
    t = lab.generate("mixed", seed=2, ops=400)
    results = {
        "arena": lab.run(zheap.ArenaAllocator, t, timing_passes=1),
        "c": lab.run(zheap.c_allocator, t, timing_passes=1),  # no footprint: left out
    }
    fig = lab.plot(t, results)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels[0] == "payload" and labels[1].startswith("arena (util ") and len(labels) == 2
    assert lab.plot(t, results, tmp_path / "u.png") == tmp_path / "u.png"
    assert (tmp_path / "u.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = io.StringIO()
    assert lab.main(["-a", "arena", "--ops", "200", "--png", str(tmp_path / "p")], out=out) == 0
    assert sorted(os.listdir(tmp_path / "p")) == sorted(f"util-{s}-1.png" for s in lab.SHAPES)


def test_a_c_allocator_through_a_capsule_is_scored():
    # What a student's C allocator looks like to the lab: a zh_allocator in a capsule.
    def make() -> zheap.Allocator:
        return zheap.Allocator.from_capsule(zheap.ArenaAllocator().capsule())

    r = lab.run(make, lab.generate("short", seed=1, ops=300), timing_passes=1)
    assert r.valid, r.error
    assert r.kops > 0


def test_zero_timing_passes_only_checks():
    r = lab.run(zheap.ArenaAllocator, lab.generate("short", seed=1, ops=100), timing_passes=0)
    assert r.valid and r.secs == 0.0 and r.kops == 0.0 and r.util is not None
