/* bench_composable.c -- the composable allocators against their floors and
 * against malloc, in one run, as ratios (machines here are shared and noisy:
 * only ratios within one run mean anything).
 *
 *   bump:  n allocations of 64 B (alignment 8), then a reset; repeated.
 *          raw bump pointer (the physical floor) vs FixedBufferAllocator
 *          (direct call and through the vtable) vs ArenaAllocator (vtable,
 *          reset(retain_capacity)) vs malloc + free of every block.
 *   pool:  1000 live 64-byte items; each step destroys the oldest and
 *          creates one. MemoryPool vs malloc/free with the same pattern.
 *
 * Every variant writes one byte into each block, so none can be optimised
 * into nothing, and every figure is the median of ROUNDS interleaved rounds.
 * Build and run: make -C bench */
#define _POSIX_C_SOURCE 200809L
#include "zheap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

/* ZHEAP_BENCH_QUICK=1 (the CI smoke run): a hundredth of the work. */
static long quick = 1;

/* Bump rounds allocate `n` blocks before each reset: 2,000 (128 KiB, in
 * cache: the allocator's own cost shows) or 100,000 (6.4 MiB: memory-bound). */
enum { N = 100000, TOTAL = 2000000, ROUNDS = 9, LIVE = 1000, STEPS = 2000000 };
static int n = N;
static long rounds_of(int blocks) {
    long r = TOTAL / quick / blocks;
    return r > 0 ? r : 1;
}

static unsigned char *blocks[N];
static _Alignas(64) unsigned char arena_buf[N * 64 + 4096];

/* --- bump workloads: each returns ns per allocation ------------------------- */

static double run_raw_bump(void) {
    double t0 = now_ns();
    for (long r = 0; r < rounds_of(n); r++) {
        uintptr_t base = (uintptr_t)arena_buf, end = 0;
        for (int i = 0; i < n; i++) {
            uintptr_t p = (base + end + 7) & ~(uintptr_t)7;
            end = p - base + 64;
            blocks[i] = (unsigned char *)p;
            blocks[i][0] = (unsigned char)i;
        }
        __asm__ volatile("" ::: "memory"); /* the reset */
    }
    return (now_ns() - t0) / ((double)rounds_of(n) * n);
}

static double run_fba_direct(void) {
    zh_fba fba;
    zh_fba_init(&fba, arena_buf, sizeof arena_buf);
    double t0 = now_ns();
    for (long r = 0; r < rounds_of(n); r++) {
        for (int i = 0; i < n; i++) {
            blocks[i] = zh_fba_alloc(&fba, 64, 3);
            blocks[i][0] = (unsigned char)i;
        }
        zh_fba_reset(&fba);
    }
    return (now_ns() - t0) / ((double)rounds_of(n) * n);
}

static double run_fba_vtable(void) {
    zh_fba fba;
    zh_fba_init(&fba, arena_buf, sizeof arena_buf);
    zh_allocator a = zh_fba_allocator(&fba);
    double t0 = now_ns();
    for (long r = 0; r < rounds_of(n); r++) {
        for (int i = 0; i < n; i++) {
            blocks[i] = zh_raw_alloc(a, 64, 3, 0);
            blocks[i][0] = (unsigned char)i;
        }
        zh_fba_reset(&fba);
    }
    return (now_ns() - t0) / ((double)rounds_of(n) * n);
}

static double run_arena(void) {
    zh_arena arena;
    zh_arena_init(&arena, zh_page_allocator());
    zh_allocator a = zh_arena_allocator(&arena);
    double t0 = now_ns();
    for (long r = 0; r < rounds_of(n); r++) {
        for (int i = 0; i < n; i++) {
            blocks[i] = zh_raw_alloc(a, 64, 3, 0);
            blocks[i][0] = (unsigned char)i;
        }
        (void)zh_arena_reset(&arena, ZH_ARENA_RETAIN_CAPACITY, 0);
    }
    double t = (now_ns() - t0) / ((double)rounds_of(n) * n);
    zh_arena_deinit(&arena);
    return t;
}

static double run_malloc_bump(void) {
    double t0 = now_ns();
    for (long r = 0; r < rounds_of(n); r++) {
        for (int i = 0; i < n; i++) {
            blocks[i] = malloc(64);
            blocks[i][0] = (unsigned char)i;
        }
        for (int i = 0; i < n; i++) free(blocks[i]); /* malloc's "reset" */
    }
    return (now_ns() - t0) / ((double)rounds_of(n) * n);
}

/* --- pool workloads: ns per destroy+create step ------------------------------ */

static double run_pool(void) {
    zh_memory_pool pool;
    zh_memory_pool_init(&pool, zh_page_allocator(), 64, 3, ZH_MEMORY_POOL_OPTIONS_DEFAULT);
    for (int i = 0; i < LIVE; i++) blocks[i] = zh_memory_pool_create(&pool);
    double t0 = now_ns();
    for (long s = 0; s < STEPS / quick; s++) {
        int k = s % LIVE;
        zh_memory_pool_destroy(&pool, blocks[k]);
        blocks[k] = zh_memory_pool_create(&pool);
        blocks[k][0] = (unsigned char)s;
    }
    double t = (now_ns() - t0) / ((double)STEPS / quick);
    zh_memory_pool_deinit(&pool);
    return t;
}

static double run_malloc_pool(void) {
    for (int i = 0; i < LIVE; i++) blocks[i] = malloc(64);
    double t0 = now_ns();
    for (long s = 0; s < STEPS / quick; s++) {
        int k = s % LIVE;
        free(blocks[k]);
        blocks[k] = malloc(64);
        blocks[k][0] = (unsigned char)s;
    }
    double t = (now_ns() - t0) / ((double)STEPS / quick);
    for (int i = 0; i < LIVE; i++) free(blocks[i]);
    return t;
}

typedef struct {
    const char *name;
    double (*fn)(void);
    int baseline; /* index of the row this one is compared with */
    double samples[ROUNDS];
} row;

static void measure(row *rows, int nrows) {
    double med[16];
    for (int i = 0; i < nrows; i++) (void)rows[i].fn(); /* warm up: page faults, caches */
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < nrows; i++) rows[i].samples[r] = rows[i].fn();
    for (int i = 0; i < nrows; i++) {
        qsort(rows[i].samples, ROUNDS, sizeof(double), cmp_double);
        med[i] = rows[i].samples[ROUNDS / 2];
    }
    for (int i = 0; i < nrows; i++)
        printf("| %s | %.2f | %.2fx%s |\n", rows[i].name, med[i], med[i] / med[rows[i].baseline],
               i == rows[i].baseline ? " (baseline)" : "");
}

int main(void) {
    if (getenv("ZHEAP_BENCH_QUICK") != NULL) quick = 100;
    row bump[] = {
        {"raw bump pointer (floor)", run_raw_bump, 0, {0}},
        {"FixedBufferAllocator, direct call", run_fba_direct, 0, {0}},
        {"FixedBufferAllocator, vtable", run_fba_vtable, 0, {0}},
        {"ArenaAllocator, vtable, reset(retain_capacity)", run_arena, 0, {0}},
        {"malloc, then free all", run_malloc_bump, 0, {0}},
    };
    row pool[] = {
        {"malloc/free", run_malloc_pool, 0, {0}},
        {"MemoryPool create/destroy", run_pool, 0, {0}},
    };
    printf("median of %d interleaved rounds; ratios within each table\n", ROUNDS);
    int sizes[] = {2000, N};
    for (int k = 0; k < 2; k++) {
        n = sizes[k];
        printf("\n### bump allocation of 64 B, %d blocks (%d KiB) per reset\n\n", n, n * 64 / 1024);
        printf("| allocator | ns/alloc | vs floor |\n|---|---:|---:|\n");
        measure(bump, (int)(sizeof bump / sizeof *bump));
    }
    printf("\n### 64 B churn with %d live: destroy the oldest, create one\n\n", LIVE);
    printf("| allocator | ns/step | vs malloc |\n|---|---:|---:|\n");
    measure(pool, (int)(sizeof pool / sizeof *pool));
    return 0;
}
