"""``python -m pyatomics bench``: the benchmarks, shipped with the package.

    python -m pyatomics bench                    # full run, a few minutes on 2 cores
    python -m pyatomics bench --quick            # smoke test, seconds
    python -m pyatomics bench --json out.json --plot out.png
    python -m pyatomics bench --compare before.json after.json
    pip install 'pyatomics[bench,plot]'          # the peers, where they build; matplotlib for --plot

Suites (``--only``): ``atomicint`` (AtomicInt ns/op against itertools.count,
a lock-protected int and the peers cereggii, ft_utils, atomics; contended
throughput at 1..N threads), ``atomicref`` (AtomicRef load()/store() ns/op
against a plain attribute and the peers cereggii, ft_utils), ``forms`` (``+= 1`` against ``.inc()`` on a
local, an attribute and a global, 1..N threads) and ``locks`` (uncontended
acquire/release against threading.Lock/RLock, ft_utils and readerwriterlock,
form for form; read-mostly throughput at 1..N threads) and ``scaling``
(throughput at 1, 2, 4 ... threads up to the cores, against each thread's
own object as the ceiling: read-mostly RWLock, AtomicCounter against a shared
AtomicInt, SpinLock against threading.Lock beyond the cores).

The method (interleaved rounds, per-round ratios, ties) and why it is not
pyperf's: pyatomics/bench/_harness.py.
"""

from __future__ import annotations

from typing import Callable


def _atomicint(settings):
    from . import atomicint

    return atomicint.build(settings)


def _atomicref(settings):
    from . import atomicref

    return atomicref.build(settings)


def _forms(settings):
    from . import forms

    return forms.build(settings)


def _locks(settings):
    from . import locks

    return locks.build(settings)


def _scaling(settings):
    from . import scaling

    return scaling.build(settings)


BUILDERS: dict[str, Callable] = {"atomicint": _atomicint, "atomicref": _atomicref, "forms": _forms, "locks": _locks,
                                 "scaling": _scaling}


def add_arguments(parser) -> None:
    from . import _harness

    _harness.add_arguments(parser, list(BUILDERS))


def run(args, error) -> int:
    from . import _harness

    return _harness.run_from_args(args, BUILDERS, error)


def main(argv=None) -> int:
    from . import _harness

    return _harness.main(BUILDERS, argv, description=__doc__.split("\n\n")[0],
                         prog="python -m pyatomics bench")
