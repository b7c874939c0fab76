//! bench/traces.c for Zig 0.15.1's own allocators: replays a malloc-lab .rep trace
//! through std.heap.c_allocator, raw_c_allocator, smp_allocator, page_allocator, an
//! ArenaAllocator over page_allocator, or DebugAllocator(.{ .stack_trace_frames = 0,
//! .safety = true }), every block aligned to 16 bytes and reallocated with
//! `allocator.realloc`. The same checking pass (the same byte patterns), the same
//! RSS measurement and the same timed passes as the C driver; the same output line.
//!
//!   zig_traces names              the allocators
//!   zig_traces run NAME FILE      one trace through one allocator
//!
//! The trace and the tables are in page_allocator memory, so that only the replay goes
//! through malloc.
const std = @import("std");
const builtin = @import("builtin");
const Allocator = std.mem.Allocator;

const Op = struct { id: u32, kind: u8, size: usize };
const Block = []align(16) u8;
const empty: Block = &.{};

const passes = 5;
const target_ns: f64 = 5e6;
const names = [_][]const u8{
    "c_allocator",    "raw_c_allocator", "smp_allocator",
    "page_allocator", "ArenaAllocator",  "DebugAllocator",
};

var ops: []Op = &.{};
var blocks: []Block = &.{};
var trace_name: []const u8 = "";
var which: usize = 0;

const Debug = std.heap.DebugAllocator(.{ .stack_trace_frames = 0, .safety = true });
var arena: std.heap.ArenaAllocator = undefined;
var debug: Debug = undefined;

fn setup() Allocator {
    switch (which) {
        0 => return std.heap.c_allocator,
        1 => return std.heap.raw_c_allocator,
        2 => return std.heap.smp_allocator,
        3 => return std.heap.page_allocator,
        4 => {
            arena = .init(std.heap.page_allocator);
            return arena.allocator();
        },
        else => {
            debug = .init;
            return debug.allocator();
        },
    }
}

fn teardown() void {
    if (which == 4) arena.deinit();
    if (which == 5 and debug.deinit() == .leak) die("DebugAllocator reports a leak", .{}, 1);
}

fn die(comptime fmt: []const u8, args: anytype, status: u8) noreturn {
    var buf: [512]u8 = undefined;
    const line = std.fmt.bufPrint(&buf, "zig_traces: " ++ fmt ++ "\n", args) catch "zig_traces: error\n";
    std.fs.File.stderr().writeAll(line) catch {};
    std.process.exit(status);
}

fn isSpace(c: u8) bool {
    return c == ' ' or c == '\t' or c == '\r';
}

/// Reads the trace as zheap.lab.RepTrace.loads does (see traces.c's load).
fn load(path: []const u8) void {
    const pa = std.heap.page_allocator;
    const text = std.fs.cwd().readFileAlloc(pa, path, 1 << 40) catch |e|
        die("{s}: {s}", .{ path, @errorName(e) }, 2);
    var lines: usize = 1;
    for (text) |c| lines += @intFromBool(c == '\n');
    const table = pa.alloc(Op, lines) catch die("out of memory", .{}, 2);
    var n: usize = 0;
    var nids: usize = 0;
    var header: usize = 0;
    var line_no: usize = 0;
    var it = std.mem.splitScalar(u8, text, '\n');
    while (it.next()) |raw| {
        line_no += 1;
        const line = std.mem.trim(u8, raw, " \t\r");
        if (line.len == 0 or line[0] == '#') continue;
        if (header < 4) {
            const digits = if (line[0] == '-') line[1..] else line;
            if (digits.len == 0 or !std.ascii.isDigit(digits[0]))
                die("{s}:{d}: the header is four integers", .{ path, line_no }, 2);
            header += 1;
            continue;
        }
        const kind = line[0];
        if ((kind != 'a' and kind != 'r' and kind != 'f') or line.len < 2 or !isSpace(line[1]))
            die("{s}:{d}: an operation is 'a ID SIZE', 'r ID SIZE' or 'f ID'", .{ path, line_no }, 2);
        var nums = [2]usize{ 0, 0 };
        var got: usize = 0;
        var toks = std.mem.tokenizeAny(u8, line[1..], " \t\r");
        while (toks.next()) |tok| {
            if (got == 2) die("{s}:{d}: too many numbers", .{ path, line_no }, 2);
            nums[got] = std.fmt.parseInt(usize, tok, 10) catch
                die("{s}:{d}: ids and sizes are numbers, not negative", .{ path, line_no }, 2);
            got += 1;
        }
        if (got != @as(usize, if (kind == 'f') 1 else 2) or nums[0] >= std.math.maxInt(u32))
            die("{s}:{d}: an operation is 'a ID SIZE', 'r ID SIZE' or 'f ID'", .{ path, line_no }, 2);
        table[n] = .{ .id = @intCast(nums[0]), .kind = kind, .size = nums[1] };
        n += 1;
        nids = @max(nids, nums[0] + 1);
    }
    if (header < 4) die("{s}: a .rep trace starts with four header numbers", .{path}, 2);
    ops = table[0..n];
    blocks = pa.alloc(Block, nids) catch die("out of memory", .{}, 2);
    @memset(blocks, empty);
    const live = pa.alloc(bool, nids) catch die("out of memory", .{}, 2);
    defer pa.free(live);
    @memset(live, false);
    for (ops, 0..) |o, i| {
        if ((o.kind == 'a') == live[o.id]) die("{s}: operation {d}: {s} {d}", .{
            path,                                                                                 i + 1,
            if (o.kind == 'a') "allocates the live block" else "frees or reallocates the dead block", o.id,
        }, 2);
        live[o.id] = o.kind != 'f';
    }
}

// --- the checking pass -------------------------------------------------------------------

fn pattern(id: u64, k: u64) u64 {
    return ((id +% 1) *% 0x9E3779B97F4A7C15) ^ (k *% 0xD6E8FEB86659FD93) ^ (k << 7);
}

fn patternByte(id: u64, i: usize) u8 {
    const w = pattern(id, i / 8);
    return std.mem.asBytes(&w)[i % 8];
}

fn fill(p: []u8, id: u32, from: usize, to: usize) void {
    var i = from;
    while (i < to and i % 8 != 0) : (i += 1) p[i] = patternByte(id, i);
    while (i + 8 <= to) : (i += 8) {
        const w = pattern(id, i / 8);
        @memcpy(p[i..][0..8], std.mem.asBytes(&w));
    }
    while (i < to) : (i += 1) p[i] = patternByte(id, i);
}

fn check(p: []const u8, id: u32, from: usize, to: usize, at: usize) void {
    var i = from;
    while (i < to and i % 8 != 0) : (i += 1) if (p[i] != patternByte(id, i)) changed(id, p.len, i, at);
    while (i + 8 <= to) : (i += 8) {
        const w = pattern(id, i / 8);
        if (!std.mem.eql(u8, p[i..][0..8], std.mem.asBytes(&w))) break;
    }
    while (i < to) : (i += 1) if (p[i] != patternByte(id, i)) changed(id, p.len, i, at);
}

fn changed(id: u32, len: usize, i: usize, at: usize) noreturn {
    die("Zig {s} on {s}, op {d}: block {d} ({d} B) changed at byte {d}", .{ names[which], trace_name, at + 1, id, len, i }, 1);
}

fn gotBlock(p: Block, at: usize) void {
    if (p.len != 0 and @intFromPtr(p.ptr) % 16 != 0)
        die("Zig {s} on {s}, op {d}: a block not aligned to 16 B", .{ names[which], trace_name, at + 1 }, 1);
}

fn oom(at: usize) noreturn {
    die("Zig {s} on {s}, op {d}: out of memory", .{ names[which], trace_name, at + 1 }, 1);
}

/// Returns the peak of the bytes live at once.
fn checkingPass() usize {
    var live: usize = 0;
    var peak: usize = 0;
    const a = setup();
    for (ops, 0..) |o, i| {
        switch (o.kind) {
            'a' => {
                const p = a.alignedAlloc(u8, .@"16", o.size) catch oom(i);
                gotBlock(p, i);
                fill(p, o.id, 0, o.size);
                blocks[o.id] = p;
                live += o.size;
            },
            'r' => {
                const old = blocks[o.id];
                const keep = @min(old.len, o.size);
                check(old, o.id, keep, old.len, i);
                const p = a.realloc(old, o.size) catch oom(i);
                gotBlock(p, i);
                check(p, o.id, 0, keep, i);
                fill(p, o.id, keep, o.size);
                blocks[o.id] = p;
                live = live - old.len + o.size;
            },
            else => {
                const old = blocks[o.id];
                check(old, o.id, 0, old.len, i);
                a.free(old);
                live -= old.len;
                blocks[o.id] = empty;
            },
        }
        peak = @max(peak, live);
    }
    for (blocks, 0..) |*b, id| {
        check(b.*, @intCast(id), 0, b.len, ops.len);
        a.free(b.*);
        b.* = empty;
    }
    teardown();
    return peak;
}

// --- the timed passes --------------------------------------------------------------------

fn timedReplay() u64 {
    const a = setup();
    var timer = std.time.Timer.start() catch unreachable;
    for (ops, 0..) |o, i| {
        switch (o.kind) {
            'a' => {
                const p = a.alignedAlloc(u8, .@"16", o.size) catch oom(i);
                if (o.size != 0) p[0] = @truncate(i);
                blocks[o.id] = p;
            },
            'r' => {
                const p = a.realloc(blocks[o.id], o.size) catch oom(i);
                if (o.size != 0) p[0] = @truncate(i);
                blocks[o.id] = p;
            },
            else => {
                a.free(blocks[o.id]);
                blocks[o.id] = empty;
            },
        }
    }
    const t = timer.read();
    for (blocks) |*b| {
        a.free(b.*);
        b.* = empty;
    }
    teardown();
    return t;
}

// --- memory ------------------------------------------------------------------------------

/// A field of /proc/self/status in KiB, or -1.
fn statusKib(field: []const u8) i64 {
    var buf: [4096]u8 = undefined;
    const f = std.fs.cwd().openFile("/proc/self/status", .{}) catch return -1;
    defer f.close();
    const n = f.read(&buf) catch return -1;
    const at = std.mem.indexOf(u8, buf[0..n], field) orelse return -1;
    var toks = std.mem.tokenizeAny(u8, buf[at + field.len + 1 .. n], " \t\n");
    const tok = toks.next() orelse return -1;
    return std.fmt.parseInt(i64, tok, 10) catch -1;
}

fn resetPeak() void {
    const f = std.fs.cwd().openFile("/proc/self/clear_refs", .{ .mode = .write_only }) catch return;
    defer f.close();
    f.writeAll("5") catch {};
}

pub fn main() !void {
    const args = try std.process.argsAlloc(std.heap.page_allocator);
    var out: [1024]u8 = undefined;
    const stdout = std.fs.File.stdout();
    if (args.len == 2 and std.mem.eql(u8, args[1], "names")) {
        for (names) |n| try stdout.writeAll(try std.fmt.bufPrint(&out, "{s}\tZig {s}\n", .{ n, n }));
        return;
    }
    if (args.len != 4 or !std.mem.eql(u8, args[1], "run"))
        die("usage: zig_traces names | zig_traces run NAME FILE.rep", .{}, 2);
    which = for (names, 0..) |n, i| {
        if (std.mem.eql(u8, n, args[2])) break i;
    } else die("no allocator {s} here (see `zig_traces names`)", .{args[2]}, 2);
    const quick = std.posix.getenv("ZHEAP_BENCH_QUICK") != null;
    const base = std.fs.path.basename(args[3]);
    trace_name = if (std.mem.lastIndexOfScalar(u8, base, '.')) |dot| (if (dot > 0) base[0..dot] else base) else base;
    load(args[3]);

    resetPeak();
    const before = statusKib("VmRSS:");
    const peak = checkingPass();
    const hwm = statusKib("VmHWM:");
    const grown: i64 = if (before >= 0 and hwm >= before) (hwm - before) * 1024 else -1;

    var samples: [passes]f64 = undefined;
    const n_passes: usize = if (quick) 1 else passes;
    var reps: u64 = 1;
    if (!quick and ops.len > 0) {
        const t: f64 = @floatFromInt(timedReplay());
        reps = if (t >= target_ns) 1 else @min(100000, @as(u64, @intFromFloat(target_ns / @max(t, 1))) + 1);
    }
    for (samples[0..n_passes]) |*s| {
        var t: u64 = 0;
        for (0..reps) |_| t += timedReplay();
        const total: f64 = @floatFromInt(reps * ops.len);
        s.* = if (ops.len > 0) @as(f64, @floatFromInt(t)) / total else 0;
    }
    std.mem.sort(f64, samples[0..n_passes], {}, std.sort.asc(f64));
    try stdout.writeAll(try std.fmt.bufPrint(&out, "Zig {s}\t{s}\t{d}\t{d}\t{d}\t{d:.2}\n", .{
        names[which], trace_name, ops.len, peak, grown, samples[n_passes / 2],
    }));
}
