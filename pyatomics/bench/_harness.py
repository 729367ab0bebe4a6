"""The interleaved harness behind ``python -m pyatomics bench``.

Nothing here is timed by the test suite (tests check behaviour, never speed).
Every ratio is computed from cases measured side by side in one process, on
one interpreter, in interleaved rounds:

    for round in range(R):           # R = 7 by default
        for case in suite.cases:     # every case once per round, in turn
            measure(case)
    value(case) = min over the R rounds    (of the time per operation)

so a burst of noise from another process hits every case of a round alike.
A ratio (this row / its reference) is computed per round, from the two
samples of the same round, and reported as the median of those per-round
ratios with their range (the lowest and the highest round dropped when there
are 5 or more).  A ratio whose range contains 1.00x is a **tie**, whatever
its median says; only a range wholly below (or above) 1.00x is a win (or a
loss).

Why not pyperf: pyperf is very good at one benchmark at a time (worker
processes, calibration, system-noise warnings), and ``--json`` keeps every
raw sample so its statistics can be redone.  But our ratios need the two
sides of a comparison measured in the same round, in the same process, a few
milliseconds apart; pyperf runs each benchmark in its own worker processes,
one benchmark after the other, so a noisy minute lands on one side of a
ratio only.  It also has no model for the threaded throughput cases
(N threads released together on a Barrier, wall time from the first to the
last).  So the interleaving stays ours; the load-average warning in the
header plays the part of pyperf's system-noise check, and the machine
(``pyperf system tune``) is left to the user.

A Suite is a list of Cases and becomes one markdown table.  Two kinds of case:

* ``st_case`` -- single thread, timeit-style: a statement in a tight
  ``for _ in range(n)`` loop, its setup (``f = a.inc``) run once before the
  loop so names are fast locals.  Reported as ns/op *including* the loop
  overhead; an empty-loop row (``pass``) shows what that overhead is.
* ``mt_case`` -- ``threads`` threads start on a Barrier, each runs a fixed
  count of operations on shared state, and the wall time from the first
  thread leaving the barrier to the last one finishing gives the throughput
  in Mops/s (total operations / wall time), or ns per operation.

Ratio columns compare each row with a reference row of the same table (see
``RatioColumn``), and ``Target`` lines read the project's speed goals off the
results.  ``render_markdown`` prints; ``to_jsonable`` is what ``--json``
writes.  ``progress`` callbacks draw the progress bar.
"""

from __future__ import annotations

import datetime as _dt
import gc
import importlib
import importlib.metadata
import math
import os
import platform
import sys
import sysconfig
import threading
import time
import timeit
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_threads() -> tuple[int, ...]:
    """1, 2, the usable cores, and twice as many threads as cores (capped at 16):
    the last one shows what spinning costs once threads outnumber cores."""
    cores = usable_cpus()
    return tuple(sorted({1, 2, min(cores, 16), min(2 * cores, 16)}))


@dataclass
class Settings:
    repeats: int = 7
    st_target_s: float = 0.01  # wall time of one single-thread measurement
    mt_target_s: float = 0.1  # wall time of one multi-thread measurement
    threads: tuple[int, ...] = field(default_factory=default_threads)
    # Clock of the single-thread cases: "wall" (time.perf_counter, as timeit)
    # or "cpu" (time.thread_time: this thread's CPU time, which leaves out the
    # time the OS gave to other processes -- steadier on a busy machine).
    # Multi-thread throughput always uses wall time.
    clock: str = "wall"

    @classmethod
    def quick(cls, threads: tuple[int, ...] = (1, 2)) -> Settings:
        return cls(repeats=3, st_target_s=0.002, mt_target_s=0.006, threads=threads)


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}
_st_clock = [time.perf_counter]


def set_clock(name: str) -> None:
    """Select the single-thread clock ("wall" or "cpu") for every st_case."""
    _st_clock[0] = CLOCKS[name]


def _clock() -> float:
    return _st_clock[0]()


# ---------------------------------------------------------------------------
# Importing the package under test and the peers
# ---------------------------------------------------------------------------


def import_pyatomics():
    """The pyatomics package this harness belongs to (the installed build)."""
    return importlib.import_module("pyatomics")


def gil_enabled() -> bool | None:
    """Whether the GIL is enabled right now (True on builds that always have one)."""
    fn = getattr(sys, "_is_gil_enabled", None)
    return True if fn is None else bool(fn())


def free_threaded_build() -> bool:
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


@dataclass
class Peer:
    name: str  # distribution name, as pip spells it
    module: Any = None  # the imported module, or None when missing
    version: str | None = None
    missing: str | None = None  # why it is not available
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.module is not None


class Peers:
    """Optional peer libraries; a missing one is recorded, never fatal.

    Keyed by module (one distribution may provide several modules, e.g.
    ft_utils.concurrency and ft_utils.synchronization)."""

    def __init__(self) -> None:
        self.peers: dict[str, Peer] = {}

    def load(self, dist: str, module: str, min_python: tuple[int, int] | None = None) -> Peer:
        if module in self.peers:
            return self.peers[module]
        peer = Peer(dist)
        peer.note = None
        self.peers[module] = peer
        if min_python and sys.version_info[:2] < min_python:
            peer.missing = "needs Python >= {}.{}".format(*min_python)
            return peer
        gil_before = gil_enabled()
        try:
            peer.module = importlib.import_module(module)
        except Exception as exc:  # ImportError, or a broken build
            peer.missing = f"{type(exc).__name__}: {exc}"
            return peer
        try:
            peer.version = importlib.metadata.version(dist)
        except Exception:
            peer.version = getattr(peer.module, "__version__", None)
        if gil_before is False and gil_enabled():
            peer.note = f"importing {module} re-enabled the GIL"
        return peer

    def by_dist(self, dist: str) -> list[tuple[str, Peer]]:
        return [(m, p) for m, p in self.peers.items() if p.name == dist]

    def missing_notes(self, dists: Sequence[str]) -> list[str]:
        """Table notes naming the peers (of these distributions) not measured."""
        notes = []
        for dist in dists:
            for _module, p in self.by_dist(dist):
                if not p.ok:
                    notes.append(f"peer {dist} MISSING, not measured: {p.missing}")
                elif p.note:
                    notes.append(f"peer {dist}: WARNING {p.note}")
        return list(dict.fromkeys(notes))

    def summary_lines(self) -> list[str]:
        lines = []
        for module, p in self.peers.items():
            if p.ok:
                s = "- {} {} (`{}`): available".format(p.name, p.version or "?", module)
                if p.note:
                    s += f" (WARNING: {p.note})"
            else:
                s = f"- {p.name} (`{module}`): MISSING ({p.missing})"
            lines.append(s)
        return lines

    def install_hint(self) -> str | None:
        """How to install the missing peers (None when none is missing, or none can be here)."""
        missing = sorted({p.name for p in self.peers.values()
                          if not p.ok and not (p.missing or "").startswith("needs")})
        if not missing:
            return None
        return (
            "Missing peers are not measured. Install them with `pip install 'pyatomics[bench]'` "
            "(the peers that have a build for this interpreter) or one by one: "
            + ", ".join(f"`pip install {m}`" for m in missing)
            + " (cereggii has no wheel for free-threaded 3.13: `pip install cmake` first)."
        )

    def to_jsonable(self) -> dict[str, Any]:
        return {
            module: {
                "dist": p.name,
                "available": p.ok,
                "version": p.version,
                "missing": p.missing,
                "note": p.note,
            }
            for module, p in self.peers.items()
        }


PEERS = Peers()

# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

SELF = "self"  # pyatomics
PEER = "peer"  # another library doing the same job
BASE = "baseline"  # stdlib / plain-Python reference points


@dataclass
class Case:
    key: str  # unique in its suite
    group: str  # rows compared with each other (an operation, a thread count)
    impl: str  # "pyatomics", "cereggii", "stdlib", ...
    role: str  # SELF, PEER or BASE
    code: str  # what is measured, as shown in the table
    # run(n) -> (seconds, operations): performs about n operations
    run: Callable[[int], tuple[float, int]]
    threads: int = 1
    form: str = ""  # how the code is written ("with", "pair", ...): ratios "same form" match it
    multi: bool = False  # a threaded throughput case (longer measurements)
    check: Callable[[], str | None] | None = None  # -> problem text or None
    calibrated_n: int = 0
    samples: list[float] = field(default_factory=list)  # seconds per operation
    error: str | None = None
    problem: str | None = None

    @property
    def best(self) -> float | None:
        """Seconds per operation: the min over the repeats."""
        return min(self.samples) if self.samples else None

    @property
    def spread(self) -> float | None:
        """median / min - 1 over the repeats: how noisy this row was."""
        if len(self.samples) < 2:
            return None
        xs = sorted(self.samples)
        mid = len(xs) // 2
        median = xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
        return median / xs[0] - 1.0


def st_case(
    key: str,
    group: str,
    impl: str,
    role: str,
    code: str,
    stmt: str,
    setup: str = "pass",
    env: dict[str, Any] | None = None,
    form: str = "",
) -> Case:
    """Single-thread timeit-style case: ``setup`` once, then ``stmt`` n times.

    Names bound in ``setup`` are locals of the timing function, so
    ``setup="f = a.inc", stmt="f()"`` measures the bound call with the method
    looked up once.
    """
    timer = timeit.Timer(stmt, setup, timer=_clock, globals=dict(env or {}))

    def run(n: int) -> tuple[float, int]:
        return timer.timeit(n), n  # timeit turns gc off while timing

    return Case(key, group, impl, role, code, run, form=form)


def mt_case(
    key: str,
    group: str,
    impl: str,
    role: str,
    code: str,
    threads: int,
    make_shared: Callable[[], Any],
    make_worker: Callable[[Any], Callable[[int], None]],
    check: Callable[[Any, int], str | None] | None = None,
    ops_per_n: int = 1,
    form: str = "",
) -> Case:
    """Multi-thread throughput case.

    ``make_shared()`` builds the shared state for one measurement;
    ``make_worker(shared)`` is called inside each thread (so per-thread
    handles can be made there) and returns ``work(n)`` doing
    ``n * ops_per_n`` operations.
    ``check(shared, n * threads)`` may return a problem (lost updates...).
    """
    last: dict[str, Any] = {}

    def run(n: int) -> tuple[float, int]:
        shared = make_shared()
        barrier = threading.Barrier(threads)
        starts = [0.0] * threads
        ends = [0.0] * threads
        errors: list[BaseException] = []

        def body(i: int) -> None:
            try:
                work = make_worker(shared)
                barrier.wait()
                starts[i] = time.perf_counter()
                work(n)
                ends[i] = time.perf_counter()
            except BaseException as exc:  # reported, not swallowed
                errors.append(exc)
                barrier.abort()

        ts = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(threads)]
        gc_was = gc.isenabled()
        gc.disable()
        try:
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        finally:
            if gc_was:
                gc.enable()
        if errors:
            raise errors[0]
        last["shared"] = shared
        last["total"] = n * threads
        return max(ends) - min(starts), n * threads * ops_per_n

    def do_check() -> str | None:
        if check is None or "shared" not in last:
            return None
        return check(last["shared"], last["total"])

    return Case(key, group, impl, role, code, run, threads=threads, form=form, multi=True, check=do_check)


# ---------------------------------------------------------------------------
# Suites, ratio columns, targets
# ---------------------------------------------------------------------------

TIME = "ns/op"
RATE = "Mops/s"

# A reference picker: (suite, case) -> the reference case, or None for n/a.
RefPicker = Callable[["Suite", Case], Optional[Case]]


@dataclass
class RatioColumn:
    header: str
    pick: RefPicker


def ref_key(key: str) -> RefPicker:
    """The fixed case ``key``."""

    def pick(suite: Suite, case: Case) -> Case | None:
        return suite.case(key)

    return pick


def ref_in_group(
    role: str, fallback_key: str | None = None, impl: str | None = None, same_form: bool = False
) -> RefPicker:
    """The fastest measured case of ``role`` (and ``impl``; and, with
    ``same_form``, written the same way) in the row's group."""

    def pick(suite: Suite, case: Case) -> Case | None:
        cands = [
            c
            for c in suite.cases
            if c.group == case.group
            and c.role == role
            and (impl is None or c.impl == impl)
            and (not same_form or c.form == case.form)
            and c.best
        ]
        if cands:
            return min(cands, key=lambda c: c.best)
        return suite.case(fallback_key) if fallback_key else None

    return pick


@dataclass
class Target:
    text: str  # the goal, in words
    value: float | None  # the measured ratio
    goal: str  # e.g. "<= 1.25"
    met: bool | None  # None: could not be evaluated
    detail: str = ""


@dataclass
class Suite:
    name: str  # short id, e.g. "atomicint.single"
    title: str
    metric: str  # TIME or RATE
    cases: list[Case]
    ratios: list[RatioColumn] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: Callable[[Suite], list[Target]] | None = None
    target_results: list[Target] = field(default_factory=list)

    def case(self, key: str) -> Case | None:
        for c in self.cases:
            if c.key == key:
                return c
        return None

    def value(self, case: Case) -> float | None:
        """The displayed number: ns/op or Mops/s."""
        b = case.best
        if b is None:
            return None
        return b * 1e9 if self.metric == TIME else 1e-6 / b

    def ratio(self, case: Case, ref: Case | None) -> float | None:
        """TIME: case time / ref time (lower is faster).
        RATE: case rate / ref rate (higher is faster).  Both equal
        ref.best / case.best or its inverse, computed from seconds per op."""
        if ref is None or case.best is None or ref.best is None:
            return None
        if self.metric == TIME:
            return case.best / ref.best
        return ref.best / case.best

    def ratio_cell(self, col: RatioColumn, case: Case) -> Ratio | None:
        try:
            ref = col.pick(self, case)
        except Exception:
            ref = None
        return make_ratio(case, ref, self.metric)


@dataclass
class Ratio:
    """One ratio cell: the median of the per-round ratios and their range.

    ``faster`` is "faster" when the row is faster than its reference in every
    round kept, "slower" when slower in every one, "tie" otherwise."""

    ref: str  # the reference case's key
    value: float  # median of the per-round ratios
    lo: float
    hi: float
    rounds: list[float]
    verdict: str  # "faster", "slower", "tie", or "same row"


def per_round(a: list[float], b: list[float]) -> list[float]:
    """a[i] / b[i] for the rounds both have (round i of one with round i of the other)."""
    return [x / y for x, y in zip(a, b) if x > 0 and y > 0]


def ratio_range(rounds: list[float]) -> tuple[float, float, float]:
    """(median, lo, hi): the range drops the lowest and highest round when there are 5 or more."""
    xs = sorted(rounds)
    mid = len(xs) // 2
    median = xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
    kept = xs[1:-1] if len(xs) >= 5 else xs
    return median, kept[0], kept[-1]


def make_ratio(case: Case, ref: Case | None, metric: str) -> Ratio | None:
    if ref is None or case.error or ref.error:
        return None
    # TIME: case time / ref time; RATE: case rate / ref rate = ref time / case time.
    rounds = per_round(case.samples, ref.samples) if metric == TIME else per_round(ref.samples, case.samples)
    if not rounds:
        return None
    value, lo, hi = ratio_range(rounds)
    if ref is case:
        verdict = "same row"
    elif lo <= 1.0 <= hi:
        verdict = "tie"
    elif (hi < 1.0) == (metric == TIME):
        verdict = "faster"
    else:
        verdict = "slower"
    return Ratio(ref.key, value, lo, hi, rounds, verdict)


def speedup(slow: Case | None, fast: Case | None) -> float | None:
    """How many times faster ``fast`` is than ``slow`` (per operation)."""
    if slow is None or fast is None or not slow.best or not fast.best:
        return None
    return slow.best / fast.best


def time_ratio(a: Case | None, b: Case | None) -> float | None:
    """time(a) / time(b): <= 1 means a is at least as fast as b."""
    if a is None or b is None or not a.best or not b.best:
        return None
    return a.best / b.best


def le_target(text: str, value: float | None, limit: float, detail: str = "") -> Target:
    return Target(text, value, f"<= {limit:.2f}x", None if value is None else value <= limit, detail)


def ge_target(text: str, value: float | None, limit: float, detail: str = "") -> Target:
    return Target(text, value, f">= {limit:.2f}x", None if value is None else value >= limit, detail)


def fastest(cases: Sequence[Case | None]) -> Case | None:
    ok = [c for c in cases if c is not None and c.best]
    return min(ok, key=lambda c: c.best) if ok else None


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

Progress = Callable[[int, int, str], None]  # (done, total, what)


def _calibrate(case: Case, target_s: float) -> int:
    """Pick n so that one run takes about target_s."""
    n = 10 if case.multi else 100
    while True:
        t, _ = case.run(n)
        if t >= target_s / 5 or n >= 1 << 40:
            break
        n *= 10 if t < target_s / 100 else 4
    n = max(1, int(n * target_s / max(t, 1e-9)))
    return n


def run_suites(suites: Sequence[Suite], settings: Settings, progress: Progress | None = None) -> None:
    """Calibrate every case, then run the interleaved repeats.

    Calls progress(done, total, what) after each step; the total counts one
    calibration and ``settings.repeats`` measurements per case.
    """
    set_clock(settings.clock)
    total = sum(len(s.cases) * (1 + settings.repeats) for s in suites)
    done = 0

    def tick(what: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, what)

    for suite in suites:
        for case in suite.cases:
            target = settings.mt_target_s if case.multi else settings.st_target_s
            try:
                case.calibrated_n = _calibrate(case, target)
            except Exception as exc:
                case.error = f"{type(exc).__name__}: {exc}"
            tick(f"{suite.name}: calibrate {case.key}")
        for rep in range(settings.repeats):
            for case in suite.cases:
                if case.error is None:
                    try:
                        t, ops = case.run(case.calibrated_n)
                        case.samples.append(t / ops)
                        if case.check is not None and case.problem is None:
                            case.problem = case.check()
                    except Exception as exc:
                        case.error = f"{type(exc).__name__}: {exc}"
                tick(f"{suite.name}: repeat {rep + 1}/{settings.repeats} {case.key}")
        if suite.targets is not None:
            try:
                suite.target_results = suite.targets(suite)
            except Exception as exc:
                suite.target_results = [
                    Target(f"(targets failed: {type(exc).__name__}: {exc})", None, "", None)
                ]


# ---------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "processor\t: ")) and ":" in line:
                    val = line.split(":", 1)[1].strip()
                    if val and not val.isdigit():
                        return val
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(settings: Settings, loadavg_before: Sequence[float] | None = None) -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    pa = sys.modules.get("pyatomics")
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "implementation": platform.python_implementation(),
        "version": platform.python_version(),
        "version_full": sys.version.replace("\n", " "),
        "executable": sys.executable,
        "free_threaded_build": free_threaded_build(),
        "gil_enabled_now": gil_enabled(),
        "switch_interval_s": sys.getswitchinterval(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "platform": platform.platform(),
        "pyatomics_version": getattr(pa, "__version__", None),
        "pyatomics_file": getattr(pa, "__file__", None),
        "pyatomics_backend": getattr(pa, "BACKEND", None),
        "repeats": settings.repeats,
        "st_target_s": settings.st_target_s,
        "mt_target_s": settings.mt_target_s,
        "single_thread_clock": settings.clock,
    }
    try:
        loadavg = os.getloadavg()
        info["loadavg"] = [round(x, 2) for x in loadavg]
    except (AttributeError, OSError):
        pass
    if loadavg_before is not None:
        info["loadavg_before"] = [round(x, 2) for x in loadavg_before]
    bi = getattr(getattr(pa, "_capi_binding", None), "build_info", None)
    if bi is not None:
        try:
            info["pyatomics_build_info"] = bi()
        except Exception:
            pass
    return info


def environment_markdown(env: dict[str, Any]) -> str:
    gil = "yes" if env["gil_enabled_now"] else "no"
    ft = "free-threaded" if env["free_threaded_build"] else "with GIL"
    lines = [
        "- interpreter: {} {} ({} build; GIL enabled now: {}) `{}`".format(
            env["implementation"], env["version"], ft, gil, env["executable"]
        ),
        "- machine: {}, {}, {} cores ({} usable){}".format(
            env["machine"],
            env["cpu_model"],
            env["cpu_count"],
            env.get("cpus_usable"),
            _load_text(env),
        ),
        "- date: {}".format(env["date"]),
        "- pyatomics {} (backend {}) from `{}`".format(
            env["pyatomics_version"], env.get("pyatomics_backend"), env["pyatomics_file"]
        ),
        "- method: min of {} interleaved repeats; ~{:g} ms per single-thread measurement (clock: {}), "
        "~{:g} ms per multi-thread one (wall clock)".format(
            env["repeats"],
            env["st_target_s"] * 1e3,
            "thread CPU time" if env.get("single_thread_clock") == "cpu" else "wall",
            env["mt_target_s"] * 1e3,
        ),
    ]
    busy = max(env.get("loadavg_before", [0])[0], env.get("loadavg", [0])[0])
    cores = env.get("cpus_usable") or env.get("cpu_count") or 1
    if busy >= 0.75 * cores:
        lines.append(
            f"- **WARNING: busy machine (1-min load {busy:g} on {cores} cores): other processes "
            "shared the CPUs, so the numbers are noisy; rerun on a quiet machine "
            "(`--clock cpu --repeats 15` helps the single-thread tables a little).**"
        )
    return "\n".join(lines)


def _load_text(env: dict[str, Any]) -> str:
    parts = []
    if "loadavg_before" in env:
        parts.append("before " + " ".join(str(x) for x in env["loadavg_before"]))
    if "loadavg" in env:
        parts.append("after " + " ".join(str(x) for x in env["loadavg"]))
    return ", load avg " + ", ".join(parts) if parts else ""


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def _fmt_value(v: float | None, metric: str) -> str:
    if v is None:
        return "-"
    if metric == TIME:
        return f"{v:.1f}" if v < 1000 else f"{v:.0f}"
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"


def fmt_ratio(r: Ratio | None) -> str:
    """``0.93x [0.88-1.01] tie``: median of the per-round ratios, their range, the verdict."""
    if r is None or math.isnan(r.value):
        return "n/a"
    if r.verdict == "same row":
        return "(reference)"
    return f"{r.value:.2f}x [{r.lo:.2f}-{r.hi:.2f}] {r.verdict}"


def render_markdown(suite: Suite, env: dict[str, Any] | None = None) -> str:
    out = [f"### {suite.title}", ""]
    if env is not None:
        out += [environment_markdown(env), ""]
    if suite.metric == TIME:
        out.append(
            "ns/op includes the loop overhead (see the empty-loop row); "
            "ratios are time / reference time, lower is faster."
            if suite.metric == TIME and not any(c.multi for c in suite.cases)
            else "ns/op = wall time / all threads' operations; ratios are time / reference time, "
            "lower is faster."
        )
    else:
        out.append(
            "Mops/s = all threads' operations / wall time; "
            "ratios are rate / reference rate, higher is faster."
        )
    out.append(
        "noise = how far the median round is above the best one (large: a busy machine, distrust the row). "
        "A ratio is the median of the per-round ratios [their range, lowest and highest round dropped "
        "from 5 rounds on]; a range that contains 1.00x is a tie."
    )
    out.append("")
    header = ["group", "implementation", "code", suite.metric, "noise"] + [r.header for r in suite.ratios]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join(["---", "---", "---", "---:", "---:"] + ["---:"] * len(suite.ratios)) + "|")
    for case in suite.cases:
        if case.error is not None:
            val = "ERROR"
        else:
            val = _fmt_value(suite.value(case), suite.metric)
        noise = "-" if case.spread is None else f"{100 * case.spread:.0f}%"
        row = [case.group, case.impl, f"`{case.code}`", val, noise]
        for col in suite.ratios:
            row.append(fmt_ratio(suite.ratio_cell(col, case)))
        out.append("| " + " | ".join(row) + " |")
    problems = [c for c in suite.cases if c.error or c.problem]
    if problems or suite.notes:
        out.append("")
    for note in suite.notes:
        out.append(f"- {note}")
    lines = []
    for c in problems:
        if c.error:
            lines.append(f"- `{c.code}` ({c.impl}) failed: {c.error}")
        if c.problem:
            lines.append(
                "- `{}` ({}, {} thread{}): {}".format(
                    c.code, c.impl, c.threads, "" if c.threads == 1 else "s", c.problem
                )
            )
    out += list(dict.fromkeys(lines))
    if suite.target_results:
        out += ["", "Targets:", ""]
        for t in suite.target_results:
            status = {True: "MET", False: "MISSED", None: "N/A"}[t.met]
            val = f"{t.value:.3f}x" if t.value is not None else "n/a"
            line = f"- [{status}] {t.text}: {val} (goal {t.goal})"
            if t.detail:
                line += f" - {t.detail}"
            out.append(line)
    out.append("")
    return "\n".join(out)


def to_jsonable(suites: Sequence[Suite], env: dict[str, Any]) -> dict[str, Any]:
    res: dict[str, Any] = {"format": "pyatomics-bench/1", "environment": env, "peers": PEERS.to_jsonable(),
                           "suites": []}
    for s in suites:
        cases = []
        for c in s.cases:
            d: dict[str, Any] = {
                "key": c.key,
                "group": c.group,
                "impl": c.impl,
                "role": c.role,
                "code": c.code,
                "threads": c.threads,
                "form": c.form,
                "multi": c.multi,
                "n": c.calibrated_n,
                "samples_s_per_op": c.samples,
                "best_s_per_op": c.best,
                "spread": c.spread,
                s.metric: s.value(c),
                "error": c.error,
                "problem": c.problem,
                "ratios": {},
            }
            for col in s.ratios:
                r = s.ratio_cell(col, c)
                d["ratios"][col.header] = (
                    {"ref": None, "value": None}
                    if r is None
                    else {"ref": r.ref, "value": r.value, "lo": r.lo, "hi": r.hi, "verdict": r.verdict,
                          "per_round": r.rounds}
                )
            cases.append(d)
        res["suites"].append(
            {
                "name": s.name,
                "title": s.title,
                "metric": s.metric,
                "notes": s.notes,
                "cases": cases,
                "targets": [
                    {"text": t.text, "value": t.value, "goal": t.goal, "met": t.met, "detail": t.detail}
                    for t in s.target_results
                ],
            }
        )
    return res


def progress_bar(stream=None) -> Progress:
    """A one-line progress bar on stderr (redrawn in place when a tty)."""
    stream = stream or sys.stderr
    tty = stream.isatty()
    state = {"last_pct": -1, "t0": time.monotonic()}

    def cb(done: int, total: int, what: str) -> None:
        pct = int(100 * done / max(total, 1))
        if tty:
            width = 30
            filled = int(width * done / max(total, 1))
            elapsed = time.monotonic() - state["t0"]
            bar = "#" * filled + "." * (width - filled)
            line = f"\r[{bar}] {pct:3d}% {elapsed:5.0f}s {what[:60].ljust(60)}"
            stream.write(line)
            if done >= total:
                stream.write("\n")
            stream.flush()
        elif pct // 10 != state["last_pct"] // 10 or done >= total:
            stream.write(f"  {pct:3d}% ({time.monotonic() - state['t0']:.0f}s) {what}\n")
            stream.flush()
        state["last_pct"] = pct

    return cb


def parse_threads(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(x) for x in text.replace(" ", "").split(",") if x)
    except ValueError:
        vals = ()
    if not vals or any(v < 1 for v in vals):
        raise ValueError(f"--threads wants positive integers, e.g. 1,2,4 (got {text!r})")
    return tuple(sorted(set(vals)))


def case_filter(patterns: str | None) -> Callable[[Suite, Case], bool]:
    """``--cases``: comma-separated patterns matched against ``suite/key``
    (e.g. ``atomicint.single/*``); a pattern without wildcards matches as a substring."""
    import fnmatch

    if not patterns:
        return lambda suite, case: True
    pats = [p.strip() for p in patterns.split(",") if p.strip()]
    pats = [p if any(ch in p for ch in "*?[") else f"*{p}*" for p in pats]

    def keep(suite: Suite, case: Case) -> bool:
        name = f"{suite.name}/{case.key}"
        return any(fnmatch.fnmatchcase(name, p) for p in pats)

    return keep


def add_arguments(ap, builders: Sequence[str]) -> None:
    """The options of ``python -m pyatomics bench`` (and benchmarks/run_all.py)."""
    ap.add_argument("--quick", action="store_true",
                    help="3 short rounds, threads 1,2: a smoke test in seconds, not a measurement")
    ap.add_argument("--repeats", type=int, default=None, metavar="R",
                    help="interleaved rounds (default 7; --quick 3)")
    ap.add_argument("--threads", default=None, metavar="1,2,4",
                    help="thread counts of the throughput and scaling tables (default: 1, 2, the usable "
                    "cores and twice that, capped at 16; here {})".format(
                        ",".join(map(str, default_threads()))))
    ap.add_argument("--only", default=None, metavar="SUITES",
                    help="comma-separated subset of: {}".format(",".join(builders)))
    ap.add_argument("--cases", default=None, metavar="PATTERNS",
                    help="only the cases whose suite/key matches one of these comma-separated patterns, "
                    "e.g. 'atomicint.single/*' or 'inc' (a substring)")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                    help="single-thread clock: wall (default) or cpu (thread CPU time, steadier on a busy "
                    "machine)")
    ap.add_argument("--json", metavar="FILE", default=None,
                    help="also write the machine, interpreter, GIL state, backend, date, every raw sample "
                    "and every ratio as JSON (input of --compare and --plot)")
    ap.add_argument("--markdown", metavar="FILE", default=None, help="also write the tables to FILE")
    ap.add_argument("--plot", metavar="FILE.png", default=None,
                    help="draw the ratios with their spread and the scaling curves (needs matplotlib)")
    ap.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"), default=None,
                    help="measure nothing: print the change from run A to run B (files from --json)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run_from_args(args, builders: dict[str, Callable[[Settings], list[Suite]]], error) -> int:
    """Run what the parsed ``args`` ask for; ``error(msg)`` exits with a usage message (status 2)."""
    import json

    if args.compare:
        from . import compare

        return compare.main(args.compare[0], args.compare[1])
    if args.plot:
        try:
            import matplotlib  # noqa: F401  (only whether it is there)
        except ImportError:
            error("--plot needs matplotlib: pip install matplotlib (or pip install 'pyatomics[plot]')")
    if args.repeats is not None and args.repeats < 1:
        error("--repeats must be at least 1")
    try:
        threads = parse_threads(args.threads) if args.threads else None
    except ValueError as exc:
        error(str(exc))
    if args.quick:
        settings = Settings.quick(threads or (1, 2))
    else:
        settings = Settings(threads=threads or default_threads())
    if args.repeats:
        settings.repeats = args.repeats
    settings.clock = args.clock
    names = list(builders)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in builders]
        if unknown:
            error("unknown --only {} (choose from {})".format(",".join(unknown), ",".join(builders)))
    keep = case_filter(args.cases)
    suites: list[Suite] = []
    for n in names:
        for suite in builders[n](settings):
            suite.cases = [c for c in suite.cases if keep(suite, c)]
            if suite.cases:
                suites.append(suite)
    if not suites:
        error(f"--cases {args.cases!r} matches no case")
    try:
        load_before: Sequence[float] | None = os.getloadavg()
    except (AttributeError, OSError):
        load_before = None
    run_suites(suites, settings, None if args.no_progress else progress_bar())
    env = environment(settings, load_before)
    env["argv"] = list(sys.argv[1:])
    env["quick"] = bool(args.quick)
    parts = ["## pyatomics benchmarks", "", environment_markdown(env), "", "Peers:", ""]
    parts += PEERS.summary_lines() + [""]
    hint = PEERS.install_hint()
    if hint:
        parts += [hint, ""]
    if args.quick:
        parts += ["**--quick run: a smoke test; the numbers are not measurements.**", ""]
    for s in suites:
        parts.append(render_markdown(s))
    text = "\n".join(parts)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    data = to_jsonable(suites, env)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
    if args.plot:
        from . import plot

        plot.plot(data, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


def main(
    builders: dict[str, Callable[[Settings], list[Suite]]],
    argv: Sequence[str] | None = None,
    description: str | None = None,
    prog: str | None = None,
) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(ap, list(builders))
    args = ap.parse_args(argv)
    return run_from_args(args, builders, ap.error)
