/* bench_debug_c.c -- zheap's DebugAllocator on the churn workload of
 * zig/debug_churn.zig (Zig 0.15.1's DebugAllocator), same config: safety on,
 * no stack traces, thread-safe. A FIFO window of 1000 live 64-byte blocks;
 * each step frees the oldest and allocates one. Prints the median ns per
 * step over 9 rounds (make -C bench debug runs both and prints the ratio). */
#define _POSIX_C_SOURCE 200809L
#include "zheap.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

/* ZHEAP_BENCH_QUICK=1 (the CI smoke run): a hundredth of the work. */
static long quick = 1;

enum { LIVE = 1000, STEPS = 2000000, ROUNDS = 9 };

int main(void) {
    if (getenv("ZHEAP_BENCH_QUICK") != NULL) quick = 100;
    double samples[ROUNDS];
    static unsigned char *ring[LIVE];
    for (int r = 0; r < ROUNDS; r++) {
        zh_debug_config c = zh_debug_config_default();
        c.stack_trace_frames = 0;
        zh_debug d;
        if (zh_debug_init(&d, zh_page_allocator(), &c, NULL) != 0) return 1;
        zh_allocator a = zh_debug_allocator(&d);
        for (int k = 0; k < LIVE; k++) ring[k] = zh_alloc(a, 1, 64, 0);
        double t0 = now_ns();
        for (long i = 0; i < STEPS / quick; i++) {
            int k = i % LIVE;
            zh_free(a, ring[k], 1, 64, 0);
            ring[k] = zh_alloc(a, 1, 64, 0);
            ring[k][0] = (unsigned char)i;
        }
        samples[r] = (now_ns() - t0) / ((double)STEPS / quick);
        for (int k = 0; k < LIVE; k++) zh_free(a, ring[k], 1, 64, 0);
        if (zh_debug_deinit(&d) != ZH_CHECK_OK) return 1;
    }
    qsort(samples, ROUNDS, sizeof *samples, cmp_double);
    printf("%.2f\n", samples[ROUNDS / 2]);
    return 0;
}
