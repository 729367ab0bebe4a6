"""python -m pyatomics bench (and the CLI around it), run as a user runs it: from
the installed package, in a directory that is not the source tree.

Behaviour only, never speed: the tests check that the runs complete, what the
JSON holds, how ratios become verdicts, and the command line's messages.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import pyatomics
from pyatomics.bench import _harness as h

REPO = pathlib.Path(__file__).resolve().parents[1]
# A few cases of each kind (single-thread, threaded, a peer where installed): seconds.
SMALL = ["--quick", "--threads", "1,2", "--cases", "atomicint.single/inc/*,atomicint.forms/global*,"
         "locks.uncontended/mutex/*,locks.readmostly/lock@*,locks.readmostly/rw_pair@*"]


def cli(*args, cwd, timeout=180, **kw):
    return subprocess.run([sys.executable, "-m", "pyatomics", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    where = tmp_path_factory.mktemp("bench")
    out = cli("bench", *SMALL, "--json", "run.json", cwd=where)
    assert out.returncode == 0, out.stderr
    return out, json.loads((where / "run.json").read_text()), where


def test_bench_runs_from_the_installed_package(quick_run):
    out, data, where = quick_run
    assert not str(where).startswith(str(REPO))
    # The harness came from the installed package, not a checkout's benchmarks/.
    installed = pathlib.Path(data["environment"]["pyatomics_file"]).parent
    assert (installed / "bench" / "_harness.py").is_file()
    assert "### AtomicInt, single thread" in out.stdout and "| inc | pyatomics | `f = a.inc; f()` |" in out.stdout
    assert "100%" in out.stderr  # progress (not a tty here: one line per 10%)


def test_bench_json_has_environment_and_every_sample(quick_run):
    _, data, _ = quick_run
    env = data["environment"]
    assert data["format"] == "pyatomics-bench/1"
    for key in ("machine", "implementation", "version", "free_threaded_build", "gil_enabled_now",
                "pyatomics_backend", "date", "cpu_count", "repeats"):
        assert key in env, key
    assert env["pyatomics_backend"] == pyatomics.BACKEND
    assert env["gil_enabled_now"] == h.gil_enabled() and env["quick"] is True
    names = {s["name"] for s in data["suites"]}
    assert names == {"atomicint.single", "atomicint.forms", "locks.uncontended", "locks.readmostly"}
    threads = {c["threads"] for s in data["suites"] for c in s["cases"]}
    assert threads == {1, 2}
    for suite in data["suites"]:
        for case in suite["cases"]:
            assert case["error"] is None and case["problem"] is None, case
            assert len(case["samples_s_per_op"]) == env["repeats"] == 3
            assert case["best_s_per_op"] == min(case["samples_s_per_op"])
            for r in case["ratios"].values():
                if r["value"] is None:
                    continue
                assert r["lo"] <= r["value"] <= r["hi"]
                assert len(r["per_round"]) == 3
                if r["verdict"] != "same row":
                    assert r["verdict"] == ("tie" if r["lo"] <= 1 <= r["hi"] else r["verdict"])
                    assert r["verdict"] in ("tie", "faster", "slower")
    forms = next(s for s in data["suites"] if s["name"] == "atomicint.forms")
    assert {c["code"] for c in forms["cases"]} == {"global G; G += 1", "G.inc()"}


def test_bench_compare_two_runs(quick_run, tmp_path):
    _, data, where = quick_run
    # B is A slowed down by a factor k large enough that every case's rounds
    # in B lie above all of A's, whatever A's spread (a quick run's rounds
    # can differ threefold on a loaded machine, PyPy's above all).
    spread = max(max(c["samples_s_per_op"]) / min(c["samples_s_per_op"])
                 for s in data["suites"] for c in s["cases"])
    k = max(3, math.ceil(2 * spread))
    slower = copy.deepcopy(data)
    for suite in slower["suites"]:
        for case in suite["cases"]:
            case["samples_s_per_op"] = [x * k for x in case["samples_s_per_op"]]
            key = suite["metric"]
            case[key] = case[key] * k if key == "ns/op" else case[key] / k
    (tmp_path / "b.json").write_text(json.dumps(slower))
    out = cli("bench", "--compare", str(where / "run.json"), str(tmp_path / "b.json"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "| inc/pyatomics | `f = a.inc; f()` |" in out.stdout
    assert f"{100 * (k - 1):+.1f}% | worse |" in out.stdout  # ns/op k times as long
    assert f"{100 * (1 / k - 1):+.1f}% | worse |" in out.stdout  # Mops/s divided by k
    assert "better" not in out.stdout and "within noise" not in out.stdout
    same = cli("bench", "--compare", str(where / "run.json"), str(where / "run.json"), cwd=tmp_path)
    assert same.returncode == 0 and "+0.0% | within noise |" in same.stdout and "worse" not in same.stdout
    (tmp_path / "junk.json").write_text("[1, 2]")
    bad = cli("bench", "--compare", str(tmp_path / "junk.json"), str(where / "run.json"), cwd=tmp_path)
    assert bad.returncode != 0 and "is not a `python -m pyatomics bench --json` file" in bad.stderr


def test_bench_scaling_suites_check_totals_and_evaluate_their_targets(tmp_path):
    # Every scaling row runs and passes its final-value check (a lost update
    # is a problem in the JSON), and every target has a value: the ceilings
    # each target divides by (no lock at all, each thread its own counter)
    # exist in the same run.
    out = cli("bench", "--quick", "--threads", "1,2", "--no-progress", "--json", "s.json", "--cases",
              "scaling.readmostly/*sum*,scaling.counter/*", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "s.json").read_text())
    suites = {s["name"]: s for s in data["suites"]}
    assert set(suites) == {"scaling.readmostly", "scaling.counter"}
    keys = {c["key"] for s in suites.values() for c in s["cases"]}
    for key in ("rw_shared/sum/100/0@2", "rw_optimistic/sum/95/5@2", "nolock/sum/95/5@2", "lock/sum/100/0@1",
                "counter@2", "own_counter@2", "own@1", "atomicint@2"):
        assert key in keys, key
    for suite in suites.values():
        for case in suite["cases"]:
            assert case["error"] is None and case["problem"] is None, case
    targets = [t for s in suites.values() for t in s["targets"]]
    texts = " / ".join(t["text"] for t in targets)
    assert "optimistic reads on one shared rw / no lock at all" in texts
    assert "each thread its own AtomicCounter" in texts
    for t in targets:
        assert t["value"] is not None and t["met"] is not None, t
    ceiling = next(t for t in targets if "each thread its own AtomicCounter" in t["text"])
    assert ceiling["detail"].startswith("this machine's 2/1 for work that shares nothing: ")


def test_bench_versions_compares_two_interpreters_round_by_round(tmp_path):
    # The same build twice (the control the results file also shows): every
    # row has one sample per round from each side and a ratio inside its
    # range; the verdict follows the range.
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_versions.py"), sys.executable,
                          sys.executable, "--rounds", "2", "--json", str(tmp_path / "v.json")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "v.json").read_text())
    assert data["before"] == data["after"] and pyatomics.BACKEND in data["before"]
    assert "with rw.reader: pass" in data["rows"] and "with lock: pass (threading.Lock)" in data["rows"]
    for label, row in data["rows"].items():
        assert len(row["before_ns"]) == len(row["after_ns"]) == 2, label
        assert row["lo"] <= row["ratio"] <= row["hi"] and all(x > 0 for x in row["before_ns"] + row["after_ns"])
        verdict = "tie" if row["lo"] <= 1 <= row["hi"] else ("faster" if row["hi"] < 1 else "slower")
        assert f"| {verdict} |" in next(line for line in out.stdout.splitlines() if f"`{label}`" in line)
    bad = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_versions.py"), sys.executable,
                          sys.executable, "--rounds", "0"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--rounds must be at least 1" in bad.stderr


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed")
def test_bench_plot(tmp_path):
    out = cli("bench", "--quick", "--threads", "1,2", "--cases", "locks.readmostly/lock@*,mutex/spin",
              "--no-progress", "--plot", "p.png", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is not None, reason="matplotlib is installed")
def test_bench_plot_without_matplotlib(tmp_path):
    out = cli("bench", "--quick", "--plot", "p.png", cwd=tmp_path)
    assert out.returncode == 2 and "--plot needs matplotlib" in out.stderr and "usage:" in out.stderr
    assert not (tmp_path / "p.png").exists()


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pty")
def test_bench_progress_bar_on_a_terminal(tmp_path):
    try:
        master, slave = os.openpty()
    except OSError as exc:  # the sid chroot of scripts/test.sh mounts no /dev/pts
        pytest.skip(f"no pty here ({exc}); the host runs of scripts/test.sh have one")
    try:
        proc = subprocess.run([sys.executable, "-m", "pyatomics", "bench", "--quick", "--cases",
                               "mutex/lock"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=slave, timeout=120)
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed and drained
                break
            if not data:
                break
            chunks.append(data)
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
    err = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert "\r[" in err and "100%" in err and "#" * 30 in err  # redrawn in place, ends full


def test_bench_help_lists_its_options(tmp_path):
    out = cli("bench", "--help", cwd=tmp_path)
    assert out.returncode == 0
    for option in ("--quick", "--threads", "--json", "--plot", "--compare", "--cases", "--only", "--repeats",
                   "--clock", "--no-progress"):
        assert option in out.stdout, option
    assert "pyatomics[bench]" in out.stdout


def test_version(tmp_path):
    out = cli("--version", cwd=tmp_path)
    assert out.returncode == 0
    assert out.stdout.strip() == f"pyatomics {pyatomics.__version__} (backend {pyatomics.BACKEND})"


@pytest.mark.parametrize("args, message", [
    (["--threads", "0"], "--threads wants positive integers"),
    (["--threads", "x"], "--threads wants positive integers"),
    (["--only", "bogus"], "unknown --only bogus"),
    (["--cases", "no-such-case"], "matches no case"),
    (["--repeats", "0"], "--repeats must be at least 1"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bench_bad_arguments_exit_2(tmp_path, args, message):
    out = cli("bench", *args, cwd=tmp_path)
    assert out.returncode == 2
    assert "usage: python -m pyatomics bench" in out.stderr and message in out.stderr


def test_demo_one_thread_does_not_claim_lost_updates(tmp_path):
    out = cli("demo", "--threads", "1", "--iterations", "20000", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "1 thread x 20,000 increments, expected 20,000" in out.stdout
    assert "lost 0 updates" in out.stdout
    assert "One thread cannot race with itself" in out.stdout
    assert "loses updates" not in out.stdout and "lost updates" not in out.stdout


def test_demo_too_many_threads_is_refused(tmp_path):
    out = cli("demo", "--threads", "100000", cwd=tmp_path, timeout=60)
    assert out.returncode == 2
    assert "at most 1024 threads: 100000" in out.stderr and "usage:" in out.stderr
    assert "== 1." not in out.stdout  # refused before starting anything


def test_demo_thread_the_system_refuses_fails_cleanly(tmp_path):
    # The system refuses the 4th thread ("can't start new thread"): the three
    # already waiting on the barrier must be released, not left hanging.
    code = textwrap.dedent("""
        import sys, threading
        from pyatomics import __main__ as m
        real_start, started = threading.Thread.start, []
        def start(self):
            if len(started) == 3:
                raise RuntimeError("can't start new thread")
            started.append(self)
            real_start(self)
        threading.Thread.start = start
        rc = m.main(["demo", "--threads", "8", "--iterations", "1000"])
        assert all(not t.is_alive() for t in started), "threads left running"
        print("rc", rc)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("rc 1")
    assert ("error: could start only 3 of 8 threads (can't start new thread); try a smaller --threads"
            in out.stderr)
    assert "Traceback" not in out.stderr and "BrokenBarrierError" not in out.stderr


# --- ratios: how a ratio's range becomes a verdict -------------------------------


def _case(key, samples):
    c = h.Case(key, "g", "impl", h.SELF, key, run=lambda n: (0.0, n))
    c.samples = list(samples)
    return c


@pytest.mark.parametrize("a, b, verdict", [
    ([1.0, 1.0, 1.0], [2.0, 2.0, 2.0], "faster"),
    ([2.0, 2.0, 2.0], [1.0, 1.0, 1.0], "slower"),
    ([0.9, 1.1, 1.0], [1.0, 1.0, 1.0], "tie"),
    ([0.93, 0.93, 1.02], [1.0, 1.0, 1.0], "tie"),  # a median win within the spread is a tie
])
def test_ratio_verdicts(a, b, verdict):
    r = h.make_ratio(_case("a", a), _case("b", b), h.TIME)
    assert r.verdict == verdict
    # The same samples (seconds per operation) as a throughput table: the ratio
    # is rate / rate, the inverse, and the verdict is the same.
    rate = h.make_ratio(_case("a", a), _case("b", b), h.RATE)
    assert rate.verdict == verdict and rate.value == pytest.approx(1 / r.value)


def test_ratio_is_per_round_and_drops_the_extremes_from_five_rounds():
    # Round by round: a is twice as fast in every round although its rounds vary 4x.
    r = h.make_ratio(_case("a", [1, 2, 4]), _case("b", [2, 4, 8]), h.TIME)
    assert (r.value, r.lo, r.hi, r.verdict) == (0.5, 0.5, 0.5, "faster")
    r = h.make_ratio(_case("a", [0.5, 0.9, 0.95, 0.97, 1.5]), _case("b", [1] * 5), h.TIME)
    assert (r.value, r.lo, r.hi, r.verdict) == (0.95, 0.9, 0.97, "faster")
    assert h.fmt_ratio(r) == "0.95x [0.90-0.97] faster"
    same = _case("s", [1, 2, 3])
    assert h.fmt_ratio(h.make_ratio(same, same, h.TIME)) == "(reference)"


def test_readme_tables_come_from_the_committed_runs():
    # Every figure in README.md's benchmark tables is generated from one
    # committed run in benchmarks/results/ (ties as ties, losses included).
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "readme_tables.py"), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    readme = (REPO / "README.md").read_text()
    for name in ("cpython3.13t", "cpython3.11"):
        assert f"<!-- bench:{name} -->" in readme and (REPO / "benchmarks" / "results" / f"{name}.json").is_file()
