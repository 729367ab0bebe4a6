"""Tests of pyatomics.sync: hold, acquire_all, the lock-order checker, join_all,
StoppableThread and the re-exports.

Every threaded test is bounded: helper threads are daemons joined with a timeout, and
anything that could hang on a bug has a fail-safe that releases it, so a bug is a failure,
not a hung test run.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import pickle
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import warnings

import pytest
from conftest import FREE_THREADED, run_threads

import pyatomics
from pyatomics import sync

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

THIS_FILE = os.path.abspath(__file__)


def line_of(marker: str) -> int:
    """Line number of the (unique) line of this file that ends with `# <marker>`."""
    with open(THIS_FILE, encoding="utf-8") as f:
        hits = [i for i, line in enumerate(f, 1) if line.rstrip().endswith(f"# {marker}")]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


@pytest.fixture(autouse=True)
def restore_checking():
    """Every test starts with checking off and leaves the module as it found it."""
    was = sync.lock_order_checking_enabled()
    sync.disable_lock_order_checking()
    yield
    (sync.enable_lock_order_checking if was else sync.disable_lock_order_checking)()


@pytest.fixture
def checking():
    sync.enable_lock_order_checking()
    yield
    sync.disable_lock_order_checking()


class Holder:
    """A daemon thread that acquires `lock` (via acquire_fn) and keeps it until release()."""

    def __init__(self, lock, acquire_fn=None, release_fn=None):
        self.lock = lock
        self._acquire = acquire_fn or lock.acquire
        self._release = release_fn or lock.release
        self.holding = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.holding.wait(5), "holder thread could not take the lock"

    def _run(self):
        self._acquire()
        self.holding.set()
        self.done.wait(10)  # fail-safe: never hold forever
        self._release()

    def release(self):
        self.done.set()
        self.thread.join(5)
        assert not self.thread.is_alive()


class RecordingLock:
    """A lock-like object logging acquire/release into a shared list."""

    def __init__(self, name, log):
        self.name = name
        self.log = log
        self._lock = threading.Lock()

    def acquire(self, blocking=True, timeout=-1):
        ok = self._lock.acquire(blocking, timeout)
        if ok:
            self.log.append(("acquire", self.name))
        return ok

    def release(self):
        self.log.append(("release", self.name))
        self._lock.release()

    def locked(self):
        return self._lock.locked()

    def __repr__(self):
        return f"<RecordingLock {self.name}>"


def is_free(lock) -> bool:
    """Whether another thread could take `lock` right now (checked from a fresh thread,
    so re-entrant locks owned by the caller count as not free)."""
    rw = getattr(lock, "rwlock", None)
    if rw is not None:  # an RWLock side: free when nobody holds either side
        return rw.readers == 0 and not rw.write_locked
    result = []

    def probe():
        ok = lock.acquire(True, 0)
        if ok:
            lock.release()
        result.append(ok)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(5)
    return result == [True]


# ---------------------------------------------------------------------------
# re-exports
# ---------------------------------------------------------------------------


def test_reexports_are_the_originals_when_checking_is_off():
    # The four lock names are thin factories returning the plain objects (see
    # test_lock_names_take_no_name_while_checking_is_off); the rest are the originals.
    for name, plain in [
        ("Lock", threading.Lock),
        ("RLock", threading.RLock),
        ("SpinLock", pyatomics.SpinLock),
        ("RWLock", pyatomics.RWLock),
    ]:
        factory = getattr(sync, name)
        assert factory.__wrapped__ is plain
        made = factory()
        assert type(made) is type(plain())
        assert isinstance(made, factory) and not isinstance(object(), factory)
        assert issubclass(type(made), factory)
    assert sync.Semaphore is threading.Semaphore
    assert sync.BoundedSemaphore is threading.BoundedSemaphore
    assert sync.Event is threading.Event
    assert sync.Condition is threading.Condition
    assert sync.Barrier is threading.Barrier
    assert sync.Timer is threading.Timer
    assert sync.local is threading.local
    assert sync.ThreadPoolExecutor is concurrent.futures.ThreadPoolExecutor
    assert sync.Future is concurrent.futures.Future
    assert sync.as_completed is concurrent.futures.as_completed
    assert sync.Queue is queue.Queue
    assert sync.SimpleQueue is queue.SimpleQueue
    assert sync.AtomicInt is pyatomics.AtomicInt


def test_thread_pool_executor_with_sync_primitives():
    counter = sync.AtomicInt(0)
    results = sync.Queue()
    with sync.ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(lambda i=i: (counter.add(1), results.put(i * i))) for i in range(20)]
        done = list(sync.as_completed(futures, timeout=30))
    assert len(done) == 20 and all(isinstance(f, sync.Future) and f.exception() is None for f in done)
    assert counter.load() == 20
    assert sorted(results.get_nowait() for _ in range(20)) == [i * i for i in range(20)]


def test_all_is_complete_and_resolvable():
    assert len(sync.__all__) == len(set(sync.__all__))
    for name in sync.__all__:
        assert hasattr(sync, name), name
    public = {n for n in vars(sync) if not n.startswith("_")}
    imported_modules = {"contextlib", "math", "numbers", "os", "sys", "threading", "time", "annotations"}
    typing_names = {"Any", "Callable", "Iterable", "namedtuple", "TYPE_CHECKING"}
    assert public - imported_modules - typing_names == set(sync.__all__)
    namespace = {}
    exec("from pyatomics.sync import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(sync.__all__)
    with pytest.raises(AttributeError):
        sync.no_such_name  # noqa: B018


def test_importing_sync_does_not_import_concurrent_futures(tmp_path):
    code = (
        "import sys, pyatomics; before = 'concurrent.futures' in sys.modules; "
        "import pyatomics.sync as s; assert before or 'concurrent.futures' not in sys.modules; "
        "import concurrent.futures as cf; assert s.ThreadPoolExecutor is cf.ThreadPoolExecutor; "
        "assert s.Future is cf.Future and s.as_completed is cf.as_completed; "
        "from pyatomics.sync import Queue, SimpleQueue; import queue; "
        "assert Queue is queue.Queue and SimpleQueue is queue.SimpleQueue"
    )
    cmd = [sys.executable, "-c", code]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_factories_return_plain_locks_when_checking_is_off():
    assert type(sync.new_lock("x")) is type(threading.Lock())
    assert type(sync.new_rlock("x")) is type(threading.RLock())
    assert type(sync.new_spinlock("x")) is pyatomics.SpinLock
    assert type(sync.new_rwlock("x")) is pyatomics.RWLock
    assert type(sync.new_lock()) is type(threading.Lock())


# ---------------------------------------------------------------------------
# hold()
# ---------------------------------------------------------------------------


KINDS = [
    "Lock",
    "RLock",
    "SpinLock",
    "RWLock.reader",
    "RWLock.writer",
    "Semaphore",
    "BoundedSemaphore",
    "Condition",
    "CheckedLock",
    "CheckedRLock",
    "CheckedRWLock.reader",
    "CheckedRWLock.writer",
]


def make_lock(kind):
    """(lock to use with hold, what another thread takes to block it)."""
    if kind.endswith((".reader", ".writer")):
        rw = sync.CheckedRWLock() if kind.startswith("Checked") else pyatomics.RWLock()
        return (rw.reader, rw.writer) if kind.endswith(".reader") else (rw.writer, rw.reader)
    factory = {
        "Lock": threading.Lock,
        "RLock": threading.RLock,
        "SpinLock": pyatomics.SpinLock,
        "Semaphore": threading.Semaphore,
        "BoundedSemaphore": threading.BoundedSemaphore,
        "Condition": threading.Condition,
        "CheckedLock": sync.CheckedLock,
        "CheckedRLock": sync.CheckedRLock,
    }[kind]
    lock = factory()
    return lock, lock


@pytest.mark.parametrize("kind", KINDS)
def test_hold_acquires_and_releases(kind):
    lock, _ = make_lock(kind)
    assert is_free(lock)
    with sync.hold(lock, timeout=1.0) as got:
        assert got is lock
        assert not is_free(lock)
    assert is_free(lock)
    with sync.hold(lock):  # timeout=None: wait forever
        assert not is_free(lock)
    assert is_free(lock)
    with pytest.raises(ZeroDivisionError):
        with sync.hold(lock, timeout=0):
            raise ZeroDivisionError
    assert is_free(lock)


@pytest.mark.parametrize("kind", KINDS)
def test_hold_times_out_when_held_by_another_thread(kind):
    lock, blocker = make_lock(kind)
    holder = Holder(blocker)
    try:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            with sync.hold(lock, timeout=0.05):
                pytest.fail("body ran without the lock")
        assert time.monotonic() - t0 >= 0.045
        with pytest.raises(TimeoutError):
            with sync.hold(lock, timeout=0):
                pytest.fail("body ran without the lock")
        assert not is_free(lock)  # still the holder's, nothing leaked or released
        if kind.endswith(".reader"):
            assert lock.rwlock.write_locked and lock.rwlock.readers == 0
        elif kind.endswith(".writer"):
            assert lock.rwlock.readers == 1 and not lock.rwlock.write_locked
    finally:
        holder.release()
    assert is_free(lock)  # exactly one hold existed, the holder's
    if kind in ("Semaphore", "BoundedSemaphore"):
        assert lock._value == 1


def test_hold_waits_for_a_release_within_the_timeout():
    lock = threading.Lock()
    holder = Holder(lock)
    threading.Timer(0.05, holder.release).start()
    with sync.hold(lock, timeout=5):
        assert lock.locked()
    assert not lock.locked()


def test_hold_rejects_bad_arguments():
    rw = pyatomics.RWLock()
    with pytest.raises(TypeError, match="rw.reader or rw.writer"):
        sync.hold(rw)
    with pytest.raises(TypeError):
        sync.hold(object())
    with pytest.raises(ValueError):
        sync.hold(threading.Lock(), timeout=-2)
    with pytest.raises(ValueError):
        sync.hold(threading.Lock(), timeout=float("nan"))
    with pytest.raises(TypeError):
        sync.hold(threading.Lock(), timeout="1")
    lock = threading.Lock()
    # The convention of every blocking call (csrc/pa_contract.h): more than
    # TIMEOUT_MAX is an OverflowError, as lock.acquire(timeout=...) says;
    # -1 waits forever, as in acquire().
    for huge in (float("inf"), threading.TIMEOUT_MAX * 2):
        with pytest.raises(OverflowError):
            sync.hold(lock, timeout=huge)
        with pytest.raises(OverflowError):
            lock.acquire(timeout=huge)
    assert not lock.locked()
    with sync.hold(lock, timeout=-1):
        assert lock.locked()
    assert not lock.locked()


# ---------------------------------------------------------------------------
# acquire_all()
# ---------------------------------------------------------------------------


def test_acquire_all_uses_one_order_whatever_the_argument_order():
    log = []
    locks = [RecordingLock(n, log) for n in "abcd"]
    expected = sorted(locks, key=id)
    orders = []
    for perm in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]):
        log.clear()
        with sync.acquire_all(*(locks[i] for i in perm)) as got:
            assert all(lk.locked() for lk in locks)
        assert not any(lk.locked() for lk in locks)
        assert list(got) == expected
        acquired = [n for op, n in log if op == "acquire"]
        released = [n for op, n in log if op == "release"]
        assert acquired == [lk.name for lk in expected]
        assert released == acquired[::-1]
        orders.append(acquired)
    assert all(o == orders[0] for o in orders)


def test_acquire_all_two_threads_opposite_orders_do_not_deadlock():
    a, b = threading.Lock(), pyatomics.SpinLock()
    counter = [0]

    def work(i):
        pair = (a, b) if i == 0 else (b, a)
        for _ in range(5000):
            with sync.acquire_all(*pair):
                counter[0] += 1

    # Taking the pairs in argument order deadlocks here within a few thousand rounds
    # (checked on 3.11 and 3.13t); a deadlock fails in run_threads instead of hanging.
    run_threads(work, 2, timeout=15)
    assert counter[0] == 10000
    assert not a.locked() and not b.locked()


def test_acquire_all_rwlock_sides_share_the_rwlocks_place_in_the_order():
    # reader and writer are two objects but one lock: they must sort at the same place
    # relative to other locks, or (reader, m) vs (m, writer) could deadlock.
    for _ in range(20):
        rw, m = pyatomics.RWLock(), threading.Lock()
        assert sync._lock_identity(rw.reader) == sync._lock_identity(rw.writer) == id(rw)
        with sync.acquire_all(m, rw.reader) as first:
            pass
        with sync.acquire_all(rw.writer, m) as second:
            pass
        assert (first[0] is m) == (second[0] is m)
        cond = threading.Condition(m)
        assert sync._lock_identity(cond) == id(m)


@pytest.mark.parametrize("blocked_position", [0, 1, 2])
def test_acquire_all_releases_held_locks_on_timeout(blocked_position):
    locks = [threading.Lock(), pyatomics.SpinLock(), pyatomics.RWLock().writer]
    order = sorted(locks, key=sync._lock_identity)
    blocked = order[blocked_position]
    holder = Holder(blocked)
    try:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            with sync.acquire_all(*reversed(locks), timeout=0.1):
                pytest.fail("body ran without all locks")
        assert 0.09 <= time.monotonic() - t0 < 5.0  # the holder keeps it 10 s
        for lk in locks:
            if lk is blocked:
                assert lk.locked()  # still the holder's
            else:
                assert not lk.locked(), f"{lk!r} was left locked after the timeout"
    finally:
        holder.release()
    assert not any(lk.locked() for lk in locks)


def test_acquire_all_timeout_is_a_total_deadline():
    log = []
    timeouts = []

    class Fake(RecordingLock):
        """'slow': takes 0.2 s to acquire.  'busy': never available, records the timeout."""

        mode = None

        def acquire(self, blocking=True, timeout=-1):
            if self.mode == "slow":
                time.sleep(0.2)
                return super().acquire(blocking, timeout)
            timeouts.append(timeout)
            return False

    x, y = Fake("x", log), Fake("y", log)
    slow, busy = sorted([x, y], key=sync._lock_identity)  # `slow` is taken first
    slow.mode, busy.mode = "slow", "busy"
    with pytest.raises(TimeoutError):
        with sync.acquire_all(busy, slow, timeout=0.5):
            pytest.fail("body ran without all locks")
    # The second lock only gets what is left of the 0.5 s after the first took 0.2 s:
    # one deadline for all, not a timeout per lock.
    assert len(timeouts) == 1
    assert 0.0 <= timeouts[0] <= 0.5 - 0.2 + 1e-6
    assert log == [("acquire", slow.name), ("release", slow.name)]  # and `slow` was given back

    # The same with real locks: `first` frees up after 0.2 s, `second` never does.
    first, second = sorted([threading.Lock(), threading.Lock()], key=id)
    h1, h2 = Holder(first), Holder(second)
    try:
        threading.Timer(0.2, h1.release).start()
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            with sync.acquire_all(second, first, timeout=0.4):
                pytest.fail("body ran without all locks")
        assert time.monotonic() - t0 >= 0.39
        h1.release()  # (joins the holder: whatever the timing, it has let go of `first`)
        assert not first.locked()  # acquire_all did not keep it
        assert second.locked()  # still the holder's
    finally:
        h1.release()
        h2.release()


def test_acquire_all_releases_when_acquiring_raises():
    log = []
    good = [RecordingLock(n, log) for n in "ab"]

    class Exploding:
        def acquire(self, blocking=True, timeout=-1):
            raise KeyboardInterrupt

        def release(self):
            raise AssertionError("never acquired")

    boom = Exploding()
    with pytest.raises(KeyboardInterrupt):
        with sync.acquire_all(good[0], boom, good[1]):
            pytest.fail("body ran")
    assert not any(lk.locked() for lk in good)
    acquired = [n for op, n in log if op == "acquire"]
    released = [n for op, n in log if op == "release"]
    assert released == acquired[::-1]


def test_acquire_all_releases_on_body_exception_and_rejects_duplicates():
    a, b = threading.Lock(), threading.RLock()
    with pytest.raises(ZeroDivisionError):
        with sync.acquire_all(a, b):
            raise ZeroDivisionError
    assert not a.locked() and is_free(b)
    rw = pyatomics.RWLock()
    for args in [
        (a, a),
        (a, b, a),
        (rw.reader, rw.writer),
        (rw.reader, rw.reader),
        (threading.Condition(a), a),
    ]:
        with pytest.raises(ValueError, match="same lock twice"):
            sync.acquire_all(*args)
    assert not a.locked() and not rw.write_locked and rw.readers == 0
    with pytest.raises(TypeError, match="rw.reader or rw.writer"):
        sync.acquire_all(a, rw)
    with sync.acquire_all() as got:  # nothing to acquire: fine
        assert got == ()


# ---------------------------------------------------------------------------
# lock-order checking
# ---------------------------------------------------------------------------


def test_lock_names_take_no_name_while_checking_is_off():
    # Before: threading's own "lock() takes no keyword arguments", which does not say that
    # the same line is right with checking on, nor what to write instead.
    for name, factory in [
        ("Lock", "new_lock"),
        ("RLock", "new_rlock"),
        ("SpinLock", "new_spinlock"),
        ("RWLock", "new_rwlock"),
    ]:
        cls = getattr(sync, name)
        with pytest.raises(TypeError, match=rf"sync\.{factory}\(name\)") as info:
            cls(name="x")
        assert "checking is off" in str(info.value)
        with pytest.raises(TypeError, match=rf"sync\.{factory}\(name\)"):
            cls("x")
    sync.enable_lock_order_checking()
    try:
        assert sync.Lock(name="x").name == "x"  # the very line that failed is right now
    finally:
        sync.disable_lock_order_checking()


def test_enable_and_disable(checking):
    assert sync.lock_order_checking_enabled()
    assert sync.Lock is sync.CheckedLock and sync.RLock is sync.CheckedRLock
    assert sync.SpinLock is sync.CheckedSpinLock and sync.RWLock is sync.CheckedRWLock
    assert isinstance(sync.Lock(name="accounts"), sync.CheckedLock)
    lk = sync.new_lock("accounts")
    assert isinstance(lk, sync.CheckedLock) and lk.name == "accounts"
    assert isinstance(sync.new_rlock("r"), sync.CheckedRLock)
    assert isinstance(sync.new_spinlock("s"), sync.CheckedSpinLock)
    assert isinstance(sync.new_rwlock("w"), sync.CheckedRWLock)
    unnamed = sync.Lock()
    assert "test_sync.py" in unnamed.name  # default name: where it was created
    sync.disable_lock_order_checking()
    assert not sync.lock_order_checking_enabled()
    assert type(sync.Lock()) is type(threading.Lock()) and type(sync.RLock()) is type(threading.RLock())
    assert type(sync.SpinLock()) is pyatomics.SpinLock and type(sync.RWLock()) is pyatomics.RWLock
    assert type(sync.new_lock("accounts")) is type(threading.Lock())


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("1", True), ("true", True), ("0", False), ("", False), (None, False), ("threading", True)],
)
def test_environment_variable_read_at_import(tmp_path, value, enabled):
    env = dict(os.environ)
    env.pop("PYATOMICS_LOCK_ORDER_CHECK", None)
    if value is not None:
        env["PYATOMICS_LOCK_ORDER_CHECK"] = value
    code = (
        "import threading, pyatomics.sync as s; "
        "print(s.lock_order_checking_enabled(), s.Lock is s.CheckedLock, "
        "type(s.Lock()) is type(s._PlainLock()), threading.Lock is s.CheckedLock)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(enabled), str(enabled), str(not enabled), str(value == "threading")]


def test_checker_catches_an_inversion_between_two_threads_before_blocking(checking):
    A = sync.Lock(name="A")
    B = sync.Lock(name="B")

    def first():
        with A:
            with B:  # ORDER-A-B
                pass

    t1 = threading.Thread(target=first, daemon=True)
    t1.start()
    t1.join(5)
    assert not t1.is_alive()

    # Thread 2 takes B then A.  A is held by the main thread the whole time, so if the
    # check came after blocking, thread 2 would hang instead of raising.
    caught = []
    thread2_held_b = []

    def second():
        with B:
            try:
                A.acquire()  # ORDER-B-A
            except sync.LockOrderError as exc:
                caught.append(exc)
                thread2_held_b.append(B.locked())

    with A:
        t2 = threading.Thread(target=second, daemon=True, name="second")
        t2.start()
        t2.join(5)
        assert not t2.is_alive(), "thread 2 blocked: the inversion was not reported before blocking"
        assert A.locked()  # still the main thread's
    assert not A.locked() and not B.locked()
    assert len(caught) == 1 and thread2_held_b == [True]
    err = caught[0]
    assert isinstance(err, RuntimeError)
    msg = str(err)
    assert "'A'" in msg and "'B'" in msg
    assert f"test_sync.py:{line_of('ORDER-A-B')}" in msg  # where A -> B was first seen
    assert f"test_sync.py:{line_of('ORDER-B-A')}" in msg  # where B -> A was attempted
    assert "'second'" in msg
    assert err.acquiring == "A" and err.holding == "B"
    assert err.location.startswith(f"{THIS_FILE}:{line_of('ORDER-B-A')} ")
    assert [(e.held, e.acquired) for e in err.cycle] == [("A", "B")]
    assert err.cycle[0].location.startswith(f"{THIS_FILE}:{line_of('ORDER-A-B')} ")
    # The failed edge was not recorded: the inversion is reported again, and A -> B is fine.
    with B:
        with pytest.raises(sync.LockOrderError):
            A.acquire()
    with A, B:
        pass


def test_checker_reports_longer_cycles(checking):
    A, B, C = (sync.new_lock(n) for n in "ABC")
    with A, B:
        pass
    with B, C:
        pass
    with C:
        with pytest.raises(sync.LockOrderError) as info:
            A.acquire()
    assert [(e.held, e.acquired) for e in info.value.cycle] == [("A", "B"), ("B", "C")]
    assert not A.locked()
    copy = pickle.loads(pickle.dumps(info.value))
    assert isinstance(copy, sync.LockOrderError) and str(copy) == str(info.value)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_checker_works_in_a_child_forked_while_the_graph_lock_was_held(checking):
    A, B = sync.Lock(name="A"), sync.Lock(name="B")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads alive
        with sync._graph_lock:  # as if another thread were recording an edge at fork()
            pid = os.fork()
            if pid == 0:  # child: must not deadlock on the inherited, held graph lock
                code = 1
                try:
                    C = sync.Lock(name="C")
                    with A, B, C:
                        pass
                    code = 0
                finally:
                    os._exit(code)
    deadline = time.monotonic() + 10
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child deadlocked")
        time.sleep(0.01)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_checker_accepts_consistent_orders_from_many_threads(checking):
    A, B, C = sync.Lock(name="A"), sync.SpinLock(name="B"), sync.RLock(name="C")

    def work(i):
        for k in range(300):
            if (i + k) % 3 == 0:
                with A, B, C:
                    pass
            elif (i + k) % 3 == 1:
                with A, C:
                    pass
            else:
                with B:
                    with sync.hold(C, timeout=5):
                        pass

    run_threads(work, 4, timeout=30)
    assert sync._held() == {}


def test_checker_graph_is_thread_safe_under_contention(checking):
    # Many threads adding edges among private and shared locks at the same time.
    shared = [sync.Lock(name=f"S{i}") for i in range(6)]

    def work(i):
        mine = [sync.Lock(name=f"T{i}-{j}") for j in range(21)]
        for j in range(20):
            with shared[j % 6]:
                with mine[j]:
                    with mine[j + 1]:
                        pass
        for j in range(6):
            with shared[j]:
                for k in range(j + 1, 6):
                    with shared[k]:
                        pass

    run_threads(work, 8, timeout=30)
    s = {lk._node.key for lk in shared}
    for k in s:  # only forward edges among the shared locks
        assert all(n > k for n in sync._edges.get(k, {}) if n in s)


def test_checker_rlock_reentrance(checking):
    R = sync.RLock(name="R")
    A = sync.Lock(name="A")
    with R:
        with R:  # re-entrant: no edge R -> R, no error
            with A:
                with R:  # re-entrant while holding A: not an A -> R order
                    pass
    assert is_free(R) and not A.locked()
    with A:
        with pytest.raises(sync.LockOrderError, match="'R' while holding 'A'"):
            R.acquire()
    assert is_free(R)
    # Condition over a checked RLock: wait() fully releases and re-acquires a nested hold.
    cond = sync.Condition(R)
    flag = []

    def notifier():
        with cond:
            flag.append(1)
            cond.notify()

    with R, R:
        with cond:
            threading.Thread(target=notifier, daemon=True).start()
            assert cond.wait_for(lambda: flag, timeout=5)
        assert sync._held()[R._node.key][1] == 2
    assert sync._held() == {} and is_free(R)


def test_checker_rwlock_sides_are_one_lock(checking):
    rw = sync.RWLock(name="rw")
    A = sync.Lock(name="A")
    with rw.reader:
        with A:
            pass
    with rw.read():  # a second read hold by the same thread is re-entrant
        with A:
            with rw.reader:
                pass
    with A:  # A -> rw on the *write* side closes the cycle rw(read) -> A
        with pytest.raises(sync.LockOrderError, match="'rw' while holding 'A'"):
            rw.acquire_write()
        with pytest.raises(sync.LockOrderError):
            with rw.write(timeout=0.5):
                pass
        with pytest.raises(sync.LockOrderError):
            rw.acquire_read()
    assert not rw.write_locked and rw.readers == 0
    # The API of the wrapped RWLock works.
    assert rw.acquire_write(timeout=1)
    assert rw.write_locked and rw.writer.locked() and rw.writer._is_owned()
    rw.downgrade()
    assert rw.readers == 1 and rw.reader._is_owned() and not rw.write_locked
    rw.release_read()
    with rw.write(timeout=1):
        assert rw.write_locked
    with pytest.raises(RuntimeError, match="upgrade"), rw.read():
        rw.acquire_write()  # the C lock's own error still comes through
    assert sync._held() == {}
    assert sync._lock_identity(rw.reader) == sync._lock_identity(rw.writer) == id(rw)


def test_checker_and_acquire_all_agree(checking):
    # acquire_all() takes locks in one order, so mixing argument orders never trips the checker.
    rw, m, s = sync.RWLock(name="rw"), sync.Lock(name="m"), sync.SpinLock(name="s")
    for args in [(rw.reader, m, s), (s, m, rw.writer), (m, rw.writer), (s, rw.reader)]:
        with sync.acquire_all(*args, timeout=1):
            pass
    with sync.hold(m, timeout=1):
        pass


def test_nonblocking_acquire_is_not_checked_but_counts_as_held(checking):
    A, B, C = sync.Lock(name="A"), sync.Lock(name="B"), sync.Lock(name="C")
    with A, B:
        pass
    with B:
        assert A.acquire(blocking=False)  # a try-lock cannot deadlock
        with C:  # but A is now held: edges A -> C and B -> C
            pass
        A.release()
    with C:
        with pytest.raises(sync.LockOrderError):
            A.acquire()


def test_lock_released_by_another_thread_is_no_longer_held(checking):
    L, M = sync.Lock(name="L"), sync.Lock(name="M")
    step = threading.Event()
    go_on = threading.Event()
    errors = []

    def owner():
        try:
            L.acquire()
            step.set()
            assert go_on.wait(5)
            with M:  # L was released by the main thread: no L -> M edge
                pass
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=owner, daemon=True)
    t.start()
    assert step.wait(5)
    L.release()  # a threading.Lock may be released by any thread
    go_on.set()
    t.join(5)
    assert not t.is_alive() and not errors
    with M, L:  # would raise if L -> M had been recorded
        pass


def test_collected_locks_leave_the_graph(checking):
    import gc

    A = sync.Lock(name="A")
    B = sync.Lock(name="B")
    with A, B:
        pass
    key_b = B._node.key
    assert key_b in sync._edges[A._node.key]
    del B
    gc.collect()
    C = sync.Lock(name="C")
    with A, C:  # a new edge: the slow path purges the dead ones
        pass
    assert key_b not in sync._edges[A._node.key]


# ---------------------------------------------------------------------------
# join_all()
# ---------------------------------------------------------------------------


def test_join_all_returns_the_threads_alive_at_the_timeout():
    release = threading.Event()
    quick = threading.Thread(target=lambda: None, daemon=True)
    slow = threading.Thread(target=release.wait, args=(10,), daemon=True)
    quick.start()
    slow.start()
    try:
        t0 = time.monotonic()
        assert sync.join_all([quick, slow], timeout=0.2) == [slow]
        assert 0.19 <= time.monotonic() - t0 < 5.0  # `slow` runs 10 s
        assert sync.join_all([slow, quick], timeout=0) == [slow]
        assert not quick.is_alive()
    finally:
        release.set()
    assert sync.join_all((t for t in [quick, slow]), timeout=5) == []
    assert sync.join_all([]) == []
    assert sync.join_all([quick, slow]) == []


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs signal.pthread_kill")
@pytest.mark.parametrize("to", ["main", "other"])
def test_ctrl_c_interrupts_join_all_promptly(to):
    """SIGINT sent to the main thread, or to another thread (a terminal's Ctrl-C is
    process-directed: the kernel may hand it to any thread; then the main thread is not
    woken by EINTR and a plain join() waits until the thread ends)."""
    assert threading.current_thread() is threading.main_thread()
    release = threading.Event()
    blocked = threading.Thread(target=release.wait, daemon=True)
    blocked.start()
    failsafe = threading.Timer(5.0, release.set)  # if join_all ignores Ctrl-C: fail, don't hang
    failsafe.daemon = True
    failsafe.start()
    sent = []

    def interrupt():
        time.sleep(0.2)
        sent.append(time.monotonic())
        target = threading.main_thread().ident if to == "main" else threading.get_ident()
        signal.pthread_kill(target, signal.SIGINT)

    old_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        kicker = threading.Thread(target=interrupt, daemon=True)
        with pytest.raises(KeyboardInterrupt) as info:
            kicker.start()
            sync.join_all([blocked])
        caught = time.monotonic()
        kicker.join(5)
        assert sent, "KeyboardInterrupt came before the signal was sent"
        assert caught - sent[0] < 0.5, f"Ctrl-C took {caught - sent[0]:.3f} s to surface"
        assert not release.is_set()  # the interrupt came from join_all, not from the thread ending
        assert any(entry.name == "join_all" for entry in info.traceback)
        # The interrupted join left the thread's state correct (python/cpython#90882: before
        # 3.13 an interrupted Thread.join() marks the still-running thread as stopped).
        assert blocked.is_alive()
        assert sync.join_all([blocked], timeout=0.05) == [blocked]
    finally:
        signal.signal(signal.SIGINT, old_handler)
        release.set()
        failsafe.cancel()
        blocked.join(5)
    assert not blocked.is_alive()


# ---------------------------------------------------------------------------
# StoppableThread
# ---------------------------------------------------------------------------


def test_stoppable_thread_stops_and_joins():
    ticks = []
    cleaned = []

    def loop(stop, label, *, interval):
        try:
            while not stop.wait(interval):
                ticks.append(label)
        finally:
            cleaned.append(label)

    t = sync.StoppableThread(target=loop, args=("x",), kwargs={"interval": 0.005}, name="ticker")
    assert not t.daemon and t.name == "ticker"
    assert t.shutdown(0) is True  # never started: nothing to wait for
    t = sync.StoppableThread(target=loop, args=("x",), kwargs={"interval": 0.005})
    t.start()
    deadline = time.monotonic() + 5
    while len(ticks) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not t.stopping
    assert t.shutdown(timeout=5) is True
    assert t.stopping and not t.is_alive()
    assert cleaned == ["x"] and len(ticks) >= 3


def test_stoppable_thread_shutdown_reports_a_thread_that_does_not_stop():
    release = threading.Event()

    def stubborn(stop):
        release.wait(10)  # ignores `stop`

    t = sync.StoppableThread(target=stubborn, daemon=True)
    t.start()
    try:
        t0 = time.monotonic()
        assert t.shutdown(timeout=0.1) is False
        assert 0.09 <= time.monotonic() - t0 < 5.0  # it would run 10 s
        assert t.is_alive() and t.stop_event.is_set()
    finally:
        release.set()
    assert t.shutdown(timeout=5) is True


def test_stoppable_thread_subclass_and_context_manager():
    class Poller(sync.StoppableThread):
        def __init__(self):
            super().__init__(name="poller")
            self.polls = 0

        def run(self):
            while not self.stop_event.wait(0.001):
                self.polls += 1

    with Poller() as p:
        assert p.is_alive()
        deadline = time.monotonic() + 5
        while p.polls < 2 and time.monotonic() < deadline:
            time.sleep(0.002)
    assert not p.is_alive() and p.stopping and p.polls >= 2


def test_free_threaded_build_keeps_the_gil_off():
    if FREE_THREADED:
        assert not sys._is_gil_enabled()


# ---------------------------------------------------------------------------
# downgrade() inside a write block, checked or not
# ---------------------------------------------------------------------------

WRITE_BLOCKS = {
    "with rw.write()": lambda rw, m: rw.write(),
    "with rw.write(timeout)": lambda rw, m: rw.write(1.0),
    "with rw.writer": lambda rw, m: rw.writer,
    "with hold(rw.writer)": lambda rw, m: sync.hold(rw.writer, timeout=1.0),
    "with acquire_all(rw.writer, m)": lambda rw, m: sync.acquire_all(m, rw.writer, timeout=1.0),
}


@pytest.mark.parametrize("checked", [False, True], ids=["plain", "checked"])
@pytest.mark.parametrize("block", list(WRITE_BLOCKS))
def test_downgrade_inside_a_write_block(block, checked):
    # Before: with checking on, leaving the block called release_write() on what had
    # become a read lock: RuntimeError, the read lock leaked, and every later writer timed
    # out.  hold() and acquire_all() did the same with plain locks.
    if checked:
        sync.enable_lock_order_checking()
    rw, m = sync.new_rwlock("rw"), sync.new_lock("m")
    with WRITE_BLOCKS[block](rw, m):
        assert rw.write_locked
        rw.downgrade()
        assert rw.readers == 1 and not rw.write_locked
    assert rw.readers == 0 and not rw.write_locked
    assert not m.locked()
    assert sync._held() == {}
    got = []

    def writer():
        ok = rw.acquire_write(timeout=5)
        got.append(ok)
        if ok:
            rw.release_write()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    t.join(10)
    assert got == [True]
    # Without a downgrade the same blocks still release the write lock.
    with WRITE_BLOCKS[block](rw, m):
        assert rw.write_locked
    assert rw.readers == 0 and not rw.write_locked and sync._held() == {}


# ---------------------------------------------------------------------------
# acquire_all() and the checker agree on one order
# ---------------------------------------------------------------------------


def test_acquire_all_follows_the_order_code_nested_by_hand(checking):
    # Before: acquire_all() sorted by id(), so after code had nested `outer` then `inner`
    # by hand, acquire_all() took them in the other order whenever id(inner) < id(outer),
    # and the checker raised the very error that recommends acquire_all().
    x, y = sync.new_lock("x"), sync.new_lock("y")
    inner, outer = sorted([x, y], key=id)  # the id order is the wrong one here
    with outer, inner:
        pass
    for args in [(inner, outer), (outer, inner)]:
        with sync.acquire_all(*args, timeout=1) as got:
            assert got == (outer, inner)
    assert sync._held() == {}


def test_acquire_all_takes_checked_locks_in_creation_order(checking):
    # A stable order that does not depend on where the allocator put the locks: free some
    # and make new ones in their place, so that later locks get lower addresses.  Whether
    # an address is reused is the allocator's choice (it was not, once, in CI on PyPy), so
    # the pool is made again until some pair's id() order is opposite to its creation order.
    for attempt in range(20):
        pool = [sync.new_lock(f"old{attempt}.{i}") for i in range(40)]
        del pool[::2]
        fresh = [sync.new_lock(f"new{attempt}.{i}") for i in range(20)]
        locks = pool + fresh  # creation order
        for lk in reversed(locks):
            id(lk)  # PyPy gives a young object its id when first asked: newest first here
        inverted = [(a, b) for a in locks for b in locks if a._node.key < b._node.key and id(b) < id(a)]
        if inverted or "libasan" in os.environ.get("LD_PRELOAD", ""):
            break
    if not inverted and "libasan" in os.environ.get("LD_PRELOAD", ""):
        # AddressSanitizer's quarantine never hands a freed address out again, so no
        # pair of locks has an id() order opposite to its creation order; every other
        # job (the normal suite on each interpreter) runs this test with teeth.
        pytest.skip("under AddressSanitizer no address is reused: nothing to invert")
    assert inverted, "in 20 tries the allocator reused no address: the test proves nothing"
    for a, b in inverted[:20]:
        with sync.acquire_all(b, a, timeout=1) as got:
            assert got == (a, b)
    rng = random.Random(1)
    for _ in range(10):
        some = rng.sample(locks, 6)
        with sync.acquire_all(*some, timeout=1) as got:
            assert list(got) == sorted(some, key=lambda lk: lk._node.key)
    # Plain (foreign) locks come after the checked ones.
    plain = threading.Lock()
    with sync.acquire_all(plain, fresh[0], timeout=1) as got:
        assert got == (fresh[0], plain)


def test_acquire_all_order_is_deterministic_across_runs(tmp_path):
    code = (
        "import random, sys\n"
        "from pyatomics import sync\n"
        "sync.enable_lock_order_checking()\n"
        "junk = []\n"
        "locks = []\n"
        "rng = random.Random(int(sys.argv[1]))\n"
        "for i in range(12):\n"
        "    junk.extend(object() for _ in range(rng.randrange(50)))\n"
        "    locks.append(sync.new_lock(f'L{i}'))\n"
        "    if rng.random() < 0.5: del junk[: rng.randrange(len(junk) + 1)]\n"
        "with sync.Lock(name='x'):\n"
        "    pass\n"
        "with locks[7], locks[2]:\n"  # one hand-nested order against creation order
        "    pass\n"
        "order = []\n"
        "for seed in range(5):\n"
        "    some = random.Random(seed).sample(locks, 6)\n"
        "    with sync.acquire_all(*some) as got:\n"
        "        order.append(' '.join(lk.name for lk in got))\n"
        "print('|'.join(order))\n"
    )
    outs = set()
    for seed in range(4):
        out = subprocess.run(
            [sys.executable, "-c", code, str(seed)], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        outs.add(out.stdout.strip())
    assert len(outs) == 1, outs


def test_acquire_all_keeps_one_order_when_nesting_goes_against_creation_order(checking):
    locks = [sync.new_lock(n) for n in "abcdef"]
    a, b, c, d, e, f = locks
    with e, b:  # against creation order: e before b
        pass
    with f, e:  # and f before e
        pass
    taken = set()
    for size in (2, 3, 4, 6):
        for combo in itertools.combinations(locks, size):
            with sync.acquire_all(*reversed(combo), timeout=1) as got:
                for i, x in enumerate(got):
                    for y in got[i + 1 :]:
                        # One total order for every subset: no pair is taken both ways round.
                        assert (y.name, x.name) not in taken, (x.name, y.name, got)
                        taken.add((x.name, y.name))
    with sync.acquire_all(*locks) as got:
        names = [lk.name for lk in got]
    # e -> b moved e to b's place and b to e's; f -> e then moved f, e, b (f before e
    # before b) into the three places they held.  a, c and d never moved.
    assert names == ["a", "f", "c", "d", "e", "b"]
    assert sync._held() == {}


def test_order_error_says_what_acquire_all_will_do(checking):
    A, B = sync.new_lock("A"), sync.new_lock("B")
    with B, A:  # B before A, against creation order
        pass
    with A:
        with pytest.raises(sync.LockOrderError) as info:
            B.acquire()
    msg = str(info.value)
    assert "'B' before 'A'" in msg and "acquire_all()" in msg
    with sync.acquire_all(A, B, timeout=1) as got:  # and it does what the message says
        assert got == (B, A)


# ---------------------------------------------------------------------------
# join_all() refuses what Thread.join() refuses
# ---------------------------------------------------------------------------


def test_join_all_refuses_a_thread_never_started():
    never = threading.Thread(target=lambda: None)
    with pytest.raises(RuntimeError, match="before it is started") as info:
        threading.Thread.join(never)
    assert "join" in str(info.value)
    release = threading.Event()
    running = threading.Thread(target=release.wait, args=(10,), daemon=True)
    running.start()
    try:
        t0 = time.monotonic()
        with pytest.raises(RuntimeError, match="before it is started"):
            sync.join_all([running, never], timeout=5)  # checked before waiting for any
        assert time.monotonic() - t0 < 1.0
        with pytest.raises(RuntimeError, match="current thread"):
            sync.join_all([threading.current_thread()], timeout=0.5)
        assert running.is_alive()
    finally:
        release.set()
    assert sync.join_all([running], timeout=5) == []
    never.start()
    assert sync.join_all([never], timeout=5) == []


# ---------------------------------------------------------------------------
# StoppableThread with Thread-style targets
# ---------------------------------------------------------------------------


def test_stoppable_thread_accepts_thread_style_targets():
    got = []

    def plain(n, *, label):  # a threading.Thread target: no stop_event
        got.append((n, label, isinstance(threading.current_thread().stop_event, threading.Event)))

    t = sync.StoppableThread(target=plain, args=(3,), kwargs={"label": "x"})
    t.start()
    assert t.shutdown(timeout=5)
    assert got == [(3, "x", True)]

    def stoppable(stop_event, n):
        got.append((stop_event is threading.current_thread().stop_event, n))

    for target, args, expected in [
        (stoppable, (4,), (True, 4)),
        (lambda ev: got.append(ev.is_set()), (), False),
    ]:
        t = sync.StoppableThread(target=target, args=args)
        t.start()
        # The target returns by itself: let it, before shutdown() sets the event
        # the lambda reads (on a slow interpreter, TSan's, shutdown came first).
        t.join(5)
        assert not t.is_alive()
        assert t.shutdown(timeout=5)
        assert got[-1] == expected

    # Both calls fit: stop_event is passed, as it always was; pass_stop_event decides.
    def either(*args):
        got.append(args)

    for pass_stop_event, expected in [(None, 1), (True, 1), (False, 0)]:
        t = sync.StoppableThread(target=either, pass_stop_event=pass_stop_event)
        t.start()
        assert t.shutdown(timeout=5)
        assert len(got[-1]) == expected

    # Neither fits: the error is raised here, not inside the new thread.
    with pytest.raises(TypeError, match="neither as target"):
        sync.StoppableThread(target=plain, args=(1, 2, 3))


# ---------------------------------------------------------------------------
# patch_threading: code that calls threading.Lock() directly is checked too
# ---------------------------------------------------------------------------


def test_patch_threading_checks_plain_threading_locks():
    original_lock, original_rlock = threading.Lock, threading.RLock
    sync.enable_lock_order_checking(patch_threading=True)
    try:
        assert threading.Lock is sync.CheckedLock and threading.RLock is sync.CheckedRLock
        a, b = threading.Lock(), threading.Lock()  # as third-party code writes it
        assert isinstance(a, sync.CheckedLock) and "test_sync.py" in a.name
        with a, b:
            pass
        with b:
            with pytest.raises(sync.LockOrderError):
                a.acquire()
        cond = threading.Condition()  # threading's default RLock(): checked too
        assert isinstance(cond._lock, sync.CheckedRLock)
        ev = threading.Event()
        threading.Timer(0.01, ev.set).start()
        assert ev.wait(5)
        sync.enable_lock_order_checking()  # without patch_threading: the patch stays
        assert threading.Lock is sync.CheckedLock
    finally:
        sync.disable_lock_order_checking()
    assert threading.Lock is original_lock and threading.RLock is original_rlock
    assert type(threading.Lock()) is type(sync._PlainLock())
    # Off by default.
    sync.enable_lock_order_checking()
    try:
        assert threading.Lock is original_lock
    finally:
        sync.disable_lock_order_checking()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.forks
def test_patch_threading_survives_fork(tmp_path):
    # threading's fork handlers call _at_fork_reinit() on the locks inside Events (every
    # Thread has one): checked locks must have it, or the child's threading breaks.
    code = (
        "import os, threading, warnings\n"
        "from pyatomics import sync\n"
        "sync.enable_lock_order_checking(patch_threading=True)\n"
        "stop = threading.Event()\n"
        "t = threading.Thread(target=stop.wait, daemon=True); t.start()\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    ok = False\n"
        "    try:\n"
        "        u = threading.Thread(target=lambda: None); u.start(); u.join(5)\n"
        "        with threading.Lock(), threading.RLock():\n"
        "            ok = not u.is_alive()\n"
        "    finally:\n"
        "        os._exit(0 if ok else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "stop.set(); t.join(5)\n"
        "print(os.WIFEXITED(status) and os.WEXITSTATUS(status))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0", out.stdout
    assert "Exception ignored" not in out.stderr and "Error" not in out.stderr, out.stderr
