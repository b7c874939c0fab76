//! Zig 0.15.1's DebugAllocator on the churn workload bench/bench_debug_c.c runs on zheap:
//! a FIFO window of 1000 live 64-byte blocks, free the oldest and allocate one per step.
//! Config: safety on, no stack traces (trace capture is not what is compared).
//! Prints the median ns per step over 9 rounds.
const std = @import("std");

const live = 1000;
const full_steps = 2_000_000;
var steps: usize = full_steps; // a hundredth with ZHEAP_BENCH_QUICK set (the CI smoke run)
const rounds = 9;

pub fn main() !void {
    if (std.posix.getenv("ZHEAP_BENCH_QUICK") != null) steps = full_steps / 100;
    var samples: [rounds]f64 = undefined;
    for (&samples) |*sample| {
        var gpa: std.heap.DebugAllocator(.{ .stack_trace_frames = 0, .safety = true }) = .init;
        const a = gpa.allocator();
        var ring: [live][]u8 = undefined;
        for (&ring) |*slot| slot.* = try a.alloc(u8, 64);
        var timer = try std.time.Timer.start();
        var i: usize = 0;
        while (i < steps) : (i += 1) {
            const k = i % live;
            a.free(ring[k]);
            ring[k] = try a.alloc(u8, 64);
            ring[k][0] = @truncate(i);
        }
        sample.* = @as(f64, @floatFromInt(timer.read())) / @as(f64, @floatFromInt(steps));
        for (ring) |block| a.free(block);
        if (gpa.deinit() != .ok) return error.Leak;
    }
    std.mem.sort(f64, &samples, {}, std.sort.asc(f64));
    var buf: [64]u8 = undefined;
    const line = try std.fmt.bufPrint(&buf, "{d:.2}\n", .{samples[rounds / 2]});
    try std.fs.File.stdout().writeAll(line);
}
