/*
 * pa_rwlock.h -- a writer-preferring reader-writer lock on one 32-bit word.
 *
 * Modelled on Rust std's futex RwLock (library/std/src/sys/sync/rwlock/futex.rs),
 * with timeouts, interruption and ownership checks added.
 *
 * State word:
 *
 *   bit 31  WRITERS_WAITING   a writer is (or is about to be) asleep on writer_notify
 *   bit 30  READERS_WAITING   a reader is (or is about to be) asleep on state
 *   bits 0-29 count           0: unlocked; 1..MAX_READERS: that many readers;
 *                             all ones (PA_RW_WRITE_LOCKED): one writer
 *
 * Transitions (count / bits):
 *
 *   read acquire    n -> n+1     only if n < MAX_READERS and neither waiting bit is
 *                                set (writer preference: a waiting writer holds back
 *                                new readers).  A thread that already holds a read
 *                                lock on this RWLock may pass waiting writers, so a
 *                                recursive read cannot deadlock against a writer.
 *   read release    n -> n-1     the last reader (n-1 == 0) with waiters runs
 *                                wake_waiters(prefer one writer).
 *   write acquire   0 -> W       whatever the bits; a writer that has slept also
 *                                re-sets WRITERS_WAITING (it cannot know whether
 *                                other writers still sleep).
 *   write release   W -> 0       and, if any bit was set, clears both and wakes all
 *                                readers and one writer, who race for the lock.
 *   downgrade       W -> 1       atomically, so no writer can get in between; wakes
 *                                the waiting readers, who may then pass waiting
 *                                writers (they were blocked only by us).
 *   waiting         set RW / WW  with a CAS while the lock is held, then sleep on a
 *                                word whose value the sleeper just read.  Every
 *                                release that sees a bit hands the lock on, and the
 *                                kernel's compare-and-sleep makes a release between
 *                                "set bit" and "sleep" end the sleep at once: no
 *                                wakeup is lost.
 *
 * Guarantees: mutual exclusion; writer preference (once a writer waits, no new
 * reader enters, except recursive reads and readers woken by downgrade); no
 * writer starvation by readers; waiting readers are woken at every write release
 * and race with one woken writer, so readers are not starved by a stream of
 * writers either (not strictly FIFO: a lock is not handed to a specific thread).
 *
 * Ownership: the write holder's thread id is recorded, and each thread keeps a
 * small table of the RWLocks it holds for reading (PA_RW_MAX_READ_LOCKS_PER_THREAD
 * distinct locks), so misuse is reported instead of deadlocking or corrupting
 * the count: releasing what the thread does not hold, asking for the write lock
 * while holding it, or upgrading a read lock to a write lock.
 */
#ifndef PA_RWLOCK_H
#define PA_RWLOCK_H

#include <stdbool.h>

#include "pa_atomic.h"
#include "pa_lock.h"

#define PA_RW_WRITERS_WAITING 0x80000000u
#define PA_RW_READERS_WAITING 0x40000000u
#define PA_RW_COUNT_MASK 0x3FFFFFFFu
#define PA_RW_WRITE_LOCKED PA_RW_COUNT_MASK
#define PA_RW_MAX_READERS (PA_RW_COUNT_MASK - 1)

/* Distinct RWLocks one thread may hold for reading at once. */
#define PA_RW_MAX_READ_LOCKS_PER_THREAD 32

typedef struct {
    pa_atomic_u32 state;
    pa_atomic_u32 writer_notify; /* bumped by every writer wakeup; writers sleep on it */
    pa_atomic_u64 writer;        /* pa_thread_id() of the write holder, 0 if none */
    uint64_t serial;             /* unique per pa_rwlock_init: a read-hold entry left
                                    behind by a freed lock never matches a new lock
                                    that reuses its address */
} pa_rwlock;

void pa_rwlock_init(pa_rwlock *rw);

/* Blocking calls take an absolute deadline (pa_wait.h): PA_FOREVER, or 0 for
 * a single attempt.  They return PA_ACQUIRED, PA_TIMEDOUT, PA_INTERRUPTED
 * (nothing held; the caller runs signal handlers and may call again),
 * PA_WOULD_DEADLOCK or PA_TOO_MANY. */
pa_lock_result pa_rwlock_acquire_read(pa_rwlock *rw, int64_t deadline_ns);
pa_lock_result pa_rwlock_acquire_write(pa_rwlock *rw, int64_t deadline_ns);

/* PA_ACQUIRED on success, PA_NOT_HELD (nothing changed) if the calling thread
 * does not hold that side. */
pa_lock_result pa_rwlock_release_read(pa_rwlock *rw);
pa_lock_result pa_rwlock_release_write(pa_rwlock *rw);

/* Write lock -> read lock, atomically.  PA_NOT_HELD if the caller does not
 * hold the write lock, PA_TOO_MANY if its read-lock table is full. */
pa_lock_result pa_rwlock_downgrade(pa_rwlock *rw);

/* Observers (a snapshot; may be stale as soon as they return). */
bool pa_rwlock_is_write_locked(pa_rwlock *rw);
uint32_t pa_rwlock_reader_count(pa_rwlock *rw);
bool pa_rwlock_write_held_by_me(pa_rwlock *rw);
uint32_t pa_rwlock_read_holds_by_me(pa_rwlock *rw); /* recursion depth */

/* Forget everything: for a child process after fork(), where the threads
 * that held the lock no longer exist.  Not thread-safe by design. */
void pa_rwlock_reinit_after_fork(pa_rwlock *rw);

/* Drop the calling thread's read-hold entry for rw, if any: call before
 * freeing a lock so the entry does not occupy the thread's table. */
void pa_rwlock_forget_my_holds(pa_rwlock *rw);

#endif /* PA_RWLOCK_H */
