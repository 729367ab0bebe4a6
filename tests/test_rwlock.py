"""RWLock: exclusion invariants under stress, the scheduling policy (writer
preference without reader starvation), downgrade, timeouts, misuse, views.

Invariants are checked inside every critical section with AtomicInt counters
of the threads inside, so a single overlap of a writer with anyone fails the
test.  Policy tests are built so that a lock without the policy would fail
them (not merely be slower): see each docstring.

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
import re
import threading
import time
import weakref

import pytest
from conftest import FREE_THREADED, SCALE, run_threads, wait_blocked, join, start

import pyatomics
from pyatomics import AtomicInt, RWLock


def assert_free(rw):
    """Nothing held, no stale waiting state: both sides can be taken at once."""
    assert rw.readers == 0
    assert rw.write_locked is False
    assert rw.acquire_write(blocking=False) is True
    rw.release_write()
    assert rw.acquire_read(blocking=False) is True
    rw.release_read()
    assert rw.readers == 0


def blocked(thread, rw):
    wait_blocked(thread.native_id, rw)
    return thread


def wait_until(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


# ---------------------------------------------------------------------------
# Basics: states, snapshots, repr, views, weakref
# ---------------------------------------------------------------------------


def test_states_and_snapshots():
    rw = RWLock()
    assert (rw.readers, rw.write_locked) == (0, False)
    assert rw.acquire_read() is True
    assert rw.acquire_read() is True  # recursive
    assert (rw.readers, rw.write_locked) == (2, False)
    # locked(): held, or acquire(blocking=False) would fail for a thread holding nothing.
    assert rw.reader.locked() is True and rw.writer.locked() is True
    assert rw.reader._is_owned() is True and rw.writer._is_owned() is False
    rw.release_read()
    rw.release_read()
    assert rw.reader.locked() is False
    assert rw.reader._is_owned() is False
    assert rw.acquire_write() is True
    assert (rw.readers, rw.write_locked) == (0, True)
    assert rw.writer.locked() is True and rw.reader.locked() is True
    assert rw.writer._is_owned() is True
    rw.release_write()
    assert_free(rw)


def test_repr():
    rw = RWLock()
    hexaddr = "0x[0-9a-f]+"
    assert re.fullmatch(rf"<pyatomics\.RWLock object at {hexaddr}, readers=0>", repr(rw)), repr(rw)
    rw.acquire_read()
    rw.acquire_read()
    assert re.fullmatch(rf"<pyatomics\.RWLock object at {hexaddr}, readers=2>", repr(rw)), repr(rw)
    assert re.fullmatch(rf"<locked pyatomics\.RWLockView object \(read side\) at {hexaddr}>", repr(rw.reader))
    assert re.fullmatch(rf"<locked pyatomics\.RWLockView object \(write side\) at {hexaddr}>", repr(rw.writer))
    rw.release_read()
    rw.release_read()
    rw.acquire_write()
    assert re.fullmatch(rf"<pyatomics\.RWLock object at {hexaddr}, write-locked>", repr(rw)), repr(rw)
    assert re.fullmatch(
        rf"<locked pyatomics\.RWLockView object \(write side\) at {hexaddr}>", repr(rw.writer)
    )
    assert re.fullmatch(rf"<locked pyatomics\.RWLockView object \(read side\) at {hexaddr}>", repr(rw.reader))
    rw.release_write()


def test_views_identity_and_weakrefs():
    rw = RWLock()
    assert rw.reader is rw.reader and rw.writer is rw.writer
    assert rw.reader.rwlock is rw and rw.writer.rwlock is rw
    assert rw.read() is rw.reader and rw.write(None) is rw.writer  # no timeout: the view itself
    refs = [weakref.ref(rw), weakref.ref(rw.reader), weakref.ref(rw.writer)]
    assert [r() for r in refs] == [rw, rw.reader, rw.writer]
    with rw.reader:
        assert rw.readers == 1
    with rw.writer:
        assert rw.write_locked
    del rw
    gc.collect()  # the lock and its views form a cycle
    assert [r() for r in refs] == [None, None, None]


# The C-API backend on a free-threaded build gives each thread but the lock's
# creator views of its own (reference-count updates on one shared view are
# what kept readers from running in parallel), up to 16 threads; the others
# share the creator's.  Elsewhere every thread gets the same two views.
OWN_THREAD_VIEWS = FREE_THREADED and pyatomics.BACKEND == "capi"


def test_views_of_other_threads_are_stable_and_work_on_the_same_lock():
    rw = RWLock()
    creators = (rw.reader, rw.writer)
    n = 20
    got: dict[int, tuple] = {}
    inside = threading.Barrier(n + 1)
    leave = threading.Event()

    def body(i):
        r, w = rw.reader, rw.writer
        # Within a thread: one object each time, from every spelling.
        assert rw.reader is r and rw.read() is r and rw.read(None) is r
        assert rw.writer is w and rw.write() is w
        assert r.rwlock is rw and w.rwlock is rw and type(r) is type(creators[0])
        with r:  # all n threads in at once: their views share the lock
            got[i] = (r, w)
            inside.wait(timeout=30)
            leave.wait(timeout=30)

    threads = [start(body, i) for i in range(n)]
    inside.wait(timeout=30)
    try:
        assert rw.readers == n and not rw.writer.acquire(timeout=0)
        assert (rw.reader, rw.writer) == creators  # the creator's are unchanged
    finally:
        leave.set()
        join(*threads)
    assert len(got) == n and rw.readers == 0 and rw.writer.acquire(timeout=0)
    rw.writer.release()
    own = [pair for pair in got.values() if pair[0] is not creators[0]]
    for r, w in got.values():
        assert (r is creators[0]) == (w is creators[1])  # both sides own, or both shared
    if OWN_THREAD_VIEWS:
        assert len(own) == 16  # every slot taken; the other 4 threads share the creator's
        assert len({id(pair[0]) for pair in own}) == 16 and len({id(pair[1]) for pair in own}) == 16
    else:
        assert own == []
    refs = [weakref.ref(rw)] + [weakref.ref(v) for pair in got.values() for v in pair]
    del rw, creators, got, own, threads, r, w
    gc.collect()  # the lock, its views and every thread's: one cycle
    assert [ref() for ref in refs] == [None] * len(refs)


# ---------------------------------------------------------------------------
# Misuse: RuntimeError, and the state is exactly as before the call
# ---------------------------------------------------------------------------


# Releasing what this thread does not hold, and releases from another
# thread: test_bad_input.py (with the calls on locks not held).


@pytest.mark.parametrize("kwargs", [{}, {"blocking": False}, {"timeout": 2}, {"timeout": 0}])
def test_write_reacquire_by_holder(kwargs):
    rw = RWLock()
    rw.acquire_write()
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="already holds it"):
        rw.acquire_write(**kwargs)
    with pytest.raises(RuntimeError, match="already holds it"):
        rw.writer.acquire(**kwargs)
    assert time.monotonic() - t0 < 1.5  # refused at once, no waiting (2 calls)
    assert rw.write_locked is True
    rw.release_write()  # held exactly once
    assert_free(rw)


@pytest.mark.parametrize("kwargs", [{}, {"blocking": False}, {"timeout": 0.05}])
def test_upgrade_is_refused(kwargs):
    rw = RWLock()
    rw.acquire_read()
    rw.acquire_read()
    with pytest.raises(RuntimeError, match="holds a read lock"):
        rw.acquire_write(**kwargs)
    with pytest.raises(RuntimeError, match="holds a read lock"):
        rw.write(timeout=0.05).__enter__()
    assert (rw.readers, rw.write_locked) == (2, False)
    rw.release_read()
    rw.release_read()
    assert_free(rw)


@pytest.mark.parametrize("kwargs", [{}, {"blocking": False}, {"timeout": 0.05}])
def test_read_while_writing_is_refused(kwargs):
    rw = RWLock()
    rw.acquire_write()
    with pytest.raises(RuntimeError, match="downgrade"):
        rw.acquire_read(**kwargs)
    with pytest.raises(RuntimeError, match="downgrade"):
        rw.reader.acquire(**kwargs)
    assert (rw.readers, rw.write_locked) == (0, True)
    rw.release_write()
    assert_free(rw)


def test_downgrade_without_write_lock_is_refused():
    rw = RWLock()
    with pytest.raises(RuntimeError, match="does not hold the write lock"):
        rw.downgrade()
    assert (rw.readers, rw.write_locked) == (0, False)
    rw.acquire_read()
    with pytest.raises(RuntimeError, match="does not hold the write lock"):
        rw.downgrade()
    assert (rw.readers, rw.write_locked) == (1, False)
    rw.release_read()
    # Held by another thread: still not ours to downgrade.
    done = threading.Event()
    held = threading.Event()

    def holder():
        with rw.writer:
            held.set()
            done.wait(10)

    t = start(holder)
    assert held.wait(10)
    with pytest.raises(RuntimeError):
        rw.downgrade()
    assert (rw.readers, rw.write_locked) == (0, True)
    done.set()
    join(t)
    assert_free(rw)


# Bad arguments of the constructor, the acquires and the guards: test_bad_input.py.


def test_per_thread_read_table_limit():
    """Each thread tracks up to 32 distinct read-held RWLocks; the 33rd is
    refused (state unchanged) and downgrade is refused too while full.
    Run on a fresh thread: its table starts empty whatever earlier tests did."""
    run_threads(lambda i: _read_table_limit(), 1)


def _read_table_limit():
    locks = [RWLock() for _ in range(32)]
    for rw in locks:
        assert rw.acquire_read() is True
    extra = RWLock()
    with pytest.raises(RuntimeError, match="too many read locks"):
        extra.acquire_read()
    assert extra.readers == 0
    assert locks[0].acquire_read() is True  # recursion needs no new entry
    locks[0].release_read()
    extra.acquire_write()
    with pytest.raises(RuntimeError, match="too many read locks"):
        extra.downgrade()
    assert (extra.readers, extra.write_locked) == (0, True)  # still the writer
    extra.release_write()
    for rw in locks:
        rw.release_read()
    assert extra.acquire_read() is True
    extra.release_read()
    assert all(rw.readers == 0 for rw in locks)


def test_freeing_read_held_locks_frees_table_entries():
    """A lock freed while this thread read-holds it must not keep its entry:
    otherwise 32 such locks would lock the thread out of every RWLock."""
    for _ in range(100):
        rw = RWLock()
        rw.acquire_read()
        del rw
    rw = RWLock()
    assert rw.acquire_read() is True
    rw.release_read()


# ---------------------------------------------------------------------------
# Exclusion under stress
# ---------------------------------------------------------------------------


def test_stress_invariants():
    """Readers and writers hammer one lock through every entry point
    (acquire_*, views, timed guards, timed acquires, downgrade).  Inside each
    section: a writer is alone (no reader, no other writer); readers never
    see a writer; a writer's multi-step update is never seen half done; a
    downgraded writer still sees its own value (nobody wrote in between).

    Totals counted from the outside, not from tallies kept next to the
    sections: how many sections each thread must have run follows from the
    schedule (rounds and styles) and from the return value of each timed
    acquire; the writes are counted by a plain int bumped inside the write
    section (read, yield, write: two writers inside at once lose an update),
    the reads by an AtomicInt bumped inside the read section."""
    rw = RWLock()
    readers_in = AtomicInt(0)
    writers_in = AtomicInt(0)
    max_readers = AtomicInt(0)
    data = [0] * 8  # a writer sets all slots to one value, slot by slot
    writes = [0]  # plain int: only ever touched under the write lock
    reads = AtomicInt(0)
    rounds = 600 * SCALE
    n_readers, n_writers = 4, 2

    def check_read():
        reads.inc()
        n = readers_in.inc()
        max_readers.fetch_max(n)
        assert writers_in.load() == 0
        assert not rw.write_locked
        snapshot = list(data)
        assert snapshot.count(snapshot[0]) == len(snapshot), snapshot
        readers_in.dec()

    def write(token):
        assert writers_in.inc() == 1
        assert readers_in.load() == 0
        assert rw.readers == 0
        w = writes[0]
        for i in range(len(data)):
            data[i] = token
            if i == 3:
                time.sleep(0)
        writes[0] = w + 1
        assert writers_in.dec() == 0

    def reader(i):
        timed_ok = 0  # timed acquires that returned True
        for k in range(rounds):
            style = k % 4
            if style == 0:
                with rw.reader:
                    check_read()
            elif style == 1:
                with rw.read(timeout=10):
                    check_read()
            elif style == 2:
                if rw.acquire_read(timeout=0.0005):
                    timed_ok += 1
                    try:
                        check_read()
                    finally:
                        rw.release_read()
            else:
                rw.acquire_read()
                try:
                    check_read()
                    rw.acquire_read()  # recursive, maybe past a waiting writer
                    check_read()
                    rw.release_read()
                finally:
                    rw.release_read()
        return timed_ok

    def writer(i):
        timed_ok = 0
        for k in range(rounds // 2):
            token = (i + 1) * 1_000_000 + k
            style = k % 4
            if style == 0:
                with rw.writer:
                    write(token)
            elif style == 1:
                with rw.write(timeout=10):
                    write(token)
            elif style == 2:
                if not rw.acquire_write(timeout=0.0005):
                    continue
                timed_ok += 1
                try:
                    write(token)
                finally:
                    rw.release_write()
            else:
                rw.acquire_write()
                write(token)
                rw.downgrade()
                try:
                    readers_in.inc()
                    assert writers_in.load() == 0
                    assert data == [token] * len(data)
                    time.sleep(0)
                    assert data == [token] * len(data)  # no writer got in
                    readers_in.dec()
                finally:
                    rw.release_read()
        return timed_ok

    timed = run_threads(lambda i: reader(i) if i < n_readers else writer(i - n_readers), n_readers + n_writers)
    assert readers_in.load() == 0 and writers_in.load() == 0

    def styles(n):  # how many of k in range(n) have each style k % 4
        return [len(range(s, n, 4)) for s in range(4)]

    r0, r1, _, r3 = styles(rounds)
    w0, w1, _, w3 = styles(rounds // 2)
    assert reads.load() == n_readers * (r0 + r1 + 2 * r3) + sum(timed[:n_readers])
    assert writes[0] == n_writers * (w0 + w1 + w3) + sum(timed[n_readers:])
    assert max_readers.load() >= 1
    assert_free(rw)


def test_readers_really_overlap():
    """Three readers meet at a barrier *inside* the read section: possible
    only if all three hold the read lock at the same time."""
    rw = RWLock()
    n = 3
    inside = threading.Barrier(n, timeout=10)
    seen = []

    def reader(i):
        with rw.reader:
            inside.wait()  # BrokenBarrierError after 10 s if readers were serialised
            seen.append(rw.readers)
            inside.wait()

    run_threads(reader, n)
    assert seen == [n] * n
    assert_free(rw)


# ---------------------------------------------------------------------------
# Policy
# ---------------------------------------------------------------------------


def test_writer_gets_in_while_readers_keep_arriving():
    """Four readers each hold the lock ~1 ms and come straight back, staggered,
    so the reader count practically never drops to 0 by itself.  A
    reader-preferring lock would starve the writer (all its 2 s timeouts
    fail); writer preference holds new readers back so the writer gets in
    within a few read sections."""
    rw = RWLock()
    stop = threading.Event()
    reads = AtomicInt(0)

    def reader(i):
        time.sleep(0.00025 * i)
        while not stop.is_set():
            with rw.reader:
                time.sleep(0.001)
                reads.inc()

    readers = [start(reader, i) for i in range(4)]
    try:
        assert wait_until(lambda: reads.load() > 20)
        waits = []
        for _ in range(5):
            t0 = time.monotonic()
            got = rw.acquire_write(timeout=2)
            waits.append(time.monotonic() - t0)
            assert got is True, waits
            assert rw.readers == 0
            rw.release_write()
            time.sleep(0.01)
        assert max(waits) < 1.5, waits
    finally:
        stop.set()
        join(*readers)
    assert_free(rw)


def test_new_readers_wait_behind_a_waiting_writer():
    """Writer preference, step by step: with a read lock held and a writer
    waiting, a new reader (another thread) is refused even though only
    readers hold the lock; once the writer is through, it gets in."""
    rw = RWLock()
    rw.acquire_read()
    order = []
    w = start(lambda: (rw.acquire_write(), order.append("writer"), rw.release_write()))
    assert wait_until(lambda: not _other_thread_can_read(rw))  # the writer now waits
    r = blocked(start(lambda: (rw.acquire_read(), order.append("reader"), rw.release_read())), rw)
    assert order == [] and rw.readers == 1
    rw.release_read()
    join(w, r)
    assert order == ["writer", "reader"]
    assert_free(rw)


def _other_thread_can_read(rw):
    out = []

    def probe():
        got = rw.acquire_read(blocking=False)
        if got:
            rw.release_read()
        out.append(got)

    join(start(probe))
    return out[0]


def test_readers_not_starved_by_stream_of_writers():
    """Two writers each hold the lock ~1 ms and immediately come back for it.
    Waking the readers at each write release is not enough: a woken reader
    needs tens of microseconds to run, by which time a writer has the lock
    again.  The lock hands the next turn to the readers that waited (a read
    phase), so a reader gets in at the first write release after it starts
    waiting: at most 2 write sections complete during one read acquire (the
    one in progress, and one that may begin before the reader has announced
    itself).  Without the read phase this is typically 3-10, at times
    hundreds.  Counting sections, not seconds, keeps the test independent of
    the machine's speed, but not of preemption: a reader descheduled between
    its `before` and its announcing itself sees the writers' sections of that
    time too (a max of 4 in one of 100, in a CI run with two other jobs on the
    2 cores; more than 10 of 100 saw 3 or more on PyPy 3.9's cffi backend, whose acquire runs
    Python code before it announces itself, in check_release beside the
    sanitizer jobs, 2026-12-02).  So 80 of the 100 acquires must see at most 2:
    the typical case, which is what the read phase changes (without it the
    typical acquire sees 3-10)."""
    rw = RWLock()
    stop = threading.Event()
    writes = AtomicInt(0)

    def writer():
        while not stop.is_set():
            with rw.writer:
                time.sleep(0.001)
                writes.inc()

    passed = []

    def reader():  # not the main thread: no 50 ms wait slices
        for _ in range(100):
            before = writes.load()
            got = rw.acquire_read(timeout=10)
            passed.append(writes.load() - before)
            assert got is True
            assert rw.write_locked is False
            rw.release_read()
            time.sleep(0.001)

    writers = [start(writer) for _ in range(2)]
    try:
        assert wait_until(lambda: writes.load() > 10)
        join(start(reader), timeout=60)
    finally:
        stop.set()
        join(*writers)
    assert len(passed) == 100
    assert sorted(passed)[79] <= 2, sorted(passed)[-25:]
    assert_free(rw)


def test_waiting_readers_go_before_the_next_writer():
    """Deterministic form of the read phase: readers blocked by a writer get
    the lock at its release even though a second writer is waiting and the
    releasing writer immediately asks again."""
    rw = RWLock()
    rw.acquire_write()
    order = []
    lock = threading.Lock()

    def note(tag):
        with lock:
            order.append(tag)

    def reader(i):
        with rw.reader:
            note("r")
            time.sleep(0.02)

    def writer2():
        with rw.writer:
            note("w2")

    readers = [blocked(start(reader, i), rw) for i in range(3)]
    w2 = blocked(start(writer2), rw)
    assert order == []
    rw.release_write()
    # Coming straight back: the lock is the readers' now (a read phase, or
    # they are already in), even before any of them has had time to run.
    assert rw.acquire_write(blocking=False) is False
    assert rw.acquire_write(timeout=5) is True
    note("w1")
    rw.release_write()
    join(*readers, w2)
    assert order[:3] == ["r", "r", "r"], order
    assert sorted(order[3:]) == ["w1", "w2"]
    assert_free(rw)


def test_recursive_read_passes_waiting_writer():
    """A thread holding a read lock may take it again while a writer waits
    (documented in pa_rwlock.h): otherwise this would deadlock, the writer
    waiting for our first hold and our second read for the writer."""
    rw = RWLock()
    rw.acquire_read()
    got = []
    w = start(lambda: (got.append(rw.acquire_write(timeout=10)), rw.release_write()))
    assert wait_until(lambda: not _other_thread_can_read(rw))  # writer is waiting
    t0 = time.monotonic()
    assert rw.acquire_read(timeout=5) is True
    assert time.monotonic() - t0 < 3
    assert rw.readers == 2
    assert got == []
    rw.release_read()
    assert got == []  # still one hold
    rw.release_read()
    join(w)
    assert got == [True]
    assert_free(rw)


# ---------------------------------------------------------------------------
# Timeouts
# ---------------------------------------------------------------------------


def test_timeouts_while_held():
    rw = RWLock()
    results = {}

    def try_all(tag):
        t0 = time.monotonic()
        results[tag + "_read"] = got = rw.acquire_read(timeout=0.1)
        results[tag + "_read_t"] = time.monotonic() - t0
        if got:
            rw.release_read()
        t0 = time.monotonic()
        results[tag + "_write"] = got = rw.acquire_write(timeout=0.1)
        results[tag + "_write_t"] = time.monotonic() - t0
        if got:
            rw.release_write()
        got_read = rw.acquire_read(False)
        if got_read:
            rw.release_read()
        got_write = rw.acquire_write(False)
        if got_write:
            rw.release_write()
        results[tag + "_nb"] = (got_read, got_write)

    rw.acquire_write()
    join(start(try_all, "w"))
    assert results["w_read"] is False and results["w_write"] is False
    assert 0.1 <= results["w_read_t"] < 2 and 0.1 <= results["w_write_t"] < 2
    assert results["w_nb"] == (False, False)
    assert (rw.readers, rw.write_locked) == (0, True)
    rw.release_write()

    rw.acquire_read()
    join(start(try_all, "r"))
    assert results["r_read"] is True and results["r_read_t"] < 1
    assert results["r_write"] is False and 0.1 <= results["r_write_t"] < 2
    assert results["r_nb"] == (True, False)
    assert (rw.readers, rw.write_locked) == (1, False)
    rw.release_read()
    assert_free(rw)


def test_guards_raise_timeout_error():
    rw = RWLock()
    held = threading.Event()
    done = threading.Event()

    def hold(side):
        with side:
            held.set()
            done.wait(10)

    # Write-held elsewhere: both guards time out.
    t = start(hold, rw.writer)
    assert held.wait(10)
    for guard, word in ((rw.read, "read"), (rw.write, "write")):
        t0 = time.monotonic()
        with pytest.raises(TimeoutError, match=f"could not acquire the {word} lock within 0.100 s"):
            with guard(0.1):
                pytest.fail("entered a guard that should have timed out")
        assert 0.1 <= time.monotonic() - t0 < 2
        with pytest.raises(TimeoutError):
            with guard(timeout=0):
                pass
    assert (rw.readers, rw.write_locked) == (0, True)
    done.set()
    join(t)

    # Read-held elsewhere: the read guard enters, the write guard times out.
    held.clear()
    done.clear()
    t = start(hold, rw.reader)
    assert held.wait(10)
    guard = rw.read(0.1)
    assert type(guard).__name__ == "RWLockGuard"
    with guard as bound:
        assert rw.readers == 2
        # As `with rw.read() as x` and `with lock as x`: the with binds True.
        assert bound is True
    with pytest.raises(TimeoutError):
        with rw.write(0.1):
            pass
    assert (rw.readers, rw.write_locked) == (1, False)
    done.set()
    join(t)

    # Free: both enter, and leave nothing behind (also on exceptions).
    with rw.write(timeout=0):
        assert rw.write_locked
    with pytest.raises(KeyError):
        with rw.read(timeout=1):
            assert rw.readers == 1
            raise KeyError
    assert_free(rw)


def test_timeouts_under_contention_leave_lock_consistent():
    """Short timed acquires of both kinds (some writers downgrading) while
    others hold and wait: waiting bits are set and abandoned all the time.
    Timeouts of both kinds are made certain: thread 0 alternately holds the
    write lock until a reader has timed out and a read lock until a writer
    has.  Counted from the outside: every acquire's return value is tallied;
    a plain counter bumped inside the write sections (read, yield, write)
    must equal the successful write acquires, an AtomicInt bumped inside the
    read sections the successful read acquires; attempts add up.  Afterwards
    nothing may be left behind: the lock is free and shows no readers.
    (Also the single home of the "timeouts racing releases" fault test.)"""
    rw = RWLock()
    n_workers, rounds, holds = 5, 300, 10
    read_timeouts, write_timeouts = AtomicInt(0), AtomicInt(0)
    done = AtomicInt(0)
    writes = [0]  # plain int: only ever touched under the write lock
    reads = AtomicInt(0)
    writers_in = AtomicInt(0)
    forced = {"read": 0, "write": 0}  # holds of thread 0 during which the other kind timed out

    def hold_until(counter):
        """Hold until counter moves: until a waiter of the other kind gives up
        (bounded: the workers may all be done, or a broken lock never time out)."""
        seen = counter.load()
        deadline = time.monotonic() + 2
        while done.load() < n_workers and time.monotonic() < deadline:
            if counter.wait(seen, timeout=0.01):
                break
        return counter.load() != seen

    def holder():
        for _ in range(holds):
            with rw.writer:  # readers (and writers) time out against it
                w = writes[0]
                forced["read"] += hold_until(read_timeouts)
                writes[0] = w + 1
            with rw.reader:  # writers time out against it
                reads.inc()
                forced["write"] += hold_until(write_timeouts)
            time.sleep(0.0005)

    def worker(i):
        counts = {"w": 0, "r": 0, "wt": 0, "rt": 0}
        for k in range(rounds):
            t = 0.0001 * (1 + (i + k) % 5)
            if (i + k) % 3 == 0:
                if rw.acquire_write(timeout=t):
                    counts["w"] += 1
                    assert writers_in.inc() == 1 and rw.readers == 0
                    w = writes[0]
                    time.sleep(0.0001 if k % 4 == 0 else 0)
                    writes[0] = w + 1
                    writers_in.dec()
                    if k % 2:
                        rw.downgrade()  # a read hold now: no writer can get in
                        assert not rw.write_locked and rw.readers >= 1
                        rw.release_read()
                    else:
                        rw.release_write()
                else:
                    counts["wt"] += 1
                    write_timeouts.inc()
            else:
                if rw.acquire_read(timeout=t):
                    counts["r"] += 1
                    reads.inc()
                    assert not rw.write_locked and writers_in.load() == 0
                    time.sleep(0.0001 if k % 4 == 0 else 0)
                    rw.release_read()
                else:
                    counts["rt"] += 1
                    read_timeouts.inc()
        done.inc()
        return counts

    results = run_threads(lambda i: holder() if i == 0 else worker(i), n_workers + 1)
    total = {key: sum(c[key] for c in results[1:]) for key in ("w", "r", "wt", "rt")}
    assert all(sum(c.values()) == rounds for c in results[1:])
    assert writes[0] == total["w"] + holds  # no lost update: writers were alone
    assert reads.load() == total["r"] + holds
    assert (total["rt"], total["wt"]) == (read_timeouts.load(), write_timeouts.load())
    assert forced["read"] >= 1 and forced["write"] >= 1, forced  # both kinds of timeout happened while held
    assert total["w"] >= 1 and total["r"] >= 1
    assert_free(rw)


# ---------------------------------------------------------------------------
# downgrade
# ---------------------------------------------------------------------------


def test_downgrade_semantics():
    """downgrade() turns our write lock into a read lock with no gap: a
    writer that was already waiting does not get in, readers that were
    waiting do (they were blocked only by our write lock), and the waiting
    writer goes once every reader is gone."""
    rw = RWLock()
    rw.acquire_write()
    events = []
    lock = threading.Lock()

    def note(tag):
        with lock:
            events.append(tag)

    def writer2():
        rw.acquire_write()
        note(("w2", rw.readers))
        rw.release_write()

    release_readers = threading.Event()

    def reader():
        rw.acquire_read()
        note("r")
        release_readers.wait(10)
        rw.release_read()

    w2 = blocked(start(writer2), rw)
    readers = [blocked(start(reader), rw) for _ in range(2)]
    assert events == []
    rw.downgrade()
    assert rw.writer._is_owned() is False and rw.reader._is_owned() is True
    assert wait_until(lambda: events.count("r") == 2)
    assert rw.readers == 3 and rw.write_locked is False
    blocked(w2, rw)  # the waiting writer sleeps in acquire_write again...
    assert events == ["r", "r"]  # ...and did not get in
    # A new reader arriving now waits behind the waiting writer.
    assert _other_thread_can_read(rw) is False
    release_readers.set()
    join(*readers)
    assert events == ["r", "r"]  # still ours
    rw.release_read()
    join(w2)
    assert events == ["r", "r", ("w2", 0)]
    assert_free(rw)


def test_downgrade_inside_with_blocks():
    """Leaving a write block whose body downgraded releases the read lock."""
    rw = RWLock()
    for block in (rw.writer, rw.write(), rw.write(timeout=1)):
        with block:
            rw.downgrade()
            assert (rw.readers, rw.write_locked) == (1, False)
            assert _other_thread_can_read(rw) is True
        assert_free(rw)


# ---------------------------------------------------------------------------
# Condition on the write side, _at_fork_reinit
# ---------------------------------------------------------------------------


def test_condition_on_writer_producer_consumer():
    """Condition(rw.writer): wait() gives up the write lock (so the producer
    can take it) and has it again on return; items arrive exactly in order."""
    rw = RWLock()
    cond = threading.Condition(rw.writer)
    items = []
    n = 200
    received = []

    def consumer():
        for _ in range(n):
            with cond:
                assert cond.wait_for(lambda: items, timeout=10)
                assert rw.write_locked and rw.writer._is_owned()
                received.append(items.pop(0))
                cond.notify_all()

    def producer():
        for k in range(n):
            with cond:
                assert cond.wait_for(lambda: len(items) < 3, timeout=10)
                items.append(k)
                cond.notify_all()

    join(start(consumer), start(producer))
    assert received == list(range(n))
    assert_free(rw)


def test_at_fork_reinit():
    rw = RWLock()
    rw.acquire_write()
    rw._at_fork_reinit()
    assert_free(rw)
    rw.acquire_read()
    rw.acquire_read()
    rw._at_fork_reinit()  # forgets our read holds too
    assert rw.reader._is_owned() is False
    with pytest.raises(RuntimeError):
        rw.release_read()
    assert_free(rw)
    rw.acquire_read()
    rw.release_read()


def test_read_sections_run_concurrently():
    """Read sections really execute concurrently (on the free-threaded build
    in parallel; with the GIL, interleaved at the sleep): the count of
    readers inside reaches the number of reader threads."""
    rw = RWLock()
    inside = AtomicInt(0)
    peak = AtomicInt(0)

    def reader(i):
        for _ in range(200):
            with rw.reader:
                peak.fetch_max(inside.inc())
                time.sleep(0.0001)
                inside.dec()

    run_threads(reader, 2)
    assert peak.load() == 2
    assert_free(rw)
