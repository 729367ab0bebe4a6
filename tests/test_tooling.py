"""The test tooling itself: the hypothesis profiles that set the budgets
(tests/conftest.py) and pytest-timeout's per-test limit (pyproject.toml).
Each check runs pytest in a child process on a small test file of its own,
next to a copy of conftest.py, outside the source tree."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys

import pytest
from conftest import first_run_only

TESTS = pathlib.Path(__file__).resolve().parent
REPO = TESTS.parent

pytest.importorskip("hypothesis")
pytest.importorskip("pytest_timeout")

PROBE = """
from conftest import SCALE
from hypothesis import settings

def test_budget():
    print(f"\\nBUDGET {settings().max_examples} {SCALE}")
"""

# A hang inside pyatomics' own blocking wait: a SpinLock that another
# thread holds for good.
HANG = """
import threading
from pyatomics import SpinLock

def test_hang():
    lock = SpinLock()
    held = threading.Event()
    def holder():
        lock.acquire()
        held.set()
        threading.Event().wait()
    threading.Thread(target=holder, daemon=True).start()
    assert held.wait(30)
    lock.acquire()
"""


def child_pytest(tmp_path: pathlib.Path, source: str, *args: str, **env_changes: str | None):
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_probe.py").write_text(source)
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", str(REPO / "pyproject.toml"),
         "--rootdir", str(tmp_path), "--import-mode=importlib", "-s", *args, str(tmp_path / "test_probe.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def budget(proc: subprocess.CompletedProcess) -> tuple[int, int]:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("BUDGET "))
    examples, scale = line.split()[1:]
    return int(examples), int(scale)


@first_run_only
@pytest.mark.parametrize(
    "args, env_profile, expected",
    [
        ((), None, (40, 1)),  # "default", or hypothesis's "ci" on a CI machine: the same budget
        (("--hypothesis-profile", "soak"), None, (800, 20)),
        ((), "fuzz", (2000, 1)),
        (("--hypothesis-profile", "quick"), "soak", (10, 1)),  # the command line wins
    ],
)
def test_profiles_set_the_budgets(tmp_path, args, env_profile, expected):
    proc = child_pytest(tmp_path, PROBE, *args, HYPOTHESIS_PROFILE=env_profile)
    assert budget(proc) == expected


@first_run_only
def test_unknown_profile_is_an_error(tmp_path):
    proc = child_pytest(tmp_path, PROBE, HYPOTHESIS_PROFILE="no-such-profile")
    assert proc.returncode != 0
    assert "no-such-profile" in proc.stdout + proc.stderr


def test_the_configured_timeout(pytestconfig):
    assert float(pytestconfig.getini("timeout")) == 300


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="pytest-timeout's thread method ends the run")
def test_a_hang_fails_with_a_traceback_and_the_run_goes_on(tmp_path):
    # Two copies of the hanging test: the first one's failure must not end
    # the session (the "signal" method), so both are reported.
    proc = child_pytest(tmp_path, HANG + HANG.replace("def test_hang", "def test_hang_again"), "--timeout", "2")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert "2 failed" in out, out[-3000:]
    assert "Timeout" in out and "lock.acquire()" in out, out[-3000:]
