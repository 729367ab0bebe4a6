"""Bad input, systematically, and in one place (the per-primitive files do
not repeat these checks): every public call with wrong types, None,
floats, bools, huge ints, bad timeouts, odd __index__ implementations, and
calls on locks not held.  Each must raise the exception the stdlib raises in
the same situation (TypeError, ValueError, OverflowError, RuntimeError) and
leave the object's state unchanged.

Then a hypothesis state machine drives an RWLock and a SpinLock from several
real threads and checks every answer against a model of who holds what.
"""

from __future__ import annotations

import math
import queue
import sys
import threading
from fractions import Fraction

import pytest
from conftest import SCALE

from pyatomics import AtomicInt, RWLock, SpinLock

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule  # noqa: E402

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)


class IndexRaises:
    def __index__(self):
        raise ZeroDivisionError("from __index__")


class IndexReturnsFloat:
    def __index__(self):
        return 1.5


class IndexReturnsStr:
    def __index__(self):
        return "7"


class IndexTooBig:
    def __index__(self):
        return 2**64


class IndexFine:
    def __index__(self):
        return 7


class OddInt(int):
    """An int subclass whose __index__ misbehaves: as for operator.index and
    the stdlib, the int value itself is used and __index__ is not called."""

    def __index__(self):
        raise AssertionError("__index__ of an int subclass must not be called")


# value -> the exception it must raise where an int64 is expected
BAD_INTS = [
    (None, TypeError),
    (1.0, TypeError),
    (1.5, TypeError),
    (math.nan, TypeError),
    (math.inf, TypeError),
    ("1", TypeError),
    (b"1", TypeError),
    ([1], TypeError),
    (1j, TypeError),
    (IndexReturnsFloat(), TypeError),
    (IndexReturnsStr(), TypeError),
    (IndexRaises(), ZeroDivisionError),
    (Fraction(1, 2), TypeError),
    (IndexTooBig(), OverflowError),
    (I64_MAX + 1, OverflowError),
    (I64_MIN - 1, OverflowError),
    (2**64, OverflowError),
    (2**100, OverflowError),
    (-(2**100), OverflowError),
    (10**400, OverflowError),
]
GOOD_ODD_INTS = [(True, 1), (False, 0), (IndexFine(), 7), (OddInt(5), 5), (AtomicInt(10), 10),
                 (I64_MAX, I64_MAX), (I64_MIN, I64_MIN)]

ONE_INT_METHODS = ["store", "exchange", "fetch_add", "fetch_sub", "fetch_and", "fetch_or",
                   "fetch_xor", "fetch_max", "fetch_min", "add", "sub"]


def _ids(v):
    return type(v).__name__ if not isinstance(v, (int, float)) else repr(v)[:20]


# ---------------------------------------------------------------------------
# AtomicInt
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", ONE_INT_METHODS)
@pytest.mark.parametrize(("bad", "exc"), BAD_INTS, ids=[_ids(b) for b, _ in BAD_INTS])
def test_atomicint_methods_reject_bad_ints(method, bad, exc):
    a = AtomicInt(42)
    with pytest.raises(exc):
        getattr(a, method)(bad)
    assert a.load() == 42


@pytest.mark.parametrize(("bad", "exc"), BAD_INTS, ids=[_ids(b) for b, _ in BAD_INTS])
def test_atomicint_constructor_compare_exchange_wait_inplace_reject_bad_ints(bad, exc):
    with pytest.raises(exc):
        AtomicInt(bad)
    a = AtomicInt(42)
    with pytest.raises(exc):
        a.compare_exchange(bad, 1)
    with pytest.raises(exc):
        a.compare_exchange(42, bad)
    with pytest.raises(exc):
        a.wait(bad, timeout=0)
    for op in ("__iadd__", "__isub__", "__iand__", "__ior__", "__ixor__"):
        with pytest.raises(exc):
            getattr(a, op)(bad)
    assert a.load() == 42


@pytest.mark.parametrize(("value", "as_int"), GOOD_ODD_INTS, ids=[_ids(v) for v, _ in GOOD_ODD_INTS])
def test_atomicint_accepts_int_likes(value, as_int):
    assert AtomicInt(value).load() == as_int
    a = AtomicInt(0)
    a.store(value)
    assert a.load() == as_int
    assert a.exchange(0) == as_int
    assert a.compare_exchange(0, value) is True and a.load() == as_int


def test_atomicint_overflowing_results_leave_value_unchanged():
    a = AtomicInt(I64_MAX)
    for call in (lambda: a.fetch_add(1), lambda: a.add(1), a.inc, lambda: a.sub(-1), lambda: a.fetch_sub(-1)):
        with pytest.raises(OverflowError):
            call()
        assert a.load() == I64_MAX
    with pytest.raises(OverflowError):
        a += 1
    assert a.load() == I64_MAX
    b = AtomicInt(I64_MIN)
    for call in (lambda: b.fetch_sub(1), lambda: b.sub(1), b.dec, lambda: b.add(-1), lambda: b.fetch_sub(I64_MAX)):
        with pytest.raises(OverflowError):
            call()
        assert b.load() == I64_MIN


def test_atomicint_wrong_arity_and_update():
    a = AtomicInt(3)
    for call, exc in [
        (lambda: a.compare_exchange(3), TypeError),
        (lambda: a.compare_exchange(3, 4, 5), TypeError),
        (lambda: a.compare_exchange(), TypeError),
        (lambda: a.store(), TypeError),
        (lambda: a.store(1, 2), TypeError),
        (lambda: a.load(1), TypeError),
        (lambda: a.inc(1), TypeError),
        (lambda: a.notify_one(1), TypeError),
        (lambda: a.notify_all(True), TypeError),
        (lambda: a.wait(value=0), TypeError),
        (lambda: a.wait(), TypeError),
        (lambda: a.wait(3, 0, 0), TypeError),
        (lambda: a.wait(3, nope=1), TypeError),
        (lambda: AtomicInt(1, 2), TypeError),
        (lambda: AtomicInt(nope=1), TypeError),
        (lambda: a.update(None), TypeError),
        (lambda: a.update(5), TypeError),
        (lambda: a.update(lambda v: 1.5), TypeError),
        (lambda: a.update(lambda v: None), TypeError),
        (lambda: a.update(lambda v: 2**64), OverflowError),
        (lambda: a.update(lambda v: 1 // 0), ZeroDivisionError),
        (lambda: a.update(lambda: 1), TypeError),
    ]:
        with pytest.raises(exc):
            call()
        assert a.load() == 3
    for op, sym in [("__imul__", 2), ("__ifloordiv__", 2), ("__itruediv__", 2), ("__imod__", 2),
                    ("__ilshift__", 1), ("__irshift__", 1)]:
        with pytest.raises(TypeError):
            getattr(a, op)(sym)
        assert a.load() == 3


# ---------------------------------------------------------------------------
# Timeouts, everywhere a timeout is taken
# ---------------------------------------------------------------------------

# acquire(blocking=True, timeout=-1): the threading.Lock.acquire contract
BAD_ACQUIRE_ARGS = [
    ({"timeout": None}, TypeError),
    ({"timeout": "1"}, TypeError),
    ({"timeout": b"1"}, TypeError),
    ({"timeout": [1]}, TypeError),
    ({"timeout": 1j}, TypeError),
    ({"timeout": IndexRaises()}, ZeroDivisionError),
    ({"timeout": IndexReturnsFloat()}, TypeError),
    ({"timeout": -2}, ValueError),
    ({"timeout": -0.5}, ValueError),
    ({"timeout": -math.inf}, ValueError),
    ({"timeout": math.nan}, ValueError),
    ({"timeout": math.inf}, OverflowError),
    ({"timeout": 1e300}, OverflowError),
    ({"timeout": 10**400}, OverflowError),
    ({"timeout": 2**70}, OverflowError),
    ({"timeout": threading.TIMEOUT_MAX + 1}, OverflowError),
    ({"timeout": threading.TIMEOUT_MAX * 2}, OverflowError),
    ({"blocking": False, "timeout": 1}, ValueError),
    ({"blocking": False, "timeout": 0}, ValueError),
    ({"nope": 1}, TypeError),
    ({"blocking": True, "timeout": 1, "nope": 1}, TypeError),
]
BAD_ACQUIRE_POSITIONAL = [((True, 1, 2), TypeError), ((True, "x"), TypeError), ((False, 1.0), ValueError)]

# wait(expected, timeout=None), read(timeout=None), write(timeout=None)
BAD_OPTIONAL_TIMEOUTS = [
    ("1", TypeError), (b"", TypeError), ([], TypeError), (IndexRaises(), ZeroDivisionError),
    (-2, ValueError), (-1.5, ValueError), (-0.001, ValueError), (-math.inf, ValueError), (math.nan, ValueError),
    (math.inf, OverflowError), (1e300, OverflowError), (10**400, OverflowError),
    (threading.TIMEOUT_MAX * 2, OverflowError),
]


def _acquirers(rw: RWLock, spin: SpinLock):
    return {
        "SpinLock.acquire": spin.acquire,
        "RWLock.acquire_read": rw.acquire_read,
        "RWLock.acquire_write": rw.acquire_write,
        "RWLock.reader.acquire": rw.reader.acquire,
        "RWLock.writer.acquire": rw.writer.acquire,
    }


def _snapshot(rw: RWLock, spin: SpinLock):
    return (rw.readers, rw.write_locked, spin.locked())


ACQUIRERS = list(_acquirers(RWLock(), SpinLock()))


@pytest.mark.parametrize("name", ACQUIRERS)
def test_acquire_rejects_bad_arguments_and_changes_nothing(name):
    rw, spin = RWLock(), SpinLock()
    call = _acquirers(rw, spin)[name]
    for kwargs, exc in BAD_ACQUIRE_ARGS:
        with pytest.raises(exc):
            call(**kwargs)
        assert _snapshot(rw, spin) == (0, False, False), kwargs
    for args, exc in BAD_ACQUIRE_POSITIONAL:
        with pytest.raises(exc):
            call(*args)
        assert _snapshot(rw, spin) == (0, False, False), args


def test_spinlock_acquire_rejects_bad_arguments_while_held():
    """Held, the argument check still comes first: the same exceptions, and
    the lock stays held (a release afterwards frees it)."""
    lock = SpinLock()
    lock.acquire()
    for args, kwargs, exc in [((), kw, e) for kw, e in BAD_ACQUIRE_ARGS] + [(a, {}, e) for a, e in BAD_ACQUIRE_POSITIONAL]:
        with pytest.raises(exc):
            lock.acquire(*args, **kwargs)
        assert lock.locked() is True, (args, kwargs)
    lock.release()
    assert lock.locked() is False


# Where threading.Lock.acquire raises another exception type than we do:
# -inf is OverflowError there (it is converted before the sign is looked at),
# ValueError here, as for every other negative timeout but -1; PyPy's own
# Lock says OverflowError for a NaN timeout too (we keep CPython's
# ValueError), and TypeError for an object with __index__.
def _stdlib_differs(kwargs):
    t = kwargs.get("timeout")
    if isinstance(t, float) and t == -math.inf:
        return True
    if sys.implementation.name == "pypy":  # and PyPy's takes no __index__ for a timeout
        return isinstance(t, (IndexRaises, IndexReturnsFloat)) or (isinstance(t, float) and math.isnan(t))
    return False


def test_bad_acquire_arguments_match_threading_lock():
    """Each bad acquire() above raises what threading.Lock().acquire raises."""
    for kwargs, exc in BAD_ACQUIRE_ARGS:
        if not _stdlib_differs(kwargs):
            with pytest.raises(exc):
                threading.Lock().acquire(**kwargs)
    for args, exc in BAD_ACQUIRE_POSITIONAL:
        with pytest.raises(exc):
            threading.Lock().acquire(*args)


@pytest.mark.parametrize("name", ACQUIRERS)
def test_acquire_accepts_stdlib_timeouts(name):
    """What threading.Lock.acquire accepts: -1 (forever), 0, ints, floats,
    bools (an int), and blocking given positionally or as any truth value."""
    for kwargs in ({}, {"timeout": -1}, {"timeout": -1.0}, {"timeout": 0}, {"timeout": 0.5},
                   {"timeout": True}, {"timeout": 1}, {"blocking": 1}, {"blocking": False},
                   {"blocking": [], "timeout": -1}):
        rw, spin = RWLock(), SpinLock()
        call = _acquirers(rw, spin)[name]
        assert call(**kwargs) is True, kwargs
        assert _snapshot(rw, spin) != (0, False, False)


@pytest.mark.parametrize(("bad", "exc"), BAD_OPTIONAL_TIMEOUTS, ids=[_ids(b) for b, _ in BAD_OPTIONAL_TIMEOUTS])
def test_optional_timeouts_reject_bad_values(bad, exc):
    rw, a = RWLock(), AtomicInt(5)
    with pytest.raises(exc):
        a.wait(5, timeout=bad)
    with pytest.raises(exc):
        a.wait(5, bad)
    with pytest.raises(exc):
        rw.read(timeout=bad)
    with pytest.raises(exc):
        rw.write(bad)
    assert a.load() == 5 and rw.readers == 0 and not rw.write_locked


def test_optional_timeouts_accept_none_and_numbers():
    rw, a = RWLock(), AtomicInt(5)
    assert a.wait(4, None) is True and a.wait(5, 0) is False and a.wait(5, timeout=False) is False
    for t in (None, 0, 0.0, 1, 2.5, True):
        with rw.read(t):
            assert rw.readers == 1
        with rw.write(timeout=t):
            assert rw.write_locked
    assert rw.readers == 0 and not rw.write_locked


# ---------------------------------------------------------------------------
# Constructors and calls on locks not held
# ---------------------------------------------------------------------------

def test_constructors_take_no_arguments():
    for cls in (SpinLock, RWLock):
        for args, kwargs in [((1,), {}), ((None,), {}), ((), {"x": 1})]:
            with pytest.raises(TypeError):
                cls(*args, **kwargs)


def test_spinlock_release_unlocked():
    lock = SpinLock()
    for call in (lock.release, lambda: lock.__exit__(None, None, None)):
        with pytest.raises(RuntimeError, match="release unlocked lock"):  # threading.Lock's words
            call()
        assert not lock.locked()
    assert lock.acquire(False) is True  # still a working lock
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()  # one release too many
    assert not lock.locked()
    for call, exc in [(lambda: lock.release(1), TypeError), (lambda: lock.locked(1), TypeError),
                      (lambda: lock.__enter__(1), TypeError)]:
        with pytest.raises(exc):
            call()
        assert not lock.locked()


def test_rwlock_misuse_raises_runtime_error_and_changes_nothing():
    rw = RWLock()

    def state():
        return (rw.readers, rw.write_locked, rw.reader._is_owned(), rw.writer._is_owned())

    free = state()
    for call, words in ((rw.release_read, "does not hold"), (rw.release_write, "does not hold"),
                        (rw.downgrade, "does not hold"), (rw.reader.release, "does not hold"),
                        (rw.writer.release, "does not hold"),
                        (lambda: rw.reader.__exit__(None, None, None), "read lock"),
                        (lambda: rw.writer.__exit__(None, None, None), "write lock")):
        with pytest.raises(RuntimeError, match=words):
            call()
        assert state() == free
    # holding the read lock: no upgrade, no write release, no downgrade
    rw.acquire_read()
    held = state()
    for call in (rw.acquire_write, lambda: rw.acquire_write(blocking=False), lambda: rw.acquire_write(timeout=0.01),
                 rw.writer.acquire, rw.release_write, rw.downgrade, lambda: rw.write(timeout=1).__enter__()):
        with pytest.raises(RuntimeError, match="write lock"):
            call()
        assert state() == held
    rw.release_read()
    assert state() == free
    with pytest.raises(RuntimeError):
        rw.release_read()  # one release too many
    assert state() == free
    # holding the write lock: no second write, no read, no read release
    rw.acquire_write()
    held = state()
    for call in (rw.acquire_write, lambda: rw.acquire_write(blocking=False), rw.acquire_read,
                 lambda: rw.acquire_read(timeout=0.01), rw.reader.acquire, rw.release_read,
                 lambda: rw.read(timeout=1).__enter__()):
        with pytest.raises(RuntimeError, match="lock"):
            call()
        assert state() == held
    rw.release_write()
    assert state() == free
    with pytest.raises(RuntimeError):
        rw.release_write()  # one release too many
    assert state() == free


def test_rwlock_release_from_another_thread_raises():
    """Unlike threading.Lock, each side is owned: another thread cannot
    release it (nor downgrade it), and its failed attempts change nothing."""
    rw = RWLock()
    errors = []

    def other(calls):
        for call in calls:
            try:
                call()
            except RuntimeError as exc:
                errors.append(exc)

    rw.acquire_write()
    t = threading.Thread(target=other, args=((rw.release_write, rw.release_read, rw.downgrade),))
    t.start()
    t.join(10)
    assert len(errors) == 3
    assert rw.write_locked and rw.writer._is_owned()
    rw.release_write()
    rw.acquire_read()
    t = threading.Thread(target=other, args=((rw.release_read, rw.release_write),))
    t.start()
    t.join(10)
    assert len(errors) == 5
    assert rw.readers == 1 and rw.reader._is_owned()
    rw.release_read()
    assert rw.readers == 0 and not rw.write_locked


# ---------------------------------------------------------------------------
# A state machine over real threads
# ---------------------------------------------------------------------------

NWORKERS = 3
TRY_TIMEOUT = 0.005  # a timed acquire the model says must fail waits this long


class Worker:
    """A thread that runs the callables it is given, one at a time."""

    def __init__(self):
        self.requests: queue.Queue = queue.Queue()
        self.results: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            fn = self.requests.get()
            if fn is None:
                return
            try:
                self.results.put(("ok", fn()))
            except Exception as exc:  # noqa: BLE001 - handed to the test thread
                self.results.put(("raised", exc))

    def call(self, fn):
        self.requests.put(fn)
        return self.results.get(timeout=30)  # a hang here is a lock bug

    def stop(self):
        self.requests.put(None)
        self.thread.join(30)


def expect_raises(outcome, exc_type):
    kind, value = outcome
    assert kind == "raised" and isinstance(value, exc_type), outcome


def expect_value(outcome, value):
    assert outcome == ("ok", value), (outcome, value)


workers_st = st.integers(min_value=0, max_value=NWORKERS - 1)


class RWLockMachine(RuleBasedStateMachine):
    """Model: the writer (a worker index or None), each worker's read depth,
    and whether a writer gave up while the lock was held: its WRITERS_WAITING
    bit may then outlive it until the lock is next free (pa_rwlock.h), so a
    new (non-recursive) reader may be held back meanwhile."""

    def __init__(self):
        super().__init__()
        self.rw = RWLock()
        self.workers = [Worker() for _ in range(NWORKERS)]
        self.writer = None
        self.depth = [0] * NWORKERS
        self.stale_ww = False

    def teardown(self):
        for w in self.workers:
            w.stop()

    def _lock_free(self):
        return self.writer is None and sum(self.depth) == 0

    def _after(self):
        if self._lock_free():
            self.stale_ww = False

    def _read_must(self, w):
        """True: must succeed at once; False: must fail (would wait); None: either."""
        if self.writer is not None:
            return False
        if self.depth[w] > 0:
            return True  # a recursive read passes waiting writers
        return None if self.stale_ww else True

    def _read_side(self, w, use_view):
        return self.rw.reader.acquire if use_view else self.rw.acquire_read

    @rule(w=workers_st, use_view=st.booleans())
    def try_read(self, w, use_view):
        acquire = self._read_side(w, use_view)
        out = self.workers[w].call(lambda: acquire(blocking=False))
        if self.writer == w:
            expect_raises(out, RuntimeError)
            return
        must = self._read_must(w)
        if must is None:
            assert out[0] == "ok", out
        else:
            expect_value(out, must)
        if out[1] is True:
            self.depth[w] += 1

    @rule(w=workers_st, use_view=st.booleans())
    def blocking_read(self, w, use_view):
        if self.writer == w or self._read_must(w) is not True:
            return  # it would raise or wait: covered by try_read / timed_read
        acquire = self._read_side(w, use_view)
        expect_value(self.workers[w].call(lambda: acquire()), True)
        self.depth[w] += 1

    @rule(w=workers_st)
    def timed_read(self, w):
        if self.writer is None or self.writer == w:
            return
        expect_value(self.workers[w].call(lambda: self.rw.acquire_read(timeout=TRY_TIMEOUT)), False)

    @rule(w=workers_st, use_view=st.booleans())
    def try_write(self, w, use_view):
        acquire = self.rw.writer.acquire if use_view else self.rw.acquire_write
        out = self.workers[w].call(lambda: acquire(blocking=False))
        if self.writer == w or self.depth[w] > 0:
            expect_raises(out, RuntimeError)  # twice, or an upgrade
        elif self._lock_free():
            expect_value(out, True)
            self.writer = w
        else:
            expect_value(out, False)

    @rule(w=workers_st)
    def blocking_write(self, w):
        if not self._lock_free():
            return
        expect_value(self.workers[w].call(lambda: self.rw.acquire_write()), True)
        self.writer = w

    @rule(w=workers_st)
    def timed_write(self, w):
        if self._lock_free() or self.writer == w or self.depth[w] > 0:
            return
        expect_value(self.workers[w].call(lambda: self.rw.acquire_write(timeout=TRY_TIMEOUT)), False)
        self.stale_ww = True

    @rule(w=workers_st, use_view=st.booleans())
    def release_read(self, w, use_view):
        release = self.rw.reader.release if use_view else self.rw.release_read
        out = self.workers[w].call(release)
        if self.depth[w] > 0:
            expect_value(out, None)
            self.depth[w] -= 1
        else:
            expect_raises(out, RuntimeError)
        self._after()

    @rule(w=workers_st, use_view=st.booleans())
    def release_write(self, w, use_view):
        release = self.rw.writer.release if use_view else self.rw.release_write
        out = self.workers[w].call(release)
        if self.writer == w:
            expect_value(out, None)
            self.writer = None
        else:
            expect_raises(out, RuntimeError)
        self._after()

    @rule(w=workers_st)
    def downgrade(self, w):
        out = self.workers[w].call(self.rw.downgrade)
        if self.writer == w:
            expect_value(out, None)
            self.writer = None
            self.depth[w] += 1
        else:
            expect_raises(out, RuntimeError)

    @rule(w=workers_st)
    def ownership_observers(self, w):
        out = self.workers[w].call(lambda: (self.rw.reader._is_owned(), self.rw.writer._is_owned()))
        expect_value(out, (self.depth[w] > 0, self.writer == w))

    @invariant()
    def observers_match_model(self):
        assert self.rw.readers == sum(self.depth)
        assert self.rw.write_locked == (self.writer is not None)
        # locked(): that side is held, or acquire(blocking=False) on it would fail
        # (no thread of this machine is left waiting, so only holders count).
        held = self.writer is not None or sum(self.depth) > 0
        assert self.rw.writer.locked() == held
        assert self.rw.reader.locked() == held


class SpinLockMachine(RuleBasedStateMachine):
    """Model: locked or not (any thread may release a SpinLock, as threading.Lock)."""

    def __init__(self):
        super().__init__()
        self.lock = SpinLock()
        self.workers = [Worker() for _ in range(NWORKERS)]
        self.locked = False

    def teardown(self):
        for w in self.workers:
            w.stop()

    @rule(w=workers_st)
    def try_acquire(self, w):
        expect_value(self.workers[w].call(lambda: self.lock.acquire(blocking=False)), not self.locked)
        self.locked = True

    @rule(w=workers_st)
    def blocking_acquire(self, w):
        if self.locked:
            return
        expect_value(self.workers[w].call(lambda: self.lock.acquire()), True)
        self.locked = True

    @rule(w=workers_st)
    def timed_acquire(self, w):
        if not self.locked:
            return
        expect_value(self.workers[w].call(lambda: self.lock.acquire(timeout=TRY_TIMEOUT)), False)

    @rule(w=workers_st, use_exit=st.booleans())
    def release(self, w, use_exit):
        fn = (lambda: self.lock.__exit__(None, None, None)) if use_exit else self.lock.release
        out = self.workers[w].call(fn)
        if self.locked:
            expect_value(out, None)  # any thread may release a SpinLock
            self.locked = False
        else:
            expect_raises(out, RuntimeError)

    @invariant()
    def observer_matches_model(self):
        assert self.lock.locked() == self.locked


# Every step is a round trip to a worker thread: keep the run short on a busy
# 2-core CI machine (the "soak" hypothesis profile
# runs 20 times as many examples).
_settings = settings(max_examples=20 * SCALE, stateful_step_count=20, deadline=None)
TestRWLockMachine = RWLockMachine.TestCase
TestRWLockMachine.settings = _settings
TestSpinLockMachine = SpinLockMachine.TestCase
TestSpinLockMachine.settings = _settings


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
def test_locks_and_their_sides_are_not_copied_nor_pickled(how):
    """A copy of a lock would be a second object over the same core lock (the
    cffi binding's copy.copy made one before 2026-12-02) or a new, unlocked
    lock: neither is what copying a threading.Lock does (it refuses).  Every
    lock object refuses as the stdlib words it, and stays as it was."""
    import copy
    import pickle

    do = {"copy": copy.copy, "deepcopy": copy.deepcopy, "pickle": pickle.dumps}[how]
    rw, spin = RWLock(), SpinLock()
    assert spin.acquire() and rw.acquire_read()
    objects = {"pyatomics.SpinLock": spin, "pyatomics.RWLock": rw, "pyatomics.RWLockView": rw.writer,
               "pyatomics.RWLockGuard": rw.write(1), "pyatomics.RWLockHandle": rw.handle()}
    for name, obj in objects.items():
        with pytest.raises(TypeError, match=rf"^cannot pickle '{name}' object$"):
            do(obj)
    assert spin.locked() and rw.readers == 1 and not rw.write_locked
    spin.release()
    rw.release_read()
    assert not spin.locked() and rw.readers == 0
