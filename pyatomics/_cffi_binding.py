"""The cffi binding of the pyatomics C core: thin classes over pyatomics._cffi_binding_lib.

The same public API and error behaviour as the C-API binding
(pyatomics/_capi_binding.c), built from the same csrc/ core.  Everything here only
converts arguments, raises exceptions and loops on a deadline; every algorithm
(arithmetic and overflow checks, the lock algorithms, timeouts -> deadlines)
runs in C.  This is the backend PyPy uses (its JIT calls the C functions
directly, with no wrapper object in between); on CPython it is selected with
PYATOMICS_BACKEND=cffi.

cffi releases the GIL around every call (detaches the thread state on
free-threaded builds), so blocking calls never hold it while they wait; a
blocked main thread wakes every 50 ms, and after every EINTR, to let Python run
signal handlers, exactly as block_on() in the C-API binding.
"""

from __future__ import annotations

import gc
import math
import threading
from _thread import TIMEOUT_MAX as _TIMEOUT_MAX
from _thread import get_ident as _get_ident
from operator import index as _index

from ._cffi_binding_lib import ffi, lib

__all__ = ["AtomicInt", "SpinLock", "RWLock", "RWLockView", "RWLockGuard", "build_info"]

# ---------------------------------------------------------------------------
# Shared helpers: integers, timeouts, blocking (as in _capi_binding.c)
# ---------------------------------------------------------------------------

_ARG_RANGE = "value out of range for a signed 64-bit integer"
_RESULT_RANGE = "result out of range for a signed 64-bit integer; value unchanged"
_MIN = -(2**63)
_MAX = 2**63 - 1

_SENTINEL = lib.PA_CFFI_SENTINEL
_FOREVER = lib.PA_FOREVER
_ACQUIRED = lib.PA_ACQUIRED
_TIMEDOUT = lib.PA_TIMEDOUT
_INTERRUPTED = lib.PA_INTERRUPTED
_WOULD_DEADLOCK = lib.PA_WOULD_DEADLOCK
_NOT_HELD = lib.PA_NOT_HELD
_TOO_MANY = lib.PA_TOO_MANY

# The main thread wakes this often to run signal handlers even if the signal
# was delivered to another thread.
_MAIN_THREAD_SLICE_NS = 50 * 1000 * 1000
_MAIN_THREAD_IDENT = threading.main_thread().ident


def _after_fork_in_child():
    """os.register_at_fork hook (pyatomics/__init__.py): the forking thread is
    the child's main thread, also after a fork from another thread."""
    global _MAIN_THREAD_IDENT
    _MAIN_THREAD_IDENT = _get_ident()


_deadline_after = lib.pa_deadline_after


def _as_int64(obj):
    """int-like (int, bool, anything with __index__) -> int in the int64 range;
    TypeError for non-integers, OverflowError outside the range."""
    v = _index(obj)
    if _MIN <= v <= _MAX:
        return v
    raise OverflowError(_ARG_RANGE)


def _timeout_seconds(obj):
    """Seconds (int or float) -> float; TypeError for non-numbers, ValueError for NaN."""
    if isinstance(obj, float):
        d = float.__float__(obj)
    elif isinstance(obj, int) or hasattr(type(obj), "__index__"):
        d = float(_index(obj))  # OverflowError for huge ints, as PyLong_AsDouble
    else:
        raise TypeError(f"timeout must be a number, not '{type(obj).__name__}'")
    if math.isnan(d):
        raise ValueError("Invalid value NaN (not a number)")
    return d


def _seconds_to_ns(d):
    """Non-negative seconds -> ns, rounded up so a wait never ends early;
    saturates (pa_deadline_after treats the maximum as forever)."""
    ns = d * 1e9
    return _MAX if ns >= 9.2e18 else math.ceil(ns)


def _acquire_timeout_ns(blocking, timeout):
    """The threading.Lock.acquire(blocking=True, timeout=-1) contract:
    -1 forever, 0 a single attempt, else the timeout in ns."""
    blocking = bool(blocking)
    timeout = _timeout_seconds(timeout)
    if not blocking and timeout != -1.0:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if timeout < 0 and timeout != -1.0:
        raise ValueError("timeout value must be a non-negative number")
    if not blocking:
        return 0
    if timeout == -1.0:
        return -1
    if timeout > _TIMEOUT_MAX:
        raise OverflowError("timeout value is too large")
    return _seconds_to_ns(timeout)


def _optional_timeout_ns(obj):
    """The timeout=None contract of context managers and wait()."""
    if obj is None:
        return -1
    timeout = _timeout_seconds(obj)
    if timeout < 0:
        raise ValueError("timeout value must be a non-negative number")
    if timeout > _TIMEOUT_MAX:
        raise OverflowError("timeout value is too large")
    return _seconds_to_ns(timeout)


def _block_on(call, timeout_ns, *args):
    """call(*args, deadline_ns) until it is done, the CPython acquire_timed loop
    (block_on in _capi_binding.c): the GIL is released inside each call; between
    calls Python runs its signal handlers, and if one raises (KeyboardInterrupt)
    the exception propagates from here, holding nothing.  Returns the core's
    result (never PA_INTERRUPTED)."""
    if timeout_ns == 0:
        return call(*args, 0)
    deadline = _deadline_after(timeout_ns)
    is_main = _get_ident() == _MAIN_THREAD_IDENT
    while True:
        until = deadline
        if is_main:
            slice_end = _deadline_after(_MAIN_THREAD_SLICE_NS)
            if deadline == _FOREVER or slice_end < deadline:
                until = slice_end
        r = call(*args, until)
        if r == _TIMEDOUT and until == deadline:
            return r
        if r != _TIMEDOUT and r != _INTERRUPTED:
            return r
        # Interrupted, or the end of a slice: going round the loop lets the
        # interpreter run pending signal handlers (CPython and PyPy both check
        # for them on a loop's back edge); a handler that raises ends the wait.


# ---------------------------------------------------------------------------
# AtomicInt
# ---------------------------------------------------------------------------

_INT_T = ffi.typeof("pa_cffi_int *")
_new = ffi.new
_add_slow = lib.pa_cffi_add_slow
_I64_T = ffi.typeof("int64_t *")
_int_init = lib.pa_cffi_int_init
_load = lib.pa_cffi_load
_store = lib.pa_cffi_store
_exchange = lib.pa_cffi_exchange
_cas = lib.pa_cffi_compare_exchange
_cas_seen = lib.pa_cffi_compare_exchange_seen
_fetch_add = lib.pa_cffi_fetch_add
_fetch_sub = lib.pa_cffi_fetch_sub
_add = lib.pa_cffi_add
_sub = lib.pa_cffi_sub
_inc = lib.pa_cffi_inc
_dec = lib.pa_cffi_dec
_iadd = lib.pa_cffi_iadd
_isub = lib.pa_cffi_isub
_fetch_and = lib.pa_cffi_fetch_and
_fetch_or = lib.pa_cffi_fetch_or
_fetch_xor = lib.pa_cffi_fetch_xor
_fetch_max = lib.pa_cffi_fetch_max
_fetch_min = lib.pa_cffi_fetch_min
_iand = lib.pa_cffi_iand
_ior = lib.pa_cffi_ior
_ixor = lib.pa_cffi_ixor
_int_wait = lib.pa_cffi_int_wait
_int_notify = lib.pa_cffi_int_notify


def _arg_overflow():
    # An int argument outside int64: cffi raised OverflowError with its own words.
    return OverflowError(_ARG_RANGE)


def _checked_slow(p, n, subtract, report_new):
    """The rare path of fetch_add/fetch_sub/add/sub/inc/dec (pa_cffi.h): the
    fast call refused, having stored nothing; redo it reporting the status."""
    out = _new(_I64_T)
    if _add_slow(p, n, subtract, report_new, out):
        raise OverflowError(_RESULT_RANGE)
    return out[0]


def _not_atomic(op):
    return TypeError(
        f"AtomicInt has no atomic '{op}'; use a.update(func) for an atomic "
        "read-modify-write, or int(a) for a plain int"
    )


def _operand(o):
    # An operand as a plain int: AtomicInts are read (one load), others as is.
    return _load(o._p) if isinstance(o, AtomicInt) else o


class AtomicInt:
    """AtomicInt(value=0)

    A lock-free signed 64-bit integer. Every operation is atomic and sequentially consistent."""

    __slots__ = ("_p",)
    __module__ = "pyatomics"

    def __new__(cls, value=0):
        self = object.__new__(cls)
        p = self._p = _new(_INT_T)
        try:
            _int_init(p, value if type(value) is int else _index(value))
        except OverflowError:
            raise _arg_overflow() from None
        return self

    def load(self):
        """load() -> int\n\nThe current value."""
        return _load(self._p)

    def store(self, value, /):
        """store(value) -> None\n\nReplace the value."""
        try:
            _store(self._p, value if type(value) is int else _index(value))
        except OverflowError:
            raise _arg_overflow() from None

    def exchange(self, value, /):
        """exchange(value) -> int\n\nStore value, return the previous one."""
        try:
            return _exchange(self._p, value if type(value) is int else _index(value))
        except OverflowError:
            raise _arg_overflow() from None

    def compare_exchange(self, expected, desired, /):
        """compare_exchange(expected, desired) -> bool

        If the value equals expected, store desired and return True; otherwise change nothing and return
        False."""
        try:
            return _cas(
                self._p,
                expected if type(expected) is int else _index(expected),
                desired if type(desired) is int else _index(desired),
            )
        except OverflowError:
            raise _arg_overflow() from None

    def fetch_add(self, n, /):
        """fetch_add(n) -> int\n\nAdd n, return the previous value."""
        try:
            r = _fetch_add(self._p, (n := n if type(n) is int else _index(n)))
        except OverflowError:
            raise _arg_overflow() from None
        if r == _SENTINEL:  # refused: overflow, or a result equal to the sentinel
            return _checked_slow(self._p, n, False, False)
        return r

    def fetch_sub(self, n, /):
        """fetch_sub(n) -> int\n\nSubtract n, return the previous value."""
        try:
            r = _fetch_sub(self._p, (n := n if type(n) is int else _index(n)))
        except OverflowError:
            raise _arg_overflow() from None
        if r == _SENTINEL:  # refused: overflow, or a result equal to the sentinel
            return _checked_slow(self._p, n, True, False)
        return r

    def add(self, n, /):
        """add(n) -> int\n\nAdd n, return the new value."""
        try:
            r = _add(self._p, (n := n if type(n) is int else _index(n)))
        except OverflowError:
            raise _arg_overflow() from None
        if r == _SENTINEL:  # refused: overflow, or a result equal to the sentinel
            return _checked_slow(self._p, n, False, True)
        return r

    def sub(self, n, /):
        """sub(n) -> int\n\nSubtract n, return the new value."""
        try:
            r = _sub(self._p, (n := n if type(n) is int else _index(n)))
        except OverflowError:
            raise _arg_overflow() from None
        if r == _SENTINEL:  # refused: overflow, or a result equal to the sentinel
            return _checked_slow(self._p, n, True, True)
        return r

    def inc(self):
        """inc() -> int\n\nAdd 1, return the new value."""
        r = _inc(self._p)
        if r == _SENTINEL:  # refused: overflow, or a result equal to the sentinel
            return _checked_slow(self._p, 1, False, True)
        return r

    def dec(self):
        """dec() -> int\n\nSubtract 1, return the new value."""
        r = _dec(self._p)
        if r == _SENTINEL:  # refused: overflow, or a result equal to the sentinel
            return _checked_slow(self._p, 1, True, True)
        return r

    def fetch_and(self, n, /):
        """fetch_and(n) -> int\n\nBitwise and, return the previous value."""
        try:
            return _fetch_and(self._p, n if type(n) is int else _index(n))
        except OverflowError:
            raise _arg_overflow() from None

    def fetch_or(self, n, /):
        """fetch_or(n) -> int\n\nBitwise or, return the previous value."""
        try:
            return _fetch_or(self._p, n if type(n) is int else _index(n))
        except OverflowError:
            raise _arg_overflow() from None

    def fetch_xor(self, n, /):
        """fetch_xor(n) -> int\n\nBitwise xor, return the previous value."""
        try:
            return _fetch_xor(self._p, n if type(n) is int else _index(n))
        except OverflowError:
            raise _arg_overflow() from None

    def fetch_max(self, n, /):
        """fetch_max(n) -> int\n\nStore max(value, n), return the previous value."""
        try:
            return _fetch_max(self._p, n if type(n) is int else _index(n))
        except OverflowError:
            raise _arg_overflow() from None

    def fetch_min(self, n, /):
        """fetch_min(n) -> int\n\nStore min(value, n), return the previous value."""
        try:
            return _fetch_min(self._p, n if type(n) is int else _index(n))
        except OverflowError:
            raise _arg_overflow() from None

    def update(self, func, /):
        """update(func) -> int

        Store func(old) atomically (retrying if another thread got in first) and return it. func may be called
        more than once."""
        if not callable(func):
            raise TypeError(f"update() argument must be callable, not '{type(func).__name__}'")
        p = self._p
        old = _load(p)
        while True:
            new = func(old)
            new = new if type(new) is int else _index(new)
            try:
                seen = _cas_seen(p, old, new)
            except OverflowError:
                raise _arg_overflow() from None
            if seen == old:
                # An exact int, as the C-API binding returns: operator.index
                # hands back an int subclass unchanged before 3.10 (PyPy 3.9),
                # and int.__add__ is the conversion that calls none of the
                # subclass's methods there (int.__pos__ calls its __int__).
                return new if type(new) is int else int.__add__(new, 0)
            old = seen

    # --- wait / notify ------------------------------------------------------

    def wait(self, expected, timeout=None):
        """wait(expected, timeout=None) -> bool

        Block while the value equals expected. True once it differs, False if the timeout expired."""
        expected = _as_int64(expected)
        timeout_ns = _optional_timeout_ns(timeout)
        return _block_on(_int_wait, timeout_ns, self._p, expected) == _ACQUIRED

    def notify_one(self):
        """notify_one() -> None\n\nWake one thread blocked in wait()."""
        _int_notify(self._p, False)

    def notify_all(self):
        """notify_all() -> None\n\nWake every thread blocked in wait()."""
        _int_notify(self._p, True)

    # --- copying, pickling, formatting --------------------------------------

    def __copy__(self):
        return type(self)(_load(self._p))

    def __deepcopy__(self, memo, /):
        return type(self)(_load(self._p))

    def __reduce__(self):
        return (type(self), (_load(self._p),))

    def __format__(self, spec, /):
        return format(_load(self._p), spec)

    def __repr__(self):
        return f"{type(self).__name__}({_load(self._p)})"

    def __str__(self):
        return str(_load(self._p))

    __hash__ = None  # mutable

    # --- number protocol ----------------------------------------------------

    def __int__(self):
        return _load(self._p)

    __index__ = __int__

    def __float__(self):
        return float(_load(self._p))

    def __bool__(self):
        return _load(self._p) != 0

    # Binary arithmetic returns a plain int computed from a snapshot of the
    # value, exactly as int(a) + 1 would.
    def __add__(self, other):
        return _load(self._p) + _operand(other)

    def __radd__(self, other):
        return other + _load(self._p)

    def __sub__(self, other):
        return _load(self._p) - _operand(other)

    def __rsub__(self, other):
        return other - _load(self._p)

    def __mul__(self, other):
        return _load(self._p) * _operand(other)

    def __rmul__(self, other):
        return other * _load(self._p)

    def __floordiv__(self, other):
        return _load(self._p) // _operand(other)

    def __rfloordiv__(self, other):
        return other // _load(self._p)

    def __truediv__(self, other):
        return _load(self._p) / _operand(other)

    def __rtruediv__(self, other):
        return other / _load(self._p)

    def __mod__(self, other):
        return _load(self._p) % _operand(other)

    def __rmod__(self, other):
        return other % _load(self._p)

    def __divmod__(self, other):
        return divmod(_load(self._p), _operand(other))

    def __rdivmod__(self, other):
        return divmod(other, _load(self._p))

    def __pow__(self, other, mod=None):
        return pow(_load(self._p), _operand(other), _operand(mod))

    def __rpow__(self, other, mod=None):
        return pow(other, _load(self._p), _operand(mod))

    def __and__(self, other):
        return _load(self._p) & _operand(other)

    def __rand__(self, other):
        return other & _load(self._p)

    def __or__(self, other):
        return _load(self._p) | _operand(other)

    def __ror__(self, other):
        return other | _load(self._p)

    def __xor__(self, other):
        return _load(self._p) ^ _operand(other)

    def __rxor__(self, other):
        return other ^ _load(self._p)

    def __lshift__(self, other):
        return _load(self._p) << _operand(other)

    def __rlshift__(self, other):
        return other << _load(self._p)

    def __rshift__(self, other):
        return _load(self._p) >> _operand(other)

    def __rrshift__(self, other):
        return other >> _load(self._p)

    def __neg__(self):
        return -_load(self._p)

    def __pos__(self):
        return +_load(self._p)

    def __abs__(self):
        return abs(_load(self._p))

    def __invert__(self):
        return ~_load(self._p)

    # In-place operators that are one atomic operation on the object itself:
    # `a += n` is a.fetch_add(n), and the name stays bound to the same AtomicInt.
    def __iadd__(self, n):
        try:
            status = _iadd(self._p, n if type(n) is int else _index(n))
        except OverflowError:
            raise _arg_overflow() from None
        if status:
            raise OverflowError(_RESULT_RANGE)
        return self

    def __isub__(self, n):
        try:
            status = _isub(self._p, n if type(n) is int else _index(n))
        except OverflowError:
            raise _arg_overflow() from None
        if status:
            raise OverflowError(_RESULT_RANGE)
        return self

    def __iand__(self, n):
        try:
            _iand(self._p, n if type(n) is int else _index(n))
        except OverflowError:
            raise _arg_overflow() from None
        return self

    def __ior__(self, n):
        try:
            _ior(self._p, n if type(n) is int else _index(n))
        except OverflowError:
            raise _arg_overflow() from None
        return self

    def __ixor__(self, n):
        try:
            _ixor(self._p, n if type(n) is int else _index(n))
        except OverflowError:
            raise _arg_overflow() from None
        return self

    # Without these, `a *= 2` would fall back to `a = a * 2` and silently rebind
    # the name to a plain int: refuse instead, and say what to do.
    def __imul__(self, other):
        raise _not_atomic("*=")

    def __ifloordiv__(self, other):
        raise _not_atomic("//=")

    def __itruediv__(self, other):
        raise _not_atomic("/=")

    def __imod__(self, other):
        raise _not_atomic("%=")

    def __ilshift__(self, other):
        raise _not_atomic("<<=")

    def __irshift__(self, other):
        raise _not_atomic(">>=")

    def __ipow__(self, other, mod=None):
        raise _not_atomic("**=")

    # Comparisons: a snapshot as a plain int, so every type int compares with
    # (float, Fraction, Decimal, other AtomicInts) works as for int.
    def __eq__(self, other):
        return _load(self._p) == _operand(other)

    def __ne__(self, other):
        return _load(self._p) != _operand(other)

    def __lt__(self, other):
        return _load(self._p) < _operand(other)

    def __le__(self, other):
        return _load(self._p) <= _operand(other)

    def __gt__(self, other):
        return _load(self._p) > _operand(other)

    def __ge__(self, other):
        return _load(self._p) >= _operand(other)


# ---------------------------------------------------------------------------
# Lock helpers shared by SpinLock and RWLock
# ---------------------------------------------------------------------------

_TOO_MANY_MSG = "too many read locks (readers of this lock, or distinct RWLocks read-held by this thread)"


def _acquire_result(r, deadlock_msg=""):
    """A core acquire result -> True/False, or the exception for it."""
    if r == _ACQUIRED:
        return True
    if r == _TIMEDOUT:
        return False
    if r == _WOULD_DEADLOCK:
        raise RuntimeError(deadlock_msg)
    if r == _TOO_MANY:
        raise RuntimeError(_TOO_MANY_MSG)
    raise RuntimeError("lock not held")


def _lock_repr(obj, locked, extra=""):
    return f"<{'locked' if locked else 'unlocked'} {obj._TP_NAME} object{extra} at {id(obj):#x}>"


def _final_class(cls, **kwargs):
    # Like the C types without Py_TPFLAGS_BASETYPE: not subclassable.
    raise TypeError(f"type '{cls.__mro__[1]._TP_NAME}' is not an acceptable base type")


# ---------------------------------------------------------------------------
# SpinLock
# ---------------------------------------------------------------------------

_SPIN_T = ffi.typeof("pa_spinlock *")
_spin_init = lib.pa_spinlock_init
_spin_try = lib.pa_cffi_spin_try_acquire
_spin_slow = lib.pa_cffi_spin_acquire_slow
_spin_release = lib.pa_cffi_spin_release
_spin_locked = lib.pa_spinlock_locked
_M1 = -1  # the default timeout, compared by identity on the fast path

# Every acquire entry point below runs inside `try: ... except BaseException:
# _undo(p); raise`.  A KeyboardInterrupt (or any exception a signal handler
# raises) that arrives after the core acquired the lock but before the entry
# point returned would otherwise leak the hold: `with` calls __exit__ only if
# __enter__ returned.  pa_cffi.h explains the per-thread record _undo reads.
# The try costs nothing until it catches (zero-cost on CPython 3.11+ and PyPy).
_undo = lib.pa_cffi_undo_acquire


class SpinLock:
    """SpinLock()

    A threading.Lock-compatible lock that spins briefly before sleeping: for tiny critical sections."""

    __slots__ = ("_p", "__weakref__")
    __module__ = "pyatomics"
    _TP_NAME = "pyatomics.SpinLock"
    __init_subclass__ = classmethod(_final_class)

    def __new__(cls, *args, **kwargs):
        if args or kwargs:
            raise TypeError("SpinLock() takes no arguments")
        self = object.__new__(cls)
        self._p = _new(_SPIN_T)
        _spin_init(self._p)
        return self

    def acquire(self, blocking=True, timeout=-1):
        """acquire(blocking=True, timeout=-1) -> bool\n\nAs threading.Lock.acquire."""
        p = self._p
        timeout_ns = -1
        if blocking is not True or timeout is not _M1:  # arguments: the uncommon case
            timeout_ns = _acquire_timeout_ns(blocking, timeout)
        try:
            if _spin_try(p):
                return True
            return _acquire_result(_block_on(_spin_slow, timeout_ns, p))
        except BaseException:
            _undo(p)
            raise

    def __enter__(self):
        p = self._p
        try:
            if _spin_try(p):
                return True
            return _acquire_result(_block_on(_spin_slow, -1, p))
        except BaseException:
            _undo(p)
            raise

    def release(self):
        """release() -> None\n\nRelease the lock (any thread may). RuntimeError if it is not locked."""
        if _spin_release(self._p) == _NOT_HELD:
            raise RuntimeError("release unlocked lock")

    def __exit__(self, *exc_info):
        if _spin_release(self._p) == _NOT_HELD:
            raise RuntimeError("release unlocked lock")

    def locked(self):
        """locked() -> bool"""
        return _spin_locked(self._p)

    def _at_fork_reinit(self):
        _spin_init(self._p)

    def __repr__(self):
        return _lock_repr(self, _spin_locked(self._p))


# ---------------------------------------------------------------------------
# RWLock, its reader/writer views and its timed guards
# ---------------------------------------------------------------------------

_WRITE_TWICE_MSG = "cannot acquire the write lock: this thread already holds it (it would wait for itself)"
_UPGRADE_MSG = (
    "cannot acquire the write lock while this thread holds a read lock on the same RWLock "
    "(the upgrade would wait for itself); release the read lock first"
)
_READ_WHILE_WRITING_MSG = "cannot acquire a read lock while this thread holds the write lock; use downgrade()"

_RW_T = ffi.typeof("pa_rwlock *")
_rw_init = lib.pa_rwlock_init
_rw_read = lib.pa_cffi_rw_acquire_read
_rw_write = lib.pa_cffi_rw_acquire_write
_rw_release_read = lib.pa_cffi_rw_release_read
_rw_release_write = lib.pa_cffi_rw_release_write
_rw_downgrade = lib.pa_cffi_rw_downgrade
_rw_is_write_locked = lib.pa_rwlock_is_write_locked
_rw_reader_count = lib.pa_rwlock_reader_count
_rw_write_held_by_me = lib.pa_rwlock_write_held_by_me
_rw_read_holds_by_me = lib.pa_rwlock_read_holds_by_me
_rw_side_locked = lib.pa_rwlock_side_locked
_rw_destroy = lib.pa_rwlock_destroy


def _collect_dead_read_holds():
    """The per-thread table of read holds (pa_rwlock.h) is full.  It may be full
    of dead locks: an RWLock and its views form a reference cycle, so a lock
    dropped while this thread read-holds it is freed, and its entry dropped
    (by its ffi.gc destructor), only when the cyclic GC runs.  Collect, here so
    the destructors run on this thread, and try again (collect_dead_read_holds
    in _capi_binding.c; PyPy's gc.collect() returns None, so always retry once)."""
    gc.collect()
    return True


def _rw_acquire(p, write, timeout_ns):
    """Acquire one side: True/False, or raise."""
    if write:
        r = _rw_write(p, 0)  # fast path: one attempt
        if r == _TIMEDOUT and timeout_ns != 0:
            r = _block_on(_rw_write, timeout_ns, p)
        if r == _WOULD_DEADLOCK:
            raise RuntimeError(_WRITE_TWICE_MSG if _rw_write_held_by_me(p) else _UPGRADE_MSG)
    else:
        r = _rw_read(p, 0)
        if r == _TOO_MANY and _collect_dead_read_holds():
            r = _rw_read(p, 0)
        if r == _TIMEDOUT and timeout_ns != 0:
            r = _block_on(_rw_read, timeout_ns, p)
        if r == _WOULD_DEADLOCK:
            raise RuntimeError(_READ_WHILE_WRITING_MSG)
    return True if r == _ACQUIRED else _acquire_result(r)


def _rw_release(p, write):
    if write:
        if _rw_release_write(p) != _ACQUIRED:
            raise RuntimeError("cannot release the write lock: this thread does not hold it")
    elif _rw_release_read(p) != _ACQUIRED:
        raise RuntimeError("cannot release a read lock: this thread does not hold one")


_rw_exit = lib.pa_cffi_rw_exit  # the exit/downgrade rule: pa_rwlock_exit in pa_rwlock.h
_EXIT_MSG = (
    "cannot release a read lock: this thread does not hold one",
    "cannot release the write lock: this thread does not hold it",
)


class RWLock:
    """RWLock()

    A writer-preferring reader-writer lock: many readers or one writer."""

    __slots__ = ("_p", "_reader", "_writer", "__weakref__")
    __module__ = "pyatomics"
    _TP_NAME = "pyatomics.RWLock"
    __init_subclass__ = classmethod(_final_class)

    def __new__(cls, *args, **kwargs):
        if args or kwargs:
            raise TypeError("RWLock() takes no arguments")
        self = object.__new__(cls)
        # When the lock is freed, pa_rwlock_destroy drops the freeing thread's
        # read-hold entry for it and marks it dead, so the entries other
        # threads still have for it get reclaimed (as the C-API dealloc does).
        self._p = p = ffi.gc(_new(_RW_T), _rw_destroy)
        _rw_init(p)
        self._reader = _new_view(self, False)
        self._writer = _new_view(self, True)
        return self

    @property
    def reader(self):
        """The read side as a threading.Lock-like object."""
        return self._reader

    @property
    def writer(self):
        """The write side as a threading.Lock-like object."""
        return self._writer

    def acquire_read(self, blocking=True, timeout=-1):
        """acquire_read(blocking=True, timeout=-1) -> bool"""
        p = self._p
        timeout_ns = -1 if blocking is True and timeout is _M1 else _acquire_timeout_ns(blocking, timeout)
        try:
            return _rw_acquire(p, False, timeout_ns)
        except BaseException:
            _undo(p)
            raise

    def release_read(self):
        """release_read() -> None"""
        if _rw_release_read(self._p) != _ACQUIRED:
            raise RuntimeError("cannot release a read lock: this thread does not hold one")

    def acquire_write(self, blocking=True, timeout=-1):
        """acquire_write(blocking=True, timeout=-1) -> bool"""
        p = self._p
        timeout_ns = -1 if blocking is True and timeout is _M1 else _acquire_timeout_ns(blocking, timeout)
        try:
            return _rw_acquire(p, True, timeout_ns)
        except BaseException:
            _undo(p)
            raise

    def release_write(self):
        """release_write() -> None"""
        if _rw_release_write(self._p) != _ACQUIRED:
            raise RuntimeError("cannot release the write lock: this thread does not hold it")

    def read(self, timeout=None):
        """read(timeout=None)\n\nContext manager holding a read lock; TimeoutError if not had in time."""
        if timeout is None:  # no timeout: the view is the context manager
            return self._reader
        return _new_guard(self, False, _optional_timeout_ns(timeout))

    def write(self, timeout=None):
        """write(timeout=None)\n\nContext manager holding the write lock; TimeoutError if not had in time."""
        if timeout is None:
            return self._writer
        return _new_guard(self, True, _optional_timeout_ns(timeout))

    def downgrade(self):
        """downgrade() -> None\n\nTurn the held write lock into a read lock; no writer can get in between."""
        r = _rw_downgrade(self._p)
        if r == _TOO_MANY and _collect_dead_read_holds():
            r = _rw_downgrade(self._p)
        if r == _NOT_HELD:
            raise RuntimeError("cannot downgrade: this thread does not hold the write lock")
        if r != _ACQUIRED:
            _acquire_result(r)

    def _at_fork_reinit(self):
        lib.pa_rwlock_reinit_after_fork(self._p)

    @property
    def readers(self):
        """Number of read holds right now (a snapshot)."""
        return _rw_reader_count(self._p)

    @property
    def write_locked(self):
        """Whether a writer holds the lock (a snapshot)."""
        return _rw_is_write_locked(self._p)

    def __repr__(self):
        p = self._p
        if _rw_is_write_locked(p):
            return f"<{self._TP_NAME} object at {id(self):#x}, write-locked>"
        return f"<{self._TP_NAME} object at {id(self):#x}, readers={_rw_reader_count(p)}>"


class RWLockView:
    """One side of an RWLock, usable wherever a threading.Lock-like object is expected."""

    __slots__ = ("_rw", "_p", "_write", "__weakref__")
    __module__ = "pyatomics"
    _TP_NAME = "pyatomics.RWLockView"
    __init_subclass__ = classmethod(_final_class)

    def __new__(cls, *args, **kwargs):
        # Made only by RWLock, through _new_view (the C type has no constructor).
        raise TypeError("cannot create 'pyatomics.RWLockView' instances")

    @property
    def rwlock(self):
        """The RWLock this is a side of."""
        return self._rw

    def acquire(self, blocking=True, timeout=-1):
        """acquire(blocking=True, timeout=-1) -> bool"""
        p = self._p
        timeout_ns = -1 if blocking is True and timeout is _M1 else _acquire_timeout_ns(blocking, timeout)
        try:
            return _rw_acquire(p, self._write, timeout_ns)
        except BaseException:
            _undo(p)
            raise

    def __enter__(self):
        p = self._p
        try:
            # The uncontended attempt inline: no nested Python frame on the hot path.
            if (_rw_write if self._write else _rw_read)(p, 0) == _ACQUIRED:
                return True
            return _rw_acquire(p, self._write, -1)
        except BaseException:
            _undo(p)
            raise

    def release(self):
        """release() -> None"""
        _rw_release(self._p, self._write)

    def __exit__(self, *exc_info):
        # One core call, no Python helper: a signal handler raising on entry
        # of a Python function here would skip the release (docs/reliability.md).
        if _rw_exit(self._p, self._write) != _ACQUIRED:
            raise RuntimeError(_EXIT_MSG[self._write])

    def locked(self):
        """locked() -> bool

        Whether this side is held, or acquire(blocking=False) on it would fail now for a thread that holds nothing
        (a snapshot). Writer side: a reader or a writer holds the lock. Reader side: a reader or a writer holds it,
        or a writer waits for it."""
        return _rw_side_locked(self._p, self._write)

    def _at_fork_reinit(self):
        # threading.Condition._at_fork_reinit calls this on its lock: reset the whole RWLock.
        lib.pa_rwlock_reinit_after_fork(self._p)

    def _is_owned(self):
        # For threading.Condition: whether the *calling thread* holds this side.
        if self._write:
            return _rw_write_held_by_me(self._p)
        return _rw_read_holds_by_me(self._p) > 0

    def __repr__(self):
        return _lock_repr(self, self.locked(), " (write side)" if self._write else " (read side)")


class RWLockGuard:
    """Context manager returned by RWLock.read(timeout) and RWLock.write(timeout)."""

    __slots__ = ("_rw", "_write", "_timeout_ns")
    __module__ = "pyatomics"
    _TP_NAME = "pyatomics.RWLockGuard"
    __init_subclass__ = classmethod(_final_class)

    def __new__(cls, *args, **kwargs):
        # Made only by RWLock.read/write, through _new_guard.
        raise TypeError("cannot create 'pyatomics.RWLockGuard' instances")

    def __enter__(self):
        p = self._rw._p
        try:
            if _rw_acquire(p, self._write, self._timeout_ns):
                return self
        except BaseException:
            _undo(p)
            raise
        raise TimeoutError(
            f"could not acquire the {'write' if self._write else 'read'} lock within {self._timeout_ns / 1e9:.3f} s"
        )

    def __exit__(self, *exc_info):
        if _rw_exit(self._rw._p, self._write) != _ACQUIRED:
            raise RuntimeError(_EXIT_MSG[self._write])


def _new_view(rw, write):
    self = object.__new__(RWLockView)
    self._rw = rw
    self._p = rw._p
    self._write = write
    return self


def _new_guard(rw, write, timeout_ns):
    self = object.__new__(RWLockGuard)
    self._rw = rw
    self._write = write
    self._timeout_ns = timeout_ns
    return self


# ---------------------------------------------------------------------------
# Module
# ---------------------------------------------------------------------------


def build_info():
    """What the C core was built with (as _capi_binding.build_info())."""
    return {
        "atomics": ffi.string(lib.pa_atomics_description()).decode(),
        "wait": ffi.string(lib.pa_wait_mechanism()).decode(),
        "compiler": ffi.string(lib.pa_compiler_description()).decode(),
        "lock_free_64": lib.pa_lock_free_64(),
    }
