"""Two builds of pyatomics, before and after a change, on the uncontended lock paths.

    python benchmarks/bench_versions.py BEFORE_PYTHON AFTER_PYTHON [--rounds 15] [--json out.json]

Each PYTHON is an interpreter (a virtual environment's) with one build of
pyatomics installed, e.g. the commit before a change and the change itself,
both on the same interpreter version:

    git archive OLD_COMMIT | tar -x -C /tmp/old
    python3.13t -m venv /tmp/before && /tmp/before/bin/pip install /tmp/old
    python3.13t -m venv /tmp/after && /tmp/after/bin/pip install .

Two separate processes cannot be compared round by round from one run of
the harness (``python -m pyatomics bench --compare`` is deliberately strict
for that reason), so this script interleaves them itself: every round starts
one child per build, in alternating order, and each child times every row
(the best of 5 runs of about 10 ms of the thread's CPU time, or wall time
with --clock wall, the rows in turn, the statement unrolled 10 times in the
loop).  A row's ratio is the median of its per-round ratios
(after time / before time: below 1 is faster), with their range, the lowest
and highest rounds dropped from 5 rounds on; a range that contains 1.00x is
a tie ("no slower beyond noise").  Each child also gives, in its own
process, ``with rw.reader: pass`` against ``with lock: pass`` under a
threading.Lock.

Standalone (no pyatomics.bench): the two builds need not share a harness.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

ROWS = [
    ("with rw.reader: pass", "with r: pass", "rw = RWLock(); r = rw.reader"),
    ("with rw.read(): pass", "with rw.read(): pass", "rw = RWLock()"),
    ("rw.acquire_read(); rw.release_read()", "rw.acquire_read(); rw.release_read()", "rw = RWLock()"),
    ("with rw.writer: pass", "with w: pass", "rw = RWLock(); w = rw.writer"),
    ("with s: pass (SpinLock)", "with s: pass", "s = SpinLock()"),
    ("with lock: pass (threading.Lock)", "with lock: pass", "lock = threading.Lock()"),
    ("empty loop (overhead, included above)", "pass", ""),
]
UNROLL = 10

# The child: times every row once and prints {label: ns per operation}.
CHILD = r'''
import json, sys, threading, time
from pyatomics import RWLock, SpinLock
rows = json.loads(sys.argv[1]); unroll = int(sys.argv[2])
clock = time.thread_time if sys.argv[3] == "cpu" else time.perf_counter
def compile_row(stmt, setup):
    body = "\n".join("        " + stmt for _ in range(unroll))
    src = ("def run(n):\n    " + (setup or "pass") + "\n    t0 = perf()\n"
           "    for _ in range(n):\n" + body + "\n    return perf() - t0\n")
    ns = {"RWLock": RWLock, "SpinLock": SpinLock, "threading": threading, "perf": clock}
    exec(src, ns)
    return ns["run"]
runs = {}
for label, stmt, setup in rows:
    run = compile_row(stmt, setup)
    n = 100
    while run(n) < 0.01:  # on either clock
        n *= 2
    runs[label] = (run, n)
best = {label: float("inf") for label in runs}
for _ in range(5):  # the rows in turn, so that a slow moment hits them all
    for label, (run, n) in runs.items():
        best[label] = min(best[label], run(n) / (n * unroll) * 1e9)
print(json.dumps(best))
'''


def child(python: str, clock: str) -> dict[str, float]:
    # From a directory outside any checkout: `-c` puts the working directory
    # first on sys.path, and a source tree's pyatomics/ is not built.
    proc = subprocess.run([python, "-c", CHILD, json.dumps(ROWS), str(UNROLL), clock], capture_output=True,
                          text=True, timeout=300, cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        raise SystemExit(f"error: {python} failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def describe(python: str) -> str:
    code = ("import sys, sysconfig, pyatomics; print(sys.implementation.name, sys.version.split()[0], "
            "'t' if sysconfig.get_config_var('Py_GIL_DISABLED') else '', pyatomics.__version__, "
            "pyatomics.BACKEND, pyatomics.__file__)")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=tempfile.gettempdir())
    return out.stdout.strip() or out.stderr.strip()


def summarize(ratios: list[float]) -> tuple[float, float, float]:
    kept = sorted(ratios)
    if len(kept) >= 5:
        kept = kept[1:-1]
    return statistics.median(ratios), kept[0], kept[-1]


def verdict(lo: float, hi: float) -> str:
    return "tie" if lo <= 1.0 <= hi else ("faster" if hi < 1.0 else "slower")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", help="interpreter with the earlier build installed")
    ap.add_argument("after", help="interpreter with the later build installed")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="the thread's CPU time (default: steadier on a busy machine) or wall time")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for i in range(args.rounds):
        order = ("before", "after") if i % 2 == 0 else ("after", "before")
        for which in order:
            runs[which].append(child(getattr(args, which), args.clock))
    load_after = os.getloadavg()

    lines = [
        "## pyatomics, before and after, uncontended lock paths",
        "",
        f"- before: {describe(args.before)}",
        f"- after: {describe(args.after)}",
        f"- machine: {platform.machine()}, {cpu_name()}, {os.cpu_count()} cores, "
        f"load avg before {' '.join(f'{x:.2f}' for x in load_before)}, "
        f"after {' '.join(f'{x:.2f}' for x in load_after)}",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- method: {args.rounds} interleaved rounds, one child process per build per round (alternating "
        "order), each row the best of 5 runs of ~10 ms in the child, the rows in turn, "
        f"clock: {'thread CPU time' if args.clock == 'cpu' else 'wall'}; ns/op includes the loop "
        "overhead (the empty-loop row)",
        "",
        "| row | before ns/op | after ns/op | after / before (median [range]) | verdict |",
        "|---|---:|---:|---:|---|",
    ]
    result: dict[str, object] = {"before": describe(args.before), "after": describe(args.after), "rows": {}}
    for label, _, _ in ROWS:
        b = [r[label] for r in runs["before"]]
        a = [r[label] for r in runs["after"]]
        med, lo, hi = summarize([x / y for x, y in zip(a, b)])
        lines.append(f"| `{label}` | {min(b):.1f} | {min(a):.1f} | {med:.2f}x [{lo:.2f}-{hi:.2f}] | "
                     f"{verdict(lo, hi)} |")
        result["rows"][label] = {"before_ns": b, "after_ns": a, "ratio": med, "lo": lo, "hi": hi}  # type: ignore[index]
    lines += ["", "Within each build's own process, `with rw.reader: pass` time / `with lock: pass` time "
              "(threading.Lock; below 1 is faster):", ""]
    for which in ("before", "after"):
        rs = [r["with rw.reader: pass"] / r["with lock: pass (threading.Lock)"] for r in runs[which]]
        med, lo, hi = summarize(rs)
        lines.append(f"- {which}: {med:.2f}x [{lo:.2f}-{hi:.2f}], {verdict(lo, hi)}")
        result[f"reader_vs_lock_{which}"] = {"ratio": med, "lo": lo, "hi": hi}
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
