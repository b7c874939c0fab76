"""layout(): each allocator's memory, from its own structures (teaching)."""

import zheap


def _addr(v):
    return zheap.address_of(v)


def test_fixed_buffer_layout():
    f = zheap.FixedBufferAllocator(256)
    a, b = f.alloc(10), f.alloc(20, 16)
    layout = f.layout()
    assert layout["allocator"] == "zheap.FixedBufferAllocator"
    (region,) = layout["regions"]
    assert region["kind"] == "buffer" and region["size"] == 256 and region["used"] == f.end_index
    assert [(x["address"], x["length"], x["state"]) for x in region["blocks"]] == [
        (_addr(a), 10, "live"),
        (_addr(b), 20, "live"),
    ]
    f.free(b)
    assert len(f.layout()["regions"][0]["blocks"]) == 1


def test_arena_layout_shows_chunks_newest_first():
    arena = zheap.ArenaAllocator()
    small, big = arena.alloc(100), arena.alloc(5000)
    chunks = arena.layout()["regions"]
    assert [c["kind"] for c in chunks] == ["chunk", "chunk"] == ["chunk"] * arena.stats()["chunks"]
    newest, oldest = chunks
    assert newest["used"] == arena.stats()["end_index"] and oldest["used"] == oldest["size"]
    assert sum(c["size"] for c in chunks) == arena.query_capacity()
    assert [b["address"] for b in newest["blocks"]] == [_addr(big)]
    assert [b["address"] for b in oldest["blocks"]] == [_addr(small)]
    arena.reset()
    (kept,) = arena.layout()["regions"]
    assert kept["blocks"] == [] and kept["used"] == 0
    arena.deinit()
    assert arena.layout()["regions"] == []


def test_pool_layout_shows_the_free_list():
    pool = zheap.MemoryPool(16)
    items = [pool.create() for _ in range(4)]
    freed = _addr(items[1])
    pool.destroy(items[1])
    blocks = [b for r in pool.layout()["regions"] for b in r["blocks"]]
    assert [b["state"] for b in blocks].count("free") == 1
    assert next(b for b in blocks if b["state"] == "free")["address"] == freed
    assert [b["address"] for b in blocks] == sorted(b["address"] for b in blocks)
    assert all(b["length"] == 16 for b in blocks)
