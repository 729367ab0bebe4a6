"""python -m pyatomics {info,demo,bench}: output, exit codes, bad arguments."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

import pyatomics

REPO = pathlib.Path(__file__).resolve().parents[1]


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


def test_bench_needs_a_checkout(tmp_path):
    out = cli("bench", "--quick", cwd=tmp_path)
    assert out.returncode == 2 and "benchmarks/ not found" in out.stderr


def test_bench_quick_json(tmp_path):
    result = tmp_path / "bench.json"
    out = cli("bench", "--quick", "--only", "atomicint", "--threads", "1", "--no-progress",
              "--json", str(result), cwd=REPO / "benchmarks", timeout=300)
    assert out.returncode == 0, out.stderr
    assert "a.inc()" in out.stdout
    data = json.loads(result.read_text())
    assert {"environment", "suites"} <= set(data)
    assert any(case["impl"] == "pyatomics" for s in data["suites"] for case in s["cases"])
