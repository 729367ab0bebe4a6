/* pa_int_wait.c -- see pa_int_wait.h for the protocol and why it is safe. */
#include "pa_int_wait.h"

#include "pa_wait.h"

void pa_notifier_init(pa_notifier *n) {
    PA_STORE(&n->notify_seq, 0);
    PA_STORE(&n->waiters, 0);
}

pa_lock_result pa_int_wait(pa_atomic_i64 *value, pa_notifier *n, int64_t expected,
                           int64_t deadline_ns) {
    if (PA_LOAD(value) != expected) return PA_ACQUIRED;
    if (deadline_ns == 0) return PA_TIMEDOUT;
    pa_lock_result result;
    atomic_fetch_add(&n->waiters, 1);
    for (;;) {
        uint32_t seq = PA_LOAD(&n->notify_seq);
        if (PA_LOAD(value) != expected) {
            result = PA_ACQUIRED;
            break;
        }
        pa_wait_result r = pa_wait_u32(&n->notify_seq, seq, deadline_ns);
        if (r == PA_WAIT_TIMEDOUT) {
            result = PA_LOAD(value) != expected ? PA_ACQUIRED : PA_TIMEDOUT;
            break;
        }
        if (r == PA_WAIT_INTERRUPTED) {
            result = PA_INTERRUPTED;
            break;
        }
    }
    atomic_fetch_sub(&n->waiters, 1);
    return result;
}

void pa_int_notify(pa_notifier *n, bool all) {
    atomic_fetch_add(&n->notify_seq, 1);
    if (PA_LOAD(&n->waiters) == 0) return; /* nobody to wake: no syscall */
    if (all)
        pa_wake_all(&n->notify_seq);
    else
        pa_wake_one(&n->notify_seq);
}
