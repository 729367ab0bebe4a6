"""AtomicInt: every operation, every error path, exact totals under contention,
and a property-based comparison against a plain-int model.

Parallelism of the stress tests here: real only on the free-threaded build
(3.13t; C-API backend, the only one built there), where the threads run
Python code and pyatomics calls at the same time.  On a GIL build (3.11,
either backend) the threads interleave: only blocking calls overlap, since
both bindings release the GIL while they wait (tests/test_gil_release.py
proves it, cffi included); an exact total there checks atomicity against
thread switches, not against simultaneous execution.
"""

from __future__ import annotations

import copy
import math
import operator
import pickle
import threading
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SCALE, run_threads
from pyatomics import AtomicInt, RWLock

MAX = 2**63 - 1
MIN = -(2**63)


class Index:
    """Not an int, but usable as one (like numpy integers)."""

    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


# --------------------------------------------------------------------------
# construction and conversion
# --------------------------------------------------------------------------


def test_default_is_zero():
    assert AtomicInt().load() == 0


@pytest.mark.parametrize("value", [0, 1, -1, 42, MAX, MIN, True, False, Index(7)])
def test_construct_from_int_like(value):
    assert AtomicInt(value).load() == operator.index(value)
    assert AtomicInt(value=value).load() == operator.index(value)


# Bad arguments of every kind (constructor included): test_bad_input.py.


def test_conversions():
    a = AtomicInt(5)
    assert int(a) == 5 and type(int(a)) is int
    assert operator.index(a) == 5
    assert float(a) == 5.0 and type(float(a)) is float
    assert [10, 20, 30, 40, 50, 60][a] == 60
    assert bool(a) is True and bool(AtomicInt(0)) is False
    assert format(a, "03d") == "005" and f"{AtomicInt(255):x}" == "ff"
    assert repr(a) == "AtomicInt(5)" and str(a) == "5"
    assert hex(a) == "0x5"


def test_not_hashable():
    with pytest.raises(TypeError):
        hash(AtomicInt(1))
    with pytest.raises(TypeError):
        {AtomicInt(1)}  # noqa: B018


# --------------------------------------------------------------------------
# operations
# --------------------------------------------------------------------------


def test_load_store_exchange():
    a = AtomicInt(1)
    assert a.store(10) is None
    assert a.load() == 10
    assert a.exchange(-3) == 10
    assert a.load() == -3


def test_compare_exchange():
    a = AtomicInt(5)
    assert a.compare_exchange(4, 9) is False
    assert a.load() == 5
    assert a.compare_exchange(5, 9) is True
    assert a.load() == 9
    with pytest.raises(TypeError):
        a.compare_exchange(9)
    with pytest.raises(TypeError):
        a.compare_exchange(9, 1.5)
    assert a.load() == 9


@pytest.mark.parametrize(
    "method, start, arg, old, new",
    [
        ("fetch_add", 5, 3, 5, 8),
        ("fetch_sub", 5, 3, 5, 2),
        ("fetch_and", 0b1100, 0b1010, 0b1100, 0b1000),
        ("fetch_or", 0b1100, 0b1010, 0b1100, 0b1110),
        ("fetch_xor", 0b1100, 0b1010, 0b1100, 0b0110),
        ("fetch_max", 5, 9, 5, 9),
        ("fetch_max", 5, 2, 5, 5),
        ("fetch_min", 5, 2, 5, 2),
        ("fetch_min", 5, 9, 5, 5),
        ("fetch_and", -1, MIN, -1, MIN),
        ("fetch_xor", 0, -1, 0, -1),
    ],
)
def test_fetch_ops_return_previous(method, start, arg, old, new):
    a = AtomicInt(start)
    assert getattr(a, method)(arg) == old
    assert a.load() == new


@pytest.mark.parametrize(
    "method, start, arg, new",
    [("add", 5, 3, 8), ("sub", 5, 3, 2), ("add", 5, -10, -5), ("sub", -5, -10, 5)],
)
def test_add_sub_return_new(method, start, arg, new):
    a = AtomicInt(start)
    assert getattr(a, method)(arg) == new
    assert a.load() == new


def test_inc_dec():
    a = AtomicInt()
    assert a.inc() == 1
    assert a.inc() == 2
    assert a.dec() == 1
    assert a.load() == 1


def test_update():
    a = AtomicInt(6)
    assert a.update(lambda v: v * 7) == 42
    assert a.load() == 42


def test_update_returns_an_exact_int():
    """Found by tests/test_fuzz.py: on PyPy the cffi backend returned the
    function's int subclass itself.  The result is always a plain int, and
    none of the subclass's methods are called to get it."""

    class Meddling(int):
        def __index__(self):
            raise AssertionError("__index__ called")

        def __int__(self):
            raise AssertionError("__int__ called")

        def __pos__(self):
            raise AssertionError("__pos__ called")

    a = AtomicInt(1)
    result = a.update(lambda v: Meddling(v + 4))
    assert type(result) is int and result == 5
    assert a.load() == 5


def test_update_errors_leave_value_unchanged():
    a = AtomicInt(6)

    def boom(v):
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        a.update(boom)
    with pytest.raises(TypeError):
        a.update(lambda v: v / 2)  # a float
    with pytest.raises(OverflowError):
        a.update(lambda v: v * 2**62)
    with pytest.raises(TypeError):
        a.update(5)
    assert a.load() == 6


# --------------------------------------------------------------------------
# overflow: refused, nothing stored
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, call",
    [
        (MAX, lambda a: a.inc()),
        (MAX, lambda a: a.fetch_add(1)),
        (MAX, lambda a: a.add(1)),
        (MAX, lambda a: a.sub(-1)),
        (MAX - 5, lambda a: a.fetch_add(6)),
        (MIN, lambda a: a.dec()),
        (MIN, lambda a: a.fetch_sub(1)),
        (MIN, lambda a: a.add(-1)),
        (0, lambda a: a.fetch_sub(MIN)),  # 0 - MIN = 2**63
        (MIN + 1, lambda a: a.sub(2)),
        (MAX, lambda a: a.fetch_sub(-1)),
    ],
)
def test_overflow_raises_and_leaves_value(start, call):
    a = AtomicInt(start)
    try:
        call(a)
    except OverflowError:
        pass
    else:
        pytest.fail("no OverflowError")
    assert a.load() == start  # the failed operation stored nothing


def test_inplace_overflow_keeps_object_and_value():
    a = AtomicInt(MAX)
    b = a
    with pytest.raises(OverflowError):
        a += 1
    assert a is b and a.load() == MAX
    a = AtomicInt(MIN)
    with pytest.raises(OverflowError):
        a -= 1
    assert a.load() == MIN


def test_boundaries_reachable():
    a = AtomicInt(MAX - 1)
    assert a.inc() == MAX
    a = AtomicInt(MIN + 1)
    assert a.dec() == MIN
    assert a.fetch_add(MAX) == MIN
    assert a.load() == -1
    assert AtomicInt(-1).sub(MAX) == MIN


# --------------------------------------------------------------------------
# operators
# --------------------------------------------------------------------------


def test_inplace_operators_are_atomic_on_the_same_object():
    a = AtomicInt(0b1111)
    ident = id(a)
    a += 5
    a -= 2
    assert a.load() == 18 and id(a) == ident
    a &= 0b10110
    assert a.load() == 0b10010
    a |= 0b1
    assert a.load() == 0b10011
    a ^= 0b11
    assert a.load() == 0b10000
    assert id(a) == ident and isinstance(a, AtomicInt)


@pytest.mark.parametrize("op", ["*=", "//=", "/=", "%=", "<<=", ">>=", "**="])
def test_non_atomic_inplace_operators_refused(op):
    a = AtomicInt(6)
    ns = {"a": a}
    with pytest.raises(TypeError, match="update"):
        exec(f"a {op} 2", ns)
    assert ns["a"] is a and a.load() == 6


def test_binary_operators_return_plain_ints():
    a = AtomicInt(7)
    cases = {
        a + 1: 8, 1 + a: 8, a - 2: 5, 10 - a: 3, a * 3: 21, a // 2: 3, a % 4: 3, a ** 2: 49,
        a & 3: 3, a | 8: 15, a ^ 1: 6, a << 2: 28, a >> 1: 3, -a: -7, +a: 7, abs(AtomicInt(-3)): 3,
        ~a: -8, a + AtomicInt(1): 8, divmod(a, 2): (3, 1), pow(a, 2, 5): 4,
    }
    for got, want in cases.items():
        assert got == want and type(got) is type(want)
    assert a / 2 == 3.5
    assert a.load() == 7


def test_comparisons():
    a = AtomicInt(5)
    assert a == 5 and 5 == a and a != 6
    assert a < 6 and a <= 5 and a > 4 and a >= 5
    assert a == 5.0 and a < 5.5 and a == Fraction(10, 2)
    assert a == AtomicInt(5) and a < AtomicInt(6)
    assert (a == "5") is False
    with pytest.raises(TypeError):
        a < "5"  # noqa: B015
    assert sorted([AtomicInt(3), 1, AtomicInt(2)]) == [1, 2, 3]


# --------------------------------------------------------------------------
# copying, pickling, subclassing
# --------------------------------------------------------------------------


@pytest.mark.parametrize("clone", [copy.copy, copy.deepcopy, lambda a: pickle.loads(pickle.dumps(a))])
def test_copies_are_new_objects_with_the_value(clone):
    a = AtomicInt(99)
    b = clone(a)
    assert type(b) is AtomicInt and b is not a and b.load() == 99
    a.inc()
    assert b.load() == 99


def test_deepcopy_inside_containers():
    a = AtomicInt(1)
    data = {"x": [a, a]}
    c = copy.deepcopy(data)
    assert c["x"][0].load() == 1


def test_subclass():
    class Counter(AtomicInt):
        def twice(self):
            return self.add(2)

    c = Counter(3)
    assert c.twice() == 5 and repr(c) == "Counter(5)"
    assert type(copy.copy(c)) is Counter


# --------------------------------------------------------------------------
# contention: exact totals
# --------------------------------------------------------------------------

N_THREADS = 8
N_OPS = 200_000 * SCALE


def test_mixed_operations_exact_total():
    """8 threads x 200,000 mixed operations; the final value is exactly the
    sum of every thread's net delta."""
    a = AtomicInt(0)

    def work(i):
        net = 0
        inc, dec, fetch_add, sub = a.inc, a.dec, a.fetch_add, a.sub
        k = i + 1
        for j in range(N_OPS // 8):
            inc()
            fetch_add(k)
            dec()
            sub(2)
            nonlocal_a = a
            nonlocal_a += 3
            nonlocal_a -= 1
            a.add(-k)
            a.fetch_sub(-1)
            net += 1 + k - 1 - 2 + 3 - 1 - k + 1
        return net

    nets = run_threads(work, N_THREADS)
    assert a.load() == sum(nets) == N_THREADS * (N_OPS // 8)


def test_inplace_add_exact_total():
    a = AtomicInt(0)

    def work(i):
        nonlocal a
        b = a
        for _ in range(N_OPS // 4):
            b += 1
        return b

    results = run_threads(work, N_THREADS)
    assert all(r is a for r in results)
    assert a.load() == N_THREADS * (N_OPS // 4)


def test_compare_exchange_increment_loop_exact():
    a = AtomicInt(0)
    per_thread = 20_000 * SCALE

    def work(i):
        retries = 0
        for _ in range(per_thread):
            while True:
                old = a.load()
                if a.compare_exchange(old, old + 1):
                    break
                retries += 1
        return retries

    run_threads(work, N_THREADS)
    assert a.load() == N_THREADS * per_thread


def test_update_exact_under_contention():
    a = AtomicInt(0)
    per_thread = 10_000 * SCALE
    run_threads(lambda i: [a.update(lambda v: v + 3) for _ in range(per_thread)], 4)
    assert a.load() == 4 * 3 * per_thread


def test_bitwise_and_minmax_under_contention():
    bits = AtomicInt(0)
    toggles = AtomicInt(0)
    hi = AtomicInt(MIN)
    lo = AtomicInt(MAX)

    def work(i):
        for j in range(5000 * SCALE):
            bits.fetch_or(1 << ((i * 8 + j) % 63))
            toggles.fetch_xor(1 << i)  # each thread toggles its own bit an even number of times
            hi.fetch_max(i * 100_000 + j)
            lo.fetch_min(-(i * 100_000 + j))

    run_threads(work, N_THREADS)
    assert bits.load() == (1 << 63) - 1
    assert toggles.load() == 0
    assert hi.load() == (N_THREADS - 1) * 100_000 + 5000 * SCALE - 1
    assert lo.load() == -hi.load()


def test_exchange_is_linearizable():
    """Every value handed in comes out exactly once (returned or final)."""
    a = AtomicInt(-1)
    per_thread = 20_000

    def work(i):
        return [a.exchange(i * per_thread + j) for j in range(per_thread)]

    seen = [v for chunk in run_threads(work, 4) for v in chunk] + [a.load()]
    assert sorted(seen) == [-1] + list(range(4 * per_thread))


def test_no_thread_observes_a_wrapped_value():
    """Threads push a counter into INT64_MAX; a reader checks every value it
    sees.  Exactly `room` increments succeed; the rest raise OverflowError."""
    room = 30_000
    a = AtomicInt(MAX - room)
    stop = threading.Event()
    bad = []

    def reader():
        while not stop.is_set():
            v = a.load()
            if v < MAX - room:
                bad.append(v)

    def pusher(i):
        ok = overflow = 0
        for _ in range(room // 2):
            try:
                a.inc()
                ok += 1
            except OverflowError:
                overflow += 1
        return ok, overflow

    r = threading.Thread(target=reader)
    r.start()
    try:
        results = run_threads(pusher, 4)
    finally:
        stop.set()
        r.join()
    assert bad == []
    assert a.load() == MAX
    assert sum(ok for ok, _ in results) == room
    assert sum(of for _, of in results) == 4 * (room // 2) - room


# --------------------------------------------------------------------------
# property-based: random operation sequences against a plain-int model
# --------------------------------------------------------------------------

i64 = st.integers(min_value=MIN, max_value=MAX)
any_int = st.one_of(i64, st.integers(min_value=-(2**70), max_value=2**70))

OPS = {
    "store": lambda m, n: (None, n),
    "exchange": lambda m, n: (m, n),
    "fetch_add": lambda m, n: (m, m + n),
    "fetch_sub": lambda m, n: (m, m - n),
    "fetch_and": lambda m, n: (m, m & n),
    "fetch_or": lambda m, n: (m, m | n),
    "fetch_xor": lambda m, n: (m, m ^ n),
    "fetch_max": lambda m, n: (m, max(m, n)),
    "fetch_min": lambda m, n: (m, min(m, n)),
    "add": lambda m, n: (m + n, m + n),
    "sub": lambda m, n: (m - n, m - n),
}


@settings(max_examples=300, deadline=None)
@given(start=i64, steps=st.lists(st.tuples(st.sampled_from(sorted(OPS) + ["inc", "dec", "cas"]), any_int, any_int),
                                 max_size=40))
def test_matches_int_model(start, steps):
    a = AtomicInt(start)
    model = start
    for name, n, m in steps:
        if name in ("inc", "dec"):
            want_new = model + (1 if name == "inc" else -1)
            if MIN <= want_new <= MAX:
                assert getattr(a, name)() == want_new
                model = want_new
            else:
                with pytest.raises(OverflowError):
                    getattr(a, name)()
        elif name == "cas":
            if not (MIN <= n <= MAX and MIN <= m <= MAX):
                with pytest.raises(OverflowError):
                    a.compare_exchange(n, m)
            else:
                expected = model if n % 2 else n  # hit both outcomes
                assert a.compare_exchange(expected, m) == (expected == model)
                if expected == model:
                    model = m
        else:
            ret, new = OPS[name](model, n)
            if not (MIN <= n <= MAX) or not (MIN <= new <= MAX):
                with pytest.raises(OverflowError):
                    getattr(a, name)(n)
            else:
                assert getattr(a, name)(n) == ret
                model = new
        assert a.load() == model


# ---------------------------------------------------------------------------
# The int protocol on a snapshot (csrc/pa_contract.h lists the names)
# ---------------------------------------------------------------------------


def test_int_methods_answer_on_a_snapshot():
    import fractions
    import numbers

    for v in (0, 7, -7, 1234, -(2**63), 2**63 - 1):
        a = AtomicInt(v)
        assert round(a) == round(v) and type(round(a)) is int
        assert round(a, -1) == round(v, -1) and round(a, 2) == v
        assert math.trunc(a) == v and math.floor(a) == v and math.ceil(a) == v
        assert a.bit_length() == v.bit_length()
        assert a.to_bytes(8, "big", signed=True) == v.to_bytes(8, "big", signed=True)
        assert a.as_integer_ratio() == (v, 1)
        assert (a.real, a.imag, a.numerator, a.denominator) == (v, 0, v, 1)
        assert a.conjugate() == v
        assert fractions.Fraction(a) == v
        assert isinstance(a, numbers.Integral)
        if hasattr(int, "bit_count"):
            assert a.bit_count() == v.bit_count()
        if hasattr(int, "is_integer"):
            assert a.is_integer() is True
        assert a.load() == v  # nothing changed
    # Errors are int's own, the value unchanged.
    a = AtomicInt(5)
    with pytest.raises(TypeError):
        round(a, "x")
    with pytest.raises(OverflowError):
        a.to_bytes(0, "big")
    assert a.load() == 5
    # A name int lacks on this interpreter is absent, not a method that fails.
    for name in ("bit_count", "is_integer"):
        assert hasattr(a, name) == hasattr(int, name)


def test_subclass_with_its_own_init_arguments():
    class Named(AtomicInt):
        def __init__(self, name, value=0):
            super().__init__(value)
            self.name = name

    n = Named("hits", 5)
    assert (n.name, n.load(), n.inc()) == ("hits", 5, 6)
    assert Named("zero").load() == 0

    class NoSuper(AtomicInt):
        def __init__(self, a, b, c):
            self.total = a + b + c

    assert NoSuper(1, 2, 3).load() == 0  # like list: the value is __init__'s
    with pytest.raises(TypeError):
        AtomicInt(1, 2)
    with pytest.raises(OverflowError):
        AtomicInt(2**63)


def test_minus_one_waits_forever_in_every_timeout_form():
    a = AtomicInt(1)
    assert a.wait(0, -1) is True  # the value differs: returns at once
    assert a.wait(0, timeout=-1) is True
    rw = RWLock()
    with rw.read(timeout=-1) as bound:
        assert bound is True and rw.readers == 1
    with rw.write(-1) as bound:
        assert bound is True and rw.write_locked
    for bad in (-2, -0.5, -math.inf):
        with pytest.raises(ValueError):
            a.wait(0, bad)
        with pytest.raises(ValueError):
            rw.read(timeout=bad)
    assert (a.load(), rw.readers, rw.write_locked) == (1, 0, False)


# Ternary pow: tests/test_conventions.py::test_three_argument_pow.
