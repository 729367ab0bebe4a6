"""The two backends are one contract: a differential test.

Every public operation of AtomicInt, SpinLock and RWLock (and of the views and
guards an RWLock hands out) is applied, in one process, to an object of the
C-API backend (pyatomics._capi_binding) and to one of the cffi backend
(pyatomics._cffi_binding) built the same way.  Both must give the same
Outcome: the same result (type and value; our own objects compared by kind,
e.g. "the write view", "an AtomicInt holding 5"), or the same exception type
with the same message; and afterwards the same state (load(), locked(),
readers, write_locked, the reprs).

The operations come from hypothesis state machines (random sequences, so that
the state each call meets varies: values at the int64 limits, locks held or
not) and from tables of operands chosen for their edges: bools, floats with
NaN and infinities, ints beyond int64, other AtomicInts (of the same backend
and of the other one), the AtomicInt itself, objects with an __index__ (good,
raising, returning the wrong type), strings, None; operators in their forward,
reflected and in-place forms, and ternary pow with an AtomicInt in each
position.  Then subclasses that override dunders, the helper types (type(x)()
of everything the API hands out) and the methods' signatures.

A pair of outcomes that differs passes only when a named entry claims it:
tests/backend_features.py for the differences that are unavoidable, and
KNOWN_DIFFERENCES below for defects still to be fixed in a binding.  Each
entry's reproducer is run by test_listed_difference_is_real, so an entry whose
difference has gone (a binding was fixed) fails the suite until it is deleted,
and the comparison becomes strict for it.

Everything runs on the calling thread: a call that could block uses timeout 0
or a small timeout, or is made only where it cannot block.

A failure names the operation as source text (`pow(2, a, 5)`,
`rw.writer.acquire(False, 0.001)`, `a += Index(5)`) and both outcomes; from a
state machine, hypothesis also prints the steps that led there.
"""

from __future__ import annotations

import copy
import inspect
import math
import operator
import pickle
import re
import weakref

import pytest

import pyatomics

if pyatomics.available_backends() != {"capi", "cffi"}:
    pytest.skip(
        "needs both backends in one process: runs on every CPython where the cffi backend is built "
        "(all but free-threaded 3.13, which cffi does not support); not on PyPy (no C-API module)",
        allow_module_level=True,
    )

hypothesis = pytest.importorskip("hypothesis")
from backend_features import BACKEND_FEATURES, Difference, Outcome  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule  # noqa: E402

from pyatomics import _capi_binding as CAPI  # noqa: E402
from pyatomics import _cffi_binding as CFFI  # noqa: E402

BACKENDS = (CAPI, CFFI)
OTHER = {CAPI: CFFI, CFFI: CAPI}
I64_MAX = 2**63 - 1
I64_MIN = -(2**63)

_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------
# Defects still to be fixed: each a difference the bindings must lose.
# Delete an entry once its binding is fixed (test_listed_difference_is_real
# fails until then); the comparison is strict for everything not listed.
# ---------------------------------------------------------------------------


KNOWN_DIFFERENCES: dict[str, Difference] = {
    # Defects still to fix, each with its matcher and reproducer.  Fixed on
    # 2026-12-01 (entries removed): inspect.signature() of the C methods (text
    # signatures), __format__ with a non-str spec (SystemError), the conversion
    # order of compare_exchange, three-argument pow with an AtomicInt outside
    # the base position (computed by the C slot only: now both follow what the
    # interpreter does for a Python class).
}

ALL_LISTED = {**{f"feature:{k}": v for k, v in BACKEND_FEATURES.items()},
              **{f"known:{k}": v for k, v in KNOWN_DIFFERENCES.items()}}


# ---------------------------------------------------------------------------
# Outcomes and their comparison
# ---------------------------------------------------------------------------

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


class Ctx:
    """The objects of one backend that a result may refer to, for normalising
    results that are our own objects into comparable descriptions."""

    def __init__(self, mod, **named):
        self.mod = mod
        self.named = named  # name -> object: a result that *is* one of them says so

    def describe(self, value, depth=0):
        """A backend-independent description of a returned value."""
        mod = self.mod
        for name, obj in self.named.items():
            if value is obj:
                return ("the object", name)
        if isinstance(value, OTHER[mod].AtomicInt):
            return ("the other backend's AtomicInt", type(value).__name__, value.load())
        if isinstance(value, mod.AtomicInt):
            return ("an AtomicInt", type(value).__name__, value.load())
        if isinstance(value, mod.AtomicRef):
            held = value.load()
            return ("an AtomicRef", type(value).__name__,
                    ("itself",) if held is value else self.describe(held, depth + 1) if depth < 4 else ("...",))
        if isinstance(value, mod.SpinLock):
            return ("a SpinLock", value.locked())
        if isinstance(value, mod.RWLockView):
            return ("a view", "write" if value is value.rwlock.writer else "read",
                    self.describe(value.rwlock, depth + 1))
        if isinstance(value, mod.RWLockGuard):
            return ("a guard",)
        if isinstance(value, mod.RWLock):
            return ("an RWLock", value.readers, value.write_locked)
        if isinstance(value, type):
            if value in (mod.AtomicInt, mod.AtomicRef, mod.SpinLock, mod.RWLock, mod.RWLockView, mod.RWLockGuard):
                return ("our class", value.__module__, value.__qualname__)
            return ("class", value.__module__, value.__qualname__)
        if isinstance(value, float):
            return ("float", "nan" if math.isnan(value) else value)
        if isinstance(value, str):
            return ("str", _ADDRESS.sub("0x?", value))
        if isinstance(value, (bool, int, complex, type(None))):
            return (type(value).__name__, value)
        if isinstance(value, range):
            return ("range", value.start, value.stop, value.step)
        if isinstance(value, weakref.ref) and depth < 4:
            return ("weakref to", self.describe(value(), depth + 1))
        if isinstance(value, (tuple, list)) and depth < 4:
            return (type(value).__name__, tuple(self.describe(v, depth + 1) for v in value))
        if isinstance(value, dict) and depth < 4:
            return ("dict", tuple(sorted((self.describe(k, depth + 1), self.describe(v, depth + 1))
                                         for k, v in value.items())))
        raise AssertionError(f"no description for a result of type {type(value)!r}: {value!r}")


# Exceptions no pyatomics call raises for any input: from the harness itself,
# which must not pass as "both backends raised the same".
HARNESS_ERRORS = (NameError, AssertionError, KeyError, hypothesis.errors.HypothesisException)


def outcome(ctx: Ctx, call) -> Outcome:
    try:
        value = call()
    except HARNESS_ERRORS:
        raise
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome
        return Outcome(exc=type(exc), message=_ADDRESS.sub("0x?", str(exc)))
    return Outcome(value=ctx.describe(value))


def claimed_by(label: str, capi: Outcome, cffi: Outcome):
    """The name of the listed difference that explains this pair, or None."""
    for name, diff in ALL_LISTED.items():
        if diff.matches(label, capi, cffi):
            return name
    return None


def assert_same(label: str, capi: Outcome, cffi: Outcome) -> None:
    if capi == cffi:
        return
    listed = claimed_by(label, capi, cffi)
    assert listed is not None, f"{label}:\n  capi {capi}\n  cffi {cffi}"


def both(label: str, action, ctxs) -> tuple:
    """Run action(ctx) for the capi and the cffi context; assert the outcomes agree."""
    capi, cffi = (outcome(ctx, lambda ctx=ctx: action(ctx)) for ctx in ctxs)
    assert_same(label, capi, cffi)
    return capi, cffi


# ---------------------------------------------------------------------------
# Operands: built per backend from a backend-independent spec
# ---------------------------------------------------------------------------


class Index:
    """An object with an __index__ (not an int)."""

    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value

    def __repr__(self):
        return f"Index({self.value!r})"


class IndexRaises:
    def __index__(self):
        raise ZeroDivisionError("from __index__")

    def __repr__(self):
        return "IndexRaises()"


class Plain:
    """An object that supports no operator at all."""

    def __repr__(self):
        return "Plain()"


# spec (also the operand's name in labels) -> builder(backend module, a), where
# `a` is the AtomicInt operated on: each backend gets its own, equal, operand.
OPERANDS = {
    "0": lambda m, a: 0,
    "1": lambda m, a: 1,
    "-1": lambda m, a: -1,
    "2": lambda m, a: 2,
    "3": lambda m, a: 3,
    "-7": lambda m, a: -7,
    "63": lambda m, a: 63,
    "64": lambda m, a: 64,
    "I64_MAX": lambda m, a: I64_MAX,
    "I64_MIN": lambda m, a: I64_MIN,
    "2**64": lambda m, a: 2**64,
    "-(2**70)": lambda m, a: -(2**70),
    "True": lambda m, a: True,
    "False": lambda m, a: False,
    "2.5": lambda m, a: 2.5,
    "-0.0": lambda m, a: -0.0,
    "nan": lambda m, a: math.nan,
    "inf": lambda m, a: math.inf,
    "'ab'": lambda m, a: "ab",
    "None": lambda m, a: None,
    "Plain()": lambda m, a: Plain(),
    "Index(5)": lambda m, a: Index(5),
    "Index(2**64)": lambda m, a: Index(2**64),
    "Index('7')": lambda m, a: Index("7"),
    "IndexRaises()": lambda m, a: IndexRaises(),
    "AtomicInt(3)": lambda m, a: m.AtomicInt(3),
    "AtomicInt(-2)": lambda m, a: m.AtomicInt(-2),
    "AtomicInt(0)": lambda m, a: m.AtomicInt(0),
    "AtomicInt(I64_MAX)": lambda m, a: m.AtomicInt(I64_MAX),
    "a": lambda m, a: a,  # the operand is the AtomicInt itself
    # The other backend's AtomicInt: the cffi object gets a capi one, and vice versa.
    "other.AtomicInt(3)": lambda m, a: OTHER[m].AtomicInt(3),
    "other.AtomicInt(I64_MIN)": lambda m, a: OTHER[m].AtomicInt(I64_MIN),
}
operands = st.sampled_from(sorted(OPERANDS))
values = st.one_of(
    st.sampled_from([0, 1, -1, 2, 3, 7, -7, 63, 64, I64_MAX, I64_MIN, I64_MAX - 1, I64_MIN + 1]),
    st.integers(I64_MIN, I64_MAX),
)


def as_plain_int(x):
    """The int an operand stands for, or None (for the cost guard below)."""
    if isinstance(x, (CAPI.AtomicInt, CFFI.AtomicInt)):
        return x.load()
    if isinstance(x, int):
        return int(x)
    return None


def too_costly(op: str, left, right) -> bool:
    """Whether op(left, right) would build an enormous result (a huge power,
    shift or repetition): such calls are not made.  Their error paths (negative
    shift counts, overflowing results) are still reached with small operands."""
    lv, rv = as_plain_int(left), as_plain_int(right)
    if op in ("**", "pow") and rv is not None and rv > 256 and (lv is None or abs(lv) > 1):
        return True
    if op == "<<" and rv is not None and rv > 256:
        return True
    if op == "*" and isinstance(left, str) and rv is not None and rv > 256:
        return True
    if op == "*" and isinstance(right, str) and lv is not None and lv > 256:
        return True
    return False


# ---------------------------------------------------------------------------
# AtomicInt operations
# ---------------------------------------------------------------------------

BINARY = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "**": operator.pow, "divmod": divmod,
    "<<": operator.lshift, ">>": operator.rshift, "&": operator.and_, "|": operator.or_,
    "^": operator.xor, "@": operator.matmul,
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge,
}
INPLACE = {
    "+=": operator.iadd, "-=": operator.isub, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
    # refused: no atomic form
    "*=": operator.imul, "/=": operator.itruediv, "//=": operator.ifloordiv, "%=": operator.imod,
    "**=": operator.ipow, "<<=": operator.ilshift, ">>=": operator.irshift, "@=": operator.imatmul,
}
UNARY = {
    "-a": operator.neg, "+a": operator.pos, "abs(a)": abs, "~a": operator.invert, "int(a)": int,
    "float(a)": float, "operator.index(a)": operator.index, "bool(a)": bool, "hash(a)": hash,
    "repr(a)": repr, "str(a)": str, "len(a)": len, "round(a)": round, "math.trunc(a)": math.trunc,
    "math.floor(a)": math.floor, "complex(a)": complex, "bin(a)": bin, "hex(a)": hex, "range(a)": range,
    "copy.copy(a)": copy.copy, "copy.deepcopy(a)": copy.deepcopy,
    "a.__reduce_ex__(2)": lambda a: a.__reduce_ex__(2), "a.__reduce__()": lambda a: a.__reduce__(),
    "pickle round trip": lambda a: pickle.loads(pickle.dumps(a)),
    "a.__index__()": lambda a: a.__index__(),
    "a.__copy__()": lambda a: a.__copy__(), "a.__deepcopy__({})": lambda a: a.__deepcopy__({}),
    "type(a)(a)": lambda a: type(a)(a), "type(a)()": lambda a: type(a)(),
    "a.real": lambda a: a.real, "a.x = 1": lambda a: setattr(a, "x", 1),
    "weakref": lambda a: weakref.ref(a),
}
FORMAT_SPECS = ["", "d", "x", "#x", "+08d", ",", "_b", ".2f", "e", "%", "c", "q", "s", "<5"]


def _return_true(v):
    return True


def _raise(v):
    raise ValueError("from update")


UPDATE_FUNCS = {
    "v + 1": lambda v: v + 1,
    "-v": lambda v: -v,
    "v * 2": lambda v: v * 2,
    "2**63": lambda v: 2**63,
    "'x'": lambda v: "x",
    "1.5": lambda v: 1.5,
    "True": _return_true,
    "Index(3)": lambda v: Index(3),
    "Index(2**64)": lambda v: Index(2**64),
    "raises": _raise,
    "lambda: 0 (wrong arity)": lambda: 0,
    "3 (not callable)": 3,
    "None (not callable)": None,
}

# Methods called with operand specs as arguments (wrong numbers of them included).
METHODS_0 = ["load", "inc", "dec", "notify_one", "notify_all"]
METHODS_1 = ["store", "exchange", "fetch_add", "fetch_sub", "fetch_and", "fetch_or", "fetch_xor",
             "fetch_max", "fetch_min", "add", "sub"]
WAIT_TIMEOUTS = ["omitted", "None", "0", "0.0", "1e-4", "-1", "-0.5", "nan", "inf", "2**64", "'x'",
                 "Index(0)", "False", "1e300"]
_TIMEOUT_VALUES = {
    "None": None, "0": 0, "0.0": 0.0, "1e-4": 1e-4, "1e-9": 1e-9, "0.001": 0.001, "-1": -1, "-1.0": -1.0,
    "-2": -2, "-0.5": -0.5, "nan": math.nan, "inf": math.inf, "-inf": -math.inf, "2**64": 2**64,
    "1e300": 1e300, "'x'": "x", "Index(0)": Index(0), "Index(-1)": Index(-1), "False": False,
}


def call_label(name, *args, **kwargs):
    parts = [str(a) for a in args] + [f"{k}={v}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


class AtomicPair:
    """One AtomicInt per backend, built the same way."""

    def __init__(self, value=0, classes=None):
        classes = classes or [mod.AtomicInt for mod in BACKENDS]
        self.objs = [cls(value) for cls in classes]

    def ctxs(self):
        return [Ctx(mod, a=a) for mod, a in zip(BACKENDS, self.objs)]

    def op(self, label, action):
        """action(a, mod) on each; then the states must agree too."""
        ctxs = self.ctxs()
        result = both(label, lambda ctx: action(ctx.named["a"], ctx.mod), ctxs)
        self.check_state(label)
        return result

    def check_state(self, label="state"):
        loads = [a.load() for a in self.objs]
        assert loads[0] == loads[1], f"after {label}: capi holds {loads[0]}, cffi holds {loads[1]}"
        reprs = [repr(a) for a in self.objs]
        assert reprs[0] == reprs[1], f"after {label}: reprs {reprs}"


def atomic_binary(pair, op, spec, reflected):
    fn = BINARY[op]

    def action(a, mod):
        x = OPERANDS[spec](mod, a)
        left, right = (x, a) if reflected else (a, x)
        if too_costly(op, left, right):
            return "skipped: too costly"
        return fn(left, right)

    label = f"{spec} {op} a" if reflected else f"a {op} {spec}"
    if op == "divmod":
        label = f"divmod({spec}, a)" if reflected else f"divmod(a, {spec})"
    pair.op(label, action)


def atomic_ternary_pow(pair, position, spec1, spec2):
    """pow() with the AtomicInt as base (0), exponent (1) or modulus (2)."""

    def action(a, mod):
        args = [OPERANDS[spec1](mod, a), OPERANDS[spec2](mod, a)]
        args.insert(position, a)
        if too_costly("pow", args[0], args[1]) and args[2] is None:
            return "skipped: too costly"
        return pow(*args)

    names = [spec1, spec2]
    names.insert(position, "a")
    pair.op(f"pow({', '.join(names)})", action)


def atomic_inplace(pair, op, spec):
    fn = INPLACE[op]

    def action(a, mod):
        x = OPERANDS[spec](mod, a)
        return fn(a, x)  # the result is `a` itself for the atomic ones (described as "the object a")

    pair.op(f"a {op} {spec}", action)


def atomic_unary(pair, name):
    pair.op(name, lambda a, mod: UNARY[name](a))


def atomic_format(pair, spec, direct):
    if direct:
        pair.op(f"a.__format__({spec!r})", lambda a, mod: a.__format__(spec))
    else:
        pair.op(f"format(a, {spec!r})", lambda a, mod: format(a, spec))


def atomic_method(pair, name, specs):
    pair.op(call_label(f"a.{name}", *specs),
            lambda a, mod: getattr(a, name)(*(OPERANDS[s](mod, a) for s in specs)))


def atomic_update(pair, fname):
    func = UPDATE_FUNCS[fname]
    pair.op(f"a.update({fname})", lambda a, mod: a.update(func))


def atomic_wait(pair, expected_spec, timeout_spec):
    def action(a, mod):
        expected = OPERANDS[expected_spec](mod, a)
        if timeout_spec in ("omitted", "None", "-1", "-1.0", "Index(-1)"):
            # No timeout (-1 is forever too): wait() blocks unless the value already differs.
            try:
                if operator.index(expected) == a.load():
                    return "skipped: would block"
            except Exception:  # noqa: BLE001 - wait() raises the same itself
                pass
        if timeout_spec == "omitted":
            return a.wait(expected)
        return a.wait(expected, _TIMEOUT_VALUES[timeout_spec])

    args = [expected_spec] if timeout_spec == "omitted" else [expected_spec, timeout_spec]
    pair.op(call_label("a.wait", *args), action)


class AtomicIntMachine(RuleBasedStateMachine):
    """Random sequences of AtomicInt operations on a capi and a cffi object."""

    def __init__(self):
        super().__init__()
        self.pair = AtomicPair(0)

    @rule(value=values)
    def new(self, value):
        self.pair = AtomicPair(value)

    @rule(spec=operands)
    def construct(self, spec):
        """AtomicInt(x) for every kind of operand (the constructed object replaces the current one)."""
        made = []

        def action(a, mod):
            obj = mod.AtomicInt(OPERANDS[spec](mod, a))
            made.append(obj)
            return obj.load()

        self.pair.op(f"AtomicInt({spec})", action)
        if len(made) == 2:
            self.pair.objs = made

    @rule(op=st.sampled_from(sorted(BINARY)), spec=operands, reflected=st.booleans())
    def binary(self, op, spec, reflected):
        atomic_binary(self.pair, op, spec, reflected)

    @rule(position=st.sampled_from([0, 1, 2]), spec1=operands, spec2=operands)
    def ternary_pow(self, position, spec1, spec2):
        atomic_ternary_pow(self.pair, position, spec1, spec2)

    @rule(op=st.sampled_from(sorted(INPLACE)), spec=operands)
    def inplace(self, op, spec):
        atomic_inplace(self.pair, op, spec)

    @rule(name=st.sampled_from(sorted(UNARY)))
    def unary(self, name):
        atomic_unary(self.pair, name)

    @rule(spec=st.sampled_from(FORMAT_SPECS + [5, None]), direct=st.booleans())
    def format(self, spec, direct):
        atomic_format(self.pair, spec, direct)

    @rule(name=st.sampled_from(METHODS_0), extra=st.lists(operands, max_size=1))
    def method_0(self, name, extra):
        atomic_method(self.pair, name, extra)

    @rule(name=st.sampled_from(METHODS_1), specs=st.lists(operands, min_size=1, max_size=2))
    def method_1(self, name, specs):
        atomic_method(self.pair, name, specs)

    @rule(specs=st.lists(operands, min_size=1, max_size=3))
    def compare_exchange(self, specs):
        atomic_method(self.pair, "compare_exchange", specs)

    @rule(fname=st.sampled_from(sorted(UPDATE_FUNCS)))
    def update(self, fname):
        atomic_update(self.pair, fname)

    @rule(expected=operands, timeout=st.sampled_from(WAIT_TIMEOUTS))
    def wait(self, expected, timeout):
        atomic_wait(self.pair, expected, timeout)

    @invariant()
    def same_state(self):
        self.pair.check_state()


TestAtomicIntMachine = AtomicIntMachine.TestCase
TestAtomicIntMachine.settings = settings(max_examples=75, stateful_step_count=40, **_SETTINGS)


# ---------------------------------------------------------------------------
# Locks: SpinLock, RWLock, its views and guards
# ---------------------------------------------------------------------------

BLOCKING = {"omitted": None, "True": True, "False": False, "1": 1, "0": 0, "None": None, "'x'": "x", "''": "",
            "2.5": 2.5, "Index(1)": Index(1), "Plain()": Plain()}
ACQUIRE_TIMEOUTS = ["omitted", "-1", "-1.0", "0", "0.0", "1e-9", "0.001", "-2", "-0.5", "nan", "inf", "-inf",
                    "1e300", "2**64", "'x'", "None", "Index(0)", "Index(-1)", "False"]
# The timeouts with which acquire() waits forever when the lock is taken.
_FOREVER_TIMEOUTS = {"omitted", "-1", "-1.0", "Index(-1)"}
_FALSY_BLOCKING = {"False", "0", "None", "''"}


def acquire_args(blocking, timeout, keywords):
    """(label suffix, args, kwargs) for acquire(blocking, timeout)."""
    args, kwargs, names = [], {}, []
    if blocking != "omitted":
        if keywords:
            kwargs["blocking"] = BLOCKING[blocking]
        else:
            args.append(BLOCKING[blocking])
        names.append(f"blocking={blocking}" if keywords else blocking)
    if timeout != "omitted":
        if keywords or blocking == "omitted":
            kwargs["timeout"] = _TIMEOUT_VALUES[timeout]
            names.append(f"timeout={timeout}")
        else:
            args.append(_TIMEOUT_VALUES[timeout])
            names.append(timeout)
    return ", ".join(names), args, kwargs


def could_wait_forever(blocking, timeout):
    """Whether acquire(blocking, timeout) on a lock this thread cannot get would wait forever."""
    return timeout in _FOREVER_TIMEOUTS and blocking not in _FALSY_BLOCKING


class LockPair:
    """A SpinLock and an RWLock per backend, and the context managers entered on them."""

    def __init__(self):
        self.spin = [mod.SpinLock() for mod in BACKENDS]
        self.rw = [mod.RWLock() for mod in BACKENDS]
        self.entered = []  # per entry: [capi cm, cffi cm], exited in LIFO order by exit_cm
        self.made = []  # guards/views from read()/write(), per entry [capi, cffi]
        self.stamps = [0, 0]  # the last rw.optimistic_read() of each backend (take_stamp)

    def ctxs(self):
        return [Ctx(mod, spin=s, rw=r, reader=r.reader, writer=r.writer)
                for mod, s, r in zip(BACKENDS, self.spin, self.rw)]

    def op(self, label, action):
        """action(ctx) on each backend, then the states must agree."""
        result = both(label, action, self.ctxs())
        self.check_state(label)
        return result

    def state(self, i):
        s, r = self.spin[i], self.rw[i]
        return {
            "spin.locked()": s.locked(),
            "repr(spin)": _ADDRESS.sub("0x?", repr(s)),
            "rw.readers": r.readers,
            "rw.write_locked": r.write_locked,
            "rw.reader.locked()": r.reader.locked(),
            "rw.writer.locked()": r.writer.locked(),
            # the stamps count write sections alike: equal values, and equal verdicts
            "rw.optimistic_read()": r.optimistic_read(),
            "rw.validate(stamp)": r.validate(self.stamps[i]),
            "repr(rw)": _ADDRESS.sub("0x?", repr(r)),
            "repr(rw.reader)": _ADDRESS.sub("0x?", repr(r.reader)),
            "repr(rw.writer)": _ADDRESS.sub("0x?", repr(r.writer)),
        }

    def check_state(self, label="state"):
        capi, cffi = self.state(0), self.state(1)
        assert capi == cffi, f"after {label}:\n  capi {capi}\n  cffi {cffi}"

    def release_all(self):
        """Leave nothing held (the read holds live in a per-thread table)."""
        for s in self.spin:
            if s.locked():
                s.release()
        for r in self.rw:
            if r.write_locked:
                r.release_write()
            while r.readers:
                r.release_read()


RW_TARGETS = {
    # label -> (object to call acquire/release on, given ctx)
    "rw": lambda ctx: ctx.named["rw"],
    "rw.reader": lambda ctx: ctx.named["reader"],
    "rw.writer": lambda ctx: ctx.named["writer"],
    "spin": lambda ctx: ctx.named["spin"],
}
ACQUIRE_NAMES = {"rw": ["acquire_read", "acquire_write"], "rw.reader": ["acquire"], "rw.writer": ["acquire"],
                 "spin": ["acquire"]}
RELEASE_NAMES = {"rw": ["release_read", "release_write", "downgrade"], "rw.reader": ["release"],
                 "rw.writer": ["release"], "spin": ["release"]}


# validate()'s arguments: label -> builder(backend module, that backend's stamp)
STAMP_ARGS = {
    "stamp": lambda m, s: s,
    "stamp + 1": lambda m, s: s + 1,  # odd: the write sequence while write-held
    "stamp + 2": lambda m, s: s + 2,
    "stamp - 2": lambda m, s: s - 2,
    "0": lambda m, s: 0,
    "-2": lambda m, s: -2,
    "I64_MAX": lambda m, s: I64_MAX,
    "I64_MIN": lambda m, s: I64_MIN,
    "2**63": lambda m, s: 2**63,
    "2**64 + stamp": lambda m, s: 2**64 + s,  # the stamp modulo 2**64: never valid
    "-(2**70)": lambda m, s: -(2**70),
    "True": lambda m, s: True,
    "Index(stamp)": lambda m, s: Index(s),
    "Index(2**64)": lambda m, s: Index(2**64),
    "Index('7')": lambda m, s: Index("7"),
    "IndexRaises()": lambda m, s: IndexRaises(),
    "AtomicInt(stamp)": lambda m, s: m.AtomicInt(s),
    "float(stamp)": lambda m, s: float(s),
    "str(stamp)": lambda m, s: str(s),
    "None": lambda m, s: None,
    "Plain()": lambda m, s: Plain(),
}


class LockMachine(RuleBasedStateMachine):
    """Random sequences of lock operations, misuse included, on the calling thread."""

    def __init__(self):
        super().__init__()
        self.locks = LockPair()

    def teardown(self):
        self.locks.release_all()

    @rule(obj=st.sampled_from(sorted(RW_TARGETS)), which=st.integers(0, 1),
          blocking=st.sampled_from(sorted(BLOCKING)), timeout=st.sampled_from(ACQUIRE_TIMEOUTS),
          keywords=st.booleans())
    def acquire(self, obj, which, blocking, timeout, keywords):
        names = ACQUIRE_NAMES[obj]
        name = names[which % len(names)]
        if obj == "spin" and self.locks.spin[0].locked() and could_wait_forever(blocking, timeout):
            # A SpinLock has no owner: acquiring it again waits for ever.  A single attempt instead.
            timeout = "0"
        suffix, args, kwargs = acquire_args(blocking, timeout, keywords)
        self.locks.op(f"{obj}.{name}({suffix})",
                      lambda ctx: getattr(RW_TARGETS[obj](ctx), name)(*args, **kwargs))

    @rule(obj=st.sampled_from(sorted(RW_TARGETS)), which=st.integers(0, 2), extra=st.booleans())
    def release(self, obj, which, extra):
        names = RELEASE_NAMES[obj]
        name = names[which % len(names)]
        args = (1,) if extra else ()
        self.locks.op(f"{obj}.{name}({'1' if extra else ''})",
                      lambda ctx: getattr(RW_TARGETS[obj](ctx), name)(*args))

    @rule(obj=st.sampled_from(sorted(RW_TARGETS)),
          query=st.sampled_from(["locked()", "repr", "rwlock", "readers", "write_locked", "_is_owned()",
                                 "type()()", "weakref", "x = 1"]))
    def query(self, obj, query):
        def action(ctx):
            lock = RW_TARGETS[obj](ctx)
            if query == "locked()":
                return lock.locked()
            if query == "repr":
                return repr(lock)
            if query == "type()()":
                return type(lock)()
            if query == "weakref":
                return weakref.ref(lock)() is lock
            if query == "x = 1":
                return setattr(lock, "x", 1)
            if query == "_is_owned()":
                return lock._is_owned()
            return getattr(lock, query)

        self.locks.op(f"{obj}.{query}", action)

    @rule(side=st.sampled_from(["read", "write"]),
          timeout=st.sampled_from(["omitted"] + ACQUIRE_TIMEOUTS[1:]))
    def make_cm(self, side, timeout):
        """rw.read(timeout) / rw.write(timeout): a view (no timeout) or a guard; kept for enter_cm."""
        made = []

        def action(ctx):
            rw = ctx.named["rw"]
            cm = getattr(rw, side)() if timeout == "omitted" else getattr(rw, side)(_TIMEOUT_VALUES[timeout])
            made.append(cm)
            return cm

        self.locks.op(f"rw.{side}({'' if timeout == 'omitted' else timeout})", action)
        if len(made) == 2:
            self.locks.made.append(made)

    @rule(data=st.data(), source=st.sampled_from(["made", "spin", "rw.reader", "rw.writer"]))
    def enter_cm(self, data, source):
        """`with cm:` entered (its __exit__ comes later, from exit_cm)."""
        if source == "made":
            if not self.locks.made:
                return
            pair = data.draw(st.sampled_from(self.locks.made))
            label = "made cm"
        elif source == "spin":
            if self.locks.spin[0].locked():
                return  # `with spin:` on a taken SpinLock waits for ever
            pair = self.locks.spin
            label = "spin"
        else:
            pair = [RW_TARGETS[source](ctx) for ctx in self.locks.ctxs()]
            label = source
        capi, cffi = self.locks.op(f"{label}.__enter__()",
                                   lambda ctx: pair[BACKENDS.index(ctx.mod)].__enter__())
        if not capi.raised:
            self.locks.entered.append(pair)

    @rule(misuse=st.sampled_from([None, "spin", "rw.reader", "rw.writer", "made"]))
    def exit_cm(self, misuse):
        """The innermost entered context manager's __exit__, or (misuse) the
        __exit__ of one that was not entered."""
        if misuse is None:
            if not self.locks.entered:
                return
            pair = self.locks.entered.pop()
            label = "entered cm"
        elif misuse == "made":
            if not self.locks.made:
                return
            pair = self.locks.made[-1]
            label = "made cm"
        elif misuse == "spin":
            pair = self.locks.spin
            label = "spin"
        else:
            pair = [RW_TARGETS[misuse](ctx) for ctx in self.locks.ctxs()]
            label = misuse
        self.locks.op(f"{label}.__exit__(None, None, None)",
                      lambda ctx: pair[BACKENDS.index(ctx.mod)].__exit__(None, None, None))

    @rule()
    def take_stamp(self):
        def action(ctx):
            i = BACKENDS.index(ctx.mod)
            self.locks.stamps[i] = ctx.named["rw"].optimistic_read()
            return self.locks.stamps[i]

        self.locks.op("stamp = rw.optimistic_read()", action)

    @rule(arg=st.sampled_from(sorted(STAMP_ARGS)))
    def validate(self, arg):
        """rw.validate(x) for stamps, near misses and non-stamps (pa_contract.h's rule)."""
        self.locks.op(f"rw.validate({arg})", lambda ctx: ctx.named["rw"].validate(
            STAMP_ARGS[arg](ctx.mod, self.locks.stamps[BACKENDS.index(ctx.mod)])))

    @rule()
    def new_rwlock(self):
        self.locks.release_all()
        self.locks = LockPair()

    @invariant()
    def same_state(self):
        self.locks.check_state()


TestLockMachine = LockMachine.TestCase
TestLockMachine.settings = settings(max_examples=75, stateful_step_count=40, **_SETTINGS)


# ---------------------------------------------------------------------------
# Exhaustive tables: every operator with every operand kind, once
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 7, -7, I64_MAX, I64_MIN])
def test_every_operator_with_every_operand(value):
    for spec in OPERANDS:
        for op in BINARY:
            for reflected in (False, True):
                atomic_binary(AtomicPair(value), op, spec, reflected)
        for op in INPLACE:
            atomic_inplace(AtomicPair(value), op, spec)
        for name in METHODS_1:
            atomic_method(AtomicPair(value), name, [spec])
        atomic_method(AtomicPair(value), "compare_exchange", [spec, "1"])
        atomic_method(AtomicPair(value), "compare_exchange", ["a", spec])
        for timeout in WAIT_TIMEOUTS:
            atomic_wait(AtomicPair(value), spec, timeout)
    for name in UNARY:
        atomic_unary(AtomicPair(value), name)
    for name in METHODS_0:
        atomic_method(AtomicPair(value), name, [])
    for fname in UPDATE_FUNCS:
        atomic_update(AtomicPair(value), fname)
    for spec in FORMAT_SPECS + [5, None]:
        for direct in (False, True):
            atomic_format(AtomicPair(value), spec, direct)


@pytest.mark.parametrize("value", [0, 3, I64_MAX])
def test_compare_exchange_every_pair(value):
    for expected in OPERANDS:
        for desired in OPERANDS:
            atomic_method(AtomicPair(value), "compare_exchange", [expected, desired])


TERNARY_SPECS = ["0", "1", "-1", "2", "3", "-7", "I64_MAX", "2**64", "True", "2.5", "None", "'ab'",
                 "Index(5)", "AtomicInt(3)", "AtomicInt(0)", "a"]


@pytest.mark.parametrize("value", [0, 1, 2, 3, -3, I64_MAX])
@pytest.mark.parametrize("position", [0, 1, 2])
def test_ternary_pow_in_each_position(value, position):
    for spec1 in TERNARY_SPECS:
        for spec2 in TERNARY_SPECS:
            atomic_ternary_pow(AtomicPair(value), position, spec1, spec2)


@given(blocking=st.sampled_from(sorted(BLOCKING)), timeout=st.sampled_from(ACQUIRE_TIMEOUTS),
       keywords=st.booleans(), held=st.sampled_from([None, "read", "write", "spin"]),
       target=st.sampled_from(["rw.acquire_read", "rw.acquire_write", "rw.reader.acquire",
                               "rw.writer.acquire", "spin.acquire", "rw.read", "rw.write"]))
@settings(max_examples=300, **_SETTINGS)
def test_acquire_argument_combinations(blocking, timeout, keywords, held, target):
    """Every blocking/timeout combination, on a free lock and on one this thread holds."""
    locks = LockPair()
    try:
        for spin, rw in zip(locks.spin, locks.rw):
            if held == "read":
                rw.acquire_read()
            elif held == "write":
                rw.acquire_write()
            elif held == "spin":
                spin.acquire()
        if target.startswith("spin") and held == "spin" and could_wait_forever(blocking, timeout):
            timeout = "0"
        suffix, args, kwargs = acquire_args(blocking, timeout, keywords)
        if target in ("rw.read", "rw.write"):
            # read(timeout)/write(timeout) take one argument: the timeout.
            args, kwargs = ([_TIMEOUT_VALUES[timeout]], {}) if timeout != "omitted" else ([], {})
            suffix = "" if timeout == "omitted" else timeout

        def action(ctx):
            obj, name = target.rsplit(".", 1)
            return getattr(RW_TARGETS[obj](ctx), name)(*args, **kwargs)

        locks.op(f"{target}({suffix}) with {held} held", action)
    finally:
        locks.release_all()


# ---------------------------------------------------------------------------
# Subclasses that override dunders
# ---------------------------------------------------------------------------


def make_subclass(mod):
    """The same subclass of each backend's AtomicInt."""

    class Sub(mod.AtomicInt):
        def __new__(cls, value=0, tag="t"):  # extra constructor arguments need a __new__ too
            return super().__new__(cls, value)

        def __init__(self, value=0, tag="t"):
            self.tag = tag

        def __eq__(self, other):
            return ("eq", self.load(), other if isinstance(other, (int, str, type(None))) else "obj")

        __hash__ = None

        def __add__(self, other):
            return ("add", self.load(), other if isinstance(other, int) else "obj")

        def __index__(self):
            return self.load() + 1000

        def __repr__(self):
            return f"Sub<{self.load()}, {self.tag}>"

    return Sub


def make_load_override(mod):
    """A subclass whose load() lies: the operators and conversions must read
    the value itself, the same way on both backends."""

    class LoadLies(mod.AtomicInt):
        def load(self):
            return 42

    return LoadLies


SUBCLASSES = {"Sub": make_subclass, "LoadLies": make_load_override}


SUBCLASS_OPS = {
    "s == 3": lambda s, m: s == 3,
    "3 == s": lambda s, m: 3 == s,
    "s != 3": lambda s, m: s != 3,
    "s + 1": lambda s, m: s + 1,
    "1 + s": lambda s, m: 1 + s,
    "s - 1": lambda s, m: s - 1,
    "s += 2": lambda s, m: operator.iadd(s, 2),
    "s < 5": lambda s, m: s < 5,
    "int(s)": lambda s, m: int(s),
    "operator.index(s)": lambda s, m: operator.index(s),
    "[0, 1][s]": lambda s, m: [0, 1][s],
    "range(s)": lambda s, m: len(range(s)),
    "hex(s)": lambda s, m: hex(s),
    "repr(s)": lambda s, m: repr(s),
    "str(s)": lambda s, m: str(s),
    "format(s, 'd')": lambda s, m: format(s, "d"),
    "s.tag": lambda s, m: getattr(s, "tag", "no tag"),
    "copy.copy(s)": lambda s, m: copy.copy(s),
    "s.__reduce_ex__(2)": lambda s, m: s.__reduce_ex__(2),
    "AtomicInt(s)": lambda s, m: m.AtomicInt(s),
    "a.store(s)": lambda s, m: (a := m.AtomicInt(0), a.store(s), a.load())[2],
    "a.fetch_add(s)": lambda s, m: (a := m.AtomicInt(0), a.fetch_add(s), a.load())[2],
    "AtomicInt(1) + s": lambda s, m: m.AtomicInt(1) + s,
    "AtomicInt(1) == s": lambda s, m: m.AtomicInt(1) == s,
    "pow(s, 2, 7)": lambda s, m: pow(s, 2, 7),
    "s.inc()": lambda s, m: s.inc(),
    "float(s)": lambda s, m: float(s),
    "bool(s)": lambda s, m: bool(s),
    "hash(s)": lambda s, m: hash(s),
    "divmod(s, 3)": lambda s, m: divmod(s, 3),
}


@pytest.mark.parametrize("op", sorted(SUBCLASS_OPS))
@pytest.mark.parametrize("value", [0, 5, -1])
@pytest.mark.parametrize("subclass", sorted(SUBCLASSES))
def test_subclass_overriding_dunders(subclass, op, value):
    pair = AtomicPair(value, classes=[SUBCLASSES[subclass](mod) for mod in BACKENDS])
    pair.op(op, lambda a, mod: SUBCLASS_OPS[op](a, mod))


def test_subclass_construction():
    """Constructor misuse on a subclass: too many arguments without a __new__, a bad tag."""
    for label, body in {
        "init with extra args, no __new__": lambda m: type("S", (m.AtomicInt,), {
            "__init__": lambda self, v, extra: None})(1, 2),
        "make_subclass()(1, tag=2).tag": lambda m: make_subclass(m)(1, tag=2).tag,
        "make_subclass()(1, 2, 3)": lambda m: make_subclass(m)(1, 2, 3),
        "make_subclass()('x')": lambda m: make_subclass(m)("x"),
        "subclass SpinLock": lambda m: type("S", (m.SpinLock,), {}),
        "subclass RWLock": lambda m: type("S", (m.RWLock,), {}),
        "subclass RWLockView": lambda m: type("S", (m.RWLockView,), {}),
        "subclass RWLockGuard": lambda m: type("S", (m.RWLockGuard,), {}),
        "copy.copy(subclass)": lambda m: type(copy.copy(make_subclass(m)(4))).__name__,
        "copy.deepcopy(subclass).load()": lambda m: copy.deepcopy(make_subclass(m)(4)).load(),
        "repr(plain subclass)": lambda m: repr(type("Plain", (m.AtomicInt,), {})(3)),
        "plain subclass + 1": lambda m: type("Plain", (m.AtomicInt,), {})(3) + 1,
        "plain subclass __slots__ = ()": lambda m: type("P", (m.AtomicInt,), {"__slots__": ()})(3).inc(),
        "subclass with __slots__, attribute": lambda m: setattr(
            type("P", (m.AtomicInt,), {"__slots__": ()})(3), "x", 1),
    }.items():
        both(label, body, [Ctx(mod) for mod in BACKENDS])


# ---------------------------------------------------------------------------
# Helper types: type(x)() for every object the API hands out
# ---------------------------------------------------------------------------

HANDED_OUT = {
    "AtomicInt()": lambda m: m.AtomicInt(),
    "SpinLock()": lambda m: m.SpinLock(),
    "RWLock()": lambda m: m.RWLock(),
    "rw.reader": lambda m: m.RWLock().reader,
    "rw.writer": lambda m: m.RWLock().writer,
    "rw.read()": lambda m: m.RWLock().read(),
    "rw.write()": lambda m: m.RWLock().write(),
    "rw.read(1)": lambda m: m.RWLock().read(1),
    "rw.write(1)": lambda m: m.RWLock().write(1),
    "build_info()": lambda m: m.build_info(),
}


@pytest.mark.parametrize("name", sorted(HANDED_OUT))
@pytest.mark.parametrize("args", [(), (1,), ("x",)], ids=["no-args", "one-int", "one-str"])
def test_helper_type_constructors(name, args):
    both(f"type({name})(*{args})", lambda ctx: type(HANDED_OUT[name](ctx.mod))(*args),
         [Ctx(mod) for mod in BACKENDS])


KEYWORD_AND_DIRECT_CALLS = {
    "a.wait(3, timeout=0)": lambda m: m.AtomicInt(3).wait(3, timeout=0),
    "a.wait(expected=3, timeout=0)": lambda m: m.AtomicInt(3).wait(expected=3, timeout=0),
    "a.wait(3, 0, 1)": lambda m: m.AtomicInt(3).wait(3, 0, 1),
    "AtomicInt(value=3)": lambda m: m.AtomicInt(value=3),
    "AtomicInt(v=3)": lambda m: m.AtomicInt(v=3),
    "a.store(value=3)": lambda m: m.AtomicInt().store(value=3),
    "a.update(func=abs)": lambda m: m.AtomicInt().update(func=abs),
    "rw.read(timeout=1)": lambda m: m.RWLock().read(timeout=1),
    "rw.write(timeout=None)": lambda m: m.RWLock().write(timeout=None),
    "rw.read(1, 2)": lambda m: m.RWLock().read(1, 2),
    "spin.__exit__()": lambda m: m.SpinLock().__exit__(),
    # handles: made only by handle(), refused like the objects they are handles of
    "AtomicIntHandle()": lambda m: m.AtomicIntHandle(),
    "RWLockHandle()": lambda m: m.RWLockHandle(),
    "a.handle(1)": lambda m: m.AtomicInt().handle(1),
    "repr(a.handle())": lambda m: repr(m.AtomicInt(3).handle()),
    "a.handle() += 2": lambda m: (h := m.AtomicInt(3).handle(), h.__iadd__(2), h._root.load())[2],
    "repr(c.handle())": lambda m: repr(m.AtomicCounter(3).handle()),
    "copy.copy(c.handle())": lambda m: copy.copy(m.AtomicCounter(3).handle()).value(),
    "repr(r.handle())": lambda m: repr(m.AtomicRef([3]).handle()),
    "r.handle().__reduce_ex__(2)": lambda m: m.AtomicRef(3).handle().__reduce_ex__(2),
    "copy.copy(rw.handle())": lambda m: copy.copy(m.RWLock().handle()),
    "rw.handle() misuse": lambda m: (rw := m.RWLock(), rw.acquire_read(), rw.handle().acquire_write(False)),
    "AtomicInt.__new__(AtomicIntHandle)": lambda m: type(m.AtomicInt.__new__(m.AtomicIntHandle)).__name__,
    "spin.__exit__(1, 2, 3, 4)": lambda m: m.SpinLock().__exit__(1, 2, 3, 4),
    "spin.__enter__(1)": lambda m: m.SpinLock().__enter__(1),
    "spin.acquire(1, 0, 2)": lambda m: m.SpinLock().acquire(1, 0, 2),
    "rw.reader.__exit__()": lambda m: m.RWLock().reader.__exit__(),
    "rw.write(1).__exit__()": lambda m: m.RWLock().write(1).__exit__(),
    "with rw.write(0): rw.read(0)": lambda m: _enter_then(m.RWLock(), "write", "read"),
    "with rw.read(0): rw.write(0)": lambda m: _enter_then(m.RWLock(), "read", "write"),
    "with rw.write(0): rw.write(0)": lambda m: _enter_then(m.RWLock(), "write", "write"),
    "with rw.read(0): rw.read(0)": lambda m: _enter_then(m.RWLock(), "read", "read"),
    "spin._at_fork_reinit()": lambda m: m.SpinLock()._at_fork_reinit(),
    "AtomicRef(value=3)": lambda m: m.AtomicRef(value=3),
    "AtomicRef(v=3)": lambda m: m.AtomicRef(v=3),
    "AtomicRef(1, 2)": lambda m: m.AtomicRef(1, 2),
    "rw.validate()": lambda m: m.RWLock().validate(),
    "rw.validate(2, 2)": lambda m: m.RWLock().validate(2, 2),
    "rw.validate(stamp=2)": lambda m: m.RWLock().validate(stamp=2),
    "rw.optimistic_read(1)": lambda m: m.RWLock().optimistic_read(1),
    "build_info()": lambda m: m.build_info(),
}


def _enter_then(rw, first, second):
    """`with rw.<first>(0): with rw.<second>(0): ...` -> the lock's state inside, or the error."""
    with getattr(rw, first)(0):
        with getattr(rw, second)(0):
            return (rw.readers, rw.write_locked)


@pytest.mark.parametrize("label", sorted(KEYWORD_AND_DIRECT_CALLS))
def test_keyword_and_direct_calls(label):
    both(label, lambda ctx: KEYWORD_AND_DIRECT_CALLS[label](ctx.mod), [Ctx(mod) for mod in BACKENDS])


def test_module_surface():
    """The same public names, and the same classes under the same qualified names.
    (The cffi module's __all__: as a Python module it also holds the names it
    imported, ffi, lib, math, ...)"""
    capi_public = sorted(n for n in dir(CAPI) if not n.startswith("_"))
    assert capi_public == sorted(CFFI.__all__)
    for name in ("AtomicInt", "AtomicRef", "SpinLock", "RWLock", "RWLockView", "RWLockGuard",
                 "AtomicIntHandle", "AtomicCounterHandle", "AtomicRefHandle", "RWLockHandle"):
        c, f = getattr(CAPI, name), getattr(CFFI, name)
        assert (c.__module__, c.__qualname__, c.__name__) == (f.__module__, f.__qualname__, f.__name__)
        cm = sorted(n for n in dir(c) if not n.startswith("_"))
        fm = sorted(n for n in dir(f) if not n.startswith("_"))
        assert cm == fm, name
    assert CAPI.build_info().keys() == CFFI.build_info().keys()


# ---------------------------------------------------------------------------
# AtomicRef: each operation on a ref holding `held`, the outcome and the state after
# ---------------------------------------------------------------------------


class _RaisingEq:
    def __eq__(self, other):
        raise ValueError("__eq__ called")

    __hash__ = object.__hash__


def _ref_subclass(mod):
    class Named(mod.AtomicRef):
        def __init__(self, name, value=None):
            super().__init__(value)
            self.name = name

    return Named("n", 4)


REF_OPS = {
    "r.load()": lambda m, r, o: r.load(),
    "r.store(other)": lambda m, r, o: r.store(o["other"]),
    "r.store(r)": lambda m, r, o: r.store(r),
    "r.exchange(other)": lambda m, r, o: r.exchange(o["other"]),
    "r.compare_exchange(held, other)": lambda m, r, o: r.compare_exchange(o["held"], o["other"]),
    "r.compare_exchange([1], other)": lambda m, r, o: r.compare_exchange([1], o["other"]),
    "r.compare_exchange(_RaisingEq(), other)": lambda m, r, o: r.compare_exchange(_RaisingEq(), o["other"]),
    "r.compare_exchange(held)": lambda m, r, o: r.compare_exchange(o["held"]),
    "r.update(lambda x: [x])": lambda m, r, o: r.update(lambda x: [x]),
    "r.update(3)": lambda m, r, o: r.update(3),
    "r.update(raises)": lambda m, r, o: r.update(_raise),
    "r.update(func=abs)": lambda m, r, o: r.update(func=abs),
    "r.store(value=1)": lambda m, r, o: r.store(value=1),
    "r.store()": lambda m, r, o: r.store(),
    "r.load(1)": lambda m, r, o: r.load(1),
    "repr(r)": lambda m, r, o: repr(r),
    "repr(r holding r)": lambda m, r, o: (r.store(r), repr(r))[1],
    "repr(r holding [r])": lambda m, r, o: (r.store([r]), repr(r))[1],
    "hash(r)": lambda m, r, o: hash(r),
    "r == r": lambda m, r, o: r == r,
    "pickle.dumps(r)": lambda m, r, o: pickle.dumps(r),
    "copy.copy(r)": lambda m, r, o: copy.copy(r),
    "copy.deepcopy(r)": lambda m, r, o: copy.deepcopy(r),
    "r.__reduce_ex__(2)": lambda m, r, o: r.__reduce_ex__(2),
    "AtomicRef[int]": lambda m, r, o: str(m.AtomicRef[int]).replace(m.__name__, "M"),
    "subclass": lambda m, r, o: (s := _ref_subclass(m), repr(s), s.name, s.exchange(5), s.load()),
    "pickle subclass": lambda m, r, o: pickle.dumps(_ref_subclass(m)),
}


@pytest.mark.parametrize("label", sorted(REF_OPS))
def test_atomicref_operations(label):
    results, states = [], []
    for mod in BACKENDS:
        ctx = Ctx(mod, held=[1], other=("o",))
        r = ctx.named["r"] = mod.AtomicRef(ctx.named["held"])
        results.append(outcome(ctx, lambda: REF_OPS[label](mod, r, ctx.named)))
        states.append((ctx.describe(r.load()), repr(r)))
    assert_same(label, *results)
    assert states[0] == states[1], f"{label}: state after: capi {states[0]}, cffi {states[1]}"


# ---------------------------------------------------------------------------
# The lists of differences cannot go stale
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ALL_LISTED))
def test_listed_difference_is_real(name):
    """Each listed difference's reproducer still differs between the backends,
    and in the way the entry describes.  A failure here for a KNOWN_DIFFERENCES
    entry means the binding was fixed: delete the entry."""
    diff = ALL_LISTED[name]
    capi, cffi = (outcome(Ctx(mod), lambda mod=mod: diff.reproducer(mod)) for mod in BACKENDS)
    assert capi != cffi, f"{name}: no longer a difference (both {capi}): delete the entry"
    label = diff.reproducer_label
    assert diff.matches(label, capi, cffi), f"{name}: differs otherwise: capi {capi}, cffi {cffi}"
    assert claimed_by(label, capi, cffi) == name, f"{name}: another entry claims this difference first"


PUBLIC_METHODS = sorted(
    (cls, name) for cls in ("AtomicInt", "AtomicRef", "SpinLock", "RWLock", "RWLockView", "RWLockGuard",
                            "RWLockHandle")
    for name in dir(getattr(CAPI, cls))
    # The public methods; of the dunders, what Python code calls by name
    # (__new__ is the C slot wrapper's (*args, **kwargs): backend_features.py)
    if (not name.startswith("_") or name in ("__enter__", "__exit__"))
    and callable(getattr(getattr(CAPI, cls), name))
)


@pytest.mark.parametrize(("cls", "name"), PUBLIC_METHODS)
def test_signatures(cls, name):
    both(f"inspect.signature({cls}.{name})",
         lambda ctx: str(inspect.signature(getattr(getattr(ctx.mod, cls), name))),
         [Ctx(mod) for mod in BACKENDS])
