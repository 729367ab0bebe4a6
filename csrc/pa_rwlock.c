/* pa_rwlock.c -- the reader-writer lock (state table in pa_rwlock.h). */
#include "pa_rwlock.h"

#include <stddef.h>

#include "pa_thread.h"
#include "pa_wait.h"

#define RW PA_RW_READERS_WAITING
#define WW PA_RW_WRITERS_WAITING
#define RP PA_RW_READ_PHASE
#define WAITING (RW | WW)

/* Polls of the state before sleeping; a critical section of a few hundred
 * nanoseconds ends within this budget, and a longer one costs ~1 us of spin. */
#define SPIN_LIMIT 100

static inline uint32_t count_of(uint32_t s) { return s & PA_RW_COUNT_MASK; }
static inline bool is_write_locked(uint32_t s) { return count_of(s) == PA_RW_WRITE_LOCKED; }
/* Free for a writer: no holder, and not being handed to waiting readers. */
static inline bool write_lockable(uint32_t s) { return count_of(s) == 0 && (s & RP) == 0; }

/* ---------------------------------------------------------------------------
 * Per-thread table of read holds: which RWLocks this thread holds for reading,
 * and how many times.  Only its own thread touches it, so no atomics.  Used to
 * reject a release of a read lock the thread does not hold, an upgrade that
 * would deadlock, and to let a recursive read pass a waiting writer.
 * ------------------------------------------------------------------------- */
typedef struct {
    const pa_rwlock *lock;
    uint64_t serial;
    uint32_t depth;
} read_hold;

static pa_atomic_u64 next_serial = 1;

static PA_THREAD_LOCAL read_hold tl_holds[PA_RW_MAX_READ_LOCKS_PER_THREAD];
static PA_THREAD_LOCAL unsigned tl_nholds; /* entries [0, tl_nholds) are in use */

static read_hold *find_hold(const pa_rwlock *rw) {
    for (unsigned i = 0; i < tl_nholds; i++)
        if (tl_holds[i].lock == rw && tl_holds[i].serial == rw->serial) return &tl_holds[i];
    return NULL;
}

static void add_hold(const pa_rwlock *rw) {
    tl_holds[tl_nholds].lock = rw;
    tl_holds[tl_nholds].serial = rw->serial;
    tl_holds[tl_nholds].depth = 1;
    tl_nholds++;
}

static void drop_hold(read_hold *h) {
    /* Keep the table compact: move the last entry into the hole. */
    *h = tl_holds[--tl_nholds];
}

/* ---------------------------------------------------------------------------
 * Waking
 * ------------------------------------------------------------------------- */

/* Returns how many writers were woken (-1: the platform cannot tell). */
static int wake_writer(pa_rwlock *rw) {
    /* The bump makes a writer that read the old value and is about to sleep
     * return at once from its futex wait. */
    atomic_fetch_add(&rw->writer_notify, 1);
    return pa_wake_one(&rw->writer_notify);
}

static void end_read_phase(pa_rwlock *rw);

/* Called with a state `s` whose count is 0 and which has waiting bits, by the
 * thread that just made it so (a release).  Hands the lock on: after this
 * returns, either a waiter has been woken, or the lock is held (or in a read
 * phase) by someone whose own release (or end of phase) will do this again. */
static void wake_waiters(pa_rwlock *rw, uint32_t s, bool after_write_release) {
    for (;;) {
        /* Held, nobody waits, or a read phase: whoever ends it calls us again. */
        if (count_of(s) != 0 || (s & WAITING) == 0 || (s & RP)) return;
        if (after_write_release && (s & RW)) {
            /* Readers waited out a whole write section: their turn, before
             * any writer (even one that never slept and is about to loop
             * back).  This is what keeps readers from starving under a
             * stream of writers.  WW stays set: the phase's last reader out
             * wakes a writer. */
            if (!PA_CAS(&rw->state, &s, RP | (s & WW))) continue;
            pa_wake_all(&rw->state);
            /* Nobody counted as waiting (RW was stale): end the phase now.
             * A reader counted after this load sees RP and ends it itself. */
            if (PA_LOAD(&rw->read_waiters) == 0) end_read_phase(rw);
            return;
        }
        if (s & WW) {
            /* A waiting writer goes first (writer preference); readers stay
             * parked and get a read phase at that writer's release. */
            if (!PA_CAS(&rw->state, &s, s & ~WW)) continue;
            if (wake_writer(rw) > 0) return;
            /* Nobody was asleep on writer_notify (the bit was stale, or the
             * platform cannot say): fall through to the readers, if any. */
            s = PA_LOAD(&rw->state);
            continue;
        }
        /* Only readers wait (after a read release: they were held back by a
         * writer that has since given up). */
        if (!PA_CAS(&rw->state, &s, s & ~RW)) continue;
        pa_wake_all(&rw->state);
        return;
    }
}

/* Clears READ_PHASE once no reader is counted as waiting, then hands the
 * lock on if it is free.  Run by the last counted reader to leave lock_read
 * and by whoever set the phase if it saw no waiting reader.  Leaves the bit
 * alone while a reader is counted: that reader ends the phase when it leaves.
 * (A phase can only be set while the lock is write-locked, which excludes a
 * phase, so the bit seen here is the phase our caller knows about, or one a
 * later release set for newly counted readers, which the check protects.) */
static void end_read_phase(pa_rwlock *rw) {
    uint32_t s = PA_LOAD(&rw->state);
    while ((s & RP) && PA_LOAD(&rw->read_waiters) == 0) {
        if (PA_CAS(&rw->state, &s, s & ~RP)) {
            s &= ~RP;
            if (count_of(s) == 0 && (s & WAITING)) wake_waiters(rw, s, false);
            return;
        }
    }
}

/* ---------------------------------------------------------------------------
 * Read side
 * ------------------------------------------------------------------------- */

static inline bool read_lockable(uint32_t s, bool recursive) {
    if (count_of(s) >= PA_RW_MAX_READERS) return false; /* write-locked or full */
    return recursive || (s & RP) || (s & WAITING) == 0;
}

static pa_lock_result lock_read(pa_rwlock *rw, int64_t deadline_ns, bool recursive) {
    uint32_t s = PA_LOAD(&rw->state);
    int spins = 0;
    bool counted = false; /* we are in rw->read_waiters */
    pa_lock_result result;
    pa_lock_result giving_up = PA_ACQUIRED; /* set once the wait timed out or was interrupted */
    for (;;) {
        if (read_lockable(s, recursive)) {
            /* seq_cst CAS: acquire ordering for the critical section. */
            if (PA_CAS(&rw->state, &s, s + 1)) {
                result = PA_ACQUIRED;
                break;
            }
            continue;
        }
        if (!is_write_locked(s) && count_of(s) >= PA_RW_MAX_READERS) {
            result = PA_TOO_MANY;
            break;
        }
        if (giving_up != PA_ACQUIRED) {
            /* We only ever leave while the lock is held (its holder's release
             * wakes the others) or while a writer is being handed it.  A stale
             * bit on an unlocked lock would block readers, so clear it. */
            if (count_of(s) == 0 && (s & WAITING)) wake_waiters(rw, s, false);
            result = giving_up;
            break;
        }
        if (deadline_ns == 0) {
            result = PA_TIMEDOUT;
            break;
        }
        if (spins < SPIN_LIMIT && (s & WAITING) == 0) {
            spins++;
            pa_cpu_relax();
            s = PA_LOAD(&rw->state);
            continue;
        }
        if (!counted) {
            /* Be counted before announcing ourselves with RW, so a release
             * that starts a read phase for us cannot end it before we are in.
             * Then look again: a phase may have begun meanwhile. */
            atomic_fetch_add(&rw->read_waiters, 1);
            counted = true;
            s = PA_LOAD(&rw->state);
            continue;
        }
        if ((s & RW) == 0) {
            if (!PA_CAS(&rw->state, &s, s | RW)) continue;
            s |= RW;
        }
        /* Sleeps only if the word still equals s: any release in between
         * changed the count, so the wait returns at once. */
        pa_wait_result r = pa_wait_u32(&rw->state, s, deadline_ns);
        if (r == PA_WAIT_TIMEDOUT) giving_up = PA_TIMEDOUT;
        if (r == PA_WAIT_INTERRUPTED) giving_up = PA_INTERRUPTED;
        s = PA_LOAD(&rw->state);
    }
    /* The last waiting reader out ends a read phase (held or not: see
     * end_read_phase). */
    if (counted && atomic_fetch_sub(&rw->read_waiters, 1) == 1) end_read_phase(rw);
    return result;
}

pa_lock_result pa_rwlock_acquire_read(pa_rwlock *rw, int64_t deadline_ns) {
    if (PA_LOAD(&rw->writer) == pa_thread_id()) return PA_WOULD_DEADLOCK;
    read_hold *h = find_hold(rw);
    if (h == NULL && tl_nholds == PA_RW_MAX_READ_LOCKS_PER_THREAD) return PA_TOO_MANY;
    pa_lock_result r = lock_read(rw, deadline_ns, h != NULL);
    if (r != PA_ACQUIRED) return r;
    if (h != NULL) {
        h->depth++;
    } else {
        add_hold(rw);
    }
    return PA_ACQUIRED;
}

pa_lock_result pa_rwlock_release_read(pa_rwlock *rw) {
    read_hold *h = find_hold(rw);
    if (h == NULL) return PA_NOT_HELD;
    if (--h->depth == 0) drop_hold(h);
    /* seq_cst RMW: release ordering for the critical section. */
    uint32_t s = atomic_fetch_sub(&rw->state, 1) - 1;
    if (count_of(s) == 0 && (s & WAITING) && !(s & RP)) wake_waiters(rw, s, false);
    return PA_ACQUIRED;
}

/* ---------------------------------------------------------------------------
 * Write side
 * ------------------------------------------------------------------------- */

/* No writer is counted as waiting any more: clear a WW that outlived its
 * writers (they timed out or were interrupted, or a writer that acquired saw
 * another that has since left), because WW holds back new readers.  Run by the
 * last counted writer to leave lock_write.  The check and the CAS are not one
 * step: a writer counted after the check may have set WW and be about to
 * sleep, so the notify bump below sends it round its loop again, to set WW
 * anew; a writer already asleep was counted before the check (we would not
 * be here).  Then readers held back only by the bit may enter. */
static void drop_stale_ww(pa_rwlock *rw) {
    uint32_t s = PA_LOAD(&rw->state);
    while ((s & WW) && PA_LOAD(&rw->write_waiters) == 0) {
        if (!PA_CAS(&rw->state, &s, s & ~WW)) continue;
        s &= ~WW;
        wake_writer(rw);
        if (count_of(s) == 0) {
            if (!(s & RP) && (s & RW)) wake_waiters(rw, s, false);
            return;
        }
        /* Read-held: parked readers waited only for the writer that left.
         * (Write-held: the writer's release wakes them; a read phase lets
         * them in already.) */
        while (!is_write_locked(s) && !(s & RP) && (s & RW)) {
            if (PA_CAS(&rw->state, &s, s & ~RW)) {
                pa_wake_all(&rw->state);
                return;
            }
        }
        return;
    }
}

static pa_lock_result lock_write(pa_rwlock *rw, int64_t deadline_ns) {
    uint32_t s = 0;
    if (PA_LIKELY(PA_CAS(&rw->state, &s, PA_RW_WRITE_LOCKED))) return PA_ACQUIRED;

    bool counted = false; /* we are in rw->write_waiters */
    int spins = 0;
    pa_lock_result result;
    pa_lock_result giving_up = PA_ACQUIRED; /* set once the wait timed out or was interrupted */
    for (;;) {
        if (write_lockable(s)) {
            /* Keep the bits: parked readers must still be woken at our
             * release.  Other writers counted as waiting may sleep with WW
             * cleared by the release that woke us: set it for them. */
            uint32_t others = counted && PA_LOAD(&rw->write_waiters) > 1 ? WW : 0;
            if (PA_CAS(&rw->state, &s, s | PA_RW_WRITE_LOCKED | others)) {
                result = PA_ACQUIRED;
                break;
            }
            continue;
        }
        if (giving_up != PA_ACQUIRED) {
            result = giving_up;
            break;
        }
        if (deadline_ns == 0) return PA_TIMEDOUT; /* never counted */
        if (spins < SPIN_LIMIT && (s & (WAITING | RP)) == 0) {
            spins++;
            pa_cpu_relax();
            s = PA_LOAD(&rw->state);
            continue;
        }
        if (!counted) {
            /* Counted before setting WW, so the last writer to leave knows
             * it may clear the bit (drop_stale_ww). */
            atomic_fetch_add(&rw->write_waiters, 1);
            counted = true;
            s = PA_LOAD(&rw->state);
            continue;
        }
        if ((s & WW) == 0) {
            if (!PA_CAS(&rw->state, &s, s | WW)) continue;
        }
        /* Read the notify counter, then re-check the state: a release after
         * this point bumps the counter, so the wait below cannot miss it. */
        uint32_t seq = PA_LOAD(&rw->writer_notify);
        s = PA_LOAD(&rw->state);
        if (write_lockable(s) || (s & WW) == 0) continue;
        pa_wait_result r = pa_wait_u32(&rw->writer_notify, seq, deadline_ns);
        if (r == PA_WAIT_TIMEDOUT) giving_up = PA_TIMEDOUT;
        if (r == PA_WAIT_INTERRUPTED) giving_up = PA_INTERRUPTED;
        s = PA_LOAD(&rw->state);
    }
    if (!counted) return result;
    if (atomic_fetch_sub(&rw->write_waiters, 1) == 1) {
        drop_stale_ww(rw);
        if (result != PA_ACQUIRED) {
            /* Released meanwhile with nobody else to take it: pass it on. */
            s = PA_LOAD(&rw->state);
            if (write_lockable(s) && (s & WAITING)) wake_waiters(rw, s, false);
        }
    } else if (result != PA_ACQUIRED) {
        /* Other writers wait, and we may have consumed a wakeup meant for
         * one of them (a release cleared WW and woke us): put the bit back,
         * so the holder's release (or the end of a read phase) wakes a
         * writer again. */
        s = PA_LOAD(&rw->state);
        while (!write_lockable(s) && (s & WW) == 0 && !PA_CAS(&rw->state, &s, s | WW)) {
        }
        if (write_lockable(s)) {
            /* Released meanwhile; it saw no WW.  Pass the wakeup on. */
            wake_writer(rw);
            wake_waiters(rw, s, false);
        }
    }
    return result;
}

pa_lock_result pa_rwlock_acquire_write(pa_rwlock *rw, int64_t deadline_ns) {
    uint64_t me = pa_thread_id();
    if (PA_LOAD(&rw->writer) == me) return PA_WOULD_DEADLOCK;
    if (find_hold(rw) != NULL) return PA_WOULD_DEADLOCK; /* upgrade: waits for itself */
    pa_lock_result r = lock_write(rw, deadline_ns);
    if (r == PA_ACQUIRED) PA_STORE(&rw->writer, me);
    return r;
}

pa_lock_result pa_rwlock_release_write(pa_rwlock *rw) {
    if (PA_LOAD(&rw->writer) != pa_thread_id()) return PA_NOT_HELD;
    PA_STORE(&rw->writer, 0);
    uint32_t s = atomic_fetch_sub(&rw->state, PA_RW_WRITE_LOCKED) - PA_RW_WRITE_LOCKED;
    if (s & WAITING) wake_waiters(rw, s, true);
    return PA_ACQUIRED;
}

pa_lock_result pa_rwlock_downgrade(pa_rwlock *rw) {
    if (PA_LOAD(&rw->writer) != pa_thread_id()) return PA_NOT_HELD;
    if (tl_nholds == PA_RW_MAX_READ_LOCKS_PER_THREAD) return PA_TOO_MANY;
    PA_STORE(&rw->writer, 0);
    /* W -> 1 in one step: there is no instant at which the lock is free. */
    uint32_t s = atomic_fetch_sub(&rw->state, PA_RW_WRITE_LOCKED - 1) - (PA_RW_WRITE_LOCKED - 1);
    add_hold(rw);
    /* Readers that waited for us may join us now, past waiting writers (they
     * were blocked only by our write lock): a read phase, as at a write
     * release.  Only sleeping readers set RW and nobody else clears it while
     * the lock is held, but writers may set WW meanwhile, hence the loop. */
    while (s & RW) {
        if (PA_CAS(&rw->state, &s, (s & ~RW) | RP)) {
            pa_wake_all(&rw->state);
            if (PA_LOAD(&rw->read_waiters) == 0) end_read_phase(rw);
            break;
        }
    }
    return PA_ACQUIRED;
}

/* ---------------------------------------------------------------------------
 * Observers and lifecycle
 * ------------------------------------------------------------------------- */

void pa_rwlock_init(pa_rwlock *rw) {
    rw->serial = atomic_fetch_add(&next_serial, 1);
    PA_STORE(&rw->state, 0);
    PA_STORE(&rw->writer_notify, 0);
    PA_STORE(&rw->read_waiters, 0);
    PA_STORE(&rw->write_waiters, 0);
    PA_STORE(&rw->writer, 0);
}

void pa_rwlock_reinit_after_fork(pa_rwlock *rw) {
    read_hold *h = find_hold(rw);
    if (h != NULL) drop_hold(h);
    PA_STORE(&rw->state, 0);
    PA_STORE(&rw->writer_notify, 0);
    PA_STORE(&rw->read_waiters, 0);
    PA_STORE(&rw->write_waiters, 0);
    PA_STORE(&rw->writer, 0);
}

void pa_rwlock_forget_my_holds(pa_rwlock *rw) {
    read_hold *h = find_hold(rw);
    if (h != NULL) drop_hold(h);
}

bool pa_rwlock_is_write_locked(pa_rwlock *rw) { return is_write_locked(PA_LOAD(&rw->state)); }

bool pa_rwlock_side_locked(pa_rwlock *rw, bool write) {
    uint32_t s = PA_LOAD(&rw->state);
    return write ? !write_lockable(s) : count_of(s) != 0 || !read_lockable(s, false);
}

uint32_t pa_rwlock_reader_count(pa_rwlock *rw) {
    uint32_t s = PA_LOAD(&rw->state);
    return is_write_locked(s) ? 0 : count_of(s);
}

bool pa_rwlock_write_held_by_me(pa_rwlock *rw) { return PA_LOAD(&rw->writer) == pa_thread_id(); }

uint32_t pa_rwlock_read_holds_by_me(pa_rwlock *rw) {
    read_hold *h = find_hold(rw);
    return h ? h->depth : 0;
}
