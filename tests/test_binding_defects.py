"""Regression tests for defects found by review in the two bindings.

Each failed on the code before its fix; the crash reproducers run in a child
process, since the old code took the interpreter down.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

import pyatomics
from pyatomics import AtomicInt, RWLock, SpinLock
from conftest import join, start, wait_blocked

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def run_child(code: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,  # not the source root: its pyatomics/ would shadow the installed package
        env={**__import__("os").environ, "PYATOMICS_BACKEND": pyatomics.BACKEND},
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- 1. an AtomicInt subclass that overrides a comparison --------------------


def test_subclass_overriding_eq_does_arithmetic_without_recursion(tmp_path):
    # Before: C(5) + 1 recursed until the C stack overflowed (exit 139) on the
    # C-API backend, which recognised an AtomicInt by its comparison slot.
    proc = run_child(
        """
        from pyatomics import AtomicInt
        class C(AtomicInt):
            def __eq__(self, other):
                return "custom"
            __hash__ = None
        a = C(5)
        print(a + 1, 1 + a, a * 2, -a, a < 3, a > 3, a == 5, a - C(2), divmod(a, 2), int(a))
        a += 2
        print(type(a).__name__, a.load())
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["6 6 10 -5 False True custom 3 (2, 1) 5", "C 7"]


# --- 2. helper types cannot be built from Python -----------------------------


def handed_out():
    rw = RWLock()
    return {
        "AtomicInt": AtomicInt(1),
        "SpinLock": SpinLock(),
        "RWLock": rw,
        "reader": rw.reader,
        "writer": rw.writer,
        "read(1)": rw.read(1),
        "write(1)": rw.write(1),
    }


@pytest.mark.parametrize("name", ["reader", "writer", "read(1)", "write(1)"])
def test_helper_types_refuse_construction(name, tmp_path):
    # Before: type(rw.read(1))() made a guard with a NULL lock, and `with` on it
    # segfaulted (C-API backend); the view type had the same hole.  Run in a
    # child in case construction "succeeds" and the use crashes.
    proc = run_child(
        f"""
        from pyatomics import RWLock, AtomicInt, SpinLock
        rw = RWLock()
        obj = {{"reader": rw.reader, "writer": rw.writer, "read(1)": rw.read(1), "write(1)": rw.write(1)}}[{name!r}]
        for args in ((), (rw,), (rw, True), (rw, True, 10**9)):
            try:
                made = type(obj)(*args)
            except TypeError as e:
                assert "cannot create" in str(e), e
            else:
                with made:
                    pass
                raise SystemExit("constructed " + repr(made))
        print("refused")
        """,
        tmp_path,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    assert proc.stdout.strip() == "refused"


@pytest.mark.parametrize("name", ["AtomicInt", "SpinLock", "RWLock"])
def test_public_types_construct_fresh_objects(name):
    obj = handed_out()[name]
    fresh = type(obj)()
    assert type(fresh) is type(obj) and fresh is not obj


# --- 8. cffi: the overflow check must not read state others can overwrite ---


@pytest.mark.parametrize(
    "start_value, call, expected",
    [
        (INT64_MIN + 1, lambda a: a.dec(), INT64_MIN),  # a result equal to the cffi sentinel
        (INT64_MIN, lambda a: a.fetch_add(0), INT64_MIN),
        (INT64_MIN + 5, lambda a: a.sub(5), INT64_MIN),
        (INT64_MIN, lambda a: a.fetch_sub(-1), INT64_MIN),
    ],
)
def test_sentinel_valued_results_are_results(start_value, call, expected):
    a = AtomicInt(start_value)
    assert call(a) == expected


def test_overflow_detected_even_if_code_runs_between_calls():
    # Before (cffi): an overflow returned a sentinel and set a thread-local
    # flag, read by a second call.  Code running on the same thread in between
    # (here a trace function; in real life a signal handler or a finalizer)
    # that made a legitimate sentinel-valued result cleared the flag, and the
    # overflowing call returned INT64_MIN as if it had succeeded.
    a = AtomicInt(INT64_MIN)
    other = AtomicInt(INT64_MIN)

    def tracer(frame, event, arg):
        if frame.f_code.co_name == "dec" and event == "line":
            other.fetch_add(0)  # a sentinel-valued result that is not an overflow
        return tracer

    sys.settrace(tracer)
    try:
        with pytest.raises(OverflowError):
            a.dec()
    finally:
        sys.settrace(None)
    assert a.load() == INT64_MIN  # unchanged


# --- 9. the views have the protocol threading.Condition uses -----------------


def test_views_at_fork_reinit_resets_the_lock():
    rw = RWLock()
    for view in (rw.reader, rw.writer):
        assert view.acquire()
        view._at_fork_reinit()
        assert (rw.readers, rw.write_locked) == (0, False)
        assert rw.writer.acquire(blocking=False)
        rw.writer.release()


def test_condition_at_fork_reinit_on_a_view():
    rw = RWLock()
    cond = threading.Condition(rw.writer)
    assert cond.acquire()  # held when the process forks...
    cond._at_fork_reinit()  # ...and reset in the child, as threading and concurrent.futures do
    assert (rw.readers, rw.write_locked) == (0, False)
    with cond:
        assert cond.wait(0.01) is False


# --- 10h. locked() on the views ---------------------------------------------


def test_locked_means_held_or_would_block():
    rw = RWLock()
    assert (rw.reader.locked(), rw.writer.locked()) == (False, False)
    rw.acquire_write()
    # Before: rw.reader.locked() was False here, though no reader can get in.
    assert (rw.reader.locked(), rw.writer.locked()) == (True, True)
    rw.release_write()
    rw.acquire_read()
    assert (rw.reader.locked(), rw.writer.locked()) == (True, True)
    rw.release_read()
    assert (rw.reader.locked(), rw.writer.locked()) == (False, False)


def test_reader_locked_while_a_writer_waits():
    rw = RWLock()
    holder_in, holder_out = threading.Event(), threading.Event()

    def hold_read():
        with rw.reader:
            holder_in.set()
            holder_out.wait(20)

    h = start(hold_read)
    assert holder_in.wait(20)
    w = start(lambda: rw.writer.acquire(timeout=20) and rw.writer.release())
    wait_blocked(w.native_id, rw)
    # A writer waits: writer preference refuses new readers, so locked() says so.
    assert rw.reader.locked() is True
    got = []
    t = start(lambda: got.append(rw.reader.acquire(blocking=False)))
    join(t)
    assert got == [False]
    holder_out.set()
    join(h, w)
    assert (rw.reader.locked(), rw.writer.locked()) == (False, False)
