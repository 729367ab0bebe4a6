/*
 * pa_atomic_int.h -- AtomicInt as the core sees it: the 64-bit value and the
 * notifier of the threads waiting for it to change, as one unit.
 *
 * Both bindings call these and never the pa_i64_* operations on an AtomicInt's
 * value directly, so that one rule holds everywhere: every operation that may
 * change the value wakes the threads blocked in wait() on it.  A wait() ends
 * as soon as the value differs from `expected`, whichever thread changed it
 * and whether or not anyone called notify_*(): forgetting a notify cannot
 * hang a waiter.  (An earlier version followed C++20 and woke waiters only on
 * notify; a main-thread waiter then still woke within 50 ms, through its
 * signal-check slices, while a worker slept until its timeout: a missing
 * notify passed the tests and hung production.)
 *
 * Why it cannot lose a wakeup (pa_int_wait.h has the waiter's side): the
 * change is a seq_cst read-modify-write or store, and the load of the waiter
 * count after it is seq_cst too.  If that load sees 0, it precedes the
 * waiter's increment in the single total order, so the waiter's later read of
 * the value sees the change and it does not sleep.  If it sees a waiter, the
 * notify bumps notify_seq, which ends the waiter's sleep or makes it re-read.
 *
 * Cost when nobody waits: that one load and a predicted branch, on the cache
 * line the operation has just written (notifier and value are adjacent).
 */
#ifndef PA_ATOMIC_INT_H
#define PA_ATOMIC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "pa_atomic.h"
#include "pa_int_wait.h"

typedef struct {
    pa_atomic_i64 value;
    pa_notifier notifier;
} pa_aint;

static inline void pa_aint_init(pa_aint *a, int64_t v) {
    pa_i64_store(&a->value, v);
    pa_notifier_init(&a->notifier);
}

/* After a change of the value: wake its waiters, if there are any. */
PA_INLINE void pa_aint_changed(pa_aint *a) {
    if (PA_UNLIKELY(PA_LOAD(&a->notifier.waiters) != 0)) pa_int_notify(&a->notifier, true);
}

PA_INLINE int64_t pa_aint_load(pa_aint *a) { return pa_i64_load(&a->value); }

PA_INLINE void pa_aint_store(pa_aint *a, int64_t v) {
    pa_i64_store(&a->value, v);
    pa_aint_changed(a);
}

PA_INLINE int64_t pa_aint_exchange(pa_aint *a, int64_t v) {
    int64_t old = pa_i64_exchange(&a->value, v);
    pa_aint_changed(a);
    return old;
}

/* As pa_i64_compare_exchange: true if `desired` was stored; *seen (may be
 * NULL) gets the value found. */
PA_INLINE bool pa_aint_compare_exchange(pa_aint *a, int64_t expected, int64_t desired, int64_t *seen) {
    bool stored = pa_i64_compare_exchange(&a->value, expected, desired, seen);
    if (stored) pa_aint_changed(a);
    return stored;
}

/* Checked add/sub (pa_atomic.h): PA_OVERFLOW stores nothing. */
PA_INLINE pa_status pa_aint_fetch_add_checked(pa_aint *a, int64_t v, int64_t *old) {
    pa_status s = pa_i64_fetch_add_checked(&a->value, v, old);
    if (s == PA_OK) pa_aint_changed(a);
    return s;
}
PA_INLINE pa_status pa_aint_fetch_sub_checked(pa_aint *a, int64_t v, int64_t *old) {
    pa_status s = pa_i64_fetch_sub_checked(&a->value, v, old);
    if (s == PA_OK) pa_aint_changed(a);
    return s;
}

/* Bitwise and min/max: previous value; cannot overflow. */
#define PA_AINT_FETCH_OP(name)                                   \
    PA_INLINE int64_t pa_aint_##name(pa_aint *a, int64_t v) {    \
        int64_t old = pa_i64_##name(&a->value, v);               \
        pa_aint_changed(a);                                      \
        return old;                                              \
    }
PA_AINT_FETCH_OP(fetch_and)
PA_AINT_FETCH_OP(fetch_or)
PA_AINT_FETCH_OP(fetch_xor)
PA_AINT_FETCH_OP(fetch_max)
PA_AINT_FETCH_OP(fetch_min)
#undef PA_AINT_FETCH_OP

/* Block while the value equals `expected` (pa_int_wait); notify wakes waiters
 * to re-check, for code that changes what they wait on by other means. */
static inline pa_lock_result pa_aint_wait(pa_aint *a, int64_t expected, int64_t deadline_ns) {
    return pa_int_wait(&a->value, &a->notifier, expected, deadline_ns);
}
static inline void pa_aint_notify(pa_aint *a, bool all) { pa_int_notify(&a->notifier, all); }

#endif /* PA_ATOMIC_INT_H */
