/* workloads.c -- the workloads zheap's allocators are held to against Zig 0.15.1's own:
 * the same loops as zig/workloads.zig, through the allocator interface on both sides
 * (zh_alloc/zh_free/zh_realloc here, Allocator.alloc/free/realloc there).
 *
 *   churn64  1000 live 64 B blocks; free the oldest, allocate one
 *   mix      1000 live blocks of 8..4096 B (xorshift sizes); free the oldest, allocate one
 *   grow     one buffer grown by realloc x1.5 from 16 B to 64 MiB, then freed
 *   large    alloc+free of 64 KiB, 1 MiB, 16 MiB, 64 MiB blocks, touching one byte
 *   bump64   64 B allocations, 2000 per reset (arena) / per buffer refill (FBA)
 *
 * Prints "allocator workload ns" lines (ns per operation, median of 5 rounds). */
#define _POSIX_C_SOURCE 200809L
#include "zheap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static long quick = 1; /* ZHEAP_BENCH_QUICK: a hundredth of the work */

enum { LIVE = 1000, ROUNDS = 5 };

static unsigned char *ring[LIVE];
static size_t lens[LIVE];

static double churn(zh_allocator a, int mix) {
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    long steps = 1000000 / quick;
    for (int k = 0; k < LIVE; k++) {
        lens[k] = mix ? 8 + xorshift(&seed) % 4089 : 64;
        ring[k] = zh_alloc(a, 1, lens[k], 0);
    }
    double t0 = now_ns();
    for (long i = 0; i < steps; i++) {
        int k = (int)(i % LIVE);
        zh_free(a, ring[k], 1, lens[k], 0);
        lens[k] = mix ? 8 + xorshift(&seed) % 4089 : 64;
        ring[k] = zh_alloc(a, 1, lens[k], 0);
        ring[k][0] = (unsigned char)i;
    }
    double t = (now_ns() - t0) / (double)steps;
    for (int k = 0; k < LIVE; k++) zh_free(a, ring[k], 1, lens[k], 0);
    return t;
}

static double grow(zh_allocator a) {
    long reps = quick > 1 ? 1 : 5, ops = 0;
    double t0 = now_ns();
    for (long r = 0; r < reps; r++) {
        size_t n = 16;
        unsigned char *p = zh_alloc(a, 1, n, 0);
        while (n < ((size_t)64 << 20)) {
            size_t next = n + n / 2;
            p = zh_realloc(a, p, 1, n, 0, next);
            p[next - 1] = 1;
            n = next;
            ops++;
        }
        zh_free(a, p, 1, n, 0);
    }
    return (now_ns() - t0) / (double)ops;
}

static double large(zh_allocator a) {
    static const size_t sizes[] = {64u << 10, 1u << 20, 16u << 20, 64u << 20};
    long reps = 200 / quick + 1, ops = 0;
    double t0 = now_ns();
    for (long r = 0; r < reps; r++)
        for (int i = 0; i < 4; i++) {
            unsigned char *p = zh_alloc(a, 1, sizes[i], 0);
            p[sizes[i] / 2] = 1;
            zh_free(a, p, 1, sizes[i], 0);
            ops++;
        }
    return (now_ns() - t0) / (double)ops;
}

static double bump_arena(void) {
    zh_arena arena;
    zh_arena_init(&arena, zh_page_allocator());
    zh_allocator a = zh_arena_allocator(&arena);
    long resets = 1000 / quick + 1;
    double t0 = now_ns();
    for (long r = 0; r < resets; r++) {
        for (int i = 0; i < 2000; i++) ((unsigned char *)zh_alloc(a, 1, 64, 0))[0] = (unsigned char)i;
        (void)zh_arena_reset(&arena, ZH_ARENA_RETAIN_CAPACITY, 0);
    }
    double t = (now_ns() - t0) / ((double)resets * 2000);
    zh_arena_deinit(&arena);
    return t;
}

static double bump_fba(void) {
    static _Alignas(64) unsigned char buf[2000 * 64];
    zh_fba fba;
    zh_fba_init(&fba, buf, sizeof buf);
    zh_allocator a = zh_fba_allocator(&fba);
    long resets = 1000 / quick + 1;
    double t0 = now_ns();
    for (long r = 0; r < resets; r++) {
        for (int i = 0; i < 2000; i++) ((unsigned char *)zh_alloc(a, 1, 64, 0))[0] = (unsigned char)i;
        zh_fba_reset(&fba);
    }
    return (now_ns() - t0) / ((double)resets * 2000);
}

static double pool_churn(void) {
    zh_memory_pool pool;
    zh_memory_pool_init(&pool, zh_page_allocator(), 64, 3, ZH_MEMORY_POOL_OPTIONS_DEFAULT);
    for (int k = 0; k < LIVE; k++) ring[k] = zh_memory_pool_create(&pool);
    long steps = 1000000 / quick;
    double t0 = now_ns();
    for (long i = 0; i < steps; i++) {
        int k = (int)(i % LIVE);
        zh_memory_pool_destroy(&pool, ring[k]);
        ring[k] = zh_memory_pool_create(&pool);
        ring[k][0] = (unsigned char)i;
    }
    double t = (now_ns() - t0) / (double)steps;
    zh_memory_pool_deinit(&pool);
    return t;
}

static zh_debug debug_state;
static zh_allocator debug_allocator(void) {
    zh_debug_config c = zh_debug_config_default();
    c.stack_trace_frames = 0;
    (void)zh_debug_init(&debug_state, zh_page_allocator(), &c, NULL);
    return zh_debug_allocator(&debug_state);
}

typedef double (*bench_fn)(void);
#define WRAP(name, expr) \
    static double name(void) { return expr; }
WRAP(c_churn64, churn(zh_c_allocator(), 0))
WRAP(c_mix, churn(zh_c_allocator(), 1))
WRAP(c_grow, grow(zh_c_allocator()))
WRAP(c_large, large(zh_c_allocator()))
WRAP(page_grow, grow(zh_page_allocator()))
WRAP(page_large, large(zh_page_allocator()))
WRAP(smp_churn64, churn(zh_smp_allocator(), 0))
WRAP(smp_mix, churn(zh_smp_allocator(), 1))
WRAP(smp_grow, grow(zh_smp_allocator()))
WRAP(smp_large, large(zh_smp_allocator()))
static double debug_run(int mix) {
    zh_allocator a = debug_allocator();
    double t = churn(a, mix);
    (void)zh_debug_deinit(&debug_state);
    return t;
}
WRAP(debug_churn64, debug_run(0))
WRAP(debug_mix, debug_run(1))

int main(void) {
    /* ZHEAP_BENCH_QUICK: a hundredth of the work, or 1/N for a number N > 1. */
    const char *q = getenv("ZHEAP_BENCH_QUICK");
    if (q != NULL) quick = atol(q) > 1 ? atol(q) : 100;
    /* ZHEAP_BENCH_ONLY="allocator workload": that row, once (for callgrind). */
    const char *only = getenv("ZHEAP_BENCH_ONLY");
    static const struct {
        const char *allocator, *workload;
        bench_fn fn;
    } rows[] = {
        {"c_allocator", "churn64", c_churn64},  {"c_allocator", "mix", c_mix},
        {"c_allocator", "grow", c_grow},        {"c_allocator", "large", c_large},
        {"page_allocator", "grow", page_grow},  {"page_allocator", "large", page_large},
        {"smp_allocator", "churn64", smp_churn64}, {"smp_allocator", "mix", smp_mix},
        {"smp_allocator", "grow", smp_grow},    {"smp_allocator", "large", smp_large},
        {"ArenaAllocator", "bump64", bump_arena}, {"FixedBufferAllocator", "bump64", bump_fba},
        {"MemoryPool", "churn64", pool_churn},  {"DebugAllocator", "churn64", debug_churn64},
        {"DebugAllocator", "mix", debug_mix},
    };
    for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
        char name[128];
        snprintf(name, sizeof name, "%s %s", rows[r].allocator, rows[r].workload);
        if (only != NULL && strcmp(only, name) != 0) continue;
        int rounds = only != NULL ? 1 : ROUNDS;
        double s[ROUNDS];
        for (int i = 0; i < rounds; i++) s[i] = rows[r].fn();
        qsort(s, (size_t)rounds, sizeof *s, cmp_double);
        printf("%s %.2f\n", name, s[rounds / 2]);
    }
    return 0;
}
