/*
 * pa_contract.c -- the error table, the timeout rules and the blocking driver
 * (pa_contract.h).
 */
#include "pa_contract.h"

#include <stddef.h>

#include "pa_wait.h"

static const struct {
    int exception;
    const char *message;
} status_table[PA_STATUS_COUNT] = {
    [PA_ACQUIRED] = {PA_RAISES_NOTHING, ""},
    [PA_TIMEDOUT] = {PA_RAISES_NOTHING, ""},
    [PA_INTERRUPTED] = {PA_RAISES_NOTHING, ""},
    [PA_WRITE_TWICE] = {PA_RAISES_RUNTIME_ERROR,
                        "cannot acquire the write lock: this thread already holds it "
                        "(it would wait for itself)"},
    [PA_UPGRADE] = {PA_RAISES_RUNTIME_ERROR,
                    "cannot acquire the write lock while this thread holds a read lock on the "
                    "same RWLock (the upgrade would wait for itself); release the read lock first"},
    [PA_READ_WHILE_WRITING] = {PA_RAISES_RUNTIME_ERROR,
                               "cannot acquire a read lock while this thread holds the write "
                               "lock; use downgrade()"},
    [PA_NOT_HELD] = {PA_RAISES_RUNTIME_ERROR, "release unlocked lock"},
    [PA_READ_NOT_HELD] = {PA_RAISES_RUNTIME_ERROR,
                          "cannot release a read lock: this thread does not hold one"},
    [PA_WRITE_NOT_HELD] = {PA_RAISES_RUNTIME_ERROR,
                           "cannot release the write lock: this thread does not hold it"},
    [PA_DOWNGRADE_NOT_HELD] = {PA_RAISES_RUNTIME_ERROR,
                               "cannot downgrade: this thread does not hold the write lock"},
    [PA_TOO_MANY_READERS] = {PA_RAISES_RUNTIME_ERROR,
                             "too many read locks: this RWLock has the most readers it can count"},
    [PA_READ_TABLE_FULL] = {PA_RAISES_RUNTIME_ERROR,
                            "too many read locks: this thread read-holds as many distinct "
                            "RWLocks as one thread can (32)"},
    [PA_ARG_RANGE] = {PA_RAISES_OVERFLOW_ERROR, "value out of range for a signed 64-bit integer"},
    [PA_RESULT_RANGE] = {PA_RAISES_OVERFLOW_ERROR,
                         "result out of range for a signed 64-bit integer; value unchanged"},
    [PA_TIMEOUT_NOT_NUMBER] = {PA_RAISES_TYPE_ERROR, "timeout must be a number, not '%s'"},
    [PA_TIMEOUT_NAN] = {PA_RAISES_VALUE_ERROR, "Invalid value NaN (not a number)"},
    [PA_TIMEOUT_NEGATIVE] = {PA_RAISES_VALUE_ERROR,
                             "timeout value must be a non-negative number"},
    [PA_TIMEOUT_TOO_LARGE] = {PA_RAISES_OVERFLOW_ERROR, "timeout value is too large"},
    [PA_TIMEOUT_NONBLOCKING] = {PA_RAISES_VALUE_ERROR,
                                "can't specify a timeout for a non-blocking call"},
    [PA_NOT_ACQUIRED_IN_TIME] = {PA_RAISES_TIMEOUT_ERROR,
                                 "could not acquire the %s lock within %s s"},
    [PA_NOT_CONSTRUCTIBLE] = {PA_RAISES_TYPE_ERROR, "cannot create '%s' instances"},
    [PA_NO_ARGUMENTS] = {PA_RAISES_TYPE_ERROR, "%s() takes no arguments"},
    [PA_NOT_ATOMIC] = {PA_RAISES_TYPE_ERROR,
                       "AtomicInt has no atomic '%s'; use a.update(func) for an atomic "
                       "read-modify-write, or int(a) for a plain int"},
    [PA_NOT_CALLABLE] = {PA_RAISES_TYPE_ERROR, "update() argument must be callable, not '%s'"},
    [PA_VIEW_CLEARED] = {PA_RAISES_RUNTIME_ERROR, "RWLock view used after its lock was cleared"},
    [PA_FINALIZED] = {PA_RAISES_RUNTIME_ERROR,
                      "pyatomics is being finalized: its module state is gone"},
    [PA_COUNTER_RANGE] = {PA_RAISES_OVERFLOW_ERROR,
                          "the AtomicCounter cell this thread adds to would leave the signed "
                          "64-bit range; nothing added"},
    /* int.__format__'s words (without quotes around the type) */
    [PA_FORMAT_SPEC_NOT_STR] = {PA_RAISES_TYPE_ERROR, "__format__() argument must be str, not %s"},
    /* a lock's words: an AtomicRef is shared state, not a value to copy (a copy
     * of the object it holds would not be what other threads see) */
    [PA_NOT_PICKLABLE] = {PA_RAISES_TYPE_ERROR, "cannot pickle '%s' object"},
    [PA_STAMP_NOT_INT] = {PA_RAISES_TYPE_ERROR,
                          "validate() argument must be an int (a stamp from optimistic_read()), "
                          "not '%s'"},
    [PA_UPGRADABLE_TWICE] = {PA_RAISES_RUNTIME_ERROR,
                             "cannot acquire the upgradable read lock: this thread already holds "
                             "it (it would wait for itself)"},
    [PA_UPGRADABLE_WHILE_WRITING] = {PA_RAISES_RUNTIME_ERROR,
                                     "cannot acquire the upgradable read lock while this thread "
                                     "holds the write lock; use downgrade()"},
    [PA_UPGRADABLE_WHILE_READING] = {PA_RAISES_RUNTIME_ERROR,
                                     "cannot acquire the upgradable read lock while this thread "
                                     "holds a read lock on the same RWLock (its upgrade would wait "
                                     "for that read lock); release the read lock first"},
    [PA_UPGRADABLE_NOT_HELD] = {PA_RAISES_RUNTIME_ERROR,
                                "cannot release the upgradable read lock: this thread does not "
                                "hold it"},
    [PA_UPGRADE_NOT_HELD] = {PA_RAISES_RUNTIME_ERROR,
                             "cannot upgrade: this thread does not hold the upgradable read lock"},
    [PA_UPGRADE_WHILE_READING] = {PA_RAISES_RUNTIME_ERROR,
                                  "cannot upgrade while this thread also holds a plain read lock "
                                  "on the same RWLock (the upgrade would wait for itself); "
                                  "release the read lock first"},
    [PA_WRITE_WHILE_UPGRADABLE] = {PA_RAISES_RUNTIME_ERROR,
                                   "cannot acquire the write lock while this thread holds the "
                                   "upgradable read lock (it would wait for itself); use upgrade()"},
};

int pa_status_exception(int status) {
    if (status < 0 || status >= PA_STATUS_COUNT) return PA_RAISES_RUNTIME_ERROR;
    return status_table[status].exception;
}

const char *pa_status_message(int status) {
    if (status < 0 || status >= PA_STATUS_COUNT || status_table[status].message == NULL)
        return "pyatomics: unknown status";
    return status_table[status].message;
}

/* threading.TIMEOUT_MAX of a 64-bit CPython on POSIX until a binding says. */
static double timeout_max_seconds = 9223372036.0;

void pa_set_timeout_max(double seconds) { timeout_max_seconds = seconds; }

/* Non-negative seconds within TIMEOUT_MAX -> ns, rounded up so a wait never
 * ends early; saturates (pa_deadline_after treats INT64_MAX as forever). */
static int64_t seconds_to_ns(double seconds) {
    double ns = seconds * 1e9;
    if (ns >= 9.2e18) return INT64_MAX;
    int64_t whole = (int64_t)ns; /* truncates; ns >= 0, so this is the floor */
    return (double)whole < ns ? whole + 1 : whole;
}

/* NaN is the one value unequal to itself (no libm needed). */
static bool is_nan(double d) { return d != d; }

/* The rule common to both forms, for a number that was given. */
static pa_lock_result timeout_from_seconds(double seconds, int64_t *timeout_ns) {
    if (is_nan(seconds)) return PA_TIMEOUT_NAN;
    if (seconds == -1.0) {
        *timeout_ns = -1;
        return PA_ACQUIRED;
    }
    if (seconds < 0) return PA_TIMEOUT_NEGATIVE;
    if (seconds > timeout_max_seconds) return PA_TIMEOUT_TOO_LARGE;
    *timeout_ns = seconds_to_ns(seconds);
    return PA_ACQUIRED;
}

pa_lock_result pa_timeout_for_acquire(bool blocking, bool has_timeout, double seconds,
                                      int64_t *timeout_ns) {
    if (!has_timeout) seconds = -1.0;
    if (is_nan(seconds)) return PA_TIMEOUT_NAN;
    if (!blocking) {
        /* threading.Lock: any timeout but the default -1 is refused here. */
        if (seconds != -1.0) return PA_TIMEOUT_NONBLOCKING;
        *timeout_ns = 0;
        return PA_ACQUIRED;
    }
    return timeout_from_seconds(seconds, timeout_ns);
}

pa_lock_result pa_timeout_optional(bool is_none, double seconds, int64_t *timeout_ns) {
    if (is_none) {
        *timeout_ns = -1;
        return PA_ACQUIRED;
    }
    return timeout_from_seconds(seconds, timeout_ns);
}

/* The next call's deadline: the real one, or for the main thread the end of
 * the next slice if that comes first. */
static int64_t next_until(const pa_blocking *b) {
    if (!b->main_thread || b->deadline_ns == 0) return b->deadline_ns;
    int64_t slice_end = pa_deadline_after(PA_MAIN_THREAD_SLICE_NS);
    if (b->deadline_ns == PA_FOREVER || slice_end < b->deadline_ns) return slice_end;
    return b->deadline_ns;
}

void pa_blocking_begin(pa_blocking *b, int64_t timeout_ns, bool main_thread) {
    b->deadline_ns = timeout_ns == 0 ? 0 : pa_deadline_after(timeout_ns);
    b->main_thread = main_thread;
    b->until_ns = next_until(b);
}

bool pa_blocking_again(pa_blocking *b, pa_lock_result r) {
    if (r == PA_TIMEDOUT && b->until_ns == b->deadline_ns) return false;
    if (r != PA_TIMEDOUT && r != PA_INTERRUPTED) return false;
    /* Interrupted, or the end of a slice: the binding runs signal handlers
     * (a handler that raises ends the wait, holding nothing), then the wait
     * goes on towards the same absolute deadline. */
    b->until_ns = next_until(b);
    return true;
}

static const char *const snapshot_methods[] = {
#define PA_NAME(name) #name,
    PA_INT_SNAPSHOT_METHODS(PA_NAME) NULL,
};
static const char *const snapshot_attributes[] = {
    PA_INT_SNAPSHOT_ATTRIBUTES(PA_NAME) NULL,
#undef PA_NAME
};

/* Both lists end with NULL: index i is valid while no earlier entry was. */
static const char *nth(const char *const *names, int count, int i) {
    return i >= 0 && i < count ? names[i] : NULL;
}
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *pa_int_snapshot_method(int i) { return nth(snapshot_methods, COUNT(snapshot_methods), i); }
const char *pa_int_snapshot_attribute(int i) {
    return nth(snapshot_attributes, COUNT(snapshot_attributes), i);
}
