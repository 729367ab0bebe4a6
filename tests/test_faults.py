"""Fault tests: threads dying with locks held, objects freed while waited on,
fork() with a lock held by another thread, waits timing out racing changes.

The single home of these scenarios: the per-primitive files do not repeat
them (the locks' timeouts racing releases live there, with exact counts).

Fast (a few seconds per interpreter); under `scripts/sanitize.sh asan` the
"freed while waited on" tests are the ones that would show a use after free.

Parallelism of the timeout races here: real only on the free-threaded build
(3.13t; C-API backend, the only one built there), where the threads run
Python code and pyatomics calls at the same time.  On a GIL build (3.11,
either backend) the threads interleave: only blocking calls overlap, since
both bindings release the GIL while they wait (tests/test_gil_release.py
proves it, cffi included); an exact total there checks atomicity against
thread switches, not against simultaneous execution.
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
from conftest import FREE_THREADED, SCALE, run_threads, wait_blocked

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

def _start(target) -> threading.Thread:
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


class WeakAtomicInt(AtomicInt):  # AtomicInt itself takes no weak references; a subclass does
    pass


REFCOUNTED = sys.implementation.name == "cpython"  # an object goes when its last reference does


def _finalizer(obj) -> list:
    """A list that gets the ident of the thread that frees obj, when it is freed."""
    freed: list = []
    weakref.finalize(obj, lambda: freed.append(threading.get_ident()))
    return freed


def _freed_by(freed: list, thread: threading.Thread | None) -> None:
    """obj was freed by the last reference going, not by a collection, and
    on a GIL build by `thread` (unless None): the reference it dropped was
    the last one (CPython; PyPy frees at its next collection).
    On the free-threaded build, a reference dropped by a thread that does
    not own the object (the one that made it) is merged, and the object
    freed, by the owner at its next check of the eval breaker, which the
    polling loop here gives it."""
    deadline = time.monotonic() + 10
    while not freed and time.monotonic() < deadline:
        if not REFCOUNTED:
            gc.collect()  # PyPy frees only when its collector runs
        time.sleep(0.001)
    assert freed, "not freed when the waiter's call returned"
    if thread is not None and REFCOUNTED and not FREE_THREADED:
        assert freed == [thread.ident], "freed by another thread than the waiter's"


def _kept_alive_then_freed(make, block, unblock, expect, cyclic=False):
    """A thread calls block(obj) on obj = make(), holding the only other
    reference; once it sleeps in the call, this thread drops its own: obj
    must survive (its finalizer has not run, a collection does not free it),
    unblock(obj) wakes the waiter, and obj is freed as the call returns, by
    the waiter's last reference (an RWLock, in a cycle with its views, by
    the collector after that).  obj is made here and only ever lives in
    `box` or behind the weak reference on this side: passed as an argument,
    it would stay on the caller's value stack on PyPy."""
    box = [make()]
    freed = _finalizer(box[0])
    ref = weakref.ref(box[0])
    got: list = []
    t = _start(lambda: got.append(block(box.pop())))
    wait_blocked(t.native_id, ref())
    assert box == []
    gc.collect()  # an RWLock <-> views cycle must not be freed now either
    obj = ref()
    assert obj is not None and not freed, "freed while a thread waited on it"
    unblock(obj)
    del obj
    t.join(10)
    assert not t.is_alive()
    assert got == [expect]
    if cyclic:
        gc.collect()
        assert ref() is None and freed, "not collected after the waiter returned"
    else:
        # Not necessarily by the waiter: it may return before this thread's
        # `del obj` just after unblock(obj).
        _freed_by(freed, None)


def _sole_owner_times_out_then_freed(make, block, timeout, cyclic=False):
    """Once the waiter sleeps in block(obj, timeout) on obj = make(), this
    side has no reference left (obj lives only in `box` here, see
    _kept_alive_then_freed): the waiter's call is the sole owner, nothing
    unblocks it, the call times out, returns False, and frees obj as it
    returns (the finalizer says when, and on which thread: the waiter's)."""
    box = [make()]
    freed = _finalizer(box[0])
    ref = weakref.ref(box[0])
    got: list = []
    t = _start(lambda: got.append(block(box.pop(), timeout)))
    wait_blocked(t.native_id, ref())
    assert box == []  # the waiter's call is now the sole owner...
    assert not freed and t.is_alive()  # ...and keeps it alive
    t.join(timeout + 10)
    assert not t.is_alive()
    assert got == [False]
    if cyclic:  # an RWLock: its cycle with the views goes with the next collection
        gc.collect()
        assert freed, "not collected after its sole owner's call returned"
    else:
        _freed_by(freed, t)


def _held_spinlock() -> SpinLock:
    lock = SpinLock()
    lock.acquire()
    return lock


def _write_held_rwlock() -> RWLock:
    rw = RWLock()
    rw.acquire_write()
    return rw


def test_spinlock_freed_by_others_while_waited_on_is_kept_alive():
    # The waiter gets the lock on release and drops it still locked: nobody
    # needs to release a lock about to be freed.
    _kept_alive_then_freed(_held_spinlock, lambda lk: lk.acquire(timeout=30), SpinLock.release, True)


def test_atomicint_freed_by_others_while_waited_on_is_kept_alive():
    _kept_alive_then_freed(lambda: WeakAtomicInt(0), lambda a: a.wait(0, timeout=30), lambda a: a.store(1), True)


@pytest.mark.parametrize("side", ["reader", "writer"])
def test_rwlock_freed_by_others_while_waited_on_is_kept_alive(side):
    def waiter(rw):
        # `with` keeps the view (and through it the RWLock) alive until exit.
        with getattr(rw, side):
            return side

    # The main thread holds the write lock; its release lets the waiter in.
    _kept_alive_then_freed(_write_held_rwlock, waiter, RWLock.release_write, side, cyclic=True)


def test_spinlock_waited_on_by_sole_owner_times_out_then_is_freed():
    # SpinLock has no owner: held, and nobody will release it.
    _sole_owner_times_out_then_freed(_held_spinlock, lambda lk, t: lk.acquire(timeout=t), 1.0)


def test_atomicint_waited_on_by_sole_owner_times_out_then_is_freed():
    _sole_owner_times_out_then_freed(lambda: WeakAtomicInt(0), lambda a, t: a.wait(0, timeout=t), 1.0)


def _rwlock_write_held_by_ended_thread() -> RWLock:
    rw = RWLock()
    t = threading.Thread(target=rw.acquire_write)
    t.start()
    t.join(10)
    assert rw.write_locked and not t.is_alive()
    return rw


def test_rwlock_waited_on_by_sole_owner_times_out_then_is_freed():
    """The write lock is held by a thread that has ended: only the waiting
    reader owns the lock."""
    _sole_owner_times_out_then_freed(
        _rwlock_write_held_by_ended_thread, lambda rw, t: rw.acquire_read(timeout=t), 1.0, cyclic=True
    )


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
# Many short waits timing out while the value changes and notifies fly:
# afterwards the wait machinery is intact.  (The locks' equivalents,
# timeouts racing releases, are test_spinlock.py's and test_rwlock.py's
# test_timed_acquires_* / test_timeouts_under_contention_*.)
# ---------------------------------------------------------------------------

DURATION = 0.8 * SCALE


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
    assert a.load() == counts[0]  # every change is the changer's; the waits changed nothing
    assert all(c > 0 for c in counts[1:])
    # Nothing left behind by thousands of abandoned waits: a new waiter on
    # the current value really sleeps (no stale wake-up is pending for it)
    # and the next change wakes it.
    value = a.load()
    got: list = []
    t = _start(lambda: got.append(a.wait(value, timeout=30)))
    wait_blocked(t.native_id, a)
    assert got == []
    a.inc()
    t.join(10)
    assert got == [True]
