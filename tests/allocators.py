"""The allocators every conformance test runs over: one line per allocator."""

import zheap
from zheap.examples import BumpAllocator, FirstFitAllocator

# Wasm and Sbrk carve every block from 64 KiB big pages: no alignment beyond one.
BIG_PAGE = 64 << 10

# (name, factory, max_alignment): the largest alignment the allocator accepts, or None when
# it refuses none (a fixed buffer can still run out). Each of Zig's suites runs on every
# allocator whose cap covers the alignment the suite needs (test_conformance.SUITE_ALIGNMENT);
# test_conformance.test_registered_alignment_caps checks each cap against the allocator.
ALLOCATORS = [
    ("page_allocator", lambda: zheap.page_allocator, None),
    ("c_allocator", lambda: zheap.c_allocator, None),
    ("raw_c_allocator", lambda: zheap.raw_c_allocator, zheap.raw_c_max_alignment),
    ("validation_wrap(page_allocator)", lambda: zheap.validation_wrap(zheap.page_allocator), None),
    ("PageAllocator()", zheap.PageAllocator, None),
    ("smp_allocator", lambda: zheap.smp_allocator, None),
    (
        "ArenaAllocator(ThreadSafeAllocator(smp_allocator))",
        lambda: zheap.ArenaAllocator(zheap.ThreadSafeAllocator(zheap.smp_allocator)),
        None,
    ),
    ("FixedBufferAllocator(8 MiB)", lambda: zheap.FixedBufferAllocator(8 << 20), None),
    (
        "FixedBufferAllocator(bytearray).thread_safe_allocator()",
        lambda: zheap.FixedBufferAllocator(bytearray(8 << 20)).thread_safe_allocator(),
        None,
    ),
    ("ArenaAllocator()", zheap.ArenaAllocator, None),
    ("ArenaAllocator(raw_c_allocator)", lambda: zheap.ArenaAllocator(zheap.raw_c_allocator), None),
    (
        "ArenaAllocator(FixedBufferAllocator)",
        lambda: zheap.ArenaAllocator(zheap.FixedBufferAllocator(16 << 20)),
        None,
    ),
    (
        "stack_fallback(4096, c_allocator).get()",
        lambda: zheap.stack_fallback(4096, zheap.c_allocator).get(),
        None,
    ),
    (
        "stack_fallback(256, ArenaAllocator()).get()",
        lambda: zheap.stack_fallback(256, zheap.ArenaAllocator()).get(),
        None,
    ),
    (
        "ThreadSafeAllocator(c_allocator)",
        lambda: zheap.ThreadSafeAllocator(zheap.c_allocator),
        None,
    ),
    (
        "ThreadSafeAllocator(ArenaAllocator())",
        lambda: zheap.ThreadSafeAllocator(zheap.ArenaAllocator()),
        None,
    ),
    ("DebugAllocator()", zheap.DebugAllocator, None),
    # No traces, log or limit: small blocks take the core's short alloc/free paths.
    ("DebugAllocator(no traces)", lambda: zheap.DebugAllocator(stack_trace_frames=0), None),
    (
        "DebugAllocator(limit, never_unmap, retain_metadata)",
        lambda: zheap.DebugAllocator(
            enable_memory_limit=True, never_unmap=True, retain_metadata=True
        ),
        None,
    ),
    (
        "DebugAllocator(no safety, no traces, 4 KiB pages)",
        lambda: zheap.DebugAllocator(
            safety=False, stack_trace_frames=0, page_size=4096, thread_safe=False
        ),
        None,
    ),
    (
        "DebugAllocator(c_allocator, non-zeroing, resize traces)",
        lambda: zheap.DebugAllocator(
            zheap.c_allocator, backing_allocator_zeroes=False, resize_stack_traces=True
        ),
        None,
    ),
    (
        "ArenaAllocator(DebugAllocator())",
        lambda: zheap.ArenaAllocator(zheap.DebugAllocator()),
        None,
    ),
    ("WasmAllocator()", zheap.WasmAllocator, BIG_PAGE),
    ("WasmAllocator(max_pages=48)", lambda: zheap.WasmAllocator(max_pages=48), BIG_PAGE),
    ("wasm_allocator", lambda: zheap.wasm_allocator, BIG_PAGE),
    ("SbrkAllocator()", zheap.SbrkAllocator, BIG_PAGE),
    ("SbrkAllocator(capacity=3 MiB)", lambda: zheap.SbrkAllocator(capacity=3 << 20), BIG_PAGE),
    ("SbrkAllocator(sbrk=python)", lambda: _python_sbrk_allocator(8 << 20), BIG_PAGE),
    # Their regions come from a PageAllocator of their own: a singleton's live
    # count would change under other tests when the GC collects them.
    (
        "examples.FirstFitAllocator (Python)",
        lambda: FirstFitAllocator(4 << 20, zheap.PageAllocator()),
        FirstFitAllocator.max_alignment,
    ),
    (
        "examples.BumpAllocator (Python)",
        lambda: BumpAllocator(4 << 20, zheap.PageAllocator()),
        BumpAllocator.max_alignment,
    ),
    (
        "ArenaAllocator(examples.FirstFitAllocator)",
        lambda: zheap.ArenaAllocator(FirstFitAllocator(4 << 20, zheap.PageAllocator())),
        None,
    ),
]


def _python_sbrk_allocator(capacity):
    """An SbrkAllocator driven by a Python break function, as a learner would write it."""
    state = {"brk": None}

    def sbrk(increment):
        old = state["brk"]
        if old + increment > end:
            return -1
        state["brk"] = old + increment
        return old

    allocator = zheap.SbrkAllocator(capacity=capacity, sbrk=sbrk)
    state["brk"], end = allocator.region
    return allocator
