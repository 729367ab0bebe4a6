/*
 * bravo.pml -- a Promela model of the RWLock's biased reads (csrc/pa_rwlock.c,
 * "Biased reads"; the protocol in csrc/pa_rwlock.h), checked exhaustively by spin.
 *
 *   spin -DNR=2 -DNW=1 -a bravo.pml && gcc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m1000000
 *   (`bash scripts/sanitize.sh model` runs every configuration it knows)
 *
 * Matches pa_rwlock.c as of 2026-12-01: biased_read, unpublish,
 * maybe_enable_bias, wait_slot_clear, revoke_bias, the undo of a write
 * acquisition (or of an upgrade's 1 -> W) whose drain gave up.  Each has an
 * inline of the same name below, one Promela step per atomic operation of
 * the C code; what is thread-local is a local variable.
 *
 * What is modelled: bias (OFF / ON / UNDRAINED), revoking, drain_notify, the
 * visible[] slots of the readers, and the futex wait on drain_notify as
 * pa_wait_u32 provides it (compare-and-enqueue in one step; a passed deadline
 * returns at once; a thread allowed to time out may leave any wait; with
 * IN_TIME it must also be woken in the runs where its deadline does not
 * pass, so a wakeup lost on it is still an invalid end state).
 *
 * Abstractions (and why they lose nothing here):
 *   - the state word is its count only, and the counted paths are single
 *     blocking steps (a counted read waits for "not write-locked", a write
 *     acquisition for 0, an upgrade for 1): the word's own protocol (bits,
 *     phases, its futexes) is rwlock.pml's, which checks that it provides
 *     exactly this exclusion; the bias touches the word only through these
 *     transitions (and their undo);
 *   - the fast path's WRITERS_WAITING test is left out: it only sends a
 *     reader to the counted path, which is a behaviour the model already
 *     has (a reader that finds the bias off), so leaving it out only adds
 *     interleavings;
 *   - the inhibition clock is a nondeterministic choice at each counted
 *     read (bias turned on or not);
 *   - the spin's polls of a slot (pa_spinwait) are one poll (a poll only reloads);
 *   - a recursive read of a biased hold touches nothing shared (the depth is
 *     thread-local; the slot stays published): a longer hold, which every
 *     interleaving of the release already covers.  So "a recursive read
 *     while a writer drains cannot deadlock" holds by construction: there is
 *     no step at which it could wait;
 *   - one lock; COLLIDE=1 puts both readers on one slot (the second's CAS
 *     fails: the counted path);
 *   - drain_notify wraps at 256 (far beyond ITER).
 *
 * What is checked:
 *   - mutual exclusion: no reader, biased or counted, is inside while a
 *     writer is (assertions in both critical sections);
 *   - no lost wakeup or deadlock: any reachable state with a thread blocked
 *     for ever (a drain sleeping on a slot that was cleared) is an invalid
 *     end state;
 *   - a drain that gives up (TIMEOUTS: a writer or the upgrader may time
 *     out in its drain) undoes the acquisition, and every later writer is
 *     still exclusive: the bias stays UNDRAINED, so the next one scans.
 *
 * Canaries (each must be caught; scripts/sanitize.sh lists them):
 *   BUGGY 1  the reader does not re-check bias after publishing its slot
 *   BUGGY 2  a biased release does not bump drain_notify nor wake
 *   BUGGY 3  a drain that gave up stores OFF (forgets the readers inside)
 *   BUGGY 4  the drain loads drain_notify after its look at the slot
 *   BUGGY 5  a biased release loads revoking before clearing its slot
 *
 * LIVE 1 (pan -a -f, weak fairness; readers loop for ever): the property
 * drain_ends, a writer that owns the word leaves the drain.  No liveness
 * canary: the protocol variants that starve a drainer (a reader that could
 * publish-and-keep a slot after UNDRAINED) break exclusion first, and the
 * safety canaries catch them.
 */

#ifndef NR
#define NR 2
#endif
#ifndef NW
#define NW 1
#endif
#ifndef UPG
#define UPG 0 /* 1: one more process, an upgrader (counted read, upgrade, drain) */
#endif
#ifndef ITER
#define ITER 1
#endif
#ifndef TIMEOUTS
#define TIMEOUTS 0
#endif
#ifndef IN_TIME
#define IN_TIME 0
#endif
#ifndef COLLIDE
#define COLLIDE 0
#endif
#ifndef BUGGY
#define BUGGY 0
#endif
#ifndef LIVE
#define LIVE 0 /* 1: the readers loop for ever; a writer that owns the word gets in */
#endif

#define W 7           /* the count's write-locked value (abstract) */
#define OFF 0
#define ON 1
#define UNDRAINED 2
#define NSLOTS NR
#define NPROC (NR + NW + UPG)
#define REVOKING_WRITE 1
#define REVOKING_UPGRADE 2

byte state = 0;          /* count: 0 free, n readers, W write-locked */
byte bias = OFF;
byte revoking = 0;
byte drain = 0;          /* drain_notify */
bool slot[NSLOTS];       /* visible[i] == this lock */
bool sleeping[NPROC + 1]; /* by _pid (init is 0): asleep in a futex wait on drain_notify */
byte readers_in = 0;     /* ghosts: inside a read / write section */
byte writers_in = 0;
bool w_owns = false;     /* ghost (LIVE): writer 0 owns the word, not in yet */

#if LIVE
/* A writer that owns the word (and so drains) gets in, however the readers
 * keep coming back: no starvation by biased readers.  (Getting the word is
 * the state word's business: rwlock.pml's LIVE=1, writer preference.) */
ltl drain_ends { [] (w_owns -> <> !w_owns) }
#endif

/* pa_wake_all(&drain_notify) */
inline wake_all_drain() {
    atomic {
        k = 0;
        do
        :: k <= NPROC -> sleeping[k] = false; k++
        :: else -> k = 0; break
        od
    }
}

/* pa_wait_u32(&drain_notify, expected, deadline) */
inline futex_wait_drain(expected, may_time_out, timed_out) {
    atomic {
        timed_out = false;
        this_to = may_time_out;
#if IN_TIME
        if :: this_to -> if :: this_to = false :: skip fi :: else -> skip fi;
#endif
        if
        :: this_to -> timed_out = true          /* deadline already passed */
        :: drain == expected -> sleeping[_pid] = true
        :: drain != expected -> skip            /* EAGAIN */
        fi
    }
    atomic {
        if
        :: timed_out -> skip
        :: !timed_out && !sleeping[_pid] -> skip                       /* woken */
        :: this_to && sleeping[_pid] -> sleeping[_pid] = false; timed_out = true
        fi;
        this_to = false
    }
}

/* unpublish(rw, i): exchange the slot to 0, then a drainer's wake */
inline unpublish(i) {
#if BUGGY == 5
    seen = revoking;
    slot[i] = false;
#else
    slot[i] = false;        /* PA_EXCHANGE, seq_cst */
    seen = revoking;        /* seq_cst load */
#endif
#if BUGGY != 2
    if
    :: seen != 0 ->
        drain = (drain + 1) % 256;
        wake_all_drain()
    :: else -> skip
    fi
#endif
}

/* biased_read(rw, &slot): biased = true if held through slot i */
inline biased_read(i) {
    biased = false;
    if
    :: bias == ON ->
        atomic {
            if
            :: !slot[i] -> slot[i] = true; published = true   /* CAS 0 -> rw */
            :: slot[i] -> published = false                   /* taken: counted path */
            fi
        }
        if
        :: published ->
#if BUGGY == 1
            biased = true
#else
            if
            :: bias == ON -> biased = true       /* the seq_cst re-load */
            :: else -> unpublish(i)
            fi
#endif
        :: else -> skip
        fi
    :: else -> skip
    fi
}

/* maybe_enable_bias(rw), run holding a counted read; the clock (inhibition
 * over or not) is a nondeterministic choice */
inline maybe_enable_bias() {
    if
    :: bias != ON -> if :: bias = ON :: skip fi
    :: else -> skip
    fi
}

/* wait_slot_clear(rw, i, deadline): gave_up = true if it timed out */
inline wait_slot_clear(i, may_time_out) {
    do
    :: !slot[i] -> break                       /* the spin's poll */
    :: else ->
#if BUGGY == 4
        if :: !slot[i] -> break :: else -> skip fi;
        seq = drain;
#else
        seq = drain;
        if :: !slot[i] -> break :: else -> skip fi;
#endif
        futex_wait_drain(seq, may_time_out, timed_out);
        if
        :: timed_out ->
            if :: !slot[i] -> skip :: else -> gave_up = true fi;   /* one last look */
            break
        :: else -> skip
        fi
    od
}

/* revoke_bias(rw, deadline, who), by the word's owner */
inline revoke_bias(who, may_time_out) {
    gave_up = false;
    if
    :: bias == OFF -> skip
    :: else ->
        bias = UNDRAINED;
        revoking = who;
        j = 0;
        do
        :: j < NSLOTS && !gave_up ->
            if :: slot[j] -> wait_slot_clear(j, may_time_out) :: else -> skip fi;
            j++
        :: else -> break
        od;
        revoking = 0;
#if BUGGY == 3
        bias = OFF
#else
        if :: !gave_up -> bias = OFF :: else -> skip fi
#endif
    fi
}

proctype reader(byte id) {
    byte it = 0, k = 0, seen = 0;
#if LIVE
    it = 0;
#endif
    bool biased = false, published = false;
#if COLLIDE
    byte i = 0;
#else
    byte i = id;
#endif
    do
    :: it < ITER ->
        biased_read(i);
        if
        :: !biased ->
            atomic { state != W -> state++ };   /* counted read (lock_read) */
            maybe_enable_bias()
        :: else -> skip
        fi;
        readers_in++;
        assert(writers_in == 0);
        readers_in--;
        if
        :: biased -> unpublish(i)
        :: else -> state--                       /* read_release_count */
        fi;
#if !LIVE
        it++
#else
        skip                                     /* LIVE: for ever */
#endif
    :: else -> break
    od
}

proctype writer(byte id) {
    byte it = 0, j = 0, k = 0, seq = 0;
    bool gave_up = false, timed_out = false, this_to = false;
    do
    :: it < ITER ->
        atomic { state == 0 -> state = W; w_owns = (id == 0) };   /* lock_write got the word */
        revoke_bias(REVOKING_WRITE, TIMEOUTS != 0);
        w_owns = false;
        if
        :: gave_up -> state = 0                  /* release_write_state: undo */
        :: else ->
            writers_in++;
            assert(readers_in == 0 && writers_in == 1);
            writers_in--;
            state = 0                             /* release_write */
        fi;
        it++
    :: else -> break
    od
}

/* The upgradable holder: a counted read, then 1 -> W, the drain; a drain
 * that gives up goes back W -> 1 (still the upgradable holder). */
proctype upgrader() {
    byte j = 0, k = 0, seq = 0;
    bool gave_up = false, timed_out = false, this_to = false;
    atomic { state != W -> state++ };            /* acquire_upgradable's read */
    atomic { state == 1 -> state = W };          /* lock_upgrade */
    revoke_bias(REVOKING_UPGRADE, TIMEOUTS != 0);
    if
    :: gave_up ->
        state = 1;                                /* W -> 1 */
        assert(writers_in == 0);
        state--                                   /* release_upgradable */
    :: else ->
        writers_in++;
        assert(readers_in == 0 && writers_in == 1);
        writers_in--;
        state = 0                                 /* release_write */
    fi
}

init {
    byte n = 0;
    /* Start with the bias on, as after a counted read: the interesting
     * case (an OFF start is reached anyway through a writer's drain). */
    bias = ON;
    atomic {
        do
        :: n < NR -> run reader(n); n++
        :: else -> break
        od;
        n = 0;
        do
        :: n < NW -> run writer(n); n++
        :: else -> break
        od;
#if UPG
        run upgrader();
#endif
    }
}
