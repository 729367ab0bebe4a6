/*
 * pa_ref.h -- an atomic object reference (pyatomics.AtomicRef): one pointer
 * slot whose readers take their own reference to what they read while a
 * writer may drop the slot's reference to it at the same moment.
 *
 * The core knows nothing of Python: a pointer is opaque and "take a
 * reference" / "drop a reference" are the binding's (the C-API binding's incref and decref).
 * What the core owns is the protocol that makes a reader's take safe against
 * a writer's drop on a free-threaded interpreter, where nothing else stops
 * the two from running at once:
 *
 *   the problem   reader: p = slot; incref(p)        writer: old = slot = new; decref(old)
 *                 if the writer's decref frees old between the reader's load
 *                 and its incref, the incref writes freed memory.
 *
 * State: the slot `ptr` and `loaders`, the number of reads in flight.
 *
 *   load        A: fetch_add(loaders, 1)  seq_cst
 *               B: p = load(ptr)          seq_cst
 *                  (binding) incref(p)                       -- call it C
 *               D: fetch_sub(loaders, 1)  release
 *   exchange    X: old = exchange(ptr, new)  seq_cst   (the binding increfed new first:
 *                                                      the slot's reference)
 *               Y: wait until load(loaders) == 0  (seq_cst loads; spin, then yield)
 *                  (binding) decref(old)                     -- call it Z
 *   compare-exchange: X is a strong CAS (seq_cst) of ptr by identity; on success
 *               Y as above before the old is dropped; on failure nothing left the slot.
 *
 * Why a reader never increfs a freed object.  Take a reader that read old at B
 * and the writer that replaced old at X (the only one that drops the slot's
 * reference to old: it is the one whose X read old).
 *  1. B read old, a value X overwrote, so B precedes X in the single total
 *     order S of seq_cst operations (had X come first in S, B would read X's
 *     value or a later one).  A is sequenced before B, so A < B < X in S.
 *  2. X is sequenced before every load of Y, so A < X < Y's loads in S.  A
 *     seq_cst load of `loaders` reads the last seq_cst modification before it
 *     in S or a later one in loaders' modification order; all modifications
 *     are read-modify-writes, so every value from A's on in that order counts
 *     this reader's +1 until its D.  So Y cannot see 0 before it reads D's
 *     value or a later one.
 *  3. The value Y finally reads (0) is written by D or by a read-modify-write
 *     after D, which continues D's release sequence: D (release) synchronizes
 *     with that acquire load, and C (sequenced before D) happens before Z.
 *     The reader's incref is ordered before the writer's decref, so the object
 *     still had the slot's reference when the reader took its own.
 * A reader whose B read `new` (or anything later) is covered the same way by
 * whichever writer replaces that value later.  A reader whose A comes after X
 * in S reads X's value or a later one, never old.  Nothing is lost: X and the
 * CAS are single read-modify-writes of ptr, so every value stored is returned
 * exactly once, as `old`, to the one writer that replaced it (or stays in the
 * slot), and that writer drops exactly the one reference the slot held.
 *
 * Cost.  A load is two read-modify-writes of `loaders` (lock xadd on x86,
 * LDADDAL/LDXR-STXR on arm64) around a plain load; a writer adds one load of
 * `loaders` when no read is in flight.  On a GIL build the binding holds the
 * GIL from A to D, so a writer (which also needs the GIL) always sees 0: the
 * wait never spins there.  On a free-threaded build the wait lasts as long as
 * the reads in flight at X, which run no code of their own (an incref); a
 * reader preempted between A and D makes the writer yield until it runs again.
 * What the simple counter does not give is writer progress under reads that
 * overlap for ever (the count may never touch 0 while many threads load in a
 * tight loop): each read is a few nanoseconds, so the count is 0 often enough
 * in practice, but the guarantee is only that a writer waits for reads, never
 * that it is bounded.  (The core's C test saw it: six loaders in tight loops
 * on two cores kept two writers waiting for most of a 30 s TSan run.)
 * Measured (x86_64, timeit, best of 25 rounds, the bound method's loop
 * included): load() 17.5 ns on 3.11 and 20.2 ns on 3.13t, against 17.1-18.5
 * and 19.4-19.6 ns for the same binding built without the two
 * read-modify-writes; a plain slot read (o.x) was 7.2 ns on 3.11 and 29 ns on
 * 3.13t.  The model csrc/model/ref.pml checks the protocol
 * (REF_DRAIN=0 is the canary without Y, which must fail).
 */
#ifndef PA_REF_H
#define PA_REF_H

#include <stdbool.h>
#include <stddef.h>

#include "pa_atomic.h"

typedef struct {
    _Atomic(void *) ptr;
    _Atomic(size_t) loaders; /* reads between A and D */
} pa_ref;

/* Before any other thread can see r: no ordering needed. */
PA_INLINE void pa_ref_init(pa_ref *r, void *p) {
    atomic_init(&r->ptr, p);
    atomic_init(&r->loaders, 0);
}

/* A and B: the pointer, still protected from being dropped until
 * pa_ref_load_end; the caller takes its reference in between. */
PA_INLINE void *pa_ref_load_begin(pa_ref *r) {
    atomic_fetch_add_explicit(&r->loaders, 1, memory_order_seq_cst);
    return atomic_load_explicit(&r->ptr, memory_order_seq_cst);
}

/* D: release, so the caller's reference-taking happens before the drop of a
 * writer that waits for this read (argument 3 above). */
PA_INLINE void pa_ref_load_end(pa_ref *r) {
    atomic_fetch_sub_explicit(&r->loaders, 1, memory_order_release);
}

/* Y's slow part: spin with the CPU hint, then yield (pa_ref.c). */
void pa_ref_wait_for_loaders(pa_ref *r);

/* Y: returns once no read that might have seen a pointer replaced before
 * this call is still taking its reference. */
PA_INLINE void pa_ref_drain(pa_ref *r) {
    if (PA_UNLIKELY(atomic_load_explicit(&r->loaders, memory_order_seq_cst) != 0))
        pa_ref_wait_for_loaders(r);
}

/* X and Y: stores p (whose reference the caller gives to the slot) and
 * returns the old pointer, whose reference the caller now owns and may drop. */
PA_INLINE void *pa_ref_exchange(pa_ref *r, void *p) {
    void *old = atomic_exchange_explicit(&r->ptr, p, memory_order_seq_cst);
    pa_ref_drain(r);
    return old;
}

/* If the slot holds `expected` (the same pointer), stores desired and returns
 * true: the caller gave desired's reference to the slot and now owns the
 * slot's old reference to expected.  Otherwise stores nothing, returns false
 * (the caller keeps desired's reference). */
PA_INLINE bool pa_ref_compare_exchange(pa_ref *r, void *expected, void *desired) {
    if (!atomic_compare_exchange_strong_explicit(&r->ptr, &expected, desired, memory_order_seq_cst,
                                                 memory_order_seq_cst))
        return false;
    pa_ref_drain(r);
    return true;
}

/* The pointer now, with no protection: only where no writer can run (the
 * garbage collector's traversal, the object's destruction). */
PA_INLINE void *pa_ref_peek(pa_ref *r) { return atomic_load_explicit(&r->ptr, memory_order_relaxed); }

#endif /* PA_REF_H */
