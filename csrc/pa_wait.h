/*
 * pa_wait.h -- wait on a 32-bit word: the only platform-specific layer.
 *
 *   Linux:   futex(FUTEX_WAIT_BITSET_PRIVATE) with an absolute CLOCK_MONOTONIC
 *            deadline, FUTEX_WAKE_PRIVATE.
 *   macOS:   os_sync_wait_on_address_with_deadline (macOS 14.4+), falling back
 *            to the __ulock_wait/__ulock_wake calls libc++ uses.
 *   Windows: WaitOnAddress / WakeByAddressSingle / WakeByAddressAll.
 *   Other:   short sleeps and re-checks (correct, not efficient).
 *
 * Everything above this layer is platform-free.
 *
 * Deadlines are absolute times on pa_monotonic_ns()'s clock.  Two special
 * values: PA_FOREVER (no deadline) and any time already past (do not sleep).
 */
#ifndef PA_WAIT_H
#define PA_WAIT_H

#include <stdint.h>

#include "pa_atomic.h"

#define PA_FOREVER ((int64_t)-1)

typedef enum {
    /* Woken by a wake call, or the word no longer held `expected`, or a
     * spurious wakeup: the caller must re-check its condition. */
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
 * Return the number woken, or -1 where the platform cannot tell (macOS
 * fallback, Windows): callers must then assume "maybe nobody". */
int pa_wake_one(pa_atomic_u32 *addr);
int pa_wake_all(pa_atomic_u32 *addr);

/* Name of the mechanism compiled in, for `python -m pyatomics info`. */
const char *pa_wait_mechanism(void);

#endif /* PA_WAIT_H */
