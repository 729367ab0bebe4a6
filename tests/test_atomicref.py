"""AtomicRef: an atomic object reference (csrc/pa_ref.h; the cffi binding's is
a Python class, pyatomics/_cffi_binding.py says why).

Identity semantics (compare_exchange is `is`, never `==`), exact reference
counts after every operation on CPython, update()'s retry, garbage
collection of cycles through a ref, and a store/load storm.  The storm runs
in a child process: what it looks for, a load's incref of an object a store
just freed, would take the interpreter down (free-threaded builds and the
C-API backend are where it can happen).
"""

from __future__ import annotations

import copy
import gc
import pickle
import platform
import subprocess
import sys
import textwrap
import weakref

import pytest
from conftest import SCALE, join, start

import pyatomics
from pyatomics import AtomicRef

CPYTHON = platform.python_implementation() == "CPython"
needs_refcounts = pytest.mark.skipif(not CPYTHON, reason="reference counts are CPython's")


class Unequal:
    """Equal to everything by ==; compare_exchange must never ask."""

    def __eq__(self, other):
        raise AssertionError("compare_exchange called __eq__")

    __hash__ = object.__hash__


def test_load_store_exchange():
    r = AtomicRef()
    assert r.load() is None and AtomicRef(None).load() is None
    a, b = object(), object()
    assert AtomicRef(a).load() is a and AtomicRef(value=a).load() is a
    assert r.store(a) is None and r.load() is a
    assert r.exchange(b) is a and r.load() is b
    assert r.exchange(b) is b and r.load() is b


def test_compare_exchange_is_by_identity_not_equality():
    x, y = [1, 2], [1, 2]  # equal, not identical
    r = AtomicRef(x)
    new = object()
    assert r.compare_exchange(y, new) is False and r.load() is x
    assert r.compare_exchange(x, new) is True and r.load() is new
    # Equal ints: distinct objects on CPython (outside the small-int cache), while
    # PyPy's `is` compares numbers by value.  compare_exchange answers as `is` does.
    big1, big2 = int("12345678901234567890"), int("12345678901234567890")
    r = AtomicRef(big1)
    assert r.compare_exchange(big2, 0) is (big2 is big1)
    assert (r.load() is big1) is (big2 is not big1)
    if CPYTHON:
        assert big2 is not big1 and r.load() is big1


def test_compare_exchange_nan_matches_itself_only():
    nan = float("nan")
    r = AtomicRef(nan)
    other_nan = float("nan")  # another object on CPython; PyPy's `is` compares a float's bits
    assert r.compare_exchange(other_nan, 1.0) is (other_nan is nan)
    r.store(nan)
    assert r.compare_exchange(nan, 1.0) is True and r.load() == 1.0  # nan != nan, yet it is nan


def test_compare_exchange_never_calls_eq():
    u = Unequal()
    r = AtomicRef(u)
    assert r.compare_exchange(Unequal(), None) is False and r.load() is u
    assert r.compare_exchange(u, Unequal()) is True and r.load() is not u
    r = AtomicRef(object())
    assert r.compare_exchange(u, None) is False  # Unequal as expected: not asked either


def test_update_returns_the_new_object_and_stores_it():
    r = AtomicRef(1)
    seen = []
    new = r.update(lambda old: seen.append(old) or [old])
    assert new == [1] and r.load() is new and seen == [1]


def test_update_retries_when_another_thread_stored_in_between():
    first, second = object(), object()
    r = AtomicRef(first)
    calls = []

    def func(old):
        calls.append(old)
        if len(calls) == 1:  # another thread gets in between the read and the CAS
            join(start(r.store, second))
        return ("from", old)

    result = r.update(func)
    assert calls == [first, second]
    assert result == ("from", second) and r.load() is result


def test_update_exception_leaves_the_ref_unchanged():
    held = object()
    r = AtomicRef(held)

    def boom(old):
        raise KeyError("no")

    with pytest.raises(KeyError):
        r.update(boom)
    assert r.load() is held


@pytest.mark.parametrize("func", [3, None, "x", object()])
def test_update_with_non_callable_is_a_type_error_and_changes_nothing(func):
    held = object()
    r = AtomicRef(held)
    with pytest.raises(TypeError, match="update\\(\\) argument must be callable, not '"):
        r.update(func)
    assert r.load() is held


def test_argument_errors_change_nothing():
    held = object()
    r = AtomicRef(held)
    for call in (lambda: r.store(), lambda: r.exchange(), lambda: r.compare_exchange(1),
                 lambda: r.compare_exchange(held, 1, 2), lambda: r.load(1), lambda: r.update(),
                 lambda: AtomicRef(1, 2), lambda: AtomicRef(valu=1)):
        with pytest.raises(TypeError):
            call()
    assert r.load() is held


def test_repr_and_recursion():
    assert repr(AtomicRef()) == "AtomicRef(None)"
    assert repr(AtomicRef([1, "a"])) == "AtomicRef([1, 'a'])"
    r = AtomicRef()
    r.store(r)
    assert repr(r) == "AtomicRef(...)"
    r.store([r, 1])
    assert repr(r) == "AtomicRef([..., 1])"
    r.store(None)  # breaks the cycle for the next tests' refcounts


def test_repr_of_an_object_that_raises_propagates():
    class Bad:
        def __repr__(self):
            raise ValueError("no repr")

    r = AtomicRef(Bad())
    with pytest.raises(ValueError, match="no repr"):
        repr(r)
    r.store(1)
    assert repr(r) == "AtomicRef(1)"  # the recursion guard was left


def test_unhashable_and_generic_alias():
    with pytest.raises(TypeError):
        hash(AtomicRef())
    alias = AtomicRef[int]
    assert alias.__origin__ is AtomicRef and alias.__args__ == (int,)


@pytest.mark.parametrize("clone", [copy.copy, copy.deepcopy, pickle.dumps,
                                   lambda r: pickle.dumps(r, protocol=0)])
def test_copy_and_pickle_are_refused_as_a_locks(clone):
    held = [1]
    r = AtomicRef(held)
    with pytest.raises(TypeError, match="cannot pickle 'pyatomics.AtomicRef' object"):
        clone(r)
    assert r.load() is held


def test_subclass():
    class Named(AtomicRef):
        def __init__(self, name, value=None):
            super().__init__(value)
            self.name = name

    n = Named("x", 5)
    assert isinstance(n, AtomicRef) and n.name == "x" and n.load() == 5
    six, seven = object(), object()
    assert n.exchange(six) == 5 and n.compare_exchange(seven, 7) is False and n.compare_exchange(six, 7) is True
    assert n.load() == 7
    assert repr(Named("y")) == "Named(None)"
    with pytest.raises(TypeError, match="cannot pickle 'Named' object"):
        pickle.dumps(n)

    class Plain(AtomicRef):
        pass

    assert Plain().load() is None and Plain(3).load() == 3


def test_cycle_through_a_ref_is_collected():
    class Node:
        pass

    gc.collect()
    n = Node()
    n.ref = AtomicRef(n)
    w = weakref.ref(n)
    del n
    gc.collect()
    assert w() is None


def test_ref_holding_itself_is_collected():
    class Sub(AtomicRef):  # a Python subclass has __weakref__
        pass

    gc.collect()
    s = Sub()
    s.store(s)
    w = weakref.ref(s)
    del s
    gc.collect()
    assert w() is None


def test_collected_objects_are_freed_once():
    freed = []

    class Tracked:
        def __init__(self, ref):
            self.ref = ref

        def __del__(self):
            freed.append(1)

    gc.collect()
    r = AtomicRef()
    r.store(Tracked(r))
    del r
    gc.collect()
    assert freed == [1]


@needs_refcounts
def test_reference_counts_are_exact_after_every_operation():
    sentinel, other = object(), object()
    start_count = sys.getrefcount(sentinel)
    r = AtomicRef(sentinel)
    for _ in range(100):
        r.store(sentinel)
        assert r.exchange(sentinel) is sentinel
        assert r.compare_exchange(sentinel, sentinel) is True
        assert r.compare_exchange(other, sentinel) is False  # the failure path drops desired again
        assert r.load() is sentinel
        assert r.update(lambda old: old) is sentinel
    assert r.exchange(other) is sentinel
    assert sys.getrefcount(sentinel) == start_count
    r.store(sentinel)
    del r
    assert sys.getrefcount(sentinel) == start_count


@needs_refcounts
def test_update_retry_drops_the_results_it_discards():
    discarded = object()
    start_count = sys.getrefcount(discarded)
    r = AtomicRef(0)
    calls = []

    def func(old):
        calls.append(1)
        if len(calls) == 1:
            r.store(1)  # the CAS below fails: `discarded` is not stored
            return discarded
        return "kept"

    assert r.update(func) == "kept" and len(calls) == 2
    assert sys.getrefcount(discarded) == start_count


# --- the storm, in a child process ---------------------------------------------

STORM = """
import gc, sys, threading
from pyatomics import AtomicInt, AtomicRef

WRITERS, READERS, STORES = 2, 2, int(sys.argv[1])
made, freed = AtomicInt(), AtomicInt()

class Box:
    def __init__(self, n):
        self.n = n
        made.inc()
    def get(self):
        return self.n
    def __del__(self):
        freed.inc()

sentinel = object()
refcounts = hasattr(sys, "getrefcount")
base = sys.getrefcount(sentinel) if refcounts else 0
ref = AtomicRef(Box(-1))
updates = AtomicRef(0)
writers_done = AtomicInt()
barrier = threading.Barrier(WRITERS + READERS)
errors = []

def writer(k):
    barrier.wait()
    for i in range(STORES):
        for _ in range(8):  # mostly plain stores: the race a load's incref must win
            ref.store(Box(i))                   # the old Box may be freed right here
        old = ref.exchange(sentinel)
        if old is not sentinel and not isinstance(old.get(), int):
            errors.append("bad exchange result")
        ref.compare_exchange(sentinel, Box(i))  # fails if the other writer got in
        ref.update(lambda o: Box(o.get() + 1) if type(o) is Box else Box(0))
        updates.update(lambda v: v + 1)
        del old
    writers_done.inc()

def reader(k):
    barrier.wait()
    loads = 0
    while writers_done.load() < WRITERS or loads < 1000:
        o = ref.load()
        if o is not sentinel and not isinstance(o.get(), int):  # a method of what was loaded
            errors.append("bad load")
        loads += 1

ts = [threading.Thread(target=writer, args=(k,)) for k in range(WRITERS)]
ts += [threading.Thread(target=reader, args=(k,)) for k in range(READERS)]
for t in ts: t.start()
for t in ts: t.join()
assert not errors, errors[:3]
assert updates.load() == WRITERS * STORES, updates.load()
ref.store(None)
for _ in range(3):
    gc.collect()
assert made.load() == freed.load(), (made.load(), freed.load())
if refcounts:
    assert sys.getrefcount(sentinel) == base, (sys.getrefcount(sentinel), base)
print("ok", made.load(), updates.load())
"""


def test_store_load_storm_in_a_child_process(tmp_path):
    # With the store's drain removed (csrc/pa_ref.h), 3.13t crashed (SIGSEGV) or
    # loaded a freed Box (AttributeError) in 3 of 4 runs of this size.
    stores = 5000 * SCALE
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(STORM), str(stores)],
        cwd=tmp_path,  # not the source root: its pyatomics/ would shadow the installed package
        env={**__import__("os").environ, "PYATOMICS_BACKEND": pyatomics.BACKEND},
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    words = proc.stdout.split()
    assert words[0] == "ok" and int(words[2]) == 2 * stores, proc.stdout


def test_concurrent_compare_exchange_exactly_one_wins(threads):
    # Each round, every thread tries to replace the same object; exactly one may.
    for _ in range(50):
        held = object()
        r = AtomicRef(held)
        wins = threads(lambda i: r.compare_exchange(held, i), 4)
        assert sum(wins) == 1 and r.load() == wins.index(True)


def test_exchange_hands_each_object_to_exactly_one_thread(threads):
    # Every object stored comes back exactly once (from an exchange, or left in the slot).
    n = 500 * SCALE
    r = AtomicRef(("start",))

    def worker(i):
        return [r.exchange((i, k)) for k in range(n)]

    got = [x for part in threads(worker, 4) for x in part] + [r.load()]
    assert sorted(map(repr, got)) == sorted(map(repr, [("start",)] + [(i, k) for i in range(4) for k in range(n)]))
    assert len({id(x) for x in got}) == len(got)


def test_a_long_chain_of_refs_is_freed_without_recursing_per_link(tmp_path):
    # Each ref holds the previous one: freeing the head frees them all, which
    # without the trashcan in AtomicRef_dealloc is one C frame per link.
    proc = subprocess.run(
        [sys.executable, "-c", "from pyatomics import AtomicRef\nr = None\n"
         "for _ in range(1_000_000): r = AtomicRef(r)\ndel r\nprint('freed')"],
        cwd=tmp_path, env={**__import__("os").environ, "PYATOMICS_BACKEND": pyatomics.BACKEND},
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout == "freed\n", (proc.returncode, proc.stderr[-2000:])
