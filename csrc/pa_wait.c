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

static PA_THREAD_LOCAL char pa_thread_marker;

uint64_t pa_thread_id(void) { return (uint64_t)(uintptr_t)&pa_thread_marker; }

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
    static LARGE_INTEGER freq; /* benign race: every thread writes the same value */
    LARGE_INTEGER now;
    if (freq.QuadPart == 0) QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (int64_t)((double)now.QuadPart * 1e9 / (double)freq.QuadPart);
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

/* Time left before deadline, clamped at 0; only for finite deadlines.
 * Linux needs none (its futex takes the absolute deadline): not compiled
 * there, where it would be an unused function (an error under -Werror). */
#if !defined(__linux__)
static int64_t remaining_ns(int64_t deadline_ns) {
    int64_t left = deadline_ns - pa_monotonic_ns();
    return left > 0 ? left : 0;
}
#endif

/* ---------------------------------------------------------------------------
 * Linux: futex
 * ------------------------------------------------------------------------- */
#if defined(__linux__)

const char *pa_wait_mechanism(void) { return "futex"; }

pa_wait_result pa_wait_u32(pa_atomic_u32 *addr, uint32_t expected, int64_t deadline_ns) {
    struct timespec abs_ts, *ts = NULL;
    if (deadline_ns != PA_FOREVER) {
        if (deadline_ns <= pa_monotonic_ns()) return PA_WAIT_TIMEDOUT;
        abs_ts.tv_sec = (time_t)(deadline_ns / 1000000000);
        abs_ts.tv_nsec = (long)(deadline_ns % 1000000000);
        ts = &abs_ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
     * retry after EINTR needs no recomputation of the remaining time. */
    long rc = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET_PRIVATE, expected, ts,
                      NULL, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0) return PA_WAIT_WOKEN;
    switch (errno) {
        case EAGAIN: return PA_WAIT_WOKEN; /* *addr != expected already */
        case ETIMEDOUT: return PA_WAIT_TIMEDOUT;
        case EINTR: return PA_WAIT_INTERRUPTED;
        default: return PA_WAIT_WOKEN; /* EFAULT/EINVAL cannot happen; re-check anyway */
    }
}

static int futex_wake(pa_atomic_u32 *addr, int count) {
    long rc = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
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
    int64_t left = 0;
    if (deadline_ns != PA_FOREVER) {
        left = remaining_ns(deadline_ns);
        if (left == 0) return PA_WAIT_TIMEDOUT;
    }
    int rc;
#ifdef PA_HAVE_OS_SYNC
    if (__builtin_available(macOS 14.4, *)) {
        if (deadline_ns == PA_FOREVER)
            rc = os_sync_wait_on_address(addr, expected, 4, OS_SYNC_WAIT_ON_ADDRESS_NONE);
        else
            rc = os_sync_wait_on_address_with_timeout(addr, expected, 4, OS_SYNC_WAIT_ON_ADDRESS_NONE,
                                                      OS_CLOCK_MACH_ABSOLUTE_TIME, (uint64_t)left);
        if (rc >= 0) return PA_WAIT_WOKEN;
        if (errno == ETIMEDOUT) return PA_WAIT_TIMEDOUT;
        if (errno == EINTR) return PA_WAIT_INTERRUPTED;
        return PA_WAIT_WOKEN;
    }
#endif
    uint32_t timeout_us = 0; /* 0 means forever for __ulock_wait */
    if (deadline_ns != PA_FOREVER) {
        int64_t us = left / 1000 + 1;
        timeout_us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    }
    rc = __ulock_wait(PA_UL_COMPARE_AND_WAIT | PA_ULF_NO_ERRNO, addr, expected, timeout_us);
    if (rc >= 0) return PA_WAIT_WOKEN;
    if (rc == -ETIMEDOUT) return PA_WAIT_TIMEDOUT;
    if (rc == -EINTR) return PA_WAIT_INTERRUPTED;
    return PA_WAIT_WOKEN;
}

int pa_wake_one(pa_atomic_u32 *addr) {
#ifdef PA_HAVE_OS_SYNC
    if (__builtin_available(macOS 14.4, *)) {
        os_sync_wake_by_address_any(addr, 4, OS_SYNC_WAKE_BY_ADDRESS_NONE);
        return -1;
    }
#endif
    __ulock_wake(PA_UL_COMPARE_AND_WAIT | PA_ULF_NO_ERRNO, addr, 0);
    return -1;
}
int pa_wake_all(pa_atomic_u32 *addr) {
#ifdef PA_HAVE_OS_SYNC
    if (__builtin_available(macOS 14.4, *)) {
        os_sync_wake_by_address_all(addr, 4, OS_SYNC_WAKE_BY_ADDRESS_NONE);
        return -1;
    }
#endif
    __ulock_wake(PA_UL_COMPARE_AND_WAIT | PA_ULF_WAKE_ALL | PA_ULF_NO_ERRNO, addr, 0);
    return -1;
}

/* ---------------------------------------------------------------------------
 * Windows: WaitOnAddress (link with Synchronization.lib)
 * ------------------------------------------------------------------------- */
#elif defined(_WIN32)

const char *pa_wait_mechanism(void) { return "WaitOnAddress"; }

pa_wait_result pa_wait_u32(pa_atomic_u32 *addr, uint32_t expected, int64_t deadline_ns) {
    DWORD ms = INFINITE;
    if (deadline_ns != PA_FOREVER) {
        int64_t left = remaining_ns(deadline_ns);
        if (left == 0) return PA_WAIT_TIMEDOUT;
        int64_t rounded = (left + 999999) / 1000000;
        ms = rounded >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)rounded;
    }
    /* WaitOnAddress is not interrupted by console Ctrl-C (it arrives on
     * another thread); the bindings wait in slices to notice it. */
    if (WaitOnAddress((volatile void *)addr, &expected, sizeof expected, ms)) return PA_WAIT_WOKEN;
    return GetLastError() == ERROR_TIMEOUT ? PA_WAIT_TIMEDOUT : PA_WAIT_WOKEN;
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
    int64_t nap = 50000; /* 50 us */
    if (deadline_ns != PA_FOREVER) {
        int64_t left = remaining_ns(deadline_ns);
        if (left == 0) return PA_WAIT_TIMEDOUT;
        if (left < nap) nap = left;
    }
    struct timespec ts = {0, (long)nap};
    if (nanosleep(&ts, NULL) != 0 && errno == EINTR) return PA_WAIT_INTERRUPTED;
    return PA_WAIT_WOKEN;
}
int pa_wake_one(pa_atomic_u32 *addr) { (void)addr; return -1; }
int pa_wake_all(pa_atomic_u32 *addr) { (void)addr; return -1; }

#endif
