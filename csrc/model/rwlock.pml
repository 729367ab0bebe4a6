/*
 * rwlock.pml -- a Promela model of csrc/pa_rwlock.c, checked exhaustively by spin.
 *
 *   spin -DNR=1 -DNW=2 -a rwlock.pml && gcc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m1000000
 *   (`bash scripts/sanitize.sh model` runs every configuration it knows)
 *
 * Matches pa_rwlock.c as of 2026-11-25 19:38 (the READ_PHASE bit, the
 * read_waiters and write_waiters counts, drop_stale_ww; state table in
 * pa_rwlock.h).  Each C function below has
 * a Promela inline of the same name, statement for statement; every atomic
 * operation of the C code (load, store, CAS, fetch-add/sub) is one Promela
 * step, everything thread-local is a local variable.
 *
 * What is modelled: the state word (count, READERS_WAITING, WRITERS_WAITING,
 * READ_PHASE), writer_notify, read_waiters, write_waiters; lock_read
 * (recursive or not), release_read, lock_write (including giving up after a
 * timeout), drop_stale_ww, release_write, downgrade, wake_waiters,
 * wake_writer, end_read_phase.  The
 * futex is modelled exactly as the kernel provides it: wait(addr, v) compares
 * and enqueues the caller in one atomic step, and returns when a wake removes
 * it from the queue (or, for a thread allowed to time out, at any moment:
 * PA_WAIT_TIMEDOUT and PA_WAIT_INTERRUPTED take the same path).  A wake_one
 * returns how many it woke (0 or 1), as futex(FUTEX_WAKE) does on Linux.
 *
 * Abstractions (and why they lose nothing):
 *   - the reader count is 3 bits (MAX_READERS = 6) instead of 29; with at
 *     most 4 threads it never fills, so PA_TOO_MANY is unreachable both here
 *     and in C for these thread counts;
 *   - SPIN_LIMIT polls become one: a poll only reloads `s`, and with every
 *     interleaving possible, N reloads reach no state that the last one alone
 *     does not reach (an earlier reload that sees a lockable state leaves the
 *     spin at once, which is also "the last one");
 *   - the per-thread ownership checks (writer id, the read-hold table) run
 *     before lock_read/lock_write and touch only thread-local data: they are
 *     represented by which calls each process makes (a recursive read only by
 *     a thread holding a read lock, release only of what is held);
 *   - deadline 0 (a single attempt) is not modelled separately: it returns
 *     before any shared write except the acquiring CAS, which the blocking
 *     path contains;
 *   - no spurious futex wakeups (they would mask lost wakeups; the C code
 *     re-checks after every wakeup anyway).
 *
 * What is checked:
 *   - mutual exclusion: a writer is alone; readers never overlap a writer
 *     (assertions in the critical sections);
 *   - no deadlock and no lost wakeup: spin reports any reachable state where
 *     some thread is blocked forever ("invalid end state");
 *   - giving up is safe: threads marked as able to time out may leave at any
 *     wait; the others must still always finish;
 *   - the lock is left clean: once every thread has finished, the count is 0,
 *     no read phase is pending and read_waiters is 0 (a leftover READ_PHASE
 *     would lock writers out forever).  Stale waiting bits on a free lock are
 *     allowed by design (see pa_rwlock.h) and reported only with -DSTRICT_END.
 *
 * Configuration (-D on the spin command line):
 *   NR, NW      reader / writer threads (NR + NW <= 4)
 *   ITER        lock/unlock rounds per thread
 *   TIMEOUTS    1: reader 0 and writer 0 may time out at any wait
 *   DOWNGRADE   1: writers may downgrade instead of releasing
 *   RECURSIVE   1: reader 0 takes its read lock twice (the second time past
 *               waiting writers, as a recursive read does)
 */

#ifndef NR
#define NR 2            /* reader threads */
#endif
#ifndef NW
#define NW 1            /* writer threads */
#endif
#ifndef ITER
#define ITER 2          /* lock/unlock rounds per thread */
#endif
#ifndef TIMEOUTS
#define TIMEOUTS 0
#endif
#ifndef DOWNGRADE
#define DOWNGRADE 1
#endif
#ifndef RECURSIVE
#define RECURSIVE 0
#endif
#ifndef STRICT_END
#define STRICT_END 0
#endif

#define NPROC (NR + NW)
#define COUNT_MASK 7
#define WRITE_LOCKED 7
#define MAX_READERS 6
#define RW 8            /* PA_RW_READERS_WAITING */
#define WW 16           /* PA_RW_WRITERS_WAITING */
#define RP 32           /* PA_RW_READ_PHASE */
#define WAITING (RW | WW)

#define count_of(s) ((s) & COUNT_MASK)
#define has(s, bit) (((s) & (bit)) != 0)
#define is_write_locked(s) (count_of(s) == WRITE_LOCKED)
#define write_lockable(s) (count_of(s) == 0 && !has(s, RP))
#define read_lockable(s, recursive) \
    (count_of(s) < MAX_READERS && ((recursive) || has(s, RP) || !has(s, WAITING)))

#define ON_STATE 1
#define ON_NOTIFY 2

byte state = 0;
byte notify = 0;            /* writer_notify; wraps mod 256 as the u32 wraps mod 2^32 */
byte read_waiters = 0;
byte write_waiters = 0;     /* writers in the blocking part of lock_write */
byte sleeping[5];           /* which futex each thread is queued on, 0 if none (NPROC <= 4) */
byte readers_in = 0;        /* threads in a read critical section (checking only) */
byte writers_in = 0;
byte finished = 0;          /* reader and writer processes that are done */

/* ---- primitives --------------------------------------------------------- */

/* atomic_compare_exchange_strong on state: on failure s gets the current value */
inline CAS(s, desired, ok) {
    atomic {
        if
        :: state == s -> state = desired; ok = true
        :: else -> s = state; ok = false
        fi
    }
}

/* futex(FUTEX_WAKE, 1): removes one waiter (any) from the queue on addr */
inline wake_one(addr, n) {
    atomic {
        n = 0;
        if
        :: sleeping[0] == addr -> sleeping[0] = 0; n = 1
        :: sleeping[1] == addr -> sleeping[1] = 0; n = 1
        :: sleeping[2] == addr -> sleeping[2] = 0; n = 1
        :: sleeping[3] == addr -> sleeping[3] = 0; n = 1
        :: else -> skip
        fi
    }
}

/* futex(FUTEX_WAKE, INT_MAX) */
inline wake_all(addr) {
    atomic {
        k = 0;
        do
        :: k < NPROC -> if :: sleeping[k] == addr -> sleeping[k] = 0 :: else -> skip fi; k++
        :: else -> k = 0; break
        od
    }
}

/* futex(FUTEX_WAIT, addr, expected): the compare and the enqueue are one step.
 * timed_out is set when a thread allowed to time out leaves without a wake. */
inline futex_wait(addr, word, expected, may_time_out, timed_out) {
    timed_out = false;
    atomic {
        if
        :: word == expected -> sleeping[_pid] = addr
        :: else -> skip            /* EAGAIN */
        fi
    }
    atomic {
        if
        :: sleeping[_pid] == 0 -> skip                              /* woken */
        :: may_time_out && sleeping[_pid] != 0 -> sleeping[_pid] = 0; timed_out = true
        fi
    }
}

/* ---- waking ------------------------------------------------------------- */

/* wake_writer(rw): n = how many writers were woken */
inline wake_writer(n) {
    atomic { notify = notify + 1 }
    wake_one(ON_NOTIFY, n)
}

/* wake_waiters(rw, s, false) -- the only form end_read_phase calls; no
 * recursion into end_read_phase from here. */
inline wake_waiters_plain(s) {
    do
    :: count_of(s) != 0 || !has(s, WAITING) || has(s, RP) -> break
    :: else ->
        if
        :: has(s, WW) ->
            CAS(s, s & ~WW, ok);
            if
            :: ok ->
                wake_writer(n);
                if :: n > 0 -> break :: else -> s = state fi
            :: else -> skip
            fi
        :: else ->
            CAS(s, s & ~RW, ok);
            if :: ok -> wake_all(ON_STATE); break :: else -> skip fi
        fi
    od
}

/* end_read_phase(rw), with its own local e */
inline end_read_phase() {
    e = state;
    do
    :: has(e, RP) && read_waiters == 0 ->
        CAS(e, e & ~RP, ok);
        if
        :: ok ->
            e = e & ~RP;
            if :: count_of(e) == 0 && has(e, WAITING) -> wake_waiters_plain(e) :: else -> skip fi;
            break
        :: else -> skip
        fi
    :: else -> break
    od
}

/* wake_waiters(rw, s, true): at a write release */
inline wake_waiters_after_write(s) {
    do
    :: count_of(s) != 0 || !has(s, WAITING) || has(s, RP) -> break
    :: else ->
        if
        :: has(s, RW) ->
            CAS(s, RP | (s & WW), ok);
            if
            :: ok ->
                wake_all(ON_STATE);
                if :: read_waiters == 0 -> end_read_phase() :: else -> skip fi;
                break
            :: else -> skip
            fi
        :: !has(s, RW) && has(s, WW) ->
            CAS(s, s & ~WW, ok);
            if
            :: ok ->
                wake_writer(n);
                if :: n > 0 -> break :: else -> s = state fi
            :: else -> skip
            fi
        :: !has(s, RW) && !has(s, WW) ->    /* unreachable: WAITING is set */
            CAS(s, s & ~RW, ok);
            if :: ok -> wake_all(ON_STATE); break :: else -> skip fi
        fi
    od
}

/* ---- read side ---------------------------------------------------------- */

/* lock_read(rw, deadline, recursive): acquired = true, or false after giving up */
inline lock_read(recursive, acquired) {
    s = state; spins = 0; counted = false; giving_up = false;
    do
    :: read_lockable(s, recursive) ->
        CAS(s, s + 1, ok);
        if :: ok -> acquired = true; break :: else -> skip fi
    :: else ->
        /* (count_of(s) >= MAX_READERS && !write-locked: PA_TOO_MANY, unreachable) */
        if
        :: giving_up ->
            if :: count_of(s) == 0 && has(s, WAITING) -> wake_waiters_plain(s) :: else -> skip fi;
            acquired = false;
            break
        :: else -> skip
        fi;
        if
        :: spins < 1 && !has(s, WAITING) ->
            spins++;
            s = state
        :: else ->
            if
            :: !counted ->
                atomic { read_waiters = read_waiters + 1 };
                counted = true;
                s = state
            :: else ->
                if
                :: !has(s, RW) ->
                    CAS(s, s | RW, ok);
                    if :: ok -> s = s | RW :: else -> skip fi
                :: else -> ok = true
                fi;
                if
                :: ok ->
                    futex_wait(ON_STATE, state, s, may_time_out, timed_out);
                    giving_up = timed_out;
                    s = state
                :: else -> skip
                fi
            fi
        fi
    od;
    if
    :: counted ->
        atomic { old = read_waiters; read_waiters = read_waiters - 1 };
        if :: old == 1 -> end_read_phase() :: else -> skip fi
    :: else -> skip
    fi
}

/* pa_rwlock_release_read (the caller holds a read lock) */
inline release_read() {
    atomic { state = state - 1; s = state };
    if :: count_of(s) == 0 && has(s, WAITING) && !has(s, RP) -> wake_waiters_plain(s) :: else -> skip fi
}

/* Scratch locals are dead between calls: zero them, so states that differ
 * only in leftovers are one state (without this, 1 reader + 2 writers does
 * not finish in 10 minutes). */
inline forget_reader() {
    d_step { s = 0; e = 0; n = 0; k = 0; old = 0; spins = 0; ok = false; counted = false;
             giving_up = false; timed_out = false }
}
inline forget_writer() {
    d_step { s = 0; e = 0; n = 0; k = 0; seq = 0; other_ww = 0; old = 0; spins = 0; ok = false;
             counted = false; giving_up = false; timed_out = false }
}

inline enter_read() { atomic { readers_in++; assert(writers_in == 0) } }
inline leave_read() { atomic { readers_in-- } }

active [NR] proctype reader() {
    byte s, e, n, k, old, spins, iter = 0;
    bool ok, counted, giving_up, timed_out, acquired;
    bool may_time_out = (TIMEOUTS && _pid == 0);
    bool recursive_reader = (RECURSIVE && _pid == 0);

    do
    :: iter < ITER ->
        iter++;
        lock_read(false, acquired);
        forget_reader();
        if
        :: acquired ->
            enter_read();
            if
            :: recursive_reader ->
                /* a second read hold by the same thread: passes waiting writers */
                lock_read(true, acquired);
                forget_reader();
                if
                :: acquired -> enter_read(); leave_read(); release_read(); forget_reader()
                :: else -> skip
                fi
            :: else -> skip
            fi;
            leave_read();
            release_read();
            forget_reader()
        :: else -> skip
        fi;
        acquired = false
    :: else -> break
    od;
    atomic { finished++ }
}

/* ---- write side --------------------------------------------------------- */

/* drop_stale_ww(rw), with its own local e: run by the last counted writer
 * to leave lock_write */
inline drop_stale_ww() {
    e = state;
    do
    :: has(e, WW) && write_waiters == 0 ->
        CAS(e, e & ~WW, ok);
        if
        :: ok ->
            e = e & ~WW;
            wake_writer(n);
            if
            :: count_of(e) == 0 ->
                if :: !has(e, RP) && has(e, RW) -> wake_waiters_plain(e) :: else -> skip fi;
                break
            :: else ->
                do
                :: !is_write_locked(e) && !has(e, RP) && has(e, RW) ->
                    CAS(e, e & ~RW, ok);
                    if :: ok -> wake_all(ON_STATE); break :: else -> skip fi
                :: else -> break
                od;
                break
            fi
        :: else -> skip
        fi
    :: else -> break
    od
}

/* lock_write(rw, deadline): acquired = true, or false after giving up */
inline lock_write(acquired) {
    s = 0;
    CAS(s, WRITE_LOCKED, ok);
    if
    :: ok -> acquired = true
    :: else ->
        spins = 0; giving_up = false; counted = false;
        do
        :: write_lockable(s) ->
            /* others = counted && write_waiters > 1 ? WW : 0 (one load) */
            if :: counted && write_waiters > 1 -> other_ww = WW :: else -> other_ww = 0 fi;
            CAS(s, s | WRITE_LOCKED | other_ww, ok);
            if :: ok -> acquired = true; break :: else -> skip fi
        :: else ->
            if :: giving_up -> acquired = false; break :: else -> skip fi;
            if
            :: spins < 1 && !has(s, WAITING | RP) ->
                spins++;
                s = state
            :: else ->
                if
                :: !counted ->
                    atomic { write_waiters = write_waiters + 1 };
                    counted = true;
                    s = state
                :: else ->
                    if
                    :: !has(s, WW) -> CAS(s, s | WW, ok)
                    :: else -> ok = true
                    fi;
                    if
                    :: ok ->
                        seq = notify;
                        s = state;
                        if
                        :: write_lockable(s) || !has(s, WW) -> skip
                        :: else ->
                            futex_wait(ON_NOTIFY, notify, seq, may_time_out, timed_out);
                            giving_up = timed_out;
                            s = state
                        fi
                    :: else -> skip
                    fi
                fi
            fi
        od;
        if
        :: counted ->
            atomic { old = write_waiters; write_waiters = write_waiters - 1 };
            if
            :: old == 1 ->
                drop_stale_ww();
                if
                :: !acquired ->
                    s = state;
                    if :: write_lockable(s) && has(s, WAITING) -> wake_waiters_plain(s) :: else -> skip fi
                :: else -> skip
                fi
            :: else ->
                if
                :: !acquired ->
                    /* put WW back unless the lock is free or has it */
                    s = state;
                    do
                    :: write_lockable(s) || has(s, WW) -> break
                    :: else ->
                        CAS(s, s | WW, ok);
                        if :: ok -> break :: else -> skip fi
                    od;
                    if
                    :: write_lockable(s) -> wake_writer(n); wake_waiters_plain(s)
                    :: else -> skip
                    fi
                :: else -> skip
                fi
            fi
        :: else -> skip
        fi
    fi
}

active [NW] proctype writer() {
    byte s, e, n, k, seq, other_ww, old, spins, iter = 0;
    bool ok, counted, giving_up, timed_out, acquired;
    bool may_time_out = (TIMEOUTS && _pid == NR);

    do
    :: iter < ITER ->
        iter++;
        lock_write(acquired);
        forget_writer();
        if
        :: acquired ->
            atomic { writers_in++; assert(writers_in == 1 && readers_in == 0) }
            if
            :: DOWNGRADE ->
                /* pa_rwlock_downgrade: W -> 1 in one step ... */
                atomic { writers_in--; state = state - (WRITE_LOCKED - 1); s = state; readers_in++ }
                /* ... then a read phase for the readers that waited */
                do
                :: has(s, RW) ->
                    CAS(s, (s & ~RW) | RP, ok);
                    if
                    :: ok ->
                        wake_all(ON_STATE);
                        if :: read_waiters == 0 -> end_read_phase() :: else -> skip fi;
                        break
                    :: else -> skip
                    fi
                :: else -> break
                od;
                atomic { assert(writers_in == 0); readers_in-- }
                release_read();
                forget_writer()
            :: true ->
                atomic { writers_in-- }
                /* pa_rwlock_release_write */
                atomic { state = state - WRITE_LOCKED; s = state }
                if :: has(s, WAITING) -> wake_waiters_after_write(s) :: else -> skip fi;
                forget_writer()
            fi
        :: else -> skip
        fi;
        acquired = false
    :: else -> break
    od;
    atomic { finished++ }
}

/* ---- the lock is left clean --------------------------------------------- */

active proctype at_end() {
    (finished == NPROC);   /* every reader and writer is done */
    assert(count_of(state) == 0 && !has(state, RP) && read_waiters == 0 && write_waiters == 0);
    assert(!STRICT_END || state == 0)
}
