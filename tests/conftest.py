"""Shared test fixtures and helpers.

Tests import the *installed* pyatomics (scripts/test.sh installs it into a
venv); the source tree has no compiled extension.
"""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
import threading
import time
from typing import Callable

import pytest

# The tests exercise the *installed* package: take the source checkout off
# sys.path (python -m pytest puts the current directory there), so its
# uncompiled pyatomics/ cannot shadow the built one, and make this directory
# importable so test modules can `from conftest import ...` in any import mode.
_TESTS = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_TESTS)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _REPO]
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
if "pyatomics" in sys.modules and not hasattr(sys.modules["pyatomics"], "AtomicInt"):
    del sys.modules["pyatomics"]

import pyatomics  # noqa: E402

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

# The checks of the tooling rather than of pyatomics (mypy and stubtest in
# test_typing.py, the hypothesis profiles in test_tooling.py) give the same
# answer on every interpreter, so they run once per scripts/test.sh run: on
# CPython 3.11 with the GIL (the default python3 there) with the default capi
# backend, its first run.  Elsewhere they are skipped, saying so.
FIRST_RUN = (
    sys.implementation.name == "cpython"
    and sys.version_info[:2] == (3, 11)
    and not FREE_THREADED
    and pyatomics.BACKEND == "capi"
)
first_run_only = pytest.mark.skipif(
    not FIRST_RUN,
    reason="a check of the tooling: it runs once, on CPython 3.11 (GIL build) with the default capi "
    "backend, the first run of scripts/test.sh",
)

# Under ThreadSanitizer (scripts/sanitize.sh tsan: a CPython configured
# --with-thread-sanitizer) a fork() while other threads run is not supported:
# the child dies as soon as it starts a thread ("starting new threads after
# multi-threaded fork is not supported"), and TSan's own state may be copied
# mid-update.  So there, and only there: a test marked `forks` (it forks with
# threads running in a child process it starts) is skipped, saying why, and an
# os.fork() in the pytest process itself with other threads alive skips the test
# that made it (pytest_configure installs that guard; child processes that import
# this file get no guard).  A fork from a single thread runs.
UNDER_TSAN = "--with-thread-sanitizer" in (sysconfig.get_config_var("CONFIG_ARGS") or "")
TSAN_FORK_REASON = "ThreadSanitizer does not support fork() while other threads run"


def _install_tsan_fork_guard():
    real_fork = os.fork

    def fork_unless_threaded():
        if threading.active_count() > 1:
            pytest.skip(f"{TSAN_FORK_REASON} ({threading.active_count()} alive)")
        return real_fork()

    os.fork = fork_unless_threaded


def pytest_collection_modifyitems(config, items):
    if UNDER_TSAN:
        for item in items:
            if item.get_closest_marker("forks"):
                item.add_marker(pytest.mark.skip(reason=f"{TSAN_FORK_REASON} (a child process forks with threads)"))

# The budgets, as hypothesis profiles: HYPOTHESIS_PROFILE=NAME or pytest's
# --hypothesis-profile NAME (which wins) picks one; without either, hypothesis
# picks its own choice of "default" or (on a CI machine) "ci".  max_examples is
# the fuzzer's budget (tests/test_fuzz.py, which sets no count of its own);
# SCALE multiplies the stress tests' sizes and the state machines' examples
# (tests/test_bad_input.py).  Stress sizes at SCALE 1: small enough for a
# 2-core CI machine, large enough to expose races on the free-threaded build.
#   default, ci  40 examples, SCALE 1: the normal suite ("ci" keeps
#                hypothesis's own settings for CI: derandomized, no database)
#   quick        10 examples, SCALE 1: a fast look
#   soak         800 examples, SCALE 20: long runs
#   fuzz         2000 examples, SCALE 1: `scripts/sanitize.sh fuzz` under ASan
#   fuzz-long    20000 examples, SCALE 1: the longer fuzz run of docs/reliability.md
#   tsan-fuzz    400 examples, SCALE 1: `scripts/sanitize.sh tsan`, under ThreadSanitizer
_PROFILES = {
    "default": (40, 1),
    "ci": (40, 1),
    "quick": (10, 1),
    "soak": (800, 20),
    "fuzz": (2000, 1),
    "fuzz-long": (20000, 1),
    "tsan-fuzz": (400, 1),
}
try:
    from hypothesis import settings as _hsettings
except ImportError:  # the suite without hypothesis: its tests importorskip it
    _hsettings = None
else:
    for _name, (_examples, _) in _PROFILES.items():
        try:
            # Each on top of hypothesis's own profile of that name ("default",
            # "ci"), or of "default".
            _parent = _hsettings.get_profile(_name if _name in ("default", "ci") else "default")
        except Exception:  # noqa: BLE001 - a hypothesis without a "ci" profile
            _parent = _hsettings.get_profile("default")
        _hsettings.register_profile(_name, parent=_parent, max_examples=_examples)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # Before hypothesis's own pytest_configure, which then applies
    # --hypothesis-profile over this.  (Not at import: test modules import
    # this file a second time, as `conftest`, after that.)
    if _hsettings is not None and os.environ.get("HYPOTHESIS_PROFILE"):
        _hsettings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
    if UNDER_TSAN and hasattr(os, "fork"):
        _install_tsan_fork_guard()


def hypothesis_profile() -> str:
    """The hypothesis profile in force ("default" without hypothesis)."""
    if _hsettings is None:
        return "default"
    get = getattr(_hsettings, "get_current_profile_name", None)
    name = get() if get is not None else getattr(_hsettings, "_current_profile", None)
    return name or "default"


def __getattr__(name: str):
    # SCALE is looked up when a test module imports it, i.e. after pytest's
    # --hypothesis-profile has been applied (the plugin's pytest_configure
    # runs after this conftest is imported).
    if name == "SCALE":
        return _PROFILES.get(hypothesis_profile(), (0, 1))[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else check()


def pytest_report_header(config):
    return (
        f"pyatomics {pyatomics.__version__} backend={pyatomics.BACKEND} from {os.path.dirname(pyatomics.__file__)}\n"
        f"budgets: hypothesis profile {hypothesis_profile()!r}, SCALE {__getattr__('SCALE')}\n"
        f"interpreter: {platform.python_implementation()} {platform.python_version()}"
        f"{' free-threaded' if FREE_THREADED else ''}, GIL enabled now: {gil_enabled()}, "
        f"machine: {platform.machine()}, cpus: {os.cpu_count()}"
    )


def pytest_terminal_summary(terminalreporter):
    # How many of CPython's lock_tests ran (tests/test_lock_conformance.py),
    # so a run that silently lost them shows it; scripts/test.sh collects the
    # line.  Printed only when that file was part of the run.
    counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
    seen = False
    for outcome in counts:
        for rep in terminalreporter.stats.get(outcome, []):
            if "test_lock_conformance.py::Test" in getattr(rep, "nodeid", "") and (
                rep.when == "call" or outcome == "skipped"
            ):
                counts[outcome] += 1
            seen = seen or "test_lock_conformance.py" in getattr(rep, "nodeid", "")
    if seen:
        ran = counts["passed"] + counts["failed"]
        terminalreporter.write_line(
            f"lock_tests: {ran} conformance tests ran ({counts['passed']} passed, {counts['failed']} failed,"
            f" {counts['skipped']} skipped) on {platform.python_implementation()} {platform.python_version()}"
            f"{'t' if FREE_THREADED else ''} backend={pyatomics.BACKEND}"
        )


def run_threads(target: Callable[[int], object], n: int, timeout: float = 120.0) -> list:
    """Run target(i) for i in range(n) on n threads started together on a
    Barrier; re-raise the first worker exception in the caller; return results."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        if t.is_alive():
            raise AssertionError(f"worker thread still running after {timeout}s (deadlock?)")
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def threads():
    return run_threads


def c_state_range(obj) -> tuple[int, int]:
    """Address range [lo, hi) of the C state behind a pyatomics object, so a
    test can recognise a futex wait on it (see wait_blocked in the tests).
    C-API backend: the object itself.  cffi backend: the struct at obj._p."""
    if pyatomics.BACKEND == "cffi":
        ffi = pyatomics._extension.ffi
        p = obj._p
        start = int(ffi.cast("uintptr_t", p))
        return start, start + ffi.sizeof(ffi.typeof(p).item)
    return id(obj), id(obj) + sys.getsizeof(obj)


def wait_blocked(native_id, obj, timeout=10.0):
    """Return once thread `native_id` sleeps inside a pyatomics blocking call
    on `obj`.  Linux: /proc/self/task/<tid>/syscall shows the system call a
    thread is blocked in, with its arguments; a futex wait on an address
    inside `obj` can only be the call under test (a thread waiting for the
    GIL or any other lock waits on another address).  A main thread blocked
    in pyatomics wakes every 50 ms to check for signals: keep looking until
    it is caught asleep.  Where /proc is not there, just give it time."""
    path = f"/proc/self/task/{native_id}/syscall"
    lo, hi = c_state_range(obj)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                fields = f.read().split()
        except OSError:  # no /proc, or not readable here
            time.sleep(0.3)
            return
        if len(fields) > 1 and fields[0] != "running":
            try:
                if lo <= int(fields[1], 16) < hi:
                    return
            except ValueError:
                pass
        time.sleep(0.001)
    raise AssertionError("thread never blocked")


def in_forked_child(body: Callable[[], bool]) -> int:
    """Run body() in a forked child; its exit status: 0 if it returned true, 1 if
    false, 2 if it raised.  For the fork tests' child scripts, which import this
    module (a child process of their own, so a hang or crash stays there)."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if body() else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.WEXITSTATUS(status)


def start(func, *args) -> threading.Thread:
    """Start func(*args) on a daemon thread (a stuck test must not block exit)."""
    t = threading.Thread(target=func, args=args, daemon=True)
    t.start()
    return t


def join(*threads, timeout: float = 20.0) -> None:
    """Join threads, failing (instead of hanging) if one is still blocked."""
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "thread still blocked (deadlock or lost wakeup?)"


# The report header also says whether this run's stress tests run in parallel
# (tests/test_gil_release.py explains what a GIL build still overlaps).
_report_header_base = pytest_report_header


def pytest_report_header(config):  # noqa: F811 - extends the one above
    parallel = (
        "yes (no GIL)" if not gil_enabled()
        else "no: GIL build, threads interleave; only blocking calls overlap (GIL released while they wait)"
    )
    return [_report_header_base(config), f"stress tests truly parallel: {parallel}"]
