/*
 * pa_thread.h -- the little the core needs to know about threads:
 * a cheap per-thread identity, the CPU's spin-wait hint, a scheduler yield,
 * and the spinning policy every lock shares (pa_spinwait).
 */
#ifndef PA_THREAD_H
#define PA_THREAD_H

#include <stdbool.h>
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

/* ---------------------------------------------------------------------------
 * The spinning policy, one for every lock in the core (SpinLock, RWLock's
 * readers, writers and upgrader, the AtomicRef writer's wait): what a thread
 * that found a lock busy does before it goes to sleep on the lock word.
 *
 *     step 1..PA_SPIN_PAUSE_STEPS    2, 4, 8 ... pause hints (exponential backoff)
 *     then PA_SPIN_YIELD_STEPS       scheduler yields
 *     then                           pa_spinwait_spin() is false: sleep
 *
 * Why so short (parking_lot's SpinWait has 3 pause steps and 7 yields; we
 * keep 2 yields).  Spinning
 * pays only while the holder runs on another core and is about to release.
 * When threads outnumber cores, the holder is often descheduled: every pause
 * then burns the core it needs, and a long spin made SpinLock 1.2-3x slower
 * than threading.Lock at 4-8 threads on 2 cores (the earlier policy spun 10
 * backoff rounds of up to 64 pauses, some 20 us on a recent x86 core where a
 * PAUSE takes ~140 cycles).  A yield instead hands the core to a runnable
 * thread, very likely the holder when we were what kept it off; but each
 * yield that finds another runnable thread is a context switch, and with
 * 7 of them a tight `with lock:` loop under SpinLock ran at 0.6-0.9x
 * threading.Lock's throughput at 4-8 threads on 2 cores (3.13t, 2026-12-02,
 * medians of 9 interleaved rounds); with 2, at 1.30-1.34x at 4 threads and
 * 0.81-0.96x at 8, against 0.8-0.9x with none.  The lock
 * word's "somebody sleeps" state is the second half of the policy, applied
 * by each lock: a thread that sees sleepers does not spin at all (it would
 * only queue behind them), as parking_lot and CPython's own mutex do.
 *
 * Not learned per lock (glibc's adaptive mutex keeps a running average of
 * the spins that paid): the budget is already below the cost of one sleep and
 * wake (a futex round trip, several microseconds), so a lock whose waits are
 * longer loses at most that, and one whose waits are shorter rarely reaches
 * the yields.
 * ------------------------------------------------------------------------- */
#define PA_SPIN_PAUSE_STEPS 3
#define PA_SPIN_YIELD_STEPS 2

typedef struct {
    unsigned step;
} pa_spinwait;

#define PA_SPINWAIT_INIT {0}

/* One step of the policy; false once it is spent (then sleep).  Inline: the
 * caller polls its word between steps. */
PA_INLINE bool pa_spinwait_spin(pa_spinwait *w) {
    if (w->step >= PA_SPIN_PAUSE_STEPS + PA_SPIN_YIELD_STEPS) return false;
    w->step++;
    if (w->step <= PA_SPIN_PAUSE_STEPS) {
        for (unsigned i = 0; i < (1u << w->step); i++) pa_cpu_relax();
    } else {
        pa_thread_yield();
    }
    return true;
}

#endif /* PA_THREAD_H */
