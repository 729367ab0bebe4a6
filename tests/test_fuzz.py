"""Fuzzing: every AtomicInt method and operator slot, and every method of the
lock types, called with arbitrary Python objects from several threads at once.

What a run proves: no crash (scripts/sanitize.sh runs this file under
AddressSanitizer + UndefinedBehaviorSanitizer, where a stray read or write
aborts the process), no hang, and no exception outside the ones the stdlib
would raise for bad input -- in particular no SystemError, which is what
CPython raises when a C function returns a result with an exception set, or
NULL without one.  After every example the objects must still be consistent:
locks free, the atomic a valid int64, and a counter that every thread
incremented once per operation exactly right.

The arguments are the nasty ones: huge and boundary ints, bools, floats with
NaN and infinities, None, strings, containers, other AtomicInts (including
the one being operated on), and objects whose __index__, __float__, __bool__
or __eq__ raise, return the wrong type, sleep to widen a race, or call back
into the very AtomicInt or lock being operated on.  cereggii's fuzzer found
crashes in exactly these slots (its issues #69, #76, #86).

Budget: the hypothesis profile's max_examples per test (tests/conftest.py:
40 by default, so the normal suite stays quick).  `scripts/sanitize.sh fuzz`
runs the "fuzz" profile (2000) under ASan in CI; docs/reliability.md records
the longer documented run ("fuzz-long").
"""

from __future__ import annotations

import copy
import math
import operator
import pickle
import threading
import time
import traceback

import pytest

from pyatomics import AtomicInt, RWLock, SpinLock

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)
THREADS = 3
HANG_LIMIT_S = 120.0  # generous: ASan slows everything down


class FuzzError(Exception):
    """Raised on purpose by the evil objects below."""


# Exceptions a call with bad input may legitimately raise (those the stdlib
# raises in the same situations, plus FuzzError from our own callbacks).
ALLOWED = (
    TypeError,
    ValueError,
    OverflowError,
    RuntimeError,
    ZeroDivisionError,
    AttributeError,
    TimeoutError,
    FuzzError,
    pickle.PickleError,
    copy.Error,
    DeprecationWarning,  # __index__ returning a bool (the suite turns warnings into errors)
)


class Env:
    """The objects one example's threads share."""

    def __init__(self):
        self.a = AtomicInt(0)  # the fuzz target
        self.count = AtomicInt(0)  # +1 per operation: must end exact
        self.spin = SpinLock()
        self.rw = RWLock()


_ENV: Env | None = None  # the current example's Env (examples run one at a time)


# --- evil arguments -------------------------------------------------------
# Each is drawn as a description and built per example, so the callbacks can
# reach the current example's objects through _ENV.


class Ref:
    """Resolved to one of the shared objects itself."""

    def __init__(self, name):
        self.name = name

    def resolve(self):
        return getattr(_ENV, self.name)

    def __repr__(self):
        return f"Ref({self.name})"


class IndexReturns:
    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value

    def __repr__(self):
        return f"IndexReturns({self.value!r})"


class IndexRaises:
    def __index__(self):
        raise FuzzError("__index__")

    def __float__(self):
        raise FuzzError("__float__")

    def __bool__(self):
        raise FuzzError("__bool__")

    def __eq__(self, other):
        raise FuzzError("__eq__")

    __hash__ = object.__hash__

    def __repr__(self):
        return "IndexRaises()"


class IndexTouchesTarget:
    """Converting it changes the AtomicInt being operated on (re-entrancy).
    Only a few times: as the value returned by an update() function it would
    otherwise make every compare-exchange of that CAS loop fail, forever."""

    def __init__(self, value):
        self.value, self.touches = value, 8

    def _touch(self):
        if self.touches > 0:
            self.touches -= 1
            _ENV.a.fetch_xor(0x5A5A)
            _ENV.a.notify_all()

    def __index__(self):
        self._touch()
        return self.value

    def __float__(self):
        self._touch()
        return 0.001

    def __repr__(self):
        return f"IndexTouchesTarget({self.value!r})"


class IndexTriesLocks:
    """Converting it tries (never blocks on) the locks being operated on."""

    def __init__(self, value):
        self.value = value

    def _poke(self):
        if _ENV.spin.acquire(False):
            _ENV.spin.release()
        try:
            if _ENV.rw.acquire_read(False):
                _ENV.rw.release_read()
        except RuntimeError:  # this thread holds the write side
            pass

    def __index__(self):
        self._poke()
        return self.value

    def __float__(self):
        self._poke()
        return 0.001

    def __bool__(self):
        self._poke()
        return True

    def __repr__(self):
        return f"IndexTriesLocks({self.value!r})"


class SlowIndex:
    """Sleeps in __index__ to widen the window between reading and using an argument."""

    def __init__(self, value):
        self.value = value

    def __index__(self):
        time.sleep(0.0005)
        return self.value

    def __repr__(self):
        return f"SlowIndex({self.value!r})"


class FloatReturns:
    def __init__(self, value):
        self.value = value

    def __float__(self):
        return self.value

    def __repr__(self):
        return f"FloatReturns({self.value!r})"


class BoolReturns:
    def __init__(self, value):
        self.value = value

    def __bool__(self):
        return self.value

    def __repr__(self):
        return f"BoolReturns({self.value!r})"


def _bounded_ndigits(x):
    """round(a, n) is int's, and a huge negative n makes int compute 10**-n (for
    ever): an integer argument outside [-40, 40] (whatever its __index__ says)
    becomes -3; anything else goes to round() as it is."""
    try:
        n = operator.index(x)
    except TypeError:
        return x
    return x if -40 <= n <= 40 else -3


class OddInt(int):
    """An int subclass whose __index__ and __eq__ misbehave."""

    def __index__(self):
        raise FuzzError("OddInt.__index__")

    def __eq__(self, other):
        raise FuzzError("OddInt.__eq__")

    __hash__ = int.__hash__


class Updater:
    """A function for AtomicInt.update(): returns the drawn value, raises, or
    changes the target itself (a bounded number of times: an update() whose
    function always changes the value retries forever, as any CAS loop)."""

    def __init__(self, kind, value):
        self.kind, self.value, self.meddles = kind, value, 3

    def __call__(self, old):
        assert isinstance(old, int) and I64_MIN <= old <= I64_MAX, old
        if self.kind == "raise":
            raise FuzzError("update function")
        if self.kind == "meddle" and self.meddles > 0:
            self.meddles -= 1
            _ENV.a.fetch_add(1)
        return resolve(self.value)

    def __repr__(self):
        return f"Updater({self.kind!r}, {self.value!r})"


def resolve(arg):
    if isinstance(arg, Ref):
        return arg.resolve()
    if isinstance(arg, tuple) and arg and arg[0] == "odd-int":
        return OddInt(arg[1])
    return arg


_plain_ints = st.one_of(
    st.integers(-5, 5),
    st.sampled_from(
        [I64_MAX, I64_MIN, I64_MAX - 1, I64_MIN + 1, 2**63, -(2**63) - 1, 2**64, 2**31, 10**30, -(10**30)]
    ),
    st.integers(I64_MIN, I64_MAX),
    st.booleans(),
)
_plain = st.one_of(
    _plain_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 0.001, 1e-9, -1.0, -2.0, 1e300, math.nan, math.inf, -math.inf]),
    st.none(),
    st.text(max_size=6),
    st.binary(max_size=4),
    st.sampled_from([[], [1], (1,), {}, 1j, object(), "d", "+#x", ">20", ",", "z"]),
)
_nested = st.one_of(_plain_ints, st.none(), st.floats(), st.text(max_size=2))
ARGS = st.one_of(
    _plain,
    st.sampled_from([Ref("a"), Ref("count"), Ref("spin"), Ref("rw")]),
    st.builds(IndexReturns, _nested),
    st.just(IndexRaises()),
    st.builds(IndexTouchesTarget, _plain_ints),
    st.builds(IndexTriesLocks, _plain_ints),
    st.builds(SlowIndex, _plain_ints),
    st.builds(FloatReturns, st.one_of(st.floats(), st.none(), st.integers(-2, 2), st.text(max_size=1))),
    st.builds(BoolReturns, st.one_of(st.booleans(), st.none(), st.integers(-1, 2))),
    st.tuples(st.just("odd-int"), _plain_ints),
    st.builds(Updater, st.sampled_from(["value", "raise", "meddle"]), _nested),
)


# --- operations -----------------------------------------------------------
# Each takes (env, x, y) with x, y resolved arguments.  Those that acquire a
# lock release it before returning (a hold never outlives its operation), so
# any blocking acquire waits at most for another thread's short hold: the
# program cannot deadlock however the operations interleave.


def check_int64(v):
    assert type(v) is int and I64_MIN <= v <= I64_MAX, v
    return v


def inside(env, x):
    """What an operation does while holding a lock: touch the target."""
    check_int64(env.a.exchange(x if type(x) is int else 7))


def scoped(acquire, release, env, x):
    got = acquire()
    assert type(got) is bool, got
    if got:
        try:
            inside(env, x)
        finally:
            release()


def op_update(env, x, y):
    fn = x if callable(x) else Updater("value", x)
    check_int64(env.a.update(fn))


# Python int arithmetic whose result can grow without bound (2 ** a, x << a,
# "text" * a) would spend minutes or gigabytes on a large value; these slots
# get an AtomicInt holding a small copy, and a small exponent, instead.
EXPLOSIVE = {"mul", "pow", "lshift"}


def small_operands(a, x):
    try:  # ints, int subclasses and anything with an __index__
        big = not -64 <= operator.index(x) <= 64
    except Exception:  # it raises again when the slot converts it
        big = False
    return AtomicInt(a.load() & 0xFF), (3 if big else x)


def op_inplace(opname):
    explosive = opname[1:] in EXPLOSIVE

    def op(env, x, y):
        # Atomic in place (the name still refers to env.a afterwards), or
        # refused with TypeError, or x's reflected method decides.
        a = env.a
        if explosive:
            a, x = small_operands(a, x)
        getattr(operator, opname)(a, x)

    op.__name__ = f"op_{opname}"
    return op


def op_binary(name, reflected):
    fn = getattr(operator, name) if hasattr(operator, name) else divmod
    explosive = name in EXPLOSIVE

    def op(env, x, y):
        a = env.a
        if explosive:
            a, x = small_operands(a, x)
        if reflected:
            fn(x, a)
        else:
            fn(a, x)

    op.__name__ = f"op_{'r' if reflected else ''}{name}"
    return op


def op_spin_with(env, x, y):
    with env.spin:
        inside(env, x)


def op_rw_read_ctx(env, x, y):
    with env.rw.read(y):
        inside(env, x)


def op_rw_write_ctx(env, x, y):
    with env.rw.write(y):
        inside(env, x)


def op_rw_write_downgrade(env, x, y):
    if env.rw.acquire_write(True, 0.05):
        env.rw.downgrade()
        try:
            assert env.rw.readers >= 1
            inside(env, x)
        finally:
            env.rw.release_read()


def op_pickle(env, x, y):
    clone = pickle.loads(pickle.dumps(env.a, protocol=x if type(x) is int else 4))
    assert type(clone) is AtomicInt
    check_int64(clone.load())


OPS = [
    # construction
    lambda env, x, y: check_int64(AtomicInt(x).load()),
    lambda env, x, y: AtomicInt(value=x),
    lambda env, x, y: AtomicInt(x, y),
    lambda env, x, y: SpinLock(x),
    lambda env, x, y: RWLock(x),
    # AtomicInt methods
    lambda env, x, y: check_int64(env.a.load()),
    lambda env, x, y: env.a.load(x),
    lambda env, x, y: env.a.store(x),
    lambda env, x, y: env.a.store(value=x),
    lambda env, x, y: check_int64(env.a.exchange(x)),
    lambda env, x, y: env.a.compare_exchange(x, y),
    lambda env, x, y: env.a.compare_exchange(x),
    lambda env, x, y: check_int64(env.a.fetch_add(x)),
    lambda env, x, y: check_int64(env.a.fetch_sub(x)),
    lambda env, x, y: check_int64(env.a.fetch_and(x)),
    lambda env, x, y: check_int64(env.a.fetch_or(x)),
    lambda env, x, y: check_int64(env.a.fetch_xor(x)),
    lambda env, x, y: check_int64(env.a.fetch_max(x)),
    lambda env, x, y: check_int64(env.a.fetch_min(x)),
    lambda env, x, y: check_int64(env.a.add(x)),
    lambda env, x, y: check_int64(env.a.sub(x)),
    lambda env, x, y: check_int64(env.a.inc()),
    lambda env, x, y: check_int64(env.a.dec()),
    lambda env, x, y: env.a.inc(x),
    op_update,
    lambda env, x, y: env.a.update(x),
    lambda env, x, y: env.a.wait(x, y),
    lambda env, x, y: env.a.wait(x, timeout=y),
    lambda env, x, y: env.a.wait(check_int64(env.a.load()) ^ 1, y),
    lambda env, x, y: env.a.notify_one(),
    lambda env, x, y: env.a.notify_all(),
    lambda env, x, y: env.a.notify_all(x),
    # AtomicInt operator slots
    *[
        op_inplace(n)
        for n in ("iadd", "isub", "iand", "ior", "ixor", "imul", "ifloordiv", "imod", "ilshift", "ipow")
    ],
    *[
        op_binary(n, r)
        for n in (
            "add",
            "sub",
            "mul",
            "floordiv",
            "truediv",
            "mod",
            "and_",
            "or_",
            "xor",
            "lshift",
            "rshift",
            "pow",
            "matmul",
            "divmod",
        )
        for r in (False, True)
    ],
    *[op_binary(n, r) for n in ("lt", "le", "eq", "ne", "gt", "ge") for r in (False, True)],
    lambda env, x, y: pow(env.a, x, 7 if y is None else y),  # modular: fast for any exponent
    lambda env, x, y: -env.a,
    lambda env, x, y: check_int64(+env.a),
    lambda env, x, y: abs(env.a),
    lambda env, x, y: check_int64(~env.a),
    lambda env, x, y: check_int64(int(env.a)),
    lambda env, x, y: check_int64(operator.index(env.a)),
    lambda env, x, y: float(env.a),
    lambda env, x, y: complex(env.a),
    lambda env, x, y: bool(env.a),
    lambda env, x, y: round(env.a, _bounded_ndigits(x)),
    lambda env, x, y: math.floor(env.a),
    lambda env, x, y: hash(env.a),
    lambda env, x, y: format(env.a, x),
    lambda env, x, y: format(env.a, x if isinstance(x, str) else ""),
    lambda env, x, y: (repr(env.a), str(env.a), f"{env.a!r:>30}"),
    lambda env, x, y: range(env.a.load() & 0xFFFF)[env.a.load() & 7 : x if type(x) is int else None],
    lambda env, x, y: copy.copy(env.a),
    lambda env, x, y: copy.deepcopy(env.a),
    lambda env, x, y: env.a.__deepcopy__(x),
    lambda env, x, y: env.a.__reduce_ex__(x),
    op_pickle,
    lambda env, x, y: setattr(env.a, "value", x),
    lambda env, x, y: getattr(env.a, x if isinstance(x, str) else "nope"),
    # SpinLock
    lambda env, x, y: scoped(lambda: env.spin.acquire(x, y), env.spin.release, env, x),
    lambda env, x, y: scoped(lambda: env.spin.acquire(blocking=x), env.spin.release, env, x),
    lambda env, x, y: scoped(lambda: env.spin.acquire(timeout=y), env.spin.release, env, x),
    lambda env, x, y: env.spin.acquire(x, y, None),
    lambda env, x, y: env.spin.release(),  # misuse, or another thread's hold
    lambda env, x, y: env.spin.release(x),
    lambda env, x, y: bool(env.spin.locked()),
    op_spin_with,
    lambda env, x, y: env.spin.__exit__(x, y, None),
    # RWLock
    lambda env, x, y: scoped(lambda: env.rw.acquire_read(x, y), env.rw.release_read, env, x),
    lambda env, x, y: scoped(lambda: env.rw.acquire_write(x, y), env.rw.release_write, env, x),
    lambda env, x, y: scoped(lambda: env.rw.reader.acquire(x, y), env.rw.reader.release, env, x),
    lambda env, x, y: scoped(lambda: env.rw.writer.acquire(x, y), env.rw.writer.release, env, x),
    lambda env, x, y: scoped(lambda: env.rw.acquire_read(blocking=x), env.rw.release_read, env, x),
    lambda env, x, y: scoped(lambda: env.rw.acquire_write(timeout=y), env.rw.release_write, env, x),
    op_rw_read_ctx,
    op_rw_write_ctx,
    op_rw_write_downgrade,
    lambda env, x, y: env.rw.read(x, y),
    lambda env, x, y: env.rw.write(timeout=x, blocking=y),
    lambda env, x, y: env.rw.release_read(),
    lambda env, x, y: env.rw.release_write(),
    lambda env, x, y: env.rw.reader.release(),
    lambda env, x, y: env.rw.downgrade(),
    lambda env, x, y: env.rw.downgrade(x),
    lambda env, x, y: (env.rw.readers, env.rw.write_locked, env.rw.reader.locked(), env.rw.writer.locked()),
    lambda env, x, y: env.rw.writer.__exit__(x, y, None),
    lambda env, x, y: env.rw.reader.rwlock is env.rw,
    # optimistic reads: any object as a stamp; a stamp taken and validated
    lambda env, x, y: env.rw.validate(x),
    lambda env, x, y: env.rw.validate(env.rw.optimistic_read()) in (True, False),
    lambda env, x, y: env.rw.optimistic_read(x),
    # a lock that dies while held
    lambda env, x, y: SpinLock().acquire(),
    lambda env, x, y: RWLock().acquire_write(),
    lambda env, x, y: RWLock().acquire_read(),
]

STEP = st.tuples(st.integers(0, len(OPS) - 1), ARGS, ARGS)
PROGRAM = st.lists(st.lists(STEP, min_size=1, max_size=10), min_size=THREADS, max_size=THREADS)


def describe(step):
    index, x, y = step
    op = OPS[index]
    name = op.__name__ if op.__name__ != "<lambda>" else f"OPS[{index}]"
    return f"{name}(x={x!r}, y={y!r})"


def run_program(program) -> list[str]:
    """Run one list of steps per thread, all at once; return the problems seen."""
    global _ENV
    env = _ENV = Env()
    problems: list[str] = []
    start = threading.Barrier(len(program) + 1)
    stop_nudging = threading.Event()

    def nudger():
        # Keeps AtomicInt.wait() from blocking for good: flip a bit and
        # notify until the workers are done (wait returns once the value
        # differs from the expected one).
        start.wait()
        while not stop_nudging.wait(0.002):
            env.a.fetch_xor(1)
            env.a.notify_all()

    def worker(steps):
        start.wait()
        for step in steps:
            index, x, y = step
            try:
                OPS[index](env, resolve(x), resolve(y))
            except ALLOWED:
                pass
            except BaseException:
                problems.append(f"{describe(step)} raised:\n{traceback.format_exc()}")
            env.count.inc()

    threads = [threading.Thread(target=worker, args=(steps,), daemon=True) for steps in program]
    threads.append(threading.Thread(target=nudger, daemon=True))
    for t in threads:
        t.start()
    deadline = time.monotonic() + HANG_LIMIT_S
    for t in threads[:-1]:
        t.join(max(0.0, deadline - time.monotonic()))
    stop_nudging.set()
    threads[-1].join(10)
    if any(t.is_alive() for t in threads):
        problems.append(f"HANG: threads still running after {HANG_LIMIT_S} s")
        return problems

    # Consistency afterwards: every hold ended with its operation.
    expected = sum(len(steps) for steps in program)
    if env.count.load() != expected:
        problems.append(f"counter {env.count.load()} != {expected} operations")
    check_int64(env.a.load())
    if env.spin.locked() or not env.spin.acquire(False):
        problems.append("SpinLock still held after every hold ended")
    else:
        env.spin.release()
    if env.rw.readers != 0 or env.rw.write_locked:
        problems.append(f"RWLock still held: readers={env.rw.readers} write_locked={env.rw.write_locked}")
    elif not env.rw.acquire_write(False):
        problems.append("RWLock free by its observers but the write lock cannot be taken")
    else:
        env.rw.release_write()
    return problems


# No max_examples: the profile's (tests/conftest.py).
FUZZ_SETTINGS = settings(
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


@FUZZ_SETTINGS
@given(PROGRAM)
def test_fuzz_all_slots_from_several_threads(program):
    problems = run_program(program)
    if problems:
        steps = "\n".join(
            f"  thread {i}: " + "; ".join(describe(s) for s in steps) for i, steps in enumerate(program)
        )
        pytest.fail("\n".join(problems) + "\nprogram:\n" + steps)


def test_fuzz_harness_catches_an_unexpected_exception():
    """The harness is not blind: a SystemError (what a C slot that returns a
    result with an exception set produces) is reported, not swallowed."""

    def bad(env, x, y):
        raise SystemError("returned a result with an exception set")

    OPS.append(bad)
    try:
        problems = run_program([[(len(OPS) - 1, 0, 0)], [], []])
    finally:
        OPS.pop()
    assert len(problems) == 1 and "SystemError" in problems[0]


def test_fuzz_harness_checks_consistency():
    """...and a lock left held by an operation is reported."""

    OPS.append(lambda env, x, y: env.spin.acquire())
    try:
        problems = run_program([[(len(OPS) - 1, 0, 0)], [], []])
    finally:
        OPS.pop()
    assert any("SpinLock still held" in p for p in problems)
