"""Fault tests: threads dying with locks held, objects freed while waited on,
fork() with a lock held, timeouts racing releases.

Fast (a few seconds per interpreter); under `scripts/sanitize.sh asan` the
"freed while waited on" tests are the ones that would show a use after free.
"""

from __future__ import annotations

import gc
import json
import os
import random
import sys
import threading
import time
import weakref

import pytest
from conftest import SCALE, run_threads

from pyatomics import AtomicInt, RWLock, SpinLock


class Boom(Exception):
    pass


def assert_rwlock_free(rw: RWLock) -> None:
    """Consistent and free: no readers, no writer, both sides can be had."""
    assert rw.readers == 0
    assert not rw.write_locked
    assert not rw.reader.locked() and not rw.writer.locked()
    assert rw.acquire_write(blocking=False)
    rw.release_write()
    assert rw.acquire_read(blocking=False)
    assert rw.readers == 1
    rw.release_read()
    assert rw.readers == 0


def assert_spinlock_free(lock: SpinLock) -> None:
    assert not lock.locked()
    assert lock.acquire(blocking=False)
    lock.release()
    assert not lock.locked()


# ---------------------------------------------------------------------------
# A thread dies (an unhandled exception) inside `with`: the lock is released.
# ---------------------------------------------------------------------------

def _body_raise(ctx_lock):
    with ctx_lock:
        raise Boom("dies holding the lock")


def _body_downgrade_then_raise(rw):
    with rw.write():
        rw.downgrade()
        raise Boom("dies holding the downgraded read lock")


CASES = {
    "SpinLock": (SpinLock, lambda lk: _body_raise(lk), assert_spinlock_free),
    "RWLock.writer": (RWLock, lambda rw: _body_raise(rw.writer), assert_rwlock_free),
    "RWLock.reader": (RWLock, lambda rw: _body_raise(rw.reader), assert_rwlock_free),
    "RWLock.write()": (RWLock, lambda rw: _body_raise(rw.write()), assert_rwlock_free),
    "RWLock.read()": (RWLock, lambda rw: _body_raise(rw.read()), assert_rwlock_free),
    "RWLock.write(timeout)": (RWLock, lambda rw: _body_raise(rw.write(timeout=5)), assert_rwlock_free),
    "RWLock.read(timeout)": (RWLock, lambda rw: _body_raise(rw.read(timeout=5)), assert_rwlock_free),
    "RWLock.write()+downgrade": (RWLock, _body_downgrade_then_raise, assert_rwlock_free),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_thread_dying_inside_with_releases(case, monkeypatch):
    factory, body, check = CASES[case]
    lock = factory()
    died = []
    # The thread's exception is unhandled (it really dies); record it instead
    # of letting threading print it.
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_type))
    t = threading.Thread(target=body, args=(lock,))
    t.start()
    t.join(10)
    assert not t.is_alive()
    assert died == [Boom]
    check(lock)


def test_many_threads_dying_inside_with_while_others_wait(monkeypatch):
    """Dying holders hand the lock on to waiters: nobody is left blocked."""
    rw, spin = RWLock(), SpinLock()
    died = AtomicInt()
    monkeypatch.setattr(threading, "excepthook", lambda args: died.inc())
    n = 6

    def body(i):
        for k in range(20):
            lk = (rw.writer, rw.reader, spin)[(i + k) % 3]
            with lk:
                if k % 2 == 0:
                    pass
        if i % 2 == 0:
            with (rw.writer, rw.reader, spin)[i % 3]:
                raise Boom

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive(), "a thread is stuck: a dying holder did not hand the lock on"
    assert died.load() == n // 2
    assert_rwlock_free(rw)
    assert_spinlock_free(spin)


# ---------------------------------------------------------------------------
# An object whose every other reference is dropped while a thread waits on it:
# the waiter's method call keeps it alive (self is a strong reference on the
# caller's stack for the duration of the call), it is freed only afterwards,
# and nothing touches freed memory (ASan would say so under sanitize.sh asan).
# ---------------------------------------------------------------------------

def _wait_until_blocked(t: threading.Thread, seconds: float = 0.2) -> None:
    # There is no portable way to see that a thread is asleep in the C wait;
    # give it time to get there (it being late only makes the test weaker).
    time.sleep(seconds)
    assert t.is_alive()


def _start(target) -> threading.Thread:
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


def test_spinlock_freed_by_others_while_waited_on_is_kept_alive():
    box = [SpinLock()]
    box[0].acquire()
    ref = weakref.ref(box[0])
    got = []
    # The waiter's only reference is the one its acquire() call holds.
    t = _start(lambda: got.append(box.pop().acquire(timeout=30)))
    while box:
        time.sleep(0.001)
    _wait_until_blocked(t)
    gc.collect()
    lock = ref()
    assert lock is not None, "the lock was freed while a thread waited on it"
    lock.release()  # wakes the waiter, which now holds the lock...
    del lock        # ...and the only reference again
    t.join(10)
    assert got == [True]
    gc.collect()
    assert ref() is None, "the lock was not freed after the waiter returned"


def test_spinlock_waited_on_by_sole_owner_times_out_then_is_freed():
    """No weakref anywhere: the waiter is the only owner, the wait times out,
    the lock is freed right after the call returns (on the waiter's thread)."""
    holder_ready, release_holder = threading.Event(), threading.Event()
    box = [SpinLock()]
    shared = box[0]

    def holder():
        shared.acquire()
        holder_ready.set()
        release_holder.wait(10)

    h = _start(holder)
    holder_ready.wait(10)
    del shared
    # Careful: `holder` is a closure over `shared`; deleting the name above
    # clears the cell, so from here on only the waiter's call owns the lock.
    got = []
    t = _start(lambda: got.append(box.pop().acquire(timeout=0.3)))
    t.join(10)
    release_holder.set()
    h.join(10)
    assert got == [False]


def test_atomicint_freed_by_others_while_waited_on():
    class WeakAtomicInt(AtomicInt):  # a subclass is weak-referenceable
        pass

    box = [WeakAtomicInt(0)]
    ref = weakref.ref(box[0])
    got = []
    t = _start(lambda: got.append(box.pop().wait(0, timeout=30)))
    while box:
        time.sleep(0.001)
    _wait_until_blocked(t)
    gc.collect()
    a = ref()
    assert a is not None
    a.store(1)
    a.notify_all()
    del a
    t.join(10)
    assert got == [True]
    gc.collect()
    assert ref() is None


def test_atomicint_waited_on_by_sole_owner_times_out():
    box = [AtomicInt(0)]
    got = []
    t = _start(lambda: got.append(box.pop().wait(0, timeout=0.2)))
    t.join(10)
    assert got == [False] and box == []


@pytest.mark.parametrize("side", ["reader", "writer"])
def test_rwlock_freed_by_others_while_waited_on_is_kept_alive(side):
    box = [RWLock()]
    box[0].acquire_write()  # the main thread holds the write lock
    ref = weakref.ref(box[0])
    done = []

    def waiter():
        # `with` keeps the view (and through it the RWLock) alive until exit.
        with getattr(box.pop(), side):
            done.append(side)

    t = _start(waiter)
    while box:
        time.sleep(0.001)
    _wait_until_blocked(t)
    gc.collect()  # RWLock <-> views is a cycle: the collector must not free it now
    rw = ref()
    assert rw is not None, "the RWLock was freed while a thread waited on it"
    rw.release_write()
    del rw
    t.join(10)
    assert done == [side]
    gc.collect()
    assert ref() is None, "the RWLock was not collected after the waiter returned"


def test_rwlock_waited_on_by_sole_owner_times_out():
    hold, release = threading.Event(), threading.Event()
    box = [RWLock()]

    def holder(rw):
        rw.acquire_write()
        hold.set()
        release.wait(10)
        rw.release_write()

    h = _start(lambda: holder(box[0]))
    hold.wait(10)
    got = []
    t = _start(lambda: got.append(box.pop().acquire_read(timeout=0.2)))
    t.join(10)
    release.set()
    h.join(10)
    assert got == [False]


# ---------------------------------------------------------------------------
# fork() while another thread holds a lock.  What the child sees: the lock's
# memory as it was (locked; the holder does not exist in the child, so nobody
# will ever release it there).  _at_fork_reinit() (what threading and
# concurrent.futures call for their own locks after fork) resets it to
# unlocked, and the child can use it normally from then on.
# ---------------------------------------------------------------------------

fork_only = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "emscripten", reason="needs os.fork")


def _fork_and_observe(lock, hold, release, observe):
    """Run hold(lock) on a thread, fork while it holds the lock, run
    observe(lock) in the child; returns what the child reported."""
    held, done = threading.Event(), threading.Event()

    def holder():
        hold(lock)
        held.set()
        done.wait(30)
        release(lock)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert held.wait(10)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: only this thread exists here
            code = 0
            try:
                os.write(w, json.dumps(observe(lock)).encode())
            except BaseException as exc:  # noqa: BLE001
                os.write(w, json.dumps({"error": repr(exc)}).encode())
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            report = json.loads(f.read() or b"{}")
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status), report
        assert os.WEXITSTATUS(status) == 0, report
        return report
    finally:
        done.set()
        t.join(10)


def _observe_spinlock(lock):
    seen = {"locked": lock.locked(), "try": lock.acquire(blocking=False)}
    lock._at_fork_reinit()
    seen["after_reinit_locked"] = lock.locked()
    seen["after_reinit_acquire"] = lock.acquire(timeout=1)
    lock.release()
    seen["after_release_locked"] = lock.locked()
    return seen


@fork_only
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # 3.12+: fork() with threads running
def test_fork_with_spinlock_held_by_another_thread():
    lock = SpinLock()
    seen = _fork_and_observe(lock, SpinLock.acquire, SpinLock.release, _observe_spinlock)
    assert seen == {"locked": True, "try": False, "after_reinit_locked": False,
                    "after_reinit_acquire": True, "after_release_locked": False}
    assert not lock.locked()  # the parent's lock is untouched by the child


def _observe_rwlock(rw):
    seen = {"write_locked": rw.write_locked, "readers": rw.readers}
    seen["try_write"] = rw.acquire_write(blocking=False)
    if seen["try_write"]:
        rw.release_write()
    seen["try_read"] = rw.acquire_read(blocking=False)
    if seen["try_read"]:
        rw.release_read()
    rw._at_fork_reinit()
    seen["after_reinit"] = [rw.write_locked, rw.readers]
    ok = rw.acquire_write(timeout=1)
    rw.release_write()
    ok = ok and rw.acquire_read(timeout=1)
    rw.release_read()
    seen["usable"] = ok and rw.readers == 0 and not rw.write_locked
    return seen


@fork_only
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fork_with_rwlock_write_held_by_another_thread():
    rw = RWLock()
    seen = _fork_and_observe(rw, RWLock.acquire_write, RWLock.release_write, _observe_rwlock)
    assert seen == {"write_locked": True, "readers": 0, "try_read": False, "try_write": False,
                    "after_reinit": [False, 0], "usable": True}
    assert_rwlock_free(rw)


@fork_only
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fork_with_rwlock_read_held_by_another_thread():
    rw = RWLock()
    seen = _fork_and_observe(rw, RWLock.acquire_read, RWLock.release_read, _observe_rwlock)
    # A read lock held by a thread that no longer exists: readers may still
    # join (no writer waits), a writer cannot get in until _at_fork_reinit.
    assert seen == {"write_locked": False, "readers": 1, "try_read": True, "try_write": False,
                    "after_reinit": [False, 0], "usable": True}
    assert_rwlock_free(rw)


# ---------------------------------------------------------------------------
# Many short timeouts expiring while holders release: afterwards the lock is
# consistent and free (no stale count, no lost waiting bit blocking others).
# ---------------------------------------------------------------------------

DURATION = 0.8 * SCALE


def test_spinlock_timeouts_racing_releases():
    lock = SpinLock()
    stop = time.monotonic() + DURATION
    got = AtomicInt()

    def worker(i):
        rnd = random.Random(i)
        while time.monotonic() < stop:
            if i == 0:
                with lock:  # the main holder: short holds
                    time.sleep(rnd.choice((0, 0, 0.0005)))
            elif lock.acquire(timeout=rnd.choice((0.00001, 0.0001, 0.0005))):
                got.inc()
                lock.release()

    run_threads(worker, 5)
    assert got.load() > 0
    assert_spinlock_free(lock)


def test_rwlock_timeouts_racing_releases():
    rw = RWLock()
    stop = time.monotonic() + DURATION
    got = AtomicInt()

    def worker(i):
        rnd = random.Random(i)
        while time.monotonic() < stop:
            timeout = rnd.choice((0.00001, 0.0001, 0.0005))
            kind = (i + rnd.randrange(4)) % 4
            if kind == 0:
                if rw.acquire_write(timeout=timeout):
                    got.inc()
                    if rnd.random() < 0.3:
                        rw.downgrade()
                        rw.release_read()
                    else:
                        rw.release_write()
            elif kind == 1:
                with rw.write():
                    time.sleep(rnd.choice((0, 0.0002)))
            elif rw.acquire_read(timeout=timeout):
                got.inc()
                rw.release_read()

    run_threads(worker, 6)
    assert got.load() > 0
    assert_rwlock_free(rw)


def test_atomicint_wait_timeouts_racing_notifies():
    a = AtomicInt(0)
    stop = time.monotonic() + DURATION

    def worker(i):
        rnd = random.Random(i)
        n = 0
        while time.monotonic() < stop:
            if i == 0:
                a.inc()
                (a.notify_all if rnd.random() < 0.5 else a.notify_one)()
            else:
                a.wait(a.load(), timeout=rnd.choice((0.00001, 0.0001, 0.001)))
                n += 1
        return n

    counts = run_threads(worker, 4)
    assert all(c > 0 for c in counts[1:])
    # Nobody is left waiting: a wait on a stale value returns at once.
    assert a.wait(a.load() - 1, timeout=5) is True
