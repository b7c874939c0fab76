"""The guided tour: every chapter runs to the end, one chapter alone, pictures."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zheap import tour

ROOT = Path(__file__).resolve().parents[1]


def run(*args, **env):
    return subprocess.run(
        [sys.executable, "-m", "zheap", *args],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
    )


def test_the_whole_tour_runs_without_pausing():
    r = run("--no-pause")
    assert r.returncode == 0, r.stderr
    for name in tour.CHAPTERS:
        assert tour.CHAPTERS[name].__doc__
    for heading in (
        "PageAllocator:",
        "ArenaAllocator:",
        "FixedBufferAllocator:",
        "MemoryPool:",
        "DebugAllocator:",
        "SmpAllocator:",
        "StackFallbackAllocator:",
        "Traces:",
    ):
        assert heading in r.stdout  # fmt: skip
    assert "DoubleFreeError" in r.stdout and "first freed at:" in r.stdout
    assert "legend:" in r.stdout and "\x1b[" not in r.stdout  # not a terminal: plain text


def test_one_chapter(capsys):
    assert tour.main(["pool", "--no-pause"]) == 0
    out = capsys.readouterr().out
    assert "MemoryPool:" in out and "ArenaAllocator:" not in out
    assert run("tour", "arena", "--no-pause").returncode == 0


def test_unknown_chapter_is_refused():
    r = run("tour", "nope")
    assert r.returncode == 2 and "no chapter nope" in r.stderr


def test_png_pictures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert tour.main(["fixed_buffer", "trace", "--no-pause", "--png", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["fixed_buffer-1.png", "fixed_buffer-2.png", "trace-timeline.png"]
    for p in tmp_path.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote 3 pictures to {tmp_path}" in capsys.readouterr().out


def test_arena_chapter_shows_four_chunks_every_time(capsys):
    # malloc never grows a chunk in place: four chunks whatever else the process mapped.
    for _ in range(2):
        assert tour.main(["arena", "--no-pause", "--width", "80"]) == 0
        out = capsys.readouterr().out
        assert "4 regions, 4 live blocks" in out
        assert "malloc refused 3 times" in out and "199, 774, 4186, 15304 bytes" in out
        sizes = [line.split()[2] for line in out.splitlines() if line.startswith("chunk 0x")]
        assert sizes[:4] == ["14.9", "4.1", "774", "199"]  # newest first, as malloc gave them


def test_replay_chapter_ignores_slabs_of_earlier_chapters():
    def smp_row(*chapters):
        r = run("tour", *chapters, "--no-pause")
        assert r.returncode == 0, r.stderr
        (row,) = [line for line in r.stdout.splitlines() if line.startswith("  SmpAllocator")]
        return row

    alone = smp_row("trace")
    assert smp_row("smp", "trace") == alone
    assert "reserved   131072 B" in alone  # two slabs: the 32- and 128-byte classes


def test_the_tour_fits_80_columns():
    r = run("--no-pause", COLUMNS="80")
    assert r.returncode == 0, r.stderr
    long = [line for line in r.stdout.splitlines() if len(line) > 80]
    assert long == []
    assert "slots of 128 B" in r.stdout and "# tour.py:" in r.stdout  # suffixes, short paths


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")
def test_ctrl_c_ends_the_tour_quietly():
    import pty
    import select

    # On a terminal the tour pauses after the first map; Ctrl-C ends it with status 130.
    main, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "zheap", "tour", "page"],
        stdin=secondary,
        stdout=secondary,
        stderr=subprocess.PIPE,
    )
    os.close(secondary)
    try:
        seen, deadline = b"", time.monotonic() + 60
        while b"unused" not in seen and time.monotonic() < deadline:  # the map's legend
            if select.select([main], [], [], 1)[0]:
                seen += os.read(main, 4096)
        assert b"unused" in seen
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()  # type: ignore[union-attr]
        os.close(main)


def _boxes(layout, name):
    from zheap import viz

    return [s for r in layout["regions"] for s in viz._segments(r) if s.state == name]


def test_pictures_show_what_their_captions_say(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_rgba

    from zheap import viz

    t = tour.Tour(pause=False, png_dir=str(tmp_path), width=80)
    for chapter in tour.CHAPTERS.values():
        chapter(t)
    capsys.readouterr()
    docs = ROOT / "docs"
    # docs/img is what the tour draws (python docs/make_pictures.py), and every picture a
    # page shows exists.
    assert sorted(p.name for p in (docs / "img").glob("*.png")) == sorted(
        os.path.basename(p) for p in t.pictures
    )
    for page in docs.rglob("*.md"):
        for name in re.findall(r"\(\.\./img/([^)]+)\)|\(img/([^)]+)\)", page.read_text()):
            assert (docs / "img" / "".join(name)).exists(), (page, name)
    got = t.layouts

    # debug-1: "the freed 8-byte slot (red)" is a box wide enough to see.
    (freed,) = _boxes(got["debug-1"], "freed")
    assert freed.length == 8
    fig = viz.plot(got["debug-1"], figsize=(9, 3), dpi=80)
    (box,) = [p for p in fig.axes[0].patches if p.get_facecolor() == to_rgba("#e57373")]
    assert box.get_width() * 9 * 0.6 * 80 > 20  # at least 20 pixels of a ~0.6-wide axes
    assert "8 B" in [x.get_text() for x in fig.axes[0].texts]
    # arena-1: "four chunks, newest on top, as malloc gave them: 14.9 KiB, 4.1 KiB, 774 B
    # and 199 B, each starting with its 16-byte header".
    assert [r["size"] for r in got["arena-1"]["regions"]] == [15304, 4186, 774, 199]
    assert len(_boxes(got["arena-1"], "metadata")) == 4
    assert len(_boxes(got["arena-1"], "hole")) == 3  # the rest of each older chunk
    # arena-2: "one empty chunk of 4 KiB usable bytes (4112 with its header)".
    assert got["arena-2"]["regions"][0]["size"] == 4096 + 16 and got["arena-3"]["regions"] == []
    # fixed_buffer-1/2: 8 bytes of padding, then b's hole, unlike the unused tail;
    # end_index 138, then 108.
    for name, end in (("fixed_buffer-1", 138), ("fixed_buffer-2", 108)):
        (buffer,) = got[name]["regions"]
        (hole,) = _boxes(got[name], "hole")
        (padding,) = _boxes(got[name], "padding")
        assert buffer["used"] == end and (hole.offset, hole.length) == (48, 60)
        assert (padding.offset, padding.length) == (40, 8)
    # wasm-1: slot sizes 32 and 128 labelled, the freed 128-byte slot free at the start.
    wasm = got["wasm-1"]["regions"]
    assert [r.get("size_class") for r in wasm] == [32, 128, None]
    (free,) = _boxes(got["wasm-1"], "free")
    assert (free.offset, free.length) == (0, 128)
    # smp-1: a mapping and four slabs of the classes 1024, 128, 32 and 8 (slabs are the
    # process's: this one's earlier tests may have left others, with free slots only).
    smp = [r for r in got["smp-1"]["regions"] if any(b["state"] == "live" for b in r["blocks"])]
    assert [r["kind"] for r in smp] == ["mapping"] + ["slab"] * 4
    assert sorted(r["size_class"] for r in smp[1:]) == [8, 32, 128, 1024]
    # pool-1/2: three live and three free items, then one more live.
    for name, live in (("pool-1", 3), ("pool-2", 4)):
        assert len(_boxes(got[name], "live")) == live
        assert len(_boxes(got[name], "free")) == 6 - live
    # page-1: 100 live bytes and the padding to the end of each page.
    assert [(len(r["blocks"]), r["blocks"][0]["length"]) for r in got["page-1"]["regions"]] == [
        (2, 100),
        (2, 100),
    ]
    # fallback-1: three blocks in the buffer, one in the arena's first chunk (93 usable
    # bytes after its 16-byte header).
    buffer, chunk = got["fallback-1"]["regions"]
    assert len(_boxes({"regions": [buffer]}, "live")) == 3 and chunk["size"] == 16 + 93


def test_png_without_matplotlib_is_one_line(tmp_path):
    # A `matplotlib` package that cannot be imported stands for one not installed.
    import os
    import subprocess
    import sys

    (tmp_path / "matplotlib").mkdir()
    (tmp_path / "matplotlib" / "__init__.py").write_text("raise ImportError('not here')\n")
    path = os.pathsep.join([str(tmp_path), *filter(None, sys.path)])
    env = {**os.environ, "PYTHONPATH": path}
    hint = "needs matplotlib: pip install 'zheap[viz]' (from a clone: pip install -e '.[viz]')"
    for cmd in (["tour", "arena", "--no-pause"], ["lab", "-a", "arena", "--ops", "100"]):
        proc = subprocess.run(
            [sys.executable, "-m", "zheap", *cmd, "--png", str(tmp_path / "out")],
            capture_output=True,
            text=True,
            env=env,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines() == [f"python -m zheap {cmd[0]} --png {hint}"]


def test_a_long_step_pauses_before_it_scrolls_off_a_24_row_screen(monkeypatch, capsys):
    prompts: list[tuple[str, int]] = []
    printed = 0

    def fake_input(prompt: str = "") -> str:
        prompts.append((prompt, len(capsys.readouterr().out.splitlines())))
        return ""

    monkeypatch.setattr("builtins.input", fake_input)
    monkeypatch.setenv("LINES", "24")
    monkeypatch.setenv("COLUMNS", "80")
    t = tour.Tour(pause=True, png_dir=None)
    t.say("\n\n".join(f"paragraph {i}" for i in range(30)))  # 59 lines
    t.wait()
    printed = len(capsys.readouterr().out.splitlines())
    mores = [p for p in prompts if p[0] == "   [Enter: more] "]
    assert len(mores) == 2 and all(lines <= 22 for _, lines in mores), prompts
    assert prompts[-1][0] == "   [Enter] " and printed <= 22
    quiet = tour.Tour(pause=False, png_dir=None)
    quiet.say("\n\n".join(f"paragraph {i}" for i in range(30)))
    assert len(prompts) == 3  # not pausing: no prompt at all
