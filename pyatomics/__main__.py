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


class DemoError(Exception):
    """The demo could not run as asked (e.g. the system refused a thread); exit status 1."""


def run_threads(target, n_threads: int, barrier: threading.Barrier) -> None:
    """Start n_threads on target and join them.  If the system refuses a thread,
    abort the barrier (so the ones already started stop waiting for threads that
    will never come), join those, and raise DemoError."""
    threads = []
    try:
        for _ in range(n_threads):
            t = threading.Thread(target=target)
            t.start()
            threads.append(t)
    except RuntimeError as exc:  # "can't start new thread"
        barrier.abort()
        for t in threads:
            t.join()
        raise DemoError(f"could start only {len(threads)} of {n_threads} threads ({exc}); "
                        "try a smaller --threads") from None
    for t in threads:
        t.join()


def demo_lost_updates(n_threads: int, iterations: int) -> None:
    banner("1. x += 1 is not atomic")

    class Shared:
        x = 0

    shared = Shared()
    counter = AtomicInt(0)
    start = threading.Barrier(n_threads)

    def plain() -> None:
        try:
            start.wait()
        except threading.BrokenBarrierError:  # a thread could not be started: nothing to race with
            return
        for _ in range(iterations):
            shared.x += 1  # load, add, store: another thread can run in between

    def atomic() -> None:
        try:
            start.wait()
        except threading.BrokenBarrierError:
            return
        inc = counter.inc
        for _ in range(iterations):
            inc()  # one lock-prefixed instruction

    for target in (plain, atomic):
        run_threads(target, n_threads, start)
        start.reset()

    expected = n_threads * iterations
    lost = expected - shared.x
    print(f"{n_threads} thread{'' if n_threads == 1 else 's'} x {iterations:,} increments, "
          f"expected {expected:,}")
    print(f"  plain int  x += 1   : {shared.x:>12,}   lost {lost:,} updates ({100 * lost / expected:.1f}%)")
    print(f"  AtomicInt  inc()    : {counter.load():>12,}   lost {expected - counter.load():,}")
    if n_threads == 1:
        print("  One thread cannot race with itself: nothing is lost. Run with --threads 2 or more.")
    elif gil_enabled():
        print("  The GIL is enabled here: it hides this race (switches happen between")
        print("  bytecodes that are not inside `x += 1`), so few or no updates are lost.")
        print("  On a free-threaded build (python3.13t) the loss is large and real.")
    elif lost:
        print("  The GIL is disabled: threads really run at once, and the plain int lost updates.")
    else:
        print("  The GIL is disabled, but no update was lost this time (the threads barely overlapped);")
        print("  the race is still there: rerun, or raise --iterations.")


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
    try:
        demo_lost_updates(args.threads, args.iterations)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    demo_rwlock()
    try:
        from pyatomics import _demo_sync  # lock-order checking and Ctrl-C with join_all
    except ImportError:
        pass
    else:
        _demo_sync.run(banner)
    return 0


# ---------------------------------------------------------------------------
# bench (pyatomics/bench/: the harness ships in the package)
# ---------------------------------------------------------------------------


def cmd_bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from pyatomics import bench

    return bench.run(args, parser.error)


# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------


MAX_DEMO_THREADS = 1024  # far more than any machine's cores; a few MiB of stacks each


def demo_threads(text: str) -> int:
    value = positive_int(text)
    if value > MAX_DEMO_THREADS:
        raise argparse.ArgumentTypeError(f"at most {MAX_DEMO_THREADS} threads: {value}")
    return value


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
    parser.add_argument("--version", action="version",
                        version=f"pyatomics {pyatomics.__version__} (backend {pyatomics.BACKEND})")
    sub = parser.add_subparsers(dest="command", metavar="{info,demo,bench}")
    sub.required = True
    p = sub.add_parser("info", help="version, backend, interpreter, GIL state, atomic instructions")
    p.set_defaults(func=cmd_info, sub_parser=p)
    p = sub.add_parser("demo", help="the race-condition tour (a few seconds)")
    p.add_argument("--threads", type=demo_threads, default=4,
                   help=f"threads racing on a counter (default 4, at most {MAX_DEMO_THREADS})")
    p.add_argument("--iterations", type=positive_int, default=200_000, help="increments per thread (default 200000)")
    p.set_defaults(func=cmd_demo, sub_parser=p)
    from pyatomics import bench

    p = sub.add_parser("bench", help="benchmark tables: pyatomics against the stdlib and the peers installed",
                       description="The benchmarks, shipped with the package: pyatomics against the stdlib "
                       "and the peers installed. Ratios come from interleaved rounds in one process; "
                       "one whose range contains 1.00x is reported as a tie.",
                       epilog="peers: pip install 'pyatomics[bench]' (cereggii, ft_utils, atomics, "
                       "readerwriterlock where they build); --plot: pip install 'pyatomics[plot]'")
    bench.add_arguments(p)
    p.set_defaults(func=cmd_bench, bench_parser=p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest:  # reported by the subcommand's parser, with its own usage line
        (getattr(args, "bench_parser", None) or getattr(args, "sub_parser", None) or parser).error(
            f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "bench":
            return args.func(args, args.bench_parser)  # errors show the bench usage line
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
