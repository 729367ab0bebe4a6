/* pa_ref.c -- the writer's wait of pa_ref (the protocol and its proof are in pa_ref.h). */
#include "pa_ref.h"

#include "pa_thread.h"

/* Reads in flight run no code of their own between their increment and their
 * decrement (a load and an incref), so the core's short spin (pa_spinwait)
 * nearly always suffices; a reader the OS preempted inside that window needs
 * a core, hence yields, for as long as it takes.  No sleep on a word: the
 * window has no wake-up to give. */
PA_COLD void pa_ref_wait_for_loaders(pa_ref *r) {
    pa_spinwait spin = PA_SPINWAIT_INIT;
    while (atomic_load_explicit(&r->loaders, memory_order_seq_cst) != 0) {
        if (!pa_spinwait_spin(&spin)) pa_thread_yield();
    }
}
