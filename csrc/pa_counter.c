/*
 * pa_counter.c -- the striped counter (pa_counter.h has the design).
 */
#include "pa_counter.h"

#include <stdlib.h>

#include "pa_thread.h"

/* The calling thread's probe: which cell it adds to (low bits).  Seeded from
 * the thread id so threads start apart; moved by xorshift on contention. */
static PA_THREAD_LOCAL uint32_t probe;

static uint32_t my_probe(void) {
    if (PA_UNLIKELY(probe == 0)) {
        uint64_t id = pa_thread_id() * 0x9E3779B97F4A7C15ull; /* Fibonacci hashing */
        probe = (uint32_t)(id >> 32) | 1u;
    }
    return probe;
}

static uint32_t move_probe(void) {
    uint32_t x = my_probe();
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    probe = x ? x : 1u;
    return probe;
}

void pa_counter_init(pa_counter *c, int64_t value) {
    atomic_init(&c->base, value);
    atomic_init(&c->cells, NULL);
}

void pa_counter_destroy(pa_counter *c) {
    pa_counter_cells *a = PA_LOAD(&c->cells);
    while (a != NULL) {
        pa_counter_cells *prev = a->prev;
        free(a->allocation);
        free(a);
        a = prev;
    }
    PA_STORE(&c->cells, NULL);
}

/* Publishes an array twice the size of `seen` (or the first one), unless
 * another thread already did; returns the array now published.  On
 * allocation failure it returns `seen`: the counter goes on, contended. */
static PA_COLD pa_counter_cells *grow(pa_counter *c, pa_counter_cells *seen) {
    uint32_t count = seen ? seen->count * 2 : PA_COUNTER_FIRST_CELLS;
    pa_counter_cells *a = malloc(sizeof *a);
    void *mem = a ? malloc(count * sizeof(pa_counter_cell) + PA_COUNTER_CELL_BYTES) : NULL;
    if (mem == NULL) {
        free(a);
        return seen;
    }
    uintptr_t aligned = ((uintptr_t)mem + PA_COUNTER_CELL_BYTES - 1) & ~(uintptr_t)(PA_COUNTER_CELL_BYTES - 1);
    a->cell = (pa_counter_cell *)aligned;
    a->allocation = mem;
    a->count = count;
    a->prev = seen;
    for (uint32_t i = 0; i < count; i++) atomic_init(&a->cell[i].value, 0);
    /* seq_cst CAS: publishes the zeroed cells (release) before anyone can
     * pick one; a loser frees its copy, which nobody has seen. */
    pa_counter_cells *expected = seen;
    if (PA_CAS(&c->cells, &expected, a)) return a;
    free(mem);
    free(a);
    return expected;
}

/* A checked add to one word; false if the CAS lost (nothing stored). */
static inline int try_add(pa_atomic_i64 *p, int64_t n) {
    int64_t old = PA_LOAD(p), sum;
    if (PA_UNLIKELY(pa_add_overflows(old, n, &sum))) return -1;
    return PA_CAS(p, &old, sum) ? 1 : 0;
}

pa_status pa_counter_add(pa_counter *c, int64_t n) {
    pa_counter_cells *a = PA_LOAD(&c->cells);
    int r;
    if (a == NULL) {
        /* Uncontended: one CAS on the base, as an AtomicInt would do. */
        if ((r = try_add(&c->base, n)) != 0) return r > 0 ? PA_OK : PA_OVERFLOW;
        a = grow(c, NULL);
        if (a == NULL) { /* no memory for cells: keep to the base */
            while ((r = try_add(&c->base, n)) == 0) pa_cpu_relax();
            return r > 0 ? PA_OK : PA_OVERFLOW;
        }
    }
    uint32_t h = my_probe();
    for (int misses = 0;;) {
        r = try_add(&a->cell[h & (a->count - 1)].value, n);
        if (r != 0) return r > 0 ? PA_OK : PA_OVERFLOW;
        /* Someone else is on this cell: move away, and grow if moving has
         * not helped and there is room (the array doubles, up to the cap). */
        h = move_probe();
        if (++misses >= PA_COUNTER_GROW_AFTER && a->count < PA_COUNTER_MAX_CELLS) {
            a = grow(c, a);
            misses = 0;
        } else {
            pa_counter_cells *now = PA_LOAD(&c->cells);
            if (now != a) a = now; /* another thread grew it */
        }
    }
}

pa_status pa_counter_sub(pa_counter *c, int64_t n) {
    if (n == INT64_MIN) return PA_OVERFLOW;
    return pa_counter_add(c, -n);
}

/* 128-bit accumulation of signed 64-bit terms, in two's complement. */
typedef struct {
    uint64_t lo;
    uint64_t hi;
} acc128;

static void acc_add(acc128 *t, int64_t v) {
    uint64_t u = (uint64_t)v, lo = t->lo + u;
    t->hi += (lo < t->lo) + (v < 0 ? UINT64_MAX : 0); /* carry, and sign-extend v */
    t->lo = lo;
}

static pa_counter_total finish(acc128 t) {
    pa_counter_total r;
    r.hi = (int64_t)t.hi;
    r.lo = t.lo;
    /* An int64 when hi is the sign extension of lo's top bit. */
    r.fits_i64 = t.hi == ((t.lo >> 63) ? UINT64_MAX : 0);
    r.small = (int64_t)t.lo;
    return r;
}

pa_counter_total pa_counter_sum(pa_counter *c) {
    acc128 t = {0, 0};
    acc_add(&t, PA_LOAD(&c->base));
    for (pa_counter_cells *a = PA_LOAD(&c->cells); a != NULL; a = a->prev)
        for (uint32_t i = 0; i < a->count; i++) acc_add(&t, PA_LOAD(&a->cell[i].value));
    return finish(t);
}

pa_counter_total pa_counter_reset(pa_counter *c) {
    acc128 t = {0, 0};
    acc_add(&t, PA_EXCHANGE(&c->base, 0));
    for (pa_counter_cells *a = PA_LOAD(&c->cells); a != NULL; a = a->prev)
        for (uint32_t i = 0; i < a->count; i++) acc_add(&t, PA_EXCHANGE(&a->cell[i].value, 0));
    return finish(t);
}

pa_status pa_counter_restart(pa_counter *c, int64_t value) {
    (void)pa_counter_reset(c);
    return value == 0 ? PA_OK : pa_counter_add(c, value);
}

uint32_t pa_counter_cell_count(pa_counter *c) {
    pa_counter_cells *a = PA_LOAD(&c->cells);
    return a ? a->count : 0;
}
