/*
 * pa_spinlock.h -- a lock for tiny critical sections.
 *
 * State word (32 bits):
 *
 *   value  meaning                           who moves it
 *   -----  --------------------------------  -----------------------------------
 *     0    unlocked                          release: 1|2 -> 0
 *     1    locked, nobody asleep on it       acquire: 0 -> 1 (CAS, fast path)
 *     2    locked, a thread may be asleep    a waiter about to sleep: * -> 2 (XCHG)
 *
 * Acquire: test-and-test-and-set, spinning by the core's one policy
 * (pa_spinwait in pa_thread.h: three backoff steps of pause hints, then
 * scheduler yields), then sleep on the word (value 2).  So it spins only
 * while spinning is likely to pay, gives the core away when the holder may
 * be waiting for it (more threads than cores), and never burns a core for a
 * long-held lock.  Release: swap in 0; if the old value was 2, wake one sleeper.
 * That is Drepper's "mutex3" ("Futexes Are Tricky"): a sleeper always set the
 * word to 2 before sleeping, and the futex wait re-checks for 2 atomically, so
 * a release between "set 2" and "sleep" makes the sleep return at once; no
 * wakeup can be lost.  A waker may wake a thread that no longer needs it
 * (it timed out): harmless, the word then just drifts back to 0/1.
 *
 * No owner: like threading.Lock, any thread may release it.
 *
 * fork(): the child gets a copy of the word, so a lock held (by any thread)
 * when the process forked is held in the child too, as with threading.Lock.
 * Having no owner, the child may release it; _at_fork_reinit() (the binding)
 * resets it to unlocked.  A "maybe sleepers" 2 inherited from the parent only
 * costs the child one futile wake: the release that finds it swaps in 0, and
 * nothing else ever reads "somebody sleeps" from the word, so unlike RWLock
 * (whose waiting bits and counts steer hand-offs, pa_rwlock.c "fork()") it
 * needs no reset after fork (tests/test_fork_waiters.py checks the sequence).
 */
#ifndef PA_SPINLOCK_H
#define PA_SPINLOCK_H

#include <stdbool.h>

#include "pa_atomic.h"
#include "pa_lock.h"
#include "pa_wait.h"

typedef struct {
    pa_atomic_u32 state;
} pa_spinlock;

#define PA_SPINLOCK_INIT {0}

PA_INLINE void pa_spinlock_init(pa_spinlock *l) { PA_STORE(&l->state, 0); }

/* One attempt, never blocks.  The load first keeps a contended cache line
 * shared instead of bouncing it with failed CASes (test-and-test-and-set).
 * Acquire ordering comes with the seq_cst CAS. */
PA_INLINE bool pa_spinlock_try_acquire(pa_spinlock *l) {
    uint32_t expected = 0;
    return PA_LOAD(&l->state) == 0 && PA_CAS(&l->state, &expected, 1);
}

/* Spin, yield, then sleep until acquired or deadline_ns (see pa_wait.h).
 * Returns PA_ACQUIRED, PA_TIMEDOUT or PA_INTERRUPTED. */
pa_lock_result pa_spinlock_acquire_slow(pa_spinlock *l, int64_t deadline_ns);

PA_INLINE pa_lock_result pa_spinlock_acquire(pa_spinlock *l, int64_t deadline_ns) {
    if (PA_LIKELY(pa_spinlock_try_acquire(l))) return PA_ACQUIRED;
    return pa_spinlock_acquire_slow(l, deadline_ns);
}

void pa_spinlock_wake_sleeper(pa_spinlock *l);

/* Returns PA_NOT_HELD (and changes nothing) if the lock was not locked. */
PA_INLINE pa_lock_result pa_spinlock_release(pa_spinlock *l) {
    uint32_t old = PA_EXCHANGE(&l->state, 0);
    if (PA_UNLIKELY(old == 0)) return PA_NOT_HELD;
    if (PA_UNLIKELY(old == 2)) pa_spinlock_wake_sleeper(l);
    return PA_ACQUIRED;
}

PA_INLINE bool pa_spinlock_locked(pa_spinlock *l) { return PA_LOAD(&l->state) != 0; }

#endif /* PA_SPINLOCK_H */
