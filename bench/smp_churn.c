/* smp_churn.c -- small-object churn, the workload SmpAllocator is compared on,
 * built once per allocator (-DKIND=...): glibc malloc, mimalloc (mi_malloc),
 * jemalloc (linked: it replaces malloc), zheap's SmpAllocator. zig/smp_churn.zig
 * runs the identical workload on Zig 0.15.1's SmpAllocator.
 *
 * Each thread keeps a ring of 1000 live blocks; a step frees the oldest and
 * allocates a new one, writing its first byte. Sizes: fixed 16, 64, 256 B,
 * or a random mix of 8..4096 B (the same xorshift sequence everywhere).
 * Prints "workload threads ns_per_step" lines, the median of 5 rounds. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

/* ZHEAP_BENCH_QUICK=1 (the CI smoke run): a hundredth of the work. */
static long quick = 1;

#define KIND_GLIBC 0
#define KIND_MIMALLOC 1
#define KIND_JEMALLOC 2
#define KIND_ZHEAP 3

#if KIND == KIND_MIMALLOC
#include <mimalloc.h>
#define ALLOC(n) mi_malloc(n)
#define FREE(p, n) mi_free(p)
#elif KIND == KIND_ZHEAP
#include "zheap.h"
#define ALLOC(n) zh_raw_alloc(zh_smp_allocator(), (n), 0, 0)
#define FREE(p, n) zh_raw_free(zh_smp_allocator(), (p), (n), 0, 0)
#else /* glibc, or jemalloc linked in place of it */
#define ALLOC(n) malloc(n)
#define FREE(p, n) free(p)
#endif

enum { LIVE = 1000, STEPS = 2000000, ROUNDS = 5 };

typedef struct {
    size_t fixed; /* 0: random 8..4096 */
    uint64_t index;
    double ns;
} job;

static void *run(void *arg) {
    job *j = arg;
    static _Thread_local unsigned char *ring[LIVE];
    static _Thread_local size_t lens[LIVE];
    uint64_t seed = 0x9E3779B97F4A7C15ull ^ (j->index + 1);
    for (int k = 0; k < LIVE; k++) {
        lens[k] = j->fixed ? j->fixed : 8 + xorshift(&seed) % 4089;
        ring[k] = ALLOC(lens[k]);
    }
    double t0 = now_ns();
    for (long i = 0; i < STEPS / quick; i++) {
        int k = i % LIVE;
        FREE(ring[k], lens[k]);
        lens[k] = j->fixed ? j->fixed : 8 + xorshift(&seed) % 4089;
        ring[k] = ALLOC(lens[k]);
        ring[k][0] = (unsigned char)i;
    }
    j->ns = (now_ns() - t0) / ((double)STEPS / quick);
    for (int k = 0; k < LIVE; k++) FREE(ring[k], lens[k]);
    return NULL;
}

int main(void) {
    if (getenv("ZHEAP_BENCH_QUICK") != NULL) quick = 100;
    const size_t sizes[] = {16, 64, 256, 0};
    const char *names[] = {"16", "64", "256", "mix8-4096"};
    for (int w = 0; w < 4; w++) {
        for (int nthreads = 1; nthreads <= 2; nthreads++) {
            double samples[ROUNDS];
            for (int r = 0; r < ROUNDS; r++) {
                pthread_t t[2];
                job jobs[2];
                for (int i = 0; i < nthreads; i++) {
                    jobs[i] = (job){sizes[w], (uint64_t)i, 0};
                    pthread_create(&t[i], NULL, run, &jobs[i]);
                }
                double sum = 0;
                for (int i = 0; i < nthreads; i++) {
                    pthread_join(t[i], NULL);
                    sum += jobs[i].ns;
                }
                samples[r] = sum / nthreads; /* ns per step per thread */
            }
            qsort(samples, ROUNDS, sizeof *samples, cmp_double);
            printf("%s %d %.2f\n", names[w], nthreads, samples[ROUNDS / 2]);
        }
    }
    return 0;
}
