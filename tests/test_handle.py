"""x.handle(): a second object bound to the same value or lock, for one thread's use.

Run on the backend PYATOMICS_BACKEND selects (both: scripts/test.sh runs the suite once per
backend).  What is checked: a handle shares the state exactly (totals counted from outside
the threads), it is the same lock to every rule keyed on the lock (exclusion, misuse
errors with the state unchanged, per-thread read holds, fork reinitialisation, sync's
lock-order checker), it keeps its root alive, and it cannot be made or subclassed directly.
"""

from __future__ import annotations

import copy
import gc
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import weakref

import pytest
from conftest import run_threads

import pyatomics
from pyatomics import (
    AtomicCounter,
    AtomicCounterHandle,
    AtomicInt,
    AtomicIntHandle,
    AtomicRef,
    AtomicRefHandle,
    RWLock,
    RWLockHandle,
    sync,
)

THREADS, ROUNDS = 4, 2000

VALUE_TYPES = [
    (AtomicInt, AtomicIntHandle),
    (AtomicCounter, AtomicCounterHandle),
    (AtomicRef, AtomicRefHandle),
    (RWLock, RWLockHandle),
]


@pytest.mark.parametrize(("cls", "handle_cls"), VALUE_TYPES, ids=lambda c: c.__name__)
def test_handle_type(cls, handle_cls):
    root = cls()
    h = root.handle()
    assert type(h) is handle_cls and isinstance(h, cls)
    assert h is not root and h._root is root
    hh = h.handle()  # a handle of a handle is another handle of the same root
    assert type(hh) is handle_cls and hh is not h and hh._root is root
    assert getattr(pyatomics, handle_cls.__name__) is handle_cls
    assert handle_cls.__module__ == "pyatomics"


@pytest.mark.parametrize(("cls", "handle_cls"), VALUE_TYPES, ids=lambda c: c.__name__)
def test_not_constructible_nor_subclassable(cls, handle_cls):
    with pytest.raises(TypeError, match="cannot create"):
        handle_cls()
    with pytest.raises(TypeError, match="cannot create"):
        handle_cls(1)
    with pytest.raises(TypeError, match="not an acceptable base type"):
        type("Sub", (handle_cls,), {})
    with pytest.raises(TypeError):
        cls().handle(1)


@pytest.mark.parametrize(("cls", "handle_cls"), VALUE_TYPES, ids=lambda c: c.__name__)
def test_weakref_as_the_type(cls, handle_cls):
    # weak-referenceable exactly where the type is (RWLock, as threading.Lock)
    root = cls()
    try:
        weakref.ref(root)
    except TypeError:
        with pytest.raises(TypeError):
            weakref.ref(root.handle())
    else:
        h = root.handle()
        assert weakref.ref(h)() is h


def test_handle_of_subclass_is_the_plain_handle():
    class Named(AtomicInt):
        pass

    n = Named(4)
    h = n.handle()
    assert type(h) is AtomicIntHandle and not isinstance(h, Named)
    h.inc()
    assert n.load() == 5
    # a copy is a new value of the root's type, as copying the root gives
    assert type(copy.copy(h)) is Named and copy.copy(h).load() == 5


# ---------------------------------------------------------------------------
# The value is shared exactly: each thread uses its own handle
# ---------------------------------------------------------------------------


def test_atomicint_exact_total_through_handles():
    a = AtomicInt()

    def work(i):
        h = a.handle()
        for _ in range(ROUNDS):
            h.inc()
            h += 2
            h.fetch_sub(1)

    run_threads(work, THREADS)
    assert a.load() == THREADS * ROUNDS * 2


def test_atomicint_handle_operators():
    a = AtomicInt(10)
    h = a.handle()
    g = h
    h += 5
    assert h is g and a.load() == 15  # in place: the name stays bound to the handle
    h -= 1
    h |= 16
    assert a.load() == 30 and h == 30 and h == a and not h != a
    assert int(h) == 30 and h + 1 == 31 and 1 + h == 31 and h < 31 and float(h) == 30.0
    assert str(h) == "30" and f"{h:x}" == "1e" and h.bit_length() == 5
    assert repr(h) == "AtomicIntHandle(30)"
    with pytest.raises(TypeError):
        h *= 2
    assert a.load() == 30 and type(h) is AtomicIntHandle
    with pytest.raises(OverflowError):
        h.store(2**63)
    assert a.load() == 30
    assert h.compare_exchange(30, 1) and a.load() == 1
    with pytest.raises(TypeError):
        hash(h)


def test_atomicint_handle_copy_and_pickle_are_values():
    a = AtomicInt(7)
    h = a.handle()
    for c in (copy.copy(h), copy.deepcopy(h), pickle.loads(pickle.dumps(h))):
        assert type(c) is AtomicInt and c.load() == 7
        c.inc()
        assert a.load() == 7  # a copy is a new value, not bound to the root


def test_atomicint_wait_through_handle():
    a = AtomicInt(0)
    h = a.handle()
    started = threading.Event()
    result = []

    def waiter():
        mine = a.handle()
        started.set()
        result.append(mine.wait(0))

    t = threading.Thread(target=waiter)
    t.start()
    started.wait()
    h.store(1)  # wakes a waiter of the root's value, whichever object it waits through
    h.notify_all()
    t.join(60)
    assert not t.is_alive() and result == [True]


def test_counter_exact_total_through_handles():
    c = AtomicCounter()

    def work(i):
        h = c.handle()
        for _ in range(ROUNDS):
            h.inc()
            h += 2
            h.sub(1)

    run_threads(work, THREADS)
    assert c.value() == THREADS * ROUNDS * 2
    h = c.handle()
    assert int(h) == h.value() == THREADS * ROUNDS * 2
    assert repr(h) == f"AtomicCounterHandle({THREADS * ROUNDS * 2})"
    assert h.reset() == THREADS * ROUNDS * 2 and c.value() == 0
    with pytest.raises(OverflowError):
        h.add(2**63)
    assert c.value() == 0
    for cp in (copy.copy(h), pickle.loads(pickle.dumps(h))):
        assert type(cp) is AtomicCounter and cp.value() == 0


def test_atomicref_shared_through_handles():
    r = AtomicRef(0)

    def work(i):
        h = r.handle()
        for _ in range(ROUNDS // 4):
            h.update(lambda x: x + 1)

    run_threads(work, THREADS)
    assert r.load() == THREADS * (ROUNDS // 4)
    h = r.handle()
    marker = object()
    assert h.exchange(marker) == THREADS * (ROUNDS // 4)
    assert r.load() is marker and h.load() is marker
    assert h.compare_exchange(marker, [1]) and r.load() == [1]
    assert repr(h) == "AtomicRefHandle([1])"
    h.store(h)  # holds its own handle: recursion shown as "..."
    assert repr(h) == "AtomicRefHandle(...)"
    h.store(r)
    assert repr(h) == "AtomicRefHandle(AtomicRef(...))"
    with pytest.raises(TypeError, match="cannot pickle"):
        pickle.dumps(h)
    with pytest.raises(TypeError, match="cannot pickle"):
        copy.copy(h)
    h.store(None)


def test_atomicref_cycle_through_handle_is_collected():
    class Payload:
        pass

    r = AtomicRef()
    p = Payload()
    p.handle = r.handle()  # r -> p -> handle -> r
    r.store(p)
    alive = weakref.ref(p)
    del r, p
    gc.collect()
    assert alive() is None


def test_subclass_dict_cycle_through_handle_is_collected():
    class Named(AtomicInt):
        pass

    n = Named(1)
    n.mine = n.handle()  # n -> its __dict__ -> handle -> n
    alive = weakref.ref(n) if hasattr(n, "__weakref__") else None
    del n
    gc.collect()
    assert alive is None or alive() is None


# ---------------------------------------------------------------------------
# RWLock: the same lock
# ---------------------------------------------------------------------------


def test_rwlock_handle_views_are_its_own():
    rw = RWLock()
    h = rw.handle()
    assert h.reader is not rw.reader and h.writer is not rw.writer
    assert h.reader.rwlock is h and h.writer.rwlock is h
    assert h.read() is h.reader and h.write() is h.writer
    assert h.handle().reader is not h.reader


def test_rwlock_exact_total_through_handles():
    rw = RWLock()
    box = [0]

    def work(i):
        h = rw.handle()
        for n in range(ROUNDS // 4):
            with h.writer:
                v = box[0]
                box[0] = v + 1
            with h.reader:
                assert not rw.write_locked

    run_threads(work, THREADS)
    assert box[0] == THREADS * (ROUNDS // 4)
    assert rw.readers == 0 and not rw.write_locked


def test_handle_writer_excludes_parent_reader():
    rw = RWLock()
    h = rw.handle()
    with h.writer:
        assert rw.write_locked and h.write_locked
        results = []

        def other():
            results.append(rw.acquire_read(blocking=False))
            results.append(rw.reader.acquire(blocking=False))
            results.append(rw.handle().acquire_read(blocking=False))

        t = threading.Thread(target=other)
        t.start()
        t.join(60)
        assert results == [False, False, False]
    assert not rw.write_locked
    with rw.reader:
        assert h.readers == 1
        got = []
        t = threading.Thread(target=lambda: got.append(rw.handle().acquire_write(blocking=False)))
        t.start()
        t.join(60)
        assert got == [False]


def test_misuse_through_handle_is_the_parents_error():
    rw = RWLock()
    h = rw.handle()

    def error(f):
        with pytest.raises(Exception) as info:
            f()
        return type(info.value), str(info.value)

    # releasing what is not held: the same error through either, nothing changes
    assert error(h.release_read) == error(rw.release_read)
    assert error(h.release_write) == error(rw.release_write)
    assert error(h.reader.release) == error(rw.reader.release)
    assert rw.readers == 0 and not rw.write_locked
    # a write while this thread reads through the other object: the same lock
    with rw.reader:
        assert error(lambda: h.acquire_write(False)) == error(lambda: rw.acquire_write(False))
        assert h.reader._is_owned() and not h.writer._is_owned()
        assert rw.readers == 1 and not rw.write_locked
    with h.writer:
        assert error(lambda: rw.acquire_read(blocking=False)) == error(lambda: h.acquire_read(blocking=False))
        assert error(lambda: rw.acquire_write(False)) == error(lambda: h.acquire_write(False))
        assert rw.writer._is_owned()
        assert rw.write_locked and rw.readers == 0
    # a read hold taken through the handle is released through the root
    assert h.acquire_read()
    assert rw.readers == 1
    rw.release_read()
    assert rw.readers == 0 and not rw.write_locked


def test_upgrade_and_downgrade_through_handle():
    rw = RWLock()
    h = rw.handle()
    with h.upgradable(5):
        assert rw.readers == 1
        assert rw.upgrade(5) and h.write_locked
    assert not rw.write_locked and rw.readers == 0
    with h.write(5):
        rw.downgrade()
        assert h.readers == 1 and not h.write_locked
    assert rw.readers == 0
    stamp = h.optimistic_read()
    assert rw.validate(stamp)
    with rw.writer:
        pass
    assert not h.validate(stamp)


def test_rwlock_handle_repr_names_the_root():
    rw = RWLock()
    h = rw.handle()
    assert repr(h).startswith("<pyatomics.RWLockHandle object at 0x")
    assert f"handle of {id(rw):#x}" in repr(h) and repr(h).endswith("readers=0>")
    with h.writer:
        assert repr(h).endswith("write-locked>")
    assert "handle of" not in repr(rw)
    with pytest.raises(TypeError):
        pickle.dumps(h)
    with pytest.raises(TypeError):
        copy.copy(h)


def test_rwlock_handle_weakref_and_condition():
    rw = RWLock()
    h = rw.handle()
    w = weakref.ref(h)
    assert w() is h
    cond = threading.Condition(h.writer)
    with cond:
        assert rw.write_locked
        assert not cond.wait(0)
        assert rw.write_locked
    assert not rw.write_locked


# ---------------------------------------------------------------------------
# Lifetime: a handle keeps its root, and so the core state, alive
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [AtomicInt, AtomicCounter, AtomicRef, RWLock], ids=lambda c: c.__name__)
def test_handle_keeps_root_alive(cls):
    root = cls()
    h = root.handle()
    hh = h.handle()
    del root
    gc.collect()
    root = h._root
    del h
    gc.collect()
    assert hh._root is root
    del root
    gc.collect()
    if cls is RWLock:
        with hh.writer:
            assert hh.write_locked
        with hh.reader:
            assert hh.readers == 1
    elif cls is AtomicRef:
        hh.store(5)
        assert hh.load() == 5
    elif cls is AtomicCounter:
        hh.add(3)
        assert hh.value() == 3
    else:
        hh.store(3)
        hh.inc()
        assert hh.load() == 4


def test_rwlock_freed_with_its_last_handle():
    rw = RWLock()
    alive = weakref.ref(rw)
    h = rw.handle()
    del rw
    gc.collect()
    assert alive() is not None
    del h
    gc.collect()
    assert alive() is None


def test_handles_made_concurrently():
    rw, a, c = RWLock(), AtomicInt(), AtomicCounter()

    def work(i):
        for _ in range(200):
            h = rw.handle()
            with h.reader:
                pass
            a.handle().inc()
            c.handle().inc()
            h.handle()

    run_threads(work, THREADS)
    assert a.load() == THREADS * 200 and c.value() == THREADS * 200
    assert rw.readers == 0 and not rw.write_locked


# ---------------------------------------------------------------------------
# sync's checked RWLock: a handle is the same node of the order graph
# ---------------------------------------------------------------------------


def test_checked_rwlock_handle():
    rw = sync.CheckedRWLock(name="rw-handles")
    h = rw.handle()
    assert isinstance(h, sync.CheckedRWLock) and h.name == rw.name
    with h.reader:
        assert sync._held()[rw._node.key][1] == 1
        with rw.reader:  # re-entrant read of the same lock, not an ordering event
            assert sync._held()[rw._node.key][1] == 2
    assert rw._node.key not in sync._held()
    # acquire_all refuses the same lock twice, through a handle too
    plain = RWLock()
    with pytest.raises(ValueError):
        with sync.acquire_all(plain.reader, plain.handle().writer):
            pass
    assert plain.readers == 0 and not plain.write_locked
    del h
    gc.collect()
    with rw.writer:  # the root's node is still there, and works
        pass


# ---------------------------------------------------------------------------
# fork: a child uses a handle made before the fork
# ---------------------------------------------------------------------------


@pytest.mark.forks
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_handle_in_fork_child():
    script = textwrap.dedent(f"""
        import os, sys, threading, warnings
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # fork with a thread running
        sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
        import conftest  # the installed pyatomics, not the source tree
        from pyatomics import AtomicCounter, AtomicInt, RWLock

        rw, a, c = RWLock(), AtomicInt(1), AtomicCounter(2)
        h, ah, ch = rw.handle(), a.handle(), c.handle()
        held, done = threading.Event(), threading.Event()
        def holder():  # another thread's read hold through its own handle
            mine = rw.handle()
            mine.acquire_read()
            held.set()
            done.wait()
            mine.release_read()
        t = threading.Thread(target=holder)
        t.start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            ok = not h.acquire_write(timeout=0.05)  # the parent's reader is still counted
            h._at_fork_reinit()  # through the handle: the one lock is reset
            ok = ok and rw.readers == 0
            with h.writer:
                ok = ok and rw.write_locked
            ah.inc(); ch.inc()
            os._exit(0 if ok and a.load() == 2 and c.value() == 3 else 1)
        _, status = os.waitpid(pid, 0)
        done.set()
        t.join()
        print(os.WEXITSTATUS(status), a.load(), c.value())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0 1 2", out.stdout + out.stderr
