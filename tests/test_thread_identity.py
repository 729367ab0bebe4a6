"""Thread identity and the per-thread read-hold table of RWLocks.

Owner checks identify threads by pa_thread_id() (csrc/pa_thread.h).  It was
the address of a thread-local variable, which the next thread to be given the
same (cached) stack inherited: that thread could release a write lock taken by
a dead thread, and its own acquires failed with "would deadlock".  Ids are now
numbers from a counter, never reused.

Each thread keeps a table of the RWLocks it read-holds (32 distinct locks).  A
lock freed on another thread while this thread read-held it left its entry
behind for good: after 32 such locks every new read lock failed, and no garbage
collection could help (the locks were gone already).  Entries of freed locks
are now recognised (a registry of live locks' serials) and reclaimed.
"""

from __future__ import annotations

import gc
import queue
import weakref

import pytest
from conftest import join, start

from pyatomics import RWLock


def _in_new_thread(func):
    """Run func() on a fresh thread; re-raise what it raised."""
    errors: list[BaseException] = []

    def body():
        try:
            func()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    join(start(body))
    if errors:
        raise errors[0]


def test_a_dead_writers_lock_belongs_to_no_later_thread():
    rw = RWLock()
    _in_new_thread(lambda: rw.acquire_write(blocking=False) or pytest.fail("not acquired"))
    assert rw.write_locked

    def probe():
        # Not the owner: it may not release, and asking for the lock is an
        # ordinary wait on a lock held by someone else (not "would deadlock").
        with pytest.raises(RuntimeError, match="does not hold it"):
            rw.release_write()
        assert rw.acquire_write(timeout=0.005) is False
        assert rw.acquire_read(timeout=0.005) is False
        assert rw.acquire_write(blocking=False) is False

    # Threads started one after the other get the dead thread's cached stack,
    # and so its TLS block: where ids were TLS addresses, the very first one
    # passed for the owner.
    for _ in range(30):
        _in_new_thread(probe)
    assert rw.write_locked and rw.readers == 0
    with pytest.raises(RuntimeError, match="does not hold it"):
        rw.release_write()


def test_read_holds_of_locks_freed_on_another_thread_are_reclaimed():
    # The holder read-locks 40 RWLocks in turn and never releases them; each
    # is then freed here, on the main thread, while the holder still holds it
    # (only a read-held lock leaves an entry: release_read drops it, and a lock
    # freed on the holder's own thread drops the freeing thread's entry).
    handed: queue.Queue = queue.Queue()
    done: queue.Queue = queue.Queue()
    results: list = []

    def holder():
        for _ in range(40):
            lock = handed.get(timeout=20)
            try:
                results.append(lock.acquire_read(timeout=5))
            except RuntimeError as exc:  # "too many read locks": the defect
                results.append(exc)
            del lock
            done.put(None)
        fresh = RWLock()
        try:
            results.append(fresh.acquire_read(timeout=5))
            fresh.release_read()
        except RuntimeError as exc:
            results.append(exc)
        assert fresh.readers == 0

    t = start(holder)
    for _ in range(40):
        lock = RWLock()
        dead = weakref.ref(lock)
        handed.put(lock)
        done.get(timeout=20)
        assert lock.readers == 1
        del lock
        gc.collect()  # RWLock <-> its views is a cycle: freed here, on this thread
        assert dead() is None
    join(t)
    assert results == [True] * 41


def test_a_thread_can_still_hold_32_live_read_locks():
    # Reclaiming only ever drops entries of freed locks: a thread holding 32
    # live locks still gets "too many" for a 33rd, and all 32 stay held.
    locks = [RWLock() for _ in range(33)]
    for lock in locks[:32]:
        assert lock.acquire_read(blocking=False)
    with pytest.raises(RuntimeError):
        locks[32].acquire_read(blocking=False)
    assert [lock.readers for lock in locks] == [1] * 32 + [0]
    for lock in locks[:32]:
        lock.release_read()
    assert locks[32].acquire_read(blocking=False)
    locks[32].release_read()
    assert [lock.readers for lock in locks] == [0] * 33

