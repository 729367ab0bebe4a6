/*
 * pa_counter.h -- a striped 64-bit counter (pyatomics.AtomicCounter), in the
 * manner of Java's LongAdder: for counters many threads add to and few read.
 *
 * Layout and invariant.  The total is base + the sum of every cell of every
 * cell array ever published:
 *
 *     base             adds land here while nobody contends
 *     cells -> [c0 c1 ... c(n-1)] -> prev [..n/2..] -> ... -> NULL
 *
 * Each cell is alone on a 128-byte block (arm64 Apple cores and some x86
 * prefetchers move lines in pairs), so threads adding to different cells
 * never write the same line.  A thread picks its cell by a per-thread probe;
 * a failed compare-exchange (another thread on the same cell) moves its probe
 * elsewhere, and after PA_COUNTER_GROW_AFTER consecutive failures with room
 * to grow, it publishes an array twice the size.  Arrays are never freed or
 * moved while the counter lives: a thread that still adds to an older array
 * adds to cells that are still summed, so no add is ever lost, and no reader
 * needs a lock or an epoch.
 *
 * The edge.  Every cell and the base are checked int64 additions: an add
 * that would take its cell outside int64 stores nothing and reports
 * PA_OVERFLOW.  The sum is exact in 128 bits (at most 1 + 2 * MAX_CELLS
 * int64 terms), so a total beyond int64 is reported exactly, never wrapped.
 *
 * Reading while others add: the sum is of each cell at the moment it is
 * read, so it is a value the counter had at some instant only if no add ran
 * during the read (as LongAdder.sum()).  reset() exchanges every cell with 0
 * and returns what it took: concurrent adds are either in that total or left
 * in the counter, never lost nor counted twice.
 */
#ifndef PA_COUNTER_H
#define PA_COUNTER_H

#include <stdbool.h>
#include <stdint.h>

#include "pa_atomic.h"

#define PA_COUNTER_CELL_BYTES 128
#define PA_COUNTER_FIRST_CELLS 4
#define PA_COUNTER_MAX_CELLS 64
#define PA_COUNTER_GROW_AFTER 2

typedef struct {
    _Alignas(PA_COUNTER_CELL_BYTES) pa_atomic_i64 value;
    char pad[PA_COUNTER_CELL_BYTES - sizeof(pa_atomic_i64)];
} pa_counter_cell;

typedef struct pa_counter_cells {
    struct pa_counter_cells *prev; /* the smaller array it replaced, or NULL */
    uint32_t count;                /* a power of two */
    pa_counter_cell *cell;         /* count cells, aligned to PA_COUNTER_CELL_BYTES */
    void *allocation;              /* what to free */
} pa_counter_cells;

typedef struct {
    pa_atomic_i64 base;
    _Atomic(pa_counter_cells *) cells; /* NULL until the first contention */
} pa_counter;

/* A 128-bit total, hi * 2**64 + lo (lo unsigned), for the binding to turn
 * into an int; fits_i64 when the total is an int64 (then it is `small`). */
typedef struct {
    int64_t hi;
    uint64_t lo;
    bool fits_i64;
    int64_t small;
} pa_counter_total;

void pa_counter_init(pa_counter *c, int64_t value);
void pa_counter_destroy(pa_counter *c);

/* Adds n (negative to subtract).  PA_OVERFLOW (nothing stored) if the cell
 * taken would leave int64; PA_OK otherwise.  Lock-free; allocates only on the
 * contended path (allocation failure: it keeps using the cells it has). */
pa_status pa_counter_add(pa_counter *c, int64_t n);
/* Subtracts n; INT64_MIN cannot be negated, so it is refused (PA_OVERFLOW). */
pa_status pa_counter_sub(pa_counter *c, int64_t n);

pa_counter_total pa_counter_sum(pa_counter *c);
/* The sum, taking every cell to 0 (see above). */
pa_counter_total pa_counter_reset(pa_counter *c);
/* What a second __init__(value) does, in both bindings: take every cell to 0
 * (as reset), then add value.  An add racing with it is counted either in the
 * total dropped or in the new one, never both (as for reset).  PA_OVERFLOW only
 * if concurrent adds took the base cell close enough to the edge that value no
 * longer fits; the cells are at 0 then. */
pa_status pa_counter_restart(pa_counter *c, int64_t value);
/* How many cells are in use (diagnostics: 0 until the first contention). */
uint32_t pa_counter_cell_count(pa_counter *c);

#endif /* PA_COUNTER_H */
