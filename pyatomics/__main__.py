"""Command line: python -m pyatomics {info,demo,bench}."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import sysconfig
import threading
import time

import pyatomics
from pyatomics import AtomicInt, RWLock, _backend, _extension  # _backend: capi or cffi binding in use


def gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def free_threaded_build() -> bool:
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


# ---------------------------------------------------------------------------
# info
# ---------------------------------------------------------------------------


def cmd_info(args: argparse.Namespace) -> int:
    info = _backend.build_info()
    rows = [
        ("pyatomics", pyatomics.__version__),
        ("backend", pyatomics.BACKEND),
        ("interpreter", f"{platform.python_implementation()} {platform.python_version()}"
                        f"{' (free-threaded build)' if free_threaded_build() else ''}"),
        ("GIL enabled now", str(gil_enabled())),
        ("architecture", platform.machine()),
        ("atomic instructions", str(info["atomics"])),
        ("wait mechanism", str(info["wait"])),
        ("compiler", str(info["compiler"])),
        ("extension", _extension.__file__ or "?"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


# ---------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------


def banner(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 66 - len(title)))


def demo_lost_updates(n_threads: int, iterations: int) -> None:
    banner("1. x += 1 is not atomic")

    class Shared:
        x = 0

    shared = Shared()
    counter = AtomicInt(0)
    start = threading.Barrier(n_threads)

    def plain() -> None:
        start.wait()
        for _ in range(iterations):
            shared.x += 1  # load, add, store: another thread can run in between

    def atomic() -> None:
        start.wait()
        inc = counter.inc
        for _ in range(iterations):
            inc()  # one lock-prefixed instruction

    for target in (plain, atomic):
        threads = [threading.Thread(target=target) for _ in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        start.reset()

    expected = n_threads * iterations
    lost = expected - shared.x
    print(f"{n_threads} threads x {iterations:,} increments, expected {expected:,}")
    print(f"  plain int  x += 1   : {shared.x:>12,}   lost {lost:,} updates ({100 * lost / expected:.1f}%)")
    print(f"  AtomicInt  inc()    : {counter.load():>12,}   lost {expected - counter.load():,}")
    if gil_enabled():
        print("  The GIL is enabled here: it hides this race (switches happen between")
        print("  bytecodes that are not inside `x += 1`), so few or no updates are lost.")
        print("  On a free-threaded build (python3.13t) the loss is large and real.")
    else:
        print("  The GIL is disabled: threads really run at once, and the plain int loses updates.")


def demo_rwlock(readers: int = 4, hold: float = 0.2) -> None:
    banner("2. RWLock: readers overlap, a waiting writer goes first")
    rw = RWLock()
    inside = AtomicInt(0)
    most = AtomicInt(0)
    log: list[str] = []
    log_lock = threading.Lock()

    def note(event: str) -> None:
        with log_lock:
            log.append(event)

    def reader(i: int) -> None:
        with rw.read():
            most.fetch_max(inside.inc())
            time.sleep(hold)
            inside.dec()

    t0 = time.monotonic()
    threads = [threading.Thread(target=reader, args=(i,)) for i in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    print(f"{readers} readers each holding the read lock {hold:.1f} s: done in {elapsed:.2f} s "
          f"(one at a time would take {readers * hold:.1f} s); at most {most.load()} inside at once")

    # Writer preference: while a reader holds the lock and a writer waits,
    # a newly arriving reader waits behind the writer.
    rw.acquire_read()
    writer = threading.Thread(target=lambda: (rw.acquire_write(), note("writer"), rw.release_write()))
    writer.start()
    while not _writer_waiting(rw, writer):
        time.sleep(0.005)
    late_reader = threading.Thread(target=lambda: (rw.acquire_read(), note("late reader"), rw.release_read()))
    late_reader.start()
    time.sleep(0.1)
    note("first reader releases")
    rw.release_read()
    writer.join()
    late_reader.join()
    print("order of events: " + " -> ".join(log))
    print("  (the late reader arrived while the writer was waiting, so it went after the writer:")
    print("   a stream of readers cannot starve writers)")


def _writer_waiting(rw: RWLock, writer: threading.Thread) -> bool:
    # The writer is blocked once the lock refuses a fresh reader.
    time.sleep(0.02)
    probe_ok = threading.Event()

    def probe() -> None:
        if rw.acquire_read(blocking=False):
            rw.release_read()
        else:
            probe_ok.set()

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    return probe_ok.is_set()


def cmd_demo(args: argparse.Namespace) -> int:
    print(f"pyatomics {pyatomics.__version__} on {platform.python_implementation()} {platform.python_version()}"
          f"{' free-threaded' if free_threaded_build() else ''}; GIL enabled: {gil_enabled()}; "
          f"{os.cpu_count()} CPUs")
    demo_lost_updates(args.threads, args.iterations)
    demo_rwlock()
    try:
        from pyatomics import _demo_sync  # lock-order checking and Ctrl-C with join_all
    except ImportError:
        pass
    else:
        _demo_sync.run(banner)
    return 0


# ---------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------


def find_benchmarks() -> str | None:
    """The benchmarks/ folder of a source checkout: $PYATOMICS_BENCHMARKS, the
    current directory, ./benchmarks, or next to the package.  (Run it from
    benchmarks/, not the checkout's root, where the uncompiled source package
    would shadow the installed one.)"""
    candidates = [os.environ.get("PYATOMICS_BENCHMARKS", ""), os.getcwd(), os.path.join(os.getcwd(), "benchmarks"),
                  os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")]
    for path in candidates:
        if path and os.path.isfile(os.path.join(path, "run_all.py")):
            return path
    return None


def plot_throughput(json_path: str, png_path: str) -> None:
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(json_path) as f:
        data = json.load(f)
    suites = [s for s in data["suites"] if s.get("metric") == "Mops/s"]
    fig, axes = plt.subplots(1, len(suites), figsize=(6 * len(suites), 4.5), squeeze=False)
    for ax, suite in zip(axes[0], suites):
        series: dict[str, list[tuple[int, float]]] = {}
        for case in suite["cases"]:
            if case.get("Mops/s") is not None:
                label = f"{case['impl']}: {case['code']}"
                series.setdefault(label, []).append((case["threads"], case["Mops/s"]))
        for label, points in sorted(series.items()):
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        ax.set_title(suite["title"], fontsize=9)
        ax.set_xlabel("threads")
        ax.set_ylabel("Mops/s")
        ax.legend(fontsize=6)
    env = data.get("environment", {})
    fig.suptitle(" ".join(str(env.get(k, "")) for k in ("interpreter", "date")), fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)


def cmd_bench(args: argparse.Namespace, rest: list[str]) -> int:
    bench_dir = find_benchmarks()
    if bench_dir is None:
        print("error: benchmarks/ not found; run from a pyatomics source checkout or set "
              "PYATOMICS_BENCHMARKS to its benchmarks/ folder", file=sys.stderr)
        return 2
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("error: --plot needs matplotlib (pip install matplotlib)", file=sys.stderr)
            return 2
    sys.path.insert(0, bench_dir)
    import _harness
    import run_all

    json_path = args.json
    if args.plot and not json_path:
        import tempfile

        json_path = os.path.join(tempfile.mkdtemp(prefix="pyatomics-bench-"), "bench.json")
    argv = list(rest) + (["--json", json_path] if json_path else [])
    try:
        rc = _harness.main(run_all.BUILDERS, argv, description="pyatomics benchmarks")
    except SystemExit as exc:  # argparse errors in the harness's own options
        return int(exc.code or 0)
    if rc == 0 and args.plot:
        plot_throughput(json_path, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return rc


# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pyatomics", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="{info,demo,bench}")
    sub.required = True
    p = sub.add_parser("info", help="version, backend, interpreter, GIL state, atomic instructions")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("demo", help="the race-condition tour (a few seconds)")
    p.add_argument("--threads", type=positive_int, default=4, help="threads racing on a counter (default 4)")
    p.add_argument("--iterations", type=positive_int, default=200_000, help="increments per thread (default 200000)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("bench", help="the benchmark tables (from a source checkout); other options go to "
                                     "benchmarks/run_all.py: --quick, --threads 1,2,4, --only, --repeats, --clock")
    p.add_argument("--json", metavar="FILE", help="also write all samples and ratios as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="draw throughput against thread count (needs matplotlib)")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return args.func(args, rest) if args.command == "bench" else args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
