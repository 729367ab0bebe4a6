"""A SIGINT every 0.25 ms into tight `with lock:` loops must never leave a lock held.

Regression test for a leak on the cffi backend (PyPy's only one): its
__enter__ is Python code, and a KeyboardInterrupt raised after the core
acquired the lock but before __enter__ returned skipped __exit__, so the lock
stayed held (6022 of 11053 interrupts leaked a SpinLock, 5541 of 10759 an
RWLock write lock, in one 4 s run on CPython 3.11 before the fix).  The C-API
backend's __enter__ is one C call and never leaked.  Where the interpreter's own
`with` statement leaks threading.Lock in the same storm (CPython 3.9 and
3.14.10), a hold leaked in the caller's frame is not held against us.

Each case runs in a child process (a leaked lock would hang the next round),
with the storm thread started only once the child is ready; the main thread
blocks SIGINT while it inspects the lock, so the check itself is not
interrupted.  "held" after a KeyboardInterrupt escaped the `with` statement is
a leak, counted from outside the lock.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest

import pyatomics
from conftest import UNDER_TSAN

CHILD = textwrap.dedent(
    r"""
    import json, os, signal, sys, threading, time, traceback
    import pyatomics
    from pyatomics import RWLock, SpinLock

    package = os.path.dirname(pyatomics.__file__)

    kind, seconds = sys.argv[1], float(sys.argv[2])
    main = threading.get_ident()
    go, stop = threading.Event(), threading.Event()

    def storm():
        # Stops by itself at the end: on a loaded machine handling one
        # KeyboardInterrupt can take longer than the 0.25 ms between two, and a
        # main thread that never got back to its clock would never stop it.
        go.wait()
        while not stop.is_set() and time.monotonic() < hard_end:
            signal.pthread_kill(main, signal.SIGINT)
            time.sleep(0.00025)

    TOP = sys._getframe().f_code

    def on_sigint(signum, frame):
        # Python's own SIGINT handler, but for one place: the loop at the end of
        # this script that restarts rounds().  An interrupt raised at its back
        # edge escapes every try and kills the child (exit -2: seen in CI, 3.13t
        # under load, 2026-12-01).  That loop is neither ours nor the caller's
        # code under test, so an interrupt landing there is dropped.  (A second
        # interrupt can land in this handler itself: then what counts is the
        # frame the first one interrupted.)
        while frame is not None and frame.f_code is on_sigint.__code__:
            frame = frame.f_back
        if frame is None or frame.f_code is TOP:
            return
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)

    rw = RWLock()
    sl = SpinLock()
    if kind == "threading.Lock":  # the control: the interpreter's own lock in the same storm
        tl = threading.Lock()
        enter, held, recover = (lambda: tl), tl.locked, tl.release
    elif kind == "spin":
        enter, held, recover = (lambda: sl), sl.locked, sl.release
    elif kind == "spin-acquire":
        enter, held, recover = None, sl.locked, sl.release
    elif kind in ("read", "read-timeout"):
        enter = (lambda: rw.reader) if kind == "read" else (lambda: rw.read(5))
        held, recover = (lambda: rw.readers > 0), rw.release_read
    else:
        enter = (lambda: rw.writer) if kind == "write" else (lambda: rw.write(5))
        held, recover = (lambda: rw.write_locked), rw.release_write

    def spin():
        # Back to rounds() (which reads the clock) every 1000 rounds: the storm
        # ends by itself, and no interrupt may be needed to end the loop.
        if enter is None:  # acquire()/release() pairs
            for _ in range(1000):
                if sl.acquire():
                    sl.release()
            return
        for _ in range(1000):
            with enter():
                pass

    interrupts = ours = entry = caller = 0
    end = hard_end = 0.0
    # At least `seconds`, and on until 200 interrupts have landed (a loaded machine
    # schedules the storm thread rarely: 4-14 interrupts in 0.6 s were seen), but
    # never past hard_end.
    ENOUGH = 200

    def over():
        now = time.monotonic()
        return now > hard_end or (now > end and interrupts >= ENOUGH)

    def rounds():
        global interrupts, ours, entry, caller
        while True:
            try:
                if over():
                    return
                spin()
            except KeyboardInterrupt as exc:
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
                interrupts += 1
                if held():
                    # Raised inside pyatomics code: ours.  Raised in this frame,
                    # the caller's: with acquire()/release() pairs that is the
                    # caller's own window (as with threading.Lock); in a `with`
                    # statement it is the interpreter's, unless the interpreter
                    # protects its own lock there (the test compares).
                    # The frame the interrupt landed in: the last before
                    # on_sigint's.
                    tb = exc.__traceback__
                    while tb.tb_next is not None and tb.tb_next.tb_frame.f_code is not on_sigint.__code__:
                        tb = tb.tb_next
                    if tb.tb_frame.f_code.co_filename.startswith(package):
                        # At the first instruction of one of our Python frames (the
                        # cffi binding's methods), before any of its code ran: for
                        # acquire()/release() pairs the caller's window (as if raised
                        # just before the call); for `with`, the entry of __exit__,
                        # which no Python code can guard.
                        if tb.tb_lasti <= 0 and enter is None:
                            pass  # not counted, as the caller's own frame below
                        elif tb.tb_lasti <= 0:
                            entry += 1
                        else:
                            ours += 1
                    elif enter is not None:
                        caller += 1
                    recover()
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    t = threading.Thread(target=storm, daemon=True)
    t.start()
    end = time.monotonic() + seconds
    hard_end = end + 5.0
    go.set()
    while True:
        try:
            rounds()
            # Blocked before leaving the try: an interrupt already on its way
            # is raised at the next bytecode, still in here.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            break
        except KeyboardInterrupt:
            pass  # landed in rounds() outside its try: nothing was held there
    stop.set()
    t.join()
    print(json.dumps({"interrupts": interrupts, "ours": ours, "entry": entry, "caller": caller}))
    """
)

needs_pthread_kill = pytest.mark.skipif(
    not hasattr(__import__("signal"), "pthread_kill"), reason="signal.pthread_kill is POSIX-only"
)
# ThreadSanitizer defers a signal's handler to its own next intercepted call,
# past the child's pthread_sigmask: under it the storm child died of a
# KeyboardInterrupt outside every try (exit -2, 5 of 6 kinds, 2026-12-01), which
# it never does uninstrumented.  The storm measures signal timing, which TSan
# changes; tests/test_interrupt.py's single interrupts run under it.
pytestmark = pytest.mark.skipif(UNDER_TSAN, reason="ThreadSanitizer defers signal delivery (see the comment)")


def storm(kind, tmp_path):
    # The backend under test: scripts/test.sh runs the suite once per backend.
    env = dict(os.environ, PYATOMICS_BACKEND=pyatomics.BACKEND)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, kind, "0.6"],
        env=env,
        cwd=tmp_path,  # not the source root, whose pyatomics/ would shadow the installed one
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # The storm must really have interrupted the loop many times, or the test proves
    # nothing (PyPy 3.11 in the sid chroot managed 47 in 0.6 s on a loaded machine).
    assert result["interrupts"] >= 20, result
    return result


@pytest.fixture(scope="module")
def interpreter_with_is_atomic(tmp_path_factory):
    """Whether this interpreter's `with` statement keeps threading.Lock from
    leaking in the same storm.  It does not on CPython 3.9 (bpo-29988, fixed in
    3.10: 124 of 182 interrupts leaked it on 3.9.18) nor on CPython 3.14.10
    (27 of 364); it does on 3.10-3.13 and 3.15.  Where it does not, a hold
    leaked in the caller's own frame is the interpreter's, not ours."""
    result = storm("threading.Lock", tmp_path_factory.mktemp("control"))
    return result["caller"] == 0


def window_bound(result):
    """How many interrupts may land in the window no Python code can guard (the
    first instruction of a cffi method, and on PyPy and CPython 3.9 between two
    of its bytecodes).  The rate seen is 0-0.8% and it grows with the machine's
    load (3 of 372 on PyPy 3.11 in CI); a bound at the rate itself failed on a
    small sample, so it is set at 5% + 2: far above the noise, far below the
    ~50% that a binding without the fix leaks (the interrupt then lands anywhere
    between the acquire's return and the release)."""
    return 2 + result["interrupts"] // 20


@needs_pthread_kill
@pytest.mark.parametrize("kind", ["spin", "spin-acquire", "read", "write", "read-timeout", "write-timeout"])
def test_sigint_storm_never_leaks_a_hold(kind, tmp_path, interpreter_with_is_atomic):
    result = storm(kind, tmp_path)
    if platform.python_implementation() == "PyPy" or sys.version_info < (3, 10):
        # PyPy's interpreter and CPython 3.9's check for signals before (almost)
        # every bytecode, so a KeyboardInterrupt can still land inside a cffi
        # method between two of its bytecodes, or on the first bytecode of
        # __exit__, before the release (docs/reliability.md): measured 0-2 leaks
        # per 1,100-5,000 interrupts there, and 3 of 372 on PyPy 3.11 in CI under
        # load, against ~50% before the fix.
        assert result["ours"] + result["entry"] <= window_bound(result), result
    else:
        # CPython 3.10+ checks only at a function's entry, at loop back edges and
        # after calls: no window inside our methods, so none may leak there.  The
        # entry of the cffi binding's Python-level __exit__ remains (its first
        # instruction, before any of its code ran: 2 of 1,141 and 1 of 800 in CI
        # on 2026-12-01 under load); the C-API binding has no Python frame at all.
        assert result["ours"] == 0, result
        if pyatomics.BACKEND == "capi":
            assert result["entry"] == 0, result
        else:
            assert result["entry"] <= window_bound(result), result
    if interpreter_with_is_atomic:
        # PyPy's control can come out clean in a 0.6 s storm while its `with`
        # still has a window (1 of 72 on PyPy 3.11; on PyPy 3.9 in CI 0 for the
        # control, then 5 of 284 for write-timeout), hence the window's slack
        # there.
        slack = window_bound(result) if platform.python_implementation() == "PyPy" else 0
        assert result["caller"] <= slack, result
