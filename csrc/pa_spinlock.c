/* pa_spinlock.c -- slow path of pa_spinlock (state table in pa_spinlock.h). */
#include "pa_spinlock.h"

#include "pa_thread.h"

PA_COLD void pa_spinlock_wake_sleeper(pa_spinlock *l) { pa_wake_one(&l->state); }

PA_COLD pa_lock_result pa_spinlock_acquire_slow(pa_spinlock *l, int64_t deadline_ns) {
    if (pa_spinlock_try_acquire(l)) return PA_ACQUIRED;
    if (deadline_ns != PA_FOREVER && deadline_ns <= pa_monotonic_ns()) return PA_TIMEDOUT;

    /* Phases 1 and 2: the core's spinning policy (pa_spinwait, pa_thread.h):
     * a few backoff steps of pause hints on a plain load, then yields, which
     * let a descheduled holder have the core once threads outnumber cores.
     * Not while the word says 2 (a thread may sleep on it): the release will
     * wake that one, so a spinner would only queue behind it, and once
     * threads outnumber cores the spinning is what keeps the holder off its
     * core (4 threads on 2 cores: 0.62x threading.Lock's throughput with this
     * check left out, 0.87-0.91x with it, the yields as they were then). */
    pa_spinwait spin = PA_SPINWAIT_INIT;
    while (PA_LOAD(&l->state) != 2 && pa_spinwait_spin(&spin)) {
        if (pa_spinlock_try_acquire(l)) return PA_ACQUIRED;
    }
    /* Phase 3: sleep.  Swapping in 2 both tries to take the lock (old == 0:
     * we own it, marked "maybe sleepers", which costs at most one spare wake)
     * and announces us to the holder, whose release will then wake someone. */
    for (;;) {
        if (PA_EXCHANGE(&l->state, 2) == 0) return PA_ACQUIRED;
        pa_wait_result r = pa_wait_u32(&l->state, 2, deadline_ns);
        if (r == PA_WAIT_TIMEDOUT) {
            /* Last look: the release may have raced with the timeout.  Take
             * it as 2, never 1: other sleepers may rely on our release to
             * wake them (once a thread has slept it only ever locks with 2).
             * Held as 1, mark it 2 before leaving: a platform whose timed-out
             * wait can swallow a wake may have given us the wake a sleeper is
             * owed, and a release that finds 1 wakes nobody (the model's
             * TO_RACE configurations found that strand).  A loop, not two
             * CASes: if it is released between them, the lock is ours. */
            uint32_t s = PA_LOAD(&l->state);
            for (;;) {
                if (s == 2) return PA_TIMEDOUT;
                if (PA_CAS(&l->state, &s, 2)) return s == 0 ? PA_ACQUIRED : PA_TIMEDOUT;
            }
        }
        if (r == PA_WAIT_INTERRUPTED) return PA_INTERRUPTED;
    }
}
