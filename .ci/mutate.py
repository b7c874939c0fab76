"""Mutation check: break the safety code by hand, one change at a time, and expect red.

Each mutant is a one-line change to a source file that a test must catch (issue 13's list
of breakages the suite once missed, and the rules of the gate it introduced). For each, the
tree is copied, the change applied, the extension (or the C core) rebuilt, and the tests
named run; a mutant that leaves them green is reported and the script exits 1.

    python .ci/mutate.py            # every mutant
    python .ci/mutate.py NAME...    # some of them
    python .ci/mutate.py --list
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    """One hand-made breakage: `old` becomes `new` in `path`; `tests` must then fail."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]  # pytest arguments, or ("make", target) for the C core
    every: bool = False  # change every occurrence, not exactly one
    also: tuple[tuple[str, str], ...] = ()  # further (old, new) changes in the same file


PY = sys.executable
MUTANTS = [
    Mutant(
        "guard_all ignores a slice that outlives its released view",
        "csrc/ext/block.c",
        "} else if (b->exports > 0) {",
        "} else if (0) {",
        ("tests/test_gate.py", "tests/test_api.py"),
    ),
    Mutant(
        "guard ignores a direct export of the view (PickleBuffer)",
        "csrc/ext/block.c",
        "    if (mv->exports > 0) {",
        "    if (0) {",
        ("tests/test_gate.py",),
    ),
    Mutant(
        "a Python allocator's _resize is not range-checked",
        "csrc/ext/pyalloc.c",
        'check_range(self, "_resize", (uintptr_t)mem, new_len, zh_alignment_bytes(al), lr) == 0',
        "1",
        ("tests/test_gate.py", "tests/test_toolkit.py"),
    ),
    Mutant(
        "add_region's bound is off by one",
        "csrc/ext/pyalloc.c",
        "len <= py->regions[i].len - (addr - b);",
        "len <= py->regions[i].len - (addr - b) + 1;",
        ("tests/test_gate.py", "tests/test_toolkit.py"),
    ),
    Mutant(
        "create() ignores ctypes.alignment",
        "csrc/ext/allocator.c",
        "zx_parse_alignment(self, align_obj, &al) < 0)\n        goto done;",
        "(al = 0, 0))\n        goto done;",
        ("tests/test_gate.py", "tests/test_api.py"),
    ),
    Mutant(
        "largest_free_run ignores the allocator's free blocks",
        "csrc/ext/layout.c",
        "if (items[j].len > *largest) *largest = items[j].len;",
        "(void)0;",
        ("tests/test_gate.py", "tests/test_layout.py"),
    ),
    Mutant(
        "page allocator remap loses a large alignment",
        "csrc/page_allocator.c",
        "if (zh_alignment_bytes(al) > page) may_move = false;",
        "(void)al;",
        ("tests/test_gate.py",),
    ),
    Mutant(
        "ThreadSafeAllocator without its mutex",
        "csrc/thread_safe_allocator.c",
        "zh_mutex_lock(&self->mutex);",
        "(void)0;",
        ("make", "tsan"),
        every=True,
        also=(("zh_mutex_unlock(&self->mutex);", "(void)0;"),),
    ),
    Mutant(
        "re-entry into a busy stack passes as the operation's own path",
        "csrc/ext/stack.c",
        "if (nested_ok && in_act) return 0;",
        "return 0;",
        ("tests/test_safety.py",),
    ),
    Mutant(
        "a free while a collection runs (3.11) gives the memory back at once",
        "csrc/ext/allocator.c",
        "if (b->len != 0 && zx_collecting()) {",
        "if (b->len != 0 && 0) {",
        ("tests/test_safety.py",),
        every=True,
    ),
    Mutant(
        "a reset while a collection runs (3.11) is not refused",
        "csrc/ext/block.c",
        "(!t->garbage && zx_refuse_in_collection(what) < 0)",
        "(0)",
        ("tests/test_safety.py",),
    ),
    Mutant(
        "the next operation frees a freed block that a late copy still shows",
        "csrc/ext/block.c",
        "while (b != NULL && b->mbuf != NULL && b->mbuf->exports > 0) b = b->next;",
        "(void)0;",
        ("tests/test_safety.py",),
    ),
    Mutant(
        "reset drops the views' references before its act",
        "csrc/ext/block.c",
        "t->bulk[t->nbulk++] = b->view;",
        "Py_DECREF(b->view);",
        ("tests/test_safety.py",),
    ),
    Mutant(
        "FixedBufferAllocator.reset forgets its thread-safe interfaces",
        "csrc/ext/fixed_buffer.c",
        "(void)zx_retire_all(&t, &i->base);",
        "(void)i;",
        ("tests/test_safety.py", "tests/test_composable.py"),
    ),
    Mutant(
        "a capsule wrapper does not pin what it wraps",
        "csrc/ext/capsule.c",
        "        zx_pin_child(&self->base, owner);",
        "        (void)owner;",
        ("tests/test_safety.py",),
    ),
    Mutant(
        "the teardown in tp_finalize leaves the views live",
        "csrc/ext/owner.c",
        'zx_txn_begin_bulk(&t, "tear the allocator down") == 0',
        "zx_txn_begin(&t) == 0",
        ("tests/test_safety.py::test_teardown_in_tp_finalize_is_a_deinit",),
    ),
    Mutant(
        "numpy array data does not pin its allocator",
        "csrc/ext/block.c",
        "    if (self->lent.n > 0) {",
        "    if (0) {",
        ("tests/test_numpy.py",),
    ),
    Mutant(
        "the numpy handler's realloc keeps the old length",
        "csrc/ext/numpy_handler.c",
        "    np_put(t, (uintptr_t)p, new_len);",
        "    np_put(t, (uintptr_t)p, old_len);",
        ("tests/test_numpy.py",),
    ),
    Mutant(
        "numpy takes an allocator that runs Python code",
        "csrc/ext/numpy_handler.c",
        "    if (a->runs_python) {",
        "    if (0) {",
        ("tests/test_numpy.py",),
    ),
    Mutant(
        "an allocator drawing from Python code is not marked as running it",
        "csrc/ext/owner.c",
        "    self->runs_python = self->runs_python || ZxAllocator_CAST(child)->runs_python;",
        "",
        ("tests/test_numpy.py",),
    ),
    Mutant(
        "DebugAllocator.raw_free frees a numpy array's data",
        "csrc/ext/debug.c",
        "    bool lent = !viewed && zx_numpy_holds(&self->base, target);",
        "    bool lent = false;",
        ("tests/test_numpy.py",),
    ),
]


def copy_tree(dest: Path) -> None:
    """Copy the work tree's files (tracked and new, not ignored) to `dest`."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / os.fsdecode(name)
        if src.is_file() and src.suffix != ".so":
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def run_mutant(m: Mutant, work: Path) -> tuple[bool, str]:
    """Apply `m` in a fresh copy under `work`; True when the tests went red."""
    tree = work / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    copy_tree(tree)
    source = tree / m.path
    text = source.read_text()
    if text.count(m.old) < 1 or (text.count(m.old) > 1 and not m.every):
        return False, f"the line to change is not found exactly once in {m.path}"
    text = text.replace(m.old, m.new)
    for old, new in m.also:
        if old not in text:
            return False, f"{old!r} is not in {m.path}"
        text = text.replace(old, new)
    source.write_text(text)
    env = dict(os.environ, CFLAGS="-O1", HYPOTHESIS_PROFILE="dev", PYTHONDONTWRITEBYTECODE="1")
    if m.tests[0] == "make":
        cmd = ["make", "-C", "csrc", m.tests[1]]
    else:
        build = subprocess.run(
            [PY, "setup.py", "-q", "build_ext", "--inplace", "-j", "2"],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
        )
        if build.returncode != 0:
            return True, "the change does not build"
        cmd = [PY, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *m.tests]
    try:
        r = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        return True, "timed out"
    last = (r.stdout.strip().splitlines() or ["(no output)"])[-1]
    return r.returncode != 0, last


def main(argv: list[str]) -> int:
    """Run the mutants named in `argv` (all by default); 1 if any survived."""
    if argv[:1] == ["--list"]:
        for m in MUTANTS:
            print(m.name)
        return 0
    chosen = [m for m in MUTANTS if not argv or any(a in m.name for a in argv)]
    survivors = 0
    with tempfile.TemporaryDirectory(prefix="zheap-mutate-") as tmp:
        for m in chosen:
            t = time.perf_counter()
            killed, detail = run_mutant(m, Path(tmp))
            survivors += not killed
            verdict = "killed " if killed else "SURVIVED"
            print(f"{verdict} {m.name} ({time.perf_counter() - t:.0f} s): {detail}", flush=True)
    print(f"mutants: {len(chosen) - survivors} of {len(chosen)} killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
