/*
 * pa_lock.h -- what every blocking call in the core returns.
 */
#ifndef PA_LOCK_H
#define PA_LOCK_H

typedef enum {
    PA_ACQUIRED = 0,
    PA_TIMEDOUT = 1,    /* deadline passed; nothing acquired, state consistent */
    PA_INTERRUPTED = 2, /* a signal arrived; nothing acquired.  The binding runs
                           the signal handlers and, if none raised, calls again */
    PA_WOULD_DEADLOCK = 3, /* the calling thread already holds this lock in a
                              way that makes the request wait for itself */
    PA_NOT_HELD = 4,       /* release of something the calling thread does not hold */
    PA_TOO_MANY = 5,       /* a counter would overflow (readers, read holds) */
} pa_lock_result;

#endif /* PA_LOCK_H */
