"""AtomicInt.wait / notify_one / notify_all.

wait(expected, timeout=None) -> True once the value is seen != expected,
False on timeout.  Every AtomicInt operation that may change the value wakes
its waiters (pa_atomic_int.h), so a waiter returns as soon as the value
differs, on every thread, whether or not anyone calls notify_*(); a notify, or
an operation that leaves the value as it was, sends it back to sleep.  The
value is 64 bits wide while futexes watch 32: changes in the high half only
must be seen too.
"""

from __future__ import annotations

import math
import threading
import time

import pytest
from conftest import run_threads, wait_blocked, join, start

from pyatomics import AtomicInt


class Index:
    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


class Waiter:
    """A thread blocked in a.wait(expected, timeout); records result and time."""

    def __init__(self, a, expected, timeout=60.0):
        self.result = None
        self.elapsed = None
        self.done = threading.Event()

        def run():
            t0 = time.monotonic()
            self.result = a.wait(expected, timeout)
            self.elapsed = time.monotonic() - t0
            self.done.set()

        self.a = a
        self.thread = start(run)
        while self.thread.native_id is None:
            time.sleep(0.001)

    def blocked(self):
        wait_blocked(self.thread.native_id, self.a)
        assert not self.done.is_set(), (self.result, self.elapsed)
        return self


# ---------------------------------------------------------------------------
# Single thread: no waiting needed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [None, 0, 10, threading.TIMEOUT_MAX])
def test_returns_at_once_when_value_differs(timeout):
    a = AtomicInt(5)
    t0 = time.monotonic()
    assert a.wait(4, timeout) is True
    assert a.wait(expected=-5, timeout=timeout) is True
    assert time.monotonic() - t0 < 2
    assert a.load() == 5  # wait never changes the value


@pytest.mark.parametrize(
    "value, expected",
    [
        (1 << 40, 0),  # only the high half differs
        (0, 1 << 32),  # low halves equal (0)
        (-1, 0xFFFFFFFF),  # low halves equal (all ones)
        (2**63 - 1, -1),  # low halves equal
        (-(2**63), 0),
    ],
)
def test_full_64_bit_comparison(value, expected):
    a = AtomicInt(value)
    assert a.wait(expected, 0) is True
    assert a.wait(value, 0) is False


def test_timeout_returns_false_with_the_right_duration():
    a = AtomicInt(7)
    assert a.wait(7, 0) is False
    for timeout in (0.05, 0.12):  # 0.12 spans several of the main thread's slices
        t0 = time.monotonic()
        assert a.wait(7, timeout) is False
        elapsed = time.monotonic() - t0
        assert timeout <= elapsed < timeout + 1.5, (timeout, elapsed)
    # Same on a worker thread (no slicing there).
    w = Waiter(a, 7, timeout=0.1)
    join(w.thread)
    assert w.result is False
    assert 0.1 <= w.elapsed < 2
    assert a.load() == 7


# ---------------------------------------------------------------------------
# Waking
# ---------------------------------------------------------------------------


def test_notify_all_wakes_every_waiter_after_a_store():
    a = AtomicInt(0)
    waiters = [Waiter(a, 0).blocked() for _ in range(4)]
    a.store(1)
    a.notify_all()
    for w in waiters:
        assert w.done.wait(10), "a waiter was not woken by notify_all"
    assert [w.result for w in waiters] == [True] * 4, [(w.result, w.elapsed) for w in waiters]


# Every operation that changes the value, as a user would write it.
CHANGES = {
    "store": lambda a: a.store(1),
    "exchange": lambda a: a.exchange(1),
    "compare_exchange": lambda a: a.compare_exchange(0, 1),
    "fetch_add": lambda a: a.fetch_add(1),
    "fetch_sub": lambda a: a.fetch_sub(1),
    "add": lambda a: a.add(1 << 40),  # high half only
    "sub": lambda a: a.sub(1),
    "inc": lambda a: a.inc(),
    "dec": lambda a: a.dec(),
    "fetch_or": lambda a: a.fetch_or(4),
    "fetch_xor": lambda a: a.fetch_xor(1 << 35),
    "fetch_max": lambda a: a.fetch_max(9),
    "fetch_min": lambda a: a.fetch_min(-9),
    "update": lambda a: a.update(lambda v: v + 3),
    "+=": lambda a: a.__iadd__(1),
    "-=": lambda a: a.__isub__(1),
    "|=": lambda a: a.__ior__(2),
    "^=": lambda a: a.__ixor__(2),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_every_change_wakes_a_worker_without_notify(change):
    """Before, a waiter slept on the notify counter only: a worker thread whose
    value changed without a notify slept until its timeout (forever without
    one), while the main thread noticed within 50 ms through its signal-check
    slices.  Now the change itself wakes every waiter, on every thread."""
    a = AtomicInt(0)
    w = Waiter(a, 0, timeout=30).blocked()  # a worker: no 50 ms slices there
    CHANGES[change](a)
    assert w.done.wait(10), f"{change} did not wake the waiter"
    assert w.result is True and w.elapsed < 10, (w.result, w.elapsed)


def test_every_change_wakes_the_main_thread_without_notify():
    a = AtomicInt(0)
    main = threading.get_native_id()
    changer = start(lambda: (wait_blocked(main, a), a.store(5)))
    t0 = time.monotonic()
    assert a.wait(0, 30) is True
    assert time.monotonic() - t0 < 10
    join(changer)


@pytest.mark.parametrize(
    "same",
    [
        lambda a: a.store(0),
        lambda a: a.compare_exchange(7, 1),  # fails: nothing stored
        lambda a: a.fetch_and(-1),
        lambda a: a.fetch_max(-5),
        lambda a: a.fetch_add(0),
        lambda a: a.update(lambda v: v),
    ],
)
def test_operation_leaving_the_value_unchanged_sends_the_waiter_back_to_sleep(same):
    a = AtomicInt(0)
    w = Waiter(a, 0).blocked()
    for _ in range(3):
        same(a)
    assert not w.done.wait(0.2), (w.result, w.elapsed)
    a.inc()
    assert w.done.wait(10)
    assert w.result is True


def test_notify_without_change_sends_waiter_back_to_sleep():
    a = AtomicInt(0)
    w = Waiter(a, 0).blocked()
    for _ in range(5):
        a.notify_all()
        a.notify_one()
        time.sleep(0.02)
    assert not w.done.wait(0.1)
    a.store(-1)
    a.notify_all()
    assert w.done.wait(10)
    assert w.result is True


def test_high_half_change_wakes_waiter():
    """0 -> 1 << 40 leaves the low 32 bits unchanged: a waiter that watched
    only the low half would sleep through it."""
    a = AtomicInt(0)
    w = Waiter(a, 0).blocked()
    a.store(1 << 40)
    a.notify_one()
    assert w.done.wait(5)
    assert w.result is True
    # and back: 1 << 40 -> 0
    w = Waiter(a, 1 << 40).blocked()
    a.store(0)
    a.notify_all()
    assert w.done.wait(5)
    assert w.result is True


def test_ping_pong_no_lost_wakeup():
    """Two threads take turns 2000 times each: ping moves even -> odd, pong
    odd -> even, each waiting for the other with wait() and announcing its
    move with notify_one().  A lost wakeup stalls a wait until its 10 s
    timeout and fails the round; the final value is exact."""
    a = AtomicInt(0)
    rounds = 2000
    stalls = []

    def player(parity):
        for k in range(rounds):
            turn = 2 * k + parity
            while True:
                v = a.load()
                if v == turn:
                    break
                assert v == turn - 1, (v, turn)
                if not a.wait(v, 10):
                    stalls.append(turn)
                    return
            a.store(turn + 1)
            a.notify_one()

    run_threads(player, 2, timeout=60)
    assert stalls == []
    assert a.load() == 2 * rounds


def test_token_ring_notify_all():
    """Four threads pass a token round a ring 300 times each; every thread
    waits on the same AtomicInt for its own turn, so each notify_all wakes
    three threads that must go back to sleep and one that must act."""
    a = AtomicInt(0)
    n, rounds = 4, 300
    stalls = []

    def member(i):
        for k in range(rounds):
            turn = k * n + i
            while True:
                v = a.load()
                if v == turn:
                    break
                if not a.wait(v, 10):
                    stalls.append(turn)
                    return
            a.add(1)
            a.notify_all()

    run_threads(member, n, timeout=60)
    assert stalls == []
    assert a.load() == n * rounds


def test_many_waiters_one_store():
    """Waiters entering and leaving wait() while the value changes once:
    every one of them returns True (none misses the change)."""
    a = AtomicInt(0)
    go = threading.Event()

    def waiter(i):
        go.wait(10)
        return a.wait(0, 10)

    results = []
    t = start(lambda: results.extend(run_threads(waiter, 6)))
    go.set()
    time.sleep(0.01)
    a.store(3 << 33)
    a.notify_all()
    join(t)
    assert results == [True] * 6


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, kwargs, exc",
    [
        ((), {}, TypeError),
        (("0",), {}, TypeError),
        ((1.0,), {}, TypeError),
        ((None,), {}, TypeError),
        ((2**63,), {}, OverflowError),
        ((-(2**63) - 1,), {}, OverflowError),
        ((0, -2), {}, ValueError),
        ((0, -0.001), {}, ValueError),
        ((0, math.nan), {}, ValueError),
        ((0, "1"), {}, TypeError),
        ((0, [1]), {}, TypeError),
        ((0, 1e100), {}, OverflowError),
        ((0, threading.TIMEOUT_MAX * 2), {}, OverflowError),
        ((0, 10**400), {}, OverflowError),
        ((0,), {"timeout": -1.5}, ValueError),
        ((0, 1, 2), {}, TypeError),
        ((), {"value": 0}, TypeError),
    ],
)
def test_bad_wait_arguments(args, kwargs, exc):
    a = AtomicInt(1)  # != 0: a wait that got past the checks would return True at once
    t0 = time.monotonic()
    with pytest.raises(exc):
        a.wait(*args, **kwargs)
    assert time.monotonic() - t0 < 2
    assert a.load() == 1


def test_accepted_argument_types():
    a = AtomicInt(3)
    assert a.wait(Index(2)) is True
    assert a.wait(True) is True  # bool is an int
    assert a.wait(3, Index(0)) is False  # timeout: any real number, __index__ ok
    assert a.wait(3, 0.0) is False
    assert a.wait(3, timeout=1e-9) is False
    assert a.wait(expected=3, timeout=0) is False
    assert a.wait(2, None) is True  # None: no timeout


def test_notify_takes_no_arguments():
    a = AtomicInt(0)
    with pytest.raises(TypeError):
        a.notify_one(1)
    with pytest.raises(TypeError):
        a.notify_all(True)
    assert a.notify_one() is None and a.notify_all() is None
    assert a.load() == 0
