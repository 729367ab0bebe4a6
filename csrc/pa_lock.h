/*
 * pa_lock.h -- the status every core call returns, and the contract's taxonomy.
 *
 * One code per distinct outcome, so a binding never has to ask the lock again
 * which case it was (which would race with other threads) and never words an
 * error itself: pa_contract.h maps each code to the exception kind and the
 * message both bindings raise.  The first three are not errors.
 */
#ifndef PA_LOCK_H
#define PA_LOCK_H

typedef enum {
    PA_ACQUIRED = 0,
    PA_TIMEDOUT = 1,    /* deadline passed; nothing acquired, state consistent */
    PA_INTERRUPTED = 2, /* a signal arrived; nothing acquired.  The binding runs
                           the signal handlers and, if none raised, calls again */

    /* Lock misuse (RuntimeError); nothing changed.  The three "would wait for
     * itself" cases of an RWLock are told apart here, where they are known. */
    PA_WRITE_TWICE = 3,        /* acquire_write while holding the write lock */
    PA_UPGRADE = 4,            /* acquire_write while holding a read lock */
    PA_READ_WHILE_WRITING = 5, /* acquire_read while holding the write lock */
    PA_NOT_HELD = 6,           /* SpinLock.release of an unlocked lock */
    PA_READ_NOT_HELD = 7,      /* release_read without a read hold */
    PA_WRITE_NOT_HELD = 8,     /* release_write by a thread not holding it */
    PA_DOWNGRADE_NOT_HELD = 9, /* downgrade by a thread not holding the write lock */
    PA_TOO_MANY_READERS = 10,  /* the reader count of one lock is at its maximum */
    PA_READ_TABLE_FULL = 11,   /* this thread's table of read holds is full:
                                  see pa_status_wants_reclaim() */

    /* Argument and result errors, from pa_contract.c and the AtomicInt
     * wrappers; nothing changed. */
    PA_ARG_RANGE = 12,
    PA_RESULT_RANGE = 13,
    PA_TIMEOUT_NOT_NUMBER = 14,  /* message takes the type name */
    PA_TIMEOUT_NAN = 15,
    PA_TIMEOUT_NEGATIVE = 16,
    PA_TIMEOUT_TOO_LARGE = 17,
    PA_TIMEOUT_NONBLOCKING = 18, /* blocking=False with a timeout */
    PA_NOT_ACQUIRED_IN_TIME = 19, /* `with rw.read(timeout=t)`; takes side and t */
    PA_NOT_CONSTRUCTIBLE = 20,   /* type(view)(); takes the type name */
    PA_NO_ARGUMENTS = 21,        /* SpinLock(1); takes the type name */
    PA_NOT_ATOMIC = 22,          /* a *= 2; takes the operator */
    PA_NOT_CALLABLE = 23,        /* a.update(3); takes the type name */
    PA_VIEW_CLEARED = 24,        /* a view whose RWLock the GC cleared */
    PA_FINALIZED = 25,           /* the module state is gone (finalisation) */
    PA_COUNTER_RANGE = 26,       /* an AtomicCounter cell would leave int64 */
    PA_FORMAT_SPEC_NOT_STR = 27, /* format(a, 5); takes the type name */
    PA_NOT_PICKLABLE = 28,       /* pickle/copy of an AtomicRef; takes the type name */
    PA_STAMP_NOT_INT = 29,       /* rw.validate("x"); takes the type name
                                    (pa_contract.h: stamps) */

    /* Upgradable-read misuse (RuntimeError); nothing changed (pa_rwlock.h,
     * "Upgradable reads"). */
    PA_UPGRADABLE_TWICE = 30,        /* acquire_upgradable while holding it */
    PA_UPGRADABLE_WHILE_WRITING = 31, /* acquire_upgradable while holding the write lock */
    PA_UPGRADABLE_WHILE_READING = 32, /* acquire_upgradable while holding a plain read lock */
    PA_UPGRADABLE_NOT_HELD = 33,     /* release_upgradable without holding it */
    PA_UPGRADE_NOT_HELD = 34,        /* upgrade without holding the upgradable read */
    PA_UPGRADE_WHILE_READING = 35,   /* upgrade while also holding a plain read lock */
    PA_WRITE_WHILE_UPGRADABLE = 36,  /* acquire_write while holding the upgradable read */

    PA_STATUS_COUNT
} pa_lock_result;

#endif /* PA_LOCK_H */
