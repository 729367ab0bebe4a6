"""Run every pyatomics benchmark in one process and print markdown tables.

    python benchmarks/run_all.py                 # full run, ~1-3 minutes on 2 cores
    python benchmarks/run_all.py --quick         # smoke test, a few seconds
    python benchmarks/run_all.py --threads 1,2,4 --json results.json --markdown results.md
    python benchmarks/run_all.py --only locks
    python benchmarks/run_all.py --clock cpu --repeats 15   # on a busy machine

Everything is measured side by side on the interpreter running this script
(min of interleaved repeats); run it once per interpreter, e.g. with
.venvs/cpython3.11/bin/python and .venvs/cpython3.13t/bin/python.
Peers that are not installed are named as missing; see requirements.txt.
"""

from __future__ import annotations

import os
import sys

if __package__:
    from . import _harness as h
    from . import bench_atomicint, bench_locks
else:  # run as a script: benchmarks/ is sys.path[0]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _harness as h
    import bench_atomicint
    import bench_locks

BUILDERS = {"atomicint": bench_atomicint.build, "locks": bench_locks.build}

if __name__ == "__main__":
    sys.exit(h.main(BUILDERS, description=__doc__.split("\n\n")[0]))
