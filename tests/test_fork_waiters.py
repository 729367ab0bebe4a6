"""fork() while other threads wait on a lock: the child must not inherit them.

The child of a fork has one thread, the one that forked, and a copy of every
lock's word, waiting bits and waiter counts included.  Before the fix, an RWLock
in the child acted on waiters that do not exist there:

* the forking thread holds the write lock (as with os.register_at_fork(
  before=rw.acquire_write, after_in_child=rw.release_write)) while another
  thread waits in acquire_read(): in the child, release_write() started a read
  phase for that phantom reader, and every later acquire_write() blocked
  forever on a free lock;
* the forking thread holds a read lock while another thread waits in
  acquire_write(): in the child, the phantom writer held back every new reader
  (and its count kept the stale bit from being cleared).

The core now resets a lock's waiter state the first time a slow path meets it
in a new child (csrc/pa_rwlock.c, "fork()"); the forking thread's own holds are
kept.  SpinLock's "maybe sleepers" state costs the child only one futile wake;
its test guards that the same sequence works.  Last: after a fork from a
non-main thread, that thread is the child's main thread, the one that must wake
to run signal handlers; pyatomics used to keep the parent's main-thread ident.

Each scenario runs in a child interpreter (subprocess, timeout) that forks
again; the grandchild's results come back through its exit status.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import pyatomics

pytestmark = [
    pytest.mark.forks,
    pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "emscripten", reason="needs os.fork"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

TESTS = os.path.dirname(os.path.abspath(__file__))

# Common head of every script: the installed pyatomics (the source checkout
# must not shadow it), wait_blocked, and fork_and_check(child) which runs
# child() in a forked process and returns what it reported.
HEAD = f"""
import json, os, signal, sys, threading, time, traceback, warnings
# Forking with threads running is the point here: 3.12+ warn about it, and the
# suite runs with warnings as errors on some interpreters (PYTHONWARNINGS=error).
warnings.filterwarnings("ignore", message=".*multi-threaded, use of fork", category=DeprecationWarning)
sys.path.insert(0, {TESTS!r})
from conftest import wait_blocked
from pyatomics import RWLock, SpinLock

def fork_and_check(child):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            report = child()
        except BaseException:
            report = {{"error": traceback.format_exc()}}
            code = 3
        os.write(w, json.dumps(report).encode())
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        report = json.loads(f.read() or b"{{}}")
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (status, report)
    return report

def take(acquire, release, **kwargs):
    # acquire(**kwargs), released at once if it succeeded; what acquire returned
    got = acquire(**kwargs)
    if got:
        release()
    return got

def in_thread(func):
    out = []
    t = threading.Thread(target=lambda: out.append(func()))
    t.start()
    t.join(20)
    assert not t.is_alive(), "thread of the child still blocked"
    return out[0]
"""


def run_script(body: str, timeout: float = 60.0) -> dict:
    """Run HEAD + body in a fresh interpreter (same backend); it prints one JSON line."""
    import json

    env = dict(os.environ, PYATOMICS_BACKEND=pyatomics.BACKEND)
    script = HEAD + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd="/", capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_rwlock_write_held_reader_waiting_at_fork():
    seen = run_script("""
        rw = RWLock()
        assert rw.acquire_write()          # what register_at_fork(before=acquire_write) does
        t = threading.Thread(target=lambda: (rw.acquire_read(), rw.release_read()), daemon=True)
        t.start()
        wait_blocked(t.native_id, rw)      # the reader sleeps: READERS_WAITING, read_waiters 1

        def child():
            rw.release_write()             # after_in_child=release_write
            seen = {"after_release": [rw.write_locked, rw.readers]}
            seen["write"] = rw.acquire_write(timeout=5)   # blocked forever before the fix
            if seen["write"]:
                rw.release_write()
            seen["read"] = rw.acquire_read(timeout=5)
            if seen["read"]:
                rw.release_read()
            seen["thread_write"] = in_thread(lambda: take(rw.acquire_write, rw.release_write, timeout=5))
            seen["try_write"] = rw.acquire_write(blocking=False)
            if seen["try_write"]:
                rw.release_write()
            seen["end"] = [rw.write_locked, rw.readers]
            return seen

        seen = fork_and_check(child)
        rw.release_write()                 # after_in_parent: the parent's reader gets in
        t.join(10)
        seen["parent_reader_done"] = not t.is_alive()
        print(json.dumps(seen))
    """)
    assert seen == {"after_release": [False, 0], "write": True, "read": True, "thread_write": True,
                    "try_write": True, "end": [False, 0], "parent_reader_done": True}


def test_rwlock_read_held_writer_waiting_at_fork():
    seen = run_script("""
        rw = RWLock()
        assert rw.acquire_read()
        t = threading.Thread(target=lambda: (rw.acquire_write(), rw.release_write()), daemon=True)
        t.start()
        wait_blocked(t.native_id, rw)      # the writer sleeps: WRITERS_WAITING, write_waiters 1

        def child():
            # No writer exists here: a new reader must get in beside ours
            # (before the fix it waited for the phantom writer, for good).
            seen = {"thread_read": in_thread(lambda: take(rw.acquire_read, rw.release_read, timeout=5))}
            seen["try_read_thread"] = in_thread(
                lambda: take(rw.acquire_read, rw.release_read, blocking=False))
            seen["readers"] = rw.readers   # ours is kept
            rw.release_read()
            seen["write"] = rw.acquire_write(timeout=5)
            if seen["write"]:
                rw.release_write()
            seen["end"] = [rw.write_locked, rw.readers]
            return seen

        seen = fork_and_check(child)
        rw.release_read()
        t.join(10)
        seen["parent_writer_done"] = not t.is_alive()
        print(json.dumps(seen))
    """)
    assert seen == {"thread_read": True, "try_read_thread": True, "readers": 1, "write": True,
                    "end": [False, 0], "parent_writer_done": True}


def test_rwlock_downgrade_in_child_with_readers_waiting_at_fork():
    # downgrade() with READERS_WAITING starts a read phase too: in the child
    # it must not be one for the parent's readers.
    seen = run_script("""
        rw = RWLock()
        assert rw.acquire_write()
        t = threading.Thread(target=lambda: (rw.acquire_read(), rw.release_read()), daemon=True)
        t.start()
        wait_blocked(t.native_id, rw)

        def child():
            rw.downgrade()
            seen = {"readers": rw.readers}
            rw.release_read()
            seen["write"] = rw.acquire_write(timeout=5)
            if seen["write"]:
                rw.release_write()
            seen["end"] = [rw.write_locked, rw.readers]
            return seen

        seen = fork_and_check(child)
        rw.release_write()
        t.join(10)
        print(json.dumps(seen))
    """)
    assert seen == {"readers": 1, "write": True, "end": [False, 0]}


def test_spinlock_held_with_a_sleeper_at_fork():
    seen = run_script("""
        lock = SpinLock()
        assert lock.acquire()
        t = threading.Thread(target=lambda: (lock.acquire(), lock.release()), daemon=True)
        t.start()
        wait_blocked(t.native_id, lock)    # the word says "maybe sleepers" (2)

        def child():
            lock.release()
            seen = {"locked": lock.locked()}
            seen["acquire"] = lock.acquire(timeout=5)
            if seen["acquire"]:
                lock.release()
            seen["thread_acquire"] = in_thread(lambda: take(lock.acquire, lock.release, timeout=5))
            seen["end"] = lock.locked()
            return seen

        seen = fork_and_check(child)
        lock.release()
        t.join(10)
        print(json.dumps(seen))
    """)
    assert seen == {"locked": False, "acquire": True, "thread_acquire": True, "end": False}


@pytest.mark.xfail(
    pyatomics.BACKEND == "cffi" and sys.implementation.name == "cpython" and sys.version_info >= (3, 13),
    strict=True,  # an XPASS fails: CPython fixed it, drop the mark
    reason=(
        "CPython 3.13-3.15: in a child forked from a non-main thread, a signal that lands on another "
        "thread is never run by Python code (the pending-signal bit goes to the dead main thread's "
        "eval breaker; a plain Python loop never sees it either, measured on 3.13.0, 3.14.10, 3.15.2). "
        "The cffi backend's wait loop is Python code; the C-API backend calls PyErr_CheckSignals itself."
    ),
)
def test_fork_from_a_thread_makes_it_the_main_thread_for_signals():
    # A thread forks; in the child it is the main thread, so a signal handled
    # while it blocks in acquire() must run within its 50 ms wait slices even
    # if the signal arrived on another thread.  Before the fix pyatomics still
    # took the parent's main thread for the main one: the wait went on until
    # its timeout (8 s here).
    seen = run_script("""
        class Interrupted(Exception):
            pass

        armed = []  # the handler raises only while the timed acquire runs

        def handler(signum, frame):
            if armed:
                raise Interrupted

        def child():
            signal.signal(signal.SIGUSR1, handler)
            lock = SpinLock()
            lock.acquire()
            me = threading.get_native_id()
            done = threading.Event()

            def poke():
                # To this thread, not the main one; again every 0.2 s until the
                # acquire ends, so a signal that lands before the wait (a loaded
                # machine) cannot make the test pass or fail by its timing.
                wait_blocked(me, lock)
                while not done.is_set():
                    signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)
                    done.wait(0.2)

            h = threading.Thread(target=poke, daemon=True)
            h.start()
            t0 = time.monotonic()
            try:
                armed.append(True)
                got = lock.acquire(timeout=8)
                outcome = "acquired" if got else "timed out"
            except Interrupted:
                outcome = "interrupted"
            finally:
                armed.clear()
                done.set()
            h.join(5)
            return {"outcome": outcome, "fast": time.monotonic() - t0 < 5, "locked": lock.locked()}

        out = []
        t = threading.Thread(target=lambda: out.append(fork_and_check(child)))
        t.start()
        t.join(50)
        print(json.dumps(out[0]))
    """)
    assert seen == {"outcome": "interrupted", "fast": True, "locked": True}
