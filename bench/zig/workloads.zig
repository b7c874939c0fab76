//! Zig 0.15.1's std.heap allocators on the workloads of bench/workloads.c (same loops,
//! same sizes, same xorshift sequence), through std.mem.Allocator. Prints
//! "allocator workload ns" lines, the median of 5 rounds; ZHEAP_BENCH_QUICK: a hundredth.
const std = @import("std");

const live = 1000;
const rounds = 5;
var quick: usize = 1;

var ring: [live][]u8 = undefined;

fn xorshift(s: *u64) u64 {
    s.* ^= s.* << 13;
    s.* ^= s.* >> 7;
    s.* ^= s.* << 17;
    return s.*;
}

fn churn(a: std.mem.Allocator, mix: bool) f64 {
    var seed: u64 = 0x9E3779B97F4A7C15;
    const steps = 1_000_000 / quick;
    for (&ring) |*slot| {
        const n = if (mix) 8 + xorshift(&seed) % 4089 else 64;
        slot.* = a.alloc(u8, n) catch unreachable;
    }
    var timer = std.time.Timer.start() catch unreachable;
    var i: usize = 0;
    while (i < steps) : (i += 1) {
        const k = i % live;
        a.free(ring[k]);
        const n = if (mix) 8 + xorshift(&seed) % 4089 else 64;
        ring[k] = a.alloc(u8, n) catch unreachable;
        ring[k][0] = @truncate(i);
    }
    const t = @as(f64, @floatFromInt(timer.read())) / @as(f64, @floatFromInt(steps));
    for (ring) |b| a.free(b);
    return t;
}

fn grow(a: std.mem.Allocator) f64 {
    const reps: usize = if (quick > 1) 1 else 5;
    var ops: usize = 0;
    var timer = std.time.Timer.start() catch unreachable;
    for (0..reps) |_| {
        var p = a.alloc(u8, 16) catch unreachable;
        while (p.len < 64 << 20) {
            const next = p.len + p.len / 2;
            p = a.realloc(p, next) catch unreachable;
            p[next - 1] = 1;
            ops += 1;
        }
        a.free(p);
    }
    return @as(f64, @floatFromInt(timer.read())) / @as(f64, @floatFromInt(ops));
}

fn large(a: std.mem.Allocator) f64 {
    const sizes = [_]usize{ 64 << 10, 1 << 20, 16 << 20, 64 << 20 };
    const reps = 200 / quick + 1;
    var ops: usize = 0;
    var timer = std.time.Timer.start() catch unreachable;
    for (0..reps) |_| {
        for (sizes) |n| {
            const p = a.alloc(u8, n) catch unreachable;
            p[n / 2] = 1;
            a.free(p);
            ops += 1;
        }
    }
    return @as(f64, @floatFromInt(timer.read())) / @as(f64, @floatFromInt(ops));
}

fn bumpArena() f64 {
    var arena = std.heap.ArenaAllocator.init(std.heap.page_allocator);
    defer arena.deinit();
    const a = arena.allocator();
    const resets = 1000 / quick + 1;
    var timer = std.time.Timer.start() catch unreachable;
    for (0..resets) |_| {
        for (0..2000) |i| (a.alloc(u8, 64) catch unreachable)[0] = @truncate(i);
        _ = arena.reset(.retain_capacity);
    }
    return @as(f64, @floatFromInt(timer.read())) / @as(f64, @floatFromInt(resets * 2000));
}

var fba_buf: [2000 * 64]u8 align(64) = undefined;

fn bumpFba() f64 {
    var fba = std.heap.FixedBufferAllocator.init(&fba_buf);
    const a = fba.allocator();
    const resets = 1000 / quick + 1;
    var timer = std.time.Timer.start() catch unreachable;
    for (0..resets) |_| {
        for (0..2000) |i| (a.alloc(u8, 64) catch unreachable)[0] = @truncate(i);
        fba.reset();
    }
    return @as(f64, @floatFromInt(timer.read())) / @as(f64, @floatFromInt(resets * 2000));
}

const Item = [64]u8;
var items: [live]*align(8) Item = undefined;

fn poolChurn() f64 {
    var pool = std.heap.MemoryPool(Item).init(std.heap.page_allocator);
    defer pool.deinit();
    for (&items) |*slot| slot.* = pool.create() catch unreachable;
    const steps = 1_000_000 / quick;
    var timer = std.time.Timer.start() catch unreachable;
    var i: usize = 0;
    while (i < steps) : (i += 1) {
        const k = i % live;
        pool.destroy(items[k]);
        items[k] = pool.create() catch unreachable;
        items[k][0] = @truncate(i);
    }
    return @as(f64, @floatFromInt(timer.read())) / @as(f64, @floatFromInt(steps));
}

fn debugChurn(mix: bool) f64 {
    var gpa: std.heap.DebugAllocator(.{ .stack_trace_frames = 0, .safety = true }) = .init;
    const t = churn(gpa.allocator(), mix);
    _ = gpa.deinit();
    return t;
}

/// ZHEAP_BENCH_ONLY="allocator workload": run that row once and no other (for callgrind).
var only: ?[]const u8 = null;

fn want(allocator: []const u8, workload: []const u8) bool {
    const o = only orelse return true;
    return o.len == allocator.len + 1 + workload.len and std.mem.startsWith(u8, o, allocator) and
        o[allocator.len] == ' ' and std.mem.eql(u8, o[allocator.len + 1 ..], workload);
}

fn median(f: anytype, args: anytype) f64 {
    if (only != null) return @call(.auto, f, args);
    var s: [rounds]f64 = undefined;
    for (&s) |*x| x.* = @call(.auto, f, args);
    std.mem.sort(f64, &s, {}, std.sort.asc(f64));
    return s[rounds / 2];
}

pub fn main() !void {
    // ZHEAP_BENCH_QUICK: a hundredth of the work, or 1/N for a number N > 1.
    if (std.posix.getenv("ZHEAP_BENCH_QUICK")) |q| {
        const n = std.fmt.parseInt(usize, q, 10) catch 0;
        quick = if (n > 1) n else 100;
    }
    only = std.posix.getenv("ZHEAP_BENCH_ONLY");
    var buf: [4096]u8 = undefined;
    var len: usize = 0;
    const Row = struct { []const u8, []const u8, f64 };
    const rows = [_]Row{
        .{ "c_allocator", "churn64", if (want("c_allocator", "churn64")) median(churn, .{ std.heap.c_allocator, false }) else -1 },
        .{ "c_allocator", "mix", if (want("c_allocator", "mix")) median(churn, .{ std.heap.c_allocator, true }) else -1 },
        .{ "c_allocator", "grow", if (want("c_allocator", "grow")) median(grow, .{std.heap.c_allocator}) else -1 },
        .{ "c_allocator", "large", if (want("c_allocator", "large")) median(large, .{std.heap.c_allocator}) else -1 },
        .{ "page_allocator", "grow", if (want("page_allocator", "grow")) median(grow, .{std.heap.page_allocator}) else -1 },
        .{ "page_allocator", "large", if (want("page_allocator", "large")) median(large, .{std.heap.page_allocator}) else -1 },
        .{ "smp_allocator", "churn64", if (want("smp_allocator", "churn64")) median(churn, .{ std.heap.smp_allocator, false }) else -1 },
        .{ "smp_allocator", "mix", if (want("smp_allocator", "mix")) median(churn, .{ std.heap.smp_allocator, true }) else -1 },
        .{ "smp_allocator", "grow", if (want("smp_allocator", "grow")) median(grow, .{std.heap.smp_allocator}) else -1 },
        .{ "smp_allocator", "large", if (want("smp_allocator", "large")) median(large, .{std.heap.smp_allocator}) else -1 },
        .{ "ArenaAllocator", "bump64", if (want("ArenaAllocator", "bump64")) median(bumpArena, .{}) else -1 },
        .{ "FixedBufferAllocator", "bump64", if (want("FixedBufferAllocator", "bump64")) median(bumpFba, .{}) else -1 },
        .{ "MemoryPool", "churn64", if (want("MemoryPool", "churn64")) median(poolChurn, .{}) else -1 },
        .{ "DebugAllocator", "churn64", if (want("DebugAllocator", "churn64")) median(debugChurn, .{false}) else -1 },
        .{ "DebugAllocator", "mix", if (want("DebugAllocator", "mix")) median(debugChurn, .{true}) else -1 },
    };
    for (rows) |r| {
        if (r[2] < 0) continue;
        const line = try std.fmt.bufPrint(buf[len..], "{s} {s} {d:.2}\n", .{ r[0], r[1], r[2] });
        len += line.len;
    }
    try std.fs.File.stdout().writeAll(buf[0..len]);
}
