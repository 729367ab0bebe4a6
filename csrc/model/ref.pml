/*
 * ref.pml -- a Promela model of AtomicRef's load/store protocol (csrc/pa_ref.h):
 * a load's incref must never reach an object a store has already freed.
 *
 *   spin -DNL=2 -a ref.pml && gcc -O2 -DSAFETY -o pan pan.c && ./pan
 *   (configurations: see the list at the end of this comment)
 *
 * The C code, statement for statement (every atomic operation one step):
 *
 *   loader  (ref_load):  loaders++                       A  fetch_add, seq_cst
 *                        p = ptr                         B  seq_cst load
 *                        incref(p)                       C  the binding's Py_INCREF
 *                        loaders--                       D  fetch_sub, release
 *                        ... uses p, then decref(p)         (may free p)
 *   storer  (exchange):  incref(new)                        the slot's reference
 *                        old = exchange(ptr, new)        X  seq_cst
 *                        await loaders == 0              Y  pa_ref_drain (seq_cst loads)
 *                        decref(old)                     Z  may free old
 *   storer  (update, CAS=1): the binding's update(): seen = a load as above,
 *                        incref(new), CAS(ptr, seen, new) by identity, then
 *                        on success Y and decref(seen) (the slot's) -- on
 *                        failure decref(new) -- and decref(seen) (its own).
 *
 * Spin's interleavings are sequentially consistent executions, which is what
 * the seq_cst steps A, B, X, Y give the C code (pa_ref.h, argument 1-2); the
 * release D / acquire Y pairing that orders C before Z (argument 3) is a
 * happens-before edge the model takes for granted by running C before D.
 *
 * Objects are numbered 0..NOBJ-1, refs[] their counts and freed[] set by
 * the decref that takes a count to 0.  What is checked:
 *   - an incref (C) never finds its object freed or at count 0 (assertion);
 *   - no decref takes a count below 0 or frees twice (assertion);
 *   - at the end, every object replaced is freed, the one held has exactly the
 *     slot's reference and no load is in flight (assertions in the final check).
 *
 * Configurations (-D): NL loaders (1-3), LOADS loads each, NS storers (1-2),
 * STORES stores each; CAS 1: the last storer replaces by update()'s CAS loop.
 * Canaries (must fail):
 *   DRAIN 0: the storer drops the old object without waiting for the loads in
 *            flight (no Y): the use-after-free the protocol exists to prevent;
 *   BUGGY 1: a loader ends its read (D) before its incref (C).
 *
 * For scripts/sanitize.sh's job_model, in its table format (name|defines[|the
 * error a canary must be caught with]); run by `scripts/sanitize.sh model` (REF_CONFIGS, REF_CANARIES; safety mode:
 * gcc -O0 -DSAFETY -DCOLLAPSE, ./pan -m2000000), all complete:
 *
 *   REF_CONFIGS=(
 *     "2 loaders, 1 storer, 2 stores|-DNL=2"                         11704 states, 0 errors
 *     "3 loaders (1 load each), 1 storer|-DNL=3 -DLOADS=1"             39046 states, 0 errors
 *     "2 loaders, 2 storers|-DNL=2 -DNS=2 -DSTORES=1"                 126405 states, 0 errors
 *     "2 loaders, 2 storers, one by update()'s CAS|-DNL=2 -DNS=2 -DSTORES=1 -DCAS=1"
 *                                                                    263442 states, 0 errors
 *   )
 *   REF_CANARIES=(
 *     "canary: the store drops the old object without the drain|-DNL=2 -DDRAIN=0|assertion violated"
 *     "canary: the CAS drops the old object without the drain|-DNL=2 -DNS=2 -DSTORES=1 -DCAS=1 -DDRAIN=0|assertion violated"
 *     "canary: a load leaves the window before its incref|-DNL=2 -DBUGGY=1|assertion violated"
 *   )
 *   (the larger -DNL=2 -DNS=2 -DCAS=1, 2 stores each: 5208397 states, 11 s, 0 errors)
 */
#ifndef NL
#define NL 2
#endif
#ifndef LOADS
#define LOADS 2
#endif
#ifndef NS
#define NS 1
#endif
#ifndef STORES
#define STORES 2
#endif
#ifndef CAS
#define CAS 0
#endif
#ifndef DRAIN
#define DRAIN 1
#endif
#ifndef BUGGY
#define BUGGY 0
#endif

#define NOBJ (1 + NS * STORES)

byte ptr = 0;        /* object 0 is there first, with the slot's reference */
byte loaders = 0;
byte refs[NOBJ];
bool freed[NOBJ];
byte next_obj = 1;   /* the next fresh object a store makes */

inline incref(o) {
    d_step { assert(!freed[o] && refs[o] > 0); refs[o]++ }
}

inline decref(o) {
    d_step {
        assert(refs[o] > 0 && !freed[o]);
        refs[o]--;
        if
        :: refs[o] == 0 -> freed[o] = true
        :: else -> skip
        fi
    }
}

/* ref_load: leaves a new reference to the object read in `got`. */
inline ref_load(got) {
    loaders++;                 /* A */
    got = ptr;                 /* B */
#if BUGGY == 1
    loaders--;                 /* D too early */
    incref(got);               /* C */
#else
    incref(got);               /* C */
    loaders--;                 /* D */
#endif
}

inline drain() {
#if DRAIN
    (loaders == 0)             /* Y: blocks (the C code spins, then yields) */
#else
    skip
#endif
}

/* A fresh object with the slot's reference (the binding's incref of `new`). */
inline fresh(o) {
    d_step { o = next_obj; next_obj++; refs[o] = 1 }
}

proctype loader() {
    byte i = 0, got;
    do
    :: i < LOADS ->
        ref_load(got);
        /* the caller uses the object, then drops it */
        assert(!freed[got]);
        decref(got);
        i++
    :: else -> break
    od
}

proctype storer(bool by_cas) {
    byte i = 0, nw, old, seen;
    bool stored;
    do
    :: i < STORES ->
        fresh(nw);
        if
        :: !by_cas ->
            d_step { old = ptr; ptr = nw };   /* X */
            drain();
            decref(old)                       /* Z */
        :: by_cas ->
            stored = false;
            do
            :: !stored ->
                ref_load(seen);
                incref(nw);                   /* the slot's, should the CAS succeed */
                d_step {                      /* X: CAS by identity */
                    if
                    :: ptr == seen -> ptr = nw; stored = true
                    :: else -> stored = false
                    fi
                };
                if
                :: stored -> drain(); decref(seen)   /* Y, Z: the slot's old reference */
                :: else -> decref(nw)                /* the slot did not take it */
                fi;
                decref(seen)                         /* the load's */
            :: else -> break
            od;
            decref(nw)                        /* fresh()'s count: the CAS path took its own */
        fi;
        i++
    :: else -> break
    od
}

init {
    byte k;
    refs[0] = 1;
    atomic {
        k = 0;
        do
        :: k < NL -> run loader(); k++
        :: else -> break
        od;
        k = 0;
        do
        :: k < NS -> run storer(CAS && k == NS - 1); k++
        :: else -> break
        od
    }
    (_nr_pr == 1);   /* every loader and storer has finished */
    assert(loaders == 0);
    k = 0;
    do
    :: k < NOBJ ->
        assert(k == ptr && refs[k] == 1 && !freed[k] || k != ptr && refs[k] == 0 && freed[k]);
        k++
    :: else -> break
    od
}
