"""RWLock upgradable reads (parking_lot's upgradable_read): one upgradable
holder at a time, beside plain readers, excluding writers; upgrade() waits
for the plain readers to leave and holds the write lock, with no writer in
between; a timed-out or interrupted upgrade leaves the upgradable read held.

Blocking is observed with conftest.wait_blocked (the thread sleeps in a futex
wait on the lock's own memory), never with sleeps.  Every misuse check also
checks that the state is unchanged after the error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import SCALE, join, run_threads, start, wait_blocked

from pyatomics import AtomicInt, RWLock


def blocked(thread, rw):
    wait_blocked(thread.native_id, rw)
    return thread


def other_thread(func):
    """func() on another thread; its result (an exception it raised is re-raised here)."""
    out = []

    def run():
        try:
            out.append((True, func()))
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            out.append((False, exc))

    join(start(run))
    ok, value = out[0]
    if not ok:
        raise value
    return value


def try_read(rw):
    def attempt():
        if rw.acquire_read(blocking=False):
            rw.release_read()
            return True
        return False
    return other_thread(attempt)


def try_write(rw):
    def attempt():
        if rw.acquire_write(blocking=False):
            rw.release_write()
            return True
        return False
    return other_thread(attempt)


def try_upgradable(rw):
    def attempt():
        if rw.acquire_upgradable(blocking=False):
            rw.release_upgradable()
            return True
        return False
    return other_thread(attempt)


def assert_free(rw):
    assert rw.readers == 0 and rw.write_locked is False
    assert rw.acquire_write(blocking=False) is True
    rw.release_write()
    assert rw.acquire_upgradable(blocking=False) is True
    rw.release_upgradable()
    assert rw.readers == 0


# ---------------------------------------------------------------------------
# Exclusion
# ---------------------------------------------------------------------------


def test_upgradable_coexists_with_readers_excludes_writers_and_upgradables():
    rw = RWLock()
    assert rw.acquire_upgradable() is True
    assert rw.readers == 1 and not rw.write_locked
    assert try_read(rw) is True
    assert try_write(rw) is False
    assert try_upgradable(rw) is False
    # a timed attempt waits its time and fails too
    t0 = time.monotonic()
    assert other_thread(lambda: rw.acquire_upgradable(timeout=0.05)) is False
    assert time.monotonic() - t0 >= 0.04
    assert other_thread(lambda: rw.acquire_write(timeout=0.05)) is False
    rw.release_upgradable()
    assert_free(rw)


def test_readers_inside_do_not_keep_upgradable_out():
    rw = RWLock()
    rw.acquire_read()
    assert try_upgradable(rw) is True
    rw.release_read()


def test_writer_excludes_upgradable_and_hands_over():
    rw = RWLock()
    rw.acquire_write()
    got = []
    t = blocked(start(lambda: (got.append(rw.acquire_upgradable()), rw.release_upgradable())), rw)
    assert got == []
    rw.release_write()
    join(t)
    assert got == [True]
    assert_free(rw)


def test_second_upgradable_waits_for_the_first():
    rw = RWLock()
    rw.acquire_upgradable()
    order = []

    def second():
        rw.acquire_upgradable()
        order.append("second in")
        rw.release_upgradable()

    t = blocked(start(second), rw)
    order.append("first out")
    rw.release_upgradable()
    join(t)
    assert order == ["first out", "second in"]
    assert_free(rw)


# ---------------------------------------------------------------------------
# upgrade()
# ---------------------------------------------------------------------------


def test_upgrade_waits_for_readers_to_leave():
    rw = RWLock()
    rw.acquire_read()  # the plain reader (this thread)
    events = []

    def upgrader():
        rw.acquire_upgradable()
        events.append("upgradable")
        assert rw.upgrade() is True
        events.append(("upgraded", rw.readers, rw.write_locked))
        rw.release_write()

    t = blocked(start(upgrader), rw)
    assert events == ["upgradable"]
    # a pending upgrade holds new readers back, as a waiting writer does
    assert try_read(rw) is False
    rw.release_read()
    join(t)
    assert events == ["upgradable", ("upgraded", 0, True)]
    assert_free(rw)


def test_upgrade_is_atomic_no_writer_in_between():
    rw = RWLock()
    value = AtomicInt(0)
    rw.acquire_upgradable()
    seen = value.load()
    writer_done = []

    def writer():
        with rw.write():
            value.store(99)
        writer_done.append(True)

    w = blocked(start(writer), rw)
    assert rw.upgrade() is True
    # the writer waited all along: what we read is what we now write over
    assert value.load() == seen == 0 and writer_done == []
    value.store(1)
    rw.release_write()
    join(w)
    assert value.load() == 99
    assert_free(rw)


def test_upgrade_without_waiting_when_alone():
    rw = RWLock()
    rw.acquire_upgradable()
    assert rw.upgrade(timeout=0) is True
    assert rw.write_locked and rw.readers == 0
    rw.release_write()
    assert_free(rw)


def test_upgrade_timeout_leaves_upgradable_held():
    rw = RWLock()
    reader_in, reader_go = threading.Event(), threading.Event()

    def reader():
        with rw.read():
            reader_in.set()
            reader_go.wait(20)

    r = start(reader)
    assert reader_in.wait(10)
    rw.acquire_upgradable()
    assert rw.readers == 2
    t0 = time.monotonic()
    assert rw.upgrade(timeout=0.05) is False
    assert time.monotonic() - t0 >= 0.04
    assert rw.upgrade(timeout=0) is False
    # unchanged: still upgradable, readers may enter, writers and upgradables may not
    assert rw.readers == 2 and not rw.write_locked
    assert try_read(rw) is True
    assert try_write(rw) is False
    assert try_upgradable(rw) is False
    with pytest.raises(RuntimeError, match="upgradable read lock: this thread already holds"):
        rw.acquire_upgradable()
    reader_go.set()
    join(r)
    # and the upgrade now succeeds, or the release works
    assert rw.upgrade() is True
    rw.release_write()
    rw.acquire_upgradable()
    rw.release_upgradable()
    assert_free(rw)


def test_upgrade_timed_out_then_released():
    rw = RWLock()
    rw.acquire_read()
    done = []

    def upgrader():
        rw.acquire_upgradable()
        done.append(rw.upgrade(timeout=0.05))
        done.append(rw.readers)
        rw.release_upgradable()

    join(start(upgrader))
    assert done == [False, 2]
    rw.release_read()
    assert_free(rw)


def test_two_upgraders_never_deadlock():
    rw = RWLock()
    counter = AtomicInt(0)

    def upgrader(i):
        for _ in range(200 * SCALE):
            rw.acquire_upgradable()
            v = counter.load()
            assert rw.upgrade() is True
            counter.store(v + 1)
            rw.release_write()

    run_threads(upgrader, 2, timeout=60)
    assert counter.load() == 2 * 200 * SCALE
    assert_free(rw)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread()
                    or not hasattr(signal, "pthread_kill"), reason="needs POSIX signals on the main thread")
def test_upgrade_interrupted_leaves_upgradable_held():
    rw = RWLock()
    reader_in, reader_go = threading.Event(), threading.Event()

    def reader():
        with rw.read():
            reader_in.set()
            reader_go.wait(20)

    r = start(reader)
    assert reader_in.wait(10)
    rw.acquire_upgradable()
    main_tid = threading.get_native_id()

    def helper():
        try:
            wait_blocked(main_tid, rw)
        finally:
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        h = start(helper)
        with pytest.raises(KeyboardInterrupt):
            rw.upgrade()
        join(h)
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert rw.readers == 2 and not rw.write_locked
    assert try_read(rw) is True and try_write(rw) is False
    reader_go.set()
    join(r)
    rw.release_upgradable()
    assert_free(rw)


# ---------------------------------------------------------------------------
# Misuse: RuntimeError in the core's words, state unchanged
# ---------------------------------------------------------------------------


def test_misuse_without_holding():
    rw = RWLock()
    with pytest.raises(RuntimeError, match="cannot release the upgradable read lock: this thread does not hold it"):
        rw.release_upgradable()
    with pytest.raises(RuntimeError, match="cannot upgrade: this thread does not hold the upgradable read lock"):
        rw.upgrade()
    assert_free(rw)
    # another thread's upgradable read is not ours
    held, go = threading.Event(), threading.Event()

    def holder():
        rw.acquire_upgradable()
        held.set()
        go.wait(20)
        rw.release_upgradable()

    t = start(holder)
    assert held.wait(10)
    with pytest.raises(RuntimeError, match="does not hold it"):
        rw.release_upgradable()
    with pytest.raises(RuntimeError, match="cannot upgrade"):
        rw.upgrade(timeout=0)
    assert rw.readers == 1
    go.set()
    join(t)
    assert_free(rw)


def test_misuse_while_holding_upgradable():
    rw = RWLock()
    rw.acquire_upgradable()
    with pytest.raises(RuntimeError, match="already holds it"):
        rw.acquire_upgradable(blocking=False)
    with pytest.raises(RuntimeError, match="holds the upgradable read lock .*use upgrade\\(\\)"):
        rw.acquire_write()
    with pytest.raises(RuntimeError, match="cannot release a read lock"):
        rw.release_read()
    with pytest.raises(RuntimeError, match="cannot release the write lock"):
        rw.release_write()
    with pytest.raises(RuntimeError, match="cannot downgrade"):
        rw.downgrade()
    assert rw.readers == 1 and not rw.write_locked
    # a plain read beside it is allowed (recursive), but then no upgrade
    assert rw.acquire_read() is True
    with pytest.raises(RuntimeError, match="cannot upgrade while this thread also holds a plain read lock"):
        rw.upgrade()
    assert rw.readers == 2 and not rw.write_locked
    rw.release_read()
    assert rw.upgrade(timeout=0) is True
    rw.release_write()
    assert_free(rw)


def test_misuse_upgradable_while_reading_or_writing():
    rw = RWLock()
    rw.acquire_read()
    with pytest.raises(RuntimeError, match="upgradable read lock while this thread holds a read lock"):
        rw.acquire_upgradable()
    assert rw.readers == 1
    rw.release_read()
    rw.acquire_write()
    with pytest.raises(RuntimeError, match="upgradable read lock while this thread holds the write lock"):
        rw.acquire_upgradable()
    assert rw.write_locked
    with pytest.raises(RuntimeError, match="upgradable read lock while this thread holds the write lock"):
        with rw.upgradable():
            pass
    rw.release_write()
    assert_free(rw)


def test_plain_read_while_upgradable_passes_a_waiting_writer():
    """The holder's own plain read is a recursive read: behind a writer that
    waits for the holder it would deadlock."""
    rw = RWLock()
    rw.acquire_upgradable()
    w = blocked(start(lambda: (rw.acquire_write(), rw.release_write())), rw)
    assert rw.acquire_read(timeout=5) is True
    rw.release_read()
    rw.release_upgradable()
    join(w)
    assert_free(rw)


def test_argument_rules_as_acquire():
    rw = RWLock()
    with pytest.raises(ValueError, match="can't specify a timeout for a non-blocking call"):
        rw.acquire_upgradable(False, 1)
    with pytest.raises(ValueError, match="timeout value must be a non-negative number"):
        rw.acquire_upgradable(timeout=-2)
    with pytest.raises(TypeError, match="timeout must be a number, not 'str'"):
        rw.acquire_upgradable(timeout="1")
    with pytest.raises(ValueError, match="non-negative"):
        rw.upgradable(timeout=-2)
    with pytest.raises(TypeError, match="timeout must be a number"):
        rw.upgradable(timeout="x")
    rw.acquire_upgradable()
    with pytest.raises(ValueError, match="non-negative"):
        rw.upgrade(timeout=-0.5)
    with pytest.raises(ValueError, match="NaN"):
        rw.upgrade(timeout=float("nan"))
    with pytest.raises(OverflowError, match="too large"):
        rw.upgrade(timeout=1e300)
    with pytest.raises(TypeError, match="timeout must be a number"):
        rw.upgrade(timeout=None)
    assert rw.readers == 1 and not rw.write_locked
    assert rw.upgrade(-1) is True
    rw.release_write()
    assert_free(rw)


# ---------------------------------------------------------------------------
# Context manager, downgrade, stamps
# ---------------------------------------------------------------------------


def test_context_manager_without_upgrade_releases_upgradable():
    rw = RWLock()
    with rw.upgradable() as got:
        assert got is True
        assert rw.readers == 1 and try_write(rw) is False and try_upgradable(rw) is False
    assert_free(rw)


def test_context_manager_with_upgrade_releases_write():
    rw = RWLock()
    with rw.upgradable(timeout=1):
        assert rw.upgrade() is True
        assert rw.write_locked
    assert_free(rw)


def test_context_manager_upgrade_then_downgrade_releases_read():
    rw = RWLock()
    with rw.upgradable():
        assert rw.upgrade() is True
        rw.downgrade()
        assert rw.readers == 1 and not rw.write_locked
        assert try_read(rw) is True and try_write(rw) is False
        # a plain read now: a new upgradable holder may come in beside it
        assert try_upgradable(rw) is True
    assert_free(rw)


def test_context_manager_exception_releases():
    rw = RWLock()
    with pytest.raises(KeyError):
        with rw.upgradable():
            raise KeyError
    assert_free(rw)
    with pytest.raises(KeyError):
        with rw.upgradable():
            rw.upgrade()
            raise KeyError
    assert_free(rw)


def test_context_manager_timeout():
    rw = RWLock()
    rw.acquire_write()
    with pytest.raises(TimeoutError, match="could not acquire the upgradable read lock within 0.050 s"):
        other_thread(lambda: rw.upgradable(timeout=0.05).__enter__())
    rw.release_write()
    rw.acquire_upgradable()

    def second():
        try:
            with rw.upgradable(timeout=0.02):
                return "entered"
        except TimeoutError:
            return "timed out"

    assert other_thread(second) == "timed out"
    rw.release_upgradable()
    assert_free(rw)


def test_exit_when_nothing_held_raises():
    rw = RWLock()
    g = rw.upgradable()
    assert g.__enter__() is True
    rw.release_upgradable()
    with pytest.raises(RuntimeError, match="cannot release the upgradable read lock"):
        g.__exit__(None, None, None)
    assert_free(rw)


def test_downgrade_after_upgrade():
    rw = RWLock()
    rw.acquire_upgradable()
    rw.upgrade()
    rw.downgrade()
    assert rw.readers == 1 and not rw.write_locked
    assert try_read(rw) is True and try_write(rw) is False
    with pytest.raises(RuntimeError, match="cannot release the upgradable read lock"):
        rw.release_upgradable()
    rw.release_read()
    assert_free(rw)


def test_stamps_survive_upgradable_and_die_at_upgrade():
    rw = RWLock()
    s = rw.optimistic_read()
    rw.acquire_upgradable()
    assert rw.validate(s) and rw.optimistic_read() == s
    assert rw.upgrade(timeout=0) is True
    assert rw.optimistic_read() == 0
    assert not rw.validate(s)
    rw.release_write()
    s2 = rw.optimistic_read()
    assert s2 != 0 and s2 != s and not rw.validate(s)
    # a timed-out upgrade changes nothing
    rw.acquire_read()
    done = []

    def upgrader():
        rw.acquire_upgradable()
        done.append(rw.upgrade(timeout=0.02))
        rw.release_upgradable()

    join(start(upgrader))
    rw.release_read()
    assert done == [False] and rw.validate(s2)


# ---------------------------------------------------------------------------
# Stress: exact counts
# ---------------------------------------------------------------------------


def test_stress_exact_counts():
    """Upgraders increment a counter only under the upgraded write lock, from
    the value they read under the upgradable read (so a writer in between
    would lose an increment); writers increment too; readers check that no
    writer is inside with them."""
    rw = RWLock()
    counter = AtomicInt(0)
    writers_in = AtomicInt(0)
    readers_in = AtomicInt(0)
    violations = AtomicInt(0)
    n = 300 * SCALE

    def worker(i):
        kind = i % 3
        for k in range(n):
            if kind == 0:
                with rw.upgradable():
                    v = counter.load()
                    if writers_in.load():
                        violations.inc()
                    if k % 2:
                        continue  # read only
                    rw.upgrade()
                    if writers_in.inc() != 1 or readers_in.load():
                        violations.inc()
                    counter.store(v + 1)
                    writers_in.dec()
            elif kind == 1:
                with rw.write():
                    if writers_in.inc() != 1 or readers_in.load():
                        violations.inc()
                    counter.store(counter.load() + 1)
                    writers_in.dec()
            else:
                with rw.read():
                    readers_in.inc()
                    if writers_in.load():
                        violations.inc()
                    readers_in.dec()

    run_threads(worker, 6, timeout=120)
    assert violations.load() == 0
    upgraders, writers = 2, 2
    assert counter.load() == upgraders * (n - n // 2) + writers * n
    assert_free(rw)


# ---------------------------------------------------------------------------
# sync.CheckedRWLock: the same API, the hold recorded as one of the lock's node
# ---------------------------------------------------------------------------


def test_checked_rwlock_upgradable():
    from pyatomics import sync

    # Holds this thread recorded before (tests of other files may leave some:
    # lock_tests drops locks it still holds) are not this test's business.
    before = set(sync._held())
    rw = sync.CheckedRWLock(name="upg")
    assert rw.acquire_upgradable() is True
    assert sync._held()[rw._node.key][1] == 1
    assert try_write(rw._rw) is False
    assert rw.upgrade(timeout=0) is True and rw.write_locked
    assert sync._held()[rw._node.key][1] == 1  # still one hold of the same node
    rw.release_write()
    assert set(sync._held()) == before
    with rw.upgradable(timeout=1) as got:
        assert got is True and rw.readers == 1
        assert sync._held()[rw._node.key][1] == 1
    assert set(sync._held()) == before and rw.readers == 0
    with rw.upgradable():
        rw.upgrade()
    assert set(sync._held()) == before and not rw.write_locked
    with pytest.raises(RuntimeError, match="cannot release the upgradable read lock"):
        rw.release_upgradable()
    assert set(sync._held()) == before
    rw._rw.acquire_write()
    with pytest.raises(TimeoutError):
        other_thread(lambda: rw.upgradable(timeout=0.01).__enter__())
    rw._rw.release_write()
    assert rw.acquire_upgradable(blocking=False) is True
    rw.release_upgradable()
    assert set(sync._held()) == before


# ---------------------------------------------------------------------------
# fork(): the forking thread's upgradable read survives, another thread's is
# held in the child until _at_fork_reinit (as its plain read holds are)
# ---------------------------------------------------------------------------


@pytest.mark.forks
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_upgradable_across_fork():
    script = textwrap.dedent(f"""
        import os, sys, threading, warnings
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # fork with a thread running
        sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
        import conftest  # the installed pyatomics, not the source tree
        from pyatomics import RWLock

        in_child = conftest.in_forked_child

        results = []
        rw = RWLock()
        assert rw.acquire_upgradable()
        def mine_survives():
            # still this thread's: it can upgrade, and the lock then works as usual
            if not (rw.upgrade(timeout=5) and rw.write_locked):
                return False
            rw.release_write()
            if not rw.acquire_upgradable(blocking=False):
                return False
            rw.release_upgradable()
            return rw.readers == 0 and not rw.write_locked
        results.append(in_child(mine_survives))
        rw.release_upgradable()

        held, done = threading.Event(), threading.Event()
        def holder():
            rw.acquire_upgradable()
            held.set()
            done.wait()
            rw.release_upgradable()
        t = threading.Thread(target=holder)
        t.start()
        held.wait()
        def theirs_until_reinit():
            # the parent's other thread is gone; its upgradable read is not
            if rw.acquire_upgradable(timeout=0.05) or rw.acquire_write(timeout=0.05):
                return False
            if not (rw.acquire_read(blocking=False) and rw.release_read() is None):
                return False  # plain readers still come in beside it
            rw._at_fork_reinit()
            if not rw.acquire_upgradable(blocking=False):
                return False
            ok = rw.upgrade(timeout=5)
            rw.release_write()
            return ok and rw.readers == 0 and not rw.write_locked
        results.append(in_child(theirs_until_reinit))
        done.set()
        t.join()
        print(results)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[0, 0]", out.stdout + out.stderr
