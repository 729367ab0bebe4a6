/*
 * pa_wait.h -- wait on a 32-bit word: the only platform-specific layer.
 *
 *   Linux:   futex(FUTEX_WAIT_BITSET_PRIVATE) with an absolute CLOCK_MONOTONIC
 *            deadline, FUTEX_WAKE_PRIVATE.
 *   macOS:   os_sync_wait_on_address / os_sync_wait_on_address_with_timeout
 *            (macOS 14.4+; a relative timeout in nanoseconds), falling back to
 *            the __ulock_wait/__ulock_wake calls libc++ uses (a relative
 *            timeout in 32-bit microseconds: ~71.6 minutes at most).
 *   Windows: WaitOnAddress / WakeByAddressSingle / WakeByAddressAll.
 *   Other:   short sleeps and re-checks (correct, not efficient).
 *
 * Everything above this layer is platform-free.
 *
 * Deadlines are absolute times on pa_monotonic_ns()'s clock.  Two special
 * values: PA_FOREVER (no deadline) and any time already past (do not sleep).
 *
 * A platform whose wait cannot reach a far deadline in one call (32-bit
 * timeouts: __ulock_wait, WaitOnAddress) sleeps a slice of it at a time, and
 * the end of a slice is reported as PA_WAIT_WOKEN, never as PA_WAIT_TIMEDOUT:
 * PA_WAIT_TIMEDOUT means the deadline itself has passed on pa_monotonic_ns()'s
 * clock.  (Reporting a slice's end as a timeout made acquire(timeout=3 h) on
 * macOS before 14.4 give up after ~72 minutes.)  The cap is a build
 * parameter, -DPA_WAIT_CAP_NS=n, which the core's test program sets tiny to
 * run this path on Linux.
 */
#ifndef PA_WAIT_H
#define PA_WAIT_H

#include <stdint.h>

#include "pa_atomic.h"

#define PA_FOREVER ((int64_t)-1)

typedef enum {
    /* Woken by a wake call, or the word no longer held `expected`, or a
     * spurious wakeup, or the end of a capped slice (see above): the caller
     * must re-check its condition and, if it still must wait, wait again
     * until the same deadline. */
    PA_WAIT_WOKEN = 0,
    PA_WAIT_TIMEDOUT = 1,
    /* A signal arrived (EINTR).  The caller should let the language runtime
     * run its signal handlers, then re-check and wait again. */
    PA_WAIT_INTERRUPTED = 2,
} pa_wait_result;

/* Nanoseconds on a monotonic clock (CLOCK_MONOTONIC on Linux). */
int64_t pa_monotonic_ns(void);

/* Deadline `timeout_ns` from now; a negative timeout means PA_FOREVER.
 * Saturates instead of overflowing for huge timeouts. */
int64_t pa_deadline_after(int64_t timeout_ns);

/* Block while *addr == expected, until woken or `deadline_ns` passes.
 * Returns immediately with PA_WAIT_WOKEN if *addr != expected (the check and
 * the sleep are one atomic step in the kernel: this is what makes a
 * "check, then sleep" sequence immune to lost wakeups). */
pa_wait_result pa_wait_u32(pa_atomic_u32 *addr, uint32_t expected, int64_t deadline_ns);

/* Wake one / all threads blocked in pa_wait_u32 on addr.
 * Return the number woken, or -1 where the platform cannot tell (Windows
 * always; macOS for a wake-all that woke someone; the polling fallback).
 * A caller must not base a decision on the count that it would get wrong
 * with -1 (pa_rwlock.c decides by its own waiter counts instead).
 * -DPA_WAKE_COUNT_UNKNOWN=1 makes the Linux build report -1 too (tests). */
int pa_wake_one(pa_atomic_u32 *addr);
int pa_wake_all(pa_atomic_u32 *addr);

/* Name of the mechanism compiled in, for `python -m pyatomics info`. */
const char *pa_wait_mechanism(void);

#endif /* PA_WAIT_H */
