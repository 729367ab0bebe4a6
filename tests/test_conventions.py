"""The conventions of the contract (csrc/pa_contract.h) that both bindings follow:
AtomicInt answers int methods from a snapshot, subclasses as a Python class
does, takes part in three-argument pow; every timeout takes -1 as forever."""

from __future__ import annotations

import math
import sys
import threading

import pytest

from pyatomics import AtomicInt, RWLock

# AtomicInt takes part in three-argument pow where a Python number class would
# (both backends): as the base always; as the exponent with a modulus where the
# interpreter calls __rpow__ for it (CPython from 3.14, PyPy 3.9 but not PyPy 3.11); as the
# modulus alone never.  Which interpreters ask is measured here, on a plain Python class,
# rather than listed: the list was wrong once (PyPy 3.11).


class _PythonNumber:
    def __init__(self, v):
        self.v = v

    def __pow__(self, other, mod=None):
        return pow(self.v, other, mod)

    def __rpow__(self, other, mod=None):
        return pow(other, self.v, mod)


def _as_python_class(call):
    try:
        return call()
    except TypeError:
        return TypeError


RPOW3 = _as_python_class(lambda: pow(2, _PythonNumber(3), 5)) == 3
assert _as_python_class(lambda: pow(2, 3, _PythonNumber(5))) is TypeError


def test_int_methods_answer_from_a_snapshot():
    a = AtomicInt(1234)
    assert round(a) == 1234 and round(a, -2) == 1200 and type(round(a, -2)) is int
    assert (math.trunc(a), math.floor(a), math.ceil(a)) == (1234, 1234, 1234)
    assert a.bit_length() == 11 and a.to_bytes(2, "big") == (1234).to_bytes(2, "big")
    assert a.as_integer_ratio() == (1234, 1) and a.conjugate() == 1234
    assert (a.real, a.imag, a.numerator, a.denominator) == (1234, 0, 1234, 1)
    assert type(a.real) is int
    # A method this interpreter's int lacks is not there either.
    for name in ("bit_count", "is_integer"):
        assert hasattr(a, name) == hasattr(int, name)
        if hasattr(int, name):
            assert getattr(a, name)() == getattr(1234, name)()
    with pytest.raises(TypeError):
        a.to_bytes("two")  # the snapshot's own argument checks
    assert a.load() == 1234


def test_subclass_init_with_extra_arguments_needs_no_new():
    class Named(AtomicInt):
        def __init__(self, value, name):
            super().__init__(value)
            self.name = name

    n = Named(5, "five")
    assert (n.load(), n.name, type(n)) == (5, "five", Named)
    assert n.inc() == 6
    assert AtomicInt(value=3).load() == 3
    with pytest.raises(TypeError):
        AtomicInt(1, 2)  # AtomicInt's own __init__ still checks its arguments


def test_three_argument_pow():
    # AtomicInt takes part exactly where a Python number class would be asked.
    a = AtomicInt(3)
    assert pow(2, a) == 8 and 2**a == 8
    assert pow(AtomicInt(2), a, 5) == 3 and pow(AtomicInt(2), 3, AtomicInt(5)) == 3
    assert pow(AtomicInt(2), AtomicInt(3), AtomicInt(5)) == 3
    if RPOW3:
        assert pow(2, a, 5) == 3
    else:
        with pytest.raises(TypeError):
            pow(2, a, 5)
    with pytest.raises(TypeError):  # CPython: "unsupported operand ...", PyPy: "operands do not support **"
        pow(2, 3, a)
    assert a.load() == 3


def test_minus_one_is_forever_in_every_timeout():
    rw, a = RWLock(), AtomicInt(0)
    with rw.read(timeout=-1) as held:
        assert held is True
    with rw.write(-1.0) as held:
        assert held is True
    assert rw.acquire_read(timeout=-1) is True
    rw.release_read()
    # wait(expected, -1) blocks until the value changes.
    t = threading.Timer(0.05, a.store, (1,))
    t.start()
    assert a.wait(0, -1) is True
    t.join()
    for bad in (-2, -1.5, -0.001):
        with pytest.raises(ValueError):
            a.wait(1, bad)
        with pytest.raises(ValueError):
            rw.read(bad)
