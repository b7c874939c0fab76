"""The guided tour: every chapter runs to the end, one chapter alone, pictures."""

import os
import signal
import subprocess
import sys
import time

import pytest

from zheap import tour


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
        assert sizes[:4] == ["14.9", "4.1", "758", "183"]  # newest first


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
