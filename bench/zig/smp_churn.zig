//! Zig 0.15.1's SmpAllocator on the workload of bench/smp_churn.c: per thread a ring of
//! 1000 live blocks, free the oldest and allocate one per step; fixed 16/64/256 B or a
//! random 8..4096 B mix (the same xorshift sequence), 1 and 2 threads, median of 5.
const std = @import("std");

const live = 1000;
const full_steps = 2_000_000;
var steps: usize = full_steps; // a hundredth with ZHEAP_BENCH_QUICK set (the CI smoke run)
const rounds = 5;

const Job = struct { fixed: usize, seed: u64, ns: f64 = 0 };

fn xorshift(s: *u64) u64 {
    s.* ^= s.* << 13;
    s.* ^= s.* >> 7;
    s.* ^= s.* << 17;
    return s.*;
}

fn run(job: *Job) void {
    const a = std.heap.smp_allocator;
    var ring: [live][]u8 = undefined;
    var seed = job.seed;
    for (&ring) |*slot| {
        const n = if (job.fixed != 0) job.fixed else 8 + xorshift(&seed) % 4089;
        slot.* = a.alloc(u8, n) catch unreachable;
    }
    var timer = std.time.Timer.start() catch unreachable;
    var i: usize = 0;
    while (i < steps) : (i += 1) {
        const k = i % live;
        a.free(ring[k]);
        const n = if (job.fixed != 0) job.fixed else 8 + xorshift(&seed) % 4089;
        ring[k] = a.alloc(u8, n) catch unreachable;
        ring[k][0] = @truncate(i);
    }
    job.ns = @as(f64, @floatFromInt(timer.read())) / @as(f64, @floatFromInt(steps));
    for (ring) |block| a.free(block);
}

pub fn main() !void {
    if (std.posix.getenv("ZHEAP_BENCH_QUICK") != null) steps = full_steps / 100;
    const sizes = [_]usize{ 16, 64, 256, 0 };
    const names = [_][]const u8{ "16", "64", "256", "mix8-4096" };
    var out_buf: [4096]u8 = undefined;
    var len: usize = 0;
    for (sizes, names) |size, name| {
        var nthreads: usize = 1;
        while (nthreads <= 2) : (nthreads += 1) {
            var samples: [rounds]f64 = undefined;
            for (&samples) |*sample| {
                var jobs: [2]Job = undefined;
                var threads: [2]std.Thread = undefined;
                for (0..nthreads) |t| {
                    jobs[t] = .{ .fixed = size, .seed = 0x9E3779B97F4A7C15 ^ @as(u64, t + 1) };
                    threads[t] = try std.Thread.spawn(.{}, run, .{&jobs[t]});
                }
                var sum: f64 = 0;
                for (0..nthreads) |t| {
                    threads[t].join();
                    sum += jobs[t].ns;
                }
                sample.* = sum / @as(f64, @floatFromInt(nthreads));
            }
            std.mem.sort(f64, &samples, {}, std.sort.asc(f64));
            const line = try std.fmt.bufPrint(out_buf[len..], "{s} {d} {d:.2}\n", .{ name, nthreads, samples[rounds / 2] });
            len += line.len;
        }
    }
    try std.fs.File.stdout().writeAll(out_buf[0..len]);
}
