/*
 * pa_int_wait.h -- wait/notify on a 64-bit atomic (C++20 atomic::wait,
 * JavaScript Atomics.wait).
 *
 * Futexes watch 32-bit words, the value is 64 bits wide: watching its low half
 * would miss a change in the high half.  So waiters do not sleep on the value;
 * they sleep on a separate 32-bit notify counter that every notify bumps:
 *
 *   waiter:   waiters++; loop { seq = notify_seq; if value != expected: done;
 *                                sleep while notify_seq == seq }
 *   notifier: (value changed by the caller); notify_seq++;
 *             if waiters != 0: wake
 *
 * No lost wakeup, whichever bits change: a notify after the waiter read seq
 * changes notify_seq, so the sleep returns at once; a notify before it was
 * preceded by the value change, which the waiter's re-check then sees.  All
 * operations are seq_cst, so if the notifier reads waiters == 0 the waiter's
 * increment comes later in the single total order, and so does its read of
 * the value, which therefore sees the change: skipping the syscall is safe.
 * (The 32-bit counter may wrap; a waiter would have to miss exactly 2^32
 * notifies between two reads to be fooled.)
 */
#ifndef PA_INT_WAIT_H
#define PA_INT_WAIT_H

#include <stdbool.h>

#include "pa_atomic.h"
#include "pa_lock.h"

typedef struct {
    pa_atomic_u32 notify_seq;
    pa_atomic_u32 waiters;
} pa_notifier;

void pa_notifier_init(pa_notifier *n);

/* Block while *value == expected, until deadline_ns (pa_wait.h).
 * PA_ACQUIRED: the value was seen different from expected.  PA_TIMEDOUT,
 * PA_INTERRUPTED: as for locks.  A notify without a change of value wakes the
 * waiter only to re-check (C++ semantics). */
pa_lock_result pa_int_wait(pa_atomic_i64 *value, pa_notifier *n, int64_t expected,
                           int64_t deadline_ns);

/* Wake one / all threads blocked in pa_int_wait on this notifier. */
void pa_int_notify(pa_notifier *n, bool all);

#endif /* PA_INT_WAIT_H */
