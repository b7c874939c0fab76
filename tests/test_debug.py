"""DebugAllocator: Zig's debug_allocator.zig tests through Python, traces, reports, leaks."""

import ctypes
import inspect
import logging
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

import zheap
from zheap import Check

PAGE = 128 * 1024  # the default Config.page_size on Linux x86_64


@pytest.fixture
def gpa():
    g = zheap.DebugAllocator()
    yield g
    assert g.deinit() is Check.ok


# --- Zig's tests ------------------------------------------------------------------


@pytest.mark.parametrize("reverse", [False, True], ids=["same order", "reverse order"])
def test_small_allocations(gpa, reverse):
    items = [gpa.create(ctypes.c_uint64) for _ in range(513)]
    for obj in reversed(items) if reverse else items:
        gpa.destroy(obj)
    del items, obj


def test_large_allocations(gpa):
    p1, p2 = gpa.alloc(42768 * 8, 8), gpa.alloc(52768 * 8, 8)
    gpa.free(p1)
    p3 = gpa.alloc(62768 * 8, 8)
    gpa.free(p3)
    gpa.free(p2)


def test_very_large_allocation(gpa):
    with pytest.raises(MemoryError):
        gpa.alloc(1 << 62)
    assert gpa.large_allocations() == []


def test_realloc(gpa):
    s = gpa.alloc(1, 4)
    s[0] = 0x12
    addr = zheap.address_of(s)
    t = gpa.realloc(s, 2)  # the same size class: in place
    assert zheap.address_of(t) == addr and t[0] == 0x12
    t[1] = 0x34
    u = gpa.realloc(t, 17)  # class 32: moves
    assert zheap.address_of(u) != addr and u[:2].tobytes() == b"\x12\x34"
    gpa.free(u)


def test_shrink(gpa):
    v = gpa.alloc(20)
    v[:] = b"\x11" * 20
    v = gpa.resize(v, 17)
    assert v is not None and v.tobytes() == b"\x11" * 17
    assert gpa.resize(v, 16) is None  # would change the size class
    gpa.free(v)


def test_large_object_grow_and_shrink(gpa):
    p = gpa.alloc(2 * PAGE - 20)
    addr = zheap.address_of(p)
    p = gpa.realloc(p, 2 * PAGE - 10)
    p = gpa.realloc(p, 2 * PAGE)
    assert zheap.address_of(p) == addr
    p = gpa.realloc(p, 2 * PAGE + 1)
    p[0], p[16], p[60] = 0x12, 0x56, 0x34
    r = gpa.resize(p, 2 * PAGE)
    if r is not None:
        p = r
    assert (p[0], p[16], p[60]) == (0x12, 0x56, 0x34)
    assert gpa.resize(p, 4) is None  # large never becomes small in place
    assert (p[0], p[16]) == (0x12, 0x56)
    small = gpa.realloc(p, 19)  # so realloc moves it into a bucket
    assert (small[0], small[16]) == (0x12, 0x56)
    assert gpa.large_allocations() == []
    gpa.free(small)


def test_realloc_small_to_large(gpa):
    s = gpa.alloc(70)
    s[0], s[60] = 0x12, 0x34
    s = gpa.realloc(s, 2 * PAGE + 50)
    assert (s[0], s[60]) == (0x12, 0x34)
    gpa.free(s)


def test_objects_of_1024_and_2048(gpa):
    a, b = gpa.alloc(1025), gpa.alloc(3000)
    assert {x["slot_size"] for x in gpa.buckets()} == {2048, 4096}
    gpa.free(a)
    gpa.free(b)


def test_backing_variants():
    # "overridable mutexes" (thread_safe) and "non-page-allocator backing allocator"
    for g in (
        zheap.DebugAllocator(zheap.c_allocator, backing_allocator_zeroes=False),
        zheap.DebugAllocator(thread_safe=False),
    ):
        x = g.create(ctypes.c_int32)
        g.destroy(x)
        del x
        assert g.deinit() is Check.ok


def test_setting_a_memory_cap():
    g = zheap.DebugAllocator(enable_memory_limit=True)
    g.requested_memory_limit = 1010
    small = g.alloc(4, 4)
    assert g.total_requested_bytes == 4
    big = g.alloc(1000)
    assert g.total_requested_bytes == 1004
    with pytest.raises(MemoryError):
        g.alloc(8, 8)
    assert g.total_requested_bytes == 1004  # state unchanged
    g.free(small)
    assert g.total_requested_bytes == 1000
    g.free(big)
    assert g.total_requested_bytes == 0
    exact = g.alloc(1010)
    assert g.total_requested_bytes == 1010
    g.free(exact)
    assert g.deinit() is Check.ok


def test_large_allocations_count_requested_size():
    g = zheap.DebugAllocator(enable_memory_limit=True)
    x = g.alloc(PAGE + 1)
    assert g.total_requested_bytes == PAGE + 1
    x = g.realloc(x, 1)
    assert g.total_requested_bytes == 1
    x = g.realloc(x, 2)
    assert g.total_requested_bytes == 2
    g.free(x)


def test_retain_metadata_and_never_unmap():
    g = zheap.DebugAllocator(never_unmap=True, retain_metadata=True)
    for _ in range(2):
        g.free(g.alloc(8))
    assert g.deinit() is Check.ok


def test_moving_remap_with_retained_metadata_unmaps_nothing_it_gave_back():
    """Hole 4: after a remap moved a large block, deinit unmapped the old range.

    The record kept at the old address had the new length, and with never_unmap
    deinit freed it: the mappings the kernel had since placed in the old hole were
    gone, and touching one was a segfault. In a subprocess for that reason.
    """
    code = textwrap.dedent(
        """
        import gc, mmap, zheap
        a = zheap.DebugAllocator(never_unmap=True, retain_metadata=True)
        v = a.alloc(557274, 2048); v[:] = b"\\x01" * len(v); w = a.remap(v, 946053)
        maps = [mmap.mmap(-1, 1 << 16) for _ in range(64)]   # the kernel fills the old hole
        a.free(w); del a, v, w; gc.collect()
        for m in maps: m[0] = 1                                # segfault
        print(zheap.__file__)
        """
    )
    # -c puts the working directory first on sys.path: run where this zheap is.
    root = os.path.dirname(os.path.dirname(os.path.abspath(zheap.__file__)))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root
    )
    assert out.returncode == 0, (out.returncode, out.stderr)
    assert out.stdout.strip() == os.path.abspath(zheap.__file__)


# --- double frees reach the allocator's own detection ------------------------------


def _alloc_here(g, n):
    return g.alloc(n)


def _free_here(g, v):
    g.free(v)


def _lines(trace):
    return [(f.rsplit("/", 1)[-1], name) for f, _, name in trace]


def test_double_free_small_reports_three_traces(caplog):
    g = zheap.DebugAllocator()
    keep = g.alloc(8)  # keeps the bucket page, so the allocator still knows the slot
    v = _alloc_here(g, 8)
    _free_here(g, v)
    with pytest.raises(zheap.DoubleFreeError) as info:
        g.free(v)
    e = info.value
    assert isinstance(e, ValueError) and e.address == zheap.address_of(keep) + 8
    assert e.length == 8 and "Double free detected." in str(e)
    assert ("test_debug.py", "_alloc_here") in _lines(e.allocation_trace)
    assert ("test_debug.py", "_free_here") in _lines(e.first_free_trace)
    this_test = "test_double_free_small_reports_three_traces"
    assert _lines(e.free_trace)[0] == ("test_debug.py", this_test)
    assert "First free:" in str(e) and "in _alloc_here" in str(e)
    g.free(keep)
    assert g.deinit() is Check.ok


def test_traces_name_file_and_line():
    g = zheap.DebugAllocator()
    keep = g.alloc(8)
    here = inspect.currentframe()
    assert here is not None
    v = g.alloc(8)
    alloc_line = here.f_lineno - 1
    g.free(v)
    free_line = here.f_lineno - 1
    with pytest.raises(zheap.DoubleFreeError) as info:
        g.free(v)
    second_line = here.f_lineno - 1
    err = info.value
    assert err.allocation_trace[0] == (__file__, alloc_line, "test_traces_name_file_and_line")
    assert err.first_free_trace[0] == (__file__, free_line, "test_traces_name_file_and_line")
    assert err.free_trace[0] == (__file__, second_line, "test_traces_name_file_and_line")
    assert (
        str(err.allocation_trace)
        .strip()
        .endswith(f'File "{__file__}", line {alloc_line}, in test_traces_name_file_and_line')
    )
    g.free(keep)


def test_double_free_after_the_page_went_back_uses_kept_traces():
    g = zheap.DebugAllocator()
    v = _alloc_here(g, 8)  # the bucket's only slot: the page is released on free
    _free_here(g, v)
    assert g.buckets() == []
    with pytest.raises(zheap.DoubleFreeError) as info:
        g.free(v)  # never touches the unmapped page
    assert ("test_debug.py", "_alloc_here") in _lines(info.value.allocation_trace)
    assert ("test_debug.py", "_free_here") in _lines(info.value.first_free_trace)


def test_double_free_large():
    g = zheap.DebugAllocator(retain_metadata=True)
    v = _alloc_here(g, 1 << 20)
    _free_here(g, v)
    with pytest.raises(zheap.DoubleFreeError) as info:
        g.free(v)  # the retained record: the core's detection, with its traces
    assert "(the allocator" not in str(info.value)
    assert ("test_debug.py", "_free_here") in _lines(info.value.first_free_trace)
    with pytest.raises(zheap.DoubleFreeError):
        g.resize(v, 10)  # Zig: "Unrecoverable double free"; here an exception
    plain = zheap.DebugAllocator()
    w = plain.alloc(1 << 20)
    plain.free(w)
    with pytest.raises(zheap.DoubleFreeError):
        plain.free(w)  # no retained record: zheap's own record of the block


def test_resize_of_freed_small_slot():
    g = zheap.DebugAllocator()
    keep, v = g.alloc(16), g.alloc(16)
    g.free(v)
    for op in (lambda: g.resize(v, 8), lambda: g.remap(v, 8), lambda: g.realloc(v, 100)):
        with pytest.raises(zheap.DoubleFreeError):
            op()
    g.free(keep)
    assert g.deinit() is Check.ok


def test_double_free_without_traces():
    g = zheap.DebugAllocator(stack_trace_frames=0)
    keep, v = g.alloc(8), g.alloc(8)
    g.free(v)
    with pytest.raises(zheap.DoubleFreeError) as info:
        g.free(v)
    assert info.value.allocation_trace is None and info.value.free_trace is None
    g.free(keep)


# --- leaks, logging, lifetime ------------------------------------------------------


def test_leaks_and_deinit(caplog):
    g = zheap.DebugAllocator()
    leaked = _alloc_here(g, 24)
    big = g.alloc(1 << 18, 64)
    records = g.leaks()
    leaked_address = zheap.address_of(leaked)
    assert {(r["address"], r["length"], r["alignment"]) for r in records} == {
        (leaked_address, 24, 1),
        (zheap.address_of(big), 1 << 18, 64),
    }
    assert g.large_allocations()[0]["address"] == zheap.address_of(big)
    assert all(isinstance(r["trace"], zheap.Trace) for r in records)
    # Records are dicts whose repr gives the address in hex, like every other report.
    first = next(r for r in records if r["length"] == 24)
    assert type(first) is zheap.LeakRecord and isinstance(first, dict)
    assert first == dict(first) and first["address"] == leaked_address
    assert repr(first).startswith(f"{{'address': {leaked_address:#x}, 'length': 24, ")
    assert str(leaked_address) not in repr(records)
    assert type(g.large_allocations()[0]) is zheap.LeakRecord
    with caplog.at_level(logging.ERROR, logger="zheap"):
        assert g.detect_leaks() is True
        assert g.deinit() is Check.leak
    messages = [r.getMessage() for r in caplog.records if r.name == "zheap"]
    assert len(messages) == 4  # detect_leaks, then deinit
    assert f"memory address {leaked_address:#x} leaked:" in messages[0] + messages[1]
    assert "in _alloc_here" in "".join(messages)
    # Zig leaves leaked memory allocated; zheap also invalidates every view, leaked ones
    # included, so nothing reaches the memory once the allocator is gone (issue 13).
    with pytest.raises(ValueError):
        leaked[:] = b"x" * 24
    with pytest.raises(ValueError, match="deinitialized"):
        g.free(leaked)
    assert g.deinit() is Check.ok  # a second deinit


def test_raise_on_leak_and_context_manager():
    with pytest.raises(zheap.LeakError) as info:
        with zheap.DebugAllocator(raise_on_leak=True) as g:
            v = g.alloc(10)
            address = zheap.address_of(v)
    assert [r["address"] for r in info.value.leaks] == [address]
    with pytest.raises(ValueError):
        v[0]  # invalidated by deinit, like every view
    with zheap.DebugAllocator(raise_on_leak=True) as g:
        g.free(g.alloc(10))


def test_verbose_log_uses_zigs_wording(caplog):
    g = zheap.DebugAllocator(verbose_log=True)
    with caplog.at_level(logging.INFO, logger="zheap"):
        v = g.alloc(16)
        addr = zheap.address_of(v)
        v = g.resize(v, 12)
        g.free(v)
        big = g.alloc(1 << 20)
        g.free(big)
    lines = [r.getMessage() for r in caplog.records if r.name == "zheap"]
    assert lines[0] == f"small alloc 16 bytes at {addr:#x}"
    assert lines[1] == f"small resize 16 bytes at u8@{addr:x} to 12"
    assert lines[2] == f"small free 12 bytes at u8@{addr:x}"
    assert lines[3].startswith("large alloc 1048576 bytes at u8@")
    assert lines[4].startswith("large free 1048576 bytes at u8@")


def test_verbose_log_through_a_child_allocator(caplog):
    g = zheap.DebugAllocator(verbose_log=True)
    with caplog.at_level(logging.INFO, logger="zheap"):
        with zheap.ArenaAllocator(g) as arena:
            arena.alloc(100)
        # the arena's chunk traffic reached the log by the end of each call
        assert any(r.getMessage().startswith("small alloc") for r in caplog.records)
        assert any(r.getMessage().startswith("small free") for r in caplog.records)


def test_deinit_refused_while_a_child_draws():
    g = zheap.DebugAllocator()
    arena = zheap.ArenaAllocator(g)
    arena.alloc(10)
    with pytest.raises(BufferError):
        g.deinit()
    arena.deinit()
    assert g.deinit() is Check.ok


def test_general_purpose_allocator_is_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="DebugAllocator"):
        gpa_type = zheap.GeneralPurposeAllocator
    assert gpa_type is zheap.DebugAllocator
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zheap.DebugAllocator()  # the new name does not warn
    assert "GeneralPurposeAllocator" not in zheap.__all__


def test_config_and_introspection():
    g = zheap.DebugAllocator(page_size=1 << 16, stack_trace_frames=3, canary=7)
    assert g.config["page_size"] == 1 << 16 and g.config["stack_trace_frames"] == 3
    assert g.config["canary"] == 7 and g.config["safety"] is True
    assert zheap.DebugAllocator().config["canary"] == 0x9232A6FF85DFF10F
    views = [g.alloc(n) for n in (1, 100, 5000, 40000)]  # 40000 > 32 KiB: large with 64 KiB pages
    stats = g.stats()
    assert stats["live"] == 4 and stats["live_bytes"] == 1 + 100 + 5000 + 40000
    assert stats["large_allocations"] == 1
    assert stats["buckets_by_slot_size"] == {1: 1, 128: 1, 8192: 1}
    assert "live=4" in repr(g)
    with pytest.raises(AttributeError, match="memory limit"):
        g.total_requested_bytes  # noqa: B018
    with pytest.raises(ValueError, match="retain_metadata"):
        g.flush_retained_metadata()
    for v in views:
        g.free(v)


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"page_size": 3000}, ValueError),
        ({"page_size": 1024}, ValueError),
        ({"page_size": 1 << 40}, ValueError),
        ({"stack_trace_frames": 65}, ValueError),
        ({"stack_trace_frames": -1}, ValueError),
        ({"canary": -1}, ValueError),
        ({"canary": 1 << 80}, OverflowError),
        ({"backing": 3}, TypeError),
        ({"bogus": True}, TypeError),
    ],
)
def test_bad_config(kwargs, exc):
    with pytest.raises(exc):
        zheap.DebugAllocator(**kwargs)


def test_memory_limit_setter():
    g = zheap.DebugAllocator(enable_memory_limit=True)
    assert g.requested_memory_limit == (1 << 64) - 1
    g.requested_memory_limit = 1 << 100  # beyond the address space: no limit
    assert g.requested_memory_limit == (1 << 64) - 1
    with pytest.raises(ValueError):
        g.requested_memory_limit = -1
    with pytest.raises(TypeError):
        g.requested_memory_limit = "x"
    g.requested_memory_limit = 0
    with pytest.raises(MemoryError):
        g.alloc(1)
    assert g.total_requested_bytes == 0


def test_flush_retained_metadata_forgets_history():
    g = zheap.DebugAllocator(retain_metadata=True, never_unmap=True)
    v = g.alloc(1 << 20)
    g.free(v)
    g.flush_retained_metadata()
    with pytest.raises(zheap.DoubleFreeError, match="zheap kept"):
        g.free(v)  # the core forgot it: zheap's own record answers


def test_trace_type():
    t = zheap.Trace((("a.py", 3, "f"), ("b.py", 9, "<module>")))
    assert t[0] == ("a.py", 3, "f") and len(t) == 2
    assert str(t) == '  File "b.py", line 9, in <module>\n  File "a.py", line 3, in f\n'
    assert t.format() == str(t) and repr(t).startswith("Trace(")


# --- the address-level interface: Zig's "Invalid free" and mismatch reports ----------


def test_raw_alloc_and_free_roundtrip():
    g = zheap.DebugAllocator()
    addr = g.raw_alloc(24, 8)
    assert addr % 8 == 0 and [r["address"] for r in g.leaks()] == [addr]
    g.raw_free(addr, 24, 8)
    assert g.leaks() == [] and g.deinit() is Check.ok


def test_raw_free_not_owned_changes_nothing():
    g = zheap.DebugAllocator()
    keep = g.raw_alloc(8)
    foreign = memoryview(bytearray(64))
    for addr, length in (
        (zheap.address_of(foreign), 8),
        (zheap.address_of(foreign), 1 << 20),
        (8, 8),
    ):
        with pytest.raises(zheap.InvalidFreeError) as info:
            g.raw_free(addr, length)
        assert info.value.reason == "not owned" and "Invalid free" in str(info.value)
    for inside in (keep + 4096, keep + PAGE - 8):  # a slot never handed out; the metadata
        with pytest.raises(zheap.InvalidFreeError, match="Invalid free"):
            g.raw_free(inside, 8)
    assert [r["address"] for r in g.leaks()] == [keep]
    g.raw_free(keep, 8)


def test_raw_free_wrong_size_and_alignment():
    g = zheap.DebugAllocator()
    keep = g.raw_alloc(8)
    addr = g.raw_alloc(6)
    with pytest.raises(zheap.InvalidFreeError) as info:
        g.raw_free(addr, 7)  # the same size class, the wrong length
    e = info.value
    assert (
        e.reason == "wrong size" and "Allocation size 6 bytes does not match free size 7." in str(e)
    )
    assert "test_raw_free_wrong_size_and_alignment" in str(e.allocation_trace)
    assert [r["address"] for r in g.leaks()] == [keep]  # the free went on, as in Zig
    addr = g.raw_alloc(8, 4)
    with pytest.raises(zheap.InvalidFreeError) as info:
        g.raw_free(addr, 8, 8)
    assert info.value.reason == "wrong alignment"
    assert "Allocation alignment 4 does not match free alignment 8." in str(info.value)
    with pytest.raises(zheap.DoubleFreeError):
        g.raw_free(addr, 8, 4)
    g.raw_free(keep, 8)
    assert g.deinit() is Check.ok


def test_raw_free_looks_where_zigs_free_looks():
    # The length and alignment pick the size class, as in Zig 0.15.1's free.
    g = zheap.DebugAllocator()
    keep = g.raw_alloc(8)
    addr = g.raw_alloc(8)
    with pytest.raises(zheap.InvalidFreeError) as info:
        g.raw_free(addr, 9)  # the 16-byte class: no bucket of it there ("Invalid free")
    assert info.value.reason == "not owned"
    assert len(g.leaks()) == 2  # nothing changed
    g.raw_free(addr + 3, 8)  # inside the slot: Zig divides, and frees that slot
    assert [r["address"] for r in g.leaks()] == [keep]
    big = g.raw_alloc(1 << 20)
    g.raw_free(big, 1 << 20, 4096)  # a large block's alignment is not checked
    assert [r["address"] for r in g.leaks()] == [keep]
    big = g.raw_alloc(1 << 20)
    with pytest.raises(zheap.InvalidFreeError) as info:
        g.raw_free(big + 16, 1 << 20)  # large blocks are found by exact address
    assert info.value.reason == "not owned"
    g.raw_free(big, 1 << 20)
    g.raw_free(keep, 8)
    assert g.deinit() is Check.ok


def test_short_paths_without_traces_leave_every_report_to_the_whole_algorithm():
    # stack_trace_frames=0, no log, no limit: small allocs and frees take the core's short
    # paths; a free that needs a report must still get it, exactly once.
    g = zheap.DebugAllocator(stack_trace_frames=0)
    keep = g.raw_alloc(8)
    addr = g.raw_alloc(6)
    with pytest.raises(zheap.InvalidFreeError, match="size 6 bytes does not match free size 7"):
        g.raw_free(addr, 7)
    assert [r["address"] for r in g.leaks()] == [keep]  # the free went on, as in Zig
    addr = g.raw_alloc(8, 4)
    with pytest.raises(zheap.InvalidFreeError, match="alignment 4 does not match free alignment 8"):
        g.raw_free(addr, 8, 8)
    with pytest.raises(zheap.DoubleFreeError):
        g.raw_free(addr, 8, 4)
    with pytest.raises(zheap.InvalidFreeError, match="Invalid free"):
        g.raw_free(keep + 4096, 8)  # a slot never handed out
    g.raw_free(keep, 8)
    assert g.leaks() == [] and g.deinit() is Check.ok


def test_raw_free_wrong_size_of_a_large_block_frees_the_recorded_size():
    g = zheap.DebugAllocator()
    addr = g.raw_alloc(1 << 20)
    other = g.alloc(1 << 20)  # a neighbour that a too-long munmap could take with it
    with pytest.raises(zheap.InvalidFreeError, match="wrong size|does not match"):
        g.raw_free(addr, 1 << 24)
    other[:] = b"\x01" * len(other)  # still mapped
    g.free(other)


def test_raw_free_passes_on_what_a_python_backing_raised_from_its_free():
    from zheap.examples import FirstFitAllocator

    class Refusing(FirstFitAllocator):
        refuse = False

        def _free(self, address: int, length: int, alignment: int) -> None:
            super()._free(address, length, alignment)
            if self.refuse:
                raise KeyError("the backing's own error")

    backing = Refusing(1 << 22)
    g = zheap.DebugAllocator(backing, page_size=65536)
    big = g.raw_alloc(1 << 20)  # a large block: its free goes straight to the backing
    backing.refuse = True
    with pytest.raises(KeyError, match="backing's own error"):  # not a SystemError
        g.raw_free(big, 1 << 20)
    backing.refuse = False
    assert g.leaks() == [] and g.deinit() is Check.ok


def test_free_errors_made_by_hand_have_the_documented_attributes():
    for cls in (zheap.DoubleFreeError, zheap.InvalidFreeError):
        e = cls("made by hand")
        assert (e.address, e.length, e.alignment, e.reason) == (0, 0, 0, None)
        assert e.allocation_trace is e.first_free_trace is e.free_trace is None


def test_dropping_a_debug_allocator_over_a_raising_backing_leaves_no_exception_set():
    from zheap.examples import FirstFitAllocator

    class Raising(FirstFitAllocator):
        def _free(self, address: int, length: int, alignment: int) -> None:
            super()._free(address, length, alignment)
            raise OSError("from _free")

    g = zheap.DebugAllocator(Raising(1 << 20))
    view = g.alloc(100)
    with pytest.raises(OSError):
        g.free(view)  # the backing's error propagates from the call that ran it
    del view
    unraisable = []
    old, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        del g  # the teardown gives the bucket page back: the backing raises again
        after = [1, 2][0]  # no exception left set for the next bytecode to trip on
    finally:
        sys.unraisablehook = old
    assert after == 1
    assert [type(u.exc_value) for u in unraisable] == [OSError]


def test_raw_free_refuses_view_memory_and_children():
    g = zheap.DebugAllocator()
    v = g.alloc(16)
    with pytest.raises(zheap.InvalidFreeError) as info:
        g.raw_free(zheap.address_of(v), 16)
    assert info.value.reason == "in use by a view"
    with pytest.raises(zheap.InvalidFreeError):
        g.raw_free(zheap.address_of(v) + 3, 9)  # an interior pointer into the same slot
    v[:] = b"y" * 16  # untouched
    arena = zheap.ArenaAllocator(g)
    arena.alloc(1)
    with pytest.raises(BufferError):
        g.raw_free(1 << 20, 8)
    arena.deinit()
    g.free(v)
    for bad, exc in (
        ((-1, 8), ValueError),
        ((0, 0), ValueError),
        (("x", 8), TypeError),
        ((8, 8, 3), ValueError),
    ):
        with pytest.raises(exc):
            g.raw_free(*bad)
    with pytest.raises(ValueError):
        g.raw_alloc(0)
    assert g.deinit() is Check.ok


def test_a_trace_in_a_notebook_shows_cells_and_no_kernel_frames(monkeypatch):
    # A stand-in for IPython >= 8: the shell's compiler maps a cell's file to its number.
    import types

    cell = "/tmp/ipykernel_4242/123456.py"
    shell = types.SimpleNamespace(compile=types.SimpleNamespace(_filename_map={cell: 7}))
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: shell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake)
    frames = (
        ("/x/lib.py", 3, "helper"),
        (cell, 5, "<module>"),
        ("/site-packages/IPython/core/interactiveshell.py", 3577, "run_code"),
        ("/site-packages/ipykernel/kernelapp.py", 739, "start"),
        ("/usr/lib/python3.11/asyncio/base_events.py", 600, "run_forever"),
    )
    assert str(zheap.Trace(frames)) == (
        '  Cell In[7], line 5, in <module>\n  File "/x/lib.py", line 3, in helper\n'
    )
    # Outside a notebook nothing is left out.
    monkeypatch.delitem(sys.modules, "IPython")
    plain = zheap.Trace(frames[:2])
    assert str(plain).count("File ") == 2


def test_a_notebook_trace_survives_a_hostile_ipython(monkeypatch):
    import types

    cell = "/tmp/ipykernel_1/1.py"
    frames = ((cell, 5, "<module>"), ("/x/IPython/core/interactiveshell.py", 1, "run_code"))
    cells: dict[object, object] = {}

    class Empties:
        def __str__(self) -> str:
            cells.clear()  # drops the last reference to this very object
            return "7"

    cells[cell] = Empties()
    shell = types.SimpleNamespace(compile=types.SimpleNamespace(_filename_map=cells))
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: shell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert str(zheap.Trace(frames)) == "  Cell In[7], line 5, in <module>\n"
    assert str(zheap.Trace(frames)) == f'  File "{cell}", line 5, in <module>\n'

    def interrupted() -> object:
        raise KeyboardInterrupt

    fake.get_ipython = interrupted  # type: ignore[attr-defined]
    with pytest.raises(KeyboardInterrupt):
        str(zheap.Trace(frames))
    fake.get_ipython = lambda: 1 / 0  # type: ignore[attr-defined]
    assert str(zheap.Trace(frames)).startswith("  File ")  # an odd IPython costs cell names only
