"""The cases of test_alloc_failure.py, run in a child process (a crash there
must fail a test, not kill pytest).  Not a test module itself.

For each case, for n = 0, 1, 2, ...: a fresh object is set up, then the call
runs with the n-th memory allocation from the start of the call failing
(CPython's `_testcapi.set_nomemory(n, n + 1)`: every domain, raw, mem and
object), the hooks are removed, and the outcome and the object's state are
checked: MemoryError with the state as before the call (no lock held, no
count changed), or the documented result with the documented state.  Any
other exception (a SystemError from a NULL returned without an exception, an
exception set under a result...) fails the case.

When did the injected failure hit?  Right after the call, still armed, the
child makes 60 allocations of its own (a bytearray each: the object and its
buffer, 120 allocations and more), and the one that fails is caught there.
If none of them fails, the failure hit inside the call.  A case is done at
the first n where the call succeeds and the failure hit only afterwards: the
call made fewer than n allocations, so every one of them has been failed once.
A call that succeeds although its allocation failed (it handled the error
itself) is recorded as "absorbed" and the stepping goes on.

Protocol (stdout, one JSON object a line): {"start": name} before a case,
{"case": name, ...result} after it.  argv: the names of the cases to run.
"""

from __future__ import annotations

import copy
import faulthandler
import gc
import json
import os
import platform
import sys
import sysconfig
import threading
import time

from pyatomics import AtomicInt, RWLock, SpinLock, sync

CAP = 120  # the largest n tried; a case that needs more fails, saying so
PROBES = 60


class Outcome:
    __slots__ = ("kind", "value", "exc")

    def __init__(self, kind, value=None, exc=None):
        self.kind, self.value, self.exc = kind, value, exc  # kind: "ok", "memerr", "exc"


def armed(n, call, ctx):
    """call(ctx) with the n-th allocation failing; (Outcome, hit_in_call).
    Nothing here allocates between the call and the probes (locals only, the
    small ints of the loop are cached): what the probes see is what the call
    left of the failure."""
    import _testcapi

    set_nomemory, remove = _testcapi.set_nomemory, _testcapi.remove_mem_hooks
    hit_after = False
    kind, value, exc = "ok", None, None
    set_nomemory(n, n + 1)
    try:
        try:
            value = call(ctx)
        except MemoryError:
            kind = "memerr"
        except BaseException as e:  # noqa: BLE001 - reported by the check
            kind, exc = "exc", e
        i = 0
        while i < PROBES:
            try:
                bytearray(16)
            except MemoryError:
                hit_after = True
            i += 1
    finally:
        remove()
    return Outcome(kind, value, exc), not hit_after


# ---------------------------------------------------------------------------
# State checks
# ---------------------------------------------------------------------------


def spin_free(lock):
    assert lock.locked() is False, "SpinLock left locked"
    assert lock.acquire(False) is True, "SpinLock cannot be acquired"
    lock.release()
    assert lock.locked() is False


def spin_held(lock):
    """Held (by nobody in particular: SpinLock has no owner); released here."""
    assert lock.locked() is True, "SpinLock not locked"
    assert lock.acquire(False) is False
    lock.release()
    spin_free(lock)


def rw_free(rw):
    assert rw.readers == 0, f"readers == {rw.readers}"
    assert rw.write_locked is False, "left write-locked"
    assert rw.reader.locked() is False and rw.writer.locked() is False
    assert rw.acquire_write(False) is True, "write lock cannot be had"
    rw.release_write()
    assert rw.acquire_read(False) is True, "read lock cannot be had"
    assert rw.readers == 1
    rw.release_read()
    assert rw.readers == 0


def rw_read_held(rw, count=1):
    """This thread holds `count` read holds; released here."""
    assert rw.readers == count, f"readers == {rw.readers}, expected {count}"
    assert rw.write_locked is False
    for _ in range(count):
        rw.release_read()
    rw_free(rw)


def rw_write_held(rw):
    """This thread holds the write lock; released here."""
    assert rw.write_locked is True, "write lock not held"
    assert rw.readers == 0
    rw.release_write()
    rw_free(rw)


# ---------------------------------------------------------------------------
# Cases: name -> (setup() -> ctx, call(ctx) -> value, check(ctx, outcome))
# check raises AssertionError on a wrong state or a wrong outcome.
# ---------------------------------------------------------------------------

CASES: dict = {}
NOTES: set = set()  # what the checks of the current case saw along the way
IN_THREAD: set = set()


def case(name, setup, call, check, in_thread=False):
    assert name not in CASES, name
    CASES[name] = (setup, call, check)
    if in_thread:
        IN_THREAD.add(name)


# CPython 3.11's own refusals lose their exception when making it fails:
# threading.Lock().release() on an unlocked lock, `1 // 0` and
# (2**64).to_bytes(1, "big") raise this SystemError at some n of the same
# stepping (the "control:" case below shows it for threading.Lock).
# Where a call raises by design, it is the interpreter's, not the binding's.
INTERPRETER_LOST_EXCEPTION = ("error return without exception set", "returned NULL without setting an exception")


def lost_exception(out):
    return (out.kind == "exc" and type(out.exc) is SystemError
            and any(s in str(out.exc) for s in INTERPRETER_LOST_EXCEPTION))


def expect_exc(out, exc_type):
    """The call must raise exc_type (or MemoryError before getting there)."""
    if out.kind == "exc" and (isinstance(out.exc, exc_type) or lost_exception(out)):
        return
    assert out.kind == "memerr", f"expected {exc_type.__name__} or MemoryError, got {describe(out)}"


def describe(out):
    if out.kind == "exc":
        return f"{type(out.exc).__name__}: {out.exc}"
    return out.kind if out.kind == "memerr" else f"ok {out.value!r}"


def ok_or_memerr(out):
    assert out.kind in ("ok", "memerr"), f"unexpected {describe(out)}"
    return out.kind == "ok"


# --- AtomicInt --------------------------------------------------------------


def _ai_constructor(name, args, value):
    def check(ctx, out):
        if ok_or_memerr(out):
            assert type(out.value) is AtomicInt and out.value.load() == value

    case(name, lambda: None, lambda ctx: AtomicInt(*args), check)


_ai_constructor("AtomicInt()", (), 0)
_ai_constructor("AtomicInt(7)", (7,), 7)
_ai_constructor("AtomicInt(2**40)", (2**40,), 2**40)
_ai_constructor("AtomicInt(-2**63)", (-(2**63),), -(2**63))


def _ai_op(label, init, method, args, result, after, result_allocates=False):
    """a = AtomicInt(init); a.method(*args) returns `result` and leaves
    `after`; on MemoryError the value is `init` -- or, where the result is a
    new int object (result_allocates: made after the atomic operation, from
    its outcome), possibly `after`: the operation was done and only its
    result could not be made, which no binding can undo."""

    def check(a, out):
        if ok_or_memerr(out):
            if result is not None or out.value is not None:
                if callable(result):
                    assert result(out.value, a), f"{method}: result {out.value!r}"
                else:
                    assert out.value == result, f"{method}: result {out.value!r}, expected {result!r}"
            assert a.load() == after, f"{method}: value {a.load()}, expected {after}"
        else:
            allowed = (init, after) if result_allocates else (init,)
            assert a.load() in allowed, f"{method} raised MemoryError and left {a.load()} (allowed {allowed})"
            if a.load() != init:
                NOTES.add("done, result lost")

    case(f"AtomicInt.{label}", lambda: AtomicInt(init), lambda a: getattr(a, method)(*args), check)


SMALL = 12  # results stay in the small-int cache: making them allocates nothing
BIG = 2**40
for init, tag, big in ((SMALL, "", False), (BIG, " big", True)):
    k = 3 if not big else 2**41
    _ai_op(f"load(){tag}", init, "load", (), init, init, big)
    _ai_op(f"store(){tag}", init, "store", (k,), None, k)
    _ai_op(f"exchange(){tag}", init, "exchange", (k,), init, k, big)
    _ai_op(f"compare_exchange(hit){tag}", init, "compare_exchange", (init, k), True, k)
    _ai_op(f"compare_exchange(miss){tag}", init, "compare_exchange", (init + 1, k), False, init)
    _ai_op(f"fetch_add(){tag}", init, "fetch_add", (k,), init, init + k, big)
    _ai_op(f"fetch_sub(){tag}", init, "fetch_sub", (k,), init, init - k, big)
    _ai_op(f"fetch_and(){tag}", init, "fetch_and", (k | 4,), init, init & (k | 4), big)
    _ai_op(f"fetch_or(){tag}", init, "fetch_or", (k,), init, init | k, big)
    _ai_op(f"fetch_xor(){tag}", init, "fetch_xor", (k,), init, init ^ k, big)
    _ai_op(f"fetch_max(){tag}", init, "fetch_max", (k * 5,), init, max(init, k * 5), big)
    _ai_op(f"fetch_min(){tag}", init, "fetch_min", (k,), init, min(init, k), big)
    _ai_op(f"add(){tag}", init, "add", (k,), init + k, init + k, big)
    _ai_op(f"sub(){tag}", init, "sub", (k,), init - k, init - k, big)
    _ai_op(f"inc(){tag}", init, "inc", (), init + 1, init + 1, big)
    _ai_op(f"dec(){tag}", init, "dec", (), init - 1, init - 1, big)
    _ai_op(f"update(){tag}", init, "update", (lambda v: v * 2,), init * 2, init * 2, True)
    _ai_op(f"wait(other){tag}", init, "wait", (init + 1,), True, init)
    _ai_op(f"wait(same, timeout){tag}", init, "wait", (init, 0.001), False, init)
    _ai_op(f"notify_one(){tag}", init, "notify_one", (), None, init)
    _ai_op(f"notify_all(){tag}", init, "notify_all", (), None, init)
    for op, f in (("iadd", lambda a, b: a + b), ("isub", lambda a, b: a - b), ("iand", lambda a, b: a & b),
                  ("ior", lambda a, b: a | b), ("ixor", lambda a, b: a ^ b)):
        _ai_op(f"__{op}__(){tag}", init, f"__{op}__", (k,), lambda v, a: v is a, f(init, k))
    for op in ("add", "radd", "sub", "rsub", "mul", "rmul", "floordiv", "truediv", "mod", "and", "or",
               "xor", "lshift", "rshift", "lt", "le", "gt", "ge", "eq", "ne"):
        expected = getattr(int, f"__{op}__")(init, 3)
        _ai_op(f"__{op}__(){tag}", init, f"__{op}__", (3,), expected, init)
    for op in ("neg", "pos", "abs", "invert", "int", "index", "float", "bool", "str"):
        _ai_op(f"__{op}__(){tag}", init, f"__{op}__", (), getattr(int, f"__{op}__")(init), init)
    _ai_op(f"__format__(){tag}", init, "__format__", ("05d",), format(init, "05d"), init)
    _ai_op(f"__repr__(){tag}", init, "__repr__", (), f"AtomicInt({init})", init)

    def same_value(v, a, init=init):
        return type(v) is AtomicInt and v is not a and v.load() == init

    _ai_op(f"__copy__(){tag}", init, "__copy__", (), same_value, init)
    _ai_op(f"__deepcopy__(){tag}", init, "__deepcopy__", ({},), same_value, init)
    _ai_op(f"__reduce_ex__(){tag}", init, "__reduce_ex__", (2,), lambda v, a, i=init: v[1] == (i,), init)

case("AtomicInt.__imul__() refused", lambda: AtomicInt(5), lambda a: a.__imul__(2),
     lambda a, out: (expect_exc(out, TypeError), a.load() == 5 or _fail("value changed")))
case("AtomicInt.store(2**64) refused", lambda: AtomicInt(5), lambda a: a.store(2**64),
     lambda a, out: (expect_exc(out, OverflowError), a.load() == 5 or _fail("value changed")))
case("AtomicInt.fetch_add() overflow refused", lambda: AtomicInt(2**63 - 1), lambda a: a.fetch_add(1),
     lambda a, out: (expect_exc(out, OverflowError), a.load() == 2**63 - 1 or _fail("value changed")))
case("AtomicInt.update() func raises", lambda: AtomicInt(5), lambda a: a.update(lambda v: 1 // 0),
     lambda a, out: (expect_exc(out, ZeroDivisionError), a.load() == 5 or _fail("value changed")))
case("copy.copy(AtomicInt)", lambda: AtomicInt(9), copy.copy,
     lambda a, out: (not ok_or_memerr(out) or out.value.load() == 9, a.load() == 9 or _fail("value changed")))
# No pickle.dumps/loads round trip: that steps through CPython's pickle and
# import machinery, and on 3.13t it leaves the interpreter hanging at exit
# (a Fraction does the same); __reduce_ex__ above is pyatomics' part of it.


def _fail(msg):
    raise AssertionError(msg)


# --- SpinLock ---------------------------------------------------------------


def _held_spin():
    lock = SpinLock()
    lock.acquire()
    return lock


def _spin_check_acquired(lock, out):
    if ok_or_memerr(out):
        assert out.value is True, describe(out)
        spin_held(lock)
    else:
        spin_free(lock)


def _spin_check_refused(lock, out):
    # A held lock stays held whatever the outcome (False, or MemoryError).
    if ok_or_memerr(out):
        assert out.value is False, describe(out)
    spin_held(lock)


case("SpinLock()", lambda: None, lambda ctx: SpinLock(),
     lambda ctx, out: ok_or_memerr(out) and spin_free(out.value))
case("SpinLock.acquire()", SpinLock, lambda lk: lk.acquire(), _spin_check_acquired)
case("SpinLock.acquire(False)", SpinLock, lambda lk: lk.acquire(False), _spin_check_acquired)
case("SpinLock.acquire(blocking=False)", SpinLock, lambda lk: lk.acquire(blocking=False), _spin_check_acquired)
case("SpinLock.acquire(timeout=0.5)", SpinLock, lambda lk: lk.acquire(timeout=0.5), _spin_check_acquired)
case("SpinLock.acquire(True, 0.5)", SpinLock, lambda lk: lk.acquire(True, 0.5), _spin_check_acquired)
case("SpinLock.__enter__()", SpinLock, lambda lk: lk.__enter__(), _spin_check_acquired)
case("SpinLock.acquire(False) held", _held_spin, lambda lk: lk.acquire(False), _spin_check_refused)
case("SpinLock.acquire(timeout=0.001) held", _held_spin, lambda lk: lk.acquire(timeout=0.001),
     _spin_check_refused)


def _spin_check_released(lock, out):
    if ok_or_memerr(out):
        assert out.value is None
        spin_free(lock)
    else:
        spin_held(lock)


case("SpinLock.release()", _held_spin, lambda lk: lk.release(), _spin_check_released)
case("SpinLock.__exit__()", _held_spin, lambda lk: lk.__exit__(None, None, None), _spin_check_released)
case("SpinLock.release() unheld", SpinLock, lambda lk: lk.release(),
     lambda lk, out: (expect_exc(out, RuntimeError), spin_free(lk)))


def _with_spin(lk):
    with lk:
        pass


case("with SpinLock", SpinLock, _with_spin, lambda lk, out: (ok_or_memerr(out), spin_free(lk)))
case("SpinLock.locked()", _held_spin, lambda lk: lk.locked(),
     lambda lk, out: (not ok_or_memerr(out) or out.value is True or _fail("wrong"), spin_held(lk)))
case("repr(SpinLock)", _held_spin, repr,
     lambda lk, out: (not ok_or_memerr(out) or "locked" in out.value or _fail(out.value), spin_held(lk)))
case("SpinLock._at_fork_reinit()", _held_spin, lambda lk: lk._at_fork_reinit(),
     lambda lk, out: spin_free(lk) if ok_or_memerr(out) else spin_held(lk))


# --- RWLock -----------------------------------------------------------------


def _rw_write_held():
    rw = RWLock()
    rw.acquire_write()
    return rw


def _rw_read_held():
    rw = RWLock()
    rw.acquire_read()
    return rw


def _rw_check_read(rw, out, expected=True):
    if ok_or_memerr(out):
        assert out.value is expected or (expected == "self" and out.value is not None), describe(out)
        rw_read_held(rw)
    else:
        rw_free(rw)


def _rw_check_write(rw, out, expected=True):
    if ok_or_memerr(out):
        assert out.value is expected or (expected == "self" and out.value is not None), describe(out)
        rw_write_held(rw)
    else:
        rw_free(rw)


def _rw_check_new(ctx, out):
    if ok_or_memerr(out):
        rw = out.value
        rw_free(rw)
        assert rw.reader.rwlock is rw and rw.writer.rwlock is rw
        with rw.read(1):
            assert rw.readers == 1
        with rw.write(1):
            assert rw.write_locked
        rw_free(rw)


case("RWLock()", lambda: None, lambda ctx: RWLock(), _rw_check_new)


def _rw_check_handle(rw, out):
    # MemoryError: nothing changed (a half-made handle, views missing, is freed); else the
    # handle is the same lock, with views of its own.
    rw_free(rw)
    if ok_or_memerr(out):
        h = out.value
        assert type(h).__name__ == "RWLockHandle" and h._root is rw, describe(out)
        assert h.reader.rwlock is h and h.writer.rwlock is h
        with h.read(1):
            assert rw.readers == 1
        with h.writer:
            assert rw.write_locked
        rw_free(rw)


def _ai_check_handle(a, out):
    assert a.load() == 5
    if ok_or_memerr(out):
        h = out.value
        assert h._root is a, describe(out)
        h.inc()
        assert a.load() == 6


case("RWLock.handle()", RWLock, lambda rw: rw.handle(), _rw_check_handle)
case("RWLock.handle().handle()", lambda: RWLock().handle(), lambda h: h.handle(),
     lambda h, out: _rw_check_handle(h._root, out))
case("AtomicInt.handle()", lambda: AtomicInt(5), lambda a: a.handle(), _ai_check_handle)
for side, check in (("read", _rw_check_read), ("write", _rw_check_write)):
    for label, call in (
        ("()", lambda rw, s=side: getattr(rw, f"acquire_{s}")()),
        ("(False)", lambda rw, s=side: getattr(rw, f"acquire_{s}")(False)),
        ("(timeout=0.5)", lambda rw, s=side: getattr(rw, f"acquire_{s}")(timeout=0.5)),
    ):
        case(f"RWLock.acquire_{side}{label}", RWLock, call, check)
        case(f"RWLock.acquire_{side}{label} new thread", RWLock, call, check, in_thread=True)
    view = "reader" if side == "read" else "writer"
    case(f"RWLock.{view}.acquire()", RWLock, lambda rw, v=view: getattr(rw, v).acquire(), check)
    case(f"RWLock.{view}.acquire(timeout=0.5)", RWLock, lambda rw, v=view: getattr(rw, v).acquire(timeout=0.5),
         check)
    case(f"RWLock.{view}.__enter__()", RWLock, lambda rw, v=view: getattr(rw, v).__enter__(), check)
    case(f"RWLock.{side}(0.5).__enter__()", RWLock, lambda rw, s=side: getattr(rw, s)(0.5).__enter__(),
         lambda rw, out, c=check: c(rw, out, "self"))
    case(f"RWLock.{side}(0.5).__enter__() new thread", RWLock,
         lambda rw, s=side: getattr(rw, s)(0.5).__enter__(), lambda rw, out, c=check: c(rw, out, "self"),
         in_thread=True)


def _rw_check_released(held_check):
    def check(rw, out):
        if ok_or_memerr(out):
            rw_free(rw)
        else:
            held_check(rw)

    return check


case("RWLock.release_read()", _rw_read_held, lambda rw: rw.release_read(), _rw_check_released(rw_read_held))
case("RWLock.release_write()", _rw_write_held, lambda rw: rw.release_write(), _rw_check_released(rw_write_held))
case("RWLock.reader.release()", _rw_read_held, lambda rw: rw.reader.release(), _rw_check_released(rw_read_held))
case("RWLock.writer.release()", _rw_write_held, lambda rw: rw.writer.release(),
     _rw_check_released(rw_write_held))
case("RWLock.reader.__exit__()", _rw_read_held, lambda rw: rw.reader.__exit__(None, None, None),
     _rw_check_released(rw_read_held))
case("RWLock.writer.__exit__()", _rw_write_held, lambda rw: rw.writer.__exit__(None, None, None),
     _rw_check_released(rw_write_held))


def _guard_exit(side):
    def setup():
        rw = RWLock()
        g = getattr(rw, side)(0.5)
        g.__enter__()
        return rw, g

    def check(ctx, out):
        rw, _ = ctx
        _rw_check_released(rw_read_held if side == "read" else rw_write_held)(rw, out)

    case(f"RWLock.{side}(0.5).__exit__()", setup, lambda ctx: ctx[1].__exit__(None, None, None), check)


_guard_exit("read")
_guard_exit("write")
case("RWLock.release_read() unheld", RWLock, lambda rw: rw.release_read(),
     lambda rw, out: (expect_exc(out, RuntimeError), rw_free(rw)))
case("RWLock.release_write() unheld", RWLock, lambda rw: rw.release_write(),
     lambda rw, out: (expect_exc(out, RuntimeError), rw_free(rw)))
case("RWLock.acquire_write() while reading refused", _rw_read_held, lambda rw: rw.acquire_write(),
     lambda rw, out: (expect_exc(out, RuntimeError), rw_read_held(rw)))
case("RWLock.acquire_read() while writing refused", _rw_write_held, lambda rw: rw.acquire_read(),
     lambda rw, out: (expect_exc(out, RuntimeError), rw_write_held(rw)))
case("RWLock.writer.acquire(False) while writing refused", _rw_write_held, lambda rw: rw.writer.acquire(False),
     lambda rw, out: (expect_exc(out, RuntimeError), rw_write_held(rw)))


def _check_downgraded(rw, out):
    if ok_or_memerr(out):
        rw_read_held(rw)
    else:
        rw_write_held(rw)


case("RWLock.downgrade()", _rw_write_held, lambda rw: rw.downgrade(), _check_downgraded)
case("RWLock.downgrade() new thread", _rw_write_held, lambda rw: rw.downgrade(), _check_downgraded,
     in_thread=True)
case("RWLock.downgrade() unheld", RWLock, lambda rw: rw.downgrade(),
     lambda rw, out: (expect_exc(out, RuntimeError), rw_free(rw)))


# Optimistic reads: the stamp is an int the binding makes (past 256 write
# sections, a new object); validate()'s refusal formats its message.
def _rw_many_sections():
    rw = RWLock()
    for _ in range(300):
        with rw.writer:
            pass
    return rw


def _check_stamp(rw, out):
    if ok_or_memerr(out):
        assert type(out.value) is int and rw.validate(out.value) is True, describe(out)
    rw_free(rw)


case("RWLock.optimistic_read()", _rw_many_sections, lambda rw: rw.optimistic_read(), _check_stamp)


def _check_result(expected):
    def check(rw, out):
        if ok_or_memerr(out):
            assert out.value is expected, describe(out)
        rw_free(rw)

    return check


case("RWLock.validate(stamp)", _rw_many_sections, lambda rw: rw.validate(rw.optimistic_read()),
     _check_result(True))
case("RWLock.validate(2**64)", RWLock, lambda rw: rw.validate(2**64), _check_result(False))
case("RWLock.validate('x')", RWLock, lambda rw: rw.validate("x"),
     lambda rw, out: (expect_exc(out, TypeError), rw_free(rw)))


def _with(ctx_of):
    def call(rw):
        with ctx_of(rw):
            pass

    return call


def _with_downgrade(rw):
    with rw.write(0.5):
        rw.downgrade()


def _with_writer_downgrade(rw):
    with rw.writer:
        rw.downgrade()


for label, fn in (
    ("with RWLock.reader", _with(lambda rw: rw.reader)),
    ("with RWLock.writer", _with(lambda rw: rw.writer)),
    ("with RWLock.read()", _with(lambda rw: rw.read())),
    ("with RWLock.write()", _with(lambda rw: rw.write())),
    ("with RWLock.read(0.5)", _with(lambda rw: rw.read(0.5))),
    ("with RWLock.write(0.5)", _with(lambda rw: rw.write(timeout=0.5))),
    ("with RWLock.write(0.5) + downgrade", _with_downgrade),
    ("with RWLock.writer + downgrade", _with_writer_downgrade),
):
    case(label, RWLock, fn, lambda rw, out: (ok_or_memerr(out), rw_free(rw)))
    case(f"{label} new thread", RWLock, fn, lambda rw, out: (ok_or_memerr(out), rw_free(rw)), in_thread=True)


def _rw_query(label, setup, call, expected, after):
    def check(rw, out):
        if ok_or_memerr(out):
            if callable(expected):
                assert expected(out.value, rw), f"{label}: {out.value!r}"
            else:
                assert out.value == expected, f"{label}: {out.value!r}, expected {expected!r}"
        after(rw)

    case(label, setup, call, check)


_rw_query("RWLock.reader", RWLock, lambda rw: rw.reader, lambda v, rw: v is rw.reader, rw_free)
_rw_query("RWLock.writer", RWLock, lambda rw: rw.writer, lambda v, rw: v is rw.writer, rw_free)
_rw_query("RWLock.read()", RWLock, lambda rw: rw.read(), lambda v, rw: v is rw.reader, rw_free)
_rw_query("RWLock.write()", RWLock, lambda rw: rw.write(), lambda v, rw: v is rw.writer, rw_free)
_rw_query("RWLock.read(0.5)", RWLock, lambda rw: rw.read(0.5), lambda v, rw: type(v).__name__ == "RWLockGuard",
          rw_free)
_rw_query("RWLock.write(timeout=0.5)", RWLock, lambda rw: rw.write(timeout=0.5),
          lambda v, rw: type(v).__name__ == "RWLockGuard", rw_free)
_rw_query("RWLock.readers", _rw_read_held, lambda rw: rw.readers, 1, rw_read_held)
_rw_query("RWLock.write_locked", _rw_write_held, lambda rw: rw.write_locked, True, rw_write_held)
_rw_query("RWLock.reader.locked()", _rw_read_held, lambda rw: rw.reader.locked(), True, rw_read_held)
_rw_query("RWLock.writer.locked()", _rw_write_held, lambda rw: rw.writer.locked(), True, rw_write_held)
_rw_query("RWLock.reader.rwlock", RWLock, lambda rw: rw.reader.rwlock, lambda v, rw: v is rw, rw_free)
_rw_query("RWLock.reader._is_owned()", _rw_read_held, lambda rw: rw.reader._is_owned(), True, rw_read_held)
_rw_query("RWLock.writer._is_owned()", _rw_write_held, lambda rw: rw.writer._is_owned(), True, rw_write_held)
_rw_query("repr(RWLock)", _rw_write_held, repr, lambda v, rw: "write-locked" in v, rw_write_held)
_rw_query("repr(RWLock.reader)", _rw_read_held, lambda rw: repr(rw.reader), lambda v, rw: "locked" in v,
          rw_read_held)
_rw_query("RWLock._at_fork_reinit()", _rw_write_held, lambda rw: rw._at_fork_reinit(), None,
          lambda rw: rw_free(rw) if not rw.write_locked else rw_write_held(rw))


# --- pyatomics.sync: the helpers that acquire on the caller's behalf --------


def _two_locks():
    return SpinLock(), RWLock()


def _sync_free(ctx, out):
    ok_or_memerr(out)
    spin, rw = ctx
    spin_free(spin)
    rw_free(rw)


def _acquire_all(ctx, **kw):
    spin, rw = ctx
    with sync.acquire_all(spin, rw.writer, **kw):
        pass


def _hold(ctx, **kw):
    spin, rw = ctx
    with sync.hold(spin, **kw):
        with sync.hold(rw.reader, **kw):
            pass


case("with sync.hold()", _two_locks, _hold, _sync_free)
case("with sync.hold(timeout=0.5)", _two_locks, lambda ctx: _hold(ctx, timeout=0.5), _sync_free)
case("with sync.acquire_all()", _two_locks, _acquire_all, _sync_free)
case("with sync.acquire_all(timeout=0.5)", _two_locks, lambda ctx: _acquire_all(ctx, timeout=0.5), _sync_free)


# --- Control: CPython's own lock, judged the same way ----------------------

case("control: threading.Lock().release() unheld", threading.Lock, lambda lk: lk.release(),
     lambda lk, out: (expect_exc(out, RuntimeError), lk.acquire(False) or _fail("Lock left locked"), lk.release()))


# --- The harness's own check: a call that leaks its lock on MemoryError ----
# (acquire, then allocate, then release: the shape of a binding that makes
# its result object after taking the lock).  test_alloc_failure.py runs it
# and requires it to FAIL; it is not in CASES, so no other test runs it.


def _leaky(lock):
    lock.acquire()
    tmp = [None] * 3  # an allocation with the lock held
    lock.release()
    return tmp


def _spin_check_released_after_leaky(lock, out):
    ok_or_memerr(out)
    spin_free(lock)


SELF_TEST = {}
SELF_TEST["selftest: leaks a SpinLock on MemoryError"] = (SpinLock, _leaky, _spin_check_released_after_leaky)


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


def step(setup, call, check, n):
    """One step: (Outcome, hit_in_call, failure message or None)."""
    ctx = setup()
    out, hit = armed(n, call, ctx)
    try:
        check(ctx, out)
    except AssertionError as exc:
        return out, hit, f"{exc} (outcome: {describe(out)})"
    return out, hit, None


# The read(2) system call's number, to see in /proc that the main thread
# sleeps in os.read() (see step_in_thread).
READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}.get(platform.machine())


def _wait_in_read(native_id, fd):
    """Return once thread native_id sleeps in read(fd): Linux's
    /proc/<pid>/task/<tid>/syscall gives the number and arguments of the
    system call a thread is blocked in.  Elsewhere, give it time."""
    path = f"/proc/self/task/{native_id}/syscall"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                fields = f.read().split()
        except OSError:
            fields = None
        if fields is None or READ_SYSCALL is None:
            time.sleep(0.05)
            return
        if fields[:2] == [READ_SYSCALL, hex(fd)]:
            return
        time.sleep(0.0005)
    raise AssertionError("the main thread never blocked in os.read")


def step_in_thread(*args):
    """step() on a new thread, whose per-thread state (the table of read
    holds) starts empty; set-up and checks there too, as holds are per thread.
    The injected failure hits whatever thread allocates, and without the GIL
    (or when the step's thread gives it up) the main thread runs at the same
    time: so the step arms only once the main thread sleeps in os.read(),
    which runs no Python code until the step has disarmed and written."""
    r, w = os.pipe()
    box = []
    main = threading.get_native_id()

    def body():
        try:
            _wait_in_read(main, r)
            box.append(step(*args))
        finally:
            os.write(w, b"x")

    t = threading.Thread(target=body)
    t.start()
    os.read(r, 1)
    t.join()
    os.close(r)
    os.close(w)
    return box[0]


def run_case(name):
    setup, call, check = CASES[name] if name in CASES else SELF_TEST[name]
    run = step_in_thread if name in IN_THREAD else step
    memerr_at, absorbed_at, lost_at = [], [], []
    NOTES.clear()
    for n in range(CAP + 1):
        out, hit, failure = run(setup, call, check, n)
        if failure is not None:
            return {"status": "fail", "n": n, "detail": failure}
        if out.kind == "memerr":
            memerr_at.append(n)
        elif lost_exception(out):
            lost_at.append(n)
        elif hit:
            absorbed_at.append(n)  # the failure hit inside the call, which still succeeded
        else:
            return {"status": "ok", "steps": n + 1, "memerr_at": memerr_at, "absorbed_at": absorbed_at,
                    "lost_at": lost_at, "notes": sorted(NOTES), "last": describe(out)}
    return {"status": "fail", "n": CAP, "detail": f"still hitting the injected failure at n={CAP}",
            "memerr_at": memerr_at}


def main(names):
    # A hang shows where it hangs (on stderr, which the parent reports) before
    # the parent's timeout kills the child.
    faulthandler.dump_traceback_later(float(os.environ.get("PYATOMICS_ALLOC_HANG_S", "100")), exit=True)
    gc.disable()  # no collection inside an armed call: each step the same
    for name in names:
        print(json.dumps({"start": name}), flush=True)
        result = run_case(name)
        result["case"] = name
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list(CASES))
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        # CPython 3.13.5t can spin forever at exit, in mimalloc's
        # _mi_page_free_collect (PyThreadState_Clear ->
        # _PyThreadState_ClearMimallocHeaps), after such stepping: with no
        # pyatomics object involved (a plain class stepped twice, then a
        # threading.Lock step whose check raises) it does so too.  And once
        # (CI, 2026-12-01) the gc.collect() below died with SIGSEGV there after
        # the stepping, which GIL builds (and the ASan runs) never showed; not
        # yet investigated (docs/reliability.md).  Neither is what is tested
        # here (every step's outcome and state were checked above): skip both.
        sys.stdout.flush()
        os._exit(0)
    gc.enable()
    gc.collect()  # frees what the steps left, touching every object once more
