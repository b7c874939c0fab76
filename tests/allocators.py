"""The allocators every conformance test runs over: one line per allocator."""

import zheap
from zheap.examples import BumpAllocator, FirstFitAllocator

# (name, factory, which of Zig's suites: True all four, "64k" the two that stay within
# 64 KiB alignment, False testAllocator only)
ALLOCATORS = [
    ("page_allocator", lambda: zheap.page_allocator, True),
    ("c_allocator", lambda: zheap.c_allocator, True),
    ("raw_c_allocator", lambda: zheap.raw_c_allocator, False),
    ("validation_wrap(page_allocator)", lambda: zheap.validation_wrap(zheap.page_allocator), True),
    ("PageAllocator()", zheap.PageAllocator, True),
    ("smp_allocator", lambda: zheap.smp_allocator, True),
    (
        "ArenaAllocator(ThreadSafeAllocator(smp_allocator))",
        lambda: zheap.ArenaAllocator(zheap.ThreadSafeAllocator(zheap.smp_allocator)),
        True,
    ),
    ("FixedBufferAllocator(8 MiB)", lambda: zheap.FixedBufferAllocator(8 << 20), True),
    (
        "FixedBufferAllocator(bytearray).thread_safe_allocator()",
        lambda: zheap.FixedBufferAllocator(bytearray(8 << 20)).thread_safe_allocator(),
        True,
    ),
    ("ArenaAllocator()", zheap.ArenaAllocator, True),
    ("ArenaAllocator(raw_c_allocator)", lambda: zheap.ArenaAllocator(zheap.raw_c_allocator), True),
    (
        "ArenaAllocator(FixedBufferAllocator)",
        lambda: zheap.ArenaAllocator(zheap.FixedBufferAllocator(16 << 20)),
        True,
    ),
    (
        "stack_fallback(4096, c_allocator).get()",
        lambda: zheap.stack_fallback(4096, zheap.c_allocator).get(),
        True,
    ),
    (
        "stack_fallback(256, ArenaAllocator()).get()",
        lambda: zheap.stack_fallback(256, zheap.ArenaAllocator()).get(),
        True,
    ),
    (
        "ThreadSafeAllocator(c_allocator)",
        lambda: zheap.ThreadSafeAllocator(zheap.c_allocator),
        True,
    ),
    (
        "ThreadSafeAllocator(ArenaAllocator())",
        lambda: zheap.ThreadSafeAllocator(zheap.ArenaAllocator()),
        True,
    ),
    ("DebugAllocator()", zheap.DebugAllocator, True),
    (
        "DebugAllocator(limit, never_unmap, retain_metadata)",
        lambda: zheap.DebugAllocator(
            enable_memory_limit=True, never_unmap=True, retain_metadata=True
        ),
        True,
    ),
    (
        "DebugAllocator(no safety, no traces, 4 KiB pages)",
        lambda: zheap.DebugAllocator(
            safety=False, stack_trace_frames=0, page_size=4096, thread_safe=False
        ),
        True,
    ),
    (
        "DebugAllocator(c_allocator, non-zeroing, resize traces)",
        lambda: zheap.DebugAllocator(
            zheap.c_allocator, backing_allocator_zeroes=False, resize_stack_traces=True
        ),
        True,
    ),
    (
        "ArenaAllocator(DebugAllocator())",
        lambda: zheap.ArenaAllocator(zheap.DebugAllocator()),
        True,
    ),
    ("WasmAllocator()", zheap.WasmAllocator, "64k"),
    ("WasmAllocator(max_pages=48)", lambda: zheap.WasmAllocator(max_pages=48), "64k"),
    ("wasm_allocator", lambda: zheap.wasm_allocator, "64k"),
    ("SbrkAllocator()", zheap.SbrkAllocator, "64k"),
    ("SbrkAllocator(capacity=3 MiB)", lambda: zheap.SbrkAllocator(capacity=3 << 20), "64k"),
    ("SbrkAllocator(sbrk=python)", lambda: _python_sbrk_allocator(8 << 20), "64k"),
    # Their regions come from a PageAllocator of their own: a singleton's live
    # count would change under other tests when the GC collects them.
    (
        "examples.FirstFitAllocator (Python)",
        lambda: FirstFitAllocator(4 << 20, zheap.PageAllocator()),
        "64k",
    ),
    (
        "examples.BumpAllocator (Python)",
        lambda: BumpAllocator(4 << 20, zheap.PageAllocator()),
        "64k",
    ),
    (
        "ArenaAllocator(examples.FirstFitAllocator)",
        lambda: zheap.ArenaAllocator(FirstFitAllocator(4 << 20, zheap.PageAllocator())),
        True,
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
