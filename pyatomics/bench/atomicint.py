"""AtomicInt: single-thread ns/op and contended multi-thread throughput.

    python -m pyatomics bench --only atomicint

Single thread: each operation in a tight ``for _ in range(n)`` loop with the
bound method looked up once (``f = a.inc`` then ``f()``), plus the ``a += 1``
statement form and, for inc, the plain ``a.inc()`` method-call form (looked
up every time, as most code writes it), against the peers' equivalents and stdlib baselines
(``with lock: x += 1`` on a threading.Lock, ``next(c)`` on an
itertools.count) and an empty loop showing the loop's own cost.

Threads: every thread increments ONE shared object a fixed number of times,
starting together on a Barrier; throughput = all increments / wall time.

Peers (each optional; a missing one is named in the output):
  cereggii.AtomicInt64                 increment_and_get(), +=, get_and_increment(n),
                                       get(), set(), get_and_set(), compare_and_set()
  ft_utils.concurrency.AtomicInt64     incr(), decr(), +=, get(), set()  (3.12+)
  atomics.atomic(width=8, atype=INT)   inc(), dec(), add(), fetch_add(), load(),
                                       store(), exchange(), cmpxchg_strong(), bin_fetch_or()
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Callable

from . import _harness as h

pyatomics = h.import_pyatomics()
AtomicInt = pyatomics.AtomicInt

cereggii = h.PEERS.load("cereggii", "cereggii").module
_ftc = h.PEERS.load("ft_utils", "ft_utils.concurrency", min_python=(3, 12)).module
atomics = h.PEERS.load("atomics", "atomics").module


def _atomics_int(value: int = 0):
    a = atomics.atomic(width=8, atype=atomics.INT)
    a.store(value)
    return a


# Constructors, one per implementation of a 64-bit atomic integer.
MAKERS: dict[str, Callable[[], Any] | None] = {
    "pyatomics": lambda: AtomicInt(0),
    "cereggii": (lambda: cereggii.AtomicInt64(0)) if cereggii else None,
    "ft_utils": (lambda: _ftc.AtomicInt64(0)) if _ftc else None,
    "atomics": _atomics_int if atomics else None,
}

# Single-thread operations: group -> [(impl, code shown, setup, stmt)].
# In the setup, ``a`` is the atomic and ``f`` the bound method.
OPS: dict[str, list[tuple]] = {
    "inc": [
        ("pyatomics", "f = a.inc; f()", "f = a.inc", "f()"),
        ("cereggii", "f = a.increment_and_get; f()", "f = a.increment_and_get", "f()"),
        ("ft_utils", "f = a.incr; f()", "f = a.incr", "f()"),
        ("atomics", "f = a.inc; f()", "f = a.inc", "f()"),
    ],
    "inc, a.m() form": [
        ("pyatomics", "a.inc()", "", "a.inc()"),
        ("cereggii", "a.increment_and_get()", "", "a.increment_and_get()"),
        ("ft_utils", "a.incr()", "", "a.incr()"),
        ("atomics", "a.inc()", "", "a.inc()"),
    ],
    "+= 1": [
        ("pyatomics", "a += 1", "", "a += 1"),
        ("cereggii", "a += 1", "", "a += 1"),
        ("ft_utils", "a += 1", "", "a += 1"),
    ],
    "fetch_add": [
        ("pyatomics", "a.fetch_add(1)", "f = a.fetch_add", "f(1)"),
        ("cereggii", "a.get_and_increment(1)", "f = a.get_and_increment", "f(1)"),
        ("atomics", "a.fetch_add(1)", "f = a.fetch_add", "f(1)"),
    ],
    "add": [
        ("pyatomics", "a.add(1)", "f = a.add", "f(1)"),
        ("cereggii", "a.increment_and_get(1)", "f = a.increment_and_get", "f(1)"),
        ("atomics", "a.add(1)", "f = a.add", "f(1)"),
    ],
    "dec": [
        ("pyatomics", "a.dec()", "f = a.dec", "f()"),
        ("cereggii", "a.decrement_and_get()", "f = a.decrement_and_get", "f()"),
        ("ft_utils", "a.decr()", "f = a.decr", "f()"),
        ("atomics", "a.dec()", "f = a.dec", "f()"),
    ],
    "load": [
        ("pyatomics", "a.load()", "f = a.load", "f()"),
        ("cereggii", "a.get()", "f = a.get", "f()"),
        ("ft_utils", "a.get()", "f = a.get", "f()"),
        ("atomics", "a.load()", "f = a.load", "f()"),
    ],
    "store": [
        ("pyatomics", "a.store(0)", "f = a.store", "f(0)"),
        ("cereggii", "a.set(0)", "f = a.set", "f(0)"),
        ("ft_utils", "a.set(0)", "f = a.set", "f(0)"),
        ("atomics", "a.store(0)", "f = a.store", "f(0)"),
    ],
    "exchange": [
        ("pyatomics", "a.exchange(0)", "f = a.exchange", "f(0)"),
        ("cereggii", "a.get_and_set(0)", "f = a.get_and_set", "f(0)"),
        ("atomics", "a.exchange(0)", "f = a.exchange", "f(0)"),
    ],
    "compare_exchange": [
        ("pyatomics", "a.compare_exchange(0, 0)", "f = a.compare_exchange", "f(0, 0)"),
        ("cereggii", "a.compare_and_set(0, 0)", "f = a.compare_and_set", "f(0, 0)"),
        ("atomics", "a.cmpxchg_strong(0, 0)", "f = a.cmpxchg_strong", "f(0, 0)"),
    ],
    "fetch_or": [
        ("pyatomics", "a.fetch_or(0)", "f = a.fetch_or", "f(0)"),
        ("atomics", "a.bin_fetch_or(0)", "f = a.bin_fetch_or", "f(0)"),
    ],
    "fetch_max": [
        ("pyatomics", "a.fetch_max(0)", "f = a.fetch_max", "f(0)"),
    ],
}

# Operations a peer does not offer at all (so its row is absent, not missing).
NO_EQUIVALENT = [
    "ft_utils AtomicInt64 has no fetch_add / add(n) / exchange / compare-exchange / bitwise ops",
    "atomics has no `+=` (no __iadd__) and no fetch_max; its inc()/dec()/add()/store() return None",
    "cereggii AtomicInt64 has no bitwise fetch ops or fetch_max",
]


def _missing_notes(dists) -> list[str]:
    return h.PEERS.missing_notes(dists)


def _ref_pyatomics(key_fmt: str) -> h.RefPicker:
    def pick(suite: h.Suite, case: h.Case) -> h.Case | None:
        same = [c for c in suite.cases if c.group == case.group and c.impl == "pyatomics" and c.best]
        if case.group == "loop":
            return None  # the loop's own cost is not a comparison
        return same[0] if same else suite.case(key_fmt.format(threads=case.threads))

    return pick


def single_suite(settings: h.Settings) -> h.Suite:
    cases: list[h.Case] = []
    env = {"AtomicInt": AtomicInt, "MAKERS": MAKERS, "threading": threading, "itertools": itertools}
    cases.append(h.st_case("loop/empty", "loop", "python", h.BASE, "for _ in range(n): pass", "pass"))
    for group, rows in OPS.items():
        for impl, code, setup, stmt in rows:
            if MAKERS.get(impl) is None:
                continue
            full_setup = "a = MAKERS[{!r}]()\n{}".format(impl, setup or "pass")
            role = h.SELF if impl == "pyatomics" else h.PEER
            cases.append(h.st_case(f"{group}/{impl}", group, impl, role, code, stmt, full_setup, env))
        if group == "inc":
            cases.append(
                h.st_case(
                    "inc/lock",
                    group,
                    "threading.Lock",
                    h.BASE,
                    "with lock: x += 1",
                    "with lock:\n    x += 1",
                    "lock = threading.Lock()\nx = 0",
                    env,
                )
            )
            cases.append(
                h.st_case(
                    "inc/count",
                    group,
                    "itertools.count",
                    h.BASE,
                    "next(c)",
                    "nxt(c)",
                    "c = itertools.count()\nnxt = next",
                    env,
                )
            )
            cases.append(
                h.st_case(
                    "inc/count_dunder",
                    group,
                    "itertools.count",
                    h.BASE,
                    "f = c.__next__; f()",
                    "f()",
                    "c = itertools.count()\nf = c.__next__",
                    env,
                )
            )
        if group == "+= 1":
            cases.append(
                h.st_case("+= 1/int", group, "int (not atomic)", h.BASE, "x += 1", "x += 1", "x = 0")
            )

    def targets(suite: h.Suite) -> list[h.Target]:
        out: list[h.Target] = []
        for group in OPS:
            mine = suite.case(f"{group}/pyatomics")
            peers = [c for c in suite.cases if c.group == group and c.role == h.PEER]
            best = h.fastest(peers)
            if not peers:
                offered = sorted({impl for impl, *_ in OPS[group] if impl != "pyatomics"})
                why = (
                    "peers offering it not installed: {}".format(", ".join(offered))
                    if offered
                    else "no peer offers it"
                )
                out.append(h.Target(f"{group}: pyatomics time / fastest peer", None, "<= 1.00x", None, why))
                continue
            out.append(
                h.le_target(
                    "{}: pyatomics `{}` time / fastest peer".format(group, mine.code if mine else "?"),
                    h.time_ratio(mine, best),
                    1.0,
                    f"fastest peer: {best.impl} `{best.code}`" if best else "no peer measured",
                )
            )
        inc = suite.case("inc/pyatomics")
        out.append(
            h.le_target(
                "`a.inc()` time / `next(itertools.count())` time",
                h.time_ratio(inc, suite.case("inc/count")),
                1.25,
            )
        )
        out.append(
            h.ge_target(
                "`a.inc()` speed-up over `with lock: x += 1`", h.speedup(suite.case("inc/lock"), inc), 5.0
            )
        )
        return out

    return h.Suite(
        name="atomicint.single",
        title="AtomicInt, single thread: ns per operation",
        metric=h.TIME,
        cases=cases,
        ratios=[
            h.RatioColumn("vs pyatomics (same op)", _ref_pyatomics("inc/pyatomics")),
            h.RatioColumn("vs fastest peer (same op)", h.ref_in_group(h.PEER)),
        ],
        notes=_missing_notes(["cereggii", "ft_utils", "atomics"]) + NO_EQUIVALENT,
        targets=targets,
    )


# --- contended throughput --------------------------------------------------


def _w_call0(attr: str) -> Callable[[Any], Callable[[int], None]]:
    def make(a):
        f = getattr(a, attr)

        def work(n: int, f=f) -> None:
            for _ in range(n):
                f()

        return work

    return make


def _w_iadd(a):
    def work(n: int, a=a) -> None:
        for _ in range(n):
            a += 1

    return work


def _check_value(get: Callable[[Any], int]) -> Callable[[Any, int], str | None]:
    def check(shared, total: int) -> str | None:
        got = get(shared)
        if got != total:
            return f"LOST UPDATES: {total} increments, final value {got}"
        return None

    return check


def _lock_shared():
    return (threading.Lock(), [0])


def _w_lock(shared):
    lock, box = shared

    def work(n: int, lock=lock, box=box) -> None:
        for _ in range(n):
            with lock:
                box[0] += 1

    return work


def _w_count(c):
    def work(n: int, c=c, nxt=next) -> None:
        for _ in range(n):
            nxt(c)

    return work


def _count_check(c, total: int) -> str | None:
    got = next(c)
    if got != total:
        return f"LOST UPDATES: {total} next() calls, next value {got}"
    return None


def contended_suite(settings: h.Settings) -> h.Suite:
    cases: list[h.Case] = []
    getters = {
        "pyatomics": lambda a: a.load(),
        "cereggii": lambda a: a.get(),
        "ft_utils": lambda a: a.get(),
        "atomics": lambda a: a.load(),
    }
    impls = [
        ("pyatomics", "a.inc()", "inc", h.SELF),
        ("pyatomics", "a += 1", None, h.SELF),
        ("cereggii", "a.increment_and_get()", "increment_and_get", h.PEER),
        ("ft_utils", "a.incr()", "incr", h.PEER),
        ("atomics", "a.inc()", "inc", h.PEER),
    ]
    for t in settings.threads:
        group = f"{t} thread{'' if t == 1 else 's'}"
        for impl, code, attr, role in impls:
            make = MAKERS.get(impl)
            if make is None:
                continue
            key = f"{impl}.{attr or 'iadd'}@{t}"
            worker = _w_call0(attr) if attr else _w_iadd
            cases.append(
                h.mt_case(key, group, impl, role, code, t, make, worker, _check_value(getters[impl]))
            )
        cases.append(
            h.mt_case(
                f"lock@{t}",
                group,
                "threading.Lock",
                h.BASE,
                "with lock: box[0] += 1",
                t,
                _lock_shared,
                _w_lock,
                _check_value(lambda s: s[1][0]),
            )
        )
        cases.append(
            h.mt_case(
                f"count@{t}",
                group,
                "itertools.count",
                h.BASE,
                "next(c)",
                t,
                itertools.count,
                _w_count,
                _count_check,
            )
        )

    def targets(suite: h.Suite) -> list[h.Target]:
        out = []
        for t in settings.threads:
            mine = suite.case(f"pyatomics.inc@{t}")
            peers = [c for c in suite.cases if c.threads == t and c.role == h.PEER]
            best = h.fastest(peers)
            out.append(
                h.ge_target(
                    f"{t}-thread contended `a.inc()` throughput / best peer"
                    + ("" if t == 2 else " (reference only; the goal is for 2 threads)"),
                    h.speedup(best, mine),
                    1.0,
                    f"best peer: {best.impl} `{best.code}`" if best else "no peer measured",
                )
            )
        return out

    return h.Suite(
        name="atomicint.contended",
        title="AtomicInt, contended increments of one shared object: throughput",
        metric=h.RATE,
        cases=cases,
        ratios=[
            h.RatioColumn(
                "vs pyatomics a.inc() (same threads)", lambda s, c: s.case(f"pyatomics.inc@{c.threads}")
            ),
            h.RatioColumn("vs best peer (same threads)", h.ref_in_group(h.PEER)),
        ],
        notes=_missing_notes(["cereggii", "ft_utils", "atomics"]),
        targets=targets,
    )


def build(settings: h.Settings) -> list[h.Suite]:
    return [single_suite(settings), contended_suite(settings)]

