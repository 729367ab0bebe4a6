"""AtomicRef: single-thread ns/op of load() and store() against the peers and a
plain attribute.

    python -m pyatomics bench --only atomicref

Each operation in a tight ``for _ in range(n)`` loop with the bound method looked
up once (``f = r.load`` then ``f()``), and the ``r.load()`` method-call form.
Baselines: a plain instance attribute (``o.x``, ``o.x = v``: atomic per bytecode,
but no exchange or compare-exchange) and an empty loop.  The gap to the attribute
read is the price of the load protocol (csrc/pa_ref.h) plus a method call.

Peers (each optional; a missing one is named in the output):
  cereggii.AtomicRef                   get(), set()
  ft_utils.concurrency.AtomicReference get(), set()  (3.12+)
"""

from __future__ import annotations

from typing import Any, Callable

from . import _harness as h

pyatomics = h.import_pyatomics()
AtomicRef = pyatomics.AtomicRef

cereggii = h.PEERS.load("cereggii", "cereggii").module
_ftc = h.PEERS.load("ft_utils", "ft_utils.concurrency", min_python=(3, 12)).module


class _Plain:
    __slots__ = ("x",)

    def __init__(self, x: object) -> None:
        self.x = x


_HELD = object()

MAKERS: dict[str, Callable[[], Any] | None] = {
    "pyatomics": lambda: AtomicRef(_HELD),
    "cereggii": (lambda: cereggii.AtomicRef(_HELD)) if cereggii else None,
    "ft_utils": (lambda: _ftc.AtomicReference(_HELD)) if _ftc else None,
}

# group -> [(impl, code shown, setup, stmt)]; ``r`` is the reference, ``v`` an object.
OPS: dict[str, list[tuple]] = {
    "load": [
        ("pyatomics", "f = r.load; f()", "f = r.load", "f()"),
        ("cereggii", "f = r.get; f()", "f = r.get", "f()"),
        ("ft_utils", "f = r.get; f()", "f = r.get", "f()"),
    ],
    "load, r.m() form": [
        ("pyatomics", "r.load()", "", "r.load()"),
        ("cereggii", "r.get()", "", "r.get()"),
        ("ft_utils", "r.get()", "", "r.get()"),
    ],
    "store": [
        ("pyatomics", "f = r.store; f(v)", "f = r.store", "f(v)"),
        ("cereggii", "f = r.set; f(v)", "f = r.set", "f(v)"),
        ("ft_utils", "f = r.set; f(v)", "f = r.set", "f(v)"),
    ],
}
BASELINES = {
    "load": ("o.x", "o.x"),
    "load, r.m() form": ("o.x", "o.x"),
    "store": ("o.x = v", "o.x = v"),
}


def single_suite(settings: h.Settings) -> h.Suite:
    cases: list[h.Case] = []
    env = {"MAKERS": MAKERS, "_Plain": _Plain, "_HELD": _HELD}
    cases.append(h.st_case("loop/empty", "loop", "python", h.BASE, "for _ in range(n): pass", "pass"))
    for group, rows in OPS.items():
        for impl, code, setup, stmt in rows:
            if MAKERS.get(impl) is None:
                continue
            full_setup = "r = MAKERS[{!r}]()\nv = object()\n{}".format(impl, setup or "pass")
            role = h.SELF if impl == "pyatomics" else h.PEER
            cases.append(h.st_case(f"{group}/{impl}", group, impl, role, code, stmt, full_setup, env))
        code, stmt = BASELINES[group]
        cases.append(h.st_case(f"{group}/attribute", group, "attribute (no CAS)", h.BASE, code, stmt,
                               "o = _Plain(_HELD)\nv = object()", env))

    def targets(suite: h.Suite) -> list[h.Target]:
        out: list[h.Target] = []
        for group in OPS:
            mine = suite.case(f"{group}/pyatomics")
            peers = [c for c in suite.cases if c.group == group and c.role == h.PEER]
            best = h.fastest(peers)
            if not peers:
                out.append(h.Target(f"{group}: pyatomics time / fastest peer", None, "<= 1.00x", None,
                                    "peers offering it not installed: cereggii, ft_utils"))
                continue
            out.append(h.le_target(f"{group}: pyatomics `{mine.code if mine else '?'}` time / fastest peer",
                                   h.time_ratio(mine, best), 1.0,
                                   f"fastest peer: {best.impl} `{best.code}`" if best else "no peer measured"))
        return out

    return h.Suite(
        name="atomicref.single",
        title="AtomicRef, single thread: ns per operation",
        metric=h.TIME,
        cases=cases,
        ratios=[
            h.RatioColumn("vs attribute (same op)", h.ref_in_group(h.BASE)),
            h.RatioColumn("vs fastest peer (same op)", h.ref_in_group(h.PEER)),
        ],
        notes=h.PEERS.missing_notes(["cereggii", "ft_utils"]),
        targets=targets,
    )


def build(settings: h.Settings) -> list[h.Suite]:
    return [single_suite(settings)]
