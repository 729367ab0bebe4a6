"""The cffi binding of the pyatomics C core: thin classes over pyatomics._cffi_binding_lib.

The API and errors of the C-API binding, over the same core, which owns the rules
as well as the algorithms (csrc/pa_contract.h): this file only turns Python objects
into C values and statuses into exceptions.  PyPy uses it (its JIT calls the C
functions directly); CPython with PYATOMICS_BACKEND=cffi.  cffi releases the GIL
(detaches the thread state) around every call.
"""

from __future__ import annotations

import gc
import itertools
import linecache
import re
import reprlib
import sys
import threading
import types
from _thread import TIMEOUT_MAX as _TIMEOUT_MAX
from _thread import get_ident as _get_ident
from operator import index as _index

from ._cffi_binding_lib import ffi, lib

__all__ = ["AtomicCounter", "AtomicInt", "AtomicRef", "SpinLock", "RWLock", "RWLockView", "RWLockGuard",
           "AtomicIntHandle", "AtomicCounterHandle", "AtomicRefHandle", "RWLockHandle", "build_info"]

lib.pa_set_timeout_max(_TIMEOUT_MAX)
_new, _load, _undo = ffi.new, lib.pa_cffi_load, lib.pa_cffi_undo_acquire
_ACQUIRED, _TIMEDOUT, _INTERRUPTED = lib.PA_ACQUIRED, lib.PA_TIMEDOUT, lib.PA_INTERRUPTED
_ARG_RANGE, _SENTINEL, _M1 = lib.PA_ARG_RANGE, lib.PA_CFFI_SENTINEL, -1  # _M1: default timeout (by `is`)
_NS_T, _BLOCKING_T, _INT_T = ffi.typeof("int64_t *"), ffi.typeof("pa_blocking *"), ffi.typeof("pa_cffi_int *")

# --- Errors: the core's table, read once -------------------------------------
_KINDS = (None, TypeError, ValueError, OverflowError, RuntimeError, TimeoutError)  # pa_exception_kind
_EXCEPTION = tuple(_KINDS[lib.pa_status_exception(s)] for s in range(lib.PA_STATUS_COUNT))
_MESSAGE = tuple(ffi.string(lib.pa_status_message(s)).decode() for s in range(lib.PA_STATUS_COUNT))


def _raise(status, *args):
    """Raise the exception of an error status, in the core's words (its %s take args)."""
    raise _EXCEPTION[status](_MESSAGE[status] % args) from None


# --- Timeouts and blocking: the core's rules, fed C values ---------------------
_MAIN_THREAD_IDENT = threading.main_thread().ident


def _after_fork_in_child():
    """os.register_at_fork hook: the forking thread is the child's main thread."""
    global _MAIN_THREAD_IDENT
    _MAIN_THREAD_IDENT = _get_ident()


def _seconds(obj):
    """A timeout as the double the rules take (OverflowError for a huge int, as float() says)."""
    if isinstance(obj, float):
        return float.__float__(obj)
    if isinstance(obj, int) or hasattr(type(obj), "__index__"):
        return float(_index(obj))
    _raise(lib.PA_TIMEOUT_NOT_NUMBER, type(obj).__name__)


def _out(status, out):
    if status:
        _raise(status)
    return out[0]


def _acquire_ns(blocking, timeout):
    """acquire(blocking, timeout) -> relative ns: -1 forever, 0 one attempt."""
    return _out(lib.pa_timeout_for_acquire(bool(blocking), True, _seconds(timeout), out := _new(_NS_T)), out)


def _optional_ns(timeout):
    """The timeout=None forms (None forever) -> relative ns."""
    seconds = 0.0 if timeout is None else _seconds(timeout)
    return _out(lib.pa_timeout_optional(timeout is None, seconds, out := _new(_NS_T)), out)


def _block_on(call, timeout_ns, *args):
    """call(*args, deadline) driven by pa_blocking_begin/again.  The loop's back
    edge is where the interpreter runs pending signal handlers (CPython and
    PyPy check there); one that raises ends the wait, holding nothing."""
    b = _new(_BLOCKING_T)
    lib.pa_blocking_begin(b, timeout_ns, _get_ident() == _MAIN_THREAD_IDENT)
    r = call(*args, b.until_ns)
    while lib.pa_blocking_again(b, r):
        r = call(*args, b.until_ns)
    return r


def _reclaimed(r):
    """The read-table-full policy: collect on this thread (dead locks' destructors drop
    its entries); retry if that freed anything (PyPy's gc.collect() says None: retry)."""
    return r > _INTERRUPTED and lib.pa_status_wants_reclaim(r) and gc.collect() != 0


def _acquire(p, fn, timeout_ns):
    """fn(p, deadline) of pa_cffi.h: one attempt, then the blocking driver if the timeout allows."""
    r = fn(p, 0)
    if _reclaimed(r):
        r = fn(p, 0)
    if _TIMEDOUT <= r <= _INTERRUPTED and timeout_ns != 0:
        r = _block_on(fn, timeout_ns, p)
    if r > _INTERRUPTED:
        _raise(r)
    return r == _ACQUIRED


# --- Method generation: one source template per kind, as the C side's DEFINE_* macros.
# Exec'd in this module's globals: PyPy's JIT folds module globals to constants, so a
# generated method runs as a hand-written one; closures (cells) made a.inc() 1.5x slower.

_TEMPLATES = {
    "call": """def _m(self):
    return {fn}(self._p{extra})""",
    # cffi words its OverflowError for an int outside int64.  In place (a += n, tail
    # "return _raise(r) if r else self"): the name stays bound to the AtomicInt.
    "value": """def _m(self, {param}{default}, /):
    try:
        r = {fn}(self._p, {param} if type({param}) is int else _index({param}))
    except OverflowError:
        _raise(_ARG_RANGE)
    {tail}""",
    # The fast wrapper refuses (PA_CFFI_SENTINEL, nothing stored) an overflow or a
    # sentinel-valued result; the rare path has status and value apart (pa_cffi.h).
    "checked": """def _m(self{params}):
    try:
        r = {fn}(self._p{arg})
    except OverflowError:
        _raise(_ARG_RANGE)
    if r == _SENTINEL:
        return _checked_slow(self._p, {n}, {subtract}, {report_new})
    return r""",
    # without these, `a *= 2` would silently rebind the name to a plain int
    "refused": """def _m(self, *args):
    _raise(lib.PA_NOT_ATOMIC, {op!r})""",
    # an int snapshot's answer, exactly as int(a) + 1 would be
    "snapshot": """def _m(self{params}):
    return {expr}""",
    # An exception between the core's acquire and the return (a signal
    # handler's KeyboardInterrupt) gives the hold back (pa_cffi.h).
    "acquire": """def _m(self{params}):
    p = self._p
    ns = {ns}
    try:
        if {first}:  # uncontended: no nested Python frame
            return True
        {result}_acquire(p, {fn}, ns)
    except BaseException:
        _undo(p)
        raise
    {after}""",
    # `with rw.read(timeout)`: without a timeout (None, -1) the view is the context manager
    "guard": """def _m(self, /, timeout=None):
    ns = -1 if timeout is None else _optional_ns(timeout)
    return self.{view} if ns == -1 else _new_side(RWLockGuard, self, {w}, ns)""",
    # one core call, no Python helper: a handler raising on entry of a
    # Python function here would skip the release (docs/reliability.md)
    "release": """def _m(self{params}):
    r = {fn}(self._p{extra})
    if r:
        _raise(r)""",
    # validate(stamp): an int beyond int64 was never issued (cffi refuses it with
    # OverflowError): False, as pa_contract.h's rule for stamps says
    "stamp": """def _m(self, stamp, /):
    if type(stamp) is not int:
        stamp = _stamp_int(stamp)
    try:
        return {fn}(self._p, stamp)
    except OverflowError:
        return False""",
}
_GLOBALS = globals()


def _generate(cls, rows):
    """rows: (python name, kind, core function, doc, template fields)."""
    for name, kind, c_name, doc, fields in rows:
        fields = {"fn": f"_c_{c_name}", "extra": "", "params": "", "tail": "return r", "ns": "-1", "default": "", "param": "n",
                  "result": "return ", "after": "", **fields}
        fields.setdefault("first", f"not {fields['fn']}(p, 0)")
        source = _TEMPLATES[kind].format(**fields).replace("{v}", "_load(self._p)")
        # self positional-only, as in the C methods' text signatures
        source = re.sub(r"def _m\(self(?![^)]*/)", "def _m(self, /", source, count=1).replace("/, )", "/)")
        _GLOBALS.update({"_c_" + c: getattr(lib, c) for c in re.findall(r"\b_c_(\w+)", source)})
        filename = f"{__file__}<{cls.__name__}.{name}>"  # inside the package; its source for tracebacks:
        linecache.cache[filename] = (0, None, source.splitlines(True), "")
        exec(compile(source, filename, "exec"), _GLOBALS)
        f = _GLOBALS.pop("_m")
        f.__name__, f.__qualname__, f.__doc__ = name, f"{cls.__name__}.{name}", doc
        setattr(cls, name, property(f) if fields.get("property") else f)


def _checked_slow(p, n, subtract, report_new):
    return _out(lib.pa_cffi_add_slow(p, n, subtract, report_new, out := _new(_NS_T)), out)


def _stamp_int(obj):  # a stamp argument as an int, or the core's TypeError
    if not hasattr(type(obj), "__index__"):
        _raise(lib.PA_STAMP_NOT_INT, type(obj).__name__)
    return _index(obj)


def _spec_error(spec):  # the core's words for it, as the C-API binding's
    _raise(lib.PA_FORMAT_SPEC_NOT_STR, type(spec).__name__)


def _not_picklable(self, protocol, /):
    """__reduce_ex__ of what the C types refuse to copy or pickle (the locks, their sides,
    AtomicRef): shared state, not a value; a copy.copy() of the Python object would share
    the core's lock.  Named as the C type's tp_name: our classes carry it as _TP_NAME, a
    Python subclass's is its bare name."""
    cls = type(self)
    _raise(lib.PA_NOT_PICKLABLE, cls.__dict__.get("_TP_NAME", cls.__name__))


def _reduce_refused(self, /):  # __reduce__ of the same: as object.__reduce__, through __reduce_ex__
    return self.__reduce_ex__(0)


_HANDLE_TYPES = frozenset()  # the *Handle classes, once defined below


def _base_new(cls, base):
    """object.__new__(cls), refusing base.__new__(a handle class) as CPython refuses it for the
    C types (a handle made so would have no root)."""
    if cls in _HANDLE_TYPES:
        if sys.implementation.name == "cpython" and sys.version_info >= (3, 14):
            # CPython 3.14 words its refusal for the C types so (test_differential).
            raise TypeError(f"cannot create '{cls._TP_NAME}' instances")
        raise TypeError(f"pyatomics.{base.__name__}.__new__({cls._TP_NAME}) is not safe, "
                        f"use {cls._TP_NAME}.__new__()")
    return object.__new__(cls)


def _operand(o):
    # An operand as a plain int: AtomicInts are read (one load), others as is.
    return _load(o._p) if isinstance(o, AtomicInt) else o


def _names(nth):  # the core's NULL-terminated lists of int-snapshot names
    return [ffi.string(name).decode() for name in itertools.takewhile(bool, map(nth, itertools.count()))]


class AtomicInt:
    """A lock-free signed 64-bit integer. Every operation is atomic and sequentially consistent."""

    __slots__ = ("_p",)
    __module__ = "pyatomics"
    __hash__ = None  # mutable

    def __new__(cls, *args, **kwargs):
        # The value is set by __init__, so a subclass whose __init__ takes
        # other arguments needs no __new__ (object.__new__ ignores them too).
        self = _base_new(cls, AtomicInt)
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
        try:  # expected converted and range-checked first, as the C-API binding does
            if not -0x8000000000000000 <= (expected := _index(expected)) <= 0x7FFFFFFFFFFFFFFF:
                raise OverflowError  # no allocation on this path: a range check
            return lib.pa_cffi_compare_exchange(self._p, expected, _index(desired))
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
                # An exact int, as the C-API binding returns: before 3.10 (PyPy 3.9) index()
                # returns an int subclass as is; int.__add__ calls none of its methods.
                return new if type(new) is int else int.__add__(new, 0)
            old = seen

    def wait(self, /, expected, timeout=None):
        """Block while the value equals expected. True once it differs, False if the timeout expired."""
        try:
            expected = _new(_NS_T, _index(expected))[0]  # cffi's int64 check, before the timeout's
        except OverflowError:
            _raise(_ARG_RANGE)
        return _block_on(lib.pa_cffi_int_wait, _optional_ns(timeout), self._p, expected) == _ACQUIRED

    def handle(self, /):
        """A new object for the calling thread's own use, bound to the same value."""
        return _make_handle(AtomicIntHandle, self, _INT_T)


def _pairs(text):  # "a b c d" -> (a, b), (c, d)
    return zip(*[iter(text.split())] * 2)


def _int_rows():
    arg = {"params": ", other, /"}
    checked = {"params": ", n, /", "arg": ", (n := n if type(n) is int else _index(n))", "n": "n",
               "subtract": False, "report_new": False}
    checked_1 = {**checked, "params": "", "arg": "", "n": "1", "report_new": True}
    rows = [
        ("load", "call", "pa_cffi_load", "The current value.", {}),
        ("notify_one", "call", "pa_cffi_int_notify", "Wake one waiter.", {"extra": ", False"}),
        ("notify_all", "call", "pa_cffi_int_notify", "Wake all waiters.", {"extra": ", True"}),
        ("store", "value", "pa_cffi_store", "Replace the value.", {"param": "value"}),
        ("exchange", "value", "pa_cffi_exchange", "Store value, return the previous one.", {"param": "value"}),
        ("inc", "checked", "pa_cffi_inc", "Add 1, return the new value.", checked_1),
        ("dec", "checked", "pa_cffi_dec", "Subtract 1, return the new value.",
         {**checked_1, "subtract": True}),
        ("fetch_add", "checked", "pa_cffi_fetch_add", "Add n, return the previous value.", checked),
        ("fetch_sub", "checked", "pa_cffi_fetch_sub", "Subtract n, return the previous value.",
         {**checked, "subtract": True}),
        ("add", "checked", "pa_cffi_add", "Add n, return the new value.", {**checked, "report_new": True}),
        ("sub", "checked", "pa_cffi_sub", "Subtract n, return the new value.",
         {**checked, "subtract": True, "report_new": True}),
    ]
    for op in ("and", "or", "xor", "max", "min"):
        rows.append((f"fetch_{op}", "value", f"pa_cffi_fetch_{op}", f"Atomic {op}; the old value.", {}))
    rows += [(f"__i{op}__", "value", f"pa_cffi_i{op}", None, {"tail": "return _raise(r) if r else self"})
             for op in ("add", "sub", "and", "or", "xor")]
    rows += [(f"__i{name}__", "refused", None, None, {"op": op}) for name, op in
             _pairs("mul *= floordiv //= truediv /= mod %= lshift <<= rshift >>= pow **=")]
    binary = "add + sub - mul * floordiv // truediv / mod % and & or | xor ^ lshift << rshift >>"
    for name, op in _pairs(binary):
        rows.append((f"__{name}__", "snapshot", None, None, {**arg, "expr": f"{{v}} {op} _operand(other)"}))
        rows.append((f"__r{name}__", "snapshot", None, None, {**arg, "expr": f"other {op} {{v}}"}))
    # every type int compares with (float, Fraction, other AtomicInts) works as for int
    rows += [(f"__{name}__", "snapshot", None, None, {**arg, "expr": f"{{v}} {op} _operand(other)"})
             for name, op in _pairs("eq == ne != lt < le <= gt > ge >=")]
    # pow(2, a, 5) reaches __rpow__ on PyPy and CPython >= 3.14; CPython up to
    # 3.13 never calls a Python class's __rpow__ for three-argument pow.
    for name, params, expr in [
        ("__divmod__", ", other, /", "divmod({v}, _operand(other))"),
        ("__rdivmod__", ", other, /", "divmod(other, {v})"),
        ("__pow__", ", value, mod=None, /", "pow({v}, _operand(value), _operand(mod))"),
        ("__rpow__", ", value, mod=None, /", "pow(value, {v}, _operand(mod))"),
        ("__neg__", "", "-{v}"), ("__pos__", "", "+{v}"), ("__abs__", "", "abs({v})"),
        ("__invert__", "", "~{v}"), ("__int__", "", "{v}"), ("__index__", "", "{v}"),
        ("__float__", "", "float({v})"), ("__bool__", "", "{v} != 0"), ("__str__", "", "str({v})"),
        ("__format__", ", spec, /", "int.__format__({v}, spec) if isinstance(spec, str) else _spec_error(spec)"),
        ("__repr__", "", "'%s(%d)' % (type(self).__name__, {v})"), ("__copy__", "", "type(self)({v})"),
        ("__deepcopy__", ", memo, /", "type(self)({v})"), ("__reduce__", "", "(type(self), ({v},))"),
    ]:
        rows.append((name, "snapshot", None, None, {"params": params, "expr": expr}))
    # The int methods and attributes that a snapshot answers, as the core
    # lists them; a name this interpreter's int lacks is not defined.
    methods = {"params": ", /, *args, **kwargs", "expr": "int.%s({v}, *args, **kwargs)"}
    for names, fields in [(_names(lib.pa_int_snapshot_method), methods),
                          (_names(lib.pa_int_snapshot_attribute), {"expr": "{v}.%s", "property": True})]:
        rows += [(name, "snapshot", None, f"int.{name} of the current value.",
                  {**fields, "expr": fields["expr"] % name}) for name in names if hasattr(int, name)]
    return rows


_generate(AtomicInt, _int_rows())


# --- Handles (x.handle()): as the C-API binding's *Handle types, subclasses whose
# instances reach the root's core state (the C-API binding's comment at AtomicIntObject
# says why they exist).  A handle's _p is a cdata of its own over the root's memory
# (ffi.cast: not owning it; the root, which _root keeps alive, does), so that using a
# handle reads no attribute of any object another thread uses: on PyPy there are no
# reference counts to contend on, and this keeps the CPython-with-cffi case the same.


def _make_handle(cls, parent, c_type):
    """A `cls` handle of parent's root: the same core memory, parent's root held."""
    root = parent._root if type(parent) is cls else parent
    h = object.__new__(cls)
    h._root, h._p = root, ffi.cast(c_type, root._p)
    return h


def _final_class(cls, _handle=False, **kwargs):
    # _handle: our own handle subclass (RWLockHandle), as the C-API binding makes its
    # handle type of the final RWLock
    if not _handle:
        raise TypeError(f"type '{cls.__mro__[1]._TP_NAME}' is not an acceptable base type")


def _handle_class(cls):  # named as the C types, made only by handle(), final
    cls.__new__ = _not_constructible_handle
    cls.__module__, cls._TP_NAME = "pyatomics", f"pyatomics.{cls.__name__}"
    cls.__init_subclass__ = classmethod(_final_class)
    return cls


def _not_constructible_handle(cls, *args, **kwargs):
    _raise(lib.PA_NOT_CONSTRUCTIBLE, cls._TP_NAME)


class AtomicIntHandle(AtomicInt):
    """What AtomicInt.handle() returns: an AtomicInt bound to the same value, for one thread."""

    __slots__ = ("_root",)

    # Copies and pickles are new values of the root's type, as the C-API binding's.
    def __copy__(self, /):
        return type(self._root)(_load(self._p))

    def __deepcopy__(self, memo, /):
        return type(self._root)(_load(self._p))

    def __reduce__(self, /):
        return (type(self._root), (_load(self._p),))


_handle_class(AtomicIntHandle)


class AtomicCounter:
    """A striped counter for many threads that add and few that read (Java's LongAdder)."""

    __slots__ = ("_p",)
    __module__ = "pyatomics"
    __hash__ = None  # mutable

    def __new__(cls, *args, **kwargs):  # the value is __init__'s, as AtomicInt's
        self = _base_new(cls, AtomicCounter)
        self._p = p = ffi.gc(_new("pa_counter *"), lib.pa_counter_destroy)
        lib.pa_counter_init(p, 0)
        return self

    def __init__(self, value=0):
        # A second __init__ starts again from value (pa_counter_restart).
        try:
            r = lib.pa_cffi_counter_restart(self._p, _index(value))
        except OverflowError:
            _raise(_ARG_RANGE)
        if r:
            _raise(r)

    def value(self, /):
        """The total now (exact: the cells are summed in 128 bits)."""
        return _total(self._p, False)

    def reset(self, /):
        """Set to 0, returning the total taken (each add counted exactly once)."""
        return _total(self._p, True)

    __int__ = __index__ = value

    def __repr__(self):
        return f"{type(self).__name__}({self.value()})"

    def __reduce__(self):
        return (type(self if type(self) is not AtomicCounterHandle else self._root), (self.value(),))

    def handle(self, /):
        """A new object for the calling thread's own use, bound to the same counter."""
        return _make_handle(AtomicCounterHandle, self, "pa_counter *")


def _total(p, reset):
    hi = lib.pa_cffi_counter_total(p, reset, lo := _new("uint64_t *"))
    return (hi << 64) + lo[0]


_ADD = {"default": "=1", "tail": "return _raise(r) if r else None"}
_generate(AtomicCounter, [
    ("add", "value", "pa_cffi_counter_add", "Add n.", _ADD),
    ("sub", "value", "pa_cffi_counter_sub", "Subtract n.", _ADD),
    ("inc", "release", "pa_cffi_counter_inc", "Add 1.", {}),
    ("dec", "release", "pa_cffi_counter_dec", "Subtract 1.", {}),
    ("__iadd__", "value", "pa_cffi_counter_add", None, {"tail": "return _raise(r) if r else self"}),
    ("__isub__", "value", "pa_cffi_counter_sub", None, {"tail": "return _raise(r) if r else self"}),
    ("_cells", "call", "pa_counter_cell_count", "Cells in use (0 until threads contend).", {"property": True}),
])


class AtomicCounterHandle(AtomicCounter):
    """What AtomicCounter.handle() returns: an AtomicCounter bound to the same total, for one thread."""

    __slots__ = ("_root",)


_handle_class(AtomicCounterHandle)



class AtomicRef:
    """An atomic reference to an object: load, store, exchange, and compare_exchange by identity."""

    # No C core here, unlike the C-API binding's (csrc/pa_ref.h): its protocol
    # exists to order a load's incref before a store's decref, and here either
    # there are no refcounts (PyPy: the GC keeps an object alive while anyone
    # holds it) or the interpreter already makes one attribute read or write
    # safe against a concurrent write (CPython: under the GIL one slot access
    # is atomic; free-threaded 3.14t, the one free-threaded CPython cffi
    # supports, makes a slot read take its reference safely against a
    # concurrent write itself -- its member descriptors load the pointer
    # atomically and take the reference with _Py_TryIncrefCompare, which fails
    # if the slot changed meanwhile, and then read again under the object's
    # critical section, which a slot write also takes -- pure-Python code must
    # not crash there).
    # What no interpreter makes atomic is a read *and* a write:
    # exchange and compare_exchange take _lock for that, and so must store (a
    # store landing between an exchange's read and its write would be lost:
    # never returned by any exchange nor left in the slot).  load() takes no
    # lock: reading the one attribute is atomic on every interpreter above,
    # and it sees each store or exchange either before or after (all writes
    # of _value happen under _lock, one at a time).

    __slots__ = ("_value", "_lock")
    __module__ = "pyatomics"
    __hash__ = None  # mutable

    def __new__(cls, *args, **kwargs):  # the value is __init__'s, as AtomicInt's
        self = _base_new(cls, AtomicRef)
        self._lock = threading.Lock()
        self._value = None
        return self

    def __init__(self, value=None):
        self.store(value)

    def load(self, /):
        """The object held now."""
        return self._value

    def store(self, value, /):
        """Hold value instead."""
        with self._lock:
            old, self._value = self._value, value
        del old  # dropped outside the lock: its __del__ may use this ref

    def exchange(self, value, /):
        """Hold value, return the previous object."""
        with self._lock:
            old, self._value = self._value, value
        return old

    def compare_exchange(self, expected, desired, /):
        """If the object held is expected (identity, `is`), hold desired and return True; else change nothing, return False."""
        with self._lock:
            if self._value is not expected:
                return False
            self._value = desired
        return True

    def update(self, func, /):
        """Hold func(old) atomically (retrying if another thread got in first) and return it."""
        if not callable(func):
            _raise(lib.PA_NOT_CALLABLE, type(func).__name__)
        old = self._value
        while True:
            new = func(old)
            with self._lock:
                seen = self._value
                if seen is old:
                    self._value = new
                    return new
            old = seen

    @reprlib.recursive_repr("...")  # as Py_ReprEnter in the C-API binding: "AtomicRef(...)"
    def __repr__(self):
        return f"{type(self).__name__}({self._value!r})"

    __reduce_ex__ = _not_picklable  # as a lock: shared state, not a value
    __reduce__ = _reduce_refused

    # AtomicRef[Node] in annotations at run time, as the stub makes it generic
    __class_getitem__ = classmethod(types.GenericAlias)

    def handle(self, /):
        """A new object for the calling thread's own use, bound to the same slot."""
        h = object.__new__(AtomicRefHandle)
        h._root = self._root if type(self) is AtomicRefHandle else self
        return h


AtomicRef._TP_NAME = "pyatomics.AtomicRef"  # subclassable: set here, read from the class's own dict


class AtomicRefHandle(AtomicRef):
    """What AtomicRef.handle() returns: an AtomicRef bound to the same slot, for one thread."""

    # This binding's AtomicRef is its two slots, which no other object can share:
    # a handle works on its root's, through _root.  That reads the root on every
    # call, which PyPy (no reference counts) does not mind; the handle is here so
    # that code written for the C-API binding runs unchanged.
    __slots__ = ("_root",)

    def load(self, /):
        """The object held now."""
        return self._root._value

    # AtomicRef's methods on the root (not the root's own: a subclass's overrides are not
    # the handle's, as in the C-API binding)
    def store(self, value, /):
        """Hold value instead."""
        AtomicRef.store(self._root, value)

    def exchange(self, value, /):
        """Hold value, return the previous object."""
        return AtomicRef.exchange(self._root, value)

    def compare_exchange(self, expected, desired, /):
        """If the object held is expected (identity, `is`), hold desired and return True; else
        change nothing, return False."""
        return AtomicRef.compare_exchange(self._root, expected, desired)

    def update(self, func, /):
        """Hold func(old) atomically (retrying if another thread got in first) and return it."""
        return AtomicRef.update(self._root, func)

    @reprlib.recursive_repr("...")
    def __repr__(self):
        return f"{type(self).__name__}({self._root._value!r})"


_handle_class(AtomicRefHandle)


def _c_type(cls):  # named as the C-API binding's type, and like it (no BASETYPE flag) final
    cls.__module__, cls._TP_NAME = "pyatomics", f"pyatomics.{cls.__name__}"
    cls.__init_subclass__ = classmethod(_final_class)
    cls.__reduce_ex__, cls.__reduce__ = _not_picklable, _reduce_refused
    return cls


def _no_arguments(cls, args, kwargs):
    if args or kwargs:
        _raise(lib.PA_NO_ARGUMENTS, cls.__name__)
    return _base_new(cls, RWLock) if cls is RWLockHandle else object.__new__(cls)


def _not_constructible(cls, *args, **kwargs):
    # Made only by RWLock (_new_side), as the C types have no constructor.
    _raise(lib.PA_NOT_CONSTRUCTIBLE, cls._TP_NAME)


@_c_type
class SpinLock:
    """A threading.Lock-compatible lock that spins briefly before sleeping: for tiny critical sections."""

    __slots__ = ("_p", "__weakref__")

    def __new__(cls, *args, **kwargs):
        self = _no_arguments(cls, args, kwargs)
        lib.pa_spinlock_init(p := _new("pa_spinlock *"))
        self._p = p
        return self

    def __repr__(self):
        return f"<{'locked' if self.locked() else 'unlocked'} {self._TP_NAME} object at {id(self):#x}>"


@_c_type
class RWLock:
    """A writer-preferring reader-writer lock: many readers or one writer."""

    __slots__ = ("_p", "_reader", "_writer", "__weakref__")

    def __new__(cls, *args, **kwargs):
        self = _no_arguments(cls, args, kwargs)
        # Freed, it drops the freeing thread's read-hold entry and is marked dead, so the
        # entries other threads still have for it get reclaimed (as the C-API dealloc does).
        self._p = p = ffi.gc(_new("pa_rwlock *"), lib.pa_rwlock_destroy)
        lib.pa_rwlock_init(p)
        self._reader, self._writer = _new_side(RWLockView, self, False), _new_side(RWLockView, self, True)
        return self

    reader = property(lambda self: self._reader, doc="The read side as a threading.Lock-like object.")
    writer = property(lambda self: self._writer, doc="The write side as a threading.Lock-like object.")

    def upgrade(self, /, timeout=-1):
        """Turn the held upgradable read lock into the write lock once the other readers have
        left: True if upgraded, False on timeout (still upgradable)."""
        # No undo on an exception (pa_cffi_rw_upgrade): the enclosing `with` releases either.
        return _acquire(self._p, _c_upgrade, -1 if timeout is _M1 else _acquire_ns(True, timeout))

    def upgradable(self, /, timeout=None):
        """Context manager holding the upgradable read lock; TimeoutError if not had in time.
        On leaving: the write lock if the block upgraded, else the upgradable read."""
        return _new_side(RWLockGuard, self, _UPGRADABLE, -1 if timeout is None else _optional_ns(timeout))

    def downgrade(self, /):
        """Turn the held write lock into a read lock; no writer can get in between."""
        r = lib.pa_cffi_rw_downgrade(self._p)
        if _reclaimed(r):
            r = lib.pa_cffi_rw_downgrade(self._p)
        if r:
            _raise(r)

    def handle(self, /):
        """A new object for the calling thread's own use, bound to the same lock, with its own
        reader and writer views."""
        h = _make_handle(RWLockHandle, self, "pa_rwlock *")
        h._reader, h._writer = _new_side(RWLockView, h, False), _new_side(RWLockView, h, True)
        return h

    def __repr__(self):
        of = f", handle of {id(self._root):#x}" if type(self) is RWLockHandle else ""
        if lib.pa_rwlock_is_write_locked(self._p):
            return f"<{self._TP_NAME} object at {id(self):#x}{of}, write-locked>"
        return f"<{self._TP_NAME} object at {id(self):#x}{of}, readers={lib.pa_rwlock_reader_count(self._p)}>"


class RWLockHandle(RWLock, _handle=True):
    """What RWLock.handle() returns: an RWLock bound to the same lock, with its own views, for one thread."""

    __slots__ = ("_root",)


_handle_class(RWLockHandle)


@_c_type
class RWLockView:
    """One side of an RWLock, usable wherever a threading.Lock-like object is expected."""

    __slots__ = ("_rw", "_p", "_write", "_acq", "_timeout_ns", "__weakref__")
    __new__ = _not_constructible
    rwlock = property(lambda self: self._rw, doc="The RWLock this is a side of.")

    def _is_owned(self):
        # For threading.Condition: whether the *calling thread* holds this side.
        if self._write:
            return lib.pa_rwlock_write_held_by_me(self._p)
        return lib.pa_rwlock_read_holds_by_me(self._p) > 0

    def __repr__(self):
        state, side = "locked" if self.locked() else "unlocked", "write" if self._write else "read"
        return f"<{state} {self._TP_NAME} object ({side} side) at {id(self):#x}>"


@_c_type
class RWLockGuard:
    """Context manager returned by RWLock.read(timeout), RWLock.write(timeout) and RWLock.upgradable(timeout)."""

    __slots__ = ("_rw", "_p", "_write", "_acq", "_timeout_ns")
    __new__ = _not_constructible


_c_upgrade = lib.pa_cffi_rw_upgrade
_HANDLE_TYPES = frozenset((AtomicIntHandle, AtomicCounterHandle, AtomicRefHandle, RWLockHandle))


_UPGRADABLE = 2  # a guard's third side (the C binding's RW_SIDE_UPGRADABLE), after False/True


def _new_side(cls, rw, write, timeout_ns=-1):
    """A view (RWLockView) or a timed guard (RWLockGuard) of one side of rw."""
    self = object.__new__(cls)
    self._rw, self._p, self._write, self._timeout_ns = rw, rw._p, write, timeout_ns
    self._acq = (lib.pa_cffi_rw_acquire_upgradable if write is _UPGRADABLE
                 else lib.pa_cffi_rw_acquire_write if write else lib.pa_cffi_rw_acquire_read)
    return self


_ACQ_DOC = "As threading.Lock.acquire(blocking=True, timeout=-1) -> bool."
_ACQ = {"params": ", /, blocking=True, timeout=-1",
        "ns": "-1 if blocking is True and timeout is _M1 else _acquire_ns(blocking, timeout)"}
_EXIT, _SIDE = {"params": ", *exc_info"}, {"extra": ", self._write"}
_generate(SpinLock, [
    # the inline attempt takes one argument: cffi's cheapest call on CPython (no tuple)
    ("acquire", "acquire", "pa_cffi_spin_acquire", _ACQ_DOC, {**_ACQ, "first": "_c_pa_cffi_spin_try(p)"}),
    ("__enter__", "acquire", "pa_cffi_spin_acquire", None, {"first": "_c_pa_cffi_spin_try(p)"}),
    ("release", "release", "pa_cffi_spin_release", "Release the lock (any thread may).", {}),
    ("__exit__", "release", "pa_cffi_spin_release", None, _EXIT),
    ("locked", "call", "pa_spinlock_locked", "Whether the lock is held (a snapshot).", {}),
    ("_at_fork_reinit", "call", "pa_spinlock_init", None, {}),
])
_generate(RWLock, [
    ("acquire_read", "acquire", "pa_cffi_rw_acquire_read", _ACQ_DOC, _ACQ),
    ("acquire_write", "acquire", "pa_cffi_rw_acquire_write", _ACQ_DOC, _ACQ),
    ("release_read", "release", "pa_cffi_rw_release", "Release a read lock.", {"extra": ", False"}),
    ("release_write", "release", "pa_cffi_rw_release", "Release the write lock.", {"extra": ", True"}),
    ("acquire_upgradable", "acquire", "pa_cffi_rw_acquire_upgradable", _ACQ_DOC, _ACQ),
    ("release_upgradable", "release", "pa_cffi_rw_release_upgradable", "Release the upgradable read lock.", {}),
    ("read", "guard", None, "Context manager holding a read lock; TimeoutError if not had in time.",
     {"view": "_reader", "w": False}),
    ("write", "guard", None, "Context manager holding the write lock; TimeoutError if not had in time.",
     {"view": "_writer", "w": True}),
    ("_at_fork_reinit", "call", "pa_rwlock_reinit_after_fork", None, {}),
    ("readers", "call", "pa_rwlock_reader_count", "Read holds now (a snapshot).", {"property": True}),
    ("write_locked", "call", "pa_rwlock_is_write_locked", "Whether a writer holds it (a snapshot).",
     {"property": True}),
    ("optimistic_read", "call", "pa_rwlock_optimistic_read",
     "A stamp for validate(), taking no lock; 0 while a writer holds the lock.", {}),
    ("validate", "stamp", "pa_rwlock_validate",
     "True if stamp is not 0 and no writer has acquired the lock since it was taken.", {}),
])
_generate(RWLockView, [
    ("acquire", "acquire", None, _ACQ_DOC, {**_ACQ, "fn": "self._acq"}),
    ("__enter__", "acquire", None, None, {"fn": "self._acq"}),
    ("release", "release", "pa_cffi_rw_release", "Release this side.", _SIDE),
    # a block entered for writing that called downgrade() releases the read lock (pa_rwlock_exit)
    ("__exit__", "release", "pa_cffi_rw_exit", None, {**_EXIT, **_SIDE}),
    ("locked", "call", "pa_rwlock_side_locked", "Held, or acquire(blocking=False) would fail now.", _SIDE),
    # threading.Condition._at_fork_reinit calls this on its lock: reset the whole RWLock
    ("_at_fork_reinit", "call", "pa_rwlock_reinit_after_fork", None, {}),
])
_generate(RWLockGuard, [
    ("__enter__", "acquire", None, None, {"fn": "self._acq", "ns": "self._timeout_ns", "result": "got = ",
     "after": "return got or _raise(lib.PA_NOT_ACQUIRED_IN_TIME, ('read', 'write', 'upgradable read')[self._write], "
              "f'{self._timeout_ns / 1e9:.3f}')"}),
    ("__exit__", "release", "pa_cffi_rw_guard_exit", None, {**_EXIT, **_SIDE}),
])


def build_info():
    """What the C core was built with (as _capi_binding.build_info())."""
    text = {"atomics": lib.pa_atomics_description, "wait": lib.pa_wait_mechanism,
            "compiler": lib.pa_compiler_description}
    return {**{k: ffi.string(f()).decode() for k, f in text.items()}, "lock_free_64": lib.pa_lock_free_64()}
