"""zheap.testing as a toolkit: allocators written in Python and in C, FailingAllocator,
checkAllAllocationFailures, and the state machine catching broken allocators."""

import ctypes
import datetime
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.stateful import run_state_machine_as_test

import zheap
from zheap import testing
from zheap.examples import BumpAllocator, FirstFitAllocator
from zheap.testing import strategies
from zheap.testing.machine import AllocatorMachine, MemoryPoolMachine

# --- allocators written in Python: the binding checks every address -------------------


class _Base(BumpAllocator):
    """A bump allocator to break in different ways."""

    def __init__(self):
        super().__init__(1 << 16, zheap.PageAllocator())


def test_python_allocator_is_a_full_allocator():
    a = FirstFitAllocator(1 << 16, zheap.PageAllocator())
    v = a.alloc(100, 64)
    assert zheap.address_of(v) % 64 == 0 and a.live == 1
    assert repr(a) == "<zheap.examples.first_fit.FirstFitAllocator live=1 regions=1>"
    v[:] = b"x" * 100
    a.free(v)
    with pytest.raises(ValueError, match="(?i)double free"):
        a.free(v)
    # It can back the other allocators.
    with zheap.ArenaAllocator(a) as arena:
        arena.alloc(1000)
    with zheap.MemoryPool(24, child=a) as pool:
        pool.create()
    assert a.free_bytes() == 1 << 16


def test_abstract_and_incomplete_subclasses():
    with pytest.raises(TypeError, match="abstract"):
        zheap.Allocator()

    class NoFree(zheap.Allocator):
        def _alloc(self, length, alignment):
            return None

    with pytest.raises(TypeError, match="_free"):
        NoFree()
    with pytest.raises(TypeError, match="for allocators written in Python"):
        zheap.c_allocator.add_region(bytearray(8))


@pytest.mark.parametrize(
    ("result", "match"),
    [
        (lambda self, n, al: self.start + 1, "not aligned to 8"),
        (lambda self, n, al: self.start - 4096, "not inside the memory given with add_region"),
        (lambda self, n, al: self.end, "not inside"),
        (lambda self, n, al: "here", "must return an int"),
    ],
    ids=["misaligned", "below", "past-end", "not-int"],
)
def test_contract_violations_are_named(result, match):
    class Broken(_Base):
        def _alloc(self, length, alignment):
            return result(self, length, alignment)

    a = Broken()
    with pytest.raises((zheap.AllocatorContractError, TypeError), match=match):
        a.alloc(8, 8)
    assert a.live == 0


def test_overlap_names_both_blocks():
    class Overlapping(_Base):
        def _alloc(self, length, alignment):
            return self.start  # always the same address

    a = Overlapping()
    first = a.alloc(16)
    with pytest.raises(zheap.AllocatorContractError) as info:
        a.alloc(16)
    assert f"overlaps the live block at {zheap.address_of(first):#x} (16 bytes)" in str(info.value)
    assert isinstance(info.value, zheap.ZigPanic)
    a.free(first)
    second = a.alloc(16)  # freed: the address may be reused
    a.free(second)


def test_exceptions_propagate_also_through_stacked_allocators():
    class Raises(_Base):
        armed = False

        def _alloc(self, length, alignment):
            if self.armed:
                raise KeyError("from _alloc")
            return super()._alloc(length, alignment)

        def _resize(self, address, length, alignment, new_length):
            if self.armed:
                raise KeyError("from _resize")
            return super()._resize(address, length, alignment, new_length)

        def _free(self, address, length, alignment):
            if self.armed:
                raise LookupError("from _free")
            super()._free(address, length, alignment)

    a = Raises()
    a.armed = True
    with pytest.raises(KeyError):
        a.alloc(8)
    a.armed = False
    v = a.alloc(8)
    a.armed = True
    with pytest.raises(LookupError):
        a.free(v)
    with pytest.raises(ValueError):
        v.tobytes()  # the view is gone all the same
    a.armed = False
    arena = zheap.ArenaAllocator(a)
    arena.alloc(10)
    a.armed = True
    with pytest.raises(KeyError, match="_resize"):
        arena.alloc(1 << 15)  # the arena asks its child to grow the chunk, then for a new one
    with pytest.raises(LookupError):
        arena.deinit()  # the child's _free raises while the arena gives chunks back
    pool = zheap.MemoryPool(8, child=a)
    with pytest.raises(KeyError):
        pool.create()


def test_region_memory_cannot_be_freed_while_registered():
    a = BumpAllocator(4096)
    with pytest.raises(BufferError):
        zheap.page_allocator.free(a.memory)


def test_gc_of_a_python_allocator_with_live_views_does_not_crash():
    code = textwrap.dedent(
        """
        import gc, zheap
        from zheap.examples import FirstFitAllocator
        for _ in range(50):
            a = FirstFitAllocator(1 << 16, zheap.PageAllocator())
            views = [a.alloc(100) for _ in range(5)]
            a.cycle = a
            fba = zheap.FixedBufferAllocator(memoryview(bytearray(4096)))
            fba.alloc(10)
            del a, views, fba
            gc.collect()
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# --- capsules: allocators for and from C -------------------------------------------------


def test_capsule_roundtrip():
    cap = zheap.c_allocator.capsule()
    a = zheap.Allocator.from_capsule(cap, max_alignment=64)
    assert isinstance(a, zheap.CapsuleAllocator) and a.max_alignment == 64
    v = a.alloc(100, 64)
    assert zheap.address_of(v) % 64 == 0
    a.free(v)
    # A Python allocator through C and back: the trampolines hold the GIL.
    py = zheap.Allocator.from_capsule(FirstFitAllocator(1 << 20, zheap.PageAllocator()).capsule())
    testing.test_allocator(py)
    with pytest.raises(TypeError, match="expects a PyCapsule"):
        zheap.Allocator.from_capsule(ctypes.pythonapi.PyCapsule_New)  # not a capsule
    with pytest.raises(ValueError):  # a capsule, of another name
        zheap.Allocator.from_capsule(datetime.datetime_CAPI)


_TINY_C = r"""
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
/* A tiny bump allocator in C, in zheap.h's vtable layout. */
typedef struct { void *(*alloc)(void *, size_t, uint8_t, uintptr_t);
                 bool (*resize)(void *, void *, size_t, uint8_t, size_t, uintptr_t);
                 void *(*remap)(void *, void *, size_t, uint8_t, size_t, uintptr_t);
                 void (*free)(void *, void *, size_t, uint8_t, uintptr_t); } vtable;
typedef struct { void *ctx; const vtable *vt; } allocator;
static _Alignas(4096) unsigned char heap[1 << 20];
static size_t used;
static void *tiny_alloc(void *c, size_t n, uint8_t al, uintptr_t ra) {
    (void)c; (void)ra;
    size_t a = (size_t)1 << al, start = (used + a - 1) & ~(a - 1);
    if (start + n > sizeof heap) return NULL;
    used = start + n;
    return heap + start;
}
static bool tiny_resize(void *c, void *m, size_t n, uint8_t al, size_t nn, uintptr_t ra) {
    (void)c; (void)m; (void)n; (void)al; (void)nn; (void)ra; return false;
}
static void *tiny_remap(void *c, void *m, size_t n, uint8_t al, size_t nn, uintptr_t ra) {
    (void)c; (void)m; (void)n; (void)al; (void)nn; (void)ra; return NULL;
}
static void tiny_free(void *c, void *m, size_t n, uint8_t al, uintptr_t ra) {
    (void)c; (void)al; (void)ra;
    if ((unsigned char *)m + n == heap + used) used -= n;
}
static const vtable vt = {tiny_alloc, tiny_resize, tiny_remap, tiny_free};
allocator tiny = {NULL, &vt};
"""


def _compile_tiny(tmp_path):
    src = tmp_path / "tiny.c"
    src.write_text(_TINY_C)
    lib = tmp_path / "libtiny.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-O2", str(src), "-o", str(lib)], check=True)
    return ctypes.CDLL(str(lib))


def test_ctypes_c_allocator_compiled_on_the_spot(tmp_path):
    lib = _compile_tiny(tmp_path)
    new_capsule = ctypes.pythonapi.PyCapsule_New
    new_capsule.restype = ctypes.py_object
    new_capsule.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    address = ctypes.addressof(ctypes.c_char.in_dll(lib, "tiny"))
    tiny = zheap.Allocator.from_capsule(
        new_capsule(address, b"zheap.allocator", None), max_alignment=4096
    )
    testing.test_allocator(tiny)
    machine = AllocatorMachine.for_allocator(lambda: tiny, max_size=4096, name="TinyC")
    run_state_machine_as_test(machine, settings=settings(max_examples=30, deadline=None))


# --- FailingAllocator and checkAllAllocationFailures ----------------------------------


def test_failing_allocator_zig_test():
    f = zheap.FailingAllocator(zheap.c_allocator, fail_index=2)
    a, b = f.alloc(4, 4), f.alloc(4, 4)
    with pytest.raises(MemoryError):
        f.alloc(4, 4)
    assert f.has_induced_failure and f.failure_trace is not None
    assert f.failure_trace[-1].name == "test_failing_allocator_zig_test"
    f.free(b)
    f.free(a)
    assert f.allocated_bytes == f.freed_bytes == 8 and f.deallocations == 2
    r = zheap.FailingAllocator(zheap.c_allocator, resize_fail_index=1)
    s = r.remap(r.alloc(8), 6)
    assert s is not None
    assert r.remap(s, 4) is None and r.resize(s, 4) is None
    r.free(s)
    assert "FailingAllocator" in repr(r) and r.fail_index is None


def _arena_work(a):
    arena = zheap.ArenaAllocator(a)
    try:
        for i in range(30):
            arena.alloc(100 + 500 * i, 8)
    finally:
        arena.deinit()


def _pool_work(a):
    with zheap.MemoryPool(48, child=a) as pool:
        pool.preheat(3)
        items = [pool.create() for _ in range(40)]
        for item in items[::2]:
            pool.destroy(item)


def _debug_work(a):
    gpa = zheap.DebugAllocator(a, page_size=4096)
    try:
        views = []
        try:
            for n in (8, 100, 3000, 20000, 8, 64):
                views.append(gpa.alloc(n))
        finally:
            for v in views:
                gpa.free(v)
    finally:
        assert gpa.deinit() is zheap.Check.ok


def _stack_fallback_work(a):
    s = zheap.stack_fallback(256, a).get()
    views = []
    try:
        for n in (100, 100, 100, 1000):
            views.append(s.alloc(n))
    finally:
        for v in reversed(views):
            s.free(v)


def _thread_safe_arena_work(a):
    with zheap.ArenaAllocator(zheap.ThreadSafeAllocator(a)) as arena:
        for n in range(1, 20):
            arena.alloc(n * 700)


def _python_allocator_work(a):
    # an allocator written in Python whose region comes from the failing allocator
    class Over(BumpAllocator):
        def __init__(self):
            self.memory = a.alloc(1 << 14)
            self.start = self.add_region(self.memory)
            self.end = self.start + (1 << 14)
            self.next = self.start

    over = Over()
    try:
        arena = zheap.ArenaAllocator(over)
        try:
            arena.alloc(100)
        finally:
            arena.deinit()
            del arena  # it keeps its child alive
    finally:
        memory = over.memory
        del over  # gives the region back (its export on `memory` goes)
        a.free(memory)


@pytest.mark.parametrize(
    "work",
    [
        _arena_work,
        _pool_work,
        _debug_work,
        _stack_fallback_work,
        _thread_safe_arena_work,
        _python_allocator_work,
    ],
)
def test_check_all_allocation_failures_over_stacked_allocators(work):
    checked = testing.check_all_allocation_failures(work)
    assert checked >= 1


def test_check_all_allocation_failures_detects_the_three_bugs():
    def swallows(a):
        try:
            a.alloc(8)
        except MemoryError:
            return
        a.free(a.resize(a.alloc(8), 0) or a.alloc(0))

    with pytest.raises(testing.SwallowedOutOfMemoryError):
        testing.check_all_allocation_failures(swallows)

    def leaks(a):
        first = a.alloc(16)
        a.alloc(16)  # raises on the second failure point: `first` is never freed
        a.free(first)

    with pytest.raises(testing.MemoryLeakDetectedError, match="fail_index 1/"):
        testing.check_all_allocation_failures(leaks)

    runs = []

    def nondeterministic(a):
        runs.append(1)
        views = [a.alloc(8) for _ in range(3 if len(runs) == 1 else 1)]
        for v in views:
            a.free(v)

    with pytest.raises(testing.NondeterministicMemoryUsageError):
        testing.check_all_allocation_failures(nondeterministic)


# --- the state machine finds broken allocators ----------------------------------------


class _Forgets(FirstFitAllocator):
    """Remap moves the block without copying its contents."""

    def _remap(self, address, length, alignment, new_length):
        new = self._alloc(new_length, alignment)
        if new is not None:
            self._free(address, length, alignment)
        return new


class _Leaky(FirstFitAllocator):
    """A failed in-place grow loses the tail it already took."""

    def _resize(self, address, length, alignment, new_length):
        if new_length > length:
            self._alloc(16, 1)  # taken and never given back
            return False
        return super()._resize(address, length, alignment, new_length)


class _Misaligned(FirstFitAllocator):
    """Ignores alignment above 8."""

    def _alloc(self, length, alignment):
        return super()._alloc(length, min(alignment, 8))


class _Overlapping(FirstFitAllocator):
    """Frees hand the block back twice over (its span is doubled)."""

    def _free(self, address, length, alignment):
        super()._free(
            address, length + 64 if address + length + 64 <= self.end_of_region else length, 1
        )

    @property
    def end_of_region(self):
        return zheap.address_of(self.memory) + len(self.memory)


@pytest.mark.parametrize(
    "broken",
    [_Forgets, _Leaky, _Misaligned, _Overlapping],
    ids=["forgets-contents-on-remap", "leaks-on-resize-failure", "misaligned", "overlapping"],
)
def test_machine_catches_broken_allocators(broken):
    machine = AllocatorMachine.for_allocator(
        lambda: broken(1 << 16, zheap.PageAllocator()), max_size=4096, name=broken.__name__
    )
    # The overlapping list's own code may trip over its corrupted free list first.
    caught = (AssertionError, zheap.AllocatorContractError) + (
        (KeyError,) if broken is _Overlapping else ()
    )
    with pytest.raises(caught):
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=300,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                print_blob=False,
                report_multiple_bugs=False,
            ),
        )


TestFirstFitMachine = AllocatorMachine.for_allocator(
    lambda: FirstFitAllocator(1 << 18, zheap.PageAllocator()), max_size=8192, name="FirstFit"
).TestCase
TestBumpMachine = AllocatorMachine.for_allocator(
    lambda: BumpAllocator(1 << 20, zheap.PageAllocator()), max_size=8192, name="Bump"
).TestCase
TestPoolOverFirstFitMachine = MemoryPoolMachine.for_pool(
    lambda: zheap.MemoryPool(40, child=FirstFitAllocator(1 << 18, zheap.PageAllocator())),
    name="PoolOverFirstFit",
).TestCase


# --- strategies, replay, and the reproduction snippet ------------------------------------


@given(ops=strategies.operations(max_size=4096, max_alignment=64, max_ops=30))
@settings(max_examples=40, deadline=None)
def test_operations_replay_on_first_fit(ops):
    assert strategies.run_operations(FirstFitAllocator(1 << 18, zheap.PageAllocator()), ops) == len(
        ops
    )


def test_run_operations_checks_and_attaches_a_snippet():
    ops = [("alloc", 32, 8), ("alloc", 40, 16), ("remap", 0, 64), ("free", 1)]
    with pytest.raises(AssertionError) as info:
        strategies.run_operations(
            _Forgets(1 << 16, zheap.PageAllocator()),
            ops,
            factory_source="_Forgets(1 << 16, zheap.PageAllocator())",
        )
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert (
        "allocator = _Forgets(1 << 16, zheap.PageAllocator())" in notes
        and "('remap', 0, 64)," in notes
    )
    assert "('free', 1)" not in notes  # only up to the failing operation
    snippet = strategies.format_snippet(ops, "zheap.ArenaAllocator()")
    namespace = {}
    exec(compile(snippet, "<snippet>", "exec"), namespace)  # noqa: S102 -- it replays on an arena


def test_machine_reports_a_standalone_snippet():
    machine = AllocatorMachine.for_allocator(
        lambda: _Forgets(1 << 16, zheap.PageAllocator()),
        max_size=4096,
        name="ForgetsSnippet",
        source="_Forgets(1 << 16, zheap.PageAllocator())",
    )
    with pytest.raises(AssertionError) as info:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=300, deadline=None, print_blob=False, report_multiple_bugs=False
            ),
        )
    # Hypothesis attaches the final run's notes to the exception (and prints them).
    report = "\n".join(getattr(info.value, "__notes__", []))
    assert (
        "run_operations(allocator, [" in report
        and "allocator = _Forgets(1 << 16, zheap.PageAllocator())" in report
    )
    snippet = report[report.index("import zheap") : report.index("])") + 2]
    with pytest.raises(AssertionError, match="lost the contents"):
        exec(compile(snippet, "<snippet>", "exec"), {"_Forgets": _Forgets})  # noqa: S102


# --- the fuzz CLI ------------------------------------------------------------------------


def _cli(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "zheap", "fuzz", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


def test_fuzz_cli_runs_builtin_allocators():
    out = _cli("arena", "first_fit", "--examples", "5", "--seed", "1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[1/2] arena" in out.stdout and "2 passed, 0 failed" in out.stdout


def test_fuzz_cli_finds_a_users_broken_allocator(tmp_path):
    (tmp_path / "mine.py").write_text(
        textwrap.dedent(
            """
            from zheap.examples import FirstFitAllocator

            class Forgets(FirstFitAllocator):
                def _remap(self, address, length, alignment, new_length):
                    new = self._alloc(new_length, alignment)
                    if new is not None:
                        self._free(address, length, alignment)
                    return new

            def make():
                return Forgets(1 << 16)
            """
        )
    )
    import os

    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = _cli("mine:make", "--examples", "300", "--seed", "2", env=env)
    assert out.returncode == 1
    assert "FAILED" in out.stdout and "run_operations(allocator, [" in out.stdout
    assert "import mine\n" in out.stdout and "allocator = mine.make()\n" in out.stdout
    with pytest.raises(SystemExit):
        from zheap import fuzz

        fuzz.main(["no_such_allocator"])
