/* pa_rwlock.c -- the reader-writer lock (state table in pa_rwlock.h). */
#include "pa_rwlock.h"

#include <stddef.h>
#include <stdlib.h>

#include "pa_spinlock.h"
#include "pa_thread.h"

#if !defined(_WIN32)
#include <pthread.h>
#endif
#include "pa_wait.h"

#define RW PA_RW_READERS_WAITING
#define WW PA_RW_WRITERS_WAITING
#define RP PA_RW_READ_PHASE
#define WAITING (RW | WW)

/* Before sleeping, a waiter spins by the core's one policy (pa_spinwait in
 * pa_thread.h: a few backoff steps, then yields), and only while no waiting
 * bit is set: with sleepers queued it could only pass them or wait behind
 * them. */

static inline uint32_t count_of(uint32_t s) { return s & PA_RW_COUNT_MASK; }
static inline bool is_write_locked(uint32_t s) { return count_of(s) == PA_RW_WRITE_LOCKED; }
/* Free for a writer: no holder, and not being handed to waiting readers. */
static inline bool write_lockable(uint32_t s) { return count_of(s) == 0 && (s & RP) == 0; }

/* ---------------------------------------------------------------------------
 * Per-thread table of read holds: which RWLocks this thread holds for reading,
 * and how many times.  Only its own thread touches it, so no atomics.  Used to
 * reject a release of a read lock the thread does not hold, an upgrade that
 * would deadlock, and to let a recursive read pass a waiting writer.
 *
 * An entry is keyed on (address, serial): serials are never reused, so an
 * entry left behind by a lock that was freed while this thread read-held it
 * never matches a new lock at the same address.  Such an entry is dead, and
 * the registry of live serials below tells it apart: when the table is full,
 * reclaim_dead_holds() drops every entry whose serial is no longer live.
 * (pa_rwlock_destroy drops the freeing thread's own entry directly; entries
 * of other threads cannot be reached from there: their tables are their
 * TLS.  Before the registry, 32 locks freed on another thread while this one
 * read-held them locked this thread out of every new RWLock for good.)
 * ------------------------------------------------------------------------- */
typedef struct {
    const pa_rwlock *lock;
    uint64_t serial;
    uint32_t depth;
    int32_t slot; /* a biased hold: its index in visible[] (the lock's count
                     does not include it); -1: the hold is in the count */
} read_hold;

/* Serials are < 2^63; a lock whose registration failed (no memory) gets this
 * bit, and its entries are never judged dead (the pre-registry behaviour). */
#define UNREGISTERED ((uint64_t)1 << 63)

static pa_atomic_u64 next_serial = 1;

static PA_THREAD_LOCAL read_hold tl_holds[PA_RW_MAX_READ_LOCKS_PER_THREAD];
static PA_THREAD_LOCAL unsigned tl_nholds; /* entries [0, tl_nholds) are in use */

static read_hold *find_hold(const pa_rwlock *rw) {
    for (unsigned i = 0; i < tl_nholds; i++)
        if (tl_holds[i].lock == rw && tl_holds[i].serial == rw->serial) return &tl_holds[i];
    return NULL;
}

static void add_hold(const pa_rwlock *rw, int32_t slot) {
    tl_holds[tl_nholds].lock = rw;
    tl_holds[tl_nholds].serial = rw->serial;
    tl_holds[tl_nholds].depth = 1;
    tl_holds[tl_nholds].slot = slot;
    tl_nholds++;
}

static void drop_hold(read_hold *h) {
    /* Keep the table compact: move the last entry into the hole. */
    *h = tl_holds[--tl_nholds];
}

/* ---------------------------------------------------------------------------
 * Registry of live serials: an open-addressing hash set (0 empty, TOMBSTONE
 * deleted) under a lock.  Touched at init and destroy, and by a thread whose
 * read-hold table is full; never on an acquire or release.  The lock is a
 * pthread mutex where there is one: it is off the hot paths, and tools that
 * know only pthread synchronisation (helgrind) then see what it protects.
 * ------------------------------------------------------------------------- */
#define TOMBSTONE UINT64_MAX

static uint64_t *live;     /* live_cap slots, a power of 2 */
static size_t live_cap;
static size_t live_filled; /* slots not empty: live serials and tombstones */

#if defined(_WIN32)
static pa_spinlock registry_lock = PA_SPINLOCK_INIT;
static void registry_enter(void) {
    /* PA_INTERRUPTED cannot happen on Windows; loop anyway: the section is a
     * few hash probes, nobody holds it long. */
    while (pa_spinlock_acquire(&registry_lock, PA_FOREVER) != PA_ACQUIRED) {
    }
}
static void registry_leave(void) { pa_spinlock_release(&registry_lock); }
#else
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static void registry_enter(void) { pthread_mutex_lock(&registry_lock); }
static void registry_leave(void) { pthread_mutex_unlock(&registry_lock); }
#endif

static size_t slot_of(uint64_t serial, size_t cap) {
    return (size_t)((serial * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

/* Under registry_lock.  The slot holding serial, or NULL. */
static uint64_t *registry_find(uint64_t serial) {
    if (live_cap == 0) return NULL;
    for (size_t i = slot_of(serial, live_cap);; i = (i + 1) & (live_cap - 1)) {
        if (live[i] == serial) return &live[i];
        if (live[i] == 0) return NULL;
    }
}

/* Under registry_lock.  Keeps at least half the slots empty (tombstones
 * count as full), rebuilding without tombstones when it must. */
static bool registry_insert(uint64_t serial) {
    if ((live_filled + 1) * 2 > live_cap) {
        size_t n = 0;
        for (size_t i = 0; i < live_cap; i++) n += live[i] != 0 && live[i] != TOMBSTONE;
        size_t cap = 64;
        while (cap < (n + 1) * 4) cap *= 2;
        uint64_t *fresh = calloc(cap, sizeof *fresh);
        if (fresh == NULL) return false;
        for (size_t i = 0; i < live_cap; i++) {
            if (live[i] == 0 || live[i] == TOMBSTONE) continue;
            size_t j = slot_of(live[i], cap);
            while (fresh[j] != 0) j = (j + 1) & (cap - 1);
            fresh[j] = live[i];
        }
        free(live);
        live = fresh;
        live_cap = cap;
        live_filled = n;
    }
    size_t j = slot_of(serial, live_cap);
    while (live[j] != 0 && live[j] != TOMBSTONE) j = (j + 1) & (live_cap - 1);
    if (live[j] == 0) live_filled++;
    live[j] = serial;
    return true;
}

static uint64_t new_registered_serial(void) {
    uint64_t serial = atomic_fetch_add(&next_serial, 1);
    registry_enter();
    bool ok = registry_insert(serial);
    registry_leave();
    return ok ? serial : serial | UNREGISTERED;
}

static void registry_remove(uint64_t serial) {
    if (serial & UNREGISTERED) return;
    registry_enter();
    uint64_t *slot = registry_find(serial);
    if (slot != NULL) *slot = TOMBSTONE;
    registry_leave();
}

/* ---------------------------------------------------------------------------
 * fork().  The child has one thread, the one that called fork(), and a copy
 * of every lock word, waiting bits, read phases and waiter counts included.
 * Those were put there by threads the child does not have: a READERS_WAITING
 * that a write release turns into a READ_PHASE for a reader that never comes
 * (read_waiters never drops to 0, so the phase never ends and no writer ever
 * gets in), a WRITERS_WAITING that holds back new readers while a phantom
 * writer keeps write_waiters from reaching the 0 that would clear it.
 *
 * So a child forgets them: the pthread_atfork child handler bumps
 * fork_generation (always even), and each lock remembers in fork_gen the
 * generation it last saw.  The slow paths, and only they, compare the two:
 * every blocking path before it first counts itself or gives up, every
 * release that finds waiting bits or a phase before acting on them, and
 * downgrade.  A lock found stale is reset: read_waiters = write_waiters = 0,
 * the waiting bits and READ_PHASE cleared, the count and the writer kept.  The
 * uncontended paths never look: they act only on a word without bits (where
 * nothing is stale) or on the count itself.
 *
 * Why no waiter of the child is lost: a thread of the child counts itself as
 * a waiter only after its own check, so while the lock is stale no child
 * waiter exists, and a reset forgets only parent ones.  Two child threads may
 * meet a stale lock at once: the one that moves fork_gen to the odd value
 * g|1 resets, the others wait for g (an odd value of an older generation was
 * left by a reset that a fork interrupted in the parent: taken over).
 *
 * What survives: the holds of the forking thread (the count includes its
 * read holds, and its thread-local table is copied; `writer` names it if it
 * holds the write side), as the usual os.register_at_fork(before=acquire_write,
 * after_in_child=release_write) pattern needs.  Holds of other threads
 * survive too, since a reader cannot be told apart from another in the
 * count: the lock stays held in the child, as a threading.Lock held by
 * another thread does; _at_fork_reinit (pa_rwlock_reinit_after_fork) clears
 * everything.
 * ------------------------------------------------------------------------- */
static pa_atomic_u32 fork_generation;

/* rw->revoking while a drain is in progress: who drains (after a fork, the
 * reset undoes a phantom drainer's word by this). */
#define REVOKING_WRITE 1u
#define REVOKING_UPGRADE 2u

static inline bool fork_stale(pa_rwlock *rw) {
    return PA_LOAD(&rw->fork_gen) != PA_LOAD(&fork_generation);
}

PA_COLD static void reset_after_fork(pa_rwlock *rw) {
    for (;;) {
        uint32_t g = PA_LOAD(&fork_generation);
        uint32_t mine = PA_LOAD(&rw->fork_gen);
        if (mine == g) return;
        if (mine == (g | 1)) { /* another thread of this process is resetting */
            pa_thread_yield();
            continue;
        }
        if (!PA_CAS(&rw->fork_gen, &mine, g | 1)) continue;
        PA_STORE(&rw->read_waiters, 0);
        PA_STORE(&rw->write_waiters, 0);
        PA_STORE(&rw->upgrading, 0); /* an upgrader waiting was a parent's thread */
        /* A writer draining biased readers (revoking set) owns the word but
         * holds nothing yet (pa_rwlock.h, "Biased reads"); in the child it
         * is a parent's thread, which will never finish: its acquisition is
         * undone as it would have been on a timeout, W -> 0, or W -> 1 for
         * an upgrader (its upgradable read stays held, as other threads'
         * reads do).  The forking thread is never the drainer: it is here,
         * not in revoke_bias.  The bias stays UNDRAINED (biased holds,
         * the forking thread's among them, survive; the next writer scans). */
        uint32_t drainer = PA_LOAD(&rw->revoking);
        PA_STORE(&rw->revoking, 0);
        uint32_t s = PA_LOAD(&rw->state);
        /* A CAS loop, not a store: uncontended acquires and releases (which
         * do not look at fork_gen) may change the count meanwhile. */
        for (;;) {
            uint32_t n = s & PA_RW_COUNT_MASK;
            if (drainer != 0 && n == PA_RW_WRITE_LOCKED) n = drainer == REVOKING_UPGRADE ? 1 : 0;
            if (PA_CAS(&rw->state, &s, n)) break;
        }
        PA_STORE(&rw->fork_gen, g);
        return;
    }
}

/* fork(): another thread may be inside a registry section at the moment of
 * the fork, and would never leave it in the child.  So the forking thread
 * takes the registry lock just before the fork (no section is then in
 * progress, and the table is consistent) and both processes release it.
 * Registered once, from the first pa_rwlock_init. */
#if !defined(_WIN32)
static void at_fork_prepare(void) { registry_enter(); }
static void at_fork_parent(void) { registry_leave(); }
static void at_fork_child(void) {
    /* Only the forking thread is left, and it holds the mutex (prepare). */
    registry_leave();
    /* Every lock's waiter state is now stale: see reset_after_fork. */
    atomic_fetch_add(&fork_generation, 2);
}
static pthread_once_t fork_hooks_once = PTHREAD_ONCE_INIT;
static void install_fork_hooks_once(void) {
    /* ENOMEM is the only failure; without the hooks, a fork that lands in a
     * registry section leaves the child unable to create RWLocks (as before
     * the registry existed, a fork could leave any lock held). */
    (void)pthread_atfork(at_fork_prepare, at_fork_parent, at_fork_child);
}
static void install_fork_hooks(void) { pthread_once(&fork_hooks_once, install_fork_hooks_once); }
#else
static void install_fork_hooks(void) {}
#endif

/* Drops this thread's entries for locks that no longer exist; returns how
 * many.  Only entries' serials are looked at, never the freed locks. */
static unsigned reclaim_dead_holds(void) {
    unsigned dropped = 0;
    registry_enter();
    for (unsigned i = 0; i < tl_nholds;) {
        uint64_t serial = tl_holds[i].serial;
        if (!(serial & UNREGISTERED) && registry_find(serial) == NULL) {
            drop_hold(&tl_holds[i]); /* moves the last entry here: look at i again */
            dropped++;
        } else {
            i++;
        }
    }
    registry_leave();
    return dropped;
}

/* Room for one more entry: true if there is (after reclaiming dead ones). */
static bool room_for_hold(void) {
    return tl_nholds < PA_RW_MAX_READ_LOCKS_PER_THREAD || reclaim_dead_holds() > 0;
}

/* ---------------------------------------------------------------------------
 * Biased reads (BRAVO: Dice & Kogan, "BRAVO: Biased Locking for Reader-Writer
 * Locks", USENIX ATC 2019; the protocol is in pa_rwlock.h, "Biased reads").
 *
 * visible[] is one table for the whole process: a slot holds the address of
 * the lock one thread biased-read-holds, or 0.  A thread's slot for a lock is
 * a hash of its own seed and the lock's address, so two threads reading one
 * lock write two different slots (different cache lines but for a 1 in 128
 * chance per pair), and nothing of the lock itself.  A slot taken by another
 * (thread, lock) pair is a collision: that read takes the counted path.
 *
 * Invariant (B): while visible[i] == rw for a thread that holds (or is about
 * to hold) a biased read of rw, rw->bias != PA_RW_BIAS_OFF, or the thread is
 * in its publish window and will see bias != ON and withdraw.  OFF is stored
 * only by a writer that saw every slot clear of rw after it stored UNDRAINED
 * (a completed drain), and at reinit/destroy, which clear the slots
 * themselves.  So a writer that loads OFF (while owning the word) has no
 * biased reader to wait for, and one that loads ON or UNDRAINED scans.
 * ------------------------------------------------------------------------- */
typedef _Atomic(uintptr_t) pa_atomic_uptr;
static pa_atomic_uptr visible[PA_RW_VISIBLE_SLOTS];
/* The recursion levels beyond the first of the biased hold in visible[i],
 * for the observers only (reader_count() counts every level, as the count
 * does for counted holds).  Written by the slot's owner alone, and only by a
 * recursive read or its release (it is 0 whenever a slot is published or
 * cleared, so the fast path never touches it); the authority is the owner's
 * thread-local entry.  Observers read a snapshot, like the count. */
static pa_atomic_u32 visible_extra[PA_RW_VISIBLE_SLOTS];

static PA_THREAD_LOCAL uint64_t tl_seed; /* 0 until this thread's first biased read */

/* splitmix64's finaliser: thread ids are consecutive, seeds must not be. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline unsigned visible_slot(const pa_rwlock *rw) {
    uint64_t seed = tl_seed;
    if (PA_UNLIKELY(seed == 0)) seed = tl_seed = mix64(pa_thread_id()) | 1;
    uint64_t h = (seed ^ (uint64_t)(uintptr_t)rw) * 0x9E3779B97F4A7C15ull;
    return (unsigned)(h >> (64 - PA_RW_VISIBLE_BITS));
}

/* Clears slot i (ours: it holds rw) and wakes a draining writer if one may
 * wait for it.  The Dekker pair with revoke_bias (all seq_cst): we exchange
 * the slot, then load `revoking`; the writer stores `revoking`, then loads
 * drain_notify, then the slot.  If the writer's slot load still saw rw, it
 * precedes our exchange in the single total order, so its `revoking` store
 * does too and our load sees 1: we bump drain_notify after the writer read
 * it, and its futex wait on the old value returns at once or is woken by
 * ours.  If our load sees 0, the writer's slot load comes after our exchange
 * and sees the slot clear: it never sleeps for us.  The exchange is also
 * the release of our read section (a writer that loads 0 from the slot
 * acquires it).  wake_all: only the word's owner drains, but a writer that
 * timed out may not have left the futex yet; waking both costs nothing. */
static void unpublish(pa_rwlock *rw, unsigned i) {
    PA_EXCHANGE(&visible[i], (uintptr_t)0);
    if (PA_LOAD(&rw->revoking)) {
        atomic_fetch_add(&rw->drain_notify, 1);
        pa_wake_all(&rw->drain_notify);
    }
}

/* The reader's fast path, for a thread with no hold of rw yet.  True: a
 * biased read is held through slot *slot; the state word was not written.
 *
 *   1. bias == ON (relaxed: a hint; the decision is step 4) and no writer
 *      waits (relaxed load of the word, a hint too: writer preference, as in
 *      read_lockable; a writer that sets WW just after is not starved, since
 *      it revokes the bias once it owns the word and then waits only for
 *      the biased readers already in)
 *   2. CAS(slot, 0, rw), seq_cst: published.  A taken slot: counted path.
 *   3. (nothing in between)
 *   4. load bias, seq_cst.  The store-load pair against the writer's
 *      store of UNDRAINED (seq_cst) then load of the slots (seq_cst): in the
 *      single total order either our load comes after the writer's store
 *      (we see UNDRAINED/OFF and withdraw) or the writer's slot load comes
 *      after our CAS (it sees rw and waits for our release).  Never both
 *      missed.  The value ON we read was stored with seq_cst (release) by a
 *      counted reader after its acquiring CAS on the word, or by a writer
 *      undoing its acquisition: either way after the last write section's
 *      release, so reading it (acquire) orders that section before ours.
 */
static inline bool biased_read(pa_rwlock *rw, int32_t *slot) {
    if (atomic_load_explicit(&rw->bias, memory_order_relaxed) != PA_RW_BIAS_ON) return false;
    if (atomic_load_explicit(&rw->state, memory_order_relaxed) & WW) return false;
    unsigned i = visible_slot(rw);
    uintptr_t expected = 0;
    if (!PA_CAS(&visible[i], &expected, (uintptr_t)rw)) return false;
    if (PA_LOAD(&rw->bias) == PA_RW_BIAS_ON) {
        *slot = (int32_t)i;
        return true;
    }
    unpublish(rw, i); /* a writer may already wait for this slot */
    return false;
}

/* Inhibition after a revocation: this many times its duration.  BRAVO's N:
 * a writer then spends at most about 1/(N+1) of its time revoking, however
 * write-heavy the mix. */
#define BIAS_INHIBIT_FACTOR 9
/* ... but never longer than this: a revocation that waited for a long read
 * section would otherwise keep the lock unbiased for seconds, although that
 * wait is not a cost of the bias (the writer waits as long for a counted
 * reader). */
#define BIAS_INHIBIT_MAX_NS ((int64_t)100 * 1000 * 1000)

/* A counted reader just got the read lock (count > 0 is ours, so no writer
 * owns the word, and no writer's bias store can race with ours): turn the
 * bias (back) on if no writer waits and the inhibition has passed.  The
 * store is seq_cst: its release half is what step 4 of biased_read acquires
 * (our CAS on the word acquired the last write section).  Storing ON over
 * UNDRAINED is fine: the next writer scans either way (invariant B). */
static void maybe_enable_bias(pa_rwlock *rw) {
    if (atomic_load_explicit(&rw->bias, memory_order_relaxed) == PA_RW_BIAS_ON) return;
    if (PA_LOAD(&rw->state) & WW) return; /* a writer waits: keep readers counted */
    int64_t until = atomic_load_explicit(&rw->inhibit_until_ns, memory_order_relaxed);
    if (until != 0 && pa_monotonic_ns() < until) return;
    PA_STORE(&rw->bias, PA_RW_BIAS_ON);
}

/* Waits until visible[i] no longer holds rw (a biased reader left). */
static pa_lock_result wait_slot_clear(pa_rwlock *rw, unsigned i, int64_t deadline_ns) {
    /* The core's one spinning policy (pa_spinwait), then sleep; a single
     * attempt (deadline 0) does not spin, as lock_write's does not. */
    pa_spinwait spin = PA_SPINWAIT_INIT;
    do {
        if (PA_LOAD(&visible[i]) != (uintptr_t)rw) return PA_ACQUIRED;
    } while (deadline_ns != 0 && pa_spinwait_spin(&spin));
    for (;;) {
        /* Counter, then slot (unpublish: why no wakeup is lost). */
        uint32_t seq = PA_LOAD(&rw->drain_notify);
        if (PA_LOAD(&visible[i]) != (uintptr_t)rw) return PA_ACQUIRED;
        pa_wait_result r = pa_wait_u32(&rw->drain_notify, seq, deadline_ns);
        if (r == PA_WAIT_INTERRUPTED) return PA_INTERRUPTED;
        if (r == PA_WAIT_TIMEDOUT) {
            /* One last look: a reader that left at the deadline. */
            return PA_LOAD(&visible[i]) != (uintptr_t)rw ? PA_ACQUIRED : PA_TIMEDOUT;
        }
    }
}

/* Run by a thread that has just made the word write-locked (lock_write or
 * lock_upgrade), before anything else of the acquisition: biased readers
 * are not in the count, so the write lock is only ours once they have left.
 * PA_ACQUIRED, or PA_TIMEDOUT / PA_INTERRUPTED with the bias left UNDRAINED
 * (the caller then undoes its word acquisition: nothing held).
 *
 * Orderings: the bias load needs nothing: only the word's owner and counted
 * readers (excluded now) store it, and our acquiring CAS on the word read
 * the release of whoever last did (invariant B, above).  UNDRAINED, then
 * `revoking`, then each slot: all seq_cst (biased_read step 4 and unpublish
 * say what each pairs with).  A slot load that sees anything but rw
 * acquires the exchange that cleared it: that reader's section happens
 * before ours.  OFF at the end: every slot was seen clear of rw after
 * UNDRAINED, and no reader can publish-and-keep since (it rechecks).
 *
 * Cost: one relaxed load while the bias is off; otherwise two stores, a
 * scan of PA_RW_VISIBLE_SLOTS slots (8 KB of loads, about a microsecond),
 * the wait for the biased readers inside, two clock reads; then the bias
 * stays off for BIAS_INHIBIT_FACTOR times that (pa_rwlock.h). */
static pa_lock_result revoke_bias(pa_rwlock *rw, int64_t deadline_ns, uint32_t who) {
    if (atomic_load_explicit(&rw->bias, memory_order_relaxed) == PA_RW_BIAS_OFF) return PA_ACQUIRED;
    int64_t t0 = pa_monotonic_ns();
    PA_STORE(&rw->bias, PA_RW_BIAS_UNDRAINED);
    PA_STORE(&rw->revoking, who); /* REVOKING_WRITE or REVOKING_UPGRADE */
    pa_lock_result r = PA_ACQUIRED;
    for (unsigned i = 0; i < PA_RW_VISIBLE_SLOTS && r == PA_ACQUIRED; i++) {
        if (PA_LOAD(&visible[i]) == (uintptr_t)rw) r = wait_slot_clear(rw, i, deadline_ns);
    }
    PA_STORE(&rw->revoking, 0);
    int64_t t1 = pa_monotonic_ns();
    int64_t inhibit = (t1 - t0) * BIAS_INHIBIT_FACTOR;
    if (inhibit > BIAS_INHIBIT_MAX_NS) inhibit = BIAS_INHIBIT_MAX_NS;
    PA_STORE(&rw->inhibit_until_ns, t1 + inhibit); /* read (relaxed) as a hint */
    /* Gave up: biased readers are still in, so the next writer must scan
     * (UNDRAINED), but no new one may come in until a counted reader turns
     * the bias on again (after the inhibition, with no writer waiting):
     * a writer retrying (the main thread's wait slices) meets no new ones. */
    if (r == PA_ACQUIRED) PA_STORE(&rw->bias, PA_RW_BIAS_OFF);
    return r;
}

/* Clears every slot holding rw: the lock is being freed or forgotten
 * (reinit after fork), so the biased holds of other threads die with it.
 * A CAS per slot: slots of other locks are left alone. */
static void clear_slots_of(const pa_rwlock *rw) {
    for (unsigned i = 0; i < PA_RW_VISIBLE_SLOTS; i++) {
        uintptr_t expected = (uintptr_t)rw;
        if (PA_LOAD(&visible[i]) != expected) continue;
        /* visible_extra is 0 whenever a slot is published: zero it while
         * the slot is still this lock's (its holder is gone or no longer
         * uses the lock, so nobody else writes it), then free the slot. */
        PA_STORE(&visible_extra[i], 0);
        (void)PA_CAS(&visible[i], &expected, (uintptr_t)0);
    }
}

/* Biased read holds of rw now, recursion levels included: a scan, only
 * while the bias is not OFF (invariant B: no biased reader then). */
static uint32_t biased_readers(pa_rwlock *rw) {
    if (PA_LOAD(&rw->bias) == PA_RW_BIAS_OFF) return 0;
    uint32_t n = 0;
    for (unsigned i = 0; i < PA_RW_VISIBLE_SLOTS; i++) {
        if (PA_LOAD(&visible[i]) == (uintptr_t)rw)
            n += 1 + PA_LOAD(&visible_extra[i]);
    }
    return n;
}

/* ---------------------------------------------------------------------------
 * Waking
 * ------------------------------------------------------------------------- */

static void wake_writer(pa_rwlock *rw) {
    /* The bump makes a writer that read the old value and is about to sleep
     * return at once from its futex wait. */
    atomic_fetch_add(&rw->writer_notify, 1);
    pa_wake_one(&rw->writer_notify);
}

/* An upgrader may be waiting for the count to reach 1 (its own read) outside
 * a read phase: wake it if it is.  Called after the caller's seq_cst RMW that
 * made it so; the upgrader stores `upgrading` before its last look at the
 * state, so one of the two sees the other (pa_rwlock.h, "wake the
 * upgrader").  Only one upgrader can exist (the token), hence wake_all on a
 * word only it sleeps on. */
static void wake_upgrader(pa_rwlock *rw) {
    if (PA_LOAD(&rw->upgrading) == 0) return;
    atomic_fetch_add(&rw->upgrade_notify, 1);
    pa_wake_all(&rw->upgrade_notify);
}

static void end_read_phase(pa_rwlock *rw);

/* Called with a state `s` whose count is 0 and which has waiting bits, by the
 * thread that just made it so (a release).  Hands the lock on: after this
 * returns, either a waiter has been woken, or the lock is held (or in a read
 * phase) by someone whose own release (or end of phase) will do this again. */
static void wake_waiters(pa_rwlock *rw, uint32_t s, bool after_write_release) {
    for (;;) {
        /* Held, nobody waits, or a read phase: whoever ends it calls us again. */
        if (count_of(s) != 0 || (s & WAITING) == 0 || (s & RP)) return;
        if (after_write_release && (s & RW)) {
            /* Readers waited out a whole write section: their turn, before
             * any writer (even one that never slept and is about to loop
             * back).  This is what keeps readers from starving under a
             * stream of writers.  WW stays set: the phase's last reader out
             * wakes a writer. */
            if (!PA_CAS(&rw->state, &s, RP | (s & WW))) continue;
            pa_wake_all(&rw->state);
            /* Nobody counted as waiting (RW was stale): end the phase now.
             * A reader counted after this load sees RP and ends it itself. */
            if (PA_LOAD(&rw->read_waiters) == 0) end_read_phase(rw);
            return;
        }
        if (s & WW) {
            /* A waiting writer goes first (writer preference); readers stay
             * parked and get a read phase at that writer's release.
             *
             * WW stays set while a counted writer is woken: clearing it here
             * let a reader arriving before the woken writer's CAS take the
             * lock, the writer set WW and slept again, and one reader coming
             * back could do that for ever (the model's writer-preference
             * liveness check, csrc/model/rwlock.pml LIVE=1, found it).  The
             * last counted writer out clears the bit (drop_stale_ww).
             *
             * Decided by the count, not by what the wake returned: Windows
             * and macOS cannot always say how many they woke (-1), and on
             * Linux a counted writer that is not asleep yet is woken by the
             * notify bump instead (0).  A counted writer takes the free lock,
             * or, giving up, passes it on as it leaves lock_write (its seq_cst
             * decrement comes before its own look at the state, so it sees
             * the lock free unless another thread has it). */
            if (PA_LOAD(&rw->write_waiters) != 0) {
                wake_writer(rw);
                return;
            }
            /* No writer counted: the bit is stale.  Clear it; the readers,
             * if any, next. */
            if (!PA_CAS(&rw->state, &s, s & ~WW)) continue;
            s &= ~WW;
            continue;
        }
        /* Only readers wait (after a read release: they were held back by a
         * writer that has since given up). */
        if (!PA_CAS(&rw->state, &s, s & ~RW)) continue;
        pa_wake_all(&rw->state);
        return;
    }
}

/* Clears READ_PHASE once no reader is counted as waiting, then hands the
 * lock on if it is free.  Run by the last counted reader to leave lock_read
 * and by whoever set the phase if it saw no waiting reader.  Leaves the bit
 * alone while a reader is counted: that reader ends the phase when it leaves.
 * (A phase can only be set while the lock is write-locked, which excludes a
 * phase, so the bit seen here is the phase our caller knows about, or one a
 * later release set for newly counted readers, which the check protects.) */
static void end_read_phase(pa_rwlock *rw) {
    uint32_t s = PA_LOAD(&rw->state);
    while ((s & RP) && PA_LOAD(&rw->read_waiters) == 0) {
        if (PA_CAS(&rw->state, &s, s & ~RP)) {
            s &= ~RP;
            if (count_of(s) == 0 && (s & WAITING)) wake_waiters(rw, s, false);
            /* An upgrader holding the only read waited for the phase to end. */
            if (count_of(s) == 1 && (s & WW)) wake_upgrader(rw);
            return;
        }
    }
}

/* ---------------------------------------------------------------------------
 * Read side
 * ------------------------------------------------------------------------- */

static inline bool read_lockable(uint32_t s, bool recursive) {
    if (count_of(s) >= PA_RW_MAX_READERS) return false; /* write-locked or full */
    return recursive || (s & RP) || (s & WAITING) == 0;
}

static pa_lock_result lock_read(pa_rwlock *rw, int64_t deadline_ns, bool recursive) {
    uint32_t s = PA_LOAD(&rw->state);
    pa_spinwait spin = PA_SPINWAIT_INIT;
    bool counted = false; /* we are in rw->read_waiters */
    bool fork_checked = false;
    bool upgrader_checked = false;
    pa_lock_result result;
    pa_lock_result giving_up = PA_ACQUIRED; /* set once the wait timed out or was interrupted */
    for (;;) {
        if (read_lockable(s, recursive)) {
            /* seq_cst CAS: acquire ordering for the critical section. */
            if (PA_CAS(&rw->state, &s, s + 1)) {
                result = PA_ACQUIRED;
                break;
            }
            continue;
        }
        if (!is_write_locked(s) && count_of(s) >= PA_RW_MAX_READERS) {
            result = PA_TOO_MANY_READERS;
            break;
        }
        if (!upgrader_checked) {
            /* The upgradable holder's plain reads are recursive reads: a
             * writer waiting behind its upgradable read would otherwise wait
             * for it while it waits for the writer.  Looked at only here, off
             * the uncontended path. */
            upgrader_checked = true;
            if (!recursive && PA_LOAD(&rw->upgrader) == pa_thread_id()) {
                recursive = true;
                continue;
            }
        }
        if (giving_up != PA_ACQUIRED) {
            /* We only ever leave while the lock is held (its holder's release
             * wakes the others) or while a writer is being handed it.  A stale
             * bit on an unlocked lock would block readers, so clear it. */
            if (count_of(s) == 0 && (s & WAITING)) wake_waiters(rw, s, false);
            result = giving_up;
            break;
        }
        if (!fork_checked) {
            /* Before giving up or counting ourselves: bits left by the
             * threads of a parent process must not hold us back. */
            fork_checked = true;
            if (PA_UNLIKELY(fork_stale(rw))) {
                reset_after_fork(rw);
                s = PA_LOAD(&rw->state);
                continue;
            }
        }
        if (deadline_ns == 0) {
            result = PA_TIMEDOUT;
            break;
        }
        if ((s & WAITING) == 0 && pa_spinwait_spin(&spin)) {
            s = PA_LOAD(&rw->state);
            continue;
        }
        if (!counted) {
            /* Be counted before announcing ourselves with RW, so a release
             * that starts a read phase for us cannot end it before we are in.
             * Then look again: a phase may have begun meanwhile. */
            atomic_fetch_add(&rw->read_waiters, 1);
            counted = true;
            s = PA_LOAD(&rw->state);
            continue;
        }
        if ((s & RW) == 0) {
            if (!PA_CAS(&rw->state, &s, s | RW)) continue;
            s |= RW;
        }
        /* Sleeps only if the word still equals s: any release in between
         * changed the count, so the wait returns at once. */
        pa_wait_result r = pa_wait_u32(&rw->state, s, deadline_ns);
        if (r == PA_WAIT_TIMEDOUT) giving_up = PA_TIMEDOUT;
        if (r == PA_WAIT_INTERRUPTED) giving_up = PA_INTERRUPTED;
        s = PA_LOAD(&rw->state);
    }
    /* The last waiting reader out ends a read phase (held or not: see
     * end_read_phase). */
    if (counted && atomic_fetch_sub(&rw->read_waiters, 1) == 1) end_read_phase(rw);
    return result;
}

pa_lock_result pa_rwlock_acquire_read(pa_rwlock *rw, int64_t deadline_ns) {
    if (PA_LOAD(&rw->writer) == pa_thread_id()) return PA_READ_WHILE_WRITING;
    read_hold *h = find_hold(rw);
    if (h != NULL && h->slot >= 0) {
        /* A recursive read of a biased hold: the slot stays published, so
         * a draining writer waits for it anyway; nothing shared to write,
         * and nothing to wait for (it may pass a waiting writer, as every
         * recursive read does).  Bounded like the count. */
        if (h->depth >= PA_RW_MAX_READERS) return PA_TOO_MANY_READERS;
        h->depth++;
        PA_STORE(&visible_extra[h->slot], h->depth - 1);
        return PA_ACQUIRED;
    }
    if (h == NULL) {
        if (!room_for_hold()) return PA_READ_TABLE_FULL;
        int32_t slot;
        if (biased_read(rw, &slot)) {
            add_hold(rw, slot);
            return PA_ACQUIRED;
        }
    }
    pa_lock_result r = lock_read(rw, deadline_ns, h != NULL);
    if (r != PA_ACQUIRED) return r;
    if (h != NULL) {
        h->depth++;
    } else {
        add_hold(rw, -1);
        maybe_enable_bias(rw); /* still holding the count: see there */
    }
    return PA_ACQUIRED;
}

/* A read release found waiting bits (s: the state it left). */
PA_COLD static void read_released_waiting(pa_rwlock *rw, uint32_t s) {
    if (count_of(s) == 0 && !(s & RP)) {
        /* Stale after a fork: the waiters are the parent's; nobody to wake. */
        if (PA_UNLIKELY(fork_stale(rw))) {
            reset_after_fork(rw);
            return;
        }
        wake_waiters(rw, s, false);
    } else if (count_of(s) == 1 && (s & WW) && !(s & RP)) {
        /* The one left may be an upgrader waiting for us (see
         * wake_upgrader: our RMW came before this load). */
        wake_upgrader(rw);
    }
}

/* The count part of a read release (plain or upgradable). */
static inline void read_release_count(pa_rwlock *rw) {
    /* seq_cst RMW: release ordering for the critical section. */
    uint32_t s = atomic_fetch_sub(&rw->state, 1) - 1;
    if (PA_UNLIKELY(s & WAITING)) read_released_waiting(rw, s);
}

pa_lock_result pa_rwlock_release_read(pa_rwlock *rw) {
    read_hold *h = find_hold(rw);
    if (h == NULL) return PA_READ_NOT_HELD;
    if (h->slot >= 0) {
        /* A biased hold: the state word was never written for it; the slot
         * stays published until the outermost release. */
        unsigned slot = (unsigned)h->slot;
        if (--h->depth == 0) {
            drop_hold(h);
            unpublish(rw, slot);
        } else {
            PA_STORE(&visible_extra[slot], h->depth - 1); /* 0 again at depth 1 */
        }
        return PA_ACQUIRED;
    }
    if (--h->depth == 0) drop_hold(h);
    read_release_count(rw);
    return PA_ACQUIRED;
}

/* ---------------------------------------------------------------------------
 * The write sequence (optimistic reads; the argument is in pa_rwlock.h).
 * Called only by the write holder: holders are ordered by the state word, so
 * a relaxed load sees the last holder's value and a plain store suffices.
 * ------------------------------------------------------------------------- */

/* ThreadSanitizer does not model fences, and GCC warns (-Wtsan, an error
 * with -Werror) at every one in a -fsanitize=thread build.  The two below
 * order the protected data, which TSan never sees racing: in C it must be
 * atomics (relaxed), from Python the interpreter's own synchronised reads and
 * writes.  So the builds the race detectors check (scripts/sanitize.sh c-tsan,
 * tsan) keep the fences and silence the warning; what the fences do is
 * argued in pa_rwlock.h and exercised by csrc/tests' rwlock_optimistic storm
 * (natively and, in scripts/check_release.sh, built for arm64). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define PA_FENCES_BEGIN _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wtsan\"")
#define PA_FENCES_END _Pragma("GCC diagnostic pop")
#else
#define PA_FENCES_BEGIN
#define PA_FENCES_END
#endif

PA_FENCES_BEGIN

/* Just acquired: q -> q+1, odd.  The release fence keeps the caller's data
 * stores, which come after it, from becoming visible before the odd value:
 * an optimistic reader that sees one of them, then fences in validate, sees
 * the odd value (or later).  A release store of the odd value would not do:
 * it orders what precedes it, and the data stores follow it. */
static inline void write_seq_enter(pa_rwlock *rw) {
    uint64_t q = atomic_load_explicit(&rw->write_seq, memory_order_relaxed);
    atomic_store_explicit(&rw->write_seq, q + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

/* About to leave the write lock (release or downgrade): q -> q+1, even.  A
 * release store, so an optimistic reader whose acquire load reads it sees
 * every data store of the section.  Before the state word lets the next
 * writer in, so that writer's load reads this value. */
static inline void write_seq_leave(pa_rwlock *rw) {
    uint64_t q = atomic_load_explicit(&rw->write_seq, memory_order_relaxed);
    atomic_store_explicit(&rw->write_seq, q + 1, memory_order_release);
}

int64_t pa_rwlock_optimistic_read(pa_rwlock *rw) {
    uint64_t s = atomic_load_explicit(&rw->write_seq, memory_order_acquire);
    return (s & 1) ? 0 : (int64_t)s;
}

bool pa_rwlock_validate(pa_rwlock *rw, int64_t stamp) {
    /* The caller's reads of the data come before the load below (the fence
     * pairs with write_seq_enter's). */
    atomic_thread_fence(memory_order_acquire);
    /* An odd value is never a stamp: one equal to the sequence now would
     * "validate" against a writer inside its section. */
    return stamp > 0 && (stamp & 1) == 0 &&
           atomic_load_explicit(&rw->write_seq, memory_order_relaxed) == (uint64_t)stamp;
}

PA_FENCES_END

/* ---------------------------------------------------------------------------
 * Write side
 * ------------------------------------------------------------------------- */

/* No writer is counted as waiting any more: clear a WW that outlived its
 * writers (they timed out or were interrupted, or a writer that acquired saw
 * another that has since left), because WW holds back new readers.  Run by the
 * last counted writer to leave lock_write.  The check and the CAS are not one
 * step: a writer counted after the check may have set WW and be about to
 * sleep, so the notify bump below sends it round its loop again, to set WW
 * anew; a writer already asleep was counted before the check (we would not
 * be here).  Then readers held back only by the bit may enter. */
static void drop_stale_ww(pa_rwlock *rw) {
    uint32_t s = PA_LOAD(&rw->state);
    while ((s & WW) && PA_LOAD(&rw->write_waiters) == 0) {
        if (!PA_CAS(&rw->state, &s, s & ~WW)) continue;
        s &= ~WW;
        wake_writer(rw);
        /* The same for an upgrader counted after the check: it may sleep on
         * upgrade_notify having seen the WW we just cleared, and the read
         * release that leaves it alone would then see no WW and not wake it
         * (the model found this: csrc/model/rwlock.pml, UPG_BUGGY 3).  Its
         * `upgrading` store precedes its look at the state, which precedes
         * our CAS: our load sees it. */
        wake_upgrader(rw);
        if (count_of(s) == 0) {
            if (!(s & RP) && (s & RW)) wake_waiters(rw, s, false);
            return;
        }
        /* Read-held: parked readers waited only for the writer that left.
         * (Write-held: the writer's release wakes them; a read phase lets
         * them in already.) */
        while (!is_write_locked(s) && !(s & RP) && (s & RW)) {
            if (PA_CAS(&rw->state, &s, s & ~RW)) {
                pa_wake_all(&rw->state);
                return;
            }
        }
        return;
    }
}

static pa_lock_result lock_write(pa_rwlock *rw, int64_t deadline_ns, uint64_t me) {
    uint32_t s = 0;
    if (PA_LIKELY(PA_CAS(&rw->state, &s, PA_RW_WRITE_LOCKED))) return PA_ACQUIRED;
    /* Off the uncontended path: an upgradable holder's count is never 0, so
     * the CAS above always fails for it. */
    if (PA_LOAD(&rw->upgrader) == me) return PA_WRITE_WHILE_UPGRADABLE;

    bool counted = false; /* we are in rw->write_waiters */
    bool fork_checked = false;
    pa_spinwait spin = PA_SPINWAIT_INIT;
    pa_lock_result result;
    pa_lock_result giving_up = PA_ACQUIRED; /* set once the wait timed out or was interrupted */
    for (;;) {
        if (write_lockable(s)) {
            /* Keep the bits: parked readers must still be woken at our
             * release.  Other writers counted as waiting may sleep with WW
             * cleared by the release that woke us: set it for them. */
            uint32_t others = counted && PA_LOAD(&rw->write_waiters) > 1 ? WW : 0;
            if (PA_CAS(&rw->state, &s, s | PA_RW_WRITE_LOCKED | others)) {
                result = PA_ACQUIRED;
                break;
            }
            continue;
        }
        if (giving_up != PA_ACQUIRED) {
            result = giving_up;
            break;
        }
        if (!fork_checked) { /* as in lock_read */
            fork_checked = true;
            if (PA_UNLIKELY(fork_stale(rw))) {
                reset_after_fork(rw);
                s = PA_LOAD(&rw->state);
                continue;
            }
        }
        if (deadline_ns == 0) return PA_TIMEDOUT; /* never counted */
        if ((s & (WAITING | RP)) == 0 && pa_spinwait_spin(&spin)) {
            s = PA_LOAD(&rw->state);
            continue;
        }
        if (!counted) {
            /* Counted before setting WW, so the last writer to leave knows
             * it may clear the bit (drop_stale_ww). */
            atomic_fetch_add(&rw->write_waiters, 1);
            counted = true;
            s = PA_LOAD(&rw->state);
            continue;
        }
        if ((s & WW) == 0) {
            if (!PA_CAS(&rw->state, &s, s | WW)) continue;
        }
        /* Read the notify counter, then re-check the state: a release after
         * this point bumps the counter, so the wait below cannot miss it. */
        uint32_t seq = PA_LOAD(&rw->writer_notify);
        s = PA_LOAD(&rw->state);
        if (write_lockable(s) || (s & WW) == 0) continue;
        pa_wait_result r = pa_wait_u32(&rw->writer_notify, seq, deadline_ns);
        if (r == PA_WAIT_TIMEDOUT) giving_up = PA_TIMEDOUT;
        if (r == PA_WAIT_INTERRUPTED) giving_up = PA_INTERRUPTED;
        s = PA_LOAD(&rw->state);
    }
    if (!counted) return result;
    if (atomic_fetch_sub(&rw->write_waiters, 1) == 1) {
        drop_stale_ww(rw);
        if (result != PA_ACQUIRED) {
            /* Released meanwhile with nobody else to take it: pass it on. */
            s = PA_LOAD(&rw->state);
            if (write_lockable(s) && (s & WAITING)) wake_waiters(rw, s, false);
        }
    } else if (result != PA_ACQUIRED) {
        /* Other writers wait, and we may have consumed a wakeup meant for
         * one of them (a release cleared WW and woke us): put the bit back,
         * so the holder's release (or the end of a read phase) wakes a
         * writer again. */
        s = PA_LOAD(&rw->state);
        while (!write_lockable(s) && (s & WW) == 0 && !PA_CAS(&rw->state, &s, s | WW)) {
        }
        if (write_lockable(s)) {
            /* Released meanwhile; it saw no WW.  Pass the wakeup on. */
            wake_writer(rw);
            wake_waiters(rw, s, false);
        }
    }
    return result;
}

/* W -> 0, handing the lock on: the state part of a write release, and the
 * undo of a write acquisition whose drain of biased readers gave up (the
 * same hand-off: readers parked behind us get their read phase).
 * PA_INLINE: the uncontended release is this one fetch_sub, in
 * pa_rwlock_release_write itself (csrc/tests/check_arm64_disassembly.py). */
PA_INLINE void release_write_state(pa_rwlock *rw) {
    uint32_t s = atomic_fetch_sub(&rw->state, PA_RW_WRITE_LOCKED) - PA_RW_WRITE_LOCKED;
    if (s & WAITING) {
        /* Stale after a fork: no read phase for readers that are not here. */
        if (PA_UNLIKELY(fork_stale(rw))) {
            reset_after_fork(rw);
            return;
        }
        wake_waiters(rw, s, true);
    }
}

pa_lock_result pa_rwlock_acquire_write(pa_rwlock *rw, int64_t deadline_ns) {
    uint64_t me = pa_thread_id();
    if (PA_LOAD(&rw->writer) == me) return PA_WRITE_TWICE;
    if (find_hold(rw) != NULL) return PA_UPGRADE; /* it would wait for itself */
    pa_lock_result r = lock_write(rw, deadline_ns, me);
    if (r != PA_ACQUIRED) return r;
    /* The word is ours; biased readers may still be inside. */
    r = revoke_bias(rw, deadline_ns, REVOKING_WRITE);
    if (r != PA_ACQUIRED) {
        /* Timed out or interrupted in the drain: give the word back exactly
         * as a release does.  Nothing was written: `writer` and write_seq
         * are untouched (stamps stay valid), nothing held. */
        release_write_state(rw);
        return r;
    }
    write_seq_enter(rw); /* only a real acquisition invalidates stamps */
    PA_STORE(&rw->writer, me);
    return PA_ACQUIRED;
}

pa_lock_result pa_rwlock_release_write(pa_rwlock *rw) {
    if (PA_LOAD(&rw->writer) != pa_thread_id()) return PA_WRITE_NOT_HELD;
    PA_STORE(&rw->writer, 0);
    write_seq_leave(rw); /* before W -> 0: the next writer's load must see it */
    release_write_state(rw);
    return PA_ACQUIRED;
}

/* W -> 1 done (s: the state it left): readers that waited for the write
 * lock may join the one read now, past waiting writers (they were blocked
 * only by the write lock): a read phase, as at a write release.  Used by
 * downgrade and by an upgrade that gave up in its drain.  Only sleeping
 * readers set RW and nobody else clears it while the lock is held, but
 * writers may set WW meanwhile, hence the loop. */
static void after_write_to_read(pa_rwlock *rw, uint32_t s) {
    if ((s & (WAITING | RP)) && PA_UNLIKELY(fork_stale(rw))) {
        reset_after_fork(rw); /* the waiters are the parent's */
        return;
    }
    while (s & RW) {
        if (PA_CAS(&rw->state, &s, (s & ~RW) | RP)) {
            pa_wake_all(&rw->state);
            if (PA_LOAD(&rw->read_waiters) == 0) end_read_phase(rw);
            break;
        }
    }
}

pa_lock_result pa_rwlock_downgrade(pa_rwlock *rw) {
    if (PA_LOAD(&rw->writer) != pa_thread_id()) return PA_DOWNGRADE_NOT_HELD;
    if (!room_for_hold()) return PA_READ_TABLE_FULL;
    PA_STORE(&rw->writer, 0);
    /* Even again, never back to the value before the write section: stamps
     * taken before it stay stale. */
    write_seq_leave(rw);
    /* W -> 1 in one step: there is no instant at which the lock is free. */
    uint32_t s = atomic_fetch_sub(&rw->state, PA_RW_WRITE_LOCKED - 1) - (PA_RW_WRITE_LOCKED - 1);
    add_hold(rw, -1); /* in the count (W -> 1) */
    after_write_to_read(rw, s);
    return PA_ACQUIRED;
}

/* ---------------------------------------------------------------------------
 * Upgradable reads (pa_rwlock.h, "Upgradable reads")
 * ------------------------------------------------------------------------- */

/* Only the upgrader's own read is left, and no read phase is admitting the
 * readers that waited through a write section (their turn comes first, as
 * it does before a writer's). */
static inline bool upgradable_now(uint32_t s) { return count_of(s) == 1 && (s & RP) == 0; }

/* 1 -> W for the holder of the upgradable read; lock_write's loop with the
 * count 1 for 0, and a sleep on upgrade_notify.  The upgrader is counted in
 * write_waiters while it waits: WW is then cleared by nobody (every clearer
 * requires write_waiters == 0), so new readers stay behind it, and the last
 * counted "writer" out drops a stale bit as lock_write does.  wake_waiters
 * never sees it as the writer a free lock is handed to: a counted upgrader
 * holds a read, so the count is not 0. */
static pa_lock_result lock_upgrade(pa_rwlock *rw, int64_t deadline_ns) {
    uint32_t s = 1;
    if (PA_LIKELY(PA_CAS(&rw->state, &s, PA_RW_WRITE_LOCKED))) return PA_ACQUIRED;

    bool counted = false; /* in write_waiters, `upgrading` set */
    bool fork_checked = false;
    pa_spinwait spin = PA_SPINWAIT_INIT;
    pa_lock_result result;
    pa_lock_result giving_up = PA_ACQUIRED;
    for (;;) {
        if (upgradable_now(s)) {
            /* Keep the bits: parked readers are woken at our release, and
             * other counted writers need WW (it is still set: see above). */
            if (PA_CAS(&rw->state, &s, (s & ~PA_RW_COUNT_MASK) | PA_RW_WRITE_LOCKED)) {
                result = PA_ACQUIRED;
                break;
            }
            continue;
        }
        if (giving_up != PA_ACQUIRED) {
            result = giving_up;
            break;
        }
        if (!fork_checked) { /* as in lock_read */
            fork_checked = true;
            if (PA_UNLIKELY(fork_stale(rw))) {
                reset_after_fork(rw);
                s = PA_LOAD(&rw->state);
                continue;
            }
        }
        if (deadline_ns == 0) return PA_TIMEDOUT; /* never counted */
        if ((s & (WAITING | RP)) == 0 && pa_spinwait_spin(&spin)) {
            s = PA_LOAD(&rw->state);
            continue;
        }
        if (!counted) {
            /* `upgrading` before WW and before the state is looked at again:
             * a release that sees WW then sees `upgrading` (wake_upgrader). */
            PA_STORE(&rw->upgrading, 1);
            atomic_fetch_add(&rw->write_waiters, 1);
            counted = true;
            s = PA_LOAD(&rw->state);
            continue;
        }
        if ((s & WW) == 0) {
            if (!PA_CAS(&rw->state, &s, s | WW)) continue;
        }
        /* Counter, then state: a release after this state load bumps the
         * counter (it sees WW and `upgrading`), so the wait cannot miss it. */
        uint32_t seq = PA_LOAD(&rw->upgrade_notify);
        s = PA_LOAD(&rw->state);
        if (upgradable_now(s) || (s & WW) == 0) continue;
        pa_wait_result r = pa_wait_u32(&rw->upgrade_notify, seq, deadline_ns);
        if (r == PA_WAIT_TIMEDOUT) giving_up = PA_TIMEDOUT;
        if (r == PA_WAIT_INTERRUPTED) giving_up = PA_INTERRUPTED;
        s = PA_LOAD(&rw->state);
    }
    if (!counted) return result;
    PA_STORE(&rw->upgrading, 0);
    /* The last counted writer out drops a WW nobody needs (write-held: the
     * bit only costs our release a look; read-held, after a timeout:
     * readers parked behind our WW are woken).  With other writers counted
     * the bit stays theirs, and there is no wakeup to pass on: we never
     * slept on writer_notify, and the lock is held (by us, one way or the
     * other), so its release hands it on. */
    if (atomic_fetch_sub(&rw->write_waiters, 1) == 1) drop_stale_ww(rw);
    return result;
}

pa_lock_result pa_rwlock_acquire_upgradable(pa_rwlock *rw, int64_t deadline_ns) {
    uint64_t me = pa_thread_id();
    if (PA_LOAD(&rw->upgrader) == me) return PA_UPGRADABLE_TWICE;
    if (PA_LOAD(&rw->writer) == me) return PA_UPGRADABLE_WHILE_WRITING;
    /* Its upgrade would wait for this read; and waiting for the token while
     * holding a read could deadlock against the holder's upgrade. */
    if (find_hold(rw) != NULL) return PA_UPGRADABLE_WHILE_READING;
    pa_lock_result r = pa_spinlock_acquire(&rw->upg_token, deadline_ns);
    if (r != PA_ACQUIRED) return r;
    /* A new reader's read: behind waiting writers, as any. */
    r = lock_read(rw, deadline_ns, false);
    if (r != PA_ACQUIRED) {
        pa_spinlock_release(&rw->upg_token);
        return r;
    }
    PA_STORE(&rw->upgrader, me);
    return PA_ACQUIRED;
}

pa_lock_result pa_rwlock_release_upgradable(pa_rwlock *rw) {
    if (PA_LOAD(&rw->upgrader) != pa_thread_id()) return PA_UPGRADABLE_NOT_HELD;
    PA_STORE(&rw->upgrader, 0);
    read_release_count(rw);
    pa_spinlock_release(&rw->upg_token);
    return PA_ACQUIRED;
}

pa_lock_result pa_rwlock_upgrade(pa_rwlock *rw, int64_t deadline_ns) {
    uint64_t me = pa_thread_id();
    if (PA_LOAD(&rw->upgrader) != me) return PA_UPGRADE_NOT_HELD;
    if (find_hold(rw) != NULL) return PA_UPGRADE_WHILE_READING; /* the count never gets to 1 */
    pa_lock_result r = lock_upgrade(rw, deadline_ns);
    if (r != PA_ACQUIRED) return r; /* still the upgradable holder */
    /* 1 -> W done; biased plain readers may still be inside. */
    r = revoke_bias(rw, deadline_ns, REVOKING_UPGRADE);
    if (r != PA_ACQUIRED) {
        /* Gave up in the drain: W -> 1, back to the upgradable read (count,
         * token, upgrader untouched; write_seq unchanged), readers parked
         * behind our brief write lock let in as after a downgrade. */
        uint32_t s = atomic_fetch_sub(&rw->state, PA_RW_WRITE_LOCKED - 1) - (PA_RW_WRITE_LOCKED - 1);
        after_write_to_read(rw, s);
        return r;
    }
    write_seq_enter(rw);
    PA_STORE(&rw->writer, me);
    PA_STORE(&rw->upgrader, 0);
    /* Now a plain write holder; the next upgradable reader may queue (it
     * waits for our write lock like any reader). */
    pa_spinlock_release(&rw->upg_token);
    return PA_ACQUIRED;
}

bool pa_rwlock_upgradable_held_by_me(pa_rwlock *rw) { return PA_LOAD(&rw->upgrader) == pa_thread_id(); }

/* ---------------------------------------------------------------------------
 * Observers and lifecycle
 * ------------------------------------------------------------------------- */

void pa_rwlock_init(pa_rwlock *rw) {
    install_fork_hooks(); /* before the lock exists: no fork can miss it */
    rw->serial = new_registered_serial();
    PA_STORE(&rw->fork_gen, PA_LOAD(&fork_generation));
    PA_STORE(&rw->state, 0);
    PA_STORE(&rw->writer_notify, 0);
    PA_STORE(&rw->read_waiters, 0);
    PA_STORE(&rw->write_waiters, 0);
    PA_STORE(&rw->writer, 0);
    PA_STORE(&rw->write_seq, PA_RW_FIRST_STAMP);
    PA_STORE(&rw->upgrader, 0);
    PA_STORE(&rw->upgrading, 0);
    PA_STORE(&rw->upgrade_notify, 0);
    pa_spinlock_init(&rw->upg_token);
    /* Off until the first counted read turns it on: a lock used only for
     * writing never pays a scan. */
    PA_STORE(&rw->bias, PA_RW_BIAS_OFF);
    PA_STORE(&rw->revoking, 0);
    PA_STORE(&rw->drain_notify, 0);
    PA_STORE(&rw->inhibit_until_ns, 0);
}

void pa_rwlock_reinit_after_fork(pa_rwlock *rw) {
    read_hold *h = find_hold(rw);
    if (h != NULL) drop_hold(h);
    PA_STORE(&rw->state, 0);
    PA_STORE(&rw->writer_notify, 0);
    PA_STORE(&rw->read_waiters, 0);
    PA_STORE(&rw->write_waiters, 0);
    PA_STORE(&rw->writer, 0);
    PA_STORE(&rw->upgrader, 0);
    PA_STORE(&rw->upgrading, 0);
    pa_spinlock_init(&rw->upg_token);
    /* Biased holds die too: every slot of this lock, the forking thread's
     * included (its entry was dropped above), then OFF (invariant B). */
    clear_slots_of(rw);
    PA_STORE(&rw->bias, PA_RW_BIAS_OFF);
    PA_STORE(&rw->revoking, 0);
    PA_STORE(&rw->inhibit_until_ns, 0);
    /* The next even value above every stamp issued ((q | 1) + 1): a writer
     * that was forgotten mid-section (odd q) may have left half its data, and
     * a reinit is a write acquisition and release as far as stamps go. */
    PA_STORE(&rw->write_seq, (PA_LOAD(&rw->write_seq) | 1) + 1);
    PA_STORE(&rw->fork_gen, PA_LOAD(&fork_generation));
}

void pa_rwlock_forget_my_holds(pa_rwlock *rw) {
    read_hold *h = find_hold(rw);
    if (h == NULL) return;
    /* A biased hold's slot goes too (pa_rwlock_destroy clears every slot
     * anyway; here, a lock that lives on must not keep a slot nobody
     * will release). */
    int32_t slot = h->slot;
    drop_hold(h);
    if (slot >= 0) {
        PA_STORE(&visible_extra[slot], 0); /* its recursion levels go too */
        unpublish(rw, (unsigned)slot);
    }
}

void pa_rwlock_destroy(pa_rwlock *rw) {
    pa_rwlock_forget_my_holds(rw);
    /* Biased holds of threads that still read-held it (the freeing thread's
     * included) must not outlive it: their slots would make a new lock at
     * this address wait for readers it never had.  Their table entries are
     * dead by serial (below) and never clear a slot: reclaim only drops
     * them. */
    clear_slots_of(rw);
    /* From now on every other thread's entry for rw is recognisably dead. */
    registry_remove(rw->serial);
}

bool pa_rwlock_is_write_locked(pa_rwlock *rw) {
    /* A word write-locked while biased readers are inside is a writer
     * still draining them: not in yet, and a biased reader asking must not
     * see a writer beside it (its own slot is among those counted). */
    return is_write_locked(PA_LOAD(&rw->state)) && biased_readers(rw) == 0;
}

bool pa_rwlock_side_locked(pa_rwlock *rw, bool write) {
    uint32_t s = PA_LOAD(&rw->state);
    bool held = write ? !write_lockable(s) : count_of(s) != 0 || !read_lockable(s, false);
    return held || biased_readers(rw) != 0; /* biased readers hold it too */
}

uint32_t pa_rwlock_reader_count(pa_rwlock *rw) {
    uint32_t s = PA_LOAD(&rw->state);
    /* Counted readers plus biased ones (a scan while the bias is not off);
     * a writer draining biased readers has the word already, so both can
     * be seen at once there: the biased ones are still inside. */
    return (is_write_locked(s) ? 0 : count_of(s)) + biased_readers(rw);
}

bool pa_rwlock_write_held_by_me(pa_rwlock *rw) { return PA_LOAD(&rw->writer) == pa_thread_id(); }

uint32_t pa_rwlock_read_holds_by_me(pa_rwlock *rw) {
    read_hold *h = find_hold(rw);
    return h ? h->depth : 0;
}
