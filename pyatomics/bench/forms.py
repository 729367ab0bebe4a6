"""AtomicInt in the forms real code writes: where the name lives, how many threads.

    python -m pyatomics bench --only forms

``a += 1`` on a fast local is the cheapest form in one thread, but real code
keeps a counter somewhere: on an object (``self.hits += 1``) or in a module
(``global HITS; HITS += 1``).  There ``+=`` does more than the atomic add:
it stores the (same) object back into the attribute or the module dict, and
under free threading those stores from several threads fight over one
dict or object.  ``.inc()`` only reads the name and adds.

Every case: ``threads`` threads, each doing a fixed number of increments of
ONE shared AtomicInt; the table gives ns per increment (wall time / all
threads' increments), so 1 and N threads read alike.  The ratio column
compares ``+= 1`` with ``.inc()`` written in the same place, in the same
round.
"""

from __future__ import annotations

from typing import Any, Callable

from . import _harness as h

pyatomics = h.import_pyatomics()
AtomicInt = pyatomics.AtomicInt

G: Any = None  # the module-level counter of the "global" cases


class Holder:
    """A plain object with the counter as an instance attribute (``self.c``)."""

    def __init__(self) -> None:
        self.c = AtomicInt(0)


def _make_local():
    return AtomicInt(0)


def _make_attr():
    return Holder()


def _make_global():
    global G
    G = AtomicInt(0)
    return None


def _w_local_iadd(a) -> Callable[[int], None]:
    def work(n: int, a=a) -> None:
        for _ in range(n):
            a += 1

    return work


def _w_local_inc(a) -> Callable[[int], None]:
    def work(n: int, a=a) -> None:
        for _ in range(n):
            a.inc()

    return work


def _w_attr_iadd(m) -> Callable[[int], None]:
    def work(n: int, m=m) -> None:
        for _ in range(n):
            m.c += 1

    return work


def _w_attr_inc(m) -> Callable[[int], None]:
    def work(n: int, m=m) -> None:
        for _ in range(n):
            m.c.inc()

    return work


def _global_iadd(n: int) -> None:
    global G
    for _ in range(n):
        G += 1


def _global_inc(n: int) -> None:
    for _ in range(n):
        G.inc()


def _check(get: Callable[[Any], int]) -> Callable[[Any, int], str | None]:
    def check(shared, total: int) -> str | None:
        got = get(shared)
        if got != total:
            return f"LOST UPDATES: {total} increments, final value {got}"
        return None

    return check


# place, form, code shown, make_shared, make_worker, final value
FORMS: list[tuple] = [
    ("local", "iadd", "a += 1", _make_local, _w_local_iadd, lambda a: a.load()),
    ("local", "inc", "a.inc()", _make_local, _w_local_inc, lambda a: a.load()),
    ("attribute", "iadd", "m.c += 1", _make_attr, _w_attr_iadd, lambda m: m.c.load()),
    ("attribute", "inc", "m.c.inc()", _make_attr, _w_attr_inc, lambda m: m.c.load()),
    ("global", "iadd", "global G; G += 1", _make_global, lambda s: _global_iadd, lambda s: G.load()),
    ("global", "inc", "G.inc()", _make_global, lambda s: _global_inc, lambda s: G.load()),
]


def _vs_inc_same_place(suite: h.Suite, case: h.Case) -> h.Case | None:
    place = case.key.split(".")[0]
    return suite.case(f"{place}.inc@{case.threads}")


def forms_suite(settings: h.Settings) -> h.Suite:
    cases: list[h.Case] = []
    for t in settings.threads:
        group = f"{t} thread{'' if t == 1 else 's'}"
        for place, form, code, make, worker, get in FORMS:
            cases.append(
                h.mt_case(f"{place}.{form}@{t}", group, f"pyatomics ({place})", h.SELF, code, t, make, worker,
                          _check(get), form=form)
            )
    return h.Suite(
        name="atomicint.forms",
        title="AtomicInt where real code keeps it (local, attribute, global), 1..N threads: ns per increment",
        metric=h.TIME,
        cases=cases,
        ratios=[
            h.RatioColumn("vs `.inc()` in the same place (same threads)", _vs_inc_same_place),
            h.RatioColumn("vs local `a.inc()` (same threads)", lambda s, c: s.case(f"local.inc@{c.threads}")),
        ],
        notes=[
            "`+= 1` stores the object back into the name after the atomic add: a STORE_ATTR or "
            "STORE_GLOBAL that `.inc()` does not do, and that several threads contend on",
        ],
    )


def build(settings: h.Settings) -> list[h.Suite]:
    return [forms_suite(settings)]
