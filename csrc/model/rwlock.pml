/*
 * rwlock.pml -- a Promela model of csrc/pa_rwlock.c, checked exhaustively by spin.
 *
 *   spin -DNR=1 -DNW=2 -a rwlock.pml && gcc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m1000000
 *   liveness (LIVE=n): spin -DLIVE=2 -DLOOP_W=1 -DNR=1 -DNW=1 -a rwlock.pml &&
 *                      gcc -O2 -DCOLLAPSE -o pan pan.c && ./pan -a -f -m1000000
 *   (`bash scripts/sanitize.sh model` runs every configuration it knows)
 *
 * Matches pa_rwlock.c as of 2026-12-01 (the READ_PHASE bit, the
 * read_waiters and write_waiters counts, drop_stale_ww, wake_waiters deciding
 * by write_waiters, the after-fork reset; state table in pa_rwlock.h).  Each C function below has
 * a Promela inline of the same name, statement for statement; every atomic
 * operation of the C code (load, store, CAS, fetch-add/sub) is one Promela
 * step, everything thread-local is a local variable.
 *
 * What is modelled: the state word (count, READERS_WAITING, WRITERS_WAITING,
 * READ_PHASE), writer_notify, read_waiters, write_waiters; lock_read
 * (recursive or not), release_read, lock_write (including giving up after a
 * timeout), drop_stale_ww, release_write, downgrade, wake_waiters,
 * wake_writer, end_read_phase, and with FORK the fork generation and
 * reset_after_fork (fork_stale checks on every slow path).  The
 * futex is modelled as pa_wait_u32 provides it (futex_wait below: a passed
 * deadline returns at once without comparing; otherwise wait(addr, v)
 * compares and enqueues the caller in one atomic step, and returns when a
 * wake removes it from the queue, or, for a thread allowed to time out, when
 * its deadline passes: PA_WAIT_TIMEDOUT and PA_WAIT_INTERRUPTED take the same
 * path; optionally a spurious return, or a wake swallowed by a timeout).  A wake_one
 * returns how many it woke (0 or 1), as futex(FUTEX_WAKE) does on Linux, or
 * with -DWAKE_UNKNOWN=1 "unknown", as on Windows; wake_waiters decides by
 * write_waiters either way.
 *
 * Abstractions (and why they lose nothing):
 *   - the reader count is 3 bits (MAX_READERS = 6) instead of 29; with at
 *     most 4 threads it never fills, so PA_TOO_MANY is unreachable both here
 *     and in C for these thread counts;
 *   - the spin policy's polls (pa_spinwait: pauses, then yields) become one:
 *     a poll only reloads `s`, and with every
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
 *   - spurious wakeups are bounded (SPURIOUS of them in a run): unbounded,
 *     a thread owed a wake could always wake itself, which hides the lost
 *     wakeup exactly as an unbounded timeout does;
 *   - writer_notify wraps at 256 instead of 2^32 (a writer that misses 256
 *     bumps between its read and its sleep is far out of reach of ITER).
 *
 * What is checked:
 *   - mutual exclusion: a writer is alone; readers never overlap a writer
 *     (assertions in the critical sections);
 *   - no deadlock and no lost wakeup: spin reports any reachable state where
 *     some thread is blocked forever ("invalid end state");
 *   - giving up is safe: threads marked as able to time out may leave at any
 *     wait; the others must still always finish.  With IN_TIME, every wait
 *     of such a thread also has the runs in which its deadline does not pass
 *     during it, and there it must be woken like any other: a wakeup lost on
 *     a thread that can time out is an invalid end state too (without
 *     IN_TIME it could always leave, and the canary BUGGY 1 goes unseen);
 *   - the main thread (MAIN): the binding ends its wait every 50 ms
 *     (block_on in _capi_binding.c), the core call gives up as on a timeout,
 *     and the binding calls again; after SLICES such ends it waits untimed,
 *     so it must get the lock (assertion: it never leaves without it);
 *   - liveness (LIVE, pan -a -f, weak fairness; the ghosts r0_parked /
 *     w0_parked: the thread has come to a futex wait in this call):
 *     LIVE 2: a reader that has waited gets the lock while writers keep
 *     coming back (LOOP_W: the writers loop forever): the read phase;
 *     LIVE 1: a writer that has waited gets the lock while readers keep
 *     coming back (LOOP_R): writer preference.  (Counted from the first
 *     wait: before it, a thread can lose every CAS race forever under weak
 *     fairness, which no CAS-based lock excludes and the README does not
 *     claim.)  LIVE 1 failed for pa_rwlock.c until 2026-12-01: wake_waiters
 *     cleared WW when it woke the writer, and a reader arriving before the
 *     woken writer's CAS took the lock; the writer set WW and slept again,
 *     for ever.  The code now keeps WW while a counted writer is woken
 *     (FIX_WW 1, the default); FIX_WW 0 is the old code, kept as a canary;
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
 *   IN_TIME     1: timed threads must be woken when their deadline does not pass
 *   MAIN, SLICES 1 / 2: reader 0 / writer 0 is the main thread (above)
 *   SPURIOUS    n: n spurious wakeups in all
 *   TO_RACE     1: a wake may be swallowed by a timeout (futex_wait)
 *   WAKE_UNKNOWN 1: wake_one cannot say how many it woke (Windows, macOS)
 *   LIVE, LOOP_R, LOOP_W  liveness (above)
 *   FIX_WW      1 (default): wake_waiters keeps WW for a counted writer, as
 *               pa_rwlock.c does; 0: the old code (a canary for LIVE 1)
 *   BUGGY       canaries: 1 wake_writer does not bump writer_notify; 2 no
 *               read phase (a write release prefers writers); 3 no writer
 *               preference (read_lockable ignores the waiting bits); 4 a
               writer ignores the readers' count
 *   FORK        1 or 2: a fork while the forking thread holds the write lock
 *               (1) or a read lock (2) and the NR readers and NW writers queue
 *               behind it; the child's two threads must then get the lock
 *               (waiters vanish, the reset runs; see the FORK section)
 *   OPT         n: n optimistic readers and the write sequence (below; not
 *               with FORK or LOOP_W), each making OPT_ITER (1) attempts
 *   OPT_BUGGY   canaries of the optimistic reads: 1 validate does not compare
 *               the sequence; 2 neither optimistic_read nor validate looks at
 *               the odd bit; 3 a writer bumps only at its release (by 2), not
 *               on acquiring; 4 a downgrade puts back the value from before
 *               the section (so old stamps validate again)
 *
 *   UPG         1: one upgradable reader (below; not with FORK, OPT or LIVE)
 *   UPG_TIMEOUTS 1: its upgrade may time out (it then releases the
 *               upgradable read, which it still holds)
 *   UPG_BUGGY   canaries of the upgradable reads: 1 a read release leaving
 *               the count at 1 does not wake the upgrader; 2 upgrade does not
 *               wait for the other readers (count >= 1 -> W); 3 drop_stale_ww
 *               does not wake the upgrader (the first version of the code:
 *               the model found it, an upgrader that counted itself after
 *               drop_stale_ww's check slept on the WW it then cleared)
 *
 * Upgradable reads (UPG; pa_rwlock.h, "Upgradable reads"): process upgrader
 * takes a read lock as acquire_upgradable does (after the token, which is a
 * pa_spinlock, modelled in spinlock.pml; with one upgrader it is never
 * contended, so it is left out), then upgrade: lock_upgrade below, statement
 * for statement as pa_rwlock.c (upgrading, write_waiters, WW, a sleep on
 * upgrade_notify), then the write section and release_write; or, timed
 * out, the release of its read.  The wake sites are release_read (count
 * left at 1 with WW, no RP) and end_read_phase (count 1 with WW).  Checked:
 * exclusion (its write section asserts nobody else is inside), no lost
 * wakeup (it sleeps untimed unless UPG_TIMEOUTS, and with IN_TIME must be
 * woken in the runs its deadline does not pass), and a clean end
 * (upgrading 0, write_waiters 0, no RP; STRICT_END: no stale bit either).
 *
 * Optimistic reads (OPT; pa_rwlock.h, "Optimistic reads"): write_seq (wseq)
 * and two data fields da, db that every write section increments one after
 * the other (a reader between the two sees them torn).  Writers bump wseq as
 * pa_rwlock.c does: odd right after acquiring (write_seq_enter, before
 * acquire_write returns), even before the state step of release_write and of
 * downgrade (write_seq_leave); each bump is a load and a store of their own
 * (only the holder writes wseq).  An optimistic reader takes a stamp (one
 * load), reads da and db (a step each), validates (one load), and asserts
 * that a True validation saw the data exactly as the section that ended at
 * the stamp left it: da == db == (stamp - 2) / 2 (one increment per section;
 * wseq starts at PA_RW_FIRST_STAMP, 2).  Interleavings are sequentially
 * consistent here: this checks where the bumps and checks are, not the
 * fences; the memory-ordering argument is pa_rwlock.h's.
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
#ifndef WAKE_UNKNOWN
#define WAKE_UNKNOWN 0
#endif
#define UNKNOWN 255     /* a wake count of -1 */
#ifndef IN_TIME
#define IN_TIME 0
#endif
#ifndef SPURIOUS
#define SPURIOUS 0
#endif
#ifndef TO_RACE
#define TO_RACE 0
#endif
#ifndef FIX_WW
#define FIX_WW 1
#endif
#ifndef MAIN
#define MAIN 0
#endif
#ifndef SLICES
#define SLICES 1
#endif
#ifndef LOOP_R
#define LOOP_R 0
#endif
#ifndef LOOP_W
#define LOOP_W 0
#endif
#ifndef LIVE
#define LIVE 0
#endif
#ifndef BUGGY
#define BUGGY 0
#endif
#ifndef FORK
#define FORK 0
#endif
#ifndef OPT
#define OPT 0
#endif
#ifndef OPT_BUGGY
#define OPT_BUGGY 0
#endif
#ifndef OPT_ITER
#define OPT_ITER 1      /* optimistic reads per optimistic reader */
#endif
#ifndef UPG
#define UPG 0
#endif
#ifndef UPG_TIMEOUTS
#define UPG_TIMEOUTS 0
#endif
#ifndef UPG_BUGGY
#define UPG_BUGGY 0
#endif

/* FORK configurations: process `forker` starts holding the lock (1: the
 * write lock, 2: a read lock) and forks at any moment; from then on the
 * parent's readers and writers are frozen (they do not exist in the child)
 * and the child's two threads, forker and child_thread, use the lock. */
#if FORK
#define PARENT provided (!forked)
#if FORK == 1
#define INIT_STATE WRITE_LOCKED
#define INIT_WRITERS_IN 1
#define INIT_READERS_IN 0
#else
#define INIT_STATE 1
#define INIT_WRITERS_IN 0
#define INIT_READERS_IN 1
#endif
#else
#define PARENT
#define INIT_STATE 0
#define INIT_WRITERS_IN 0
#define INIT_READERS_IN 0
#endif
#define NSLOTS 6        /* sleeping[] slots: every _pid but at_end's */

#define NPROC (NR + NW + UPG)
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
#if BUGGY == 4
/* canary: a writer ignores the readers' count (mutual exclusion) */
#define write_lockable(s) (!is_write_locked(s) && !has(s, RP))
#else
#define write_lockable(s) (count_of(s) == 0 && !has(s, RP))
#endif
#if BUGGY == 3
/* canary: no writer preference (a waiting writer does not hold back readers) */
#define read_lockable(s, recursive) (count_of(s) < MAX_READERS)
#else
#define read_lockable(s, recursive) \
    (count_of(s) < MAX_READERS && ((recursive) || has(s, RP) || !has(s, WAITING)))
#endif

#define ON_STATE 1
#define ON_NOTIFY 2
#define ON_UPGRADE 3    /* upgrade_notify */

byte state = INIT_STATE;
byte notify = 0;            /* writer_notify; wraps mod 256 as the u32 wraps mod 2^32 */
byte read_waiters = 0;
byte write_waiters = 0;     /* writers in the blocking part of lock_write */
byte sleeping[NSLOTS];      /* which futex each thread is queued on, 0 if none */
byte readers_in = INIT_READERS_IN; /* threads in a read critical section (checking only) */
byte writers_in = INIT_WRITERS_IN;
byte gen = 0;               /* fork_generation: +2 at each fork, in the child */
byte lock_gen = 0;          /* rw->fork_gen */
bool forked = false;
byte child_done = 0;        /* child threads (FORK) that are done */
bool child_read = false;    /* child_thread holds its read lock (FORK 2) */
byte finished = 0;          /* reader and writer processes that are done */
byte spurious = SPURIOUS;   /* spurious wakeups left, for all threads together */
#if OPT
byte wseq = 2;              /* rw->write_seq: PA_RW_FIRST_STAMP; odd while a writer is in */
byte da = 0;                /* the data of the write sections */
byte db = 0;
#endif
#if UPG
byte upgrading = 0;         /* rw->upgrading */
byte upg_notify = 0;        /* rw->upgrade_notify */
#endif
#if LIVE
/* Ghosts for the LTL properties: reader 0 / writer 0 is inside a lock_read /
 * lock_write call (from the call until it returns). */
bool r0_wait = false;
bool w0_wait = false;
bool r0_parked = false;     /* ... and has come to a futex wait in that call */
bool w0_parked = false;
#define GHOST(a) a
#else
#define GHOST(a) skip
#endif

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

/* futex(FUTEX_WAKE, 1): removes one waiter (any) from the queue on addr.
 * n: how many it woke; with WAKE_UNKNOWN, UNKNOWN (-1 in C) whatever it did,
 * as WakeByAddressSingle does.  No caller decides by n any more; the variant
 * checks that none depends on it. */
inline wake_one(addr, n) {
    atomic {
        n = 0;
        if
        :: sleeping[0] == addr -> sleeping[0] = 0; n = 1
        :: sleeping[1] == addr -> sleeping[1] = 0; n = 1
        :: sleeping[2] == addr -> sleeping[2] = 0; n = 1
        :: sleeping[3] == addr -> sleeping[3] = 0; n = 1
        :: sleeping[4] == addr -> sleeping[4] = 0; n = 1
        :: sleeping[5] == addr -> sleeping[5] = 0; n = 1
        :: else -> skip
        fi;
        if :: WAKE_UNKNOWN -> n = UNKNOWN :: else -> skip fi
    }
}

/* futex(FUTEX_WAKE, INT_MAX) */
inline wake_all(addr) {
    atomic {
        k = 0;
        do
        :: k < NSLOTS -> if :: sleeping[k] == addr -> sleeping[k] = 0 :: else -> skip fi; k++
        :: else -> k = 0; break
        od
    }
}

/* pa_wait_u32(addr, expected, deadline), as every platform provides it:
 *   - a deadline already passed returns PA_WAIT_TIMEDOUT at once, without
 *     looking at the word (pa_wait.c checks the clock first);
 *   - otherwise the compare and the enqueue are one step (EAGAIN: the word
 *     changed); the sleeper returns when a wake removes it from the queue,
 *     or, if this wait's deadline passes, timed out;
 *   - with SPURIOUS, SPURIOUS waits in all may return PA_WAIT_WOKEN unwoken
 *     (WaitOnAddress, __ulock_wait, a capped slice's end: pa_wait.h);
 *   - with TO_RACE, a wait woken just as its deadline passes may report
 *     PA_WAIT_TIMEDOUT, the wake swallowed (Linux's futex reports the wake;
 *     nothing documents that WaitOnAddress or __ulock_wait always do).
 * may_time_out: this thread has a deadline at all.  With IN_TIME, each wait
 * of such a thread first chooses whether its deadline passes during it; in
 * the runs where it does not, the thread must be woken like any other, so a
 * wakeup lost on a thread that can time out is an invalid end state too
 * (without IN_TIME such a thread can always leave, and hides it).
 * timed_out is set when the thread leaves without a wake. */
inline futex_wait(addr, word, expected, may_time_out, timed_out) {
    atomic {
        timed_out = false;
        this_to = may_time_out;
#if LIVE
        if :: _pid == 0 -> r0_parked = true :: _pid == NR -> w0_parked = true :: else -> skip fi;
#endif
#if IN_TIME
        if :: this_to -> if :: this_to = false :: skip fi :: else -> skip fi;
#endif
        if
        :: this_to -> timed_out = true      /* deadline already passed: no compare */
        :: word == expected -> sleeping[_pid] = addr
        :: word != expected -> skip         /* EAGAIN */
        fi
    }
    atomic {
        if
        :: timed_out -> skip
        :: !timed_out && sleeping[_pid] == 0 -> skip                   /* woken */
#if TO_RACE
        :: !timed_out && sleeping[_pid] == 0 && this_to -> timed_out = true  /* woken, reported as a timeout */
#endif
        :: this_to && sleeping[_pid] != 0 -> sleeping[_pid] = 0; timed_out = true
#if SPURIOUS
        :: spurious > 0 && sleeping[_pid] != 0 -> sleeping[_pid] = 0; spurious--
#endif
        fi;
        this_to = false
    }
}

/* ---- waking ------------------------------------------------------------- */

/* wake_writer(rw): n = how many writers were woken */
inline wake_writer(n) {
#if BUGGY != 1
    atomic { notify = notify + 1 }
#endif
    /* (BUGGY 1, a canary: no bump, so a writer between its read of notify
     * and its sleep misses this wakeup) */
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
#if FIX_WW
            /* a counted writer is woken with WW kept, so no new reader
             * gets in before it; only a stale bit is cleared (pa_rwlock.c) */
            if
            :: write_waiters > 0 -> wake_writer(n); break
            :: else ->
#endif
            CAS(s, s & ~WW, ok);
            if
            :: ok ->
                wake_writer(n);
                if :: write_waiters > 0 -> break :: else -> s = state fi
            :: else -> skip
            fi
#if FIX_WW
            fi
#endif
        :: else ->
            CAS(s, s & ~RW, ok);
            if :: ok -> wake_all(ON_STATE); break :: else -> skip fi
        fi
    od
}

/* wake_upgrader(rw): after the caller's RMW of the state */
inline wake_upgrader() {
#if UPG
    if
    :: upgrading != 0 -> atomic { upg_notify = upg_notify + 1 }; wake_all(ON_UPGRADE)
    :: else -> skip
    fi
#else
    skip
#endif
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
#if UPG
            if :: count_of(e) == 1 && has(e, WW) -> wake_upgrader() :: else -> skip fi;
#endif
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
#if FIX_WW
            if
            :: write_waiters > 0 -> wake_writer(n); break
            :: else ->
#endif
            CAS(s, s & ~WW, ok);
            if
            :: ok ->
                wake_writer(n);
                if :: write_waiters > 0 -> break :: else -> s = state fi
            :: else -> skip
            fi
#if FIX_WW
            fi
#endif
        :: !has(s, RW) && !has(s, WW) ->    /* unreachable: WAITING is set */
            CAS(s, s & ~RW, ok);
            if :: ok -> wake_all(ON_STATE); break :: else -> skip fi
        fi
    od
}

/* ---- fork --------------------------------------------------------------- */

/* reset_after_fork(rw): the thread that moves lock_gen to the odd gen|1
 * resets; the others wait for gen.  The CAS loop on the state is one step. */
inline reset_after_fork() {
    do
    :: lock_gen == gen -> break
    :: lock_gen == (gen | 1) -> (lock_gen != (gen | 1))
    :: lock_gen != gen && lock_gen != (gen | 1) ->
        atomic {
            if
            :: lock_gen != gen && lock_gen != (gen | 1) -> lock_gen = gen | 1; ok = true
            :: else -> ok = false
            fi
        }
        if
        :: ok ->
            read_waiters = 0;
            write_waiters = 0;
            state = state & COUNT_MASK;
            lock_gen = gen;
            break
        :: else -> skip
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
        :: !fork_checked && lock_gen != gen ->
            fork_checked = true;
            reset_after_fork();
            s = state
        :: else -> fork_checked = true;
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
    if
    :: count_of(s) == 0 && has(s, WAITING) && !has(s, RP) ->
        if :: lock_gen != gen -> reset_after_fork() :: else -> wake_waiters_plain(s) fi
#if UPG && UPG_BUGGY != 1
    /* (UPG_BUGGY 1, a canary: this wake is missing) */
    :: count_of(s) == 1 && has(s, WW) && !has(s, RP) -> wake_upgrader()
#endif
    :: else -> skip
    fi
}

/* pa_rwlock_release_write (the caller holds the write lock) */
inline release_write() {
    atomic { state = state - WRITE_LOCKED; s = state };
    if
    :: has(s, WAITING) ->
#if BUGGY == 2
        /* canary: no read phase; a write release prefers writers too */
        if :: lock_gen != gen -> reset_after_fork() :: else -> wake_waiters_plain(s) fi
#else
        if :: lock_gen != gen -> reset_after_fork() :: else -> wake_waiters_after_write(s) fi
#endif
    :: else -> skip
    fi
}

/* Scratch locals are dead between calls: zero them, so states that differ
 * only in leftovers are one state (without this, 1 reader + 2 writers does
 * not finish in 10 minutes). */
inline forget_reader() {
    d_step { s = 0; e = 0; n = 0; k = 0; old = 0; spins = 0; ok = false; counted = false;
             giving_up = false; timed_out = false; fork_checked = false }
}
inline forget_writer() {
    d_step { s = 0; e = 0; n = 0; k = 0; seq = 0; other_ww = 0; old = 0; spins = 0; ok = false;
             counted = false; giving_up = false; timed_out = false; fork_checked = false }
}

inline enter_read() { atomic { readers_in++; assert(writers_in == 0) } }
inline leave_read() { atomic { readers_in-- } }

active [NR] proctype reader() PARENT {
    byte s, e, n, k, old, spins, iter = 0;
    bool ok, counted, giving_up, timed_out, acquired, fork_checked, this_to;
    bool may_time_out = ((TIMEOUTS || MAIN == 1) && _pid == 0);
    bool recursive_reader = (RECURSIVE && _pid == 0);
    byte slices = (MAIN == 1 && _pid == 0 -> SLICES : 0);

    do
    :: LOOP_R || iter < ITER ->
        if :: !LOOP_R -> iter++ :: else -> skip fi;
again_r:
        GHOST(r0_wait = (_pid == 0));
        lock_read(false, acquired);
        forget_reader();
        GHOST(r0_wait = false; r0_parked = false);
        if
        :: !acquired && slices > 0 ->
            /* the main thread: the binding's 50 ms slice ended (block_on),
             * it ran the signal handlers and calls again */
            slices--;
            if :: slices == 0 -> may_time_out = false :: else -> skip fi;
            goto again_r
        :: else -> skip
        fi;
        assert(acquired || may_time_out);
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
#if UPG && UPG_BUGGY != 3
            /* (UPG_BUGGY 3, a canary: the code before the model found that
             * an upgrader counted after the check sleeps on a WW cleared here) */
            wake_upgrader();
#endif
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
            :: !fork_checked && lock_gen != gen ->
                fork_checked = true;
                reset_after_fork();
                s = state
            :: else -> fork_checked = true;
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

/* ---- the write sequence (OPT) -------------------------------------------- */

#if OPT
/* write_seq_enter: q = load; store q + 1 (odd).  (OPT_BUGGY 3: no bump.) */
inline write_seq_enter() {
#if OPT_BUGGY != 3
    q = wseq;
    wseq = q + 1;
#endif
    q = 0
}
/* write_seq_leave: q = load; store q + 1 (even), before the state step.
 * (OPT_BUGGY 3: + 2 here instead; OPT_BUGGY 4: a downgrade stores the value
 * from before the section.) */
inline write_seq_leave(downgrading) {
    q = wseq;
#if OPT_BUGGY == 3
    wseq = q + 2;
#elif OPT_BUGGY == 4
    if :: downgrading -> wseq = q - 1 :: else -> wseq = q + 1 fi;
#else
    wseq = q + 1;
#endif
    q = 0
}
/* the section's data, one field at a time */
inline write_data() {
    da = da + 1;
    db = db + 1
}
#endif

active [NW] proctype writer() PARENT {
    byte s, e, n, k, seq, other_ww, old, spins, q, iter = 0;
    bool ok, counted, giving_up, timed_out, acquired, fork_checked, this_to;
    bool may_time_out = ((TIMEOUTS || MAIN == 2) && _pid == NR);
    byte slices = (MAIN == 2 && _pid == NR -> SLICES : 0);

    do
    :: LOOP_W || iter < ITER ->
        if :: !LOOP_W -> iter++ :: else -> skip fi;
again_w:
        GHOST(w0_wait = (_pid == NR));
        lock_write(acquired);
        forget_writer();
        GHOST(w0_wait = false; w0_parked = false);
        if
        :: !acquired && slices > 0 ->
            slices--;
            if :: slices == 0 -> may_time_out = false :: else -> skip fi;
            goto again_w
        :: else -> skip
        fi;
        assert(acquired || may_time_out);
        if
        :: acquired ->
#if OPT
            write_seq_enter();
#endif
            atomic { writers_in++; assert(writers_in == 1 && readers_in == 0) }
#if OPT
            write_data();
#endif
            if
            :: DOWNGRADE ->
#if OPT
                write_seq_leave(true);
#endif
                /* pa_rwlock_downgrade: W -> 1 in one step ... */
                atomic { writers_in--; state = state - (WRITE_LOCKED - 1); s = state; readers_in++ }
                /* ... then a read phase for the readers that waited (none
                 * if the waiter state is a parent's) */
                if :: has(s, WAITING | RP) && lock_gen != gen -> reset_after_fork(); s = 0 :: else -> skip fi;
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
#if OPT
                write_seq_leave(false);
#endif
                release_write();
                forget_writer()
            fi
        :: else -> skip
        fi;
        acquired = false
    :: else -> break
    od;
    atomic { finished++ }
}

/* ---- fork (FORK configurations) ----------------------------------------- */

#if FORK
/* The thread that forks: it holds the lock from the start (INIT_STATE), so
 * the parent's readers and writers can only queue up, time out or spin; at
 * any moment of that it forks.  In the child it releases what it held and
 * takes the write lock once more, while child_thread (started in the child)
 * takes the write lock (FORK 1) or a read lock (FORK 2: possibly while the
 * forker still holds its read lock, past the parent's phantom writer).
 * (Each child thread does one acquisition: the frozen parent threads'
 * program counters and locals multiply the state space.) */
active proctype forker() {
    byte s, e, n, k, seq, other_ww, old, spins;
    bool ok, counted, giving_up, timed_out, acquired, fork_checked, this_to;
    bool may_time_out = false;

    /* fork(): the child handler bumps the generation; the child's futex
     * queues are empty (the parent's sleepers are not its threads). */
    atomic {
        forked = true;
        gen = gen + 2;
        k = 0;
        do
        :: k < NSLOTS -> sleeping[k] = 0; k++
        :: else -> k = 0; break
        od
    }
#if FORK == 1
    atomic { writers_in-- }
    release_write();
#else
    /* Keeps its read lock until child_thread has one too: a phantom writer
     * holding back that reader would deadlock the two. */
    (child_read);
    atomic { readers_in-- }
    release_read();
#endif
    forget_writer();
    lock_write(acquired);
    forget_writer();
    assert(acquired);
    atomic { writers_in++; assert(writers_in == 1 && readers_in == 0) }
    atomic { writers_in-- }
    release_write();
    forget_writer();
    atomic { child_done++ }
}

active proctype child_thread() provided (forked) {
    byte s, e, n, k, seq, other_ww, old, spins;
    bool ok, counted, giving_up, timed_out, acquired, fork_checked, this_to;
    bool may_time_out = false;

#if FORK == 2
    /* beside the forker's read hold: no phantom writer may hold it back */
    lock_read(false, acquired);
    forget_writer();
    assert(acquired);
    enter_read();
    child_read = true;
    leave_read();
    release_read();
#else
    lock_write(acquired);
    forget_writer();
    assert(acquired);
    atomic { writers_in++; assert(writers_in == 1 && readers_in == 0) }
    atomic { writers_in-- }
    release_write();
#endif
    forget_writer();
    atomic { child_done++ }
}
#endif

/* ---- upgradable reads (UPG) ---------------------------------------------- */

#if UPG
#if UPG_BUGGY == 2
/* canary: upgrade does not wait for the other readers */
#define upgradable_now(s) (count_of(s) >= 1 && !is_write_locked(s) && !has(s, RP))
#else
#define upgradable_now(s) (count_of(s) == 1 && !has(s, RP))
#endif

/* lock_upgrade(rw, deadline): the caller holds the upgradable read (count
 * >= 1, its own read among them); acquired = true (1 -> W), or false after
 * giving up, still holding its read. */
inline lock_upgrade(acquired) {
    s = 1;
    CAS(s, WRITE_LOCKED, ok);
    if
    :: ok -> acquired = true
    :: else ->
        spins = 0; giving_up = false; counted = false;
        do
        :: upgradable_now(s) ->
            CAS(s, (s & ~COUNT_MASK) | WRITE_LOCKED, ok);
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
                    upgrading = 1;
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
                        seq = upg_notify;
                        s = state;
                        if
                        :: upgradable_now(s) || !has(s, WW) -> skip
                        :: else ->
                            futex_wait(ON_UPGRADE, upg_notify, seq, may_time_out, timed_out);
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
            upgrading = 0;
            atomic { old = write_waiters; write_waiters = write_waiters - 1 };
            if :: old == 1 -> drop_stale_ww() :: else -> skip fi
        :: else -> skip
        fi
    fi
}

active proctype upgrader() {
    byte s, e, n, k, seq, other_ww, old, spins, q, iter = 0;
    bool ok, counted, giving_up, timed_out, acquired, fork_checked, this_to;
    bool may_time_out = false;

    /* acquire_upgradable: (the token, then) a new reader's read, untimed */
    lock_read(false, acquired);
    forget_writer();
    assert(acquired);
    enter_read();
    /* upgrade */
    may_time_out = UPG_TIMEOUTS;
    lock_upgrade(acquired);
    forget_writer();
    assert(acquired || may_time_out);
    if
    :: acquired ->
        atomic { readers_in--; writers_in++; assert(writers_in == 1 && readers_in == 0) }
        atomic { writers_in-- }
        release_write()
    :: else ->
        /* still the upgradable holder: release_upgradable */
        leave_read();
        release_read()
    fi;
    forget_writer();
    atomic { finished++ }
}
#endif

/* ---- the lock is left clean --------------------------------------------- */

active proctype at_end() {
#if FORK
    /* Nothing can move any more (the parent's threads are frozen; pan runs
     * with -E, which ignores them): both child threads must have finished,
     * none blocked forever, and the lock is free. */
    timeout;
    assert(child_done == 2);
    assert(count_of(state) == 0 && !has(state, RP));
    /* Counts of the parent's waiters may outlive the fork on a lock no slow
     * path has met since (nothing reads them before the check): only a lock
     * of this generation must have none. */
    assert(lock_gen != gen || (read_waiters == 0 && write_waiters == 0));
    assert(!STRICT_END || state == 0)
#else
    (finished == NPROC);   /* every reader and writer is done */
#if BUGGY != 4  /* (so that the mutual exclusion canary reports the overlap itself) */
    assert(count_of(state) == 0 && !has(state, RP) && read_waiters == 0 && write_waiters == 0);
#endif
#if UPG
    assert(upgrading == 0);
#endif
    assert(!STRICT_END || state == 0)
#endif
}

/* ---- liveness (LIVE configurations; pan -a -f: weak fairness) ------------ */

#if LIVE == 1
/* Writer preference: writer 0 gets the lock while the readers keep arriving
 * (LOOP_R: they take and release read locks forever). */
ltl writer_gets_in { [] (w0_parked -> <> !w0_wait) }
#elif LIVE == 2
/* The read phase: reader 0 gets the lock while the writers keep coming back
 * (LOOP_W). */
ltl reader_gets_in { [] (r0_parked -> <> !r0_wait) }
#endif

/* ---- optimistic readers (OPT) --------------------------------------------- */

#if OPT
active [OPT] proctype opt_reader() {
    byte stamp, ra, rb, iter = 0;
    bool valid;
    do
    :: iter < OPT_ITER ->
        iter++;
        /* pa_rwlock_optimistic_read: one load */
#if OPT_BUGGY == 2
        stamp = wseq;
#else
        atomic { stamp = wseq; stamp = ((stamp & 1) -> 0 : stamp) }
#endif
        ra = da;
        rb = db;
        /* pa_rwlock_validate: one load */
#if OPT_BUGGY == 1
        valid = (stamp != 0);
#elif OPT_BUGGY == 2
        valid = (stamp != 0 && wseq == stamp);
#else
        valid = (stamp != 0 && (stamp & 1) == 0 && wseq == stamp);
#endif
        /* a True validation read the data of the section that ended at the stamp */
        assert(!valid || (ra == rb && ra == (stamp - 2) / 2));
        d_step { stamp = 0; ra = 0; rb = 0; valid = false }
    :: else -> break
    od
}
#endif
