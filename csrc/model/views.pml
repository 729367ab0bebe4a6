/*
 * views.pml -- a Promela model of an RWLock's per-thread view table on
 * free-threaded CPython (pyatomics/_capi_binding.c: own_thread_view, the
 * lookup behind rw.reader / rw.writer in a thread other than the lock's
 * creator).  Not a lock protocol, but a lock-free one: slots that threads
 * fill with a compare-exchange and nobody empties while the lock lives.
 *
 *   spin -DNT=3 -DNS=2 -a views.pml && gcc -O2 -DSAFETY -o pan pan.c && ./pan
 *   (`bash scripts/sanitize.sh model` runs its configurations)
 *
 * The C code, statement for statement (every atomic operation one step):
 *
 *   for i in 0 .. NS-1, from start (the thread's hash):
 *       e = load_acquire(slot[i])
 *       if e == NULL:
 *           if mine == NULL: mine = a new entry for this thread's id   (private)
 *           if CAS(slot[i], NULL -> mine): return mine                  (acq_rel)
 *           e = what the CAS found
 *       if e->tid == my id: free mine if any; return e
 *   free mine if any; return NULL          (every slot taken: the creator's views)
 *
 * The hash is chosen nondeterministically per thread (every start slot), so
 * every collision pattern is covered; NT threads over NS slots with NT > NS
 * covers the full table.  Spin's interleavings are sequentially consistent;
 * the C code's release (the CAS) / acquire (the load) pairing is what makes
 * an entry's fields visible with its pointer, taken for granted here by
 * writing them before the CAS.
 *
 * What is checked (assertions, at each lookup and once all threads are done):
 *   - a lookup returns an entry made for the caller's own id, or none (the
 *     creator's views), never another thread's;
 *   - every lookup of a thread returns what its first one returned (a thread
 *     keeps its views; once the table was full for it, it stays full);
 *   - a thread that finds its own entry holds no unpublished one (`mine` is
 *     NULL there: its own entry lies before any empty slot on its path);
 *   - at most one entry is published per id, and every entry made is either
 *     published or freed (nothing leaks).
 *
 * Canaries (BUGGY): 1, the id is not compared (any entry found is taken);
 * 2, the CAS is a load then a store (two threads can fill one slot, the
 * first entry is overwritten); 3, the path that lost a CAS and then hits
 * the table's end forgets to free its entry.
 */

#ifndef NT
#define NT 3
#endif
#ifndef NS
#define NS 2
#endif
#ifndef LOOKUPS
#define LOOKUPS 2
#endif
#ifndef BUGGY
#define BUGGY 0
#endif

#define NONE 255

byte slot[NS];            /* 0: empty; else an entry number (1..) */
byte etid[NT * LOOKUPS + 1]; /* entry number -> the id it was made for (thread number + 1) */
byte made;                /* entries made so far (their numbers are 1..made) */
byte freed;
byte published[NT];       /* entries published per thread */
byte done;

proctype thread(byte me) {
    byte start, i, k, e, mine, got, first = NONE, s;
    if                    /* the thread's hash: any start slot */
    :: start = 0
    :: NS > 1 -> start = 1
    :: NS > 2 -> start = 2
    fi;
    k = 0;
    do
    :: k < LOOKUPS ->
        mine = 0; got = 0; i = 0;
        do
        :: i < NS ->
            s = (start + i) % NS;
            e = slot[s];                                        /* load_acquire */
            if
            :: e == 0 ->
                if
                :: mine == 0 -> atomic { made++; mine = made; etid[mine] = me + 1 }
                :: else -> skip
                fi;
#if BUGGY == 2
                if                                              /* canary: load, then store */
                :: slot[s] == 0 -> slot[s] = mine; published[me]++; got = mine
                :: else -> e = slot[s]
                fi;
#else
                atomic {                                        /* CAS(NULL -> mine) */
                    if
                    :: slot[s] == 0 -> slot[s] = mine; published[me]++; got = mine
                    :: else -> e = slot[s]
                    fi
                };
#endif
                if
                :: got != 0 -> break
                :: else -> skip
                fi
            :: else -> skip
            fi;
#if BUGGY == 1
            if
            :: true ->                                          /* canary: no id check */
#else
            if
            :: etid[e] == me + 1 ->
#endif
                assert(mine == 0);
                got = e; break
            :: else -> i++
            fi
        :: else -> break
        od;
#if BUGGY == 3
        if
        :: mine != 0 && got != mine && got != 0 -> freed++
        :: else -> skip
        fi;
#else
        if
        :: mine != 0 && got != mine -> freed++                  /* free mine if any */
        :: else -> skip
        fi;
#endif
        assert(got == 0 || etid[got] == me + 1);
        if
        :: first == NONE -> first = got
        :: else -> assert(got == first)
        fi;
        k++
    :: else -> break
    od;
    done++
}

init {
    byte t, filled = 0;
    atomic {
        t = 0;
        do
        :: t < NT -> run thread(t); t++
        :: else -> break
        od
    };
    done == NT;
    t = 0;
    do
    :: t < NT -> assert(published[t] <= 1); t++
    :: else -> break
    od;
    /* every entry published or freed: the published ones are the filled slots */
    t = 0;
    do
    :: t < NS -> if :: slot[t] != 0 -> filled++ :: else -> skip fi; t++
    :: else -> break
    od;
    assert(made == filled + freed)
}
