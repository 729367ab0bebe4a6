"""AtomicCounter: the striped counter (csrc/pa_counter.h).

Totals are counted from outside the threads: each thread's own adds are
known in advance (a fixed number of known values), and resets taken by
the threads are added back, so a lost or doubled add changes the result.
Real parallelism: the C-API backend on free-threaded CPython; on GIL builds
the adds interleave only between bytecodes.
"""

from __future__ import annotations

import copy
import operator
import threading

import pytest
from conftest import SCALE, run_threads

from pyatomics import AtomicCounter, AtomicInt

MAX = 2**63 - 1
MIN = -(2**63)


def test_basic_operations_return_none_and_value_is_exact():
    c = AtomicCounter()
    assert c.value() == 0 and int(c) == 0 and operator.index(c) == 0
    assert c.add() is None and c.add(5) is None and c.inc() is None
    assert c.sub() is None and c.sub(2) is None and c.dec() is None
    assert c.value() == 1 + 5 + 1 - 1 - 2 - 1 == 3
    assert AtomicCounter(41).value() == 41 and AtomicCounter(value=-7).value() == -7
    assert repr(AtomicCounter(12)) == "AtomicCounter(12)"
    assert c.reset() == 3 and c.value() == 0
    assert [10, 20, 30, 40][AtomicCounter(2)] == 30


def test_in_place_operators_keep_the_object():
    c = AtomicCounter(1)
    d = c
    c += 5
    c -= 2
    assert c is d and c.value() == 4
    with pytest.raises(TypeError):
        c += 1.5
    with pytest.raises(TypeError):
        c *= 2
    with pytest.raises(TypeError):
        c + 1  # noqa: B018 - no arithmetic: int(c) is the snapshot
    assert c is d and c.value() == 4


def test_bad_arguments_change_nothing():
    c = AtomicCounter(3)
    for bad, exc in [("1", TypeError), (1.0, TypeError), (None, TypeError), (2**63, OverflowError),
                     (MIN - 1, OverflowError)]:
        with pytest.raises(exc):
            c.add(bad)
        with pytest.raises(exc):
            c.sub(bad)
    with pytest.raises(TypeError):
        c.add(1, 2)
    with pytest.raises(TypeError):
        hash(c)
    with pytest.raises(OverflowError):
        AtomicCounter(2**63)
    with pytest.raises(TypeError):
        AtomicCounter("3")
    assert c.value() == 3


def test_the_64_bit_edge_is_never_a_wrong_total():
    c = AtomicCounter(MAX)
    with pytest.raises(OverflowError, match="nothing added"):
        c.inc()
    with pytest.raises(OverflowError):
        c.sub(MIN)  # -MIN does not fit
    assert c.value() == MAX
    c = AtomicCounter(MIN)
    with pytest.raises(OverflowError):
        c.dec()
    assert c.value() == MIN


def test_totals_near_the_edge_are_exact_or_refused():
    # Threads contend first (so that, where calls run in parallel, the
    # counter has grown cells), then each adds 2**62 twice: an add that would
    # take its cell past int64 is refused and adds nothing, the others count.
    # The sum may leave int64 (several cells near the top): it must be exact.
    # (The C test "counter" checks totals beyond int64 deterministically.)
    c = AtomicCounter()
    big = 2**62
    # The big adds start once every thread is done with its small ones: a cell
    # is shared by threads whose probes collide, so a small inc() on a cell that
    # another thread's big adds have brought to the top is refused too (as
    # documented: every cell is a checked int64).
    contended = threading.Barrier(4)

    def work(i):
        for _ in range(20000 * SCALE):
            c.inc()
            c.dec()
        contended.wait()
        added = 0
        for _ in range(2):
            try:
                c.add(big)
                added += big
            except OverflowError:
                pass
        return added

    total = sum(run_threads(work, 4))
    assert total >= big  # the first add of some thread always fits
    assert c.value() == total
    assert c.reset() == total and c.value() == 0


def test_exact_total_from_outside_the_threads():
    c = AtomicCounter(7)
    n_threads, per_thread = 4, 50000 * SCALE
    taken = [0] * n_threads

    def work(i):
        for k in range(per_thread):
            if k % 3 == 0:
                c.add(5)
            elif k % 3 == 1:
                c.dec()
            else:
                c.inc()
            if k % 20000 == 19999:
                taken[i] += c.reset()

    run_threads(work, n_threads)
    ones = per_thread // 3
    expected_per_thread = 5 * len(range(0, per_thread, 3)) - len(range(1, per_thread, 3)) + len(range(2, per_thread, 3))
    assert ones > 0
    assert c.value() + sum(taken) == 7 + n_threads * expected_per_thread


def test_value_while_others_add_is_between_bounds():
    c = AtomicCounter()
    stop = threading.Event()

    def adder(i):
        while not stop.is_set():
            c.inc()

    threads = [threading.Thread(target=adder, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        last = 0
        for _ in range(2000):
            v = c.value()
            assert v >= last  # only increments run: the sum never goes back
            last = v
    finally:
        stop.set()
        for t in threads:
            t.join()


def test_subclass_with_its_own_init():
    class Hits(AtomicCounter):
        def __init__(self, name, start=0):
            super().__init__(start)
            self.name = name

    h = Hits("page", 3)
    h.inc()
    assert (h.name, h.value(), repr(h)) == ("page", 4, "Hits(4)")


def test_a_second_init_starts_again_from_its_value():
    # Cells in use too (threads contended), so the restart must clear them all.
    c = AtomicCounter(2**62)
    run_threads(lambda i: [c.add(2**40) for _ in range(2000)], 3)
    c.__init__(-3)
    assert c.value() == -3
    c.__init__()
    assert c.value() == 0
    for bad, exc in ((2**63, OverflowError), ("3", TypeError)):
        c.add(5)
        with pytest.raises(exc):
            c.__init__(bad)
        assert c.value() == 5  # refused before anything was dropped
        c.reset()


def test_versus_atomicint_same_final_value():
    c, a = AtomicCounter(), AtomicInt()

    def work(i):
        for _ in range(10000):
            c.inc()
            a.inc()

    run_threads(work, 3)
    assert c.value() == a.load() == 30000


def test_copy_and_pickle_give_a_new_counter_with_the_total():
    import pickle

    c = AtomicCounter(5)
    for d in (copy.copy(c), copy.deepcopy(c), pickle.loads(pickle.dumps(c))):
        assert type(d) is AtomicCounter and d is not c and d.value() == 5
        d.inc()
        assert c.value() == 5
