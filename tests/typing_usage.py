"""Every public call of pyatomics and pyatomics.sync, as user code writes it, for the type
checker: tests/test_typing.py runs `mypy --strict` on this file against the installed
package, and also runs it (so every call here is real, and the annotations below say what
each call returns at run time too).

Each result goes into a variable annotated with the type the call should have, so a stub
that returns the wrong type fails the check; _results() returns the main ones from
functions, so that an Any fails too (--strict's warn_return_any).  Not collected by pytest
(no test_ prefix).
"""

from __future__ import annotations

import copy
import math
import operator
import pickle
import threading
from concurrent.futures import Future as StdFuture
from typing import cast

import pyatomics
from pyatomics import AtomicCounter, AtomicInt, AtomicRef, RWLock, RWLockGuard, RWLockView, SpinLock, sync
from pyatomics.sync import (
    CheckedLock,
    CheckedRLock,
    CheckedRWLock,
    CheckedRWSide,
    CheckedSpinLock,
    LockLike,
    LockOrderError,
    OrderEdge,
    StoppableThread,
)


def _results(a: AtomicInt, b: AtomicInt) -> None:
    """Returns of expressions as functions: where an expression is typed Any, --strict's
    warn_return_any flags the return (an assignment to an annotated variable accepts Any)."""

    def plus() -> int:
        return a + 1

    def rplus() -> int:
        return 1 + a

    def times() -> int:
        return a * b

    def divided() -> float:
        return a / 2

    def fplus() -> float:
        return a + 0.5

    def equal() -> bool:
        return a == 3

    def less() -> bool:
        return 3 < a

    def negated() -> int:
        return -a

    def mod_pow() -> int:
        return pow(a, 2, 7)

    def swapped() -> int:
        return a.exchange(b)

    def reader() -> RWLockView:
        return RWLock().reader

    def guard() -> RWLockGuard:
        return RWLock().write(timeout=1)

    def new_lock() -> threading.Lock | CheckedLock:
        return sync.new_lock()

    def alive() -> list[threading.Thread]:
        return sync.join_all([])

    checks = [plus, rplus, times, divided, fplus, equal, less, negated, mod_pow, swapped,
              reader, guard, new_lock, alive]
    assert all(callable(f) for f in checks)


def check_module() -> None:
    backend: str = pyatomics.BACKEND
    backends: frozenset[str] = pyatomics.available_backends()
    version: str = pyatomics.__version__
    assert backend in backends and version


def check_atomicint() -> None:
    a = AtomicInt()
    b: AtomicInt = AtomicInt(5)
    a = AtomicInt(True)
    a = AtomicInt(b)  # anything with __index__
    loaded: int = a.load()
    a.store(3)
    old: int = a.exchange(4)
    swapped: bool = a.compare_exchange(4, 5)
    values: list[int] = [
        a.fetch_add(1), a.fetch_sub(1), a.fetch_and(7), a.fetch_or(8), a.fetch_xor(1),
        a.fetch_max(20), a.fetch_min(10), a.add(2), a.sub(2), a.inc(), a.dec(),
        a.update(lambda v: v * 2),
    ]
    changed: bool = a.wait(99, timeout=0)  # the value is not 99: True at once
    timed_out: bool = a.wait(a.load(), 0.001)
    a.notify_one()
    a.notify_all()
    assert changed and not timed_out and swapped and loaded == 5 and old == 3 and values

    # In-place operators: atomic, and the name stays an AtomicInt.
    a += 1
    a -= 1
    a &= 0xFF
    a |= 1
    a ^= 1
    same: AtomicInt = a

    # Binary operators compute on a snapshot, as a plain int: int with ints, float with floats.
    ints: list[int] = [
        a + 1, 1 + a, a + b, a - 1, 1 - a, a * 2, 2 * a, a // 2, 7 // a, a % 3, 7 % a,
        a & 3, 3 & a, a | 4, 4 | a, a ^ 1, 1 ^ a, a << 1, 1 << a, a >> 1, 256 >> a,
        -a, +a, abs(a), ~a, int(a), operator.index(a), pow(a, 2, 7), round(float(a)),
    ]
    _results(a, b)
    floats: list[float] = [a / 2, 2 / a, a / b, a + 0.5, 0.5 + a, a * 1.5, a - 0.5, float(a), a**0.5]
    quotient: tuple[int, int] = divmod(a, 3)
    rquotient: tuple[int, int] = divmod(100, a)
    truth: bool = bool(a)
    hex_text: str = f"{a:x}"
    text: str = format(a, "d")
    element: str = "abcdefghijklmnopqrstuvwxyz"[a]  # __index__
    assert ints and floats and quotient and rquotient and truth and hex_text and text and element

    # Comparisons with ints, floats and AtomicInts (no "non-overlapping" complaint).
    comparisons: list[bool] = [
        a == 3, a != 3, 3 == a, a < 10, a <= 10.5, a > -1, a >= b, 10 > a, a == b, a == 2.0,
    ]
    assert comparisons

    c: AtomicInt = copy.copy(a)
    d: AtomicInt = copy.deepcopy(a)
    e: AtomicInt = pickle.loads(pickle.dumps(a))
    assert c == d == e == a and same is a

    # int's protocol on a snapshot.
    rounded: list[int] = [round(a), round(a, -1), math.trunc(a), math.floor(a), math.ceil(a),
                          a.bit_length(), a.conjugate(), a.real, a.imag, a.numerator, a.denominator]
    raw: bytes = a.to_bytes(8, "big", signed=True)
    ratio: tuple[int, int] = a.as_integer_ratio()
    assert rounded and raw and ratio


def check_atomiccounter() -> None:
    c = AtomicCounter()
    c2: AtomicCounter = AtomicCounter(5)
    c.add(3)
    c.add()
    c.sub(2)
    c.sub()
    c.inc()
    c.dec()
    c += 4
    c -= 1
    same: AtomicCounter = c
    total: int = c.value()
    taken: int = c.reset()
    as_int: int = int(c2)
    copied: AtomicCounter = copy.copy(c2)
    assert total == 4 and taken == 4 and as_int == 5 and same is c and copied.value() == 5


def _ref_result(r: AtomicRef[list[int]]) -> list[int]:
    return r.load()  # an Any here would fail --strict's warn_return_any


def check_atomicref() -> None:
    first: list[int] = [1]
    r: AtomicRef[list[int]] = AtomicRef(first)
    empty: AtomicRef[str | None] = AtomicRef()
    loaded: list[int] = r.load()
    r.store([2])
    old: list[int] = r.exchange([3])
    swapped: bool = r.compare_exchange(old, [4])
    missed: bool = r.compare_exchange(object(), [5])  # any object may be compared
    new: list[int] = r.update(lambda xs: [*xs, 5])
    assert loaded is first and old == [2] and not swapped and not missed and new == [3, 5]
    assert empty.load() is None and _ref_result(r) == [3, 5]


def check_spinlock() -> None:
    lock = SpinLock()
    got: bool = lock.acquire()
    lock.release()
    got = lock.acquire(False)
    lock.release()
    got = lock.acquire(blocking=True, timeout=0.5)
    held: bool = lock.locked()
    lock.release()
    with lock as entered:
        flag: bool = entered
    assert got and held and flag


def check_rwlock() -> None:
    rw = RWLock()
    reader: RWLockView = rw.reader
    writer: RWLockView = rw.writer
    readers: int = rw.readers
    write_locked: bool = rw.write_locked
    ok: bool = rw.acquire_read()
    rw.release_read()
    ok = rw.acquire_read(True, 0.5) and ok
    rw.release_read()
    ok = rw.acquire_write(blocking=False) and ok
    rw.downgrade()
    rw.release_read()
    ok = rw.acquire_write(timeout=1) and ok
    rw.release_write()
    # upgradable reads: a guard always (no upgradable view)
    ok = rw.acquire_upgradable(timeout=1) and ok
    upgraded: bool = rw.upgrade(timeout=0.5)
    rw.release_write() if upgraded else rw.release_upgradable()
    with rw.upgradable(timeout=None) as u:
        got_upgradable: bool = u
        ok = rw.upgrade() and got_upgradable and ok
    upgradable_guard: RWLockGuard = rw.upgradable(1.0)
    # optimistic reads: an int stamp, validated by anything with __index__
    stamp: int = rw.optimistic_read()
    ok = rw.validate(stamp) and rw.validate(AtomicInt(stamp)) and ok
    checked = sync.CheckedRWLock()
    ok = checked.validate(checked.optimistic_read()) and ok

    with rw.read() as r:  # no timeout: the view itself
        entered: bool = r
    view: RWLockView = rw.read()
    guard: RWLockGuard = rw.read(timeout=1.0)
    with guard as g:  # binds True, as every `with` on our locks
        inner: bool = g
    with rw.write() as w:
        entered = w and entered
        rw.downgrade()  # the block releases the read lock the write lock became
    with rw.write(0.5) as wg:
        inner = wg
    maybe_timeout: float | None = None
    either: RWLockView | RWLockGuard = rw.write(maybe_timeout)

    # The views: the Lock protocol, and their RWLock.
    back: RWLock = reader.rwlock
    ok = reader.acquire() and ok
    side_locked: bool = reader.locked()
    reader.release()
    ok = writer.acquire(False) and ok
    writer.release()
    with writer as held:
        entered = held and entered
    assert isinstance(view, RWLockView) and isinstance(guard, RWLockGuard) and either is not None
    assert ok and entered and inner is not None and back is rw and side_locked and readers == 0
    assert not write_locked


def check_condition_workaround() -> None:
    # typeshed types threading.Condition(lock) as taking only threading's own lock types,
    # so Condition(rw.writer) (or a SpinLock, or a checked lock) is a type error although
    # it works: cast the lock, which changes nothing at run time.
    rw = RWLock()
    cond = threading.Condition(cast("threading.Lock", rw.writer))
    with cond:
        cond.notify_all()
        woken: bool = cond.wait(timeout=0)
    spin_cond = sync.Condition(cast("threading.Lock", SpinLock()))
    with spin_cond:
        spin_cond.notify()
    assert not woken


def check_sync_locks() -> None:
    plain: threading.Lock | CheckedLock = sync.Lock()
    rplain: threading.RLock | CheckedRLock = sync.RLock()
    spin: SpinLock | CheckedSpinLock = sync.SpinLock()
    rw: RWLock | CheckedRWLock = sync.RWLock()
    assert isinstance(plain, sync.Lock) and isinstance(rw, sync.RWLock)
    named: threading.Lock | CheckedLock = sync.new_lock("accounts")
    rnamed: threading.RLock | CheckedRLock = sync.new_rlock("tree")
    snamed: SpinLock | CheckedSpinLock = sync.new_spinlock("counter")
    rwnamed: RWLock | CheckedRWLock = sync.new_rwlock("table")
    side: RWLockView | CheckedRWSide = rwnamed.reader
    with plain, rplain, spin, rw.writer, side:
        pass
    with rwnamed.read(0.5):
        pass
    with rwnamed.write():
        pass
    assert named is not None and rnamed is not None and snamed is not None

    on: bool = sync.lock_order_checking_enabled()
    sync.enable_lock_order_checking()
    try:
        checked = CheckedLock("a")
        name: str = checked.name
        rchecked = CheckedRLock()
        schecked = CheckedSpinLock("s")
        rwchecked = CheckedRWLock("rw")
        cside: CheckedRWSide = rwchecked.writer
        ok: bool = checked.acquire() and schecked.acquire(True, 1.0)
        schecked.release()
        checked.release()
        with rchecked, rwchecked.reader, cside.rwlock.read(timeout=0.5):
            pass
        cheld: bool = checked.locked()
        readers: int = rwchecked.readers
        write_locked: bool = rwchecked.write_locked
        ok = rwchecked.acquire_write() and ok
        rwchecked.downgrade()
        rwchecked.release_read()
        assert ok and name and not cheld and readers == 0 and not write_locked
        # An inversion: a -> b recorded, then b -> a raises before blocking.
        first, second = sync.new_lock("first"), sync.new_lock("second")
        with first, second:
            pass
        try:
            with second, first:
                pass
        except LockOrderError as exc:
            acquiring: str = exc.acquiring
            holding: str = exc.holding
            location: str = exc.location
            cycle: list[OrderEdge] = exc.cycle
            assert acquiring and holding and location and cycle
    finally:
        sync.disable_lock_order_checking()
    sync.enable_lock_order_checking(patch_threading=True)
    sync.disable_lock_order_checking()
    assert not on


def check_sync_helpers() -> None:
    lock = threading.Lock()
    with sync.hold(lock, timeout=1.0) as held:
        same: threading.Lock = held
    rw = RWLock()
    with sync.hold(rw.writer) as side:
        view: RWLockView = side
    sem = sync.Semaphore(2)
    cond = sync.Condition()
    locks: list[LockLike] = [lock, sem, cond, rw.reader, SpinLock(), sync.BoundedSemaphore()]
    with sync.acquire_all(*locks, timeout=2) as taken:
        order: tuple[LockLike, ...] = taken
    assert same is lock and view is rw.writer and len(order) == len(locks)

    stop_seen: list[bool] = []

    def work(stop_event: threading.Event, n: int) -> None:
        stop_seen.append(stop_event.wait(5) and n == 1)

    t = StoppableThread(work, args=(1,), name="worker")
    t.start()
    event: threading.Event = t.stop_event
    t.stop()
    stopping: bool = t.stopping
    ended: bool = t.shutdown(timeout=5)
    with StoppableThread(lambda: None, daemon=True, pass_stop_event=False) as t2:
        pass
    threads = [threading.Thread(target=lambda: None) for _ in range(2)]
    for th in threads:
        th.start()
    alive: list[threading.Thread] = sync.join_all(threads, timeout=5)
    alive_stoppable: list[StoppableThread] = sync.join_all([t, t2])
    assert event.is_set() and stopping and ended and alive == [] == alive_stoppable and stop_seen == [True]

    # Re-exports: the very objects of threading, concurrent.futures and queue.
    ev: threading.Event = sync.Event()
    barrier: threading.Barrier = sync.Barrier(1)
    barrier.wait()
    timer: threading.Timer = sync.Timer(60, lambda: None)
    timer.cancel()
    local: threading.local = sync.local()
    counter: AtomicInt = sync.AtomicInt(0)
    with sync.ThreadPoolExecutor(max_workers=2) as pool:
        futures: list[StdFuture[int]] = [pool.submit(counter.inc) for _ in range(3)]
        done: list[int] = sorted(f.result() for f in sync.as_completed(futures, timeout=10))
    fut: sync.Future[int] = futures[0]
    q: sync.Queue[int] = sync.Queue()
    q.put(1)
    sq: sync.SimpleQueue[str] = sync.SimpleQueue()
    sq.put("x")
    got: tuple[int, str] = (q.get_nowait(), sq.get_nowait())
    assert not ev.is_set() and local is not None and done == [1, 2, 3] and fut.done() and got == (1, "x")


def check_handles() -> None:
    a = AtomicInt(1)
    ah: pyatomics.AtomicIntHandle = a.handle()
    as_int: AtomicInt = ah.handle()
    ah += 1
    copied: AtomicInt = copy.copy(ah)
    c = AtomicCounter()
    ch: pyatomics.AtomicCounterHandle = c.handle()
    ch.inc()
    r: AtomicRef[list[int]] = AtomicRef([1])
    rh: pyatomics.AtomicRefHandle[list[int]] = r.handle()
    held: list[int] = rh.load()
    rw = RWLock()
    h: pyatomics.RWLockHandle = rw.handle()
    as_rw: RWLock = h
    side: RWLockView = h.reader
    with h.reader, as_rw.read(1):
        pass
    crw = sync.CheckedRWLock(name="typed-handle")
    ck: CheckedRWLock = crw.handle()
    with ck.writer:
        pass
    assert int(as_int) == 2 and copied == 2 and c.value() == 1 and held == [1] and side.rwlock is h


def main() -> None:
    check_module()
    check_handles()
    check_atomicint()
    check_atomiccounter()
    check_atomicref()
    check_spinlock()
    check_rwlock()
    check_condition_workaround()
    check_sync_locks()
    check_sync_helpers()
    print("typing_usage: ok")


if __name__ == "__main__":
    main()
