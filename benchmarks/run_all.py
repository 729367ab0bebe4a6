"""The benchmarks from a source checkout: the same as ``python -m pyatomics bench``.

    python benchmarks/run_all.py --quick --json out.json

The harness and the cases live in the package (pyatomics/bench/) so that an
installed wheel can run them; this file only forwards to it, using the
installed pyatomics (the source tree's uncompiled package is taken off
sys.path).  Options: ``python -m pyatomics bench --help``.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # Run as a script, sys.path[0] is benchmarks/; the repository root (with
    # its uncompiled pyatomics/) must not shadow the installed package.
    root = os.path.realpath(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.getcwd()) != root]
    from pyatomics import bench

    sys.exit(bench.main())
