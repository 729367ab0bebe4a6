"""SpinLock: exclusion under contention, timeouts, misuse, GIL release, fork.

The threading.Lock contract as such (argument handling, repr, weakref,
release from another thread...) is also covered by CPython's own lock tests in
test_lock_conformance.py; this file checks what those cannot: exact counts
under real contention (on the free-threaded build the threads truly run in
parallel), the three phases of the acquire path (spin, yield, sleep), the
state after timeouts, and fork.

Parallelism of the stress tests here: real only on the free-threaded build
(3.13t; C-API backend, the only one built there), where the threads run
Python code and pyatomics calls at the same time.  On a GIL build (3.11,
either backend) the threads interleave: only blocking calls overlap, since
both bindings release the GIL while they wait (tests/test_gil_release.py
proves it, cffi included); an exact total there checks atomicity against
thread switches, not against simultaneous execution.
"""

from __future__ import annotations

import gc
import os
import re
import sys
import threading
import time
import warnings
import weakref

import pytest
from conftest import SCALE, run_threads, wait_blocked

from pyatomics import AtomicInt, SpinLock


def test_basic_state_and_return_values():
    lock = SpinLock()
    assert lock.locked() is False
    assert lock.acquire() is True
    assert lock.locked() is True
    assert lock.acquire(False) is False
    assert lock.acquire(blocking=False) is False
    assert lock.acquire(timeout=0) is False
    assert lock.acquire(True, 0.01) is False
    assert lock.locked() is True
    assert lock.release() is None
    assert lock.locked() is False
    assert lock.acquire(blocking=False) is True
    lock.release()
    with lock as entered:
        assert entered is True
        assert lock.locked() is True
    assert lock.locked() is False


# Bad arguments, the constructor's and acquire()'s (matching threading.Lock),
# and release() of an unlocked lock: test_bad_input.py.


def test_repr_and_weakref():
    lock = SpinLock()
    assert re.fullmatch(r"<unlocked pyatomics\.SpinLock object at 0x[0-9a-f]+>", repr(lock)), repr(lock)
    lock.acquire()
    assert re.fullmatch(r"<locked pyatomics\.SpinLock object at 0x[0-9a-f]+>", repr(lock)), repr(lock)
    lock.release()
    ref = weakref.ref(lock)
    assert ref() is lock
    del lock
    gc.collect()  # PyPy frees objects only at collection
    assert ref() is None


def test_timeout_max_accepted():
    lock = SpinLock()
    assert lock.acquire(timeout=threading.TIMEOUT_MAX) is True
    assert lock.acquire(timeout=0.001) is False
    lock.release()


# ---------------------------------------------------------------------------
# Contention
# ---------------------------------------------------------------------------


def test_contention_exact_count():
    """8 threads do a deliberately non-atomic read-modify-write of shared
    Python state under the lock; any overlap loses updates or trips the
    owner check.  Every acquire style is used."""
    lock = SpinLock()
    n_threads, rounds = 8, 3000 * SCALE
    shared = {"value": 0, "owner": None}

    def work(i):
        for k in range(rounds):
            style = k % 3
            if style == 0:
                ctx_ok = lock.acquire()
            elif style == 1:
                ctx_ok = lock.acquire(True, 10)
            else:
                ctx_ok = lock.acquire(timeout=threading.TIMEOUT_MAX)
            assert ctx_ok is True
            try:
                assert shared["owner"] is None
                shared["owner"] = i
                v = shared["value"]
                if k % 64 == 0:
                    time.sleep(0)  # let the others pile up and reach the sleep phase
                shared["value"] = v + 1
                assert shared["owner"] == i
                shared["owner"] = None
            finally:
                lock.release()

    run_threads(work, n_threads)
    assert shared["value"] == n_threads * rounds
    assert lock.locked() is False


def test_contention_with_long_sections_uses_sleep_phase():
    """Critical sections of ~1 ms outlast the spin and yield phases, so the
    waiters sleep on the futex and must each be woken exactly when needed:
    a lost wakeup would hang (run_threads fails after its timeout)."""
    lock = SpinLock()
    n_threads, rounds = 4, 15
    inside = []

    def work(i):
        for _ in range(rounds):
            with lock:
                inside.append(i)
                assert len(inside) == 1
                time.sleep(0.001)
                inside.pop()

    run_threads(work, n_threads, timeout=30)
    assert inside == []
    assert lock.locked() is False


def test_timed_acquires_under_contention_keep_lock_consistent():
    """Short timed acquires racing a holder and each other, leaving the word
    in its 'maybe sleepers' state again and again.  Both outcomes are made
    certain, not left to chance: thread 0 holds the lock until a waiter has
    timed out (AtomicInt.wait on the count of timeouts), so timeouts happen
    while it is held.  Counted from the outside: every acquire's return
    value is tallied, and a plain counter bumped inside the lock (read,
    yield, write: an overlap loses updates) must equal the successes; each
    worker's attempts add up; the lock ends free.  (Also the single home of
    the "timeouts racing releases" fault test.)"""
    lock = SpinLock()
    n_workers, rounds, holds = 5, 300, 20
    shared = {"value": 0}
    timeouts = AtomicInt(0)  # every False any acquire returned
    done = AtomicInt(0)  # workers finished
    held_through_timeout = AtomicInt(0)  # holder's holds during which a waiter timed out

    def holder():
        for _ in range(holds):
            seen = timeouts.load()
            with lock:
                v = shared["value"]
                # Until a waiter gives up (bounded: the workers may all be
                # done, or a broken lock may never time out).
                deadline = time.monotonic() + 2
                while done.load() < n_workers and time.monotonic() < deadline:
                    if timeouts.wait(seen, timeout=0.01):
                        break
                if timeouts.load() != seen:
                    held_through_timeout.inc()
                shared["value"] = v + 1
            time.sleep(0.0005)  # let the workers in between holds
        return holds

    def worker():
        got = failed = 0
        for k in range(rounds):
            if lock.acquire(timeout=0.0002 * (1 + k % 4)):
                v = shared["value"]
                time.sleep(0.0002 if k % 8 == 0 else 0)
                shared["value"] = v + 1
                got += 1
                lock.release()
            else:
                failed += 1
                timeouts.inc()
        done.inc()
        return got, failed

    results = run_threads(lambda i: holder() if i == 0 else worker(), n_workers + 1)
    got = sum(g for g, _ in results[1:])
    failed = sum(f for _, f in results[1:])
    assert all(g + f == rounds for g, f in results[1:])
    assert shared["value"] == got + holds  # no lost update: nobody was ever inside together
    assert failed == timeouts.load()
    assert held_through_timeout.load() >= 1 and failed >= held_through_timeout.load()
    assert got >= 1
    assert lock.locked() is False
    assert lock.acquire(False) is True
    lock.release()


def test_timeout_while_held_then_acquire_after_release():
    lock = SpinLock()
    lock.acquire()
    out = {}
    timed_out = threading.Event()

    def waiter():
        t0 = time.monotonic()
        out["timed"] = lock.acquire(timeout=0.1)
        out["elapsed"] = time.monotonic() - t0
        timed_out.set()
        t0 = time.monotonic()
        out["blocking"] = lock.acquire(timeout=10)
        out["waited"] = time.monotonic() - t0

    t = threading.Thread(target=waiter, daemon=True)
    t.start()
    assert timed_out.wait(10)
    assert out["timed"] is False
    assert 0.1 <= out["elapsed"] < 2
    assert lock.locked() is True
    wait_blocked(t.native_id, lock)  # asleep in the second acquire: the release must wake it
    lock.release()  # hands it to the waiter's second (timed, 10 s) acquire
    t.join(10)
    assert not t.is_alive()
    assert out["blocking"] is True
    assert out["waited"] < 5
    assert lock.locked() is True  # held by the (finished) waiter: no owner
    lock.release()
    assert lock.locked() is False


def test_many_waiters_all_get_through():
    """N threads asleep on a held lock; one release starts a chain in which
    every waiter gets the lock once (each release wakes the next sleeper)."""
    lock = SpinLock()
    lock.acquire()
    n = 6
    passed = []

    def waiter(i):
        with lock:
            passed.append(i)

    threads = [threading.Thread(target=waiter, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        wait_blocked(t.native_id, lock)  # past spin and yield: asleep on the futex
    assert passed == []
    lock.release()
    for t in threads:
        t.join(10)
        assert not t.is_alive()
    assert sorted(passed) == list(range(n))
    assert lock.locked() is False


def test_gil_is_released_while_blocking():
    """A thread blocked in acquire() must not hold the GIL (on the default
    build) or stop other threads from running Python: the releasing thread
    has to run Python code while the waiter blocks.  If the waiter kept the
    GIL, the helper could not run and the waiter's 5 s timeout would expire."""
    lock = SpinLock()
    lock.acquire()
    progress = []
    out = {}

    def waiter():
        t0 = time.monotonic()
        out["got"] = lock.acquire(timeout=5)
        out["elapsed"] = time.monotonic() - t0
        lock.release()

    def helper():
        # Pure-Python work while the waiter is blocked, then release.
        deadline = time.monotonic() + 0.2
        n = 0
        while time.monotonic() < deadline:
            n += 1
        progress.append(n)
        lock.release()

    w = threading.Thread(target=waiter, daemon=True)
    w.start()
    wait_blocked(w.native_id, lock)
    h = threading.Thread(target=helper, daemon=True)
    h.start()
    for t in (w, h):
        t.join(10)
        assert not t.is_alive()
    assert out["got"] is True
    assert out["elapsed"] < 2
    assert progress and progress[0] > 1000
    assert lock.locked() is False


# ---------------------------------------------------------------------------
# fork
# ---------------------------------------------------------------------------


def test_at_fork_reinit_resets_held_lock():
    lock = SpinLock()
    lock.acquire()
    lock._at_fork_reinit()
    assert lock.locked() is False
    assert lock.acquire(False) is True
    lock._at_fork_reinit()  # on a held lock again: unlocked, usable
    assert lock.acquire(timeout=0.01) is True
    lock.release()
    lock._at_fork_reinit()  # on an unlocked lock: still unlocked
    assert lock.locked() is False


def _fork(child):
    """Run child() in a forked process; return its exit status."""
    with warnings.catch_warnings():
        # 3.12+ warns about fork() in a process with threads (pytest may have some).
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = child()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs a safe os.fork()")
def test_fork_child_inherits_locked_state():
    """Documented behaviour: fork copies the lock word, so the child sees a
    lock held by the parent as held (like threading.Lock; the interpreter
    only reinitialises its own internal locks).  No thread in the child owns
    it; the child may release it (no owner, like threading.Lock) or call
    _at_fork_reinit().  The parent's lock is unaffected by the child."""
    lock = SpinLock()
    free = SpinLock()
    lock.acquire()

    def child():
        if lock.locked() is not True or lock.acquire(False) is not False:
            return 1
        if lock.acquire(timeout=0.05) is not False:
            return 2
        lock.release()  # any thread may release
        if lock.locked() or not lock.acquire(False):
            return 3
        lock._at_fork_reinit()
        if lock.locked() or not lock.acquire(False):
            return 4
        if free.locked() or not free.acquire(False):  # unlocked stays unlocked
            return 5
        return 0

    assert _fork(child) == 0
    assert lock.locked() is True  # the child's release did not reach us
    assert free.locked() is False
    lock.release()


# Fork with a sleeper on the lock: test_fork_waiters.py (in a child interpreter).
