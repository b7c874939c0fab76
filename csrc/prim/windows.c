/* prim/windows.c -- Windows implementation of prim.h (VirtualAlloc and
 * friends; WaitOnAddress for the futex). Windows reserves address space in
 * units of the allocation granularity (64 KiB) and frees only whole
 * reservations, so an alignment up to the granularity comes free, a larger
 * one is found by reserving len + align, releasing, and reserving again at
 * the aligned address inside (retried if another thread took it), and
 * shrinking decommits the tail instead of unmapping it. Zig 0.15.1's
 * PageAllocator reaches the same end with placeholder reservations. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include "prim.h"

#include <string.h>
#include <windows.h>

static size_t granularity(void) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwAllocationGranularity ? si.dwAllocationGranularity : 65536;
}

/* A reservation (committed too when `commit`) of len bytes aligned to align. */
static void *reserve_aligned(size_t len, size_t align, bool commit) {
    DWORD type = MEM_RESERVE | (commit ? MEM_COMMIT : 0);
    DWORD prot = commit ? PAGE_READWRITE : PAGE_NOACCESS;
    if (len == 0) return NULL;
    if (align <= granularity()) return VirtualAlloc(NULL, len, type, prot);
    if (len > SIZE_MAX - align) return NULL;
    for (int attempt = 0; attempt < 16; attempt++) {
        char *probe = VirtualAlloc(NULL, len + align, MEM_RESERVE, PAGE_NOACCESS);
        if (probe == NULL) return NULL;
        uintptr_t at = ((uintptr_t)probe + (align - 1)) & ~(uintptr_t)(align - 1);
        VirtualFree(probe, 0, MEM_RELEASE);
        void *p = VirtualAlloc((void *)at, len, type, prot);
        if (p != NULL) return p; /* else another thread mapped there meanwhile */
    }
    return NULL;
}

void *_zh_prim_map(void *hint, size_t len, size_t align) {
    (void)hint; /* as Zig's Windows path: the system picks the address */
    return reserve_aligned(len, align, true);
}

void _zh_prim_unmap(void *ptr, size_t len) {
    (void)len;
    (void)VirtualFree(ptr, 0, MEM_RELEASE);
}

void _zh_prim_shrink(void *ptr, size_t old_len, size_t new_len) {
    (void)VirtualFree((char *)ptr + new_len, old_len - new_len, MEM_DECOMMIT);
}

bool _zh_prim_has_mremap(void) { return false; }

void *_zh_prim_mremap(void *ptr, size_t old_len, size_t new_len, bool may_move) {
    (void)ptr, (void)old_len, (void)new_len, (void)may_move;
    return NULL;
}

size_t _zh_prim_page_size(void) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwPageSize;
}

size_t _zh_prim_memory_total(void) {
    MEMORYSTATUSEX ms;
    ms.dwLength = sizeof ms;
    if (!GlobalMemoryStatusEx(&ms)) return SIZE_MAX;
    /* The commit limit: physical memory plus the page file. */
    return ms.ullTotalPageFile < SIZE_MAX ? (size_t)ms.ullTotalPageFile : SIZE_MAX;
}

/* WaitOnAddress (Windows 8 and later) is the futex: it returns on a wake, a
 * changed value or spuriously. It lives in an API set that not every
 * toolchain has an import library for, so it is looked up once at run time;
 * without it, waiting yields the processor (correct, but it spins). */
typedef BOOL(WINAPI *wait_on_address_fn)(volatile VOID *, PVOID, SIZE_T, DWORD);
typedef VOID(WINAPI *wake_by_address_fn)(PVOID);
static wait_on_address_fn wait_on_address;
static wake_by_address_fn wake_by_address_single;
static INIT_ONCE futex_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK load_futex(PINIT_ONCE once, PVOID param, PVOID *context) {
    (void)once, (void)param, (void)context;
    HMODULE m = GetModuleHandleA("kernelbase.dll");
    if (m == NULL) m = LoadLibraryA("api-ms-win-core-synch-l1-2-0.dll");
    if (m == NULL) return TRUE;
    FARPROC wait = GetProcAddress(m, "WaitOnAddress"), wake = GetProcAddress(m, "WakeByAddressSingle");
    if (wait != NULL && wake != NULL) {
        /* Copied, not cast: FARPROC and these types differ in their parameters. */
        memcpy(&wait_on_address, &wait, sizeof wait);
        memcpy(&wake_by_address_single, &wake, sizeof wake);
    }
    return TRUE;
}

void _zh_prim_futex_wait(const uint32_t *addr, uint32_t expect) {
    (void)InitOnceExecuteOnce(&futex_once, load_futex, NULL, NULL);
    if (wait_on_address != NULL)
        (void)wait_on_address((volatile VOID *)addr, &expect, sizeof expect, INFINITE);
    else
        (void)SwitchToThread();
}

void _zh_prim_futex_wake_one(const uint32_t *addr) {
    (void)InitOnceExecuteOnce(&futex_once, load_futex, NULL, NULL);
    if (wake_by_address_single != NULL) wake_by_address_single((PVOID)addr);
}

void *_zh_prim_reserve(size_t len, size_t align) { return reserve_aligned(len, align, false); }

bool _zh_prim_commit(void *ptr, size_t len) { return VirtualAlloc(ptr, len, MEM_COMMIT, PAGE_READWRITE) != NULL; }

void _zh_prim_release(void *ptr, size_t len) {
    (void)len;
    (void)VirtualFree(ptr, 0, MEM_RELEASE);
}

void _zh_prim_yield(void) { (void)SwitchToThread(); }

unsigned _zh_prim_cpu_count(void) {
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return (unsigned)n;
}

size_t _zh_prim_backtrace(uintptr_t *out, size_t n) {
    void *frames[62]; /* RtlCaptureStackBackTrace's limit on older Windows */
    USHORT got = RtlCaptureStackBackTrace(0, (DWORD)(n < 62 ? n : 62), frames, NULL);
    for (USHORT i = 0; i < got; i++) out[i] = (uintptr_t)frames[i];
    return got;
}
