/*
 * pa_build_info.h -- what the core was compiled with, as text, for
 * `python -m pyatomics info` (both bindings report the same strings).
 */
#ifndef PA_BUILD_INFO_H
#define PA_BUILD_INFO_H

#include <stdatomic.h>

/* The instructions the seq_cst read-modify-writes of pa_atomic.h become. */
static inline const char *pa_atomics_description(void) {
#if defined(__x86_64__) || defined(_M_X64)
    return "x86_64: LOCK-prefixed read-modify-write (lock xadd/cmpxchg, xchg)";
#elif defined(__aarch64__) || defined(_M_ARM64)
#if defined(__ARM_FEATURE_ATOMICS)
    return "arm64: LSE atomics (ldaddal, casal, swpal)";
#else
    return "arm64: LL/SC (ldaxr/stlxr), or LSE through outline atomics";
#endif
#else
    return "C11 <stdatomic.h>";
#endif
}

static inline const char *pa_compiler_description(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
    return "msvc";
#else
    return "unknown";
#endif
}

/* ATOMIC_LLONG_LOCK_FREE: 2 means the 64-bit atomics are always lock-free. */
static inline int pa_lock_free_64(void) { return (int)ATOMIC_LLONG_LOCK_FREE; }

#endif /* PA_BUILD_INFO_H */
