/* scaling.c -- how the cost of an allocator scales, built once per peer
 * (-DKIND=...: glibc malloc, mimalloc, jemalloc linked in place of malloc) and
 * once for zheap (its SmpAllocator, c_allocator, page_allocator and
 * ThreadSafeAllocator in one binary).
 *
 *   size N     alloc+free of N bytes (16 B .. 64 MiB), touching the first byte,
 *              with one block of the same size kept alive: a lone pair loop would
 *              send mimalloc down its page-retire path on every free
 *   live N     N live 64 B blocks (10^2 .. 10^6); free a random one, allocate one
 *   aligned A  alloc+free of 64 B aligned to A (16, 64, 4096): glibc's
 *              posix_memalign costs several times its malloc
 *   threads2   two threads, 1000 live 64 B blocks each, free oldest + allocate:
 *              ThreadSafeAllocator's mutex against thread-safe allocators
 *   rss        (one allocator per process: `scaling rss NAME`) 10^5 live blocks of
 *              8..4096 B churned; peak RSS growth / peak requested bytes
 *
 * Prints "allocator workload param value" lines: ns per operation (median of 3
 * rounds), or for rss the ratio. ZHEAP_BENCH_QUICK=1: a hundredth of the work. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

#define KIND_GLIBC 0
#define KIND_MIMALLOC 1
#define KIND_JEMALLOC 2
#define KIND_ZHEAP 3

#if KIND == KIND_MIMALLOC
#include <mimalloc.h>
#elif KIND == KIND_ZHEAP
#include "zheap.h"
#endif

static long quick = 1;

/* One allocator under test: alloc/free with an alignment (1 = none). */
typedef struct {
    const char *name;
    void *(*alloc)(void *ctx, size_t n, size_t align);
    void (*free)(void *ctx, void *p, size_t n, size_t align);
    void *ctx;
    size_t max_size; /* sizes above this are skipped (0: no limit) */
    size_t min_size; /* sizes below this are skipped */
} subject;

#if KIND == KIND_ZHEAP
static void *zh_a(void *ctx, size_t n, size_t align) {
    return zh_raw_alloc(*(zh_allocator *)ctx, n, zh_alignment_from_bytes(align), 0);
}
static void zh_f(void *ctx, void *p, size_t n, size_t align) {
    zh_raw_free(*(zh_allocator *)ctx, p, n, zh_alignment_from_bytes(align), 0);
}
static zh_allocator smp, c_alloc, page, ts_c, ts_smp;
static zh_thread_safe ts_c_state, ts_smp_state;
static subject subjects[] = {
    {"zheap smp", zh_a, zh_f, &smp, 0, 0},
    {"zheap c_allocator", zh_a, zh_f, &c_alloc, 0, 0},
    {"zheap page_allocator", zh_a, zh_f, &page, 0, 4096},
};
#define PEER "zheap"
#else
static void *libc_a(void *ctx, size_t n, size_t align) {
    (void)ctx;
#if KIND == KIND_MIMALLOC
    return align <= 16 ? mi_malloc(n) : mi_malloc_aligned(n, align);
#else
    if (align <= 16) return malloc(n);
    void *p;
    return posix_memalign(&p, align, n) == 0 ? p : NULL;
#endif
}
static void libc_f(void *ctx, void *p, size_t n, size_t align) {
    (void)ctx, (void)n, (void)align;
#if KIND == KIND_MIMALLOC
    mi_free(p);
#else
    free(p);
#endif
}
#if KIND == KIND_MIMALLOC
#define PEER "mimalloc"
#elif KIND == KIND_JEMALLOC
#define PEER "jemalloc"
#else
#define PEER "glibc"
#endif
static subject subjects[] = {{PEER, libc_a, libc_f, NULL, 0, 0}};
#endif

#define NSUBJECTS (sizeof subjects / sizeof subjects[0])

static double median3(double r[3]) {
    qsort(r, 3, sizeof *r, cmp_double);
    return r[1];
}

static void *must(void *p, const char *what) {
    if (p == NULL) {
        fprintf(stderr, "scaling: out of memory in %s\n", what);
        exit(1);
    }
    return p;
}

/* --- size: alloc+free pairs beside one live block of the same size ---------- */

static double pairs(const subject *s, size_t n, size_t align, long iters) {
    void *anchor = must(s->alloc(s->ctx, n, align), "anchor");
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        unsigned char *p = must(s->alloc(s->ctx, n, align), "pairs");
        p[0] = (unsigned char)i;
        s->free(s->ctx, p, n, align);
    }
    double t = (now_ns() - t0) / (double)iters;
    s->free(s->ctx, anchor, n, align);
    return t;
}

static void size_curve(void) {
    for (size_t n = 16; n <= ((size_t)64 << 20); n *= 4) {
        /* Large blocks are system calls and page faults: fewer of them. */
        long iters = (n <= 65536 ? 2000000 : n <= (1 << 20) ? 20000 : 2000) / quick;
        if (iters < 20) iters = 20;
        for (size_t k = 0; k < NSUBJECTS; k++) {
            const subject *s = &subjects[k];
            if (n < s->min_size || (s->max_size && n > s->max_size)) continue;
            double r[3];
            for (int i = 0; i < 3; i++) r[i] = pairs(s, n, 1, iters);
            printf("%s size %zu %.1f\n", s->name, n, median3(r));
        }
    }
}

static void aligned(void) {
    static const size_t aligns[] = {16, 64, 4096};
    for (size_t a = 0; a < 3; a++)
        for (size_t k = 0; k < NSUBJECTS; k++) {
            const subject *s = &subjects[k];
            if (s->min_size > 64) continue;
            double r[3];
            for (int i = 0; i < 3; i++) r[i] = pairs(s, 64, aligns[a], 2000000 / quick);
            printf("%s aligned %zu %.1f\n", s->name, aligns[a], median3(r));
        }
}

/* --- live: N live blocks, a random one replaced per step -------------------- */

static double live_churn(const subject *s, size_t live, long steps) {
    void **ring = must(calloc(live, sizeof *ring), "ring");
    for (size_t k = 0; k < live; k++) ring[k] = must(s->alloc(s->ctx, 64, 1), "live");
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    double t0 = now_ns();
    for (long i = 0; i < steps; i++) {
        size_t k = (size_t)(xorshift(&seed) % live);
        s->free(s->ctx, ring[k], 64, 1);
        unsigned char *p = must(s->alloc(s->ctx, 64, 1), "churn");
        p[0] = (unsigned char)i;
        ring[k] = p;
    }
    double t = (now_ns() - t0) / (double)steps;
    for (size_t k = 0; k < live; k++) s->free(s->ctx, ring[k], 64, 1);
    free(ring);
    return t;
}

static void live_curve(void) {
    for (size_t live = 100; live <= 1000000; live *= 10)
        for (size_t k = 0; k < NSUBJECTS; k++) {
            const subject *s = &subjects[k];
            if (s->min_size > 64) continue;
            double r[3];
            for (int i = 0; i < 3; i++) r[i] = live_churn(s, live, 2000000 / quick);
            printf("%s live %zu %.1f\n", s->name, live, median3(r));
        }
}

/* --- threads2: two threads churning -------------------------------------------- */

typedef struct {
    const subject *s;
    long steps;
    double ns;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    enum { LIVE = 1000 };
    void *ring[LIVE];
    for (int k = 0; k < LIVE; k++) ring[k] = must(w->s->alloc(w->s->ctx, 64, 1), "threads");
    double t0 = now_ns();
    for (long i = 0; i < w->steps; i++) {
        int k = (int)(i % LIVE);
        w->s->free(w->s->ctx, ring[k], 64, 1);
        unsigned char *p = must(w->s->alloc(w->s->ctx, 64, 1), "threads");
        p[0] = (unsigned char)i;
        ring[k] = p;
    }
    w->ns = (now_ns() - t0) / (double)w->steps;
    for (int k = 0; k < LIVE; k++) w->s->free(w->s->ctx, ring[k], 64, 1);
    return NULL;
}

static double two_threads(const subject *s) {
    worker w[2] = {{s, 2000000 / quick, 0}, {s, 2000000 / quick, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, work, &w[i]) != 0) exit(1);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    return (w[0].ns + w[1].ns) / 2;
}

static void threads(void) {
#if KIND == KIND_ZHEAP
    subject extra[] = {
        {"zheap ThreadSafeAllocator(c_allocator)", zh_a, zh_f, &ts_c, 0, 0},
        {"zheap ThreadSafeAllocator(smp)", zh_a, zh_f, &ts_smp, 0, 0},
    };
#endif
    for (size_t k = 0; k < NSUBJECTS; k++) {
        if (subjects[k].min_size > 64) continue;
        double r[3];
        for (int i = 0; i < 3; i++) r[i] = two_threads(&subjects[k]);
        printf("%s threads2 64 %.1f\n", subjects[k].name, median3(r));
    }
#if KIND == KIND_ZHEAP
    for (size_t k = 0; k < 2; k++) {
        double r[3];
        for (int i = 0; i < 3; i++) r[i] = two_threads(&extra[k]);
        printf("%s threads2 64 %.1f\n", extra[k].name, median3(r));
    }
#endif
}

/* --- rss: memory held per byte requested ------------------------------------------ */

static long max_rss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int rss(const char *name) {
    const subject *s = NULL;
    for (size_t k = 0; k < NSUBJECTS; k++)
        if (strcmp(subjects[k].name, name) == 0) s = &subjects[k];
    if (s == NULL) {
        fprintf(stderr, "scaling: no allocator %s here\n", name);
        return 2;
    }
    enum { LIVE = 100000 };
    void **ring = must(calloc(LIVE, sizeof *ring), "ring");
    size_t *lens = must(calloc(LIVE, sizeof *lens), "lens");
    long before = max_rss_kib();
    uint64_t seed = 0x2545F4914F6CDD1Dull;
    size_t requested = 0, peak = 0;
    for (size_t k = 0; k < LIVE; k++) {
        lens[k] = 8 + xorshift(&seed) % 4089;
        ring[k] = must(s->alloc(s->ctx, lens[k], 1), "rss");
        memset(ring[k], 1, lens[k]); /* every byte resident */
        requested += lens[k];
    }
    peak = requested;
    long steps = 2000000 / quick;
    for (long i = 0; i < steps; i++) {
        size_t k = (size_t)(xorshift(&seed) % LIVE);
        s->free(s->ctx, ring[k], lens[k], 1);
        requested -= lens[k];
        lens[k] = 8 + xorshift(&seed) % 4089;
        ring[k] = must(s->alloc(s->ctx, lens[k], 1), "rss");
        memset(ring[k], 1, lens[k]);
        requested += lens[k];
        if (requested > peak) peak = requested;
    }
    long grown = max_rss_kib() - before;
    printf("%s rss %zu %.3f\n", s->name, peak, (double)grown * 1024.0 / (double)peak);
    for (size_t k = 0; k < LIVE; k++) s->free(s->ctx, ring[k], lens[k], 1);
    free(ring);
    free(lens);
    return 0;
}

int main(int argc, char **argv) {
    const char *q = getenv("ZHEAP_BENCH_QUICK");
    if (q != NULL && q[0] == '1') quick = 100;
#if KIND == KIND_ZHEAP
    smp = zh_smp_allocator();
    c_alloc = zh_c_allocator();
    page = zh_page_allocator();
    zh_thread_safe_init(&ts_c_state, c_alloc);
    zh_thread_safe_init(&ts_smp_state, smp);
    ts_c = zh_thread_safe_allocator(&ts_c_state);
    ts_smp = zh_thread_safe_allocator(&ts_smp_state);
#endif
    if (argc == 3 && strcmp(argv[1], "rss") == 0) return rss(argv[2]);
    if (argc == 2 && strcmp(argv[1], "names") == 0) {
        for (size_t k = 0; k < NSUBJECTS; k++) printf("%s\n", subjects[k].name);
        return 0;
    }
    size_curve();
    live_curve();
    aligned();
    threads();
    return 0;
}
