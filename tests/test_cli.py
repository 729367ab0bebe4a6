"""python -m pyatomics {info,demo}: output, exit codes, bad arguments (bench: tests/test_bench_cli.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pyatomics



def cli(*args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "pyatomics", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def test_info(tmp_path):
    out = cli("info", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"backend              {pyatomics.BACKEND}" in out.stdout
    for key in ("GIL enabled now", "atomic instructions", "wait mechanism", "architecture"):
        assert key in out.stdout


def test_demo(tmp_path):
    out = cli("demo", "--threads", "2", "--iterations", "20000", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "expected 40,000" in text
    assert "AtomicInt  inc()    :       40,000   lost 0" in text
    assert "at most 4 inside at once" in text  # readers overlapped
    assert "first reader releases -> writer -> late reader" in text  # writer preference
    assert "LockOrderError raised in the second thread" in text
    assert "KeyboardInterrupt surfaced" in text and "joined cleanly: True" in text


@pytest.mark.parametrize("args", [[], ["bogus"], ["demo", "--threads", "0"], ["demo", "--iterations", "x"],
                                  ["info", "--extra"]])
def test_bad_arguments_exit_2(tmp_path, args):
    out = cli(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert "usage:" in out.stderr
