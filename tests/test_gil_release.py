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
B_RUNS = 0.3  # seconds of pure-Python work B does while A waits, before letting A go
# The longest pause in B's progress allowed during A's call: the GIL's switch
# interval is 5 ms; the rest is room for a loaded machine descheduling B.
MAX_GAP = 0.5


def _progress_inside(a_enter, a_exit, stamps, edge=EDGE):
    """How many of B's progress stamps fall well inside A's call."""
    return sum(1 for t in stamps if a_enter + edge < t < a_exit - edge)


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


def _largest_gap(a_enter, a_exit, stamps):
    """The longest stretch of A's call with no progress stamp of B's."""
    inside = [a_enter] + [t for t in stamps if a_enter < t < a_exit] + [a_exit]
    return max(later - earlier for earlier, later in zip(inside, inside[1:]))


@pytest.mark.parametrize("kind", ["RWLock.acquire_write", "RWLock.acquire_read", "SpinLock.acquire", "AtomicInt.wait"])
def test_other_threads_run_python_while_a_blocking_call_waits(kind):
    """B works in Python from before A's call until after it returns, letting
    A go only once A sleeps in the call plus B_RUNS: A's call must return
    True (not time out), and B's progress must not stop for more than
    MAX_GAP at any point of it (a call keeping the GIL while it waits would
    stop B for the whole wait)."""
    obj, hold, call, let_go = _scenario(kind)
    times: dict = {}
    stamps: list = []
    a_inside, a_done, b_holds = threading.Event(), threading.Event(), threading.Event()

    def a():
        times["enter"] = time.monotonic()
        times["result"] = call()
        times["exit"] = time.monotonic()
        a_done.set()

    def b():
        hold()
        b_holds.set()
        while not a_inside.is_set():
            _b_work(stamps, 0.005)
        _b_work(stamps, B_RUNS)  # A waits for this, and then let_go()
        let_go()
        while not a_done.is_set():
            _b_work(stamps, 0.005)

    tb = start(b)
    assert b_holds.wait(10)
    ta = start(a)
    wait_blocked(ta.native_id, obj)  # A sleeps in the call, on obj's memory
    a_inside.set()
    join(ta, tb)
    assert times["result"] is True, "A's call timed out: B could not run while A waited"
    assert times["exit"] - times["enter"] >= B_RUNS  # A did wait for B
    gap = _largest_gap(times["enter"], times["exit"], stamps)
    assert gap < MAX_GAP, f"B made no progress for {gap:.3f} s of A's call"


@pytest.mark.skipif(FREE_THREADED or not gil_enabled(), reason="no GIL to hold")
@pytest.mark.skipif(sys.implementation.name != "cpython", reason="ctypes.PyDLL keeping the GIL: CPython")
@pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="needs libc's usleep")
def test_control_a_call_that_keeps_the_gil_stops_other_threads():
    """The measurement's teeth: A sleeps 1 s in C holding the GIL; B, ready
    to run Python the whole time, gets no progress stamp inside A's call,
    whose gap is then the whole call, over MAX_GAP."""
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
    libc.usleep(1_000_000)
    times["exit"] = time.monotonic()
    time.sleep(0.05)
    stop.set()
    join(tb)
    assert len(stamps) > 50  # B did run, before and after
    # The middle half of the 1 s call: between A's time stamp and its entering
    # usleep, B may hold the GIL for longer than EDGE on a loaded machine (4 stamps
    # 20+ ms inside, once, in CI at a load of 4 on 2 cores), but not for 250 ms.
    assert _progress_inside(times["enter"], times["exit"], stamps, edge=0.25) == 0
    assert _largest_gap(times["enter"], times["exit"], stamps) > MAX_GAP
