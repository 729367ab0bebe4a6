"""RWLock optimistic reads (as Java's StampedLock): optimistic_read() and validate().

The contract (csrc/pa_rwlock.h, "Optimistic reads"): optimistic_read() returns a
stamp, 0 while a writer holds the lock; validate(stamp) is True exactly when the
stamp is not 0 and no write acquisition has taken effect since it was taken.
Every write acquisition invalidates (acquire_write, the views, the guards, a
section later downgraded), and only those: read locks, and write attempts that
never acquired (timed out, refused as misuse), leave stamps valid.  Any integer
is a question validate() answers (False for one never issued); a non-integer is
TypeError (csrc/pa_contract.h, "stamps").

The storm test is where a broken protocol shows: writers change a pair (a, b)
one field at a time inside their write sections, with a thread switch (or, on
the free-threaded build, real parallelism) in between, and every optimistic
reader whose validate() says True must have seen a == b.  It also requires torn
reads to have happened (and been refused), so it cannot pass without testing
something.  Parallelism: real on 3.13t (capi); on a GIL build the sleep(0)
inside each write section hands the GIL to the readers mid-section.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import SCALE, join, run_threads, start, wait_blocked

import pyatomics
from pyatomics import AtomicInt, RWLock

TESTS = os.path.dirname(os.path.abspath(__file__))


def assert_valid(rw, stamp):
    assert stamp != 0
    assert rw.validate(stamp) is True


# ---------------------------------------------------------------------------
# Stamps of a free lock, and of a write-locked one
# ---------------------------------------------------------------------------


def test_free_lock_gives_a_stable_valid_stamp():
    rw = RWLock()
    s = rw.optimistic_read()
    assert type(s) is int and s > 0
    assert rw.optimistic_read() == s  # nothing happened in between: the same stamp
    assert rw.validate(s) is True
    assert rw.validate(s) is True  # validating changes nothing
    assert rw.readers == 0 and rw.write_locked is False


WRITE_HOLDS = {
    # name -> (enter(rw), leave(rw))
    "acquire_write()": (lambda rw: rw.acquire_write(), lambda rw: rw.release_write()),
    "acquire_write(blocking=False)": (lambda rw: rw.acquire_write(blocking=False), lambda rw: rw.release_write()),
    "acquire_write(timeout=5)": (lambda rw: rw.acquire_write(timeout=5), lambda rw: rw.release_write()),
    "writer.acquire()": (lambda rw: rw.writer.acquire(), lambda rw: rw.writer.release()),
    "with rw.writer": (lambda rw: rw.writer.__enter__(), lambda rw: rw.writer.__exit__(None, None, None)),
    "with rw.write()": (lambda rw: rw.write().__enter__(), lambda rw: rw.write().__exit__(None, None, None)),
}


def _timed_guard_hold():
    guard = {}

    def enter(rw):
        guard["g"] = rw.write(timeout=5)
        return guard["g"].__enter__()

    def leave(rw):
        guard["g"].__exit__(None, None, None)

    return enter, leave


@pytest.fixture(params=sorted(WRITE_HOLDS) + ["with rw.write(timeout=5)"])
def write_hold(request):
    if request.param == "with rw.write(timeout=5)":
        return _timed_guard_hold()
    return WRITE_HOLDS[request.param]


def test_stamp_is_zero_while_write_locked(write_hold):
    enter, leave = write_hold
    rw = RWLock()
    before = rw.optimistic_read()
    assert enter(rw) is True
    assert rw.optimistic_read() == 0
    seen = []
    join(start(lambda: seen.append(rw.optimistic_read())))  # another thread sees it too
    assert seen == [0]
    assert rw.validate(0) is False
    # The write sequence is odd now (before + 1): an odd "stamp" equal to it is
    # never valid, or validate() would vouch for a writer mid-section.
    assert rw.validate(before + 1) is False
    assert rw.validate(before) is False
    leave(rw)
    assert rw.write_locked is False


def test_every_write_acquisition_invalidates(write_hold):
    enter, leave = write_hold
    rw = RWLock()
    s0 = rw.optimistic_read()
    assert enter(rw) is True
    leave(rw)
    assert rw.validate(s0) is False
    s1 = rw.optimistic_read()
    assert_valid(rw, s1)
    assert s1 != s0
    assert rw.validate(s0) is False  # and stays invalid
    assert rw.readers == 0 and rw.write_locked is False


def test_stamps_are_never_reissued():
    rw = RWLock()
    stamps = [rw.optimistic_read()]
    for _ in range(50):
        with rw.writer:
            pass
        stamps.append(rw.optimistic_read())
    assert len(set(stamps)) == len(stamps)
    assert all(rw.validate(s) is False for s in stamps[:-1])
    assert_valid(rw, stamps[-1])


@pytest.mark.parametrize("how", ["rw.downgrade()", "with rw.writer: rw.downgrade()"])
def test_downgrade_invalidates_and_never_revalidates(how):
    """The write part of a downgraded section invalidates; after the downgrade the
    lock is read-held: a new stamp is valid, the old one stays invalid (the
    downgrade's even value is a new one, never the value before the section)."""
    rw = RWLock()
    s0 = rw.optimistic_read()
    if how == "rw.downgrade()":
        rw.acquire_write()
        assert rw.optimistic_read() == 0
        rw.downgrade()
        inside = (rw.optimistic_read(), rw.validate(s0), rw.readers)
        rw.release_read()
    else:
        with rw.writer:
            assert rw.optimistic_read() == 0
            rw.downgrade()
            inside = (rw.optimistic_read(), rw.validate(s0), rw.readers)
    s1, s0_valid, readers = inside
    assert readers == 1
    assert s0_valid is False
    assert s1 not in (0, s0)
    assert rw.validate(s1) is True  # releasing the read lock changes nothing
    assert rw.validate(s0) is False
    assert rw.readers == 0 and rw.write_locked is False


def test_a_writer_invalidates_only_once_it_acquires():
    """A writer parked behind a reader has not acquired: stamps stay valid until it
    gets the lock; its section invalidates them."""
    rw = RWLock()
    rw.acquire_read()
    s = rw.optimistic_read()
    got = []
    t = start(lambda: (got.append(rw.acquire_write()), rw.release_write()))
    wait_blocked(t.native_id, rw)
    assert_valid(rw, s)  # waiting for the lock is not holding it
    rw.release_read()
    join(t)
    assert got == [True]
    assert rw.validate(s) is False


# ---------------------------------------------------------------------------
# What does not invalidate
# ---------------------------------------------------------------------------


def test_read_locks_do_not_invalidate():
    rw = RWLock()
    s = rw.optimistic_read()
    rw.acquire_read()
    assert rw.optimistic_read() == s  # read-held: the same stamp
    rw.acquire_read()  # recursive
    rw.release_read()
    rw.release_read()
    with rw.reader:
        pass
    with rw.read():
        pass
    with rw.read(timeout=1):
        pass
    assert rw.reader.acquire(timeout=1) is True
    rw.reader.release()
    run_threads(lambda i: [rw.reader.__enter__(), rw.reader.__exit__(None, None, None)], 4)
    assert_valid(rw, s)
    assert rw.optimistic_read() == s


def test_failed_write_attempts_do_not_invalidate():
    """Attempts that never acquired the write lock changed no data: no timeout,
    no refused misuse, no failed release invalidates a stamp."""
    rw = RWLock()
    s = rw.optimistic_read()
    # misuse on a free lock, nothing held: all refused
    with pytest.raises(RuntimeError):
        rw.release_write()
    with pytest.raises(RuntimeError):
        rw.downgrade()
    with pytest.raises(RuntimeError):
        rw.writer.release()
    assert_valid(rw, s)
    # this thread holds a read lock: an upgrade is refused, nothing taken
    rw.acquire_read()
    with pytest.raises(RuntimeError, match="upgrade"):
        rw.acquire_write()
    with pytest.raises(RuntimeError):
        rw.acquire_write(blocking=False)
    assert_valid(rw, s)
    # another thread's attempts while this one read-holds: single attempt,
    # timeouts (one parked until its deadline), a timed guard's TimeoutError
    results = []

    def attempts():
        results.append(rw.acquire_write(blocking=False))
        results.append(rw.acquire_write(timeout=0.01))
        results.append(rw.writer.acquire(timeout=0.01))
        try:
            with rw.write(timeout=0.01):
                results.append("entered")
        except TimeoutError:
            results.append("TimeoutError")

    join(start(attempts))
    assert results == [False, False, False, "TimeoutError"]
    assert_valid(rw, s)
    rw.release_read()
    assert_valid(rw, s)
    assert rw.optimistic_read() == s
    assert rw.readers == 0 and rw.write_locked is False


def test_reinit_invalidates_every_stamp():
    """_at_fork_reinit forgets a writer that may have been mid-section: no stamp
    issued before it validates after it, free or write-held when it ran."""
    rw = RWLock()
    s = rw.optimistic_read()
    rw._at_fork_reinit()
    assert rw.validate(s) is False
    s1 = rw.optimistic_read()
    assert_valid(rw, s1)
    rw.acquire_write()
    rw._at_fork_reinit()  # forgets this thread's write hold too
    assert rw.write_locked is False
    s2 = rw.optimistic_read()
    assert_valid(rw, s2)
    assert s2 not in (s, s1)
    assert rw.validate(s1) is False
    with rw.writer:
        assert rw.optimistic_read() == 0
    assert rw.validate(s2) is False


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_stamps_across_fork():
    """In a child, a stamp from before the fork stays valid while no write section
    intervenes (its memory was copied as it was); a write section or a reinit
    invalidates it.  A fork while the forking thread write-holds: 0 in the child
    until its release_write, which then invalidates the parent's stamps."""
    script = textwrap.dedent(f"""
        import os, sys, warnings
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        sys.path.insert(0, {TESTS!r})
        import conftest  # the installed pyatomics, not the source tree
        from pyatomics import RWLock

        in_child = conftest.in_forked_child

        rw = RWLock()
        s = rw.optimistic_read()
        results = []
        results.append(in_child(lambda: rw.validate(s)))
        def write_then_check():
            with rw.writer:
                pass
            return not rw.validate(s)
        results.append(in_child(write_then_check))
        def reinit_then_check():
            rw._at_fork_reinit()
            return not rw.validate(s) and rw.validate(rw.optimistic_read())
        results.append(in_child(reinit_then_check))
        rw.acquire_write()
        def held():
            if rw.optimistic_read() != 0:
                return False
            rw.release_write()
            return not rw.validate(s) and rw.validate(rw.optimistic_read())
        results.append(in_child(held))
        rw.release_write()
        print(results)
    """)
    # 240 s: under ThreadSanitizer, on a loaded machine, the child's start
    # (conftest imports pytest and hypothesis) and its four forks ran past 60 s
    # in CI; it takes well under a second uninstrumented.
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[0, 0, 0, 0]", out.stdout + out.stderr


# ---------------------------------------------------------------------------
# Arguments of validate (csrc/pa_contract.h: stamps)
# ---------------------------------------------------------------------------


class Index:
    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value


@pytest.mark.parametrize("bad", ["2", 2.0, 2.5, None, b"2", [2], 2j], ids=repr)
def test_validate_refuses_non_integers(bad):
    rw = RWLock()
    s = rw.optimistic_read()
    with pytest.raises(TypeError) as info:
        rw.validate(bad)
    assert str(info.value) == (
        f"validate() argument must be an int (a stamp from optimistic_read()), not '{type(bad).__name__}'"
    )
    assert_valid(rw, s)  # state unchanged
    assert rw.optimistic_read() == s


def test_integers_never_issued_validate_false():
    rw = RWLock()
    s = rw.optimistic_read()
    never = [0, -s, s - 1, s + 1, s + 2, -1, True, False, 2**63 - 1, 2**63, 2**64, 2**64 + s,
             -(2**63), -(2**64) + s, 2**200, -(2**200)]
    for value in never:
        assert rw.validate(value) is False, value
    assert rw.validate(Index(s)) is True  # any __index__ carries a stamp
    assert rw.validate(AtomicInt(s)) is True
    assert rw.validate(Index(2**64 + s)) is False
    with pytest.raises(TypeError):
        rw.validate(Index("2"))  # __index__ returning a non-int: the interpreter's TypeError
    with pytest.raises(TypeError):
        rw.validate()
    with pytest.raises(TypeError):
        rw.validate(s, s)
    with pytest.raises(TypeError):
        rw.optimistic_read(s)
    assert_valid(rw, s)


def test_index_raising_propagates():
    class Raises:
        def __index__(self):
            raise ZeroDivisionError("from __index__")

    rw = RWLock()
    with pytest.raises(ZeroDivisionError, match="from __index__"):
        rw.validate(Raises())


# ---------------------------------------------------------------------------
# Consistent pairs under a writer storm
# ---------------------------------------------------------------------------


class Pair:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = self.b = 0


@pytest.mark.parametrize("writers", [1, 2])
def test_validated_reads_are_consistent_under_a_writer_storm(writers):
    """Writers set (a, b) to (v, v) one field at a time, handing the CPU away in
    between; optimistic readers read both and validate.  Every read that
    validates True saw a == b; torn reads did happen and were all refused (so the
    test has teeth); a reader that fails falls back to a read lock, which sees
    a == b too.  Counted from outside: validations True, False, torn reads."""
    rw = RWLock()
    pair = Pair()
    readers = 3
    sections = 200 * SCALE
    done = AtomicInt(0)
    valid, invalid, zero, torn, fallback_bad, bad = (AtomicInt(0) for _ in range(6))

    def writer(i):
        for n in range(sections):
            v = i * sections + n + 1
            with rw.writer:
                pair.a = v
                # hand the GIL (or the core) to a reader mid-section; now and
                # then a real sleep (PyPy's sleep(0) keeps its GIL)
                time.sleep(0 if n % 8 else 1e-5)
                pair.b = v
        done.inc()

    def reader(i):
        # until the writers are done, and at least long enough to see some
        local_valid = 0
        while done.load() < writers or local_valid < 10:
            stamp = rw.optimistic_read()
            a, b = pair.a, pair.b
            if stamp == 0:
                zero.inc()
            if rw.validate(stamp):
                local_valid += 1
                valid.inc()
                if a != b:
                    bad.inc()
                continue
            invalid.inc()
            if a != b:
                torn.inc()
            with rw.reader:  # the fallback of the documented pattern
                if pair.a != pair.b:
                    fallback_bad.inc()

    def body(i):
        return writer(i) if i < writers else reader(i - writers)

    # GIL builds: the capi methods keep the GIL (they never block), so a reader
    # would hold it for a whole switch interval each time a writer hands it over
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        run_threads(body, writers + readers)
    finally:
        sys.setswitchinterval(interval)
    assert bad.load() == 0, f"{bad.load()} validated reads saw a != b"
    assert fallback_bad.load() == 0
    assert valid.load() >= 10 * readers
    assert invalid.load() > 0
    assert torn.load() > 0, "no reader ever overlapped a write section: the test tested nothing"
    assert pair.a == pair.b
    assert pair.a in {i * sections + sections for i in range(writers)}  # some writer's last section
    assert rw.readers == 0 and rw.write_locked is False


def test_optimistic_readers_do_not_block_writers():
    """An optimistic reader holds nothing: a writer gets the lock between its
    optimistic_read and its validate, which then says False."""
    rw = RWLock()
    stamp = rw.optimistic_read()
    assert rw.acquire_write(blocking=False) is True
    rw.release_write()
    assert rw.validate(stamp) is False
    assert rw.readers == 0 and rw.write_locked is False


@pytest.mark.skipif(pyatomics.BACKEND != "capi", reason="the C-API methods' flags")
def test_capi_text_signatures():
    assert RWLock.optimistic_read.__text_signature__ == "($self, /)"
    assert RWLock.validate.__text_signature__ == "($self, stamp, /)"


def test_checked_rwlock_passes_optimistic_reads_through():
    """pyatomics.sync's CheckedRWLock: the same stamps, and an optimistic read is
    no ordering event (it holds nothing: the thread's held table stays empty)."""
    from pyatomics import sync

    def held():
        return {key: entry[1] for key, entry in sync._held().items()}

    rw = sync.CheckedRWLock(name="opt")
    before = held()
    s = rw.optimistic_read()
    assert rw.validate(s) is True
    assert held() == before and rw._node.key not in before
    with rw.write():
        assert rw.optimistic_read() == 0
    assert rw.validate(s) is False
    with pytest.raises(TypeError, match="must be an int"):
        rw.validate("x")
    assert held() == before
