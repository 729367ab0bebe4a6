/*
 * pa_contract.h -- the rules around the algorithms, written once for both
 * bindings: which exception each status raises and with which words, how a
 * Python timeout becomes a deadline, how a blocking call is driven between a
 * binding's signal checks, and what to do when a thread's read-hold table is
 * full.  Nothing here knows Python: a binding converts its arguments to C
 * values, calls these, and turns the status into the exception named here.
 */
#ifndef PA_CONTRACT_H
#define PA_CONTRACT_H

#include <stdbool.h>
#include <stdint.h>

#include "pa_lock.h"

/* ---- Errors ---------------------------------------------------------------
 * The exception a status raises, as the stdlib would raise it. */
typedef enum {
    PA_RAISES_NOTHING = 0, /* PA_ACQUIRED, PA_TIMEDOUT, PA_INTERRUPTED */
    PA_RAISES_TYPE_ERROR = 1,
    PA_RAISES_VALUE_ERROR = 2,
    PA_RAISES_OVERFLOW_ERROR = 3,
    PA_RAISES_RUNTIME_ERROR = 4,
    PA_RAISES_TIMEOUT_ERROR = 5,
} pa_exception_kind;

int pa_status_exception(int status);
/* The message; a printf format whose only conversions are %s (both Python's
 * % operator and the C-API formatter read it): the docs of each code in pa_lock.h
 * say which values it takes. */
const char *pa_status_message(int status);

/* ---- Timeouts -------------------------------------------------------------
 * One convention for every blocking call, as threading.Lock has it: seconds as
 * a number, -1 waits forever, other negatives and NaN are ValueError, more
 * than TIMEOUT_MAX OverflowError.  The `timeout=None` forms (the context
 * managers, wait()) take None as forever and otherwise the same numbers.
 * The result is a relative timeout in ns for pa_blocking_begin: -1 forever,
 * 0 a single attempt, else rounded up so a wait never ends early. */

/* The interpreter's threading.TIMEOUT_MAX; a binding sets it once at import
 * (it is a property of the platform's thread library, not of this core). */
void pa_set_timeout_max(double seconds);

/* acquire(blocking=True, timeout=-1): `has_timeout` says whether one was passed. */
pa_lock_result pa_timeout_for_acquire(bool blocking, bool has_timeout, double seconds,
                                      int64_t *timeout_ns);
/* timeout=None: `is_none` for None (forever). */
pa_lock_result pa_timeout_optional(bool is_none, double seconds, int64_t *timeout_ns);

/* ---- The blocking driver ----------------------------------------------------
 * A binding drives every blocking call the same way (CPython's acquire_timed
 * loop, in the spirit of _PyMutex_LockTimed):
 *
 *     pa_blocking b;
 *     pa_blocking_begin(&b, timeout_ns, is_main_thread);
 *     do { r = <core call>(..., b.until_ns);     // thread state detached
 *     } while (pa_blocking_again(&b, r) && <signal handlers ran, none raised>);
 *
 * The main thread waits in slices of PA_MAIN_THREAD_SLICE_NS: only it runs
 * signal handlers, and a signal delivered to another thread (or a platform
 * wait that does not return EINTR, as WaitOnAddress) must not leave Ctrl-C
 * unanswered until the deadline.  The slices end on the same absolute
 * deadline, so slicing never lengthens a wait. */
#define PA_MAIN_THREAD_SLICE_NS ((int64_t)50 * 1000 * 1000)

typedef struct {
    int64_t deadline_ns; /* absolute (pa_wait.h), PA_FOREVER, or 0 */
    int64_t until_ns;    /* the deadline to pass to the next core call */
    bool main_thread;
} pa_blocking;

/* timeout_ns: -1 forever, 0 a single attempt, else relative ns. */
void pa_blocking_begin(pa_blocking *b, int64_t timeout_ns, bool main_thread);
/* After a core call returned r: true when the binding should run its signal
 * handlers and call again with b->until_ns (r was PA_INTERRUPTED, or only a
 * main-thread slice ended); false when r is the answer (PA_TIMEDOUT only once
 * the real deadline has passed). */
bool pa_blocking_again(pa_blocking *b, pa_lock_result r);

/* ---- Optimistic-read stamps (RWLock.validate) --------------------------------
 * validate(stamp) is a question, "is this still a valid stamp?", so every
 * integer gets an answer and only a non-integer is an error:
 *   - an object that is not an integer (no __index__: float, str, None) is
 *     TypeError, PA_STAMP_NOT_INT, as the stdlib refuses a non-integer index;
 *   - an integer, bool included, is taken by its __index__; one that fits
 *     int64 goes to pa_rwlock_validate, which says false for 0, negatives and
 *     odd values (never issued); one beyond int64 could never have been
 *     issued either (stamps are below 2^63): false, without a call, and never
 *     OverflowError (the cffi binding catches cffi's conversion error to say
 *     so). */

/* ---- Policies --------------------------------------------------------------
 * A thread's read-hold table is full (PA_READ_TABLE_FULL).  It may be full of
 * locks that are already garbage: an RWLock and its views form a reference
 * cycle, so a lock dropped while this thread read-holds it is freed (and its
 * entry dropped) only when the cyclic GC runs.  The policy: when this returns
 * true, the binding runs its collector on this thread (so the deallocations
 * drop this thread's entries) and, if that freed anything, tries once more. */
static inline bool pa_status_wants_reclaim(pa_lock_result r) { return r == PA_READ_TABLE_FULL; }

/* ---- AtomicInt as an int snapshot ------------------------------------------
 * The int methods and attributes an AtomicInt answers by reading its value
 * once and asking the resulting int (so `round(a, -1)`, `a.bit_length()`,
 * `Fraction(a)` work, and their result is the answer for one instant).  One
 * list: the C-API binding expands the X-macros, the cffi binding reads the
 * same names through pa_int_snapshot_method()/pa_int_snapshot_attribute(). */
#define PA_INT_SNAPSHOT_METHODS(X) \
    X(__round__)                   \
    X(__trunc__)                   \
    X(__floor__)                   \
    X(__ceil__)                    \
    X(bit_length)                  \
    X(bit_count)                   \
    X(to_bytes)                    \
    X(as_integer_ratio)            \
    X(conjugate)                   \
    X(is_integer)
#define PA_INT_SNAPSHOT_ATTRIBUTES(X) \
    X(real)                           \
    X(imag)                           \
    X(numerator)                      \
    X(denominator)

/* The i-th name, NULL past the end. */
const char *pa_int_snapshot_method(int i);
const char *pa_int_snapshot_attribute(int i);

#endif /* PA_CONTRACT_H */
