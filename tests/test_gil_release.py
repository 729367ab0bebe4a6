"""Blocking calls let other threads run Python code while they wait.

Which runs give the stress tests real parallelism (their docstrings say so):

* free-threaded CPython (3.13t here; C-API backend, the only one built
  there): threads run Python code and pyatomics calls truly in parallel;
* a GIL build, either backend: one thread runs Python at a time, so only
  the calls that release the GIL overlap -- the blocking ones, proved here:
  while thread A sleeps inside a blocking pyatomics call, thread B runs
  Python code, and that B-side progress is what lets A's call return.  The
  C-API backend releases the GIL around its waits itself; the cffi backend
  relies on cffi, which releases it around every call of its C functions
  (API mode).  If either kept the GIL, B would make no progress while A is
  inside, and A's call would run into its 5 s timeout instead of returning
  True.

The control case makes A sleep in a C call that keeps the GIL (libc's
usleep through ctypes.PyDLL): there B's progress inside A's call must be
zero, so the measurement can tell the two apart.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
import time

import pytest
from conftest import FREE_THREADED, gil_enabled, join, start, wait_blocked

from pyatomics import AtomicInt, RWLock, SpinLock

EDGE = 0.02  # seconds trimmed off both ends of A's call before counting B's progress in it
B_RUNS = 0.3  # seconds of pure-Python work B does while A waits


def _progress_inside(a_enter, a_exit, stamps):
    """How many of B's progress stamps fall well inside A's call."""
    return sum(1 for t in stamps if a_enter + EDGE < t < a_exit - EDGE)


def _b_work(stamps, seconds):
    """Pure-Python work for `seconds`; a stamp every 100 iterations."""
    n = 0
    end = time.monotonic() + seconds
    while True:
        n += 1
        if n % 100 == 0:
            now = time.monotonic()
            stamps.append(now)
            if now >= end:
                return n


def _scenario(kind):
    """(obj A blocks on, B's hold(), A's call() -> result, B's let_go())."""
    if kind == "RWLock.acquire_write":
        rw = RWLock()
        return rw, rw.acquire_read, lambda: rw.acquire_write(timeout=5), rw.release_read
    if kind == "RWLock.acquire_read":
        rw = RWLock()
        return rw, rw.acquire_write, lambda: rw.acquire_read(timeout=5), rw.release_write
    if kind == "SpinLock.acquire":
        lock = SpinLock()
        return lock, lock.acquire, lambda: lock.acquire(timeout=5), lock.release
    if kind == "AtomicInt.wait":
        a = AtomicInt(0)
        return a, lambda: None, lambda: a.wait(0, timeout=5), lambda: a.store(1)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["RWLock.acquire_write", "RWLock.acquire_read", "SpinLock.acquire", "AtomicInt.wait"])
def test_other_threads_run_python_while_a_blocking_call_waits(kind):
    obj, hold, call, let_go = _scenario(kind)
    times: dict = {}
    stamps: list = []
    a_inside = threading.Event()

    def a():
        times["enter"] = time.monotonic()
        times["result"] = call()
        times["exit"] = time.monotonic()

    def b():
        hold()
        b_holds.set()
        assert a_inside.wait(10)
        _b_work(stamps, B_RUNS)  # only this, and then let_go(), ends A's wait
        let_go()

    b_holds = threading.Event()
    tb = start(b)
    assert b_holds.wait(10)
    ta = start(a)
    wait_blocked(ta.native_id, obj)  # A sleeps in the call, on obj's memory
    a_inside.set()
    join(ta, tb)
    assert times["result"] is True, "A's call timed out: B could not run while A waited"
    assert times["exit"] - times["enter"] < 4
    inside = _progress_inside(times["enter"], times["exit"], stamps)
    # B ran for about B_RUNS inside A's call: most of its stamps are there.
    assert inside >= len(stamps) // 2 and inside >= 50, (inside, len(stamps))


@pytest.mark.skipif(FREE_THREADED or not gil_enabled(), reason="no GIL to hold")
@pytest.mark.skipif(sys.implementation.name != "cpython", reason="ctypes.PyDLL keeping the GIL: CPython")
@pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="needs libc's usleep")
def test_control_a_call_that_keeps_the_gil_stops_other_threads():
    """The measurement's teeth: A sleeps 0.3 s in C holding the GIL; B, ready
    to run Python the whole time, gets no progress stamp inside A's call."""
    libc = ctypes.PyDLL(ctypes.util.find_library("c"))  # PyDLL: the GIL is kept during the call
    times: dict = {}
    stamps: list = []
    go = threading.Event()
    stop = threading.Event()

    def b():
        go.set()
        while not stop.is_set():
            _b_work(stamps, 0.01)

    tb = start(b)
    assert go.wait(10)
    time.sleep(0.05)  # B is running its loop (stamps coming)
    times["enter"] = time.monotonic()
    libc.usleep(300_000)
    times["exit"] = time.monotonic()
    time.sleep(0.05)
    stop.set()
    join(tb)
    assert len(stamps) > 50  # B did run, before and after
    assert _progress_inside(times["enter"], times["exit"], stamps) == 0
