/*
 * pa_thread.h -- the little the core needs to know about threads:
 * a cheap per-thread identity, the CPU's spin-wait hint and a scheduler yield.
 */
#ifndef PA_THREAD_H
#define PA_THREAD_H

#include <stdint.h>

#include "pa_atomic.h"

/* A nonzero identity for the calling thread, never reused in this process
 * (unlike threading.get_ident): a 64-bit number from a global counter, taken
 * on the thread's first call and cached in TLS, so every later call is one
 * TLS load.  Owner checks (an RWLock's write side) rely on "never reused": a
 * new thread must not pass for a dead one that still holds a lock. */
#if defined(_MSC_VER) && !defined(__clang__)
#define PA_THREAD_LOCAL __declspec(thread)
#else
#define PA_THREAD_LOCAL _Thread_local
#endif

uint64_t pa_thread_id(void);

/* Spin-wait hint: lets the sibling hyperthread run and saves power while a
 * thread polls a cache line.  x86: PAUSE; arm64: ISB, which stalls longer
 * than YIELD (a no-op on most cores) and is what Rust's spin_loop uses. */
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define pa_cpu_relax() _mm_pause()
#else
#define pa_cpu_relax() __builtin_ia32_pause()
#endif
#elif defined(__aarch64__) || defined(_M_ARM64)
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define pa_cpu_relax() __isb(_ARM64_BARRIER_SY)
#else
#define pa_cpu_relax() __asm__ __volatile__("isb" ::: "memory")
#endif
#else
#define pa_cpu_relax() ((void)0)
#endif

/* Give the rest of this time slice to another runnable thread. */
void pa_thread_yield(void);

#endif /* PA_THREAD_H */
