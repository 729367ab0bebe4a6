/*
 * pa_cffi.h -- the C side of the cffi binding (pyatomics._pyatomics_cffi).
 *
 * cffi's cdef (pyatomics/_cffi_build.py) cannot spell _Atomic, so the cffi
 * binding sees the core through plain C declarations: opaque structs
 * (pa_spinlock, pa_rwlock, pa_cffi_int) whose size the compiler supplies, and
 * the functions below, whose arguments and results are plain integers.  The
 * spinlock and rwlock functions of the core already have such signatures and
 * are declared in the cdef as they are; AtomicInt needs these wrappers.
 *
 * Nothing here is an algorithm: each wrapper is one call into pa_atomic.h or
 * pa_int_wait.h plus the translation of its status into a return value.
 * The Python side (pyatomics/_cffi_backend.py) only converts arguments,
 * raises exceptions and loops on the deadline, as pyatomics/_pyatomics.c does.
 */
#ifndef PA_CFFI_H
#define PA_CFFI_H

#include <stdbool.h>
#include <stdint.h>

#include "pa_atomic.h"
#include "pa_int_wait.h"
#include "pa_lock.h"
#include "pa_thread.h"

/* The C state of one AtomicInt (the C-API binding has the same two fields in
 * its object).  Allocated by ffi.new, which aligns at least to 8 bytes. */
typedef struct {
    pa_atomic_i64 value;
    pa_notifier notifier;
} pa_cffi_int;

/* ---------------------------------------------------------------------------
 * Checked operations: one int64_t result, and a failure that is rare.
 *
 * A checked wrapper returns its result, or PA_CFFI_SENTINEL if the operation
 * would overflow (then nothing was stored).  A legitimate result can equal
 * the sentinel too, so whenever a wrapper returns the sentinel it records in
 * a thread-local flag which of the two it was, and the binding asks
 * pa_cffi_overflowed() only then: the common path is a single call with no
 * out-parameter (which would cost an allocation per call from Python).
 * ------------------------------------------------------------------------- */
#define PA_CFFI_SENTINEL INT64_MIN

static PA_THREAD_LOCAL bool pa_cffi_overflow_flag;

PA_INLINE int64_t pa_cffi_result(pa_status status, int64_t value) {
    if (PA_UNLIKELY(status != PA_OK)) {
        pa_cffi_overflow_flag = true;
        return PA_CFFI_SENTINEL;
    }
    if (PA_UNLIKELY(value == PA_CFFI_SENTINEL)) pa_cffi_overflow_flag = false;
    return value;
}

/* After a checked wrapper returned PA_CFFI_SENTINEL on this thread: whether it
 * was an overflow (true) or the sentinel is the real result (false). */
static inline bool pa_cffi_overflowed(void) { return pa_cffi_overflow_flag; }

static inline void pa_cffi_int_init(pa_cffi_int *a, int64_t v) {
    pa_i64_store(&a->value, v);
    pa_notifier_init(&a->notifier);
}

PA_INLINE int64_t pa_cffi_load(pa_cffi_int *a) { return pa_i64_load(&a->value); }
PA_INLINE void pa_cffi_store(pa_cffi_int *a, int64_t v) { pa_i64_store(&a->value, v); }
PA_INLINE int64_t pa_cffi_exchange(pa_cffi_int *a, int64_t v) { return pa_i64_exchange(&a->value, v); }

PA_INLINE bool pa_cffi_compare_exchange(pa_cffi_int *a, int64_t expected, int64_t desired) {
    return pa_i64_compare_exchange(&a->value, expected, desired, NULL);
}

/* Compare-exchange that returns the value seen: equal to `expected` exactly
 * when `desired` was stored (a strong CAS fails only on a different value). */
PA_INLINE int64_t pa_cffi_compare_exchange_seen(pa_cffi_int *a, int64_t expected, int64_t desired) {
    int64_t seen;
    pa_i64_compare_exchange(&a->value, expected, desired, &seen);
    return seen;
}

/* Checked: previous value (fetch_*) or new value (add/sub/inc/dec). */
PA_INLINE int64_t pa_cffi_fetch_add(pa_cffi_int *a, int64_t v) {
    int64_t old;
    pa_status s = pa_i64_fetch_add_checked(&a->value, v, &old);
    return pa_cffi_result(s, old);
}
PA_INLINE int64_t pa_cffi_fetch_sub(pa_cffi_int *a, int64_t v) {
    int64_t old;
    pa_status s = pa_i64_fetch_sub_checked(&a->value, v, &old);
    return pa_cffi_result(s, old);
}
PA_INLINE int64_t pa_cffi_add(pa_cffi_int *a, int64_t v) {
    int64_t old;
    pa_status s = pa_i64_fetch_add_checked(&a->value, v, &old);
    return pa_cffi_result(s, s == PA_OK ? old + v : 0);
}
PA_INLINE int64_t pa_cffi_sub(pa_cffi_int *a, int64_t v) {
    int64_t old;
    pa_status s = pa_i64_fetch_sub_checked(&a->value, v, &old);
    return pa_cffi_result(s, s == PA_OK ? old - v : 0);
}
PA_INLINE int64_t pa_cffi_inc(pa_cffi_int *a) { return pa_cffi_add(a, 1); }
PA_INLINE int64_t pa_cffi_dec(pa_cffi_int *a) { return pa_cffi_sub(a, 1); }

/* In-place forms (a += n ...): only the status matters. */
PA_INLINE int pa_cffi_iadd(pa_cffi_int *a, int64_t v) {
    int64_t old;
    return (int)pa_i64_fetch_add_checked(&a->value, v, &old);
}
PA_INLINE int pa_cffi_isub(pa_cffi_int *a, int64_t v) {
    int64_t old;
    return (int)pa_i64_fetch_sub_checked(&a->value, v, &old);
}

/* Cannot overflow: previous value. */
PA_INLINE int64_t pa_cffi_fetch_and(pa_cffi_int *a, int64_t v) { return pa_i64_fetch_and(&a->value, v); }
PA_INLINE int64_t pa_cffi_fetch_or(pa_cffi_int *a, int64_t v) { return pa_i64_fetch_or(&a->value, v); }
PA_INLINE int64_t pa_cffi_fetch_xor(pa_cffi_int *a, int64_t v) { return pa_i64_fetch_xor(&a->value, v); }
PA_INLINE int64_t pa_cffi_fetch_max(pa_cffi_int *a, int64_t v) { return pa_i64_fetch_max(&a->value, v); }
PA_INLINE int64_t pa_cffi_fetch_min(pa_cffi_int *a, int64_t v) { return pa_i64_fetch_min(&a->value, v); }

/* Result unused: lets the compiler emit a single lock and/or/xor. */
PA_INLINE void pa_cffi_iand(pa_cffi_int *a, int64_t v) { (void)pa_i64_fetch_and(&a->value, v); }
PA_INLINE void pa_cffi_ior(pa_cffi_int *a, int64_t v) { (void)pa_i64_fetch_or(&a->value, v); }
PA_INLINE void pa_cffi_ixor(pa_cffi_int *a, int64_t v) { (void)pa_i64_fetch_xor(&a->value, v); }

/* wait/notify (pa_int_wait.h); the deadline comes from pa_deadline_after. */
static inline pa_lock_result pa_cffi_int_wait(pa_cffi_int *a, int64_t expected, int64_t deadline_ns) {
    return pa_int_wait(&a->value, &a->notifier, expected, deadline_ns);
}
static inline void pa_cffi_int_notify(pa_cffi_int *a, bool all) { pa_int_notify(&a->notifier, all); }

#endif /* PA_CFFI_H */
