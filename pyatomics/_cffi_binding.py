"""The cffi binding of the pyatomics C core: thin classes over pyatomics._cffi_binding_lib.

The same public API and errors as the C-API binding (pyatomics/_capi_binding.c),
over the same csrc/ core, which owns every rule as well as every algorithm: the
error of each status and its words, the timeout rules, the blocking driver, the
read-table-full policy, the int-snapshot names (csrc/pa_contract.h).  This file
only turns Python objects into C values and statuses into exceptions.  It is
the backend PyPy uses (its JIT calls the C functions directly); on CPython it
is selected with PYATOMICS_BACKEND=cffi.

The methods are generated from tables (as the C binding's DEFINE_* macros do),
from source templates exec'd in this module's globals: PyPy's JIT folds module
globals to constants, so a generated method is the code one would write by
hand; a closure's cells (or a private globals dict) cost PyPy's a.inc() about
1.5x (measured).  cffi releases the GIL around every call (detaches the thread
state on free-threaded builds), so blocking calls never hold it while they wait.
"""

from __future__ import annotations

import gc
import threading
from _thread import TIMEOUT_MAX as _TIMEOUT_MAX
from _thread import get_ident as _get_ident
from operator import index as _index

from ._cffi_binding_lib import ffi, lib

__all__ = ["AtomicInt", "SpinLock", "RWLock", "RWLockView", "RWLockGuard", "build_info"]

lib.pa_set_timeout_max(_TIMEOUT_MAX)

_new = ffi.new
_ACQUIRED, _TIMEDOUT, _INTERRUPTED = lib.PA_ACQUIRED, lib.PA_TIMEDOUT, lib.PA_INTERRUPTED
_ARG_RANGE = lib.PA_ARG_RANGE
_load = lib.pa_cffi_load
_SENTINEL = lib.PA_CFFI_SENTINEL

# ---------------------------------------------------------------------------
# Errors: the core's table, read once (pa_contract.h)
# ---------------------------------------------------------------------------

_KINDS = (None, TypeError, ValueError, OverflowError, RuntimeError, TimeoutError)  # pa_exception_kind
_STATUSES = range(lib.PA_STATUS_COUNT)
_EXCEPTION = tuple(_KINDS[lib.pa_status_exception(s)] for s in _STATUSES)
_MESSAGE = tuple(ffi.string(lib.pa_status_message(s)).decode() for s in _STATUSES)


def _raise(status, *args):
    """Raise the exception of an error status, in the core's words (its %s take args)."""
    raise _EXCEPTION[status](_MESSAGE[status] % args) from None


# ---------------------------------------------------------------------------
# Timeouts and the blocking driver: the core's rules, fed C values
# ---------------------------------------------------------------------------

_NS_T = ffi.typeof("int64_t *")
_BLOCKING_T = ffi.typeof("pa_blocking *")
_M1 = -1  # the default timeout, compared by identity on the fast path
_MAIN_THREAD_IDENT = threading.main_thread().ident


def _after_fork_in_child():
    """os.register_at_fork hook (pyatomics/__init__.py): the forking thread is
    the child's main thread, also after a fork from another thread."""
    global _MAIN_THREAD_IDENT
    _MAIN_THREAD_IDENT = _get_ident()


def _seconds(obj):
    """A timeout as the double the core's rules take: a float, or an int-like
    (OverflowError for a huge int, as float() raises); else the core's TypeError."""
    if isinstance(obj, float):
        return float.__float__(obj)
    if isinstance(obj, int) or hasattr(type(obj), "__index__"):
        return float(_index(obj))
    _raise(lib.PA_TIMEOUT_NOT_NUMBER, type(obj).__name__)


def _acquire_ns(blocking, timeout):
    """acquire(blocking, timeout) -> relative ns (pa_timeout_for_acquire)."""
    blocking = bool(blocking)
    out = _new(_NS_T)
    status = lib.pa_timeout_for_acquire(blocking, True, _seconds(timeout), out)
    if status:
        _raise(status)
    return out[0]


def _optional_ns(timeout):
    """timeout=None forms -> relative ns (pa_timeout_optional)."""
    out = _new(_NS_T)
    status = lib.pa_timeout_optional(timeout is None, 0.0 if timeout is None else _seconds(timeout), out)
    if status:
        _raise(status)
    return out[0]


def _block_on(call, timeout_ns, *args):
    """call(*args, deadline) driven by pa_blocking_begin/again.  Each pass of
    the loop's back edge lets the interpreter run pending signal handlers
    (CPython and PyPy both check there); one that raises ends the wait,
    holding nothing.  Never returns PA_INTERRUPTED."""
    b = _new(_BLOCKING_T)
    lib.pa_blocking_begin(b, timeout_ns, _get_ident() == _MAIN_THREAD_IDENT)
    r = call(*args, b.until_ns)
    while lib.pa_blocking_again(b, r):
        r = call(*args, b.until_ns)
    return r


def _reclaimed(r):
    """The read-table-full policy (pa_status_wants_reclaim): collect on this
    thread, so dead locks' destructors drop its entries; retry if that freed
    anything (PyPy's gc.collect() returns None, unknown: retry)."""
    return r > _INTERRUPTED and lib.pa_status_wants_reclaim(r) and gc.collect() != 0


def _acquire(p, fn, timeout_ns):
    """fn(p, deadline) (an acquire wrapper of pa_cffi.h): one attempt, then, if
    the timeout allows, the blocking driver.  True, False, or raise."""
    r = fn(p, 0)
    if _reclaimed(r):
        r = fn(p, 0)
    if _TIMEDOUT <= r <= _INTERRUPTED and timeout_ns != 0:
        r = _block_on(fn, timeout_ns, p)
    if r > _INTERRUPTED:
        _raise(r)
    return r == _ACQUIRED


# ---------------------------------------------------------------------------
# Method generation
# ---------------------------------------------------------------------------

_GLOBALS = globals()


def _define(cls, name, source, doc=None, wrap=None, **core):
    """Add cls.name from `source`, the text of `def _m(...)`; `core` binds
    names the source uses to functions of lib (e.g. fn="pa_cffi_inc")."""
    for alias, c_name in core.items():
        source = source.replace("{" + alias + "}", "_c_" + c_name)
        _GLOBALS["_c_" + c_name] = getattr(lib, c_name)
    exec(compile(source, f"<pyatomics._cffi_binding {cls.__name__}.{name}>", "exec"), _GLOBALS)
    f = _GLOBALS.pop("_m")
    f.__name__, f.__qualname__, f.__doc__ = name, f"{cls.__qualname__}.{name}", doc
    setattr(cls, name, wrap(f) if wrap else f)


_INT_ARG = "{0} if type({0}) is int else _index({0})"
# An int argument outside int64 makes cffi raise OverflowError in its own words.
_TRY_ARGS = "    try:\n        {call}\n    except OverflowError:\n        _raise(_ARG_RANGE)\n"

_TEMPLATES = {
    # (self) -> fn(self._p, *extra): load, notify_one, locked, observers
    "call": "def _m(self):\n    return {fn}(self._p{extra})\n",
    # (self, n) -> fn(self._p, n): store, exchange, fetch_and...
    "value": "def _m(self, n, /):\n" + _TRY_ARGS.format(call="return {fn}(self._p, " + _INT_ARG.format("n") + ")"),
    # checked arithmetic: the fast wrapper refuses (PA_CFFI_SENTINEL, nothing
    # stored) on overflow or a sentinel-valued result; the rare path retries
    # with the status and the value apart (pa_cffi.h)
    "checked": "def _m(self, n, /):\n    p = self._p\n"
    + _TRY_ARGS.format(call="r = {fn}(p, (n := " + _INT_ARG.format("n") + "))")
    + "    if r == _SENTINEL:\n        return _checked_slow(p, n, {subtract}, {report_new})\n    return r\n",
    "checked_1": "def _m(self):\n    r = {fn}(self._p)\n"
    "    if r == _SENTINEL:\n        return _checked_slow(self._p, 1, {subtract}, True)\n    return r\n",
    # in-place operators: one atomic operation on the object; the name stays bound to it
    "inplace": "def _m(self, n, /):\n"
    + _TRY_ARGS.format(call="r = {fn}(self._p, " + _INT_ARG.format("n") + ")")
    + "    if r:\n        _raise(r)\n    return self\n",
    # without these `a *= 2` would silently rebind the name to a plain int
    "refused": "def _m(self, *args):\n    _raise(lib.PA_NOT_ATOMIC, {op!r})\n",
    # number protocol on a snapshot, exactly as int(a) + 1 would be
    "snapshot": "def _m(self{params}):\n    return {expr}\n",
    # lock entry points: an exception between the core's acquire and the return
    # (a signal handler's KeyboardInterrupt) gives the hold back (pa_cffi.h)
    "acquire": "def _m(self, blocking=True, timeout=-1):\n    p = self._p\n"
    "    ns = -1 if blocking is True and timeout is _M1 else _acquire_ns(blocking, timeout)\n"
    "    try:\n        return _acquire(p, {fn}, ns)\n"
    "    except BaseException:\n        _undo(p)\n        raise\n",
    "enter": "def _m(self):\n    p = self._p\n    try:\n"
    "        if not {fn}(p, 0):  # uncontended: no nested Python frame\n            return True\n"
    "        return _acquire(p, {fn}, -1)\n    except BaseException:\n        _undo(p)\n        raise\n",
    # one core call, no Python helper: a handler raising on entry of a
    # Python function here would skip the release (docs/reliability.md)
    "release": "def _m(self{params}):\n    r = {fn}(self._p{extra})\n    if r:\n        _raise(r)\n",
}


def _generate(cls, rows):
    """rows: (python name, core function, kind, template fields, doc)."""
    for name, c_name, kind, fields, doc in rows:
        source = _TEMPLATES[kind].format(
            **{"fn": "{fn}", "extra": "", "params": "", **fields}
        ).replace("{v}", "_load(self._p)")
        _define(cls, name, source, doc, fields.get("wrap"), **({"fn": c_name} if c_name else {}))


def _checked_slow(p, n, subtract, report_new):
    out = _new(_NS_T)
    status = lib.pa_cffi_add_slow(p, n, subtract, report_new, out)
    if status:
        _raise(status)
    return out[0]


def _operand(o):
    # An operand as a plain int: AtomicInts are read (one load), others as is.
    return _load(o._p) if isinstance(o, AtomicInt) else o


def _names(nth):
    """The core's NULL-terminated name list (pa_int_snapshot_method/attribute)."""
    i = 0
    while (name := nth(i)) != ffi.NULL:
        yield ffi.string(name).decode()
        i += 1


# ---------------------------------------------------------------------------
# AtomicInt
# ---------------------------------------------------------------------------

_INT_T = ffi.typeof("pa_cffi_int *")


class AtomicInt:
    """AtomicInt(value=0)

    A lock-free signed 64-bit integer. Every operation is atomic and sequentially consistent."""

    __slots__ = ("_p",)
    __module__ = "pyatomics"
    __hash__ = None  # mutable

    def __new__(cls, *args, **kwargs):
        # The value is set by __init__, so a subclass whose __init__ takes
        # other arguments needs no __new__ (object.__new__ ignores them too).
        self = object.__new__(cls)
        lib.pa_cffi_int_init(p := _new(_INT_T), 0)
        self._p = p
        return self

    def __init__(self, value=0):
        try:
            lib.pa_cffi_store(self._p, value if type(value) is int else _index(value))
        except OverflowError:
            _raise(_ARG_RANGE)

    def compare_exchange(self, expected, desired, /):
        """If the value equals expected, store desired and return True; else change nothing, return False."""
        try:
            return lib.pa_cffi_compare_exchange(
                self._p, expected if type(expected) is int else _index(expected),
                desired if type(desired) is int else _index(desired))
        except OverflowError:
            _raise(_ARG_RANGE)

    def update(self, func, /):
        """Store func(old) atomically (retrying if another thread got in first) and return it."""
        if not callable(func):
            _raise(lib.PA_NOT_CALLABLE, type(func).__name__)
        p = self._p
        old = _load(p)
        while True:
            new = func(old)
            new = new if type(new) is int else _index(new)
            try:
                seen = lib.pa_cffi_compare_exchange_seen(p, old, new)
            except OverflowError:
                _raise(_ARG_RANGE)
            if seen == old:
                # An exact int, as the C-API binding returns: operator.index
                # hands back an int subclass unchanged before 3.10 (PyPy 3.9),
                # and int.__add__ is the conversion that calls none of the
                # subclass's methods there (int.__pos__ calls its __int__).
                return new if type(new) is int else int.__add__(new, 0)
            old = seen

    def wait(self, expected, timeout=None):
        """Block while the value equals expected. True once it differs, False if the timeout expired."""
        try:
            expected = _new(_NS_T, _index(expected))[0]  # cffi's int64 range check, before the timeout's
        except OverflowError:
            _raise(_ARG_RANGE)
        return _block_on(lib.pa_cffi_int_wait, _optional_ns(timeout), self._p, expected) == _ACQUIRED

    def __pow__(self, other, mod=None):
        return pow(_load(self._p), _operand(other), _operand(mod))

    def __rpow__(self, other, mod=None):
        # pow(2, a, 5) reaches here on PyPy and CPython >= 3.14; CPython up to
        # 3.13 never calls a Python class's __rpow__ for three-argument pow.
        return pow(other, _load(self._p), _operand(mod))

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


def _int_rows():
    no_flags, sub, new = {}, {"subtract": True}, {"report_new": True}
    rows = [
        ("load", "pa_cffi_load", "call", {}, "The current value."),
        ("notify_one", "pa_cffi_int_notify", "call", {"extra": ", False"}, "Wake one thread blocked in wait()."),
        ("notify_all", "pa_cffi_int_notify", "call", {"extra": ", True"}, "Wake every thread blocked in wait()."),
        ("store", "pa_cffi_store", "value", no_flags, "Replace the value."),
        ("exchange", "pa_cffi_exchange", "value", no_flags, "Store value, return the previous one."),
        ("inc", "pa_cffi_inc", "checked_1", {"subtract": False}, "Add 1, return the new value."),
        ("dec", "pa_cffi_dec", "checked_1", sub, "Subtract 1, return the new value."),
    ]
    for name, flags, doc in [("fetch_add", {}, "Add n, return the previous value."),
                             ("fetch_sub", sub, "Subtract n, return the previous value."),
                             ("add", new, "Add n, return the new value."),
                             ("sub", {**sub, **new}, "Subtract n, return the new value.")]:
        rows.append((name, "pa_cffi_" + name, "checked",
                     {"subtract": False, "report_new": False, **flags}, doc))
    for op in ("and", "or", "xor", "max", "min"):
        rows.append((f"fetch_{op}", f"pa_cffi_fetch_{op}", "value", {}, f"Atomic {op}, return the previous value."))
    for op in ("add", "sub", "and", "or", "xor"):
        rows.append((f"__i{op}__", f"pa_cffi_i{op}", "inplace", {}, None))
    for name, op in [("mul", "*="), ("floordiv", "//="), ("truediv", "/="), ("mod", "%="),
                     ("lshift", "<<="), ("rshift", ">>="), ("pow", "**=")]:
        rows.append((f"__i{name}__", None, "refused", {"op": op}, None))
    binary = [("add", "+"), ("sub", "-"), ("mul", "*"), ("floordiv", "//"), ("truediv", "/"), ("mod", "%"),
              ("and", "&"), ("or", "|"), ("xor", "^"), ("lshift", "<<"), ("rshift", ">>")]
    arg = {"params": ", other, /"}
    for name, op in binary:
        rows.append((f"__{name}__", None, "snapshot", {**arg, "expr": f"{{v}} {op} _operand(other)"}, None))
        rows.append((f"__r{name}__", None, "snapshot", {**arg, "expr": f"other {op} {{v}}"}, None))
    rows.append(("__divmod__", None, "snapshot", {**arg, "expr": "divmod({v}, _operand(other))"}, None))
    rows.append(("__rdivmod__", None, "snapshot", {**arg, "expr": "divmod(other, {v})"}, None))
    for name, op in [("eq", "=="), ("ne", "!="), ("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">=")]:
        # every type int compares with (float, Fraction, other AtomicInts) works as for int
        rows.append((f"__{name}__", None, "snapshot", {**arg, "expr": f"{{v}} {op} _operand(other)"}, None))
    for name, expr in [("neg", "-{v}"), ("pos", "+{v}"), ("abs", "abs({v})"), ("invert", "~{v}"),
                       ("int", "{v}"), ("index", "{v}"), ("float", "float({v})"), ("bool", "{v} != 0")]:
        rows.append((f"__{name}__", None, "snapshot", {"expr": expr}, None))
    # the int methods and attributes answered by a snapshot, as the core lists
    # them; one this interpreter's int lacks is not defined
    for name in _names(lib.pa_int_snapshot_method):
        if hasattr(int, name):
            expr = f"int.{name}({{v}}, *args, **kwargs)"
            rows.append((name, None, "snapshot", {"params": ", /, *args, **kwargs", "expr": expr},
                         f"int.{name} of the current value."))
    for name in _names(lib.pa_int_snapshot_attribute):
        if hasattr(int, name):
            rows.append((name, None, "snapshot", {"expr": f"{{v}}.{name}", "wrap": property},
                         f"int.{name} of the current value."))
    return rows


_generate(AtomicInt, _int_rows())


# ---------------------------------------------------------------------------
# Locks
# ---------------------------------------------------------------------------

_undo = lib.pa_cffi_undo_acquire


def _lock_repr(obj, locked, extra=""):
    return f"<{'locked' if locked else 'unlocked'} {obj._TP_NAME} object{extra} at {id(obj):#x}>"


def _final_class(cls, **kwargs):
    # Like the C types without Py_TPFLAGS_BASETYPE: not subclassable.
    raise TypeError(f"type '{cls.__mro__[1]._TP_NAME}' is not an acceptable base type")


def _no_arguments(cls, args, kwargs):
    if args or kwargs:
        _raise(lib.PA_NO_ARGUMENTS, cls.__name__)
    return object.__new__(cls)


def _not_constructible(cls, *args, **kwargs):
    # Made only by RWLock (_new_view, _new_guard), as the C types have no constructor.
    _raise(lib.PA_NOT_CONSTRUCTIBLE, cls._TP_NAME)


class SpinLock:
    """SpinLock()

    A threading.Lock-compatible lock that spins briefly before sleeping: for tiny critical sections."""

    __slots__ = ("_p", "__weakref__")
    __module__ = "pyatomics"
    _TP_NAME = "pyatomics.SpinLock"
    __init_subclass__ = classmethod(_final_class)

    def __new__(cls, *args, **kwargs):
        self = _no_arguments(cls, args, kwargs)
        self._p = _new(ffi.typeof("pa_spinlock *"))
        lib.pa_spinlock_init(self._p)
        return self

    def __repr__(self):
        return _lock_repr(self, lib.pa_spinlock_locked(self._p))


class RWLock:
    """RWLock()

    A writer-preferring reader-writer lock: many readers or one writer."""

    __slots__ = ("_p", "_reader", "_writer", "__weakref__")
    __module__ = "pyatomics"
    _TP_NAME = "pyatomics.RWLock"
    __init_subclass__ = classmethod(_final_class)

    def __new__(cls, *args, **kwargs):
        self = _no_arguments(cls, args, kwargs)
        # When the lock is freed, pa_rwlock_destroy drops the freeing thread's
        # read-hold entry for it and marks it dead, so the entries other
        # threads still have for it get reclaimed (as the C-API dealloc does).
        self._p = p = ffi.gc(_new(ffi.typeof("pa_rwlock *")), lib.pa_rwlock_destroy)
        lib.pa_rwlock_init(p)
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

    def read(self, timeout=None):
        """Context manager holding a read lock; TimeoutError if not had in time."""
        return self._reader if timeout is None else _new_guard(self, False, _optional_ns(timeout))

    def write(self, timeout=None):
        """Context manager holding the write lock; TimeoutError if not had in time."""
        return self._writer if timeout is None else _new_guard(self, True, _optional_ns(timeout))

    def downgrade(self):
        """Turn the held write lock into a read lock; no writer can get in between."""
        r = lib.pa_cffi_rw_downgrade(self._p)
        if _reclaimed(r):
            r = lib.pa_cffi_rw_downgrade(self._p)
        if r:
            _raise(r)

    def __repr__(self):
        p = self._p
        if lib.pa_rwlock_is_write_locked(p):
            return f"<{self._TP_NAME} object at {id(self):#x}, write-locked>"
        return f"<{self._TP_NAME} object at {id(self):#x}, readers={lib.pa_rwlock_reader_count(p)}>"


class RWLockView:
    """One side of an RWLock, usable wherever a threading.Lock-like object is expected."""

    __slots__ = ("_rw", "_p", "_write", "_acq", "__weakref__")
    __module__ = "pyatomics"
    _TP_NAME = "pyatomics.RWLockView"
    __init_subclass__ = classmethod(_final_class)
    __new__ = _not_constructible

    @property
    def rwlock(self):
        """The RWLock this is a side of."""
        return self._rw

    def _is_owned(self):
        # For threading.Condition: whether the *calling thread* holds this side.
        if self._write:
            return lib.pa_rwlock_write_held_by_me(self._p)
        return lib.pa_rwlock_read_holds_by_me(self._p) > 0

    def __repr__(self):
        return _lock_repr(self, self.locked(), " (write side)" if self._write else " (read side)")


class RWLockGuard:
    """Context manager returned by RWLock.read(timeout) and RWLock.write(timeout)."""

    __slots__ = ("_p", "_write", "_acq", "_timeout_ns")
    __module__ = "pyatomics"
    _TP_NAME = "pyatomics.RWLockGuard"
    __init_subclass__ = classmethod(_final_class)
    __new__ = _not_constructible

    def __enter__(self):
        p = self._p
        try:
            if _acquire(p, self._acq, self._timeout_ns):
                return True
        except BaseException:
            _undo(p)
            raise
        _raise(lib.PA_NOT_ACQUIRED_IN_TIME, "write" if self._write else "read", f"{self._timeout_ns / 1e9:.3f}")


_READ, _WRITE = lib.pa_cffi_rw_acquire_read, lib.pa_cffi_rw_acquire_write


def _new_view(rw, write):
    self = object.__new__(RWLockView)
    self._rw, self._p, self._write, self._acq = rw, rw._p, write, _WRITE if write else _READ
    return self


def _new_guard(rw, write, timeout_ns):
    self = object.__new__(RWLockGuard)
    self._p, self._write, self._acq, self._timeout_ns = rw._p, write, _WRITE if write else _READ, timeout_ns
    return self


_ACQ_DOC = "As threading.Lock.acquire(blocking=True, timeout=-1) -> bool."
_EXIT = {"params": ", *exc_info"}
_generate(SpinLock, [
    ("acquire", "pa_cffi_spin_acquire", "acquire", {}, _ACQ_DOC),
    ("__enter__", "pa_cffi_spin_acquire", "enter", {}, None),
    ("release", "pa_cffi_spin_release", "release", {}, "Release the lock (any thread may)."),
    ("__exit__", "pa_cffi_spin_release", "release", _EXIT, None),
    ("locked", "pa_spinlock_locked", "call", {}, "Whether the lock is held (a snapshot)."),
    ("_at_fork_reinit", "pa_spinlock_init", "call", {}, None),
])
_generate(RWLock, [
    ("acquire_read", "pa_cffi_rw_acquire_read", "acquire", {}, _ACQ_DOC),
    ("acquire_write", "pa_cffi_rw_acquire_write", "acquire", {}, _ACQ_DOC),
    ("release_read", "pa_cffi_rw_release", "release", {"extra": ", False"}, "Release a read lock."),
    ("release_write", "pa_cffi_rw_release", "release", {"extra": ", True"}, "Release the write lock."),
    ("_at_fork_reinit", "pa_rwlock_reinit_after_fork", "call", {}, None),
    ("readers", "pa_rwlock_reader_count", "call", {"wrap": property}, "Number of read holds now (a snapshot)."),
    ("write_locked", "pa_rwlock_is_write_locked", "call", {"wrap": property}, "Whether a writer holds it now."),
])
_SIDE = {"extra": ", self._write"}
_generate(RWLockView, [
    ("acquire", None, "acquire", {"fn": "self._acq"}, _ACQ_DOC),
    ("__enter__", None, "enter", {"fn": "self._acq"}, None),
    ("release", "pa_cffi_rw_release", "release", _SIDE, "Release this side."),
    # leaving a block entered for writing that called downgrade() releases the read lock (pa_rwlock_exit)
    ("__exit__", "pa_cffi_rw_exit", "release", {**_SIDE, **_EXIT}, None),
    ("locked", "pa_rwlock_side_locked", "call", _SIDE,
     "Whether this side is held, or acquire(blocking=False) would fail now for a thread holding nothing."),
    # threading.Condition._at_fork_reinit calls this on its lock: reset the whole RWLock
    ("_at_fork_reinit", "pa_rwlock_reinit_after_fork", "call", {}, None),
])
_generate(RWLockGuard, [("__exit__", "pa_cffi_rw_exit", "release", {**_SIDE, **_EXIT}, None)])


def build_info():
    """What the C core was built with (as _capi_binding.build_info())."""
    return {
        "atomics": ffi.string(lib.pa_atomics_description()).decode(),
        "wait": ffi.string(lib.pa_wait_mechanism()).decode(),
        "compiler": ffi.string(lib.pa_compiler_description()).decode(),
        "lock_free_64": lib.pa_lock_free_64(),
    }
