/* bench.h -- the helpers every C benchmark shares (header-only, so that the
 * peer builds, which do not link libzheap, can use it too). */
#ifndef ZHEAP_BENCH_H
#define ZHEAP_BENCH_H

#include <stdint.h>
#include <time.h>

static inline double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The size sequence of every workload, the same as the Zig drivers'. */
static inline uint64_t xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* qsort order of doubles, for medians. */
static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
