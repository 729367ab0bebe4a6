"""Allocation failure: every constructor and method, each allocation failed once.

Unchecked allocations were the latest crash bugs of a comparable library
(cereggii issue 149).  With CPython's `_testcapi.set_nomemory(n, n + 1)`,
which fails the n-th allocation (raw, mem and object domains) from the
moment it is called, each case of alloc_failure_cases.py is stepped through
n = 0, 1, 2, ... until the call makes no allocation the injection reaches.
At every step the call must raise MemoryError or succeed -- no crash, no
SystemError, no exception left set under a result -- and leave the state it
promises: after MemoryError no lock held (acquire(False) works and release
too), no read hold counted, an AtomicInt unchanged; after success the
documented result and state.  How a step is judged is described at the top of
alloc_failure_cases.py.

The cases run in child processes (a crash fails the case, not pytest); a
child that dies is restarted after the case it died in.  Runs, on both
backends, wherever `_testcapi` has set_nomemory and the interpreter survives
the stepping on its own (CPYTHON_PROBE below): CPython 3.9-3.11, 3.14 and 3.15
here.  Skipped, saying why, on PyPy (no set_nomemory), on 3.12.1 and 3.13.0
(they fail the probe) and on 3.13t (FREE_THREADED_313).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig

import pytest

import pyatomics

HAVE_NOMEMORY = False
if sys.implementation.name == "cpython":
    try:
        import _testcapi

        HAVE_NOMEMORY = hasattr(_testcapi, "set_nomemory") and hasattr(_testcapi, "remove_mem_hooks")
    except (ImportError, OSError):  # PyPy's compiles itself on import and can fail with OSError
        pass

# Some CPythons crash under this stepping in their own code, with no pyatomics
# loaded: 3.12.1 and 3.13.0 here die with SIGSEGV in _PyEval_EvalFrameDefault
# stepping `(lambda v: 1 // 0)(5)` once `json` is imported (found when the
# AtomicInt.update() and sync.acquire_all cases crashed there in CI on
# 2026-12-01; 3.9-3.11 and 3.13.5t survive it).  A child runs that probe first,
# and where the interpreter itself dies the stepping is skipped, saying so: it
# could not tell our crashes from CPython's.
CPYTHON_PROBE = """
import _testcapi, gc, json
gc.disable()
def armed(n):
    _testcapi.set_nomemory(n, n + 1)
    try:
        try:
            (lambda v: 1 // 0)(5)
        except BaseException:
            pass
        for _ in range(60):
            try:
                bytearray(16)
            except MemoryError:
                pass
    finally:
        _testcapi.remove_mem_hooks()
for n in range(40):
    armed(n)
"""


def _cpython_survives_the_stepping() -> tuple[bool, str]:
    if not HAVE_NOMEMORY:
        return True, ""
    proc = subprocess.run([sys.executable, "-c", CPYTHON_PROBE], capture_output=True, text=True, timeout=120)
    return proc.returncode >= 0, f"exit {proc.returncode}"


CPYTHON_SURVIVES, CPYTHON_PROBE_RESULT = _cpython_survives_the_stepping()
# CPython 3.13.5t passes the probe, and here all 221 cases passed in three runs
# of the child (2026-12-01), but in two CI runs its child died with SIGSEGV,
# once while stepping the harness's self-test: pure Python (a list allocated
# under the failing allocator), no pyatomics call.  So 3.13.5t itself crashes
# under this stepping, sometimes; the stepping does not run there (the skip
# says so) until a probe can show that crash on demand.
FREE_THREADED_313 = bool(sysconfig.get_config_var("Py_GIL_DISABLED")) and sys.version_info[:2] == (3, 13)
pytestmark = [
    pytest.mark.skipif(not HAVE_NOMEMORY, reason="needs CPython's _testcapi.set_nomemory (not on PyPy)"),
    pytest.mark.skipif(not CPYTHON_SURVIVES, reason=(
        f"CPython {sys.version.split()[0]} itself crashes under allocation-failure stepping with no "
        f"pyatomics loaded (CPYTHON_PROBE: {CPYTHON_PROBE_RESULT}); our crashes could not be told from its own")),
    pytest.mark.skipif(FREE_THREADED_313, reason="CPython 3.13t: the stepping crashed the child in CI, once "
                       "in pure-Python code (see FREE_THREADED_313)"),
]

import alloc_failure_cases as cases  # noqa: E402  (tests/ is on sys.path: conftest.py)

CHILD = cases.__file__
CHILD_TIMEOUT = 120  # the child dumps its stacks and exits after 100 s

# Cases known to fail, by name, with the reason (each an xfail(strict=True), so a
# fix must remove its entry).  Found and fixed here: sync.acquire_all took a lock
# and then appended it to its list of locks taken; a MemoryError from that append
# left the lock held (n = 40 on 3.11).  It now counts instead of appending.
KNOWN: dict[str, str] = {}


def _run_children(names: list[str]) -> dict:
    """Results by case name, from as many children as it takes."""
    results: dict = {}
    todo = list(names)
    while todo:
        proc = subprocess.run(
            [sys.executable, CHILD, *todo],
            capture_output=True, text=True, timeout=CHILD_TIMEOUT, env=dict(os.environ),
        )
        started = None
        for line in proc.stdout.splitlines():
            msg = json.loads(line)
            if "start" in msg:
                started = msg["start"]
            else:
                results[msg["case"]] = msg
                started = None
        if proc.returncode != 0 and "Timeout (0:" in proc.stderr:
            pytest.fail(f"child hung in {started}: {proc.stderr[-3000:]}")
        if started is not None:  # died inside this case
            results[started] = {
                "status": "crash", "detail": f"child exited with {proc.returncode}: {proc.stderr[-3000:]}",
            }
        elif proc.returncode != 0:
            pytest.fail(f"child exited with {proc.returncode} between cases: {proc.stderr[-3000:]}")
        todo = [n for n in todo if n not in results]
    return results


@pytest.fixture(scope="module")
def results():
    proc = subprocess.run(
        [sys.executable, "-c", "import pyatomics; print(pyatomics.BACKEND)"],
        capture_output=True, text=True, timeout=60, cwd=os.path.dirname(CHILD),
    )
    assert proc.stdout.strip() == pyatomics.BACKEND, "the child would test another backend"
    return _run_children(list(cases.CASES) + list(cases.SELF_TEST))


def _params():
    for name in cases.CASES:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN[name])] if name in KNOWN else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", list(_params()))
def test_allocation_failure(name, results):
    r = results[name]
    assert r["status"] == "ok", f"{name}: at n={r.get('n')}: {r['detail']}"


@pytest.mark.xfail(
    bool(sysconfig.get_config_var("Py_GIL_DISABLED")), strict=False,
    reason="CPython 3.13.5t: the child died with SIGSEGV while stepping this pure-Python case "
           "(a list allocated under a failing allocator) in two CI runs on 2026-12-01, not in the "
           "helper's local runs; not yet investigated.  Strict on every GIL build.")
def test_harness_catches_a_lock_leaked_on_memory_error(results):
    """The stepping has teeth: a call that acquires, allocates, then releases
    leaks its lock at the step that fails that allocation, and is caught."""
    r = results["selftest: leaks a SpinLock on MemoryError"]
    assert r["status"] == "fail" and "SpinLock left locked" in r["detail"], r


def test_stepping_reaches_past_every_allocation(results):
    """A case ends at the first n the call does not reach; so the steps that
    raised MemoryError are those below it, and at least the constructors,
    which must allocate their object, were failed at n = 0."""
    for name in ("AtomicInt()", "SpinLock()", "RWLock()", "RWLock.read(0.5)"):
        r = results[name]
        assert r["status"] == "ok" and r["memerr_at"][:1] == [0], (name, r)
        assert r["steps"] >= 2


def test_results_lost_after_the_operation_are_the_only_change_on_memory_error(results):
    """Where the result is a new int made from the operation's outcome (values
    outside the small-int cache), a MemoryError can come after the atomic
    operation: the value changed, only the result is lost, as with any
    Python operation that mutates then builds its result.  The cases with
    small values, whose results need no allocation, allow no such change:
    there MemoryError means nothing happened."""
    lost = sorted(n for n, r in results.items() if "done, result lost" in r.get("notes", ()))
    assert all(n.endswith(" big") for n in lost), lost
