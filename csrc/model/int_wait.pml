/*
 * int_wait.pml -- a Promela model of AtomicInt's wait and of the wake that
 * every change of the value performs (csrc/pa_int_wait.c, csrc/pa_atomic_int.h).
 *
 *   spin -DNW=2 -a int_wait.pml && gcc -O2 -DSAFETY -o pan pan.c && ./pan
 *   (`bash scripts/sanitize.sh model` runs its configurations)
 *
 * The C code, statement for statement (every atomic operation one step):
 *
 *   waiter  (pa_int_wait):  if value != expected: done
 *                           waiters++
 *                           loop: seq = notify_seq
 *                                 if value != expected: leave
 *                                 futex_wait(&notify_seq, seq)   (may time out)
 *                           leave: waiters--
 *   changer (pa_aint_*):    value = new                          (seq_cst RMW/store)
 *                           if waiters != 0: notify_seq++; futex_wake_all
 *   notifier (notify_*):    notify_seq++; if waiters != 0: futex_wake
 *
 * The futex is modelled as the kernel provides it: the compare and the
 * enqueue are one step; the sleeper returns when a wake removes it (or, when
 * TIMEOUTS is set, at any moment).  No spurious wakeups: they would hide a
 * lost one.
 *
 * What is checked: no lost wakeup -- spin reports an invalid end state if a
 * waiter can be left asleep after every changer and notifier has finished
 * although the value it waits on has changed; every waiter that returned
 * "changed" saw a value different from the one it waited on (assertion).
 *
 * Configurations (-D): NW waiters (1-3); NOTIFIERS 1: a thread that calls
 * notify without changing the value runs too; SAME 1: the changer first
 * performs an operation that leaves the value as it was (it must not make a
 * waiter return); TIMEOUTS 1: waiter 0 may leave any sleep early and
 * re-check; BUGGY 1: the changer reads the waiter count *before* changing the
 * value -- the model must find the lost wakeup (the job checks that it does,
 * so the model is known to have teeth).
 */
#ifndef NW
#define NW 2
#endif
#ifndef NOTIFIERS
#define NOTIFIERS 0
#endif
#ifndef SAME
#define SAME 0
#endif
#ifndef TIMEOUTS
#define TIMEOUTS 0
#endif
#ifndef BUGGY
#define BUGGY 0
#endif
#ifndef IN_TIME
#define IN_TIME 0
#endif
#ifndef SPURIOUS
#define SPURIOUS 0
#endif

byte value = 0;      /* every waiter waits while value == 0 */
byte notify_seq = 0; /* wraps at 256 in the model; the C counter at 2^32 */
byte waiters = 0;
bool asleep[NW];     /* the futex queue of notify_seq */

inline futex_wake_all() {
    atomic {
        byte i = 0;
        do
        :: i < NW -> asleep[i] = false; i++
        :: else -> break
        od
    }
}

/* pa_wait_u32(&notify_seq, seen, deadline), as in rwlock.pml: a thread
 * with a deadline (TIMEOUTS: waiter 0) returns "timed out" at once if it has
 * passed, without comparing; otherwise compare-and-enqueue is one step and
 * the sleeper returns when woken or when its deadline passes.  IN_TIME: each
 * such wait first chooses whether its deadline passes during it, and must be
 * woken if not (a wakeup lost on a thread that can time out is then an
 * invalid end state too).  SPURIOUS: one unwoken return per waiter. */
inline futex_wait(me, seen, timed_out) {
    timed_out = false;
    this_to = (TIMEOUTS && me == 0);
#if IN_TIME
    if :: this_to -> if :: this_to = false :: skip fi :: else -> skip fi;
#endif
    if
    :: this_to -> timed_out = true /* deadline already passed */
    :: true ->
        atomic {
            if
            :: notify_seq == seen -> asleep[me] = true
            :: else -> skip /* EAGAIN: the word changed */
            fi
        }
        atomic {
            if
            :: !asleep[me]
            :: this_to && asleep[me] -> asleep[me] = false; timed_out = true
#if SPURIOUS
            :: spurious > 0 && asleep[me] -> asleep[me] = false; spurious--
#endif
            fi
        }
    fi;
    this_to = false
}

proctype Waiter(byte me) {
    byte seq;
    bool timed_out, this_to;
    byte spurious = SPURIOUS;
    if
    :: value != 0 -> goto returned
    :: else -> skip
    fi;
    waiters++;
loop:
    seq = notify_seq;
    if
    :: value != 0 -> goto leave
    :: else -> skip
    fi;
    futex_wait(me, seq, timed_out);
    if
    :: timed_out ->
        /* pa_int_wait: a last look, then TIMEDOUT (or "changed") */
        waiters--;
        goto finish
    :: else -> goto loop
    fi;
leave:
    waiters--;
returned:
    assert(value != 0);
finish:
    skip
}

inline changed() {
    if
    :: waiters != 0 -> notify_seq++; futex_wake_all()
    :: else -> skip
    fi
}

proctype Changer() {
#if SAME
    value = value; /* e.g. fetch_and(-1), store(0): wakes, must not release */
    changed();
#endif
#if BUGGY
    bool saw_waiters = waiters != 0;
    value = 1;
    if
    :: saw_waiters -> notify_seq++; futex_wake_all()
    :: else -> skip
    fi
#else
    value = 1;
    changed()
#endif
}

proctype Notifier() {
    notify_seq++;
    if
    :: waiters != 0 -> futex_wake_all()
    :: else -> skip
    fi
}

init {
    atomic {
        byte i = 0;
        do
        :: i < NW -> run Waiter(i); i++
        :: else -> break
        od;
        run Changer();
#if NOTIFIERS
        run Notifier();
#endif
    }
}
