/*
 * pa_atomic.h -- atomic operations on a signed 64-bit integer.
 *
 * Portable C11 core of pyatomics: no Python.h, no CPython types, so the same
 * code serves the C-API binding and the cffi binding.
 *
 * Every operation here is sequentially consistent (memory_order_seq_cst):
 * from Python an AtomicInt behaves as if all operations on all AtomicInts
 * happened in one global order, which is what users reason with.  On x86_64
 * a seq_cst read-modify-write is a LOCK-prefixed instruction (lock xadd,
 * lock cmpxchg; xchg is implicitly locked) and a seq_cst store is an xchg;
 * on arm64 the compiler emits LDAXR/STLXR loops (ARMv8.0) or LSE atomics
 * (LDADDAL, CASAL, SWPAL) when built with -march=armv8.1-a or later.
 *
 * Overflow: the checked operations (pa_i64_fetch_add_checked, ...) never
 * store a wrapped value.  They compute the result first and only publish it
 * with a compare-exchange if it fits, so no other thread can ever observe a
 * wrapped value and a failing call leaves the stored value unchanged.
 */
#ifndef PA_ATOMIC_H
#define PA_ATOMIC_H

#include "pa_common.h"

#include <stdbool.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------
 * Portability seam.
 *
 * Callers only see pa_atomic_i64 / pa_atomic_u32 and the PA_* macros below.
 * GCC and Clang (Linux, macOS, MinGW) use <stdatomic.h> directly.  MSVC has
 * C11 atomics since VS 2022 17.5 behind /std:c11 /experimental:c11atomics
 * (setup.py passes both), so the same spelling works there; if an older
 * MSVC must be supported, this block is the only place to map the macros to
 * the _Interlocked* intrinsics.
 * ------------------------------------------------------------------------- */
#include <stdatomic.h>

typedef _Atomic(int64_t) pa_atomic_i64;
typedef _Atomic(uint32_t) pa_atomic_u32;
typedef _Atomic(uint64_t) pa_atomic_u64;

#define PA_LOAD(p) atomic_load(p)
#define PA_STORE(p, v) atomic_store((p), (v))
#define PA_EXCHANGE(p, v) atomic_exchange((p), (v))
/* Strong CAS; on failure *expected is updated with the current value. */
#define PA_CAS(p, expected, desired) \
    atomic_compare_exchange_strong((p), (expected), (desired))


/* Result of a checked operation. */
typedef enum {
    PA_OK = 0,
    PA_OVERFLOW = 1, /* the result does not fit in int64_t; nothing stored */
} pa_status;

/* ---------------------------------------------------------------------------
 * Checked arithmetic helpers (no atomics).  Return true on overflow.
 * ------------------------------------------------------------------------- */
#if defined(_MSC_VER) && !defined(__clang__)
PA_INLINE bool pa_add_overflows(int64_t a, int64_t b, int64_t *out) {
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return true;
    *out = a + b;
    return false;
}
PA_INLINE bool pa_sub_overflows(int64_t a, int64_t b, int64_t *out) {
    if ((b < 0 && a > INT64_MAX + b) || (b > 0 && a < INT64_MIN + b)) return true;
    *out = a - b;
    return false;
}
#else
PA_INLINE bool pa_add_overflows(int64_t a, int64_t b, int64_t *out) {
    return __builtin_add_overflow(a, b, out);
}
PA_INLINE bool pa_sub_overflows(int64_t a, int64_t b, int64_t *out) {
    return __builtin_sub_overflow(a, b, out);
}
#endif

/* ---------------------------------------------------------------------------
 * Plain operations: cannot overflow.
 * ------------------------------------------------------------------------- */

/* Returns the current value. */
PA_INLINE int64_t pa_i64_load(pa_atomic_i64 *p) { return PA_LOAD(p); }

/* Stores v. */
PA_INLINE void pa_i64_store(pa_atomic_i64 *p, int64_t v) { PA_STORE(p, v); }

/* Stores v, returns the previous value. */
PA_INLINE int64_t pa_i64_exchange(pa_atomic_i64 *p, int64_t v) {
    return PA_EXCHANGE(p, v);
}

/* If *p == expected, stores desired and returns true; otherwise returns false
 * and writes the value seen to *seen (may be NULL). */
PA_INLINE bool pa_i64_compare_exchange(pa_atomic_i64 *p, int64_t expected,
                                       int64_t desired, int64_t *seen) {
    bool ok = PA_CAS(p, &expected, desired);
    if (seen) *seen = expected;
    return ok;
}

/* Bitwise read-modify-writes; return the previous value. */
PA_INLINE int64_t pa_i64_fetch_and(pa_atomic_i64 *p, int64_t v) {
    return atomic_fetch_and(p, v);
}
PA_INLINE int64_t pa_i64_fetch_or(pa_atomic_i64 *p, int64_t v) {
    return atomic_fetch_or(p, v);
}
PA_INLINE int64_t pa_i64_fetch_xor(pa_atomic_i64 *p, int64_t v) {
    return atomic_fetch_xor(p, v);
}

/* Max/min: CAS loop that gives up as soon as the stored value already wins,
 * so an uncontended call that changes nothing is a single load.  Returns the
 * previous value. */
PA_INLINE int64_t pa_i64_fetch_max(pa_atomic_i64 *p, int64_t v) {
    int64_t old = PA_LOAD(p);
    while (old < v && !PA_CAS(p, &old, v)) {
    }
    return old;
}
PA_INLINE int64_t pa_i64_fetch_min(pa_atomic_i64 *p, int64_t v) {
    int64_t old = PA_LOAD(p);
    while (old > v && !PA_CAS(p, &old, v)) {
    }
    return old;
}

/* ---------------------------------------------------------------------------
 * Checked operations.
 *
 * Why a CAS loop instead of lock xadd: xadd would publish a wrapped value
 * before we could notice the overflow, and another thread could read it.
 * The loop costs one extra (usually cached) load when uncontended; under
 * contention a failed CAS retries with the value it saw, so the loop is
 * lock-free (some thread always succeeds).
 * ------------------------------------------------------------------------- */

/* *p += v; previous value to *old_out.  PA_OVERFLOW leaves *p unchanged. */
PA_INLINE pa_status pa_i64_fetch_add_checked(pa_atomic_i64 *p, int64_t v,
                                             int64_t *old_out) {
    int64_t old = PA_LOAD(p), new_value;
    do {
        if (PA_UNLIKELY(pa_add_overflows(old, v, &new_value))) {
            *old_out = old;
            return PA_OVERFLOW;
        }
    } while (!PA_CAS(p, &old, new_value));
    *old_out = old;
    return PA_OK;
}

/* *p -= v; previous value to *old_out.  PA_OVERFLOW leaves *p unchanged. */
PA_INLINE pa_status pa_i64_fetch_sub_checked(pa_atomic_i64 *p, int64_t v,
                                             int64_t *old_out) {
    int64_t old = PA_LOAD(p), new_value;
    do {
        if (PA_UNLIKELY(pa_sub_overflows(old, v, &new_value))) {
            *old_out = old;
            return PA_OVERFLOW;
        }
    } while (!PA_CAS(p, &old, new_value));
    *old_out = old;
    return PA_OK;
}

#endif /* PA_ATOMIC_H */
