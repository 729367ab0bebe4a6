/*
 * pa_wait.c -- wait-on-address and thread helpers for each platform.
 * See pa_wait.h for the contract.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include "pa_wait.h"

#include <errno.h>
#include <limits.h>

#include "pa_thread.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <sched.h>
#include <time.h>
#endif

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#elif defined(__APPLE__)
#include <AvailabilityMacros.h>
#include <unistd.h>
#if defined(__MAC_OS_X_VERSION_MAX_ALLOWED) && __MAC_OS_X_VERSION_MAX_ALLOWED >= 140400
#include <os/os_sync_wait_on_address.h>
#define PA_HAVE_OS_SYNC 1
#endif
/* Private but stable since macOS 10.12; libc++ and Rust's std use it. */
extern int __ulock_wait(uint32_t operation, void *addr, uint64_t value, uint32_t timeout_us);
extern int __ulock_wake(uint32_t operation, void *addr, uint64_t wake_value);
#define PA_UL_COMPARE_AND_WAIT 1
#define PA_ULF_WAKE_ALL 0x00000100
#define PA_ULF_NO_ERRNO 0x01000000
#endif

/* ---------------------------------------------------------------------------
 * Threads
 * ------------------------------------------------------------------------- */

/* Ids come from a process-wide counter, one per thread, on first use: never
 * reused (2^64 threads are out of reach), unlike the address of a
 * thread-local variable, which the next thread to get a cached stack
 * inherits; that let a new thread pass for a dead thread that still owned an
 * RWLock's write side.  A child after fork() keeps the forking thread's id
 * (its TLS is copied) and the counter, so child threads get fresh ids too. */
static PA_THREAD_LOCAL uint64_t tl_thread_id;
static pa_atomic_u64 next_thread_id = 1;

PA_COLD static uint64_t assign_thread_id(void) {
    uint64_t id = atomic_fetch_add(&next_thread_id, 1);
    tl_thread_id = id;
    return id;
}

/* One TLS load and a predictable branch, as cheap as the address was. */
uint64_t pa_thread_id(void) {
    uint64_t id = tl_thread_id;
    if (PA_LIKELY(id != 0)) return id;
    return assign_thread_id();
}

void pa_thread_yield(void) {
#if defined(_WIN32)
    SwitchToThread();
#else
    sched_yield();
#endif
}

/* ---------------------------------------------------------------------------
 * Clock
 * ------------------------------------------------------------------------- */

int64_t pa_monotonic_ns(void) {
#if defined(_WIN32)
    /* The frequency is fixed at boot; every thread that finds 0 computes and
     * stores the same value.  An atomic, not a plain static: a plain one
     * would be a data race (undefined behaviour) between those writes and the
     * other threads' reads, however benign the values. */
    static pa_atomic_i64 freq;
    int64_t f = PA_LOAD(&freq);
    if (f == 0) {
        LARGE_INTEGER q;
        QueryPerformanceFrequency(&q);
        f = (int64_t)q.QuadPart;
        PA_STORE(&freq, f);
    }
    LARGE_INTEGER now;
    QueryPerformanceCounter(&now);
    return (int64_t)((double)now.QuadPart * 1e9 / (double)f);
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
#endif
}

int64_t pa_deadline_after(int64_t timeout_ns) {
    if (timeout_ns < 0) return PA_FOREVER;
    int64_t now = pa_monotonic_ns();
    if (timeout_ns > INT64_MAX - now) return PA_FOREVER; /* ~292 years away */
    return now + timeout_ns;
}

/* Longest single platform wait, in nanoseconds; 0: no limit but the
 * platform's own.  Where a wait is cut short by a cap (this one, or a
 * platform's: __ulock_wait's 32-bit microseconds, WaitOnAddress's 32-bit
 * milliseconds), the platform's "timed out" only means "the slice is over":
 * timeout_result() then reports PA_WAIT_WOKEN, and the caller, which
 * re-checks after every wakeup, waits again with the time that is left.
 * The test program builds with a tiny cap (csrc/tests/Makefile, -DPA_WAIT_CAP_NS)
 * so that this path, otherwise reached only after 71 minutes on old macOS or
 * 49 days on Windows, runs on Linux in every timed wait of the suite. */
#ifndef PA_WAIT_CAP_NS
#define PA_WAIT_CAP_NS 0
#endif

/* The platform said its wait timed out: a real timeout only if the deadline
 * has passed on our clock; otherwise the wait was a capped slice (or the
 * platform rounded differently), and it counts as a spurious wakeup. */
static pa_wait_result timeout_result(int64_t deadline_ns) {
    if (deadline_ns != PA_FOREVER && pa_monotonic_ns() >= deadline_ns) return PA_WAIT_TIMEDOUT;
    return PA_WAIT_WOKEN;
}

/* Time left before deadline, clamped at 0; only for finite deadlines.
 * Linux needs none (its futex takes the absolute deadline): not compiled
 * there, where it would be an unused function (an error under -Werror). */
#if !defined(__linux__)
static int64_t remaining_ns(int64_t deadline_ns) {
    int64_t left = deadline_ns - pa_monotonic_ns();
    return left > 0 ? left : 0;
}

/* How long one platform wait may sleep: the time left (-1: forever), cut to
 * PA_WAIT_CAP_NS and to the platform's own cap `platform_cap_ns` (0: none). */
static int64_t slice_ns(int64_t left_ns, int64_t platform_cap_ns) {
    int64_t cap = PA_WAIT_CAP_NS;
    if (platform_cap_ns > 0 && (cap == 0 || platform_cap_ns < cap)) cap = platform_cap_ns;
    if (cap > 0 && (left_ns < 0 || left_ns > cap)) return cap;
    return left_ns;
}
#endif

/* ---------------------------------------------------------------------------
 * Linux: futex
 * ------------------------------------------------------------------------- */
#if defined(__linux__)

const char *pa_wait_mechanism(void) { return "futex"; }

pa_wait_result pa_wait_u32(pa_atomic_u32 *addr, uint32_t expected, int64_t deadline_ns) {
    struct timespec abs_ts, *ts = NULL;
    int64_t until = deadline_ns; /* the end of this wait: the deadline, or a capped slice's end */
    if (deadline_ns != PA_FOREVER) {
        int64_t now = pa_monotonic_ns();
        if (deadline_ns <= now) return PA_WAIT_TIMEDOUT;
        if (PA_WAIT_CAP_NS > 0 && deadline_ns - now > PA_WAIT_CAP_NS) until = now + PA_WAIT_CAP_NS;
    } else if (PA_WAIT_CAP_NS > 0) {
        until = pa_monotonic_ns() + PA_WAIT_CAP_NS;
    }
    if (until != PA_FOREVER) {
        abs_ts.tv_sec = (time_t)(until / 1000000000);
        abs_ts.tv_nsec = (long)(until % 1000000000);
        ts = &abs_ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
     * retry after EINTR needs no recomputation of the remaining time. */
    long rc = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET_PRIVATE, expected, ts,
                      NULL, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0) return PA_WAIT_WOKEN;
    switch (errno) {
        case EAGAIN: return PA_WAIT_WOKEN; /* *addr != expected already */
        case ETIMEDOUT: return timeout_result(deadline_ns);
        case EINTR: return PA_WAIT_INTERRUPTED;
        default: return PA_WAIT_WOKEN; /* EFAULT/EINVAL cannot happen; re-check anyway */
    }
}

/* -DPA_WAKE_COUNT_UNKNOWN=1 (the test program's "other platforms" build):
 * report -1 as WakeByAddress* and os_sync_wake_by_address_all do, so that the
 * callers' handling of an unknown count runs on Linux too. */
#ifndef PA_WAKE_COUNT_UNKNOWN
#define PA_WAKE_COUNT_UNKNOWN 0
#endif

static int futex_wake(pa_atomic_u32 *addr, int count) {
    long rc = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
    if (PA_WAKE_COUNT_UNKNOWN) return -1;
    return rc < 0 ? 0 : (int)rc;
}
int pa_wake_one(pa_atomic_u32 *addr) { return futex_wake(addr, 1); }
int pa_wake_all(pa_atomic_u32 *addr) { return futex_wake(addr, INT_MAX); }

/* ---------------------------------------------------------------------------
 * macOS: os_sync_wait_on_address, else __ulock_wait
 * ------------------------------------------------------------------------- */
#elif defined(__APPLE__)

const char *pa_wait_mechanism(void) {
#ifdef PA_HAVE_OS_SYNC
    if (__builtin_available(macOS 14.4, *)) return "os_sync_wait_on_address";
#endif
    return "__ulock_wait";
}

pa_wait_result pa_wait_u32(pa_atomic_u32 *addr, uint32_t expected, int64_t deadline_ns) {
    int64_t left = -1; /* forever */
    if (deadline_ns != PA_FOREVER) {
        left = remaining_ns(deadline_ns);
        if (left == 0) return PA_WAIT_TIMEDOUT;
    }
    int rc;
#ifdef PA_HAVE_OS_SYNC
    if (__builtin_available(macOS 14.4, *)) {
        int64_t slice = slice_ns(left, 0); /* 64-bit nanoseconds: no cap of its own */
        if (slice < 0)
            rc = os_sync_wait_on_address(addr, expected, 4, OS_SYNC_WAIT_ON_ADDRESS_NONE);
        else
            rc = os_sync_wait_on_address_with_timeout(addr, expected, 4, OS_SYNC_WAIT_ON_ADDRESS_NONE,
                                                      OS_CLOCK_MACH_ABSOLUTE_TIME, (uint64_t)slice);
        if (rc >= 0) return PA_WAIT_WOKEN;
        if (errno == ETIMEDOUT) return timeout_result(deadline_ns);
        if (errno == EINTR) return PA_WAIT_INTERRUPTED;
        return PA_WAIT_WOKEN;
    }
#endif
    /* __ulock_wait takes 32-bit microseconds (0: forever): a longer wait is
     * cut into slices of at most ~71.6 minutes, and the end of a slice is not
     * the deadline (timeout_result).  Rounded up: a wait never ends early. */
    int64_t slice = slice_ns(left, (int64_t)UINT32_MAX * 1000);
    uint32_t timeout_us = 0;
    if (slice >= 0) {
        int64_t us = slice / 1000 + 1;
        timeout_us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    }
    rc = __ulock_wait(PA_UL_COMPARE_AND_WAIT | PA_ULF_NO_ERRNO, addr, expected, timeout_us);
    if (rc >= 0) return PA_WAIT_WOKEN;
    if (rc == -ETIMEDOUT) return timeout_result(deadline_ns);
    if (rc == -EINTR) return PA_WAIT_INTERRUPTED;
    return PA_WAIT_WOKEN;
}

/* Both wake calls fail with ENOENT when nobody waits on addr, which is all
 * wake_waiters (pa_rwlock.c) would like to know: a wake-one that succeeded
 * woke exactly one thread.  A wake-all that succeeded woke an unknown number
 * (at least one): -1. */
int pa_wake_one(pa_atomic_u32 *addr) {
#ifdef PA_HAVE_OS_SYNC
    if (__builtin_available(macOS 14.4, *)) {
        if (os_sync_wake_by_address_any(addr, 4, OS_SYNC_WAKE_BY_ADDRESS_NONE) == 0) return 1;
        return errno == ENOENT ? 0 : -1;
    }
#endif
    int rc = __ulock_wake(PA_UL_COMPARE_AND_WAIT | PA_ULF_NO_ERRNO, addr, 0);
    if (rc >= 0) return 1;
    return rc == -ENOENT ? 0 : -1;
}
int pa_wake_all(pa_atomic_u32 *addr) {
#ifdef PA_HAVE_OS_SYNC
    if (__builtin_available(macOS 14.4, *)) {
        if (os_sync_wake_by_address_all(addr, 4, OS_SYNC_WAKE_BY_ADDRESS_NONE) == 0) return -1;
        return errno == ENOENT ? 0 : -1;
    }
#endif
    int rc = __ulock_wake(PA_UL_COMPARE_AND_WAIT | PA_ULF_WAKE_ALL | PA_ULF_NO_ERRNO, addr, 0);
    if (rc >= 0) return -1;
    return rc == -ENOENT ? 0 : -1;
}

/* ---------------------------------------------------------------------------
 * Windows: WaitOnAddress (link with Synchronization.lib)
 * ------------------------------------------------------------------------- */
#elif defined(_WIN32)

const char *pa_wait_mechanism(void) { return "WaitOnAddress"; }

pa_wait_result pa_wait_u32(pa_atomic_u32 *addr, uint32_t expected, int64_t deadline_ns) {
    int64_t left = -1; /* forever */
    if (deadline_ns != PA_FOREVER) {
        left = remaining_ns(deadline_ns);
        if (left == 0) return PA_WAIT_TIMEDOUT;
    }
    /* 32-bit milliseconds, INFINITE reserved: longer waits go in slices of
     * ~49.7 days, whose end is not the deadline (timeout_result). */
    int64_t slice = slice_ns(left, (int64_t)(INFINITE - 1) * 1000000);
    DWORD ms = INFINITE;
    if (slice >= 0) {
        int64_t rounded = (slice + 999999) / 1000000; /* up: never early */
        ms = rounded >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)rounded;
    }
    /* WaitOnAddress is not interrupted by console Ctrl-C (it arrives on
     * another thread); the bindings wait in slices to notice it. */
    if (WaitOnAddress((volatile void *)addr, &expected, sizeof expected, ms)) return PA_WAIT_WOKEN;
    return GetLastError() == ERROR_TIMEOUT ? timeout_result(deadline_ns) : PA_WAIT_WOKEN;
}
int pa_wake_one(pa_atomic_u32 *addr) {
    WakeByAddressSingle((PVOID)addr);
    return -1;
}
int pa_wake_all(pa_atomic_u32 *addr) {
    WakeByAddressAll((PVOID)addr);
    return -1;
}

/* ---------------------------------------------------------------------------
 * Anything else: poll with short sleeps.  Correct (every caller re-checks its
 * condition) but slow; here so the package still builds on BSDs.
 * ------------------------------------------------------------------------- */
#else

const char *pa_wait_mechanism(void) { return "polling"; }

pa_wait_result pa_wait_u32(pa_atomic_u32 *addr, uint32_t expected, int64_t deadline_ns) {
    if (PA_LOAD(addr) != expected) return PA_WAIT_WOKEN;
    int64_t left = -1; /* forever */
    if (deadline_ns != PA_FOREVER) {
        left = remaining_ns(deadline_ns);
        if (left == 0) return PA_WAIT_TIMEDOUT;
    }
    int64_t nap = slice_ns(left, 50000); /* naps of at most 50 us */
    struct timespec ts = {0, (long)nap};
    if (nanosleep(&ts, NULL) != 0 && errno == EINTR) return PA_WAIT_INTERRUPTED;
    /* Every nap is a capped slice: a timeout only once the deadline passed. */
    return PA_LOAD(addr) != expected ? PA_WAIT_WOKEN : timeout_result(deadline_ns);
}
int pa_wake_one(pa_atomic_u32 *addr) { (void)addr; return -1; }
int pa_wake_all(pa_atomic_u32 *addr) { (void)addr; return -1; }

#endif
