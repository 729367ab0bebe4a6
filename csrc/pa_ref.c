/* pa_ref.c -- the writer's wait of pa_ref (the protocol and its proof are in pa_ref.h). */
#include "pa_ref.h"

#include "pa_thread.h"

/* Reads in flight run no code of their own between their increment and their
 * decrement (a load and an incref), so a short spin nearly always suffices;
 * a reader the OS preempted inside that window needs a core, hence the yields
 * after the spin.  No sleep on a word: the window has no wake-up to give. */
#define PA_REF_SPINS 64

PA_COLD void pa_ref_wait_for_loaders(pa_ref *r) {
    for (unsigned spins = 0; atomic_load_explicit(&r->loaders, memory_order_seq_cst) != 0; spins++) {
        if (spins < PA_REF_SPINS)
            pa_cpu_relax();
        else
            pa_thread_yield();
    }
}
