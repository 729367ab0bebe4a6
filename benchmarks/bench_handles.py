"""Threads sharing one object against each using its own handle (x.handle()).

    python benchmarks/bench_handles.py [ITERATIONS [ROUNDS [THREADS]]]

For free-threaded builds, where every call through an object shared by several
threads also moves that object's reference count between them.  Each thread runs
a loop of ITERATIONS (default 100000) over one of:

* `with cm: sum(range(20))` (and the same with an empty body), where cm is the
  shared RWLock's reader, the reader of the thread's own rw.handle(), the reader
  of a whole RWLock of the thread's own (the best case: nothing shared at all),
  or one shared threading.Lock;
* the same, reading the attribute in the loop (`with rw.reader:`, `with h.reader:`);
* AtomicCounter increments: a bound method (`inc = counter.inc`, itself one object
  per thread) and a method call (`c.inc()`), on the counter or the thread's handle.

The objects are made in the thread that uses them (where a handle should be made).
Every case runs once per round, in turn (interleaved), THREADS (default 2) threads
started together; the table gives total Mops/s (min, median, max over ROUNDS,
default 9) and the median of the per-round ratios against the shared case, which a
busy machine disturbs least.  The counter's total is checked exactly at the end.
"""

from __future__ import annotations

import statistics
import sys
import sysconfig
import threading
import time

from pyatomics import AtomicCounter, RWLock

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 9
T = int(sys.argv[3]) if len(sys.argv) > 3 else 2


def timed(loop, make) -> float:
    """T threads each run loop(make()) once, started together: total Mops/s."""
    barrier = threading.Barrier(T + 1)

    def worker() -> None:
        obj = make()  # in the thread that uses it
        barrier.wait()
        loop(obj)
        barrier.wait()

    threads = [threading.Thread(target=worker) for _ in range(T)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    barrier.wait()
    dt = time.perf_counter() - t0
    for t in threads:
        t.join()
    return T * N / dt / 1e6


def with_body(cm) -> None:
    for _ in range(N):
        with cm:
            sum(range(20))


def with_empty(cm) -> None:
    for _ in range(N):
        with cm:
            pass


def with_reader_attr(rw) -> None:
    for _ in range(N):
        with rw.reader:
            sum(range(20))


def call_bound(inc) -> None:
    for _ in range(N):
        inc()


def call_method(c) -> None:
    for _ in range(N):
        c.inc()


shared, lock, counter = RWLock(), threading.Lock(), AtomicCounter()
CASES = [
    ("with rw.reader: sum(range(20))  shared rw", (with_body, lambda: shared.reader)),
    ("                                rw.handle()", (with_body, lambda: shared.handle().reader)),
    ("                                own RWLock", (with_body, lambda: RWLock().reader)),
    ("                                threading.Lock", (with_body, lambda: lock)),
    ("with X.reader (attribute)       shared rw", (with_reader_attr, lambda: shared)),
    ("                                rw.handle()", (with_reader_attr, lambda: shared.handle())),
    ("                                own RWLock", (with_reader_attr, lambda: RWLock())),
    ("with rw.reader: pass            shared rw", (with_empty, lambda: shared.reader)),
    ("                                rw.handle()", (with_empty, lambda: shared.handle().reader)),
    ("                                own RWLock", (with_empty, lambda: RWLock().reader)),
    ("                                threading.Lock", (with_empty, lambda: lock)),
    ("inc = X.inc; inc()              shared counter", (call_bound, lambda: counter.inc)),
    ("                                counter.handle()", (call_bound, lambda: counter.handle().inc)),
    ("X.inc()                         shared counter", (call_method, lambda: counter)),
    ("                                counter.handle()", (call_method, lambda: counter.handle())),
]
# Names repeat on continuation lines: keyed by position, each with its group's first case.
cases, baseline = {}, {}
group = None
for i, (name, case) in enumerate(CASES):
    if not name.startswith(" "):
        group = f"{i}:{name}"
    cases[f"{i}:{name}"] = case
    baseline[f"{i}:{name}"] = group
samples: dict[str, list[float]] = {k: [] for k in cases}


def main() -> None:
    for _ in range(ROUNDS):
        for k, (loop, make) in cases.items():
            samples[k].append(timed(loop, make))
    calls = sum(1 for loop, _ in cases.values() if loop in (call_bound, call_method))
    assert counter.value() == ROUNDS * calls * T * N, counter.value()
    ft = "free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "GIL build"
    print(f"{sys.implementation.name} {sys.version.split()[0]} {ft}; {T} threads x {N} iterations, "
          f"{ROUNDS} interleaved rounds")
    print(f"{'case':50s} {'Mops/s: min':>11s} {'median':>7s} {'max':>7s}  {'vs shared':>9s}")
    for k, v in samples.items():
        s = sorted(v)
        r = statistics.median(x / y for x, y in zip(v, samples[baseline[k]]))
        print(f"{k.split(':', 1)[1]:50s} {s[0]:11.2f} {s[len(s) // 2]:7.2f} {s[-1]:7.2f}  {r:8.2f}x")


if __name__ == "__main__":
    main()
