/*
 * pa_common.h -- portability macros every file of the core (and both
 * bindings' C parts) uses; nothing else.
 */
#ifndef PA_COMMON_H
#define PA_COMMON_H

/* PA_INLINE: the hot paths (AtomicInt ops, uncontended lock and unlock) must
 * inline into the binding's method, or a call costs as much as the op.
 * PA_COLD: the slow paths (waiting, waking) stay out of the callers' code.
 * PA_LIKELY/PA_UNLIKELY: lay the uncontended case out as the fall-through. */
#if defined(_MSC_VER) && !defined(__clang__)
#define PA_INLINE static __forceinline
#define PA_COLD
#define PA_LIKELY(x) (x)
#define PA_UNLIKELY(x) (x)
#else
#define PA_INLINE static inline __attribute__((always_inline))
#define PA_COLD __attribute__((cold, noinline))
#define PA_LIKELY(x) __builtin_expect(!!(x), 1)
#define PA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#endif

#endif /* PA_COMMON_H */
