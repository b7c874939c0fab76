"""SmpAllocator: Zig's rules through Python, introspection, Python threads."""

import os
import queue
import random
import subprocess
import sys
import textwrap
import threading

import pytest

import zheap


def test_smp_size_classes_and_reuse():
    a = zheap.SmpAllocator()
    v = a.alloc(20)
    addr = zheap.address_of(v)
    assert addr % 32 == 0  # the 32-byte class
    v = a.resize(v, 32)
    assert v is not None and a.resize(v, 33) is None  # another class: refused
    a.free(v)
    w = a.alloc(17)
    assert zheap.address_of(w) == addr  # the slot's free list is LIFO
    a.free(w)
    big = a.alloc(1 << 20, 4096)  # beyond the classes: the page allocator
    assert zheap.address_of(big) % 4096 == 0 and a.remap(big, 100) is None
    a.free(big)


def test_smp_stats_show_the_caches():
    a = zheap.smp_allocator
    stats = a.stats()
    assert stats["slab_len"] == 64 * 1024 and stats["slot_sizes"][:3] == [8, 16, 32]
    assert 1 <= stats["slot_count"] <= 128 and len(stats["slots"]) == stats["slot_count"]
    views = [a.alloc(1000) for _ in range(10)]  # class 1024 (index 7)
    for v in views:
        a.free(v)
    after = a.stats()["slots"]
    assert sum(slot["free"][7] for slot in after) >= 10
    assert sum(sum(slot["slabs"]) for slot in after) >= 1
    assert "SmpAllocator" in repr(a)
    with pytest.raises(TypeError):
        zheap.SmpAllocator(1)


def test_smp_python_threads_with_cross_thread_frees():
    a = zheap.smp_allocator
    handoff: queue.Queue = queue.Queue()
    errors = []
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def worker(seed):
        rng = random.Random(seed)
        try:
            for i in range(1500):
                n = rng.randint(8, 4096)
                v = a.alloc(n, 1 << rng.randint(0, 4))
                tag = (seed * 31 + i) % 251 + 1
                v[:] = bytes([tag]) * n
                handoff.put((v, tag))
                try:  # free someone's block, often another thread's
                    w, t = handoff.get_nowait()
                except queue.Empty:
                    continue
                if w.tobytes() != bytes([t]) * len(w):
                    errors.append("corrupted")
                a.free(w)
        except Exception as exc:  # noqa: BLE001 -- report, don't lose, a thread's failure
            errors.append(repr(exc))

    try:
        threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    while not handoff.empty():
        w, t = handoff.get_nowait()
        assert w.tobytes() == bytes([t]) * len(w)
        a.free(w)
    assert errors == []


# --- WasmAllocator ----------------------------------------------------------------


def test_wasm_grows_linear_memory_by_pages():
    w = zheap.WasmAllocator(max_pages=8)
    assert w.memory_size() == 1 and w.max_pages == 8  # the "static data" page
    v = w.alloc(100)
    assert zheap.address_of(v) - w.base == 65536 and w.memory_size() == 2  # one big page
    big = w.alloc(3 * 65536)  # a run of 4 big pages
    assert w.memory_size() == 6 and zheap.address_of(big) % 65536 == 0
    with pytest.raises(MemoryError):
        w.alloc(3 * 65536)  # would need 4 more: past max_pages
    assert w.memory_size() == 6  # nothing changed
    big_addr = zheap.address_of(big)
    assert big_addr - w.base == 2 * 65536
    w.free(big)
    again = w.alloc(3 * 65536)  # the freed run comes back
    assert zheap.address_of(again) == big_addr
    w.free(again)
    w.free(v)
    stats = w.stats()
    assert stats["memory_size"] == 6 and stats["big_free"] == {4: 1}
    assert stats["free"][stats["slot_sizes"].index(128)] == 1  # 100 + 8 -> the 128 class


def test_wasm_memory_grow_and_limits():
    w = zheap.WasmAllocator(max_pages=3)
    assert w.memory_grow(1) == 1 and w.memory_grow(5) == -1 and w.memory_size() == 2
    with pytest.raises(ValueError):
        w.alloc(8, 1 << 17)  # beyond 64 KiB alignment
    for bad in (0, -1, 1 << 40):
        with pytest.raises(ValueError):
            zheap.WasmAllocator(max_pages=bad)
    with pytest.raises(TypeError):
        zheap.WasmAllocator(8)  # keyword-only


def test_wasm_global_instance():
    g = zheap.wasm_allocator
    assert isinstance(g, zheap.WasmAllocator) and "global" in repr(g)
    before = g.memory_size()
    v = g.alloc(1000)
    assert g.memory_size() >= before
    g.free(v)


# --- SbrkAllocator -----------------------------------------------------------------


def test_sbrk_emulated_break():
    s = zheap.SbrkAllocator(capacity=1 << 20)
    start, end = s.region
    assert end - start == 1 << 20 and start % 65536 == 0 and s.brk() == start
    v = s.alloc(1000)
    assert s.brk() == start + 65536 and zheap.address_of(v) == start
    with pytest.raises(MemoryError):
        s.alloc(1 << 20)  # past the capacity
    assert s.brk() == start + 65536 and s.stats()["used"] == 65536
    s.free(v)


class _Brk:
    """A learner's break function over the region zheap reserved."""

    def __init__(self):
        self.cur = None
        self.calls = []

    def __call__(self, increment):
        self.calls.append(increment)
        old = self.cur
        self.cur += increment
        return old


def test_sbrk_python_function_drives_the_break():
    brk = _Brk()
    s = zheap.SbrkAllocator(capacity=1 << 20, sbrk=brk)
    brk.cur = s.region[0]
    v = s.alloc(5000)
    assert brk.calls == [65536] and s.brk() == s.region[0] + 65536 and s.sbrk is brk
    v[:] = b"z" * 5000  # committed by zheap
    s.free(v)


@pytest.mark.parametrize(
    ("answer", "exc", "match"),
    [
        (lambda s, n: 4096, ValueError, "outside the region"),
        (lambda s, n: s.region[0] + 4096, ValueError, "aligned to 64 KiB"),
        (lambda s, n: s.region[1] - 65536 + 65536, ValueError, "outside the region"),
        (lambda s, n: "nope", TypeError, "must return an int"),
        (lambda s, n: -1, MemoryError, "out of memory"),
        (lambda s, n: 1 / 0, ZeroDivisionError, "division"),
    ],
    ids=["outside", "misaligned", "past-end", "not-int", "minus-one", "raises"],
)
def test_sbrk_python_function_is_checked(answer, exc, match):
    holder = {}
    s = zheap.SbrkAllocator(capacity=1 << 20, sbrk=lambda n: answer(holder["s"], n))
    holder["s"] = s
    with pytest.raises(exc, match=match):
        s.alloc(8)
    assert s.live == 0


def test_sbrk_python_function_cannot_go_back_or_reenter():
    brk = _Brk()
    s = zheap.SbrkAllocator(capacity=1 << 20, sbrk=brk)
    brk.cur = s.region[0]
    v = s.alloc(8)
    brk.cur = s.region[0]  # a buggy break: hands out the same range again
    with pytest.raises(ValueError, match="below the previous break"):
        s.alloc(40000)
    v[:] = b"safe----"

    def reenter(n):
        return zheap.address_of(r.alloc(40000))  # back into the allocator calling us

    r = zheap.SbrkAllocator(capacity=1 << 20, sbrk=reenter)
    with pytest.raises(RuntimeError, match="in the middle of an operation"):
        r.alloc(8)
    s.free(v)
    with pytest.raises(TypeError):
        zheap.SbrkAllocator(sbrk=3)
    with pytest.raises(ValueError):
        zheap.SbrkAllocator(capacity=0)


@pytest.mark.skipif("asan" in os.environ.get("LD_PRELOAD", ""), reason="ASan reserves terabytes")
def test_import_survives_a_tight_address_space():
    # The global wasm_allocator reserves 4 GiB of address space on import; under a tight
    # ulimit -v zheap still imports and that allocator fails cleanly.
    code = textwrap.dedent(
        """
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        import zheap
        try:
            zheap.wasm_allocator.alloc(8)
        except MemoryError:
            print("clean")
        v = zheap.c_allocator.alloc(8)
        zheap.c_allocator.free(v)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "clean", out.stderr
