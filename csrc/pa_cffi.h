/*
 * pa_cffi.h -- the C side of the cffi binding (pyatomics._cffi_binding_lib).
 *
 * cffi's cdef cannot spell _Atomic, so the cffi binding sees the core through
 * plain C declarations: opaque structs (pa_spinlock, pa_rwlock, pa_cffi_int)
 * whose size the compiler supplies, and functions whose arguments and results
 * are plain integers.  The declarations it sees are the block at the end of
 * this file (with pa_lock.h and pa_contract.h, which are plain C already):
 * pyatomics/_cffi_binding_build.py extracts them as its cdef, and the module's
 * source #includes this header, so a declaration that drifts from its
 * definition is a compile error, never a silent mismatch.
 *
 * Nothing here is an algorithm or a rule: each wrapper is one call into the
 * core plus the translation of its result into a status (pa_lock.h), which
 * the binding hands to the core's error table (pa_contract.h).
 */
#ifndef PA_CFFI_H
#define PA_CFFI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pa_atomic.h"
#include "pa_atomic_int.h"
#include "pa_build_info.h"
#include "pa_contract.h"
#include "pa_counter.h"
#include "pa_lock.h"
#include "pa_rwlock.h"
#include "pa_spinlock.h"
#include "pa_thread.h"
#include "pa_wait.h"

/* The C state of one AtomicInt (pa_atomic_int.h; the C-API binding embeds
 * the same struct in its object).  Allocated by ffi.new, which aligns at
 * least to 8 bytes. */
typedef pa_aint pa_cffi_int;

/* ---------------------------------------------------------------------------
 * Checked operations: one int64_t result, and a failure that is rare.
 *
 * The fast wrapper returns its result, or PA_CFFI_SENTINEL having stored
 * nothing: it refuses not only an overflow but also any update whose
 * reported result would equal the sentinel, so the sentinel never needs a
 * second look at shared or thread-local state.  The binding then calls the
 * _slow variant, which does the operation with the status and the value
 * reported separately (through an out-parameter, an allocation from Python
 * that only this rare path pays).  An earlier design kept "was it an
 * overflow?" in a thread-local flag read by a second call; a signal handler
 * or finalizer running on the same thread between the two calls could
 * overwrite it.
 * ------------------------------------------------------------------------- */
#define PA_CFFI_SENTINEL INT64_MIN

/* *a += v (or -= v), reporting the old or the new value; refuses (stores
 * nothing, returns the sentinel) on overflow or a sentinel-valued result.
 * The compare-exchange publishes only a value that fits (pa_atomic.h). */
PA_INLINE int64_t pa_cffi_add_refusing(pa_cffi_int *a, int64_t v, bool subtract, bool report_new) {
    int64_t old = pa_aint_load(a), new_value;
    do {
        bool overflow = subtract ? pa_sub_overflows(old, v, &new_value) : pa_add_overflows(old, v, &new_value);
        if (PA_UNLIKELY(overflow) || PA_UNLIKELY((report_new ? new_value : old) == PA_CFFI_SENTINEL))
            return PA_CFFI_SENTINEL;
    } while (!pa_aint_compare_exchange(a, old, new_value, &old));
    return report_new ? new_value : old;
}

/* The rare path: PA_ACQUIRED and the result in *out, or PA_RESULT_RANGE
 * (nothing stored). */
static inline int pa_cffi_add_slow(pa_cffi_int *a, int64_t v, bool subtract, bool report_new, int64_t *out) {
    int64_t old;
    pa_status s = subtract ? pa_aint_fetch_sub_checked(a, v, &old) : pa_aint_fetch_add_checked(a, v, &old);
    if (s != PA_OK) return PA_RESULT_RANGE;
    *out = report_new ? (subtract ? old - v : old + v) : old;
    return PA_ACQUIRED;
}

static inline void pa_cffi_int_init(pa_cffi_int *a, int64_t v) { pa_aint_init(a, v); }

PA_INLINE int64_t pa_cffi_load(pa_cffi_int *a) { return pa_aint_load(a); }
PA_INLINE void pa_cffi_store(pa_cffi_int *a, int64_t v) { pa_aint_store(a, v); }
PA_INLINE int64_t pa_cffi_exchange(pa_cffi_int *a, int64_t v) { return pa_aint_exchange(a, v); }

PA_INLINE bool pa_cffi_compare_exchange(pa_cffi_int *a, int64_t expected, int64_t desired) {
    return pa_aint_compare_exchange(a, expected, desired, NULL);
}

/* Compare-exchange that returns the value seen: equal to `expected` exactly
 * when `desired` was stored (a strong CAS fails only on a different value). */
PA_INLINE int64_t pa_cffi_compare_exchange_seen(pa_cffi_int *a, int64_t expected, int64_t desired) {
    int64_t seen;
    pa_aint_compare_exchange(a, expected, desired, &seen);
    return seen;
}

/* Checked, refusing as above: previous value (fetch_*) or new value (add/sub/inc/dec). */
PA_INLINE int64_t pa_cffi_fetch_add(pa_cffi_int *a, int64_t v) { return pa_cffi_add_refusing(a, v, false, false); }
PA_INLINE int64_t pa_cffi_fetch_sub(pa_cffi_int *a, int64_t v) { return pa_cffi_add_refusing(a, v, true, false); }
PA_INLINE int64_t pa_cffi_add(pa_cffi_int *a, int64_t v) { return pa_cffi_add_refusing(a, v, false, true); }
PA_INLINE int64_t pa_cffi_sub(pa_cffi_int *a, int64_t v) { return pa_cffi_add_refusing(a, v, true, true); }
PA_INLINE int64_t pa_cffi_inc(pa_cffi_int *a) { return pa_cffi_add_refusing(a, 1, false, true); }
PA_INLINE int64_t pa_cffi_dec(pa_cffi_int *a) { return pa_cffi_add_refusing(a, 1, true, true); }

/* In-place forms (a += n ...): only the status matters. */
PA_INLINE int pa_cffi_iadd(pa_cffi_int *a, int64_t v) {
    int64_t old;
    return pa_aint_fetch_add_checked(a, v, &old) == PA_OK ? PA_ACQUIRED : PA_RESULT_RANGE;
}
PA_INLINE int pa_cffi_isub(pa_cffi_int *a, int64_t v) {
    int64_t old;
    return pa_aint_fetch_sub_checked(a, v, &old) == PA_OK ? PA_ACQUIRED : PA_RESULT_RANGE;
}

/* Cannot overflow: previous value. */
PA_INLINE int64_t pa_cffi_fetch_and(pa_cffi_int *a, int64_t v) { return pa_aint_fetch_and(a, v); }
PA_INLINE int64_t pa_cffi_fetch_or(pa_cffi_int *a, int64_t v) { return pa_aint_fetch_or(a, v); }
PA_INLINE int64_t pa_cffi_fetch_xor(pa_cffi_int *a, int64_t v) { return pa_aint_fetch_xor(a, v); }
PA_INLINE int64_t pa_cffi_fetch_max(pa_cffi_int *a, int64_t v) { return pa_aint_fetch_max(a, v); }
PA_INLINE int64_t pa_cffi_fetch_min(pa_cffi_int *a, int64_t v) { return pa_aint_fetch_min(a, v); }

/* Result unused: lets the compiler emit a single lock and/or/xor. */
PA_INLINE void pa_cffi_iand(pa_cffi_int *a, int64_t v) { (void)pa_aint_fetch_and(a, v); }
PA_INLINE void pa_cffi_ior(pa_cffi_int *a, int64_t v) { (void)pa_aint_fetch_or(a, v); }
PA_INLINE void pa_cffi_ixor(pa_cffi_int *a, int64_t v) { (void)pa_aint_fetch_xor(a, v); }

/* wait/notify (pa_int_wait.h); the deadline comes from pa_deadline_after. */
static inline int pa_cffi_int_wait(pa_cffi_int *a, int64_t expected, int64_t deadline_ns) {
    return pa_aint_wait(a, expected, deadline_ns);
}
static inline void pa_cffi_int_notify(pa_cffi_int *a, bool all) { pa_aint_notify(a, all); }

/* AtomicCounter (pa_counter.h): an add's status, and a total (or the total a
 * reset took) as two halves, hi * 2**64 + *lo. */
static inline int pa_cffi_counter_add(pa_counter *c, int64_t n) {
    return pa_counter_add(c, n) == PA_OK ? PA_ACQUIRED : PA_COUNTER_RANGE;
}
static inline int pa_cffi_counter_sub(pa_counter *c, int64_t n) {
    return pa_counter_sub(c, n) == PA_OK ? PA_ACQUIRED : PA_COUNTER_RANGE;
}
static inline int pa_cffi_counter_restart(pa_counter *c, int64_t value) {
    return pa_counter_restart(c, value) == PA_OK ? PA_ACQUIRED : PA_COUNTER_RANGE;
}
static inline int pa_cffi_counter_inc(pa_counter *c) { return pa_cffi_counter_add(c, 1); }
static inline int pa_cffi_counter_dec(pa_counter *c) { return pa_cffi_counter_add(c, -1); }
static inline int64_t pa_cffi_counter_total(pa_counter *c, bool reset, uint64_t *lo) {
    pa_counter_total t = reset ? pa_counter_reset(c) : pa_counter_sum(c);
    *lo = t.lo;
    return t.hi;
}

/* ---------------------------------------------------------------------------
 * Acquisitions that a KeyboardInterrupt cannot leak.
 *
 * The C-API binding's __enter__ is one C function: no Python code runs
 * between the core's acquire and `with` seeing the result.  The cffi
 * binding's __enter__ is Python code, and a signal handler may run (and
 * raise) after the core call returned "acquired" but before __enter__
 * returns; `with` then never calls __exit__ and the hold leaks.  So each
 * acquire wrapper below records, per thread, which lock (and which side) its
 * call just acquired, or clears the record when the call did not acquire.
 * The binding's acquire entry points catch BaseException and call
 * pa_cffi_undo_acquire, which gives back exactly that hold: an exception
 * raised after the call found the record naming this lock, one raised by a
 * failed attempt (TimeoutError, Ctrl-C while blocked) found it cleared.
 * A release by this thread clears a record that names its lock, so the
 * record never outlives the hold it describes on this thread.
 *
 * The record is thread-local, so it needs no atomics: only this thread
 * writes or reads it.  What remains (docs/reliability.md): an exception
 * raised *before* the core call, inside the entry point's try block, while
 * this thread's last acquisition is a hold on the same lock it still has.
 * CPython never checks for signals there (only loads precede the call);
 * pypy's interpreter checks before every bytecode (its JIT does not).
 * ------------------------------------------------------------------------- */
enum { PA_CFFI_SPIN = 1, PA_CFFI_READ = 2, PA_CFFI_WRITE = 3, PA_CFFI_UPGRADABLE = 4 };

static PA_THREAD_LOCAL const void *pa_cffi_recent_lock;
static PA_THREAD_LOCAL int pa_cffi_recent_kind;

PA_INLINE void pa_cffi_note(const void *lock, int kind, bool acquired) {
    pa_cffi_recent_lock = acquired ? lock : NULL;
    pa_cffi_recent_kind = kind;
}

PA_INLINE void pa_cffi_forget(const void *lock) {
    if (pa_cffi_recent_lock == lock) pa_cffi_recent_lock = NULL;
}

/* The uncontended attempt inline, then the core's slow path (which, for a
 * deadline of 0, only tries once more): every acquire wrapper has the same
 * (lock, deadline) -> status shape, so the binding drives them alike. */
PA_INLINE int pa_cffi_spin_acquire(pa_spinlock *l, int64_t deadline_ns) {
    pa_lock_result r = pa_spinlock_acquire(l, deadline_ns);
    pa_cffi_note(l, PA_CFFI_SPIN, r == PA_ACQUIRED);
    return r;
}
/* The uncontended attempt alone, true when acquired (one argument: the cheapest
 * cffi call on CPython). */
PA_INLINE bool pa_cffi_spin_try(pa_spinlock *l) {
    bool ok = pa_spinlock_try_acquire(l);
    pa_cffi_note(l, PA_CFFI_SPIN, ok);
    return ok;
}
PA_INLINE int pa_cffi_spin_release(pa_spinlock *l) {
    pa_cffi_forget(l);
    return pa_spinlock_release(l);
}

static inline int pa_cffi_rw_acquire_read(pa_rwlock *rw, int64_t deadline_ns) {
    pa_lock_result r = pa_rwlock_acquire_read(rw, deadline_ns);
    pa_cffi_note(rw, PA_CFFI_READ, r == PA_ACQUIRED);
    return r;
}
static inline int pa_cffi_rw_acquire_write(pa_rwlock *rw, int64_t deadline_ns) {
    pa_lock_result r = pa_rwlock_acquire_write(rw, deadline_ns);
    pa_cffi_note(rw, PA_CFFI_WRITE, r == PA_ACQUIRED);
    return r;
}
static inline int pa_cffi_rw_acquire_upgradable(pa_rwlock *rw, int64_t deadline_ns) {
    pa_lock_result r = pa_rwlock_acquire_upgradable(rw, deadline_ns);
    pa_cffi_note(rw, PA_CFFI_UPGRADABLE, r == PA_ACQUIRED);
    return r;
}
/* An upgrade is not undone: the caller, holding the upgradable read before,
 * holds the write lock after, and the `with rw.upgradable()` around it
 * releases whichever it is (pa_rwlock_exit_upgradable).  The record, which
 * may name this thread's upgradable acquisition, no longer describes a hold. */
static inline int pa_cffi_rw_upgrade(pa_rwlock *rw, int64_t deadline_ns) {
    pa_cffi_forget(rw);
    return pa_rwlock_upgrade(rw, deadline_ns);
}
static inline int pa_cffi_rw_release_upgradable(pa_rwlock *rw) {
    pa_cffi_forget(rw);
    return pa_rwlock_release_upgradable(rw);
}
/* A timed guard's exit: side 0 read, 1 write (pa_rwlock_exit), 2 upgradable. */
static inline int pa_cffi_rw_guard_exit(pa_rwlock *rw, int side) {
    pa_cffi_forget(rw);
    return side == 2 ? pa_rwlock_exit_upgradable(rw) : pa_rwlock_exit(rw, side != 0);
}
static inline int pa_cffi_rw_release(pa_rwlock *rw, bool write) {
    pa_cffi_forget(rw);
    return write ? pa_rwlock_release_write(rw) : pa_rwlock_release_read(rw);
}
static inline int pa_cffi_rw_exit(pa_rwlock *rw, bool write) {
    pa_cffi_forget(rw);
    return pa_rwlock_exit(rw, write);
}
static inline int pa_cffi_rw_downgrade(pa_rwlock *rw) {
    pa_cffi_forget(rw);
    return pa_rwlock_downgrade(rw);
}

/* Gives back the hold that this thread's last acquire wrapper call took on
 * `lock`, if it took one and the thread still has it; clears the record.
 * Returns whether it released anything. */
static inline bool pa_cffi_undo_acquire(const void *lock) {
    if (pa_cffi_recent_lock != lock || lock == NULL) return false;
    pa_cffi_recent_lock = NULL;
    switch (pa_cffi_recent_kind) {
        case PA_CFFI_SPIN: return pa_spinlock_release((pa_spinlock *)lock) == PA_ACQUIRED;
        case PA_CFFI_READ: return pa_rwlock_release_read((pa_rwlock *)lock) == PA_ACQUIRED;
        case PA_CFFI_WRITE: return pa_rwlock_release_write((pa_rwlock *)lock) == PA_ACQUIRED;
        case PA_CFFI_UPGRADABLE: return pa_rwlock_release_upgradable((pa_rwlock *)lock) == PA_ACQUIRED;
        default: return false;
    }
}

/* ---------------------------------------------------------------------------
 * What the cffi binding declares (its cdef, with pa_lock.h and pa_contract.h).
 *
 * _cffi_binding_build.py copies the lines between the two markers, comments
 * dropped, turning PA_CFFI_OPAQUE(t) into `typedef struct { ...; } t;` (cffi
 * asks the compiler for the size) and PA_CFFI_CONSTANT(n) into
 * `#define n ...`.  Here, after the definitions, each line is a declaration
 * the compiler checks against them: a changed signature is an error.
 * Plain C types only (no _Atomic, no macros in signatures).  The wrappers return
 * their pa_lock_result as an int: cffi converts an enum result through a generic
 * path that cost CPython about 50 ns per call.
 * ------------------------------------------------------------------------- */
#define PA_CFFI_OPAQUE(type) _Static_assert(sizeof(type) > 0, #type)
#define PA_CFFI_CONSTANT(name) _Static_assert((name) == (name), #name)

/* cffi-cdef-begin */
PA_CFFI_OPAQUE(pa_cffi_int);
PA_CFFI_OPAQUE(pa_spinlock);
PA_CFFI_OPAQUE(pa_rwlock);
PA_CFFI_OPAQUE(pa_counter);
PA_CFFI_CONSTANT(PA_CFFI_SENTINEL);

/* pa_wait.h, pa_build_info.h */
const char *pa_wait_mechanism(void);
const char *pa_atomics_description(void);
const char *pa_compiler_description(void);
int pa_lock_free_64(void);

/* AtomicInt */
void pa_cffi_int_init(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_load(pa_cffi_int *a);
void pa_cffi_store(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_exchange(pa_cffi_int *a, int64_t v);
bool pa_cffi_compare_exchange(pa_cffi_int *a, int64_t expected, int64_t desired);
int64_t pa_cffi_compare_exchange_seen(pa_cffi_int *a, int64_t expected, int64_t desired);
int64_t pa_cffi_fetch_add(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_fetch_sub(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_add(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_sub(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_inc(pa_cffi_int *a);
int64_t pa_cffi_dec(pa_cffi_int *a);
int pa_cffi_add_slow(pa_cffi_int *a, int64_t v, bool subtract, bool report_new, int64_t *out);
int pa_cffi_iadd(pa_cffi_int *a, int64_t v);
int pa_cffi_isub(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_fetch_and(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_fetch_or(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_fetch_xor(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_fetch_max(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_fetch_min(pa_cffi_int *a, int64_t v);
void pa_cffi_iand(pa_cffi_int *a, int64_t v);
void pa_cffi_ior(pa_cffi_int *a, int64_t v);
void pa_cffi_ixor(pa_cffi_int *a, int64_t v);
int pa_cffi_int_wait(pa_cffi_int *a, int64_t expected, int64_t deadline_ns);
void pa_cffi_int_notify(pa_cffi_int *a, bool all);

/* AtomicCounter */
void pa_counter_init(pa_counter *c, int64_t value);
void pa_counter_destroy(pa_counter *c);
uint32_t pa_counter_cell_count(pa_counter *c);
int pa_cffi_counter_add(pa_counter *c, int64_t n);
int pa_cffi_counter_sub(pa_counter *c, int64_t n);
int pa_cffi_counter_inc(pa_counter *c);
int pa_cffi_counter_dec(pa_counter *c);
int pa_cffi_counter_restart(pa_counter *c, int64_t value);
int64_t pa_cffi_counter_total(pa_counter *c, bool reset, uint64_t *lo);

/* SpinLock */
void pa_spinlock_init(pa_spinlock *l);
bool pa_spinlock_locked(pa_spinlock *l);
int pa_cffi_spin_acquire(pa_spinlock *l, int64_t deadline_ns);
bool pa_cffi_spin_try(pa_spinlock *l);
int pa_cffi_spin_release(pa_spinlock *l);

/* RWLock */
void pa_rwlock_init(pa_rwlock *rw);
void pa_rwlock_destroy(pa_rwlock *rw);
void pa_rwlock_reinit_after_fork(pa_rwlock *rw);
int pa_cffi_rw_acquire_read(pa_rwlock *rw, int64_t deadline_ns);
int pa_cffi_rw_acquire_write(pa_rwlock *rw, int64_t deadline_ns);
int pa_cffi_rw_release(pa_rwlock *rw, bool write);
int pa_cffi_rw_exit(pa_rwlock *rw, bool write);
int pa_cffi_rw_downgrade(pa_rwlock *rw);
int pa_cffi_rw_acquire_upgradable(pa_rwlock *rw, int64_t deadline_ns);
int pa_cffi_rw_upgrade(pa_rwlock *rw, int64_t deadline_ns);
int pa_cffi_rw_release_upgradable(pa_rwlock *rw);
int pa_cffi_rw_guard_exit(pa_rwlock *rw, int side);
bool pa_rwlock_upgradable_held_by_me(pa_rwlock *rw);
bool pa_rwlock_is_write_locked(pa_rwlock *rw);
uint32_t pa_rwlock_reader_count(pa_rwlock *rw);
bool pa_rwlock_write_held_by_me(pa_rwlock *rw);
uint32_t pa_rwlock_read_holds_by_me(pa_rwlock *rw);
bool pa_rwlock_side_locked(pa_rwlock *rw, bool write);
int64_t pa_rwlock_optimistic_read(pa_rwlock *rw);
bool pa_rwlock_validate(pa_rwlock *rw, int64_t stamp);

/* Ctrl-C give-back (above) */
bool pa_cffi_undo_acquire(const void *lock);
/* cffi-cdef-end */

#endif /* PA_CFFI_H */
