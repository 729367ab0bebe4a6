/*
 * test_core.c -- the C core's own test program: no Python involved.
 *
 * Several threads hammer the atomics (checked add/sub, compare-exchange,
 * exchange, and/or/xor, max/min) and check exact totals; overflow must be
 * refused without storing anything; SpinLock and RWLock must exclude (each
 * critical section checks that it is alone and bumps plain, non-atomic
 * counters whose totals must come out exact); AtomicInt wait/notify plays
 * ping-pong between two threads; timeouts must time out, not too early.
 *
 * Builds with any C11 compiler on Linux, macOS and Windows (MinGW-w64 or
 * clang; threads through a tiny shim over pthreads or CreateThread):
 *
 *   cc -std=c11 -O2 -pthread -Icsrc csrc/tests/test_core.c csrc/pa_*.c -o test_core
 *
 * (csrc/tests/Makefile and scripts/check_release.sh do this natively, for
 * arm64 under qemu-user and for Windows under wine.)  Prints one line per
 * test and "N passed, N failed"; exit status 0 only if all passed.
 * Arguments: -q (only failures and the summary), or names of tests to run.
 * PA_TEST_SCALE=k multiplies the iteration counts (default 1).
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pa_atomic.h"
#include "pa_int_wait.h"
#include "pa_lock.h"
#include "pa_contract.h"
#include "pa_counter.h"
#include "pa_ref.h"
#include "pa_rwlock.h"
#include "pa_spinlock.h"
#include "pa_thread.h"
#include "pa_wait.h"

/* ---------------------------------------------------------------------------
 * Threads: the smallest portable shim.
 * ------------------------------------------------------------------------- */
#if defined(_WIN32)
#include <windows.h>
typedef HANDLE test_thread;
typedef struct {
    void (*fn)(void *);
    void *arg;
} thunk;
static DWORD WINAPI thread_main(LPVOID p) {
    thunk t = *(thunk *)p;
    free(p);
    t.fn(t.arg);
    return 0;
}
static int thread_start(test_thread *t, void (*fn)(void *), void *arg) {
    thunk *p = malloc(sizeof *p);
    if (!p) return -1;
    p->fn = fn;
    p->arg = arg;
    *t = CreateThread(NULL, 0, thread_main, p, 0, NULL);
    if (*t == NULL) {
        free(p);
        return -1;
    }
    return 0;
}
static void thread_join(test_thread t) {
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
}
static void sleep_ms(int ms) { Sleep((DWORD)ms); }
#else
#include <pthread.h>
#include <time.h>
typedef pthread_t test_thread;
typedef struct {
    void (*fn)(void *);
    void *arg;
} thunk;
static void *thread_main(void *p) {
    thunk t = *(thunk *)p;
    free(p);
    t.fn(t.arg);
    return NULL;
}
static int thread_start(test_thread *t, void (*fn)(void *), void *arg) {
    thunk *p = malloc(sizeof *p);
    if (!p) return -1;
    p->fn = fn;
    p->arg = arg;
    if (pthread_create(t, NULL, thread_main, p) != 0) {
        free(p);
        return -1;
    }
    return 0;
}
static void thread_join(test_thread t) { pthread_join(t, NULL); }
static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}
#endif

/* ---------------------------------------------------------------------------
 * Check machinery
 * ------------------------------------------------------------------------- */
static int test_failed; /* failures in the current test */
static int quiet;
static long scale = 1;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            printf("    %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);       \
            test_failed++;                                                            \
        }                                                                             \
    } while (0)

#define CHECK_EQ_I64(got, want)                                                      \
    do {                                                                             \
        int64_t got_ = (int64_t)(got), want_ = (int64_t)(want);                      \
        if (got_ != want_) {                                                         \
            printf("    %s:%d: %s == %" PRId64 ", expected %" PRId64 "\n", __FILE__, \
                   __LINE__, #got, got_, want_);                                     \
            test_failed++;                                                           \
        }                                                                            \
    } while (0)

/* Workers for the many-thread tests: more threads than this machine's cores
 * is the point (preemption inside critical sections). */
#define NTHREADS 8

/* Starts fn(&args[i]) on n threads, all released together, and joins them. */
static pa_atomic_u32 start_gate;
static pa_atomic_u32 arrived;

static void gate_wait(void) {
    atomic_fetch_add(&arrived, 1);
    while (PA_LOAD(&start_gate) == 0) pa_thread_yield();
}

static void run_threads(int n, void (*fn)(void *), void *args, size_t arg_size) {
    test_thread t[64];
    PA_STORE(&start_gate, 0);
    PA_STORE(&arrived, 0);
    for (int i = 0; i < n; i++) {
        if (thread_start(&t[i], fn, (char *)args + (size_t)i * arg_size) != 0) {
            printf("    cannot start thread %d\n", i);
            exit(2);
        }
    }
    while (PA_LOAD(&arrived) != (uint32_t)n) pa_thread_yield();
    PA_STORE(&start_gate, 1);
    for (int i = 0; i < n; i++) thread_join(t[i]);
}

/* ---------------------------------------------------------------------------
 * The operations, each in a function of its own (noinline) so that
 * check_arm64_disassembly.py can find the instructions each one compiles to.
 * ------------------------------------------------------------------------- */
#if defined(_MSC_VER) && !defined(__clang__)
#define NOINLINE __declspec(noinline)
#else
#define NOINLINE __attribute__((noinline))
#endif

NOINLINE pa_status op_fetch_add_checked(pa_atomic_i64 *p, int64_t v, int64_t *old) {
    return pa_i64_fetch_add_checked(p, v, old);
}
NOINLINE pa_status op_fetch_sub_checked(pa_atomic_i64 *p, int64_t v, int64_t *old) {
    return pa_i64_fetch_sub_checked(p, v, old);
}
NOINLINE bool op_compare_exchange(pa_atomic_i64 *p, int64_t expected, int64_t desired, int64_t *seen) {
    return pa_i64_compare_exchange(p, expected, desired, seen);
}
NOINLINE int64_t op_exchange(pa_atomic_i64 *p, int64_t v) { return pa_i64_exchange(p, v); }
NOINLINE int64_t op_fetch_and(pa_atomic_i64 *p, int64_t v) { return pa_i64_fetch_and(p, v); }
NOINLINE int64_t op_fetch_or(pa_atomic_i64 *p, int64_t v) { return pa_i64_fetch_or(p, v); }
NOINLINE int64_t op_fetch_xor(pa_atomic_i64 *p, int64_t v) { return pa_i64_fetch_xor(p, v); }
NOINLINE int64_t op_fetch_max(pa_atomic_i64 *p, int64_t v) { return pa_i64_fetch_max(p, v); }
NOINLINE int64_t op_fetch_min(pa_atomic_i64 *p, int64_t v) { return pa_i64_fetch_min(p, v); }
NOINLINE void op_store(pa_atomic_i64 *p, int64_t v) { pa_i64_store(p, v); }
NOINLINE int64_t op_load(pa_atomic_i64 *p) { return pa_i64_load(p); }
/* The uncontended lock paths the bindings inline. */
NOINLINE bool op_spinlock_try_acquire(pa_spinlock *l) { return pa_spinlock_try_acquire(l); }
NOINLINE pa_lock_result op_spinlock_release(pa_spinlock *l) { return pa_spinlock_release(l); }

/* ---------------------------------------------------------------------------
 * Atomics
 * ------------------------------------------------------------------------- */
static pa_atomic_i64 shared;

typedef struct {
    int index;
    long iterations;
    int64_t sum;    /* per-thread result */
    int64_t count;  /* per-thread result */
} worker;

static void add_worker(void *p) {
    worker *w = p;
    gate_wait();
    for (long i = 0; i < w->iterations; i++) {
        int64_t old;
        if (op_fetch_add_checked(&shared, 3, &old) != PA_OK) w->count++;
        if (op_fetch_sub_checked(&shared, 1, &old) != PA_OK) w->count++;
    }
}

static void test_fetch_add_sub_checked(void) {
    worker w[NTHREADS] = {{0}};
    long iters = 100000 * scale;
    for (int i = 0; i < NTHREADS; i++) w[i].iterations = iters;
    PA_STORE(&shared, -1000);
    run_threads(NTHREADS, add_worker, w, sizeof w[0]);
    for (int i = 0; i < NTHREADS; i++) CHECK_EQ_I64(w[i].count, 0);
    CHECK_EQ_I64(op_load(&shared), -1000 + (int64_t)NTHREADS * iters * 2);
}

static void cas_worker(void *p) {
    worker *w = p;
    gate_wait();
    for (long i = 0; i < w->iterations; i++) {
        int64_t cur = op_load(&shared), seen;
        while (!op_compare_exchange(&shared, cur, cur + 1, &seen)) {
            cur = seen; /* the failed CAS reports what it saw */
            w->count++; /* retries: just statistics */
        }
    }
}

static void test_compare_exchange(void) {
    worker w[NTHREADS] = {{0}};
    long iters = 100000 * scale;
    for (int i = 0; i < NTHREADS; i++) w[i].iterations = iters;
    PA_STORE(&shared, 0);
    run_threads(NTHREADS, cas_worker, w, sizeof w[0]);
    CHECK_EQ_I64(op_load(&shared), (int64_t)NTHREADS * iters);
    /* single-threaded contract: failure reports the value, stores nothing */
    int64_t seen = 0;
    PA_STORE(&shared, 5);
    CHECK(!op_compare_exchange(&shared, 4, 9, &seen));
    CHECK_EQ_I64(seen, 5);
    CHECK_EQ_I64(op_load(&shared), 5);
    CHECK(op_compare_exchange(&shared, 5, 9, NULL));
    CHECK_EQ_I64(op_load(&shared), 9);
}

/* Exchange conserves values: every value put in comes out exactly once
 * (as some thread's "previous value" or as the final value). */
static void xchg_worker(void *p) {
    worker *w = p;
    gate_wait();
    for (long i = 0; i < w->iterations; i++) {
        int64_t mine = (int64_t)w->index * 1000000000 + i + 1;
        w->sum += op_exchange(&shared, mine);
        w->count++;
    }
}

static void test_exchange(void) {
    worker w[NTHREADS] = {{0}};
    long iters = 100000 * scale;
    int64_t put = 7; /* the initial value */
    for (int i = 0; i < NTHREADS; i++) {
        w[i].index = i;
        w[i].iterations = iters;
        for (long k = 0; k < iters; k++) put += (int64_t)i * 1000000000 + k + 1;
    }
    PA_STORE(&shared, 7);
    run_threads(NTHREADS, xchg_worker, w, sizeof w[0]);
    int64_t got = op_load(&shared);
    for (int i = 0; i < NTHREADS; i++) got += w[i].sum;
    CHECK_EQ_I64(got, put);
}

/* and/or/xor: each thread owns one bit (set with or, cleared with and, flipped
 * twice with xor) and one whole byte it flips with xor; other threads' bits
 * must never be disturbed. */
static void bits_worker(void *p) {
    worker *w = p;
    int64_t bit = (int64_t)1 << w->index;
    gate_wait();
    for (long i = 0; i < w->iterations; i++) {
        int64_t old = op_fetch_or(&shared, bit);
        if (old & bit) w->count++; /* our bit was already set: lost update */
        old = op_fetch_xor(&shared, bit);
        if (!(old & bit)) w->count++;
        old = op_fetch_xor(&shared, bit);
        if (old & bit) w->count++;
        old = op_fetch_or(&shared, bit);
        old = op_fetch_and(&shared, ~bit);
        if (!(old & bit)) w->count++;
    }
}

static void test_bitwise(void) {
    worker w[NTHREADS] = {{0}};
    long iters = 40000 * scale;
    for (int i = 0; i < NTHREADS; i++) {
        w[i].index = i;
        w[i].iterations = iters;
    }
    int64_t high = (int64_t)0x5A5A << 40; /* bits nobody touches */
    PA_STORE(&shared, high);
    run_threads(NTHREADS, bits_worker, w, sizeof w[0]);
    for (int i = 0; i < NTHREADS; i++) CHECK_EQ_I64(w[i].count, 0);
    CHECK_EQ_I64(op_load(&shared), high);
    /* single-threaded values */
    PA_STORE(&shared, 0x0F);
    CHECK_EQ_I64(op_fetch_and(&shared, 0x3C), 0x0F);
    CHECK_EQ_I64(op_fetch_or(&shared, 0x100), 0x0C);
    CHECK_EQ_I64(op_fetch_xor(&shared, -1), 0x10C);
    CHECK_EQ_I64(op_load(&shared), ~(int64_t)0x10C);
}

static pa_atomic_i64 pair[2];

static void max_worker2(void *p) {
    worker *w = p;
    gate_wait();
    for (long i = 0; i < w->iterations; i++) {
        int64_t v = (int64_t)i * NTHREADS + w->index;
        op_fetch_max(&pair[0], v);
        op_fetch_min(&pair[1], -v);
    }
}

static void test_max_min(void) {
    worker w[NTHREADS] = {{0}};
    long iters = 100000 * scale;
    for (int i = 0; i < NTHREADS; i++) {
        w[i].index = i;
        w[i].iterations = iters;
    }
    PA_STORE(&pair[0], INT64_MIN);
    PA_STORE(&pair[1], INT64_MAX);
    run_threads(NTHREADS, max_worker2, w, sizeof w[0]);
    int64_t top = (int64_t)(iters - 1) * NTHREADS + NTHREADS - 1;
    CHECK_EQ_I64(op_load(&pair[0]), top);
    CHECK_EQ_I64(op_load(&pair[1]), -top);
    PA_STORE(&shared, 10);
    CHECK_EQ_I64(op_fetch_max(&shared, 3), 10); /* loses: nothing stored */
    CHECK_EQ_I64(op_fetch_max(&shared, 12), 10);
    CHECK_EQ_I64(op_fetch_min(&shared, 11), 12);
    CHECK_EQ_I64(op_load(&shared), 11);
}

/* Overflow: single-threaded limits, then many threads racing to the top. */
static void overflow_worker(void *p) {
    worker *w = p;
    gate_wait();
    for (long i = 0; i < w->iterations; i++) {
        int64_t old;
        pa_status s = op_fetch_add_checked(&shared, 1, &old);
        if (s == PA_OK) {
            w->sum++;
            if (old == INT64_MAX) w->count += 1000000; /* wrapped: impossible */
        } else {
            w->count++; /* refused */
            if (old != INT64_MAX) w->sum += 1000000000; /* refused below the top */
        }
    }
}

static void test_overflow(void) {
    int64_t old = 0;
    PA_STORE(&shared, INT64_MAX - 1);
    CHECK(op_fetch_add_checked(&shared, 1, &old) == PA_OK);
    CHECK_EQ_I64(old, INT64_MAX - 1);
    CHECK(op_fetch_add_checked(&shared, 1, &old) == PA_OVERFLOW);
    CHECK_EQ_I64(old, INT64_MAX);
    CHECK_EQ_I64(op_load(&shared), INT64_MAX); /* unchanged */
    CHECK(op_fetch_sub_checked(&shared, -1, &old) == PA_OVERFLOW);
    CHECK(op_fetch_add_checked(&shared, INT64_MIN, &old) == PA_OK);
    CHECK_EQ_I64(op_load(&shared), -1);
    PA_STORE(&shared, INT64_MIN);
    CHECK(op_fetch_sub_checked(&shared, 1, &old) == PA_OVERFLOW);
    CHECK(op_fetch_add_checked(&shared, -1, &old) == PA_OVERFLOW);
    CHECK_EQ_I64(op_load(&shared), INT64_MIN);
    CHECK(op_fetch_sub_checked(&shared, INT64_MIN, &old) == PA_OK); /* MIN - MIN = 0 */
    CHECK_EQ_I64(op_load(&shared), 0);

    /* Race: room for exactly `room` increments, many more attempts. */
    worker w[NTHREADS] = {{0}};
    long iters = 20000 * scale;
    int64_t room = (int64_t)NTHREADS * iters / 3;
    for (int i = 0; i < NTHREADS; i++) w[i].iterations = iters;
    PA_STORE(&shared, INT64_MAX - room);
    run_threads(NTHREADS, overflow_worker, w, sizeof w[0]);
    int64_t ok = 0, refused = 0;
    for (int i = 0; i < NTHREADS; i++) {
        ok += w[i].sum;
        refused += w[i].count;
    }
    CHECK_EQ_I64(ok, room);
    CHECK_EQ_I64(refused, (int64_t)NTHREADS * iters - room);
    CHECK_EQ_I64(op_load(&shared), INT64_MAX);
}

/* ---------------------------------------------------------------------------
 * SpinLock
 * ------------------------------------------------------------------------- */
static pa_spinlock spin = PA_SPINLOCK_INIT;
static pa_atomic_u32 inside;   /* threads in the critical section right now */
static pa_atomic_u32 overlaps; /* times a thread found company there */
static volatile int64_t plain_a, plain_b; /* protected by the lock only */

static void spin_worker(void *p) {
    worker *w = p;
    gate_wait();
    for (long i = 0; i < w->iterations; i++) {
        pa_lock_result r = pa_spinlock_acquire(&spin, PA_FOREVER);
        if (r != PA_ACQUIRED) {
            w->count++;
            continue;
        }
        if (atomic_fetch_add(&inside, 1) != 0) atomic_fetch_add(&overlaps, 1);
        int64_t a = plain_a;
        if (i % 64 == 0) pa_thread_yield(); /* get preempted while holding it */
        plain_a = a + 1;
        plain_b = plain_b + 1;
        atomic_fetch_sub(&inside, 1);
        if (op_spinlock_release(&spin) != PA_ACQUIRED) w->count++;
    }
}

typedef struct {
    pa_lock_result result;
    int64_t elapsed_ns;
    int64_t timeout_ns;
} timed;

static void spin_timeout_worker(void *p) {
    timed *t = p;
    gate_wait();
    int64_t t0 = pa_monotonic_ns();
    t->result = pa_spinlock_acquire(&spin, pa_deadline_after(t->timeout_ns));
    t->elapsed_ns = pa_monotonic_ns() - t0;
}

static void spin_handoff_worker(void *p) {
    timed *t = p;
    gate_wait();
    int64_t t0 = pa_monotonic_ns();
    t->result = pa_spinlock_acquire(&spin, pa_deadline_after(t->timeout_ns));
    t->elapsed_ns = pa_monotonic_ns() - t0;
    if (t->result == PA_ACQUIRED) op_spinlock_release(&spin);
}

static void test_spinlock(void) {
    worker w[NTHREADS] = {{0}};
    long iters = 20000 * scale;
    for (int i = 0; i < NTHREADS; i++) w[i].iterations = iters;
    pa_spinlock_init(&spin);
    plain_a = plain_b = 0;
    PA_STORE(&overlaps, 0);
    run_threads(NTHREADS, spin_worker, w, sizeof w[0]);
    for (int i = 0; i < NTHREADS; i++) CHECK_EQ_I64(w[i].count, 0);
    CHECK_EQ_I64(PA_LOAD(&overlaps), 0);
    CHECK_EQ_I64(plain_a, (int64_t)NTHREADS * iters);
    CHECK_EQ_I64(plain_b, (int64_t)NTHREADS * iters);
    CHECK(!pa_spinlock_locked(&spin));

    /* misuse and the non-blocking forms */
    CHECK(op_spinlock_release(&spin) == PA_NOT_HELD);
    CHECK(op_spinlock_try_acquire(&spin));
    CHECK(!op_spinlock_try_acquire(&spin));
    CHECK(pa_spinlock_acquire(&spin, 0) == PA_TIMEDOUT); /* deadline 0: one try */

    /* timeouts, while this thread holds it: 4 threads sleep in the futex */
    timed t[4];
    for (int i = 0; i < 4; i++) t[i].timeout_ns = 50000000; /* 50 ms */
    run_threads(4, spin_timeout_worker, t, sizeof t[0]);
    for (int i = 0; i < 4; i++) {
        CHECK(t[i].result == PA_TIMEDOUT);
        CHECK(t[i].elapsed_ns >= 50000000 - 1000000); /* not early (1 ms clock slack) */
    }
    CHECK(pa_spinlock_locked(&spin));
    CHECK(op_spinlock_release(&spin) == PA_ACQUIRED);

    /* a release while threads sleep must wake one, which takes the lock and
     * whose own release (the word is 2 now) wakes the next */
    CHECK(op_spinlock_try_acquire(&spin));
    for (int i = 0; i < 3; i++) t[i].timeout_ns = 10LL * 1000000000; /* 10 s */
    test_thread th[3];
    PA_STORE(&start_gate, 0);
    PA_STORE(&arrived, 0);
    for (int i = 0; i < 3; i++) thread_start(&th[i], spin_handoff_worker, &t[i]);
    while (PA_LOAD(&arrived) != 3) pa_thread_yield();
    PA_STORE(&start_gate, 1);
    sleep_ms(100); /* let them reach the futex */
    CHECK(op_spinlock_release(&spin) == PA_ACQUIRED);
    for (int i = 0; i < 3; i++) thread_join(th[i]);
    for (int i = 0; i < 3; i++) {
        CHECK(t[i].result == PA_ACQUIRED);
        CHECK(t[i].elapsed_ns < 5000000000LL);
    }
    CHECK(!pa_spinlock_locked(&spin));
}

/* ---------------------------------------------------------------------------
 * RWLock
 * ------------------------------------------------------------------------- */
static pa_rwlock rw;
static pa_atomic_u32 readers_in, writers_in, rw_violations, max_readers_seen;

static void rw_worker(void *p) {
    worker *w = p;
    bool writer = w->index % 4 == 0; /* 1 writer for every 3 readers */
    gate_wait();
    for (long i = 0; i < w->iterations; i++) {
        if (writer) {
            if (pa_rwlock_acquire_write(&rw, PA_FOREVER) != PA_ACQUIRED) {
                w->count++;
                continue;
            }
            if (atomic_fetch_add(&writers_in, 1) != 0 || PA_LOAD(&readers_in) != 0)
                atomic_fetch_add(&rw_violations, 1);
            int64_t a = plain_a;
            if (i % 32 == 0) pa_thread_yield();
            plain_a = a + 1;
            plain_b = plain_b + 1;
            atomic_fetch_sub(&writers_in, 1);
            if (pa_rwlock_release_write(&rw) != PA_ACQUIRED) w->count++;
        } else {
            if (pa_rwlock_acquire_read(&rw, PA_FOREVER) != PA_ACQUIRED) {
                w->count++;
                continue;
            }
            uint32_t n = atomic_fetch_add(&readers_in, 1) + 1;
            uint32_t seen = PA_LOAD(&max_readers_seen);
            while (n > seen && !PA_CAS(&max_readers_seen, &seen, n)) {
            }
            if (PA_LOAD(&writers_in) != 0) atomic_fetch_add(&rw_violations, 1);
            if (plain_a != plain_b) atomic_fetch_add(&rw_violations, 1); /* torn write seen */
            if (i % 32 == 0) pa_thread_yield();
            atomic_fetch_sub(&readers_in, 1);
            w->sum++;
            if (pa_rwlock_release_read(&rw) != PA_ACQUIRED) w->count++;
        }
    }
}

static void rw_timeout_reader(void *p) {
    timed *t = p;
    gate_wait();
    int64_t t0 = pa_monotonic_ns();
    t->result = pa_rwlock_acquire_read(&rw, pa_deadline_after(t->timeout_ns));
    t->elapsed_ns = pa_monotonic_ns() - t0;
    if (t->result == PA_ACQUIRED) pa_rwlock_release_read(&rw);
}

static void rw_timeout_writer(void *p) {
    timed *t = p;
    gate_wait();
    int64_t t0 = pa_monotonic_ns();
    t->result = pa_rwlock_acquire_write(&rw, pa_deadline_after(t->timeout_ns));
    t->elapsed_ns = pa_monotonic_ns() - t0;
    if (t->result == PA_ACQUIRED) pa_rwlock_release_write(&rw);
}

static void test_rwlock(void) {
    worker w[NTHREADS] = {{0}};
    long iters = 10000 * scale;
    for (int i = 0; i < NTHREADS; i++) {
        w[i].index = i;
        w[i].iterations = iters;
    }
    pa_rwlock_init(&rw);
    plain_a = plain_b = 0;
    PA_STORE(&rw_violations, 0);
    PA_STORE(&max_readers_seen, 0);
    run_threads(NTHREADS, rw_worker, w, sizeof w[0]);
    int64_t writes = 0, reads = 0;
    for (int i = 0; i < NTHREADS; i++) {
        CHECK_EQ_I64(w[i].count, 0);
        if (i % 4 == 0)
            writes += iters;
        else
            reads += w[i].sum;
    }
    CHECK_EQ_I64(PA_LOAD(&rw_violations), 0);
    CHECK_EQ_I64(plain_a, writes);
    CHECK_EQ_I64(plain_b, writes);
    CHECK_EQ_I64(reads, (int64_t)(NTHREADS - NTHREADS / 4) * iters);
    CHECK(!pa_rwlock_is_write_locked(&rw));
    CHECK_EQ_I64(pa_rwlock_reader_count(&rw), 0);
    if (!quiet) printf("    (at most %u readers were inside at once)\n", (unsigned)PA_LOAD(&max_readers_seen));

    /* ownership and misuse */
    CHECK(pa_rwlock_release_read(&rw) == PA_READ_NOT_HELD);
    CHECK(pa_rwlock_release_write(&rw) == PA_WRITE_NOT_HELD);
    CHECK(pa_rwlock_acquire_read(&rw, PA_FOREVER) == PA_ACQUIRED);
    CHECK(pa_rwlock_acquire_read(&rw, PA_FOREVER) == PA_ACQUIRED); /* recursive */
    CHECK_EQ_I64(pa_rwlock_read_holds_by_me(&rw), 2);
    CHECK(pa_rwlock_acquire_write(&rw, PA_FOREVER) == PA_UPGRADE);
    CHECK(pa_rwlock_release_read(&rw) == PA_ACQUIRED);
    CHECK(pa_rwlock_release_read(&rw) == PA_ACQUIRED);
    CHECK(pa_rwlock_release_read(&rw) == PA_READ_NOT_HELD);
    CHECK(pa_rwlock_acquire_write(&rw, 0) == PA_ACQUIRED);
    CHECK(pa_rwlock_write_held_by_me(&rw));
    CHECK(pa_rwlock_acquire_write(&rw, PA_FOREVER) == PA_WRITE_TWICE);
    CHECK(pa_rwlock_acquire_read(&rw, PA_FOREVER) == PA_READ_WHILE_WRITING);

    /* timeouts while this thread holds the write lock */
    timed t[4];
    for (int i = 0; i < 4; i++) t[i].timeout_ns = 50000000;
    run_threads(2, rw_timeout_reader, t, sizeof t[0]);
    run_threads(2, rw_timeout_writer, t + 2, sizeof t[0]);
    for (int i = 0; i < 4; i++) {
        CHECK(t[i].result == PA_TIMEDOUT);
        CHECK(t[i].elapsed_ns >= 50000000 - 1000000);
    }

    /* The waiters that gave up left nothing behind: once released, the lock
     * is free. */
    CHECK(pa_rwlock_release_write(&rw) == PA_ACQUIRED);
    CHECK_EQ_I64(PA_LOAD(&rw.state), 0);

    /* A writer that gives up while readers hold the lock must not hold back
     * new readers: no writer is left waiting.  (An earlier version kept
     * WRITERS_WAITING set here, and the reader below waited until the holder
     * released.) */
    CHECK(pa_rwlock_acquire_read(&rw, 0) == PA_ACQUIRED);
    t[2].timeout_ns = 50000000;
    run_threads(1, rw_timeout_writer, t + 2, sizeof t[0]);
    CHECK(t[2].result == PA_TIMEDOUT);
    t[0].timeout_ns = 1000000000LL;
    run_threads(1, rw_timeout_reader, t, sizeof t[0]);
    CHECK(t[0].result == PA_ACQUIRED);
    CHECK(t[0].elapsed_ns < 500000000LL);
    CHECK(pa_rwlock_release_read(&rw) == PA_ACQUIRED);
    CHECK_EQ_I64(PA_LOAD(&rw.state), 0);
    CHECK(pa_rwlock_acquire_write(&rw, 0) == PA_ACQUIRED);

    /* downgrade: now a reader; others may read, a writer still times out */
    CHECK(pa_rwlock_downgrade(&rw) == PA_ACQUIRED);
    CHECK(!pa_rwlock_write_held_by_me(&rw));
    CHECK_EQ_I64(pa_rwlock_reader_count(&rw), 1);
    for (int i = 0; i < 4; i++) t[i].timeout_ns = 2000000000LL;
    t[2].timeout_ns = 50000000;
    run_threads(2, rw_timeout_reader, t, sizeof t[0]);
    run_threads(1, rw_timeout_writer, t + 2, sizeof t[0]);
    CHECK(t[0].result == PA_ACQUIRED && t[1].result == PA_ACQUIRED);
    CHECK(t[2].result == PA_TIMEDOUT);
    CHECK(pa_rwlock_release_read(&rw) == PA_ACQUIRED);
    /* a writer that timed out left nothing behind: the lock is free */
    CHECK(pa_rwlock_acquire_write(&rw, 0) == PA_ACQUIRED);
    CHECK(pa_rwlock_release_write(&rw) == PA_ACQUIRED);
    CHECK(pa_rwlock_acquire_read(&rw, 0) == PA_ACQUIRED);
    CHECK(pa_rwlock_release_read(&rw) == PA_ACQUIRED);
    CHECK_EQ_I64(PA_LOAD(&rw.state), 0);
}

/* Writer preference at a reader-to-writer hand-off, whatever the platform's
 * wake call can say about how many it woke.  A writer waits behind this
 * thread's read lock, readers queue behind the writer; the read release must
 * hand the lock to the writer and leave the readers parked (READERS_WAITING
 * still set) until the writer's release starts their read phase.  Before the
 * fix, a wake that returned -1 (Windows, macOS; the capped build injects it
 * here) counted as "no writer woken", and the releaser woke every reader
 * too, who then raced the writer. */
static pa_rwlock pref;
static pa_atomic_u32 pref_order;     /* stamps: who got the lock when */
static pa_atomic_u32 pref_writer_in; /* the writer holds the lock */
static pa_atomic_u32 pref_go;        /* the writer may release */

typedef struct {
    uint32_t stamp;
    pa_lock_result result;
} pref_slot;

static void pref_writer(void *p) {
    pref_slot *slot = p;
    gate_wait();
    slot->result = pa_rwlock_acquire_write(&pref, pa_deadline_after(10000000000LL));
    if (slot->result != PA_ACQUIRED) return;
    slot->stamp = atomic_fetch_add(&pref_order, 1);
    PA_STORE(&pref_writer_in, 1);
    int64_t until = pa_monotonic_ns() + 10000000000LL;
    while (PA_LOAD(&pref_go) == 0 && pa_monotonic_ns() < until) pa_thread_yield();
    pa_rwlock_release_write(&pref);
}

static void pref_reader(void *p) {
    pref_slot *slot = p;
    gate_wait();
    slot->result = pa_rwlock_acquire_read(&pref, pa_deadline_after(10000000000LL));
    if (slot->result != PA_ACQUIRED) return;
    slot->stamp = atomic_fetch_add(&pref_order, 1);
    pa_rwlock_release_read(&pref);
}

/* Polls `cond` for up to 5 s; false if it never held. */
#define WAIT_FOR(cond)                                                          \
    do {                                                                        \
        int64_t until_ = pa_monotonic_ns() + 5000000000LL;                      \
        while (!(cond) && pa_monotonic_ns() < until_) pa_thread_yield();        \
    } while (0)

static void start_gated(test_thread *t, void (*fn)(void *), void *arg) {
    PA_STORE(&start_gate, 0);
    PA_STORE(&arrived, 0);
    if (thread_start(t, fn, arg) != 0) exit(2);
    while (PA_LOAD(&arrived) != 1) pa_thread_yield();
    PA_STORE(&start_gate, 1);
}

static void test_rwlock_writer_preference(void) {
    enum { NREADERS = 4 };
    pref_slot w = {0, PA_STATUS_COUNT}, r[NREADERS];
    test_thread wt, rt[NREADERS];
    pa_rwlock_init(&pref);
    PA_STORE(&pref_order, 0);
    PA_STORE(&pref_writer_in, 0);
    PA_STORE(&pref_go, 0);
    CHECK(pa_rwlock_acquire_read(&pref, 0) == PA_ACQUIRED);
    start_gated(&wt, pref_writer, &w);
    WAIT_FOR(PA_LOAD(&pref.write_waiters) == 1 && (PA_LOAD(&pref.state) & PA_RW_WRITERS_WAITING));
    CHECK_EQ_I64(PA_LOAD(&pref.write_waiters), 1);
    for (int i = 0; i < NREADERS; i++) {
        r[i].stamp = 0;
        r[i].result = PA_STATUS_COUNT;
        start_gated(&rt[i], pref_reader, &r[i]);
    }
    WAIT_FOR(PA_LOAD(&pref.read_waiters) == NREADERS && (PA_LOAD(&pref.state) & PA_RW_READERS_WAITING));
    CHECK_EQ_I64(PA_LOAD(&pref.read_waiters), NREADERS);

    CHECK(pa_rwlock_release_read(&pref) == PA_ACQUIRED);
    /* The release chose the writer: the readers are still parked. */
    CHECK(PA_LOAD(&pref.state) & PA_RW_READERS_WAITING);
    WAIT_FOR(PA_LOAD(&pref_writer_in) == 1);
    CHECK_EQ_I64(PA_LOAD(&pref_writer_in), 1);
    CHECK(pa_rwlock_is_write_locked(&pref));
    CHECK_EQ_I64(PA_LOAD(&pref.read_waiters), NREADERS); /* none got in, none left */
    PA_STORE(&pref_go, 1);
    thread_join(wt);
    for (int i = 0; i < NREADERS; i++) thread_join(rt[i]);
    CHECK(w.result == PA_ACQUIRED);
    CHECK_EQ_I64(w.stamp, 0); /* first */
    for (int i = 0; i < NREADERS; i++) {
        CHECK(r[i].result == PA_ACQUIRED);
        CHECK(r[i].stamp >= 1);
    }
    CHECK_EQ_I64(PA_LOAD(&pref.state), 0);
    CHECK_EQ_I64(PA_LOAD(&pref.read_waiters), 0);
    CHECK_EQ_I64(PA_LOAD(&pref.write_waiters), 0);
}

/* The same hand-off, deterministically: the writer is caught in the window
 * where it is counted in write_waiters and has set WRITERS_WAITING but is not
 * asleep yet (this thread plays it, by writing those two fields as lock_write
 * does).  No wake call can then report a writer woken: Linux says 0, Windows
 * and macOS (and the capped build) say -1.  The release must still leave the
 * lock to that writer, which takes it when it next looks; before the fix it
 * woke all readers, and with 4 of them against one writer the readers won. */
static void test_rwlock_handoff_to_counted_writer(void) {
    enum { NREADERS = 4 };
    pref_slot r[NREADERS];
    test_thread rt[NREADERS];
    pa_rwlock_init(&pref);
    PA_STORE(&pref_order, 0);
    CHECK(pa_rwlock_acquire_read(&pref, 0) == PA_ACQUIRED);
    /* lock_write's blocking part, up to just before its futex wait */
    atomic_fetch_add(&pref.write_waiters, 1);
    atomic_fetch_or(&pref.state, PA_RW_WRITERS_WAITING);
    for (int i = 0; i < NREADERS; i++) {
        r[i].stamp = 0;
        r[i].result = PA_STATUS_COUNT;
        start_gated(&rt[i], pref_reader, &r[i]);
    }
    WAIT_FOR(PA_LOAD(&pref.read_waiters) == NREADERS && (PA_LOAD(&pref.state) & PA_RW_READERS_WAITING));
    CHECK_EQ_I64(PA_LOAD(&pref.read_waiters), NREADERS);
    uint32_t notify = PA_LOAD(&pref.writer_notify);

    CHECK(pa_rwlock_release_read(&pref) == PA_ACQUIRED);
    /* Handed to the writer: WW kept (no reader may get in before the woken
     * writer: the model's writer-preference liveness check), the notify
     * bumped (the writer's wait on the old value returns at once), the
     * readers left parked. */
    uint32_t s = PA_LOAD(&pref.state);
    CHECK_EQ_I64(s, PA_RW_READERS_WAITING | PA_RW_WRITERS_WAITING);
    CHECK(pa_rwlock_acquire_read(&pref, 0) == PA_TIMEDOUT); /* a new reader waits */
    CHECK(PA_LOAD(&pref.writer_notify) != notify);
    /* The writer looks again and takes the free lock, then leaves the
     * blocking part (the last counted writer: nothing stale to drop). */
    CHECK(pa_rwlock_acquire_write(&pref, 0) == PA_ACQUIRED);
    atomic_fetch_sub(&pref.write_waiters, 1);
    CHECK_EQ_I64(PA_LOAD(&pref_order), 0); /* no reader got in first */
    CHECK(pa_rwlock_release_write(&pref) == PA_ACQUIRED); /* read phase */
    for (int i = 0; i < NREADERS; i++) thread_join(rt[i]);
    for (int i = 0; i < NREADERS; i++) CHECK(r[i].result == PA_ACQUIRED);
    CHECK_EQ_I64(PA_LOAD(&pref_order), NREADERS);
    CHECK_EQ_I64(PA_LOAD(&pref.state), 0);
    CHECK_EQ_I64(PA_LOAD(&pref.read_waiters), 0);
}

/* fork() while other threads wait (POSIX): the child must not inherit them.
 * The forking thread holds the write lock while a reader sleeps; in the
 * child, release_write() and then acquire_write() must work (before the fix
 * the release started a read phase for the phantom reader, and the acquire
 * waited forever).  Then the forking thread holds a read lock while a writer
 * sleeps; in the child a new thread must get a read lock beside it (the
 * phantom writer held it back).  Each child reports through its exit status.
 * Skipped under ThreadSanitizer, which does not support fork() with threads
 * running (tests/test_fork_waiters.py covers both bindings). */
#if defined(__SANITIZE_THREAD__)
#define PA_TEST_NO_FORK 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PA_TEST_NO_FORK 1
#endif
#endif
#if !defined(_WIN32) && !defined(PA_TEST_NO_FORK)
#include <sys/wait.h>
#include <unistd.h>

static pa_rwlock forked;
static pa_lock_result forked_thread_result;

static void fork_reader(void *p) {
    (void)p;
    gate_wait();
    if (pa_rwlock_acquire_read(&forked, pa_deadline_after(10000000000LL)) == PA_ACQUIRED)
        pa_rwlock_release_read(&forked);
}
static void fork_writer(void *p) {
    (void)p;
    gate_wait();
    if (pa_rwlock_acquire_write(&forked, pa_deadline_after(10000000000LL)) == PA_ACQUIRED)
        pa_rwlock_release_write(&forked);
}
static void fork_child_reader(void *p) {
    (void)p;
    gate_wait();
    forked_thread_result = pa_rwlock_acquire_read(&forked, pa_deadline_after(2000000000LL));
    if (forked_thread_result == PA_ACQUIRED) pa_rwlock_release_read(&forked);
}

/* Exit status of the child that ran child(), 99 if it did not exit. */
static int in_forked_child(int (*child)(void)) {
    pid_t pid = fork();
    if (pid == 0) _exit(child());
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 99;
    return WEXITSTATUS(status);
}

static int child_after_write_held(void) {
    if (pa_rwlock_release_write(&forked) != PA_ACQUIRED) return 1;
    if (pa_rwlock_acquire_write(&forked, pa_deadline_after(2000000000LL)) != PA_ACQUIRED) return 2;
    if (pa_rwlock_release_write(&forked) != PA_ACQUIRED) return 3;
    if (PA_LOAD(&forked.state) != 0 || PA_LOAD(&forked.read_waiters) != 0) return 4;
    return 0;
}

static int child_after_read_held(void) {
    test_thread t;
    forked_thread_result = PA_STATUS_COUNT;
    start_gated(&t, fork_child_reader, NULL);
    thread_join(t);
    if (forked_thread_result != PA_ACQUIRED) return 1;
    if (pa_rwlock_reader_count(&forked) != 1) return 2; /* ours is kept */
    if (pa_rwlock_release_read(&forked) != PA_ACQUIRED) return 3;
    if (pa_rwlock_acquire_write(&forked, pa_deadline_after(2000000000LL)) != PA_ACQUIRED) return 4;
    pa_rwlock_release_write(&forked);
    if (PA_LOAD(&forked.state) != 0 || PA_LOAD(&forked.write_waiters) != 0) return 5;
    return 0;
}

static void test_rwlock_fork_with_waiters(void) {
    test_thread t;
    /* qemu's user mode aborts when a threaded guest forks (an assertion in
     * its plugin core): check_release.sh sets this for its qemu runs; the
     * native and wine runs keep the test. */
    if (getenv("PA_TEST_NO_FORK") != NULL) {
        if (!quiet) printf("    (skipped: PA_TEST_NO_FORK is set, as for qemu user mode)\n");
        return;
    }
    pa_rwlock_init(&forked);
    CHECK(pa_rwlock_acquire_write(&forked, 0) == PA_ACQUIRED);
    start_gated(&t, fork_reader, NULL);
    WAIT_FOR(PA_LOAD(&forked.read_waiters) == 1 && (PA_LOAD(&forked.state) & PA_RW_READERS_WAITING));
    CHECK_EQ_I64(in_forked_child(child_after_write_held), 0);
    CHECK(pa_rwlock_release_write(&forked) == PA_ACQUIRED); /* the parent's reader goes on */
    thread_join(t);

    /* The read held twice: counted (the bias kept off, so the writer sleeps
     * counted, with WRITERS_WAITING), then biased (the writer owns the word
     * and sleeps draining: in the child the reset must give that phantom
     * drainer's word back, or no thread of the child could read). */
    for (int biased = 0; biased <= 1; biased++) {
        if (!biased) { /* a write section turns the bias off */
            CHECK(pa_rwlock_acquire_write(&forked, 0) == PA_ACQUIRED);
            CHECK(pa_rwlock_release_write(&forked) == PA_ACQUIRED);
        }
        PA_STORE(&forked.inhibit_until_ns, biased ? 0 : INT64_MAX);
        if (biased) { /* a counted read turns the bias on */
            CHECK(pa_rwlock_acquire_read(&forked, 0) == PA_ACQUIRED);
            CHECK(pa_rwlock_release_read(&forked) == PA_ACQUIRED);
        }
        CHECK_EQ_I64(PA_LOAD(&forked.bias), biased ? PA_RW_BIAS_ON : PA_RW_BIAS_OFF);
        CHECK(pa_rwlock_acquire_read(&forked, 0) == PA_ACQUIRED);
        CHECK_EQ_I64(PA_LOAD(&forked.state), biased ? 0 : 1); /* a biased read is not counted */
        start_gated(&t, fork_writer, NULL);
        if (biased) {
            WAIT_FOR(PA_LOAD(&forked.revoking) != 0);
            CHECK(PA_LOAD(&forked.revoking) != 0);
        } else {
            WAIT_FOR(PA_LOAD(&forked.write_waiters) == 1 && (PA_LOAD(&forked.state) & PA_RW_WRITERS_WAITING));
        }
        CHECK_EQ_I64(in_forked_child(child_after_read_held), 0);
        CHECK(pa_rwlock_release_read(&forked) == PA_ACQUIRED);
        thread_join(t);
        CHECK_EQ_I64(PA_LOAD(&forked.state), 0);
    }
    pa_rwlock_destroy(&forked);
}
#else
static void test_rwlock_fork_with_waiters(void) {
    if (!quiet) printf("    (skipped: no fork() here, or ThreadSanitizer)\n");
}
#endif

/* ---------------------------------------------------------------------------
 * RWLock biased reads (pa_rwlock.h, "Biased reads"): the path is really
 * taken (a biased read leaves the word's count at 0), the observers count
 * biased holds, a writer's drain that times out leaves nothing held (and
 * the bias UNDRAINED, so new readers are counted), a writer asleep in the
 * drain is woken by the release, a recursive read passes a draining writer,
 * and destroy clears the slots of a lock that a thread (gone since) still
 * held.
 * ------------------------------------------------------------------------- */
static pa_rwlock bias_rw;
static pa_atomic_u32 bias_step; /* the main thread's orders to the holder */
static pa_atomic_u32 bias_holder_at;
static pa_lock_result bias_writer_result;

static void bias_holder(void *p) {
    (void)p;
    gate_wait();
    if (pa_rwlock_acquire_read(&bias_rw, 0) != PA_ACQUIRED) exit(4);
    PA_STORE(&bias_holder_at, 1);
    while (PA_LOAD(&bias_step) < 1) pa_thread_yield();
    /* step 1: a writer drains; read again (recursive), then release both */
    PA_STORE(&bias_holder_at, pa_rwlock_acquire_read(&bias_rw, pa_deadline_after(5000000000LL)) == PA_ACQUIRED ? 2 : 99);
    while (PA_LOAD(&bias_step) < 2) pa_thread_yield();
    pa_rwlock_release_read(&bias_rw);
    pa_rwlock_release_read(&bias_rw);
    PA_STORE(&bias_holder_at, 3);
}

static void bias_writer(void *p) {
    (void)p;
    gate_wait();
    bias_writer_result = pa_rwlock_acquire_write(&bias_rw, pa_deadline_after(10000000000LL));
    if (bias_writer_result == PA_ACQUIRED) pa_rwlock_release_write(&bias_rw);
}

static void bias_forgotten_holder(void *p) {
    (void)p;
    gate_wait();
    /* Never released: the thread exits holding it, its slot stays taken
     * (as a counted reader's count would), and the lock is destroyed. */
    if (pa_rwlock_acquire_read(&bias_rw, 0) != PA_ACQUIRED) exit(5);
}

static void test_rwlock_bias(void) {
    test_thread h, w;
    pa_rwlock_init(&bias_rw);
    PA_STORE(&bias_step, 0);
    PA_STORE(&bias_holder_at, 0);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.bias), PA_RW_BIAS_OFF); /* off until a counted read */
    CHECK(pa_rwlock_acquire_read(&bias_rw, 0) == PA_ACQUIRED);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.state), 1);
    CHECK(pa_rwlock_release_read(&bias_rw) == PA_ACQUIRED);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.bias), PA_RW_BIAS_ON);

    /* Biased, here: the count stays 0, the observers see it, recursion too. */
    CHECK(pa_rwlock_acquire_read(&bias_rw, 0) == PA_ACQUIRED);
    CHECK(pa_rwlock_acquire_read(&bias_rw, 0) == PA_ACQUIRED);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.state), 0);
    CHECK_EQ_I64(pa_rwlock_reader_count(&bias_rw), 2);
    CHECK_EQ_I64(pa_rwlock_read_holds_by_me(&bias_rw), 2);
    CHECK(pa_rwlock_side_locked(&bias_rw, true));
    CHECK(pa_rwlock_acquire_write(&bias_rw, 0) == PA_UPGRADE);
    CHECK(pa_rwlock_acquire_upgradable(&bias_rw, 0) == PA_UPGRADABLE_WHILE_READING);
    CHECK(pa_rwlock_release_read(&bias_rw) == PA_ACQUIRED);
    CHECK(pa_rwlock_release_read(&bias_rw) == PA_ACQUIRED);
    CHECK(pa_rwlock_release_read(&bias_rw) == PA_READ_NOT_HELD);
    CHECK_EQ_I64(pa_rwlock_reader_count(&bias_rw), 0);

    /* Another thread holds a biased read: a try and a timed write give up
     * in the drain, holding nothing; the bias is left UNDRAINED. */
    start_gated(&h, bias_holder, NULL);
    WAIT_FOR(PA_LOAD(&bias_holder_at) == 1);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.state), 0);
    CHECK_EQ_I64(pa_rwlock_reader_count(&bias_rw), 1);
    int64_t stamp = pa_rwlock_optimistic_read(&bias_rw);
    CHECK(pa_rwlock_acquire_write(&bias_rw, 0) == PA_TIMEDOUT);
    CHECK(pa_rwlock_acquire_write(&bias_rw, pa_deadline_after(50000000LL)) == PA_TIMEDOUT);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.state), 0);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.writer), 0);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.revoking), 0);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.bias), PA_RW_BIAS_UNDRAINED);
    CHECK(!pa_rwlock_is_write_locked(&bias_rw));
    CHECK(pa_rwlock_validate(&bias_rw, stamp)); /* nothing was written */
    /* a new reader is counted now */
    CHECK(pa_rwlock_acquire_read(&bias_rw, 0) == PA_ACQUIRED);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.state), 1);
    CHECK_EQ_I64(pa_rwlock_reader_count(&bias_rw), 2);
    CHECK(pa_rwlock_release_read(&bias_rw) == PA_ACQUIRED);

    /* A writer sleeps in the drain; the holder reads again (recursive: no
     * deadlock), then releases both, which wakes the writer. */
    start_gated(&w, bias_writer, NULL);
    WAIT_FOR(PA_LOAD(&bias_rw.revoking) != 0);
    CHECK(PA_LOAD(&bias_rw.revoking) != 0);
    PA_STORE(&bias_step, 1);
    WAIT_FOR(PA_LOAD(&bias_holder_at) >= 2);
    CHECK_EQ_I64(PA_LOAD(&bias_holder_at), 2);
    CHECK(!pa_rwlock_is_write_locked(&bias_rw)); /* the drainer is not in */
    PA_STORE(&bias_step, 2);
    thread_join(h);
    thread_join(w);
    CHECK_EQ_I64(bias_writer_result, PA_ACQUIRED);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.bias), PA_RW_BIAS_OFF);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.state), 0);
    CHECK(!pa_rwlock_validate(&bias_rw, stamp));

    /* Destroyed while another thread biased-holds it: its slot is cleared,
     * so a lock initialised at the same address is free. */
    PA_STORE(&bias_rw.inhibit_until_ns, 0);
    CHECK(pa_rwlock_acquire_read(&bias_rw, 0) == PA_ACQUIRED); /* counted: bias on */
    CHECK(pa_rwlock_release_read(&bias_rw) == PA_ACQUIRED);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.bias), PA_RW_BIAS_ON);
    start_gated(&h, bias_forgotten_holder, NULL);
    thread_join(h);
    CHECK_EQ_I64(PA_LOAD(&bias_rw.state), 0);  /* biased */
    CHECK_EQ_I64(pa_rwlock_reader_count(&bias_rw), 1);
    CHECK(pa_rwlock_acquire_write(&bias_rw, 0) == PA_TIMEDOUT); /* still held */
    pa_rwlock_destroy(&bias_rw);
    pa_rwlock_init(&bias_rw);
    CHECK(pa_rwlock_acquire_read(&bias_rw, 0) == PA_ACQUIRED);
    CHECK(pa_rwlock_release_read(&bias_rw) == PA_ACQUIRED); /* bias on again */
    CHECK_EQ_I64(pa_rwlock_reader_count(&bias_rw), 0);
    CHECK(pa_rwlock_acquire_write(&bias_rw, 0) == PA_ACQUIRED);
    CHECK(pa_rwlock_release_write(&bias_rw) == PA_ACQUIRED);
    pa_rwlock_destroy(&bias_rw);
}

/* ---------------------------------------------------------------------------
 * AtomicInt wait/notify
 * ------------------------------------------------------------------------- */
static pa_atomic_i64 ball;
static pa_notifier ball_n;

/* Ping-pong: ping turns 2k into 2k+1, pong turns 2k+1 into 2k+2; each waits
 * for the other's move with pa_int_wait and announces its own with
 * pa_int_notify.  A lost wakeup hangs the test (caught by the deadline). */
static void pong(void *p) {
    worker *w = p;
    gate_wait();
    for (long k = 0; k < w->iterations; k++) {
        for (;;) {
            pa_lock_result r = pa_int_wait(&ball, &ball_n, 2 * k, pa_deadline_after(10000000000LL));
            if (r == PA_ACQUIRED) break;
            if (r != PA_INTERRUPTED) {
                w->count++;
                return;
            }
        }
        if (op_load(&ball) != 2 * k + 1) w->count++;
        op_store(&ball, 2 * k + 2);
        pa_int_notify(&ball_n, false);
    }
}

static void ping(void *p) {
    worker *w = p;
    gate_wait();
    for (long k = 0; k < w->iterations; k++) {
        op_store(&ball, 2 * k + 1);
        pa_int_notify(&ball_n, k % 2 == 0); /* both notify_one and notify_all */
        for (;;) {
            pa_lock_result r = pa_int_wait(&ball, &ball_n, 2 * k + 1, pa_deadline_after(10000000000LL));
            if (r == PA_ACQUIRED) break;
            if (r != PA_INTERRUPTED) {
                w->count++;
                return;
            }
        }
        if (op_load(&ball) != 2 * k + 2) w->count++;
    }
}

static void dispatch_pingpong(void *p) {
    worker *w = p;
    if (w->index == 0)
        ping(p);
    else
        pong(p);
}

typedef struct {
    int64_t expected;
    pa_lock_result result;
} waiter;

static void wait_worker(void *p) {
    waiter *wt = p;
    gate_wait();
    wt->result = pa_int_wait(&ball, &ball_n, wt->expected, pa_deadline_after(10000000000LL));
}

static void test_int_wait_notify(void) {
    worker w[2] = {{0}};
    long rounds = 5000 * scale;
    w[0].index = 0;
    w[1].index = 1;
    w[0].iterations = w[1].iterations = rounds;
    PA_STORE(&ball, 0);
    pa_notifier_init(&ball_n);
    int64_t t0 = pa_monotonic_ns();
    run_threads(2, dispatch_pingpong, w, sizeof w[0]);
    CHECK_EQ_I64(w[0].count, 0);
    CHECK_EQ_I64(w[1].count, 0);
    CHECK_EQ_I64(op_load(&ball), 2 * rounds);
    if (!quiet)
        printf("    (%ld round trips, %.1f us each)\n", rounds,
               (double)(pa_monotonic_ns() - t0) / 1000.0 / (double)rounds);
    CHECK_EQ_I64(PA_LOAD(&ball_n.waiters), 0);

    /* notify_all wakes every waiter once the value changed */
    waiter wt[6];
    test_thread th[6];
    PA_STORE(&ball, 42);
    PA_STORE(&start_gate, 0);
    PA_STORE(&arrived, 0);
    for (int i = 0; i < 6; i++) {
        wt[i].expected = 42;
        wt[i].result = PA_STATUS_COUNT; /* "not returned yet" */
        thread_start(&th[i], wait_worker, &wt[i]);
    }
    while (PA_LOAD(&arrived) != 6) pa_thread_yield();
    PA_STORE(&start_gate, 1);
    int64_t until = pa_monotonic_ns() + 5000000000LL;
    while (PA_LOAD(&ball_n.waiters) != 6 && pa_monotonic_ns() < until) pa_thread_yield();
    CHECK_EQ_I64(PA_LOAD(&ball_n.waiters), 6);
    sleep_ms(20);
    pa_int_notify(&ball_n, true); /* value unchanged: they re-check and sleep on */
    sleep_ms(20);
    for (int i = 0; i < 6; i++) CHECK(wt[i].result == PA_STATUS_COUNT);
    op_store(&ball, 43);
    pa_int_notify(&ball_n, true);
    for (int i = 0; i < 6; i++) thread_join(th[i]);
    for (int i = 0; i < 6; i++) CHECK(wt[i].result == PA_ACQUIRED);
    CHECK_EQ_I64(PA_LOAD(&ball_n.waiters), 0);

    /* no wait when the value already differs; deadline 0; a real timeout */
    CHECK(pa_int_wait(&ball, &ball_n, 0, PA_FOREVER) == PA_ACQUIRED);
    CHECK(pa_int_wait(&ball, &ball_n, 43, 0) == PA_TIMEDOUT);
    int64_t s0 = pa_monotonic_ns();
    CHECK(pa_int_wait(&ball, &ball_n, 43, pa_deadline_after(30000000)) == PA_TIMEDOUT);
    int64_t waited = pa_monotonic_ns() - s0;
    CHECK(waited >= 30000000 - 1000000);
    CHECK(waited < 5000000000LL);
    /* a notify without a change does not end the wait early */
    pa_int_notify(&ball_n, true);
    CHECK(pa_int_wait(&ball, &ball_n, 43, pa_deadline_after(1000000)) == PA_TIMEDOUT);
}

#ifndef PA_WAIT_CAP_NS
#define PA_WAIT_CAP_NS 0
#endif

/* Waits on `word` (whose value stays `value`) until pa_wait_u32 reports a
 * timeout, as every caller in the core does; returns how many calls it took. */
static int wait_until_timeout(pa_atomic_u32 *word, uint32_t value, int64_t deadline) {
    int calls = 0;
    for (;;) {
        calls++;
        pa_wait_result r = pa_wait_u32(word, value, deadline);
        if (r == PA_WAIT_TIMEDOUT || calls > 1000000) return calls;
    }
}

/* pa_wait_u32 directly: timeouts, values that already differ, wake counts. */
static void test_wait_layer(void) {
    pa_atomic_u32 word = 5;
    CHECK(pa_wait_u32(&word, 4, PA_FOREVER) == PA_WAIT_WOKEN); /* differs: at once */
    int64_t t0 = pa_monotonic_ns();
    int calls = wait_until_timeout(&word, 5, pa_deadline_after(20000000));
    CHECK(pa_monotonic_ns() - t0 >= 20000000);
    if (PA_WAIT_CAP_NS == 0) CHECK_EQ_I64(calls, 1); /* a futex wait to the deadline */
    CHECK(pa_wait_u32(&word, 5, pa_monotonic_ns() - 1) == PA_WAIT_TIMEDOUT); /* past */
    int woken = pa_wake_all(&word);
    CHECK(woken == 0 || woken == -1);
    CHECK(pa_deadline_after(-1) == PA_FOREVER);
    CHECK(pa_deadline_after(INT64_MAX) == PA_FOREVER); /* saturates */
    CHECK(pa_wait_mechanism() != NULL && pa_wait_mechanism()[0] != '\0');
    /* thread ids: nonzero and distinct per thread */
    CHECK(pa_thread_id() != 0);
    CHECK(pa_thread_id() == pa_thread_id());
}

/* A wait longer than the platform's cap is cut into slices, and the end of a
 * slice is not a timeout: in the capped build (csrc/tests/Makefile,
 * -DPA_WAIT_CAP_NS=2000000, as __ulock_wait caps old macOS at ~71.6 minutes)
 * a 50 ms wait takes many calls and lasts >= 50 ms; each call but the last
 * reports PA_WAIT_WOKEN.  (Before, the end of the first slice came back as
 * PA_WAIT_TIMEDOUT: acquire(timeout=3 h) gave up after ~72 minutes.)  The
 * lock-level timeout tests (spinlock, rwlock, int_wait_notify) run through
 * the same slices in that build. */
static void test_capped_wait(void) {
    pa_atomic_u32 word = 9;
    int64_t t0 = pa_monotonic_ns();
    pa_wait_result first = pa_wait_u32(&word, 9, pa_deadline_after(50000000));
    int calls = 1;
    if (first != PA_WAIT_TIMEDOUT) calls += wait_until_timeout(&word, 9, t0 + 50000000);
    int64_t waited = pa_monotonic_ns() - t0;
    CHECK(waited >= 50000000);
    CHECK(waited < 5000000000LL);
    if (PA_WAIT_CAP_NS > 0) {
        CHECK(first == PA_WAIT_WOKEN); /* the end of a 2 ms slice */
        CHECK((int64_t)calls * PA_WAIT_CAP_NS * 2 >= 50000000); /* at least half the slices */
    } else {
        CHECK(first == PA_WAIT_TIMEDOUT);
    }
    if (!quiet) printf("    (cap %lld ns: 50 ms in %d waits)\n", (long long)PA_WAIT_CAP_NS, calls);
    /* Forever is sliced too, and a wake still ends it. */
    PA_STORE(&word, 10);
    CHECK(pa_wait_u32(&word, 9, PA_FOREVER) == PA_WAIT_WOKEN);
}

static uint64_t other_id;
static void id_worker(void *p) {
    (void)p;
    gate_wait();
    other_id = pa_thread_id();
}

/* Ids are never reused: threads run one after the other (each may get the
 * stack, and so the TLS block, its predecessor had) still get distinct ids.
 * They were TLS addresses, which the next thread typically inherited. */
static void test_thread_id(void) {
    int dummy[1];
    uint64_t seen[16];
    int repeats = 0;
    for (int i = 0; i < 16; i++) {
        run_threads(1, id_worker, dummy, sizeof dummy[0]);
        seen[i] = other_id;
        CHECK(other_id != 0);
        CHECK(other_id != pa_thread_id());
        for (int j = 0; j < i; j++) repeats += seen[j] == seen[i];
    }
    CHECK_EQ_I64(repeats, 0);
}

/* A thread that exits holding the write lock: no later thread may pass for
 * it.  Before, a thread that inherited its TLS address could release the
 * lock, and its own acquires reported PA_WRITE_TWICE. */
static pa_rwlock orphan;
static void orphan_owner(void *p) {
    (void)p;
    gate_wait();
    CHECK(pa_rwlock_acquire_write(&orphan, 0) == PA_ACQUIRED);
}
static void orphan_probe(void *p) {
    int *bad = p;
    gate_wait();
    if (pa_rwlock_write_held_by_me(&orphan)) (*bad)++;
    if (pa_rwlock_release_write(&orphan) != PA_WRITE_NOT_HELD) (*bad)++;
    if (pa_rwlock_acquire_write(&orphan, pa_deadline_after(1000000)) != PA_TIMEDOUT) (*bad)++;
    if (pa_rwlock_acquire_read(&orphan, 0) != PA_TIMEDOUT) (*bad)++;
}

static void test_rwlock_dead_owner(void) {
    int dummy[1], bad[1] = {0};
    pa_rwlock_init(&orphan);
    run_threads(1, orphan_owner, dummy, sizeof dummy[0]);
    for (int i = 0; i < 20; i++) run_threads(1, orphan_probe, bad, sizeof bad[0]);
    CHECK_EQ_I64(bad[0], 0);
    CHECK(pa_rwlock_is_write_locked(&orphan));
    pa_rwlock_destroy(&orphan);
}

/* The read-hold table and locks freed on another thread.  Thread A
 * read-locks 40 locks in turn, and each is destroyed and freed by this
 * thread while A still holds it (a Python thread that drops a read-held
 * lock, collected on another thread).  A's table keeps an entry for each;
 * they must be reclaimed, so that A can still read-lock new locks.  Before,
 * the 33rd lock already failed with PA_READ_TABLE_FULL, and every later one. */
enum { DEAD_LOCKS = 40 };
static pa_rwlock *dead_locks[DEAD_LOCKS]; /* set up before A starts (helgrind sees that order) */
static pa_atomic_u32 dead_step;           /* odd: A's turn, even: ours */
static pa_lock_result dead_results[DEAD_LOCKS + 1];

static void dead_holder(void *p) {
    (void)p;
    gate_wait();
    for (uint32_t i = 0; i < DEAD_LOCKS; i++) {
        while (PA_LOAD(&dead_step) != 2 * i + 1) pa_thread_yield();
        dead_results[i] = pa_rwlock_acquire_read(dead_locks[i], 0); /* and never released */
        PA_STORE(&dead_step, 2 * i + 2);
    }
    pa_rwlock fresh;
    pa_rwlock_init(&fresh);
    dead_results[DEAD_LOCKS] = pa_rwlock_acquire_read(&fresh, 0);
    if (dead_results[DEAD_LOCKS] == PA_ACQUIRED) {
        CHECK_EQ_I64(pa_rwlock_read_holds_by_me(&fresh), 1);
        CHECK(pa_rwlock_release_read(&fresh) == PA_ACQUIRED);
    }
    pa_rwlock_destroy(&fresh);
}

static void test_rwlock_holds_of_freed_locks(void) {
    test_thread t;
    PA_STORE(&dead_step, 0);
    for (uint32_t i = 0; i < DEAD_LOCKS; i++) {
        dead_locks[i] = malloc(sizeof *dead_locks[i]);
        if (dead_locks[i] == NULL) exit(2);
        pa_rwlock_init(dead_locks[i]);
    }
    start_gated(&t, dead_holder, NULL);
    for (uint32_t i = 0; i < DEAD_LOCKS; i++) {
        PA_STORE(&dead_step, 2 * i + 1);
        while (PA_LOAD(&dead_step) != 2 * i + 2) pa_thread_yield();
        CHECK_EQ_I64(pa_rwlock_reader_count(dead_locks[i]), 1);
        pa_rwlock_destroy(dead_locks[i]); /* on this thread: A's entry stays behind */
    }
    thread_join(t);
    /* Freed only now, after the join: the memory itself plays no part (A
     * never touches a lock after its turn), and helgrind would take the
     * free for a race with A's atomics. */
    for (uint32_t i = 0; i < DEAD_LOCKS; i++) free(dead_locks[i]);
    for (int i = 0; i <= DEAD_LOCKS; i++) CHECK(dead_results[i] == PA_ACQUIRED);
}

/* Optimistic reads (pa_rwlock.h): stamps, what invalidates them and what
 * does not, then a storm: writers change a pair one field at a time, and an
 * optimistic reader whose validation succeeds must have seen it whole.  The
 * pair is relaxed atomics (a seqlock's data must be: a plain racing read is
 * undefined behaviour in C, and TSan would rightly say so). */
static pa_rwlock opt_rw;
static pa_atomic_u64 opt_a, opt_b;
static pa_atomic_u32 opt_writers_done, opt_bad;
static pa_atomic_u64 opt_valid_during;
#define OPT_WRITERS 2

static void opt_writer(void *p) {
    worker *w = p;
    gate_wait();
    for (long i = 0; i < w->iterations; i++) {
        if (pa_rwlock_acquire_write(&opt_rw, PA_FOREVER) != PA_ACQUIRED) {
            w->count++;
            continue;
        }
        uint64_t v = (uint64_t)w->index << 32 | (uint64_t)i;
        atomic_store_explicit(&opt_a, v, memory_order_relaxed);
        if (i % 16 == 0) pa_thread_yield(); /* a reader gets in mid-section */
        atomic_store_explicit(&opt_b, v, memory_order_relaxed);
        if (pa_rwlock_release_write(&opt_rw) != PA_ACQUIRED) w->count++;
        pa_thread_yield(); /* readers get windows between sections too */
    }
    atomic_fetch_add(&opt_writers_done, 1);
}

static void opt_reader(void *p) {
    worker *w = p;
    gate_wait();
    for (long i = 0; i < 40 * w->iterations; i++) {
        if (i % 256 == 0) pa_thread_yield(); /* 6 threads, maybe 2 cores: writers need turns */
        int64_t stamp = pa_rwlock_optimistic_read(&opt_rw);
        uint64_t a = atomic_load_explicit(&opt_a, memory_order_relaxed);
        uint64_t b = atomic_load_explicit(&opt_b, memory_order_relaxed);
        bool during = PA_LOAD(&opt_writers_done) < OPT_WRITERS;
        if (pa_rwlock_validate(&opt_rw, stamp)) {
            w->sum++;
            if (during) atomic_fetch_add(&opt_valid_during, 1);
            if (a != b) atomic_fetch_add(&opt_bad, 1);
        } else {
            w->count++; /* refused: a writer was in, or got in */
            if (stamp == 0) pa_thread_yield(); /* a writer is in: let it finish */
        }
    }
}

static void test_rwlock_optimistic(void) {
    pa_rwlock l;
    pa_rwlock_init(&l);
    int64_t s0 = pa_rwlock_optimistic_read(&l);
    CHECK_EQ_I64(s0, PA_RW_FIRST_STAMP);
    CHECK(pa_rwlock_validate(&l, s0));
    /* never issued */
    CHECK(!pa_rwlock_validate(&l, 0));
    CHECK(!pa_rwlock_validate(&l, -s0));
    CHECK(!pa_rwlock_validate(&l, s0 + 1));
    CHECK(!pa_rwlock_validate(&l, INT64_MAX));
    CHECK(!pa_rwlock_validate(&l, INT64_MIN));
    /* reads and refused or failed write attempts leave it valid */
    CHECK(pa_rwlock_acquire_read(&l, PA_FOREVER) == PA_ACQUIRED);
    CHECK(pa_rwlock_acquire_write(&l, 0) == PA_UPGRADE);
    CHECK(pa_rwlock_release_read(&l) == PA_ACQUIRED);
    CHECK(pa_rwlock_release_write(&l) == PA_WRITE_NOT_HELD);
    CHECK(pa_rwlock_downgrade(&l) == PA_DOWNGRADE_NOT_HELD);
    CHECK_EQ_I64(pa_rwlock_optimistic_read(&l), s0);
    CHECK(pa_rwlock_validate(&l, s0));
    /* a write section: 0 inside (an odd "stamp" equal to the sequence is refused) */
    CHECK(pa_rwlock_acquire_write(&l, PA_FOREVER) == PA_ACQUIRED);
    CHECK_EQ_I64(pa_rwlock_optimistic_read(&l), 0);
    CHECK(!pa_rwlock_validate(&l, s0));
    CHECK(!pa_rwlock_validate(&l, s0 + 1));
    CHECK(pa_rwlock_acquire_write(&l, 0) == PA_WRITE_TWICE);
    CHECK(pa_rwlock_release_write(&l) == PA_ACQUIRED);
    int64_t s1 = pa_rwlock_optimistic_read(&l);
    CHECK(s1 != 0 && s1 != s0);
    CHECK(pa_rwlock_validate(&l, s1));
    CHECK(!pa_rwlock_validate(&l, s0));
    /* a downgraded section: invalidates, and never brings an old stamp back */
    CHECK(pa_rwlock_acquire_write(&l, PA_FOREVER) == PA_ACQUIRED);
    CHECK(pa_rwlock_downgrade(&l) == PA_ACQUIRED);
    int64_t s2 = pa_rwlock_optimistic_read(&l);
    CHECK(s2 != 0 && s2 != s1 && s2 != s0);
    CHECK(!pa_rwlock_validate(&l, s1));
    CHECK(pa_rwlock_release_read(&l) == PA_ACQUIRED);
    CHECK(pa_rwlock_validate(&l, s2));
    /* reinit: every stamp before it is stale, write-held when it ran or not */
    pa_rwlock_reinit_after_fork(&l);
    CHECK(!pa_rwlock_validate(&l, s2));
    int64_t s3 = pa_rwlock_optimistic_read(&l);
    CHECK(pa_rwlock_validate(&l, s3) && s3 > s2);
    CHECK(pa_rwlock_acquire_write(&l, PA_FOREVER) == PA_ACQUIRED);
    pa_rwlock_reinit_after_fork(&l);
    int64_t s4 = pa_rwlock_optimistic_read(&l);
    CHECK(s4 > s3 && pa_rwlock_validate(&l, s4));
    pa_rwlock_destroy(&l);

    /* the storm */
    worker w[OPT_WRITERS + 4] = {{0}};
    pa_rwlock_init(&opt_rw);
    PA_STORE(&opt_a, 0);
    PA_STORE(&opt_b, 0);
    PA_STORE(&opt_writers_done, 0);
    PA_STORE(&opt_bad, 0);
    PA_STORE(&opt_valid_during, 0);
    for (int i = 0; i < OPT_WRITERS + 4; i++) {
        w[i].index = i;
        w[i].iterations = 5000 * scale;
    }
    test_thread t[OPT_WRITERS + 4];
    PA_STORE(&start_gate, 0);
    PA_STORE(&arrived, 0);
    for (int i = 0; i < OPT_WRITERS + 4; i++)
        if (thread_start(&t[i], i < OPT_WRITERS ? opt_writer : opt_reader, &w[i]) != 0) exit(2);
    while (PA_LOAD(&arrived) != OPT_WRITERS + 4) pa_thread_yield();
    PA_STORE(&start_gate, 1);
    for (int i = 0; i < OPT_WRITERS + 4; i++) thread_join(t[i]);
    int64_t valid = 0, refused = 0;
    for (int i = OPT_WRITERS; i < OPT_WRITERS + 4; i++) {
        valid += w[i].sum;
        refused += w[i].count;
    }
    for (int i = 0; i < OPT_WRITERS; i++) CHECK_EQ_I64(w[i].count, 0);
    CHECK_EQ_I64(PA_LOAD(&opt_bad), 0);
    CHECK(valid + refused == 4 * 40 * w[0].iterations);
    CHECK(PA_LOAD(&opt_a) == PA_LOAD(&opt_b));
    if (!quiet)
        printf("    optimistic: %" PRId64 " validated (%lld while writers ran), %" PRId64 " refused\n", valid,
               (long long)PA_LOAD(&opt_valid_during), refused);
    pa_rwlock_destroy(&opt_rw);
}

/* Upgradable reads (pa_rwlock.h): misuse leaves the state unchanged, an
 * upgrade that cannot happen yet (a reader inside) times out still holding
 * the upgradable read, an upgrade kills stamps; then a storm: upgraders
 * increment a pair only under the upgraded write lock, readers check it is
 * whole, writers add to it too; exact totals at the end. */
static pa_rwlock upg_rw;
static pa_atomic_u64 upg_a, upg_b;
static pa_atomic_u32 upg_bad;

static void upg_worker(void *p) {
    worker *w = p;
    gate_wait();
    for (long i = 0; i < w->iterations; i++) {
        if (w->index % 3 == 0) { /* upgrader: read, then upgrade and add */
            if (pa_rwlock_acquire_upgradable(&upg_rw, PA_FOREVER) != PA_ACQUIRED) {
                w->count++;
                continue;
            }
            uint64_t a = PA_LOAD(&upg_a);
            if (a != PA_LOAD(&upg_b)) atomic_fetch_add(&upg_bad, 1);
            if (i % 2 == 0) { /* sometimes it only reads */
                if (pa_rwlock_release_upgradable(&upg_rw) != PA_ACQUIRED) w->count++;
                continue;
            }
            if (pa_rwlock_upgrade(&upg_rw, PA_FOREVER) != PA_ACQUIRED) {
                w->count++;
                continue;
            }
            /* nobody wrote since our read: the value we read is still there */
            if (PA_LOAD(&upg_a) != a) atomic_fetch_add(&upg_bad, 1);
            PA_STORE(&upg_a, a + 1);
            PA_STORE(&upg_b, a + 1);
            w->sum++;
            if (pa_rwlock_release_write(&upg_rw) != PA_ACQUIRED) w->count++;
        } else if (w->index % 3 == 1) { /* writer */
            if (pa_rwlock_acquire_write(&upg_rw, PA_FOREVER) != PA_ACQUIRED) {
                w->count++;
                continue;
            }
            uint64_t a = PA_LOAD(&upg_a);
            PA_STORE(&upg_a, a + 1);
            PA_STORE(&upg_b, a + 1);
            w->sum++;
            if (pa_rwlock_release_write(&upg_rw) != PA_ACQUIRED) w->count++;
        } else { /* reader */
            if (pa_rwlock_acquire_read(&upg_rw, PA_FOREVER) != PA_ACQUIRED) {
                w->count++;
                continue;
            }
            if (PA_LOAD(&upg_a) != PA_LOAD(&upg_b)) atomic_fetch_add(&upg_bad, 1);
            if (pa_rwlock_release_read(&upg_rw) != PA_ACQUIRED) w->count++;
        }
        if (i % 64 == 0) pa_thread_yield();
    }
}

typedef struct {
    int kind; /* 0 upgradable, 1 write, 2 read */
    pa_lock_result result;
    int64_t elapsed_ns;
    int64_t timeout_ns;
} upg_timed;

static void upg_try_other(void *p) {
    upg_timed *t = p;
    gate_wait();
    int64_t start = pa_monotonic_ns();
    t->result = t->kind == 0   ? pa_rwlock_acquire_upgradable(&upg_rw, pa_deadline_after(t->timeout_ns))
                : t->kind == 1 ? pa_rwlock_acquire_write(&upg_rw, pa_deadline_after(t->timeout_ns))
                               : pa_rwlock_acquire_read(&upg_rw, 0);
    t->elapsed_ns = pa_monotonic_ns() - start;
    if (t->result == PA_ACQUIRED) {
        if (t->kind == 0) pa_rwlock_release_upgradable(&upg_rw);
        if (t->kind == 1) pa_rwlock_release_write(&upg_rw);
        if (t->kind == 2) pa_rwlock_release_read(&upg_rw);
    }
}

static void upg_reader_holds(void *p) {
    (void)p;
    /* holds a read across the main thread's timed-out upgrade */
    if (pa_rwlock_acquire_read(&upg_rw, PA_FOREVER) != PA_ACQUIRED) exit(3);
    while (PA_LOAD(&upg_bad) != 100) pa_thread_yield();
    pa_rwlock_release_read(&upg_rw);
}

static void test_rwlock_upgradable(void) {
    pa_rwlock_init(&upg_rw);
    PA_STORE(&upg_bad, 0);
    /* misuse, nothing changed */
    CHECK(pa_rwlock_release_upgradable(&upg_rw) == PA_UPGRADABLE_NOT_HELD);
    CHECK(pa_rwlock_upgrade(&upg_rw, 0) == PA_UPGRADE_NOT_HELD);
    CHECK(pa_rwlock_acquire_read(&upg_rw, 0) == PA_ACQUIRED);
    CHECK(pa_rwlock_acquire_upgradable(&upg_rw, 0) == PA_UPGRADABLE_WHILE_READING);
    CHECK(pa_rwlock_release_read(&upg_rw) == PA_ACQUIRED);
    CHECK(pa_rwlock_acquire_write(&upg_rw, 0) == PA_ACQUIRED);
    CHECK(pa_rwlock_acquire_upgradable(&upg_rw, 0) == PA_UPGRADABLE_WHILE_WRITING);
    CHECK(pa_rwlock_release_write(&upg_rw) == PA_ACQUIRED);
    int64_t s0 = pa_rwlock_optimistic_read(&upg_rw);
    CHECK(pa_rwlock_acquire_upgradable(&upg_rw, 0) == PA_ACQUIRED);
    CHECK(pa_rwlock_upgradable_held_by_me(&upg_rw));
    CHECK_EQ_I64(pa_rwlock_reader_count(&upg_rw), 1);
    CHECK(pa_rwlock_acquire_upgradable(&upg_rw, 0) == PA_UPGRADABLE_TWICE);
    CHECK(pa_rwlock_acquire_write(&upg_rw, 0) == PA_WRITE_WHILE_UPGRADABLE);
    CHECK(pa_rwlock_release_read(&upg_rw) == PA_READ_NOT_HELD);
    CHECK(pa_rwlock_release_write(&upg_rw) == PA_WRITE_NOT_HELD);
    CHECK(pa_rwlock_acquire_read(&upg_rw, 0) == PA_ACQUIRED); /* a plain read beside it */
    CHECK(pa_rwlock_upgrade(&upg_rw, 0) == PA_UPGRADE_WHILE_READING);
    CHECK(pa_rwlock_release_read(&upg_rw) == PA_ACQUIRED);
    CHECK_EQ_I64(pa_rwlock_reader_count(&upg_rw), 1);
    CHECK(pa_rwlock_validate(&upg_rw, s0)); /* reads, refusals: stamps live */
    /* others: a second upgradable and a writer time out, a reader gets in */
    upg_timed t[3] = {{0}};
    for (int i = 0; i < 3; i++) {
        t[i].kind = i;
        t[i].timeout_ns = 20000000;
    }
    run_threads(2, upg_try_other, t, sizeof t[0]);
    CHECK(t[0].result == PA_TIMEDOUT);
    CHECK(t[1].result == PA_TIMEDOUT);
    run_threads(1, upg_try_other, t + 2, sizeof t[0]); /* alone: no writer waits now */
    CHECK(t[2].result == PA_ACQUIRED);
    /* an upgrade with another reader inside times out, state unchanged */
    test_thread th;
    if (thread_start(&th, upg_reader_holds, NULL) != 0) exit(2);
    while (pa_rwlock_reader_count(&upg_rw) != 2) pa_thread_yield();
    CHECK(pa_rwlock_upgrade(&upg_rw, pa_deadline_after(20000000)) == PA_TIMEDOUT);
    CHECK(pa_rwlock_upgradable_held_by_me(&upg_rw));
    CHECK_EQ_I64(pa_rwlock_reader_count(&upg_rw), 2);
    t[2].result = PA_TIMEDOUT; /* no WW left behind: a new reader gets in at once */
    run_threads(1, upg_try_other, t + 2, sizeof t[0]);
    CHECK(t[2].result == PA_ACQUIRED);
    t[1].result = PA_ACQUIRED; /* and writers are still excluded */
    run_threads(1, upg_try_other, t + 1, sizeof t[0]);
    CHECK(t[1].result == PA_TIMEDOUT);
    CHECK(pa_rwlock_validate(&upg_rw, s0));
    PA_STORE(&upg_bad, 100);
    thread_join(th);
    PA_STORE(&upg_bad, 0);
    /* the upgrade, once the reader left: stamps die, downgrade gives a read */
    CHECK(pa_rwlock_upgrade(&upg_rw, PA_FOREVER) == PA_ACQUIRED);
    CHECK(!pa_rwlock_upgradable_held_by_me(&upg_rw));
    CHECK(pa_rwlock_write_held_by_me(&upg_rw));
    CHECK(!pa_rwlock_validate(&upg_rw, s0));
    CHECK(pa_rwlock_downgrade(&upg_rw) == PA_ACQUIRED);
    CHECK_EQ_I64(pa_rwlock_read_holds_by_me(&upg_rw), 1);
    CHECK(pa_rwlock_exit_upgradable(&upg_rw) == PA_ACQUIRED); /* releases that read */
    CHECK(pa_rwlock_exit_upgradable(&upg_rw) == PA_UPGRADABLE_NOT_HELD);
    CHECK_EQ_I64(pa_rwlock_reader_count(&upg_rw), 0);
    CHECK(!pa_rwlock_is_write_locked(&upg_rw));
    pa_rwlock_destroy(&upg_rw);

    /* the storm */
    enum { N = 6 };
    worker w[N] = {{0}};
    pa_rwlock_init(&upg_rw);
    PA_STORE(&upg_a, 0);
    PA_STORE(&upg_b, 0);
    for (int i = 0; i < N; i++) {
        w[i].index = i;
        w[i].iterations = 3000 * scale;
    }
    run_threads(N, upg_worker, w, sizeof w[0]);
    int64_t adds = 0;
    for (int i = 0; i < N; i++) {
        CHECK_EQ_I64(w[i].count, 0);
        adds += w[i].sum;
    }
    CHECK_EQ_I64(PA_LOAD(&upg_bad), 0);
    CHECK_EQ_I64(adds, (int64_t)(2 * w[0].iterations / 2 + 2 * w[0].iterations)); /* 2 upgraders (odd i), 2 writers */
    CHECK_EQ_I64((int64_t)PA_LOAD(&upg_a), adds);
    CHECK(PA_LOAD(&upg_a) == PA_LOAD(&upg_b));
    CHECK_EQ_I64(pa_rwlock_reader_count(&upg_rw), 0);
    CHECK(!pa_rwlock_side_locked(&upg_rw, true));
    pa_rwlock_destroy(&upg_rw);
}

/* The contract (pa_contract.h): the timeout rules, the blocking driver and
 * the error table, as both bindings use them. */
static void test_contract(void) {
    int64_t ns = 7;
    CHECK(pa_timeout_for_acquire(true, false, 0.0, &ns) == PA_ACQUIRED && ns == -1);
    CHECK(pa_timeout_for_acquire(true, true, -1.0, &ns) == PA_ACQUIRED && ns == -1);
    CHECK(pa_timeout_for_acquire(false, false, 0.0, &ns) == PA_ACQUIRED && ns == 0);
    CHECK(pa_timeout_for_acquire(false, true, -1.0, &ns) == PA_ACQUIRED && ns == 0);
    ns = 7;
    CHECK(pa_timeout_for_acquire(false, true, 0.0, &ns) == PA_TIMEOUT_NONBLOCKING && ns == 7);
    CHECK(pa_timeout_for_acquire(true, true, -0.5, &ns) == PA_TIMEOUT_NEGATIVE && ns == 7);
    CHECK(pa_timeout_for_acquire(true, true, 0.0 / 0.0, &ns) == PA_TIMEOUT_NAN && ns == 7);
    CHECK(pa_timeout_for_acquire(false, true, 0.0 / 0.0, &ns) == PA_TIMEOUT_NAN && ns == 7);
    CHECK(pa_timeout_for_acquire(true, true, 1e300, &ns) == PA_TIMEOUT_TOO_LARGE && ns == 7);
    CHECK(pa_timeout_for_acquire(true, true, 1.5e-9, &ns) == PA_ACQUIRED && ns == 2); /* rounded up */
    CHECK(pa_timeout_for_acquire(true, true, 2.0, &ns) == PA_ACQUIRED && ns == 2000000000);
    CHECK(pa_timeout_optional(true, 0.0, &ns) == PA_ACQUIRED && ns == -1);
    CHECK(pa_timeout_optional(false, -1.0, &ns) == PA_ACQUIRED && ns == -1); /* as threading */
    CHECK(pa_timeout_optional(false, 0.0, &ns) == PA_ACQUIRED && ns == 0);
    ns = 7;
    CHECK(pa_timeout_optional(false, -2.0, &ns) == PA_TIMEOUT_NEGATIVE && ns == 7);
    pa_set_timeout_max(10.0);
    CHECK(pa_timeout_optional(false, 10.5, &ns) == PA_TIMEOUT_TOO_LARGE && ns == 7);
    pa_set_timeout_max(9223372036.0);

    /* Every status has a kind and words; the non-errors raise nothing. */
    for (int st = 0; st < PA_STATUS_COUNT; st++) {
        int kind = pa_status_exception(st);
        CHECK((st <= PA_INTERRUPTED) == (kind == PA_RAISES_NOTHING));
        CHECK(st <= PA_INTERRUPTED || pa_status_message(st)[0] != '\0');
    }
    CHECK(pa_status_exception(PA_UPGRADE) == PA_RAISES_RUNTIME_ERROR);
    CHECK(pa_status_exception(PA_TIMEOUT_TOO_LARGE) == PA_RAISES_OVERFLOW_ERROR);

    /* The driver: a single attempt is answered at once; a timeout on a
     * non-main thread is final; the main thread's slices end early and
     * say "again", but never past the deadline. */
    pa_blocking b;
    pa_blocking_begin(&b, 0, true);
    CHECK(b.until_ns == 0 && !pa_blocking_again(&b, PA_TIMEDOUT));
    pa_blocking_begin(&b, 1000, false);
    CHECK(b.until_ns == b.deadline_ns && !pa_blocking_again(&b, PA_TIMEDOUT));
    CHECK(!pa_blocking_again(&b, PA_ACQUIRED));
    CHECK(pa_blocking_again(&b, PA_INTERRUPTED) && b.until_ns == b.deadline_ns);
    pa_blocking_begin(&b, -1, true);
    CHECK(b.deadline_ns == PA_FOREVER && b.until_ns != PA_FOREVER);
    CHECK(pa_blocking_again(&b, PA_TIMEDOUT) && b.until_ns != PA_FOREVER);
    CHECK(!pa_blocking_again(&b, PA_WRITE_TWICE));
    pa_blocking_begin(&b, 10 * PA_MAIN_THREAD_SLICE_NS, true);
    CHECK(b.until_ns < b.deadline_ns);
    pa_blocking_begin(&b, PA_MAIN_THREAD_SLICE_NS / 10, true);
    CHECK(b.until_ns == b.deadline_ns && !pa_blocking_again(&b, PA_TIMEDOUT));

    /* The snapshot lists end, and start with the rounding protocol. */
    CHECK(strcmp(pa_int_snapshot_method(0), "__round__") == 0);
    int n = 0;
    while (pa_int_snapshot_method(n) != NULL) n++;
    CHECK(n == 10 && pa_int_snapshot_method(-1) == NULL);
    CHECK(strcmp(pa_int_snapshot_attribute(0), "real") == 0 && pa_int_snapshot_attribute(4) == NULL);
}

/* AtomicCounter's core (pa_counter.h): exact totals from outside the
 * threads, the cells really used under contention, reset taking everything
 * exactly once, and the 64-bit edge (refused adds, a total beyond int64). */
static pa_counter shared_counter;
enum { COUNTER_THREADS = 8, COUNTER_ADDS = 200000 };
static void counter_adder(void *p) {
    int64_t *taken = p; /* what this thread's resets took */
    gate_wait();
    for (int i = 0; i < COUNTER_ADDS; i++) {
        CHECK(pa_counter_add(&shared_counter, (i & 1) ? 3 : -1) == PA_OK);
        if (i % 50000 == 49999) {
            pa_counter_total t = pa_counter_reset(&shared_counter);
            CHECK(t.fits_i64);
            *taken += t.small;
        }
    }
}

/* Publishes a one-cell array, as the first contended add would (with
 * PA_COUNTER_FIRST_CELLS cells), so that the next add lands in a cell. */
static void force_one_cell(pa_counter *c) {
    pa_counter_cells *fresh = calloc(1, sizeof *fresh), *none = NULL;
    void *mem = calloc(2, sizeof(pa_counter_cell));
    if (fresh == NULL || mem == NULL) exit(2);
    fresh->allocation = mem;
    fresh->cell = (pa_counter_cell *)(((uintptr_t)mem + PA_COUNTER_CELL_BYTES - 1) &
                                      ~(uintptr_t)(PA_COUNTER_CELL_BYTES - 1));
    fresh->count = 1;
    CHECK(PA_CAS(&c->cells, &none, fresh));
}

static void test_counter(void) {
    int64_t taken[COUNTER_THREADS] = {0};
    pa_counter_init(&shared_counter, 5);
    CHECK(pa_counter_sum(&shared_counter).small == 5 && pa_counter_cell_count(&shared_counter) == 0);
    run_threads(COUNTER_THREADS, counter_adder, taken, sizeof taken[0]);
    int64_t total = pa_counter_sum(&shared_counter).small;
    for (int i = 0; i < COUNTER_THREADS; i++) total += taken[i];
    /* each thread: COUNTER_ADDS/2 times +3 and -1 */
    CHECK_EQ_I64(total, 5 + (int64_t)COUNTER_THREADS * (COUNTER_ADDS / 2) * 2);
    if (!quiet) printf("    (%u cells in use after %d threads)\n", pa_counter_cell_count(&shared_counter),
                       COUNTER_THREADS);
    pa_counter_destroy(&shared_counter);

    /* The edge: a refused add stores nothing; totals beyond int64 are exact. */
    pa_counter c;
    pa_counter_init(&c, INT64_MAX);
    CHECK(pa_counter_add(&c, 1) == PA_OVERFLOW);
    CHECK(pa_counter_sub(&c, INT64_MIN) == PA_OVERFLOW);
    pa_counter_total t = pa_counter_sum(&c);
    CHECK(t.fits_i64 && t.small == INT64_MAX);
    pa_counter_destroy(&c);
    /* A base and one cell near the top: the sum is 2**64 - 2 (hi 0, lo all
     * ones but one); near the bottom, -(2**64) (hi -1, lo 0). */
    pa_counter_init(&c, INT64_MAX);
    force_one_cell(&c);
    CHECK(pa_counter_add(&c, INT64_MAX) == PA_OK); /* lands in the cell */
    t = pa_counter_sum(&c);
    CHECK(!t.fits_i64 && t.hi == 0 && t.lo == UINT64_MAX - 1);
    t = pa_counter_reset(&c);
    CHECK(!t.fits_i64 && t.hi == 0 && t.lo == UINT64_MAX - 1);
    t = pa_counter_sum(&c);
    CHECK(t.fits_i64 && t.small == 0);
    /* restart (a second __init__): every cell to 0, then the value. */
    CHECK(pa_counter_add(&c, INT64_MAX) == PA_OK && pa_counter_add(&c, -7) == PA_OK);
    CHECK(pa_counter_restart(&c, -3) == PA_OK);
    t = pa_counter_sum(&c);
    CHECK(t.fits_i64 && t.small == -3);
    pa_counter_destroy(&c);
    pa_counter_init(&c, INT64_MIN);
    force_one_cell(&c);
    CHECK(pa_counter_add(&c, INT64_MIN) == PA_OK);
    CHECK(pa_counter_add(&c, -1) == PA_OVERFLOW); /* the cell is at the bottom */
    t = pa_counter_sum(&c);
    CHECK(!t.fits_i64 && t.hi == -1 && t.lo == 0);
    pa_counter_destroy(&c);
}


/* AtomicRef's core (pa_ref.h): refcounted stand-ins for Python objects, from a
 * pool never returned to malloc, so a "use after free" is a check that fails
 * (an incref of an object whose count reached 0, or whose freed mark is set),
 * not undefined behaviour.  Two writers (exchange, compare-exchange) replace
 * the object while loaders take and drop references; every object replaced
 * is freed exactly once, and none is touched after. */
typedef struct {
    pa_atomic_i64 refs;
    pa_atomic_u32 freed;
} ref_obj;
static ref_obj *ref_pool;
static pa_atomic_i64 ref_next, ref_frees, ref_bad;
static pa_ref shared_ref;
static pa_atomic_u32 ref_writers_done;
/* Loaders load in a tight loop: 2 of them, not 6, since loaders that are never
 * all out of the window at once keep the writers waiting (pa_ref.h, Cost). */
enum { REF_WRITERS = 2, REF_THREADS = 4 };
static long ref_stores(void) { return 20000 * scale; }

static void ref_decref(ref_obj *o) {
    int64_t before = atomic_fetch_sub(&o->refs, 1);
    if (before <= 0) atomic_fetch_add(&ref_bad, 1);
    if (before == 1) {
        if (atomic_exchange(&o->freed, 1) != 0) atomic_fetch_add(&ref_bad, 1);
        atomic_fetch_add(&ref_frees, 1);
    }
}
static ref_obj *ref_fresh(void) {
    ref_obj *o = &ref_pool[atomic_fetch_add(&ref_next, 1)];
    atomic_store(&o->refs, 1); /* the slot's reference */
    return o;
}
static void ref_worker(void *p) {
    int id = *(int *)p;
    gate_wait();
    if (id < REF_WRITERS) {
        for (long i = 0; i < ref_stores(); i++) {
            ref_obj *fresh = ref_fresh();
            if (id == 0) {
                ref_decref(pa_ref_exchange(&shared_ref, fresh));
            } else {
                for (;;) { /* the binding's update(): hold a reference to the expected one */
                    ref_obj *seen = pa_ref_load_begin(&shared_ref);
                    atomic_fetch_add(&seen->refs, 1);
                    pa_ref_load_end(&shared_ref);
                    bool stored = pa_ref_compare_exchange(&shared_ref, seen, fresh);
                    if (stored) ref_decref(seen); /* the slot's old reference */
                    ref_decref(seen);              /* ours */
                    if (stored) break;
                }
            }
        }
        atomic_fetch_add(&ref_writers_done, 1);
        return;
    }
    while (atomic_load(&ref_writers_done) < REF_WRITERS) {
        ref_obj *o = pa_ref_load_begin(&shared_ref);
        int64_t before = atomic_fetch_add(&o->refs, 1);
        pa_ref_load_end(&shared_ref);
        if (before <= 0 || atomic_load(&o->freed)) atomic_fetch_add(&ref_bad, 1);
        ref_decref(o);
    }
}
static void test_ref(void) {
    long total = REF_WRITERS * ref_stores() + 1;
    ref_pool = calloc((size_t)total, sizeof *ref_pool);
    CHECK(ref_pool != NULL);
    if (!ref_pool) return;
    atomic_store(&ref_next, 0);
    atomic_store(&ref_frees, 0);
    atomic_store(&ref_bad, 0);
    atomic_store(&ref_writers_done, 0);
    pa_ref_init(&shared_ref, ref_fresh());
    int ids[REF_THREADS];
    for (int i = 0; i < REF_THREADS; i++) ids[i] = i;
    run_threads(REF_THREADS, ref_worker, ids, sizeof ids[0]);
    CHECK_EQ_I64(atomic_load(&ref_bad), 0);
    CHECK_EQ_I64(atomic_load(&ref_frees), total - 1); /* every object but the one held */
    ref_obj *last = pa_ref_peek(&shared_ref);
    CHECK_EQ_I64(atomic_load(&last->refs), 1);
    CHECK(atomic_load(&shared_ref.loaders) == 0);
    /* compare-exchange by identity: a different pointer never matches */
    ref_obj other = {0};
    CHECK(!pa_ref_compare_exchange(&shared_ref, &other, &other));
    CHECK(pa_ref_peek(&shared_ref) == last);
    free(ref_pool);
}

/* ---------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------- */
typedef struct {
    const char *name;
    void (*fn)(void);
} test_case;

static const test_case tests[] = {
    {"atomic_fetch_add_sub_checked", test_fetch_add_sub_checked},
    {"atomic_compare_exchange", test_compare_exchange},
    {"atomic_exchange", test_exchange},
    {"atomic_bitwise", test_bitwise},
    {"atomic_max_min", test_max_min},
    {"atomic_overflow_refused", test_overflow},
    {"contract", test_contract},
    {"counter", test_counter},
    {"ref", test_ref},
    {"wait_layer", test_wait_layer},
    {"capped_wait", test_capped_wait},
    {"thread_id", test_thread_id},
    {"rwlock_dead_owner", test_rwlock_dead_owner},
    {"rwlock_holds_of_freed_locks", test_rwlock_holds_of_freed_locks},
    {"spinlock", test_spinlock},
    {"rwlock", test_rwlock},
    {"rwlock_writer_preference", test_rwlock_writer_preference},
    {"rwlock_handoff_to_counted_writer", test_rwlock_handoff_to_counted_writer},
    {"rwlock_fork_with_waiters", test_rwlock_fork_with_waiters},
    {"rwlock_optimistic", test_rwlock_optimistic},
    {"rwlock_upgradable", test_rwlock_upgradable},
    {"rwlock_bias", test_rwlock_bias},
    {"int_wait_notify", test_int_wait_notify},
};

int main(int argc, char **argv) {
    const char *s = getenv("PA_TEST_SCALE");
    if (s && atol(s) > 0) scale = atol(s);
    int passed = 0, failed = 0, selected = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0)
            quiet = 1;
        else
            selected++;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("pyatomics C core tests: wait mechanism %s, %d threads, scale %ld\n", pa_wait_mechanism(),
           NTHREADS, scale);
    for (size_t k = 0; k < sizeof tests / sizeof tests[0]; k++) {
        if (selected) {
            int want = 0;
            for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], tests[k].name) == 0) want = 1;
            if (!want) continue;
        }
        test_failed = 0;
        int64_t t0 = pa_monotonic_ns();
        tests[k].fn();
        double ms = (double)(pa_monotonic_ns() - t0) / 1e6;
        if (test_failed) {
            failed++;
            printf("FAIL %-32s %8.1f ms\n", tests[k].name, ms);
        } else {
            passed++;
            if (!quiet) printf("ok   %-32s %8.1f ms\n", tests[k].name, ms);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
