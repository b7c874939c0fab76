"""zheap.numpy: numpy arrays whose data lives in a zheap allocator (numpy's NEP 49)."""

import gc
import pickle
import subprocess
import sys
import threading
import weakref

import pytest

import zheap
import zheap.numpy
from zheap.examples import BumpAllocator

np = pytest.importorskip("numpy")
from allocators import ALLOCATORS  # noqa: E402

try:
    from numpy._core.multiarray import get_handler_name
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import get_handler_name


def _runs_python(name):
    """The conformance allocators whose operations run Python code: numpy refuses them."""
    return "Python" in name or "python" in name or "FirstFit" in name


NUMPY_ALLOCATORS = [
    (name, make)
    for name, make, cap in ALLOCATORS
    if (cap is None or cap >= 16) and not _runs_python(name)
]
PYTHON_STACKS = [(name, make) for name, make, _ in ALLOCATORS if _runs_python(name)]


def _owned(a):
    """The array that owns the data ``a`` views."""
    while a.base is not None:
        a = a.base
    return a


@pytest.mark.parametrize("name,make", NUMPY_ALLOCATORS, ids=[n for n, _ in NUMPY_ALLOCATORS])
def test_arrays_live_in_every_allocator(name, make):
    allocator = make()
    base = zheap.numpy.lent(allocator)
    with zheap.numpy.use(allocator) as got:
        assert got is allocator
        a = np.zeros(1000)
        b = np.arange(1000, dtype=np.int64)
        c = a + b * 2  # a ufunc's output
        d = np.ones((10, 10), dtype=np.complex128)
        assert get_handler_name(a).startswith("zheap:")
        assert get_handler_name(a).endswith(type(allocator).__name__)
        assert zheap.numpy.lent(allocator) == base + 4
        for arr in (a, b, c, d):
            assert arr.ctypes.data % 16 == 0
        assert a.sum() == 0 and d.real.sum() == 100
        np.testing.assert_array_equal(c, np.arange(1000) * 2)
        # ndarray.resize reallocates through the handler and keeps the contents.
        b.resize(5000, refcheck=False)
        np.testing.assert_array_equal(b[:1000], np.arange(1000))
        assert (b[1000:] == 0).all()
        b.resize(10, refcheck=False)
        np.testing.assert_array_equal(b, np.arange(10))
        # Views share the data. A protocol-2 pickle round trip copies the data into a new
        # array in the allocator; protocol 5 makes the array over the pickle's bytes.
        v = c[::2]
        assert _owned(v) is c
        # A pickle round trip gives an array over the pickle's bytes; its copy is ours.
        e = pickle.loads(pickle.dumps(c, protocol=5))
        np.testing.assert_array_equal(e, c)
        f = e.copy()
        assert f.flags.owndata and get_handler_name(f).startswith("zheap:")
        assert zheap.numpy.lent(allocator) == base + 5
    del a, b, c, d, v, e, f, arr
    assert zheap.numpy.lent(allocator) == base


def test_handler_name_and_type_errors():
    with pytest.raises(TypeError, match="zheap.Allocator"):
        zheap.numpy.handler(object())
    with pytest.raises(TypeError, match="mem_handler"):
        zheap.numpy.set_handler(object())
    arena = zheap.ArenaAllocator()
    arena.deinit()
    with pytest.raises(ValueError, match="deinitialized"):
        zheap.numpy.handler(arena)
    with pytest.raises(TypeError):
        zheap.numpy.lent(3)


def test_import_zheap_does_not_import_numpy():
    code = (
        "import sys, zheap, zheap.numpy; zheap.numpy.handler(zheap.c_allocator); "
        "print('numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_use_restores_the_previous_handler_even_on_error():
    before = get_handler_name()
    arena = zheap.ArenaAllocator()
    with pytest.raises(KeyError):
        with zheap.numpy.use(arena):
            assert get_handler_name() == "zheap:zheap.ArenaAllocator"
            with zheap.numpy.use(zheap.c_allocator):
                assert get_handler_name() == "zheap:zheap.CAllocator"
            assert get_handler_name() == "zheap:zheap.ArenaAllocator"
            raise KeyError
    assert get_handler_name() == before
    assert get_handler_name(np.zeros(3)) == before


def test_array_data_pins_the_allocator():
    arena = zheap.ArenaAllocator()
    with zheap.numpy.use(arena):
        a = np.zeros(100)
    view = arena.alloc(8)
    with pytest.raises(BufferError, match="1 numpy array buffer is still in its memory"):
        arena.reset()
    with pytest.raises(BufferError, match="numpy"):
        arena.deinit()
    # Nothing changed: the view and the array are both usable.
    view[:] = b"12345678"
    a += 1
    assert a.sum() == 100
    del a
    assert zheap.numpy.lent(arena) == 0
    arena.reset()
    with pytest.raises(ValueError):
        view[0]
    arena.deinit()


def test_fixed_buffer_reset_sees_the_thread_safe_wrapper_arrays():
    fba = zheap.FixedBufferAllocator(1 << 16)
    with zheap.numpy.use(fba.thread_safe_allocator()):
        a = np.ones(10)
    with pytest.raises(BufferError, match="numpy"):
        fba.reset()
    del a
    fba.reset()


def test_an_array_outliving_the_block_keeps_its_allocator():
    debug = zheap.DebugAllocator()
    ref = weakref.ref(debug)
    with zheap.numpy.use(debug):
        a = np.arange(100.0)
    del debug
    gc.collect()
    assert ref() is not None, "the array's handler keeps the allocator"
    a *= 2
    assert a[99] == 198
    del a
    gc.collect()
    assert ref() is None, "the last array gone, the handler and the allocator go"


def test_arrays_freed_in_other_threads():
    debug = zheap.DebugAllocator(thread_safe=False)
    with zheap.numpy.use(debug):
        arrays = [np.full(1000, i) for i in range(64)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:

        def drop(chunk):
            for a in chunk:
                assert (a == a[0]).all()
            chunk.clear()

        chunks = [arrays[i::4] for i in range(4)]
        del arrays
        threads = [threading.Thread(target=drop, args=(c,)) for c in chunks]
        for t in threads:
            t.start()
        # The main thread keeps using the same (not thread-safe) allocator meanwhile.
        for _ in range(200):
            debug.free(debug.alloc(64))
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert zheap.numpy.lent(debug) == 0
    assert debug.leaks() == []
    assert debug.deinit() == zheap.Check.ok


def test_threads_started_inside_use_get_numpy_default():
    arena = zheap.ArenaAllocator()
    names = []
    with zheap.numpy.use(arena):
        t = threading.Thread(target=lambda: names.append(get_handler_name(np.zeros(4))))
        t.start()
        t.join()
    assert names and not names[0].startswith("zheap:")
    assert zheap.numpy.lent(arena) == 0


def _make_numpy_array():
    return np.arange(256.0)


def test_debug_allocator_is_a_memory_profiler_for_numpy():
    debug = zheap.DebugAllocator()
    with zheap.numpy.use(debug):
        kept = _make_numpy_array()
    leaks = debug.leaks()
    assert len(leaks) == 1
    (leak,) = leaks
    assert leak["length"] == kept.nbytes
    assert leak["address"] == kept.ctypes.data
    assert "_make_numpy_array" in str(leak["trace"])
    del kept
    assert debug.leaks() == []
    assert debug.deinit() == zheap.Check.ok


@pytest.mark.parametrize("name,make", PYTHON_STACKS, ids=[n for n, _ in PYTHON_STACKS])
def test_stacks_that_run_python_code_are_refused(name, make):
    allocator = make()
    with pytest.raises(ValueError, match="runs Python code"):
        zheap.numpy.handler(allocator)
    with pytest.raises(ValueError, match="runs Python code"):
        with zheap.numpy.use(allocator):
            pass


def test_anything_drawing_from_python_code_is_refused():
    bump = BumpAllocator(1 << 20, zheap.PageAllocator())
    stacks = [
        bump,
        zheap.ArenaAllocator(bump),
        zheap.ThreadSafeAllocator(zheap.ArenaAllocator(bump)),
        zheap.DebugAllocator(bump),
        zheap.FailingAllocator(bump, fail_index=10),
        zheap.Allocator.from_capsule(bump.capsule()),
        zheap.stack_fallback(256, bump).get(),
    ]
    for allocator in stacks:
        with pytest.raises(ValueError, match="runs Python code"):
            zheap.numpy.handler(allocator)
    before = get_handler_name()
    with pytest.raises(ValueError):
        with zheap.numpy.use(bump):
            pass
    assert get_handler_name() == before


def test_failing_allocator_makes_numpy_fail_on_cue(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))
    failing = zheap.FailingAllocator(zheap.c_allocator, fail_index=2)
    with zheap.numpy.use(failing):
        a, b = np.empty(10), np.empty(10)  # one allocation each
        with pytest.raises(MemoryError):
            np.empty(10)
        with pytest.raises(MemoryError):
            a + b  # every allocation after the failed one fails too
    assert failing.has_induced_failure and seen == []
    # The failure's Python stack, read without running Python code inside numpy's call.
    assert failing.failure_trace[-1].name == "test_failing_allocator_makes_numpy_fail_on_cue"
    del a, b
    assert zheap.numpy.lent(failing) == 0 and failing.allocations == failing.deallocations == 2


def test_python_code_never_runs_above_a_stack_numpy_uses():
    """The invariant numpy's handler relies on: an allocator that draws from a stack that
    runs no Python code runs none either, so that stack is never busy while Python code
    runs (and lets the GIL go) -- a handler call never waits in the middle of numpy."""
    x = zheap.c_allocator
    above = [
        zheap.FailingAllocator(x, fail_index=0),
        zheap.DebugAllocator(zheap.FailingAllocator(x, fail_index=0)),
        zheap.ArenaAllocator(x),
        zheap.ThreadSafeAllocator(x),
        zheap.DebugAllocator(x),
        zheap.stack_fallback(64, x).get(),
        zheap.Allocator.from_capsule(x.capsule()),
        zheap.validation_wrap(x),
    ]
    for a in above:
        zheap.numpy.handler(a)  # accepted: runs no Python code
    with zheap.numpy.use(x):
        arrays = [np.arange(100.0) for _ in range(50)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            for a in above:
                try:
                    a.free(a.alloc(32))
                except MemoryError:
                    pass

    t = threading.Thread(target=hammer)
    t.start()
    try:
        for _ in range(200):
            for arr in arrays:
                arr.resize(arr.size % 300 + 50, refcheck=False)
                arr[:] = 1.0
            assert all(arr.sum() == arr.size for arr in arrays)
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old)
    del arrays, arr
    assert zheap.numpy.lent(x) == 0


def test_verbose_log_of_numpy_calls_waits_for_the_next_operation(caplog):
    import logging

    debug = zheap.DebugAllocator(verbose_log=True, stack_trace_frames=0)
    with caplog.at_level(logging.INFO, logger="zheap"):
        with zheap.numpy.use(debug):
            a = np.arange(4.0)
        del a
        assert caplog.records == []  # no Python code (logging) inside numpy's calls
        debug.free(debug.alloc(8))  # the next operation from Python delivers them
        lines = [r.getMessage() for r in caplog.records]
        assert any("small alloc 32 bytes" in m for m in lines)
        assert any("small free 32 bytes" in m for m in lines)
        caplog.clear()
        with zheap.numpy.use(debug):
            for _ in range(50_001):  # two records each: one past the cap of 100000
                np.empty(1)
        debug.free(debug.alloc(8))
        lines = [r.getMessage() for r in caplog.records]
        # 100002 records from numpy, and the alloc(8)'s own, found the queue full.
        assert lines[0].startswith("3 DebugAllocator reports were lost")
    assert debug.deinit() == zheap.Check.ok


def test_allocator_that_cannot_align_to_16_is_refused():
    narrow = zheap.Allocator.from_capsule(zheap.c_allocator.capsule(), max_alignment=8)
    with pytest.raises(ValueError, match="16"):
        zheap.numpy.handler(narrow)


def test_raw_free_refuses_a_numpy_block():
    debug = zheap.DebugAllocator()
    with zheap.numpy.use(debug):
        small, large = np.arange(10.0), np.arange(1 << 17, dtype=np.uint8)
    for a in (small, large):
        (leak,) = [r for r in debug.leaks() if r["address"] == a.ctypes.data]
        with pytest.raises(zheap.InvalidFreeError) as e:
            debug.raw_free(leak["address"], leak["length"], 16)
        assert e.value.reason == "in use by a numpy array"
        assert a.sum() == a.sum()  # still readable
    small[:] = 1
    assert small.sum() == 10
    del small, large, a
    assert debug.deinit() == zheap.Check.ok


def test_deinitialized_allocator_makes_numpy_raise(monkeypatch):
    arena = zheap.ArenaAllocator()
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))
    with zheap.numpy.use(arena):
        arena.deinit()
        with pytest.raises(MemoryError):
            np.zeros(8)
    assert any(isinstance(e, ValueError) and "deinitialized" in str(e) for e in seen)


def test_gc_bomb_while_numpy_allocates():
    arena = zheap.ArenaAllocator()
    keep = []

    class Bomb:
        def __init__(self):
            self.me = self

        def __del__(self):
            # Drops arrays (frees through the handler) and tries a reset.
            keep.clear()
            try:
                arena.reset()
            except (BufferError, RuntimeError):
                pass

    old = gc.get_threshold()
    gc.set_threshold(1)
    try:
        with zheap.numpy.use(arena):
            for i in range(300):
                Bomb()
                keep.append(np.full(16, i))
                assert (keep[-1] == i).all()
    finally:
        gc.set_threshold(*old)
    keep.clear()
    gc.collect()
    assert zheap.numpy.lent(arena) == 0
    arena.deinit()


def test_many_blocks_in_random_order_keep_exact_lengths(monkeypatch):
    """The handler's length table under growth, churn and resizes: the DebugAllocator
    reports any free whose length or address is not the block's."""
    import random

    rng = random.Random(5)
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))
    debug = zheap.DebugAllocator(stack_trace_frames=0)
    arrays = {}
    with zheap.numpy.use(debug):
        for step in range(6000):
            r = rng.random()
            if r < 0.55 or not arrays:
                n = rng.choice([0, 1, 3, 64, 512, 4096, rng.randrange(1, 20000)])
                dtype = rng.choice([np.uint8, np.float64, np.complex128])
                arrays[step] = np.full(n, step % 251, dtype=dtype)
            elif r < 0.8:
                del arrays[rng.choice(list(arrays))]
            else:
                key = rng.choice(list(arrays))
                a = arrays[key]
                old = a.copy()
                a.resize(rng.choice([0, 1, rng.randrange(0, 30000)]), refcheck=False)
                k = min(len(old), len(a))
                np.testing.assert_array_equal(a[:k], old[:k])
                del a, old
            assert zheap.numpy.lent(debug) == len(arrays)
    assert all(a.flags.owndata for a in arrays.values())
    arrays.clear()
    assert seen == []
    assert zheap.numpy.lent(debug) == 0
    assert debug.leaks() == []
    assert debug.deinit() == zheap.Check.ok


def test_no_reference_leaks(monkeypatch):
    """Handlers, arrays and every error path, many times: no reference to the allocator or
    to numpy's previous handler is left behind."""
    monkeypatch.setattr(sys, "unraisablehook", lambda u: None)
    arena = zheap.ArenaAllocator()
    debug = zheap.DebugAllocator()
    bump = BumpAllocator(1 << 16, zheap.PageAllocator())
    default = zheap.numpy.set_handler(None)
    zheap.numpy.set_handler(default)

    def rounds():
        for i in range(500):
            for allocator in (arena, debug):
                with zheap.numpy.use(allocator):
                    a = np.arange(100.0)
                    a.resize(300, refcheck=False)
                    del a
            for bad in (zheap.numpy.handler, zheap.numpy.set_handler):
                with pytest.raises(TypeError):
                    bad(i)
            with pytest.raises(ValueError):
                zheap.numpy.handler(bump)

    rounds()
    gc.collect()
    refs = (arena, debug, bump, default)
    before = [sys.getrefcount(o) for o in refs]
    rounds()
    gc.collect()
    assert [sys.getrefcount(o) for o in refs] == before
    assert zheap.numpy.lent(arena) == zheap.numpy.lent(debug) == 0
