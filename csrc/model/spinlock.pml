/*
 * spinlock.pml -- a Promela model of SpinLock (csrc/pa_spinlock.h/.c, state
 * table in pa_spinlock.h), checked exhaustively by spin.
 *
 *   spin -DNT=3 -a spinlock.pml && gcc -O2 -DSAFETY -o pan pan.c && ./pan
 *   (`bash scripts/sanitize.sh model` runs its configurations)
 *
 * The C code, statement for statement (every atomic operation one step):
 *
 *   try_acquire:   load == 0 && CAS(0 -> 1)              (two steps)
 *   acquire_slow:  try_acquire; deadline passed? -> TIMEDOUT;
 *                  while the word is not 2: spin and yield rounds of
 *                  try_acquire                           (one: see below)
 *                  loop: if XCHG(2) == 0: ACQUIRED
 *                        r = pa_wait_u32(&state, 2, deadline)
 *                        TIMEDOUT: CAS(0 -> 2) ? ACQUIRED : TIMEDOUT
 *                        INTERRUPTED: INTERRUPTED
 *   release:       old = XCHG(0); if old == 2: wake_one
 *
 * Abstractions: the spin and yield rounds are one try_acquire (a round only
 * reloads the word: N of them reach nothing the last one alone does not);
 * the value wake_one returns is never looked at, so the platforms that cannot
 * report it (Windows, macOS) are covered.  pa_wait_u32 as in rwlock.pml: a
 * deadline already passed returns TIMEDOUT at once without comparing the
 * word; else compare-and-enqueue is one step; SPURIOUS: one unwoken return
 * per thread; IN_TIME: each wait of a thread that may time out chooses
 * whether its deadline passes during it, and must be woken if not; TO_RACE: a
 * wait woken just as its deadline passes may still report TIMEDOUT (the wake
 * is swallowed: nothing in WaitOnAddress's or __ulock_wait's documentation
 * rules it out; Linux's futex reports the wake).  INTERRUPTED (a signal) is
 * the timeout path without the last look.
 *
 * What is checked: mutual exclusion (assertion); no lost wakeup and no
 * deadlock (invalid end state: a thread asleep forever); giving up is safe;
 * once every thread is done the word is 0.  LIVE 1 (pan -a -f): with the
 * threads looping forever, some thread always gets the lock again (no
 * livelock).  SpinLock barges, so starvation of one thread is allowed and
 * not checked.
 *
 * Configuration (-D): NT threads (2-3), ITER rounds each (LOOP 1: forever);
 * TIMEOUTS 1: thread 0 may time out (or be interrupted); MAIN 1: thread 0
 * is the main thread instead: the binding gives up its wait every 50 ms
 * (block_on) and calls acquire again, SLICES times, then waits untimed;
 * with MAIN, TIMEOUTS applies to thread 1.  Canaries: BUGGY 1: release loads
 * the word, then stores 0 (not one exchange); BUGGY 2: the last look after a
 * timeout takes the lock as 1 (what pa_spinlock.c's comment forbids);
 * BUGGY 3: try_acquire stores 1 after its load instead of a CAS; BUGGY 4: a
 * release that finds 2 leaves the word as it is (everybody stuck: the
 * liveness canary).
 */
#ifndef NT
#define NT 3
#endif
#ifndef ITER
#define ITER 1
#endif
#ifndef LOOP
#define LOOP 0
#endif
#ifndef TIMEOUTS
#define TIMEOUTS 0
#endif
#ifndef IN_TIME
#define IN_TIME 0
#endif
#ifndef SPURIOUS
#define SPURIOUS 0
#endif
#ifndef TO_RACE
#define TO_RACE 0
#endif
/* REMARK 1 (default): the timeout's last look marks a lock held as 1 with 2,
 * as pa_spinlock.c does since 2026-12-01; 0: the old last look (CAS 0 -> 2
 * only), which strands a sleeper when a timeout swallows a wake (a canary). */
#ifndef REMARK
#define REMARK 1
#endif
#if BUGGY == 2
#undef REMARK
#define REMARK 0
#endif
#ifndef MAIN
#define MAIN 0
#endif
#ifndef SLICES
#define SLICES 1
#endif
#ifndef LIVE
#define LIVE 0
#endif
#ifndef BUGGY
#define BUGGY 0
#endif

byte state = 0;
bool asleep[NT];       /* the futex queue of state */
byte holders = 0;      /* threads inside (checking only) */
byte finished = 0;
#if LIVE
byte entries = 0;      /* ghost: bumped at each acquisition, mod 2 */
#endif

inline wake_one() {
    atomic {
        if
        :: asleep[0] -> asleep[0] = false
        :: NT > 1 && asleep[1] -> asleep[1] = false
        :: NT > 2 && asleep[2] -> asleep[2] = false
        :: else -> skip
        fi
    }
}

/* pa_wait_u32(&state, 2, deadline): r = 0 woken, 1 timed out, 2 interrupted */
inline wait_on_2(r) {
    r = 0;
    this_to = may_time_out;
#if IN_TIME
    if :: this_to -> if :: this_to = false :: skip fi :: else -> skip fi;
#endif
    if
    :: this_to -> r = 1                       /* deadline already passed */
    :: true ->
        atomic {
            if
            :: state == 2 -> asleep[me] = true
            :: else -> skip                    /* EAGAIN */
            fi
        }
        atomic {
            if
            :: !asleep[me] -> skip             /* woken */
#if TO_RACE
            :: !asleep[me] && this_to -> r = 1 /* woken, but reported as a timeout */
#endif
            :: asleep[me] && this_to -> asleep[me] = false; r = 1
            :: asleep[me] && this_to -> asleep[me] = false; r = 2
#if SPURIOUS
            :: asleep[me] && spurious > 0 -> asleep[me] = false; spurious--
#endif
            fi
        }
    fi;
    this_to = false
}

inline try_acquire(ok) {
    ok = false;
    if
    :: state == 0 ->
#if BUGGY == 3
        state = 1; ok = true   /* canary: a store, not a CAS */
#else
        atomic { if :: state == 0 -> state = 1; ok = true :: else -> skip fi }
#endif
    :: else -> skip
    fi
}

/* result: 0 acquired, 1 timed out, 2 interrupted */
inline acquire(result) {
    try_acquire(ok);
    if
    :: ok -> result = 0
    :: else ->
        /* pa_spinlock_acquire_slow */
        try_acquire(ok);
        if
        :: ok -> result = 0
        :: !ok && may_time_out -> result = 1          /* deadline passed */
        :: !ok ->
            if                                       /* the spin and yield rounds, */
            :: state != 2 -> try_acquire(ok)         /* none while a thread may sleep */
            :: else -> ok = false
            fi;
            if
            :: ok -> result = 0
            :: else ->
                do
                :: atomic { old = state; state = 2 };
                   if
                   :: old == 0 -> result = 0; break
                   :: else -> skip
                   fi;
                   wait_on_2(r);
                   if
                   :: r == 1 ->
#if REMARK
                       /* pa_spinlock.c: s = load; loop { 2: timed out;
                        * CAS(s -> 2): acquired if s was 0, else timed out } */
                       old = state;
                       do
                       :: old == 2 -> result = 1; break
                       :: else ->
                           atomic {
                               if
                               :: state == old -> state = 2;
                                  if :: old == 0 -> result = 0 :: else -> result = 1 fi
                               :: else -> old = state; result = 3   /* CAS failed */
                               fi
                           };
                           if :: result != 3 -> break :: else -> skip fi
                       od;
#else
                       atomic {
                           if
#if BUGGY == 2
                           :: state == 0 -> state = 1; result = 0
#else
                           :: state == 0 -> state = 2; result = 0
#endif
                           :: else -> result = 1
                           fi
                       }
#endif
                       break
                   :: r == 2 -> result = 2; break
                   :: else -> skip
                   fi
                od
            fi
        fi
    fi;
    ok = false; old = 0; r = 0
}

inline release() {
#if BUGGY == 1
    old = state;
    state = 0;
#elif BUGGY == 4
    /* canary (liveness): a release that finds 2 leaves the word locked */
    atomic { old = state; if :: old != 2 -> state = 0 :: else -> skip fi };
#else
    atomic { old = state; state = 0 };
#endif
    assert(old != 0);
    if :: old == 2 -> wake_one() :: else -> skip fi;
    old = 0
}

proctype thread(byte me) {
    byte old, r, result, iter = 0;
    bool ok, this_to;
    bool may_time_out = (TIMEOUTS && me == (MAIN -> 1 : 0)) || (MAIN && me == 0);
    byte slices = (MAIN && me == 0 -> SLICES : 0);
    byte spurious = SPURIOUS;
    do
    :: LOOP || iter < ITER ->
        if :: !LOOP -> iter++ :: else -> skip fi;
again:
        acquire(result);
        if
        :: result != 0 && slices > 0 ->
            /* the main thread's slice ended: signal handlers, then again */
            slices--;
            if :: slices == 0 -> may_time_out = false :: else -> skip fi;
            goto again
        :: else -> skip
        fi;
        assert(result == 0 || may_time_out);
        if
        :: result == 0 ->
            atomic {
                holders++; assert(holders == 1);
#if LIVE
                entries = 1 - entries
#endif
            }
            atomic { holders-- }
            release()
        :: else -> skip
        fi;
        result = 0
    :: else -> break
    od;
    atomic { finished++ }
}

init {
    atomic {
        byte i = 0;
        do
        :: i < NT -> run thread(i); i++
        :: else -> break
        od
    }
#if !LIVE
    (finished == NT);
    assert(state == 0)
#endif
}

#if LIVE == 1
/* No livelock: the lock is taken again and again (entries keeps flipping). */
ltl progress { [] <> (entries == 1) && [] <> (entries == 0) }
#endif
