/*
 * pa_rwlock.h -- a writer-preferring reader-writer lock on one 32-bit word.
 *
 * Modelled on Rust std's futex RwLock (library/std/src/sys/sync/rwlock/futex.rs),
 * with timeouts, interruption and ownership checks added, and a read phase
 * after each write section so that writers cannot starve readers.
 *
 * State word:
 *
 *   bit 31  WRITERS_WAITING   a writer is (or is about to be) asleep on writer_notify
 *   bit 30  READERS_WAITING   a reader is (or is about to be) asleep on state
 *   bit 29  READ_PHASE        the lock is being handed to the readers that were
 *                             waiting: no writer may take it while this is set
 *   bits 0-28 count           0: unlocked; 1..MAX_READERS: that many readers;
 *                             all ones (PA_RW_WRITE_LOCKED): one writer
 *
 * Beside the word, read_waiters and write_waiters count the readers and
 * writers inside the blocking part of lock_read / lock_write (from before they
 * first set their waiting bit until they leave, holding the lock or not).
 * read_waiters decides when a read phase may end; write_waiters, when a
 * WRITERS_WAITING bit has outlived its writers and must go, and whether a
 * release that woke a writer is done (wake_waiters).  fork_gen records the
 * fork generation these waiters belong to (see "after fork" below).
 *
 * Transitions (count / bits):
 *
 *   read acquire    n -> n+1     only if n < MAX_READERS and either READ_PHASE is
 *                                set or neither waiting bit is (writer preference:
 *                                a waiting writer holds back new readers).  A thread
 *                                that already holds a read lock on this RWLock may
 *                                pass waiting writers, so a recursive read cannot
 *                                deadlock against a writer.
 *   read release    n -> n-1     the last reader (n-1 == 0) with waiters and no
 *                                READ_PHASE runs wake_waiters (prefer one writer).
 *   wake_waiters    WW -> 0      (count 0, no READ_PHASE, writers waiting) clear WW,
 *                                bump writer_notify, wake one writer, and stop there
 *                                if write_waiters != 0: a counted writer takes the
 *                                lock or passes it on as it leaves.  Only if no writer
 *                                is counted (a stale bit) does it go on to the
 *                                readers.  Never decided by the wake's return value,
 *                                which may be -1 (Windows, macOS) or 0 for a writer
 *                                not yet asleep.
 *   write acquire   0 -> W       whatever the waiting bits, but never during a
 *                                READ_PHASE; a writer that has slept re-sets
 *                                WRITERS_WAITING if other writers are counted (the
 *                                release that woke it cleared the bit).  The
 *                                acquisition is complete only after the drain of
 *                                biased readers ("Biased reads" below); a drain
 *                                that gives up undoes it as a write release.
 *   (biased reads never change the word; the count holds counted readers only)
 *   write release   W -> 0       readers waiting: -> READ_PHASE (keeping
 *                                WRITERS_WAITING), wake all readers.  Only writers
 *                                waiting: clear the bit, wake one writer.
 *   downgrade       W -> 1       atomically, so no writer can get in between; with
 *                                readers waiting, also READERS_WAITING -> READ_PHASE
 *                                and wake them: they join us past waiting writers.
 *   writer leaves   WW           (timed out, interrupted, or acquired) the last
 *                                counted writer clears a WRITERS_WAITING left
 *                                behind and bumps writer_notify (a writer counted
 *                                meanwhile re-sets it); if readers hold the lock,
 *                                readers parked behind the bit are woken.  A writer
 *                                giving up while others are counted re-sets the
 *                                bit instead: it may have taken their wakeup.
 *   end of phase    READ_PHASE   cleared by whoever sees read_waiters == 0 after it
 *                                was set: the last waiting reader to leave lock_read,
 *                                or the releaser itself if nobody waited (a stale
 *                                READERS_WAITING).  If the count is then 0 and
 *                                writers wait, it runs wake_waiters.
 *   after fork      RW WW RP     in a child process, the first slow path to meet the
 *                   -> 0         lock (fork_gen behind the process's fork generation)
 *                                clears all three bits and zeroes read_waiters and
 *                                write_waiters, keeping the count and `writer`: the
 *                                waiters were the parent's threads (pa_rwlock.c,
 *                                "fork()").  A write-locked word whose owner was
 *                                draining biased readers (`revoking` set) is given
 *                                back: W -> 0 (W -> 1 for an upgrader).  Fast
 *                                paths never look.
 *   waiting         set RW / WW  with a CAS while the lock is held, then sleep on a
 *                                word whose value the sleeper just read.  Every
 *                                release that sees a bit hands the lock on, and the
 *                                kernel's compare-and-sleep makes a release between
 *                                "set bit" and "sleep" end the sleep at once: no
 *                                wakeup is lost.
 *
 * Why READ_PHASE: waking the readers and letting them race with writers is not
 * enough.  A woken reader needs tens of microseconds to run; a writer that
 * releases and loops back takes the free lock again long before that, so a
 * stream of writers starved readers for as long as it lasted.  With the phase,
 * readers that waited through a write section are sure to get in before the
 * next writer.  Why the read_waiters count: a phase must end even if no reader
 * comes (the READERS_WAITING bit outlives readers that timed out), and must not
 * end while a woken reader is still on its way in.  A phase set while
 * read_waiters was 0 is ended by the releaser; otherwise the last counted reader
 * ends it, and seq_cst ordering makes at least one of the two see the other.
 *
 * Why write_waiters: without it a writer that gave up left WRITERS_WAITING set
 * (it cannot tell whether other writers still sleep), and new readers were then
 * refused for as long as the current readers held the lock, with no writer
 * waiting at all.
 *
 * Guarantees: mutual exclusion; writer preference (once a writer waits, no new
 * reader enters, except recursive reads and during a READ_PHASE); no writer
 * starvation by readers (a READ_PHASE admits only the readers already waiting
 * when it began, plus any that arrive while they are still getting in); no
 * reader starvation by writers (a reader that waits through one write section
 * gets in before the next writer).  Not FIFO: a lock is not handed to a
 * specific thread.
 *
 * Optimistic reads (Java's StampedLock.tryOptimisticRead/validate): beside
 * the state word, write_seq, a 64-bit sequence that only the write holder
 * changes (a seqlock's counter).  Even while no writer is inside, odd while
 * one is; it starts at PA_RW_FIRST_STAMP (2), so a valid stamp is never 0.
 *
 *   write acquire   q -> q+1 (odd)    after the state CAS that took the lock,
 *                                     before acquire_write returns (every path:
 *                                     fast, slow, timed; they all end in
 *                                     pa_rwlock_acquire_write)
 *   write release   q -> q+1 (even)   before the state release W -> 0
 *   downgrade       q -> q+1 (even)   before W -> 1: the downgraded section
 *                                     reads only, but the write part made the
 *                                     old stamps stale, and they stay stale
 *   reinit (fork)   q -> next even    strictly above every stamp issued: a
 *                                     child forgets a writer that may have
 *                                     been mid-section, so no old stamp may
 *                                     vouch for what it left
 *   upgrade         q -> q+1 (odd)    as a write acquire, after the 1 -> W CAS
 *   failed attempt  unchanged         a write acquisition or upgrade that timed
 *                                     out, was interrupted or refused
 *                                     (PA_WRITE_TWICE, PA_UPGRADE, ...) changed
 *                                     no data
 *   read lock/release, a slow path's after-fork reset: unchanged.  That
 *                     reset keeps the count and `writer`, so a child whose
 *                     parent had a writer mid-section keeps an odd sequence
 *                     (stamps 0) for as long as the lock stays write-held, as
 *                     it does; the forking thread's own section ends with its
 *                     release as usual.  Stamps from before the fork stay
 *                     valid in the child while no write section intervenes:
 *                     the memory they vouch for was copied as it was.
 *
 *   optimistic_read   s = load(write_seq, acquire); stamp = s odd ? 0 : s
 *   validate(stamp)   fence(acquire); stamp > 0, even, == load(write_seq, relaxed)
 *
 * Only the write holder writes write_seq (and reinit, single-threaded by
 * design), so the bumps are a relaxed load and a store, not read-modify-
 * writes: write holders are ordered by the state word (each acquiring CAS
 * reads a release RMW at or after the previous holder's release, which comes
 * after its bump), so the load sees the previous holder's even value.  The
 * writer pays, per write section, two plain stores and a release fence (on
 * x86 both stores are plain movs and the fence is a compiler barrier; on
 * arm64 a str and a dmb ish on acquiring, an stlr on leaving).  The readers'
 * paths are loads and a fence and write nothing shared, so optimistic
 * readers never contend with each other or with plain readers on the lock's
 * memory.
 *
 * Why a True validation means a consistent read (the seqlock argument,
 * Boehm, "Can seqlocks get along with programming language memory models?",
 * MSPC 2012).  A reader that got stamp s (even) and then read data D:
 *   - s came from the even store ending the last write section before the
 *     stamp (a release store; the acquire load of optimistic_read reads it),
 *     so every store of that section happens before the reader's reads of D:
 *     it sees those values, or later ones;
 *   - a later one was stored by a later writer, after its odd store q+1 and
 *     the release fence that follows it.  The reader's read of that store,
 *     then its acquire fence in validate, make the fences synchronise: the
 *     odd store happens before validate's load, which (coherence) then reads
 *     q+1 or later, never s.  So validate says False.
 *   - so a True validation saw, for every datum, exactly the value of the
 *     section that ended at s: no writer's intermediate state, no mix of two
 *     sections.
 * A stamp taken while a writer holds the lock is 0 from the odd store on;
 * between the writer's state CAS and that store (a few instructions inside
 * acquire_write) a stamp may still come out even and validate: the writer
 * has changed no data yet.  For optimistic readers a write acquisition takes
 * effect at its bump, which every acquire_write does before it returns, so
 * any writer whose acquire_write has returned (and every one of its data
 * stores) invalidates the stamps taken before.  The data must be read with
 * loads that cannot tear (in C: relaxed atomics, a plain racing read being
 * undefined behaviour; from Python: attribute and item reads, each of which
 * the interpreter makes whole and memory-safe, with or without a GIL), so
 * that the only risk is a stale combination of values, which validate
 * refuses.
 * 64 bits: 2^62 write sections (over a century at a nanosecond each) before
 * a stamp could be reissued.
 *
 * Upgradable reads (Rust parking_lot's upgradable_read).  At most one thread
 * at a time holds the upgradable read: a read lock that excludes writers and
 * other upgradable holders but not plain readers, and that its holder may
 * turn into the write lock without letting any writer in between.  The state
 * word is unchanged; beside it:
 *
 *   upg_token      a pa_spinlock (its own state table, pa_spinlock.h): held
 *                  from acquire_upgradable until the upgradable read ends
 *                  (release_upgradable, or a successful upgrade).  It is what
 *                  excludes a second upgradable holder; writers never look.
 *   upgrader       pa_thread_id() of the upgradable holder, 0 if none.
 *                  Written by that thread only, read for misuse checks (only
 *                  a thread's own id can equal it, so staleness is harmless).
 *   upgrading      1 while the holder is inside upgrade's blocking part,
 *                  from before it first sets WRITERS_WAITING until it leaves.
 *   upgrade_notify bumped by every wakeup of the upgrader; it sleeps on it
 *                  (not on writer_notify: a wake_one there could pick a
 *                  writer, which would sleep again with the upgrader's
 *                  wakeup spent).
 *
 *   acquire_upgradable  take upg_token (deadline), then a read lock as a new
 *                       reader does (writer preference applies); on failure
 *                       give the token back: nothing held.
 *   release_upgradable  n -> n-1 as a read release (same hand-off), then
 *                       give the token back.
 *   upgrade             1 -> W (count 1 is the holder's own read), never in
 *                       a READ_PHASE; bits kept.  While other readers hold
 *                       the lock the upgrader is counted in write_waiters and
 *                       sets WRITERS_WAITING: new readers wait behind it as
 *                       behind a waiting writer, and the bit's bookkeeping
 *                       (drop_stale_ww) is the writers'.  On success
 *                       write_seq goes odd (stamps die, as at any write
 *                       acquisition), writer = holder, upgrader = 0, token
 *                       given back: from here on it is a plain write lock
 *                       (release_write, downgrade).  Timed out or
 *                       interrupted: still the upgradable read, count and
 *                       token untouched, write_seq unchanged.
 *   wake the upgrader   every state change that can end its wait (it
 *                       sleeps while the count is not 1, or a READ_PHASE is
 *                       set, and WW is set) reads `upgrading` and if set
 *                       bumps upgrade_notify and wakes it: a read release
 *                       leaving count 1 with WRITERS_WAITING and no
 *                       READ_PHASE, the end of a READ_PHASE with count 1,
 *                       and drop_stale_ww clearing WW (it checked
 *                       write_waiters == 0 just before an upgrader counted
 *                       itself: the model found that one).  No wakeup is
 *                       lost: the upgrader stores `upgrading`, sets WW (a
 *                       CAS), reads upgrade_notify, then re-reads the
 *                       state; the waker's RMW of the state comes before its
 *                       load of `upgrading` (all seq_cst).  Either the
 *                       upgrader's state load sees the waker's change (it
 *                       does not sleep) or the waker's load sees
 *                       `upgrading` and its bump lands after the upgrader
 *                       read the counter (the futex wait returns at once).
 *                       The other clearers of WW (wake_waiters) need a
 *                       count of 0, which a counted upgrader never allows.
 *
 * Two would-be upgraders cannot deadlock: only the token holder can upgrade,
 * and a thread waiting for the token holds no read lock (acquire_upgradable
 * refuses a thread holding one).  Writers wait for count 0 like for any
 * reader, and the upgrader goes 1 -> W without passing through 0, so no
 * writer gets in between.  The holder may take plain (recursive) reads,
 * which pass waiting writers, but cannot upgrade while holding them, nor
 * acquire_write (PA_WRITE_WHILE_UPGRADABLE).
 *
 * Biased reads (BRAVO: Dice & Kogan, "BRAVO: Biased Locking for Reader-Writer
 * Locks", USENIX ATC 2019).  Counting readers in the state word makes every
 * read acquire and release an RMW on one cache line that all readers share:
 * under a read-only load the line moves between cores at every call, and
 * two threads reading one lock run slower than one.  So a reader may
 * instead publish itself in a process-wide table of slots, visible[]
 * (PA_RW_VISIBLE_SLOTS pointers; the slot is a hash of a per-thread seed
 * and the lock's address), and write nothing of the lock.  Beside the word:
 *
 *   bias            OFF / ON / UNDRAINED (PA_RW_BIAS_*).  Stored ON only
 *                   by a counted reader holding its read (so no writer owns
 *                   the word), and by nobody else; UNDRAINED and OFF only by
 *                   the word's write owner (and reinit, destroy).
 *   revoking        1 while a writer drains.
 *   drain_notify    bumped by a biased release that sees `revoking`.
 *   inhibit_until_ns  no ON before this (set by each revocation).
 *
 *   biased read     a thread with no hold of this lock yet, bias ON and no
 *                   WRITERS_WAITING: CAS(slot, 0, lock), then re-load bias;
 *                   ON: held (its table entry records the slot; the count is
 *                   not touched); else clear the slot (waking a drainer, as
 *                   a release) and take the counted path.  A taken slot
 *                   (another thread or lock): the counted path.
 *   recursive read  of a biased hold: the entry's depth only; the slot
 *                   stays published (a draining writer waits for it, so
 *                   "recursive reads pass a waiting writer" still holds:
 *                   nothing to wait for).
 *   biased release  at depth 0: exchange(slot, 0), then if `revoking`:
 *                   bump drain_notify, wake all on it.
 *   counted read    as before (the transitions above); then, still holding
 *                   it, bias := ON if it is not, no WRITERS_WAITING, and the
 *                   inhibition has passed.
 *   revocation      every write acquisition (lock_write, and upgrade's
 *                   1 -> W), once it owns the word and before anything
 *                   else (write_seq, `writer`): if bias != OFF: bias :=
 *                   UNDRAINED, revoking := 1, wait until no slot holds the
 *                   lock (spin, then sleep on drain_notify with the caller's
 *                   deadline), revoking := 0, bias := OFF, inhibit_until :=
 *                   now + 9 x (the revocation's duration), at most 100 ms.
 *   drain gave up   (timed out, interrupted): revoking := 0, bias stays
 *                   UNDRAINED (readers are still inside; no new biased one
 *                   comes in), and the acquisition is undone: W -> 0 as a
 *                   write release (lock_write), W -> 1 as a downgrade
 *                   (upgrade: still the upgradable holder).  `writer` and
 *                   write_seq were never touched: nothing held or changed.
 *   reinit, destroy clear every slot holding the lock, bias := OFF.
 *
 * Why no writer meets a biased reader inside: the writer's store of
 * UNDRAINED and the reader's CAS of its slot, each followed by a load of
 * the other's variable, all seq_cst: in the single total order one of the
 * two loads sees the other's store, so the reader withdraws or the writer
 * sees the slot and waits.  Why no drain sleeps for ever: the writer stores
 * `revoking`, loads drain_notify, then the slot; the reader exchanges its
 * slot, then loads `revoking` (pa_rwlock.c, unpublish).  Invariant: a slot
 * can hold the lock for a reader inside only while bias != OFF, so a
 * writer that loads OFF has nobody to wait for.  csrc/model/bravo.pml
 * checks all of it.
 *
 * Guarantees kept: writer preference (biased readers stop at WW, and at the
 * revocation; a writer waits only for the biased readers already inside, so
 * a read storm cannot starve it), read phases (counted), timeouts and Ctrl-C
 * in the drain, misuse checks (the table knows biased holds), optimistic
 * stamps (the bump follows the drain), reader_count() and locked() (they
 * add the biased readers: a scan of the table while bias != OFF).
 *
 * The writer's cost: one relaxed load while bias is OFF.  Otherwise a scan
 * of the table (8 KB of loads: about a microsecond), two clock reads, the
 * wait for the biased readers inside (a writer would wait as long for
 * counted ones), and one futex wake per biased reader released during the
 * drain.  The inhibition bounds the share of a writer's time spent revoking
 * to about 1/10 however write-heavy the mix: after a revocation the bias
 * stays off for 9 times as long, and readers count themselves meanwhile.
 * A lock that is never read with the bias on (written only, or read only
 * while writers wait) never scans.  Collisions (two threads, or two locks
 * one thread reads, hashing to one slot) only send a read to the counted
 * path.  A thread that exits holding a biased read leaves its slot taken,
 * as an exiting counted reader leaves the count: the lock stays read-held
 * until destroy or reinit.
 *
 * Ownership: the write holder's thread id (pa_thread_id: never reused, so a
 * thread that exits holding the write lock is never mistaken for a later
 * one) is recorded, and each thread keeps a small table of the RWLocks it
 * holds for reading (PA_RW_MAX_READ_LOCKS_PER_THREAD distinct locks), so
 * misuse is reported instead of deadlocking or corrupting the count: releasing
 * what the thread does not hold, asking for the write lock while holding it,
 * or upgrading a read lock to a write lock.  Table entries are keyed on
 * (address, serial); every lock's serial is in a registry of live serials
 * from pa_rwlock_init to pa_rwlock_destroy, so an entry whose lock was freed
 * (by any thread) is recognised and reclaimed when the table is full.
 */
#ifndef PA_RWLOCK_H
#define PA_RWLOCK_H

#include <stdbool.h>

#include "pa_atomic.h"
#include "pa_lock.h"
#include "pa_spinlock.h"

#define PA_RW_WRITERS_WAITING 0x80000000u
#define PA_RW_READERS_WAITING 0x40000000u
#define PA_RW_READ_PHASE 0x20000000u
#define PA_RW_COUNT_MASK 0x1FFFFFFFu
#define PA_RW_WRITE_LOCKED PA_RW_COUNT_MASK
#define PA_RW_MAX_READERS (PA_RW_COUNT_MASK - 1)
/* write_seq's first value: even (no writer), and never 0 (0 is "no stamp"). */
#define PA_RW_FIRST_STAMP 2

/* Distinct RWLocks one thread may hold for reading at once. */
#define PA_RW_MAX_READ_LOCKS_PER_THREAD 32

/* The process-wide visible-readers table of biased reads: 2^10 slots of one
 * pointer (8 KB on 64-bit). */
#define PA_RW_VISIBLE_BITS 10
#define PA_RW_VISIBLE_SLOTS (1u << PA_RW_VISIBLE_BITS)
/* bias: ON, readers may publish a slot instead of counting themselves;
 * UNDRAINED, they may not, but biased readers may still be inside (a
 * revocation in progress, or one that gave up): the next writer scans; OFF,
 * no biased reader is inside, a writer does not scan. */
#define PA_RW_BIAS_OFF 0u
#define PA_RW_BIAS_ON 1u
#define PA_RW_BIAS_UNDRAINED 2u

typedef struct {
    pa_atomic_u32 state;
    pa_atomic_u32 writer_notify; /* bumped by every writer wakeup; writers sleep on it */
    pa_atomic_u32 read_waiters;  /* readers in the blocking part of lock_read */
    pa_atomic_u32 write_waiters; /* writers in the blocking part of lock_write */
    pa_atomic_u64 writer;        /* pa_thread_id() of the write holder, 0 if none */
    pa_atomic_u64 write_seq;     /* odd while write-locked; bumped by the holder
                                    only (optimistic reads, above) */
    pa_atomic_u64 upgrader;      /* pa_thread_id() of the upgradable holder, 0 if none */
    pa_atomic_u32 upgrading;     /* the upgradable holder waits in upgrade() */
    pa_atomic_u32 upgrade_notify; /* bumped by every upgrader wakeup; it sleeps on it */
    pa_spinlock upg_token;       /* held by the upgradable holder (one at a time) */
    pa_atomic_u32 fork_gen;      /* the fork generation the waiter state belongs to
                                    (pa_rwlock.c: reset after fork) */
    pa_atomic_u32 bias;          /* PA_RW_BIAS_*: may readers take the biased path
                                    (below, "Biased reads") */
    pa_atomic_u32 revoking;      /* a writer is draining biased readers: a biased
                                    release bumps drain_notify and wakes it */
    pa_atomic_u32 drain_notify;  /* the draining writer sleeps on it */
    pa_atomic_i64 inhibit_until_ns; /* pa_monotonic_ns() before which no counted
                                    reader turns the bias back on; 0: none */
    uint64_t serial;             /* unique per pa_rwlock_init: a read-hold entry left
                                    behind by a freed lock never matches a new lock
                                    that reuses its address, and the registry of
                                    live serials tells such an entry is dead */
} pa_rwlock;

void pa_rwlock_init(pa_rwlock *rw);

/* Blocking calls take an absolute deadline (pa_wait.h): PA_FOREVER, or 0 for
 * a single attempt.  They return PA_ACQUIRED, PA_TIMEDOUT, PA_INTERRUPTED
 * (nothing held; the caller runs signal handlers and may call again), or a
 * misuse that changed nothing: read PA_READ_WHILE_WRITING, PA_READ_TABLE_FULL,
 * PA_TOO_MANY_READERS; write PA_WRITE_TWICE, PA_UPGRADE. */
pa_lock_result pa_rwlock_acquire_read(pa_rwlock *rw, int64_t deadline_ns);
pa_lock_result pa_rwlock_acquire_write(pa_rwlock *rw, int64_t deadline_ns);

/* PA_ACQUIRED on success, PA_READ_NOT_HELD / PA_WRITE_NOT_HELD (nothing
 * changed) if the calling thread does not hold that side. */
pa_lock_result pa_rwlock_release_read(pa_rwlock *rw);
pa_lock_result pa_rwlock_release_write(pa_rwlock *rw);

/* Write lock -> read lock, atomically.  PA_DOWNGRADE_NOT_HELD if the caller
 * does not hold the write lock, PA_READ_TABLE_FULL if its read-lock table is
 * full. */
pa_lock_result pa_rwlock_downgrade(pa_rwlock *rw);

/* Upgradable reads (above).  acquire_upgradable: PA_ACQUIRED, PA_TIMEDOUT,
 * PA_INTERRUPTED (nothing held), or PA_UPGRADABLE_TWICE,
 * PA_UPGRADABLE_WHILE_WRITING, PA_UPGRADABLE_WHILE_READING,
 * PA_TOO_MANY_READERS (nothing changed).  upgrade: PA_ACQUIRED (now the write
 * holder), PA_TIMEDOUT / PA_INTERRUPTED (still the upgradable holder), or
 * PA_UPGRADE_NOT_HELD, PA_UPGRADE_WHILE_READING.  release_upgradable:
 * PA_UPGRADABLE_NOT_HELD if the caller does not hold it. */
pa_lock_result pa_rwlock_acquire_upgradable(pa_rwlock *rw, int64_t deadline_ns);
pa_lock_result pa_rwlock_upgrade(pa_rwlock *rw, int64_t deadline_ns);
pa_lock_result pa_rwlock_release_upgradable(pa_rwlock *rw);
bool pa_rwlock_upgradable_held_by_me(pa_rwlock *rw);

/* Optimistic reads (above).  A stamp, or 0 while a writer holds the lock;
 * stamps are positive and below 2^63, so an int64 carries them.  Neither
 * call writes anything shared; neither blocks. */
int64_t pa_rwlock_optimistic_read(pa_rwlock *rw);
/* True exactly when stamp came from optimistic_read (positive, even) and no
 * write acquisition took effect since.  Any other value, 0 and negatives
 * included, is a stamp that was never issued: false (pa_contract.h has the
 * binding's rule for integers beyond int64). */
bool pa_rwlock_validate(pa_rwlock *rw, int64_t stamp);

/* Observers (a snapshot; may be stale as soon as they return).  Biased
 * holds count (reader_count: every recursion level, as for counted holds;
 * each call scans the slot table while the bias is not off), and a word
 * write-locked by a writer still draining biased readers is not reported
 * write-locked: that writer is not in yet. */
bool pa_rwlock_is_write_locked(pa_rwlock *rw);
uint32_t pa_rwlock_reader_count(pa_rwlock *rw);
bool pa_rwlock_write_held_by_me(pa_rwlock *rw);
uint32_t pa_rwlock_read_holds_by_me(pa_rwlock *rw); /* recursion depth */
/* What the views' locked() reports, as a threading.Lock user reads it: the
 * side is held, or a single attempt at it by a thread holding nothing would
 * fail now.  Write side: any holder (readers or a writer) or a read phase.
 * Read side: any holder, or a waiting writer (writer preference) or a full
 * count holding new readers back.  A snapshot. */
bool pa_rwlock_side_locked(pa_rwlock *rw, bool write);

/* Forget everything: for a child process after fork(), where the threads
 * that held the lock no longer exist.  Not thread-safe by design. */
void pa_rwlock_reinit_after_fork(pa_rwlock *rw);

/* Drop the calling thread's read-hold entry for rw, if any. */
void pa_rwlock_forget_my_holds(pa_rwlock *rw);

/* The lock is about to be freed: drops the calling thread's entry for it and
 * marks its serial dead, so the entries other threads' tables still have for
 * it (they read-held it when it was freed) are reclaimed when those tables
 * fill up.  Every lock set up with pa_rwlock_init must end with this; a lock
 * that never does only costs its serial's slot in the registry. */
void pa_rwlock_destroy(pa_rwlock *rw);

/* Leaving a `with` block entered for writing (write) or reading (!write):
 * release what the block holds now.  A thread cannot hold both sides, so a
 * block entered for writing whose thread holds no write lock but some read
 * lock can only have called downgrade(): release that read lock.  One rule
 * for both bindings.  PA_ACQUIRED when something was released, else (nothing
 * changed) the not-held status of the side the block was entered for. */
static inline pa_lock_result pa_rwlock_exit(pa_rwlock *rw, bool write) {
    if (write) {
        if (pa_rwlock_release_write(rw) == PA_ACQUIRED) return PA_ACQUIRED;
        if (pa_rwlock_read_holds_by_me(rw) == 0) return PA_WRITE_NOT_HELD;
    }
    return pa_rwlock_release_read(rw);
}

/* Leaving a `with rw.upgradable():` block: the write lock if the block
 * upgraded, the read lock it became if it then downgraded, else the
 * upgradable read.  One rule for both bindings; PA_UPGRADABLE_NOT_HELD
 * (nothing changed) if the thread holds none of them. */
static inline pa_lock_result pa_rwlock_exit_upgradable(pa_rwlock *rw) {
    if (pa_rwlock_upgradable_held_by_me(rw)) return pa_rwlock_release_upgradable(rw);
    if (pa_rwlock_release_write(rw) == PA_ACQUIRED) return PA_ACQUIRED;
    if (pa_rwlock_read_holds_by_me(rw) != 0) return pa_rwlock_release_read(rw);
    return PA_UPGRADABLE_NOT_HELD;
}

#endif /* PA_RWLOCK_H */
