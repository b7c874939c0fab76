/* traces.c -- replay malloc-lab .rep traces (CS:APP's format: four header
 * numbers -- suggested heap size, ids, ops, weight -- then `a ID SIZE`,
 * `r ID SIZE`, `f ID` lines) through one allocator, built once per peer
 * (-DKIND=...: glibc malloc/realloc/free, mimalloc's mi_*, jemalloc linked in
 * place of malloc) and once for zheap (every C allocator in one binary).
 * zig/traces.zig does the same with Zig 0.15.1's own allocators.
 *
 *   traces names              the allocators this binary has
 *   traces run NAME FILE      one trace through one allocator, in this process
 *
 * A run is, in order:
 *   1. the checking pass: every block gets a byte pattern of its own when it
 *      is allocated (the whole block), which is checked when it is freed or
 *      reallocated (realloc must keep the first min(old, new) bytes), along
 *      with its 16-byte alignment; blocks still live at the end are checked
 *      and freed. Peak RSS is taken over this pass, the one that touches every
 *      byte: VmHWM from /proc/self/status after it, minus VmRSS before it (the
 *      peak is reset first through /proc/self/clear_refs), against the peak of
 *      the bytes live at once (the payload);
 *   2. the timed passes: the trace again, touching only the first byte of
 *      each block; each pass replays it enough times to take a few
 *      milliseconds (ZHEAP_BENCH_QUICK: once), timing only the operations.
 * Every replay starts a fresh allocator where it has state (ArenaAllocator,
 * DebugAllocator: set up and torn down outside the timing).
 *
 * Prints "NAME\tTRACE\tOPS\tPEAK_PAYLOAD\tRSS_GROWTH\tNS_PER_OP", the median
 * of the passes. The trace, its tables and the block table live in mmap'd
 * memory, so that no allocation but the replay's goes through malloc. Exits 1
 * with a message on a failed check, 2 on a usage or format error. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define KIND_GLIBC 0
#define KIND_MIMALLOC 1
#define KIND_JEMALLOC 2
#define KIND_ZHEAP 3

enum { ALIGN = 16, PASSES = 5 };
static double target_ns = 5e6; /* each timed pass takes at least this long */

/* --- the allocator under test ---------------------------------------------------- */

#if KIND == KIND_ZHEAP
#include "zheap.h"

static zh_allocator A;
static zh_arena arena;
static zh_debug debug;
static int which; /* index into names[] */
static const char *const names[] = {"c_allocator",    "raw_c_allocator", "smp_allocator",
                                    "page_allocator", "ArenaAllocator",  "DebugAllocator"};
#define PREFIX "zheap "
#define NAMES (sizeof names / sizeof names[0])

static void setup(void) {
    switch (which) {
    case 0: A = zh_c_allocator(); break;
    case 1: A = zh_raw_c_allocator(); break;
    case 2: A = zh_smp_allocator(); break;
    case 3: A = zh_page_allocator(); break;
    case 4:
        zh_arena_init(&arena, zh_page_allocator());
        A = zh_arena_allocator(&arena);
        break;
    default: {
        zh_debug_config c = zh_debug_config_default();
        c.stack_trace_frames = 0;
        c.safety = true;
        if (zh_debug_init(&debug, zh_page_allocator(), &c, NULL) != 0) abort();
        A = zh_debug_allocator(&debug);
    }
    }
}
static void teardown(void) {
    if (which == 4) zh_arena_deinit(&arena);
    if (which == 5 && zh_debug_deinit(&debug) != ZH_CHECK_OK) {
        fprintf(stderr, "traces: DebugAllocator reports a leak\n");
        exit(1);
    }
}
#define ALLOC(n) zh_alloc(A, 1, (n), 4)
#define REALLOC(p, old, n) zh_realloc(A, (p), 1, (old), 4, (n))
#define FREE(p, n) zh_free(A, (p), 1, (n), 4)
#else
/* Every block is asked for with 16-byte alignment, as the zheap and Zig runs
 * ask for it: glibc's malloc gives that to every block on x86_64, mimalloc's
 * and jemalloc's give 8 to blocks of 8 bytes and less, so they are called
 * through their aligned entry points (jemalloc's need a size above 0). */
#if KIND == KIND_MIMALLOC
#include <mimalloc.h>
#define PEER "mimalloc"
#define ALLOC(n) mi_malloc_aligned((n), ALIGN)
#define REALLOC(p, old, n) mi_realloc_aligned((p), (n), ALIGN)
#define FREE(p, n) mi_free(p)
#elif KIND == KIND_JEMALLOC
#include <jemalloc/jemalloc.h>
#define PEER "jemalloc"
#define ALLOC(n) mallocx((n) ? (n) : 1, MALLOCX_ALIGN(ALIGN))
#define REALLOC(p, old, n) ((p) ? rallocx((p), (n) ? (n) : 1, MALLOCX_ALIGN(ALIGN)) : ALLOC(n))
#define FREE(p, n) ((p) ? dallocx((p), 0) : (void)0)
#else
#define PEER "glibc"
#define ALLOC(n) malloc(n)
#define REALLOC(p, old, n) realloc((p), (n))
#define FREE(p, n) free(p)
#endif
static int which;
static const char *const names[] = {"malloc"};
#define NAMES 1
static void setup(void) {}
static void teardown(void) {}
#endif

static const char *display(void) {
#if KIND == KIND_ZHEAP
    static char buf[64];
    snprintf(buf, sizeof buf, PREFIX "%s", names[which]);
    return buf;
#else
    return PEER;
#endif
}

/* --- the trace -------------------------------------------------------------------- */

typedef struct {
    uint32_t id;
    char kind; /* 'a', 'r', 'f' */
    size_t size;
} op;

static op *ops;
static size_t nops, nids;
static unsigned char **ptrs; /* per id: the block, its size */
static size_t *sizes;

static void *region(size_t n) {
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("traces: mmap");
        exit(2);
    }
    return p;
}

static _Noreturn void bad(const char *path, size_t line, const char *what) {
    fprintf(stderr, "traces: %s:%zu: %s\n", path, line, what);
    exit(2);
}

/* Reads the trace as zheap.lab.RepTrace.loads does: blank lines and lines
 * starting with '#' are skipped; the first four lines are the header (their
 * first number); the header's counts are not trusted. */
static void load(const char *path) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(path);
        exit(2);
    }
    size_t len = (size_t)st.st_size;
    const char *text = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : "";
    if (text == MAP_FAILED) {
        perror(path);
        exit(2);
    }
    close(fd);
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    ops = region(lines * sizeof *ops);
    size_t header = 0, line = 0;
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && text[end] != '\n') end++;
        line++;
        const char *s = text + i, *e = text + end;
        i = end + 1;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
        if (s == e || *s == '#') continue;
        if (header < 4) {
            if (*s == '-') s++;
            if (s == e || *s < '0' || *s > '9') bad(path, line, "the header is four integers");
            header++;
            continue;
        }
        char kind = *s++;
        if ((kind != 'a' && kind != 'r' && kind != 'f') || s == e || (*s != ' ' && *s != '\t'))
            bad(path, line, "an operation is 'a ID SIZE', 'r ID SIZE' or 'f ID'");
        size_t nums[2] = {0, 0};
        int got = 0;
        while (got < 2) {
            while (s < e && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
            if (s == e) break;
            if (*s < '0' || *s > '9') bad(path, line, "ids and sizes are numbers, not negative");
            size_t v = 0;
            while (s < e && *s >= '0' && *s <= '9') v = v * 10 + (size_t)(*s++ - '0');
            nums[got++] = v;
        }
        while (s < e && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
        if (s != e || got != (kind == 'f' ? 1 : 2) || nums[0] > UINT32_MAX - 1)
            bad(path, line, "an operation is 'a ID SIZE', 'r ID SIZE' or 'f ID'");
        ops[nops++] = (op){(uint32_t)nums[0], kind, nums[1]};
        if (nums[0] + 1 > nids) nids = nums[0] + 1;
    }
    if (header < 4) bad(path, line, "a .rep trace starts with four header numbers");
    ptrs = region(nids * sizeof *ptrs);
    sizes = region(nids * sizeof *sizes);
    for (size_t i = 0; i < nids; i++) ptrs[i] = NULL, sizes[i] = 0; /* resident before the baseline */
    /* The lab refuses these; so does the replay (before any allocator runs). */
    unsigned char *live = region(nids);
    for (size_t i = 0; i < nops; i++) {
        if ((ops[i].kind == 'a') == (live[ops[i].id] != 0)) {
            fprintf(stderr, "traces: %s: operation %zu: %s %u\n", path, i + 1,
                    ops[i].kind == 'a' ? "allocates the live block" : "frees or reallocates the dead block",
                    ops[i].id);
            exit(2);
        }
        live[ops[i].id] = ops[i].kind != 'f';
    }
    munmap(live, nids);
}

/* --- the checking pass ------------------------------------------------------------ */

/* Word k of block `id`'s pattern; byte i of the block is byte i % 8 of word i / 8. */
static inline uint64_t pattern(uint64_t id, uint64_t k) {
    return ((id + 1) * 0x9E3779B97F4A7C15ull) ^ (k * 0xD6E8FEB86659FD93ull) ^ (k << 7);
}

static void fill(unsigned char *p, uint32_t id, size_t from, size_t to) {
    size_t k = from / 8;
    if (from % 8 && from < to) { /* a partial first word */
        uint64_t w = pattern(id, k);
        size_t n = 8 - from % 8 < to - from ? 8 - from % 8 : to - from;
        memcpy(p + from, (unsigned char *)&w + from % 8, n);
        from += n;
        k++;
    }
    for (; from + 8 <= to; from += 8, k++) {
        uint64_t w = pattern(id, k);
        memcpy(p + from, &w, 8);
    }
    if (from < to) {
        uint64_t w = pattern(id, k);
        memcpy(p + from, &w, to - from);
    }
}

static const char *trace_name;

static void changed(uint32_t id, size_t i, size_t at) {
    fprintf(stderr, "traces: %s on %s, op %zu: block %u (%zu B) changed at byte %zu\n", display(),
            trace_name, at + 1, id, sizes[id], i);
    exit(1);
}

static inline bool byte_ok(const unsigned char *p, uint32_t id, size_t i) {
    uint64_t w = pattern(id, i / 8);
    return p[i] == ((const unsigned char *)&w)[i % 8];
}

/* Bytes [from, to) of block `id` still hold its pattern; `at` is the operation. */
static void check(const unsigned char *p, uint32_t id, size_t from, size_t to, size_t at) {
    size_t i = from;
    for (; i < to && i % 8; i++)
        if (!byte_ok(p, id, i)) changed(id, i, at);
    for (; i + 8 <= to; i += 8) {
        uint64_t w = pattern(id, i / 8), v;
        memcpy(&v, p + i, 8);
        if (v != w) break;
    }
    for (; i < to; i++) /* the tail, or the word that differs */
        if (!byte_ok(p, id, i)) changed(id, i, at);
}

static void fail(size_t at, const char *what) {
    fprintf(stderr, "traces: %s on %s, op %zu: %s\n", display(), trace_name, at + 1, what);
    exit(1);
}

static void got_block(void *p, size_t size, size_t at) {
    if (p == NULL && size != 0) fail(at, "out of memory");
    if (size != 0 && ((uintptr_t)p & (ALIGN - 1)) != 0) fail(at, "a block not aligned to 16 B");
}

/* Returns the peak of the bytes live at once. */
static size_t checking_pass(void) {
    size_t live = 0, peak = 0;
    setup();
    for (size_t i = 0; i < nops; i++) {
        op o = ops[i];
        if (o.kind == 'a') {
            unsigned char *p = ALLOC(o.size);
            got_block(p, o.size, i);
            fill(p, o.id, 0, o.size);
            ptrs[o.id] = p, sizes[o.id] = o.size;
            live += o.size;
        } else if (o.kind == 'r') {
            size_t old = sizes[o.id], keep = old < o.size ? old : o.size;
            check(ptrs[o.id], o.id, keep, old, i); /* what a shrink drops; the rest below */
            unsigned char *p = REALLOC(ptrs[o.id], old, o.size);
            got_block(p, o.size, i);
            check(p, o.id, 0, keep, i);
            fill(p, o.id, keep, o.size);
            ptrs[o.id] = p, sizes[o.id] = o.size;
            live = live - old + o.size;
        } else {
            check(ptrs[o.id], o.id, 0, sizes[o.id], i);
            FREE(ptrs[o.id], sizes[o.id]);
            live -= sizes[o.id];
            ptrs[o.id] = NULL, sizes[o.id] = 0;
        }
        if (live > peak) peak = live;
    }
    for (uint32_t id = 0; id < nids; id++) {
        if (ptrs[id] == NULL && sizes[id] == 0) continue;
        check(ptrs[id], id, 0, sizes[id], nops);
        FREE(ptrs[id], sizes[id]);
        ptrs[id] = NULL, sizes[id] = 0;
    }
    teardown();
    return peak;
}

/* --- the timed passes ------------------------------------------------------------- */

static double timed_replay(void) {
    setup();
    double t0 = now_ns();
    for (size_t i = 0; i < nops; i++) {
        op o = ops[i];
        if (o.kind == 'a') {
            unsigned char *p = ALLOC(o.size);
            if (o.size) p[0] = (unsigned char)i;
            ptrs[o.id] = p, sizes[o.id] = o.size;
        } else if (o.kind == 'r') {
            unsigned char *p = REALLOC(ptrs[o.id], sizes[o.id], o.size);
            if (o.size) p[0] = (unsigned char)i;
            ptrs[o.id] = p, sizes[o.id] = o.size;
        } else {
            FREE(ptrs[o.id], sizes[o.id]);
            ptrs[o.id] = NULL, sizes[o.id] = 0;
        }
    }
    double t = now_ns() - t0;
    for (uint32_t id = 0; id < nids; id++) {
        if (ptrs[id] == NULL && sizes[id] == 0) continue;
        FREE(ptrs[id], sizes[id]);
        ptrs[id] = NULL, sizes[id] = 0;
    }
    teardown();
    return t;
}

/* --- memory ----------------------------------------------------------------------- */

/* A field of /proc/self/status in KiB, or -1. Read with a stack buffer: no malloc. */
static long status_kib(const char *field) {
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *at = strstr(buf, field);
    return at ? strtol(at + strlen(field) + 1, NULL, 10) : -1;
}

static void reset_peak(void) {
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd >= 0) {
        if (write(fd, "5", 1) != 1) { /* an old kernel: the peak stays the process's */
        }
        close(fd);
    }
}

/* --- main ------------------------------------------------------------------------- */

static const char *basename_of(const char *path, char *out, size_t n) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, n, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
    return out;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "names") == 0) {
        for (size_t i = 0; i < NAMES; i++) {
            which = (int)i;
            printf("%s\t%s\n", names[i], display());
        }
        return 0;
    }
    if (argc != 4 || strcmp(argv[1], "run") != 0) {
        fprintf(stderr, "usage: %s names | %s run NAME FILE.rep\n", argv[0], argv[0]);
        return 2;
    }
    which = -1;
    for (size_t i = 0; i < NAMES; i++)
        if (strcmp(argv[2], names[i]) == 0) which = (int)i;
    if (which < 0) {
        fprintf(stderr, "traces: no allocator %s here (see `%s names`)\n", argv[2], argv[0]);
        return 2;
    }
    int quick = getenv("ZHEAP_BENCH_QUICK") != NULL;
    char name[256];
    trace_name = basename_of(argv[3], name, sizeof name);
    load(argv[3]);

    reset_peak();
    long before = status_kib("VmRSS:");
    size_t peak = checking_pass();
    long hwm = status_kib("VmHWM:");
    long grown = before >= 0 && hwm >= before ? hwm - before : -1;

    double samples[PASSES];
    int passes = quick ? 1 : PASSES;
    long reps = 1;
    if (!quick && nops > 0) { /* one replay to warm up and size the passes */
        double t = timed_replay();
        reps = t >= target_ns ? 1 : (long)(target_ns / (t > 1 ? t : 1)) + 1;
        if (reps > 100000) reps = 100000;
    }
    for (int s = 0; s < passes; s++) {
        double t = 0;
        for (long r = 0; r < reps; r++) t += timed_replay();
        samples[s] = nops ? t / ((double)reps * (double)nops) : 0;
    }
    qsort(samples, (size_t)passes, sizeof *samples, cmp_double);
    printf("%s\t%s\t%zu\t%zu\t%ld\t%.2f\n", display(), trace_name, nops, peak,
           grown < 0 ? -1L : grown * 1024L, samples[passes / 2]);
    return 0;
}
