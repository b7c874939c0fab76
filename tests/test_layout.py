"""layout(): each allocator's memory, from its own structures (teaching)."""

import ctypes

import zheap


def _addr(v):
    return zheap.address_of(v)


def _items(alloc):
    return [(x["address"], x["length"], x["state"]) for x in alloc.layout()["regions"][0]["blocks"]]


def test_fixed_buffer_layout():
    f = zheap.FixedBufferAllocator(256)
    a = f.alloc(10)
    b = f.alloc(20, 16)
    layout = f.layout()
    assert layout["allocator"] == "zheap.FixedBufferAllocator"
    (region,) = layout["regions"]
    assert region["kind"] == "buffer" and region["size"] == 256 and region["used"] == f.end_index
    gap = _addr(b) - (_addr(a) + 10)  # what aligning b to 16 skipped
    assert _items(f) == [(_addr(a), 10, "live")] + [(_addr(a) + 10, gap, "padding")] * (gap > 0) + [
        (_addr(b), 20, "live")
    ]


def test_fixed_buffer_layout_tells_alignment_padding_from_a_block_freed_out_of_order():
    # below end_index both are bytes Zig's FBA never reclaims, but only one was a block
    f = zheap.FixedBufferAllocator(256)
    start = f.layout()["regions"][0]["address"]
    first, x = f.alloc(1), f.alloc(4)
    gap_at = _addr(x) + 4
    y = f.alloc(8, 8)
    y_at = _addr(y)
    padding = [(gap_at, y_at - gap_at, "padding")] * (y_at > gap_at)
    f.free(x)  # not the last allocation: Zig leaves end_index alone, x's bytes are a hole
    assert _items(f) == [(_addr(first), 1, "live"), *padding, (y_at, 8, "live")]
    # freeing the last block rolls end_index back to its start: the padding before it stays
    f.free(y)
    assert f.end_index == y_at - start
    assert _items(f) == [(_addr(first), 1, "live"), *padding]
    f.reset()
    assert _items(f) == []


# An arena chunk's node header: its length and the link to the next chunk.
_NODE = 2 * ctypes.sizeof(ctypes.c_void_p)


def test_arena_layout_shows_chunks_newest_first():
    # The arena first asks its child to grow the full chunk in place. raw_c_allocator never
    # grows a block, so 5000 bytes take a second chunk; the page allocator would grow the
    # chunk whenever the next page happens to be free (see the next two tests).
    arena = zheap.ArenaAllocator(zheap.raw_c_allocator)
    small, big = arena.alloc(100), arena.alloc(5000)
    chunks = arena.layout()["regions"]
    assert [c["kind"] for c in chunks] == ["chunk", "chunk"] == ["chunk"] * arena.stats()["chunks"]
    newest, oldest = chunks
    # A chunk is what the child gave: the node header (metadata), then the usable bytes.
    assert newest["used"] == _NODE + arena.stats()["end_index"]
    assert oldest["used"] == oldest["size"]
    assert sum(c["size"] for c in chunks) == arena.query_capacity() + 2 * _NODE
    assert [(b["address"], b["state"]) for b in newest["blocks"]] == [
        (newest["address"], "metadata"),
        (_addr(big), "live"),
    ]
    assert [b["address"] for b in oldest["blocks"]] == [oldest["address"], _addr(small)]
    arena.reset()
    (kept,) = arena.layout()["regions"]
    assert [b["state"] for b in kept["blocks"]] == ["metadata"] and kept["used"] == _NODE
    arena.deinit()
    assert arena.layout()["regions"] == []


def test_arena_layout_after_growing_its_chunk_in_place():
    # A fixed buffer grows its last block in place: the one chunk now holds both blocks.
    arena = zheap.ArenaAllocator(zheap.FixedBufferAllocator(1 << 16))
    small, big = arena.alloc(100), arena.alloc(5000)
    (chunk,) = arena.layout()["regions"]
    assert arena.stats()["chunks"] == 1 and chunk["size"] == arena.query_capacity() + _NODE
    assert chunk["used"] == _NODE + arena.stats()["end_index"] >= _NODE + 5100
    assert [b["address"] for b in chunk["blocks"]] == [chunk["address"], _addr(small), _addr(big)]
    arena.deinit()


def test_arena_layout_matches_its_chunks_whatever_the_page_allocator_does():
    # Over the page allocator the chunk may or may not grow in place (it depends on what
    # is mapped next to it): the layout must agree with the arena either way.
    arena = zheap.ArenaAllocator()
    small, big = arena.alloc(100), arena.alloc(5000)
    chunks = arena.layout()["regions"]
    assert len(chunks) == arena.stats()["chunks"] in (1, 2)
    assert sum(c["size"] for c in chunks) == arena.query_capacity() + _NODE * len(chunks)
    assert chunks[0]["used"] == _NODE + arena.stats()["end_index"]
    assert _addr(big) in [b["address"] for b in chunks[0]["blocks"]]
    assert _addr(small) in [b["address"] for b in chunks[-1]["blocks"]]
    arena.deinit()


def test_pool_layout_shows_the_free_list():
    pool = zheap.MemoryPool(16)
    items = [pool.create() for _ in range(4)]
    freed = _addr(items[1])
    pool.destroy(items[1])
    blocks = [b for r in pool.layout()["regions"] for b in r["blocks"]]
    assert [b["state"] for b in blocks].count("free") == 1
    assert next(b for b in blocks if b["state"] == "free")["address"] == freed
    assert [b["address"] for b in blocks] == sorted(b["address"] for b in blocks)
    assert all(b["length"] == 16 for b in blocks if b["state"] != "metadata")


def test_pool_layout_numbers_the_free_list_in_the_order_create_follows():
    pool = zheap.MemoryPool(16)
    items = [pool.create() for _ in range(5)]
    order = [1, 3, 0]
    addresses = [_addr(items[i]) for i in order]
    for i in order:
        pool.destroy(items[i])
    free = {b["address"]: b["next"] for r in pool.layout()["regions"] for b in r["blocks"]
            if b["state"] == "free"}  # fmt: skip
    assert free == {addresses[2]: 1, addresses[1]: 2, addresses[0]: 3}  # LIFO: last freed first
    assert "#1" in zheap.viz.html(pool) and "next #1 in the free list" in zheap.viz.html(pool)
    assert _addr(pool.create()) == addresses[2]
    assert all("next" not in b for r in pool.layout()["regions"] for b in r["blocks"]
               if b["state"] != "free")  # fmt: skip


# --- every allocator type: layout() agrees with what was handed out ---------------------

import pytest  # noqa: E402
from allocators import ALLOCATORS  # noqa: E402

STATES = {"live", "free", "freed", "padding", "metadata"}


def check_layout(allocator, views):
    """Every live view appears exactly once, inside one region; nothing overlaps."""
    layout = allocator.layout()
    assert layout["allocator"] == type(allocator).__module__ + "." + type(allocator).__name__ or (
        layout["allocator"].endswith(type(allocator).__name__)
    )
    seen = {}
    regions = sorted(layout["regions"], key=lambda r: r["address"])
    for before, after in zip(regions, regions[1:], strict=False):
        assert before["address"] + before["size"] <= after["address"], (before, after)
    requested = 0
    for r in regions:
        assert r["size"] >= 0 and 0 <= r["used"] <= r["size"], r
        end = r["address"]
        for b in r["blocks"]:
            assert b["state"] in STATES, b
            assert b["address"] >= end, ("overlap", r["kind"], b)
            end = b["address"] + b["length"]
            assert end <= r["address"] + r["size"], ("outside", r, b)
            if b["state"] == "live":
                requested += b["length"]
                assert b["address"] not in seen
                seen[b["address"]] = b["length"]
    for v in views:
        if len(v):
            assert seen.get(zheap.address_of(v)) == len(v), (zheap.address_of(v), len(v))
    stats = allocator.stats()
    assert stats["requested"] == requested
    assert stats["reserved"] == sum(r["size"] for r in regions)
    assert stats["overhead"] == stats["reserved"] - stats["requested"]
    assert 0 <= stats["largest_free_run"] <= max([r["size"] for r in regions], default=0)
    return layout


@pytest.mark.parametrize(("name", "factory"), [(n, f) for n, f, _ in ALLOCATORS])
def test_layout_agrees_with_the_views(name, factory):
    allocator = factory()
    sizes = [1, 7, 64, 100, 4096, 70000, 0, 24]
    views = [allocator.alloc(n, 1 << (i % 5)) for i, n in enumerate(sizes)]
    check_layout(allocator, views)
    for v in views[1::2]:
        allocator.free(v)
    kept = views[0::2]
    check_layout(allocator, kept)
    for v in kept:
        allocator.free(v)
    check_layout(allocator, [])


def test_debug_allocator_layout_shows_slots_and_metadata():
    d = zheap.DebugAllocator(page_size=4096)
    a, b, c = d.alloc(5), d.alloc(8), d.alloc(8)
    d.free(b)
    (bucket,) = d.layout()["regions"]
    assert bucket["kind"] == "bucket" and bucket["size_class"] == 8 and bucket["size"] == 4096
    states = [(x["state"], x["length"]) for x in bucket["blocks"]]
    # slot 0: 5 bytes + 3 of slack; slot 1 freed (never reused while the bucket
    # lives: how use-after-free is caught); slot 2 live; then unused slots and the
    # metadata at the end of the page.
    assert states[:4] == [("live", 5), ("padding", 3), ("freed", 8), ("live", 8)]
    assert states[4][0] == "free" and states[-1][0] == "metadata"
    meta = bucket["blocks"][-1]
    assert meta["address"] + meta["length"] == bucket["address"] + 4096
    big = d.alloc(10000)
    assert [r["kind"] for r in d.layout()["regions"]] == ["bucket", "large"]
    d.free(big)
    d.free(a)
    d.free(c)
    d.deinit()


def test_smp_layout_groups_blocks_into_slabs_of_one_class():
    smp = zheap.SmpAllocator()
    small = [smp.alloc(24) for _ in range(3)]
    large = smp.alloc(1 << 20)
    layout = smp.layout()
    slabs = [r for r in layout["regions"] if r["kind"] == "slab"]
    mine = {zheap.address_of(v) for v in small}
    home = [r for r in slabs if any(b["address"] in mine for b in r["blocks"])]
    assert home and all(r["size"] == 65536 and r["size_class"] == 32 for r in home)
    for r in home:
        for b in r["blocks"]:
            assert b["size_class"] == 32
    (mapping,) = [r for r in layout["regions"] if r["kind"] == "mapping"]
    assert mapping["address"] == zheap.address_of(large) and mapping["size"] >= 1 << 20
    for v in [*small, large]:
        smp.free(v)


def test_wasm_layout_walks_the_linear_memory_in_order():
    w = zheap.WasmAllocator(max_pages=64)
    a = w.alloc(100)
    big = w.alloc(200000)
    w.free(a)
    regions = w.layout()["regions"]
    assert [r["address"] for r in regions] == sorted(r["address"] for r in regions)
    assert sum(r["size"] for r in regions) == (w.memory_size() - 1) * 65536
    page = next(r for r in regions if r["kind"] == "bigpage")
    assert page["size_class"] == 128 and page["blocks"][0]["state"] == "free"
    (run,) = [r for r in regions if r["kind"] == "big"]
    assert run["size"] == 262144 and run["blocks"][0]["length"] == 200000
    w.free(big)
    (run,) = [r for r in w.layout()["regions"] if r["kind"] == "big"]
    assert [b["state"] for b in run["blocks"]] == ["free"]


def test_wrappers_show_their_child_memory():
    arena = zheap.ArenaAllocator()
    ts = zheap.ThreadSafeAllocator(arena)
    v = ts.alloc(40)
    layout = ts.layout()
    assert layout["allocator"] == "zheap.ThreadSafeAllocator"
    (chunk,) = layout["regions"]
    assert chunk["kind"] == "chunk"
    assert [(b["address"], b["state"]) for b in chunk["blocks"]] == [
        (chunk["address"], "metadata"),
        (zheap.address_of(v), "live"),
    ]
    sfa = zheap.stack_fallback(64, zheap.c_allocator).get()
    inside, outside = sfa.alloc(48), sfa.alloc(48)
    kinds = [r["kind"] for r in sfa.layout()["regions"]]
    assert kinds[0] == "buffer" and "block" in kinds
    sfa.free(outside)
    sfa.free(inside)
    ts.free(v)


def test_page_allocator_layout_counts_whole_pages():
    p = zheap.PageAllocator()
    v = p.alloc(100)
    (mapping,) = p.layout()["regions"]
    assert mapping["kind"] == "mapping" and mapping["size"] == zheap.page_size()
    assert [b["state"] for b in mapping["blocks"]] == ["live", "padding"]
    stats = p.stats()
    assert stats["requested"] == 100 and stats["reserved"] == zheap.page_size()
    assert stats["utilisation"] == pytest.approx(100 / zheap.page_size())
    p.free(v)


def test_python_allocator_layout_shows_its_regions():
    from zheap.examples import BumpAllocator

    bump = BumpAllocator(1 << 16, zheap.PageAllocator())
    v = bump.alloc(10)
    (region,) = bump.layout()["regions"]
    assert region["kind"] == "region" and region["size"] == 1 << 16
    assert [(b["address"], b["length"], b["state"]) for b in region["blocks"]] == [
        (zheap.address_of(v), 10, "live"),
        (zheap.address_of(v) + 10, (1 << 16) - 10, "free"),  # its _free_blocks() hook
    ]
    bump.free(v)


def test_fragmentation_figures():
    f = zheap.FixedBufferAllocator(1000)
    a, b = f.alloc(100), f.alloc(100)
    f.free(a)  # not the last block: its 100 bytes stay a hole
    s = f.stats()
    assert (s["requested"], s["reserved"], s["overhead"]) == (100, 1000, 900)
    assert s["largest_free_run"] == 800 and s["utilisation"] == pytest.approx(0.1)
    f.free(b)


def test_python_allocator_free_blocks_hook():
    from zheap.examples import FirstFitAllocator

    ff = FirstFitAllocator(1 << 16, zheap.PageAllocator())
    a, b, c = ff.alloc(100), ff.alloc(200), ff.alloc(300)
    ff.free(b)
    blocks = ff.layout()["regions"][0]["blocks"]
    assert [(x["state"], x["length"]) for x in blocks] == [
        ("live", 100),
        ("free", 200),
        ("live", 300),
        ("free", (1 << 16) - 600),
    ]
    assert ff.stats()["largest_free_run"] == (1 << 16) - 600
    ff.free(a)
    ff.free(c)

    class Bad(zheap.Allocator):
        def _alloc(self, length, alignment):
            return None

        def _free(self, address, length, alignment):
            pass

        def _free_blocks(self):
            return [1]

    with pytest.raises(TypeError, match=r"_free_blocks\(\) must give \(address, length\) pairs"):
        Bad().layout()


@pytest.mark.parametrize(
    "factory",
    [
        lambda: zheap.ThreadSafeAllocator(zheap.c_allocator),  # a wrapper: merged layout
        lambda: zheap.FixedBufferAllocator(1 << 16),  # live blocks listed per region
        zheap.DebugAllocator,
    ],
)
def test_layout_and_stats_survive_the_collector_freeing_blocks(factory):
    # Dropped views are garbage cycles; with the collector running on every
    # allocation, it frees their blocks while layout() builds its dicts.
    import gc

    a = factory()
    keep = a.alloc(8)
    threshold = gc.get_threshold()
    try:
        for _ in range(5):
            gc.disable()
            for _ in range(200):
                a.alloc(16)  # dropped at once: a cycle for the collector
            gc.set_threshold(1)
            gc.enable()
            layout = a.layout()
            assert a.stats()["requested"] >= len(keep)
    finally:
        gc.enable()
        gc.set_threshold(*threshold)
    gc.collect()
    live = [b["address"] for r in layout["regions"] for b in r["blocks"] if b["state"] == "live"]
    assert zheap.address_of(keep) in live
    a.free(keep)
