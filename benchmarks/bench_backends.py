"""Per-operation cost of the two pyatomics backends (C-API and cffi), side by side.

    python benchmarks/bench_backends.py                       # this interpreter
    python benchmarks/bench_backends.py PYTHON [PYTHON ...]   # each in turn, one table
    python benchmarks/bench_backends.py --quick --json out.json

On CPython it measures both backends in one process (pyatomics._capi_binding and
pyatomics._cffi_binding, whatever PYATOMICS_BACKEND says); on PyPy the cffi
backend next to PyPy's threading.Lock and the `atomics` package (cffi-based,
if installed: `pip install atomics`).  threading.Lock is measured everywhere
as the reference for the lock rows.

Method: each statement is unrolled 10 times in a `for _ in range(n)` loop
inside a generated function (setup outside the timed loop), n calibrated to
about 10 ms per run; every case runs once per repeat, in turn (interleaved),
and the table shows the minimum over the repeats, in ns per operation,
including the loop overhead (the "empty loop" row).  The default clock is the
thread's CPU time (time.thread_time), which leaves out time the OS gives to
other processes on a busy machine; --clock wall uses time.perf_counter.  With
several interpreters each runs in its own process, one after the other.

Targets (checked when the needed columns are present): on PyPy, AtomicInt
costs no more per operation than with CPython's C-API backend, and is at least
100x faster than the `atomics` package.

Standalone on purpose (no benchmarks/_harness.py), so it runs on any
interpreter with just pyatomics installed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import sysconfig
import threading
import time

UNROLL = 10

# (row label, statement, setup); {AtomicInt} etc. are filled per implementation.
ATOMIC_ROWS = [
    ("AtomicInt: a.inc()", "a.inc()", "a = AtomicInt(0)"),
    ("AtomicInt: a += 1", "a += 1", "a = AtomicInt(0)"),
    ("AtomicInt: a.fetch_add(1)", "a.fetch_add(1)", "a = AtomicInt(0)"),
    ("AtomicInt: a.load()", "a.load()", "a = AtomicInt(0)"),
    ("AtomicInt: a.compare_exchange(0, 0)", "a.compare_exchange(0, 0)", "a = AtomicInt(0)"),
]
LOCK_ROWS = [
    ("SpinLock: acquire(); release()", "l.acquire(); l.release()", "l = SpinLock()"),
    ("SpinLock: with l: pass", "with l: pass", "l = SpinLock()"),
    ("RWLock: acquire_read(); release_read()", "rw.acquire_read(); rw.release_read()", "rw = RWLock()"),
    ("RWLock: with rw.reader: pass", "with rw.reader: pass", "rw = RWLock()"),
]
EMPTY_ROW = ("empty loop (overhead, included above)", "pass", "")

# The `atomics` package spells the same operations differently.
ATOMICS_PEER = {
    "AtomicInt: a.inc()": "a.inc()",
    "AtomicInt: a.fetch_add(1)": "a.fetch_add(1)",
    "AtomicInt: a.load()": "a.load()",
    "AtomicInt: a.compare_exchange(0, 0)": "a.cmpxchg_strong(0, 0)",
}
THREADING_LOCK_PEER = {
    "SpinLock: acquire(); release()": "l.acquire(); l.release()",
    "SpinLock: with l: pass": "with l: pass",
}


# ---------------------------------------------------------------------------
# What this interpreter can measure
# ---------------------------------------------------------------------------


def import_pyatomics():
    """The installed pyatomics: drop the source checkout (no compiled
    extension) from sys.path so it cannot shadow the installed package."""
    repo = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.getcwd()) != repo]
    import pyatomics

    return pyatomics


def interpreter_name() -> str:
    impl = platform.python_implementation()
    ver = ".".join(platform.python_version_tuple()[:2])
    return f"{impl} {ver}{'t' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''}"


def implementations():
    """[(column name, {name: object} for the statements' namespace, {row: statement or None})]"""
    pyatomics = import_pyatomics()
    interp = interpreter_name()
    out = []
    for backend in ("capi", "cffi"):
        if backend not in pyatomics.available_backends():
            continue
        if backend == "capi":
            from pyatomics import _capi_binding as mod
        else:
            from pyatomics import _cffi_binding as mod
        names = {"AtomicInt": mod.AtomicInt, "SpinLock": mod.SpinLock, "RWLock": mod.RWLock}
        rows = {label: stmt for label, stmt, _ in ATOMIC_ROWS + LOCK_ROWS}
        rows[EMPTY_ROW[0]] = EMPTY_ROW[1]
        out.append((f"{interp} pyatomics {backend}", names, rows))
    try:
        import atomics
    except ImportError:
        pass
    else:
        names = {"AtomicInt": lambda v: atomics.atomic(width=8, atype=atomics.INT)}
        out.append((f"{interp} atomics {_version('atomics')}", names, dict(ATOMICS_PEER)))
    names = {"SpinLock": threading.Lock}
    out.append((f"{interp} threading.Lock", names, dict(THREADING_LOCK_PEER)))
    return out


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # noqa: BLE001 - a label only
        return "?"


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------

TEMPLATE = """
def run(n, clock):
    {setup}
    t0 = clock()
    for _ in range(n):
{body}
    return clock() - t0
"""


def make_runner(stmt: str, setup: str, names: dict):
    body = "\n".join("        " + stmt for _ in range(UNROLL))  # one line each: `with l: pass` needs it
    ns = dict(names)
    exec(TEMPLATE.format(setup=setup or "pass", body=body), ns)
    return ns["run"]


def measure_all(settings, progress=None):
    clock = time.thread_time if settings.clock == "cpu" else time.perf_counter
    cases = []  # (row, column, runner)
    columns = []
    for column, names, rows in implementations():
        columns.append(column)
        for label, _, setup in ATOMIC_ROWS + LOCK_ROWS + [EMPTY_ROW]:
            peer_stmt = rows.get(label)
            if peer_stmt is None:
                continue
            cases.append((label, column, make_runner(peer_stmt, setup, names)))
    # Calibrate (this also warms up PyPy's JIT): n so that one run takes target_s.
    sizes = {}
    for label, column, run in cases:
        n = 1000
        while True:
            elapsed = run(n, time.perf_counter)
            if elapsed >= settings.target_s or n >= 1 << 30:
                break
            n = min(n * 8, max(n * 2, int(n * settings.target_s / max(elapsed, 1e-9) * 1.2)))
        sizes[(label, column)] = n
    # Warm up every case before any is measured: PyPy's JIT compiles loops and
    # bridges over the first runs, and a later case must not pay for them.
    for _ in range(3):
        for label, column, run in cases:
            run(sizes[(label, column)], clock)
    best = {}
    for r in range(settings.repeats):
        for label, column, run in cases:
            n = sizes[(label, column)]
            per_op = run(n, clock) / (n * UNROLL) * 1e9
            key = (label, column)
            best[key] = min(best.get(key, per_op), per_op)
        if progress:
            progress(r + 1, settings.repeats)
    return columns, {f"{row}\t{col}": v for (row, col), v in best.items()}


def environment(settings) -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {
        "interpreter": f"{interpreter_name()} ({platform.python_implementation()} {sys.version.split()[0]}, "
                       f"{sys.executable})",
        "machine": f"{platform.machine()}, {cpu or '?'}, {os.cpu_count()} CPUs, {platform.system()} "
                   f"{platform.release()}",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load average (1, 5, 15 min) at start": load,
        "clock": f"{settings.clock} "
                 f"({'time.thread_time' if settings.clock == 'cpu' else 'time.perf_counter'}), "
                 f"min of {settings.repeats} interleaved repeats of ~{settings.target_s * 1e3:.0f} ms",
    }


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def render(results: list[dict]) -> str:
    columns = [c for r in results for c in r["columns"]]
    values = {}
    for r in results:
        for key, v in r["values"].items():
            values[key] = v
    lines = []
    for r in results:
        env = r["environment"]
        lines.append(f"- interpreter: {env['interpreter']}")
    env = results[0]["environment"]
    for key in ("machine", "date", "clock"):
        lines.append(f"- {key}: {env[key]}")
    for r in results:
        lines.append(f"- load average at start ({r['environment']['interpreter'].split(' (')[0]}): "
                     f"{r['environment']['load average (1, 5, 15 min) at start']}")
    lines.append("")
    lines.append("| ns per operation | " + " | ".join(columns) + " |")
    lines.append("|---|" + "---:|" * len(columns))
    for label, _, _ in ATOMIC_ROWS + LOCK_ROWS + [EMPTY_ROW]:
        cells = []
        for c in columns:
            v = values.get(f"{label}\t{c}")
            cells.append("" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.1f}"))
        if any(cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += targets(columns, values)
    return "\n".join(lines)


def targets(columns, values) -> list[str]:
    out = []
    pypy = next((c for c in columns if c.startswith("PyPy") and c.endswith("pyatomics cffi")), None)
    capi = next((c for c in columns if c.startswith("CPython") and c.endswith("pyatomics capi")), None)
    peer = next((c for c in columns if c.startswith("PyPy") and " atomics " in c), None)
    if pypy and capi:
        for label, _, _ in ATOMIC_ROWS:
            a, b = values.get(f"{label}\t{pypy}"), values.get(f"{label}\t{capi}")
            if a and b:
                ok = "met" if a <= b else "NOT met"
                out.append(f"- target {ok}: {label} on {pypy} {a:.1f} ns <= {capi} {b:.1f} ns ({b / a:.1f}x)")
    if pypy and peer:
        for label in ATOMICS_PEER:
            a, b = values.get(f"{label}\t{pypy}"), values.get(f"{label}\t{peer}")
            if a and b:
                ok = "met" if b / a >= 100 else "NOT met"
                out.append(f"- target {ok}: {label} on {pypy} is {b / a:,.0f}x faster than {peer} (>= 100x)")
    return out


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("interpreters", nargs="*",
                        help="run under each of these Python executables, one table")
    parser.add_argument("--quick", action="store_true",
                        help="3 repeats of ~3 ms (a smoke test, not a measurement)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the results as JSON ('-': stdout, no table)")
    args = parser.parse_args(argv)
    args.target_s = 0.003 if args.quick else 0.01
    if args.quick:
        args.repeats = min(args.repeats, 3)

    if args.interpreters:
        results = []
        for py in args.interpreters:
            cmd = [py, os.path.abspath(__file__), "--json", "-", "--repeats", str(args.repeats),
                   "--clock", args.clock]
            if args.quick:
                cmd.append("--quick")
            print(f"measuring with {py} ...", file=sys.stderr, flush=True)
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                return proc.returncode
            results.append(json.loads(proc.stdout))
    else:
        env = environment(args)

        def progress(done, total):
            print(f"\r{interpreter_name()}: repeat {done}/{total}", end="", file=sys.stderr, flush=True)

        columns, values = measure_all(args, None if args.json == "-" else progress)
        if args.json != "-":
            print(file=sys.stderr)
        results = [{"environment": env, "columns": columns, "values": values}]

    if args.json == "-":
        json.dump(results[0] if len(results) == 1 else results, sys.stdout)
        return 0
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
