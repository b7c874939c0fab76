"""SmpAllocator: Zig's rules through Python, introspection, Python threads."""

import queue
import random
import sys
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
