"""pyatomics.sync: the standard synchronization primitives under one roof.

    from pyatomics import sync

    accounts = sync.new_lock("accounts")        # a plain threading.Lock unless checking is on
    with sync.hold(accounts, timeout=1.0):      # TimeoutError instead of a silent hang
        ...
    with sync.acquire_all(a, b, c, timeout=2):  # one global order, whatever order you name them
        ...

This module wraps, it does not reimplement:

* ``Semaphore``, ``BoundedSemaphore``, ``Event``, ``Condition``, ``Barrier``, ``Timer``,
  ``local`` (from :mod:`threading`), ``ThreadPoolExecutor``, ``Future`` and ``as_completed``
  (from :mod:`concurrent.futures`) and ``Queue``, ``SimpleQueue`` (from :mod:`queue`) are the
  very same objects, re-exported; the last five are imported on first use.  ``AtomicInt`` is
  pyatomics' own type.  ``Lock``, ``RLock``, ``SpinLock`` and ``RWLock`` return the plain
  lock objects (``threading.Lock()`` etc.) while checking is off, through a thin factory
  that only adds a helpful error for ``name=`` (see below), so the locks cost nothing extra.
* :func:`hold` -- acquire any lock-like object with a timeout, as a context manager that
  raises :class:`TimeoutError` instead of returning ``False``.
* :func:`acquire_all` -- acquire several locks in one global, stable order (deadlock-free
  between callers of acquire_all), all or nothing, with one total deadline.
* :func:`join_all` -- join threads in short slices, so Ctrl-C still works in the main thread;
  returns the threads still alive at the timeout.
* :class:`StoppableThread` -- a non-daemon thread with a stop Event and ``shutdown(timeout)``,
  for background work that must be able to clean up.
* An opt-in lock-order checker.  Set ``PYATOMICS_LOCK_ORDER_CHECK=1`` in the environment
  (read when this module is imported) or call :func:`enable_lock_order_checking` before the
  locks are made.  Then ``Lock``, ``RLock``, ``SpinLock`` and ``RWLock`` in this module (and
  :func:`new_lock` and friends) give checking wrappers that record, per thread, which locks are
  held when another is acquired.  Each (held -> acquired) pair is an edge of one global order
  graph; the first acquisition that would close a cycle raises :class:`LockOrderError` *before
  blocking*, naming both locks and where each order was first seen -- a potential deadlock is
  reported even when this run's interleaving did not deadlock.

With checking off (the default), ``sync.Lock()`` returns a plain ``threading.Lock()`` (and
so on), ``isinstance(x, sync.Lock)`` is ``isinstance(x, type(threading.Lock()))``: no wrapper,
no overhead on the lock.  Because ``threading.Lock`` takes no arguments, ``sync.Lock(name=...)``
is a TypeError then, which says to use the factories :func:`new_lock`, :func:`new_rlock`,
:func:`new_spinlock` and :func:`new_rwlock`: code that wants to *name* its locks in both modes
uses them (``name`` is ignored when checking is off; the lock returned is the plain object).
``enable_lock_order_checking(patch_threading=True)`` also makes ``threading.Lock`` and
``threading.RLock`` themselves return checked locks until checking is switched off, for code
that does not go through this module.  Note that ``from pyatomics.sync
import Lock`` binds whatever ``Lock`` is at that moment: enable checking (or set the
environment variable) before such imports run, or use ``sync.Lock`` / the factories.

See docs/sync.md for a guide with runnable examples.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import sys
import threading
import time
from collections import namedtuple
from collections.abc import Iterable
from collections.abc import Sequence as _Sequence
from threading import (
    Barrier,
    BoundedSemaphore,
    Condition,
    Event,
    Semaphore,
    Timer,
    local,
)
from typing import TYPE_CHECKING, Any, Callable
from typing import SupportsIndex as _SupportsIndex
from typing import Protocol as _Protocol
from typing import TypeVar as _TypeVar
from typing import cast as _cast
from typing import overload as _overload

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor, as_completed
    from contextlib import AbstractContextManager
    from queue import Queue, SimpleQueue
    from types import FrameType

# From the package, not from a backend module: whichever backend pyatomics selected
# (the C-API extension, or cffi on PyPy).  Needs only these three names to be set in
# pyatomics/__init__.py before it imports this module, if it does.
from . import AtomicInt
from . import RWLock as _PlainRWLock
from . import SpinLock as _PlainSpinLock

__all__ = [
    # re-exported unchanged (the checked classes replace the four locks while checking is on)
    "Lock",
    "RLock",
    "Semaphore",
    "BoundedSemaphore",
    "Event",
    "Condition",
    "Barrier",
    "Timer",
    "local",
    "ThreadPoolExecutor",
    "Future",
    "as_completed",
    "Queue",
    "SimpleQueue",
    "SpinLock",
    "RWLock",
    "AtomicInt",
    # helpers
    "LockLike",
    "hold",
    "acquire_all",
    "join_all",
    "StoppableThread",
    # named locks, checked when checking is on
    "new_lock",
    "new_rlock",
    "new_spinlock",
    "new_rwlock",
    # the lock-order checker
    "LockOrderError",
    "OrderEdge",
    "enable_lock_order_checking",
    "disable_lock_order_checking",
    "lock_order_checking_enabled",
    "CheckedLock",
    "CheckedRLock",
    "CheckedSpinLock",
    "CheckedRWLock",
    "CheckedRWSide",
]

_PlainLock = threading.Lock
_PlainRLock = threading.RLock


class _PlainFactory:
    """What ``sync.Lock`` (``RLock``, ``SpinLock``, ``RWLock``) is while checking is off.

    Calling it returns the plain lock (``threading.Lock()`` ...), so the lock itself costs
    nothing extra; only creation goes through this one Python call.  It exists for the error:
    the plain constructors take no arguments, and ``sync.Lock(name="x")`` -- right while
    checking is on -- must say what to write instead of threading's 'lock() takes no
    keyword arguments'.  isinstance() and issubclass() against it test the plain type.
    """

    __slots__ = ("_make", "_type", "_public", "_factory", "__wrapped__")

    def __init__(self, make: Callable[[], Any], public: str, factory: str) -> None:
        self._make = make
        self._type = type(make())
        self._public = public
        self._factory = factory
        self.__wrapped__ = make

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            raise TypeError(
                f"sync.{self._public}() takes no arguments while lock-order checking is off (it "
                f"makes a plain {self._type.__module__}.{self._type.__qualname__}); to name a lock "
                f"whether checking is on or off, use sync.{self._factory}(name), which ignores "
                "the name while checking is off"
            )
        return self._make()

    def __instancecheck__(self, obj: object) -> bool:
        return isinstance(obj, self._type)

    def __subclasscheck__(self, cls: type) -> bool:
        return issubclass(cls, self._type)

    def __repr__(self) -> str:
        return f"<pyatomics.sync.{self._public}: plain {self._make!r} while lock-order checking is off>"


# Typed as the classes they stand in for: calling one makes that class's lock, and
# isinstance() against one tests for it.
_PlainLockFactory = _cast("type[threading.Lock]", _PlainFactory(_PlainLock, "Lock", "new_lock"))
_PlainRLockFactory = _cast("type[threading.RLock]", _PlainFactory(_PlainRLock, "RLock", "new_rlock"))
_PlainSpinLockFactory = _cast(
    "type[_PlainSpinLock]", _PlainFactory(_PlainSpinLock, "SpinLock", "new_spinlock")
)
_PlainRWLockFactory = _cast("type[_PlainRWLock]", _PlainFactory(_PlainRWLock, "RWLock", "new_rwlock"))

# Rebound by enable_lock_order_checking() / disable_lock_order_checking(): the plain class
# (through its factory) or the checked one, so a type checker sees either.
Lock: type[threading.Lock] | type[CheckedLock] = _PlainLockFactory
RLock: type[threading.RLock] | type[CheckedRLock] = _PlainRLockFactory
SpinLock: type[_PlainSpinLock] | type[CheckedSpinLock] = _PlainSpinLockFactory
RWLock: type[_PlainRWLock] | type[CheckedRWLock] = _PlainRWLockFactory

_monotonic = time.monotonic


# Imported on first use: concurrent.futures pulls in logging and more (about 10 ms), which
# code that only wants the locks should not pay for; queue is cheaper but just as optional.
_LAZY = {
    "ThreadPoolExecutor": "concurrent.futures",
    "Future": "concurrent.futures",
    "as_completed": "concurrent.futures",
    "Queue": "queue",
    "SimpleQueue": "queue",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def _normalize_timeout(timeout: float | None, what: str) -> float | None:
    """The convention of every blocking call here (the core's, csrc/pa_contract.h):
    None or -1 -> None = forever; NaN and other negatives ValueError; more than
    threading.TIMEOUT_MAX OverflowError; else the number as a float."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError(f"{what}: timeout must be None or a number, not {type(timeout).__name__!r}")
    if timeout == -1:
        return None
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f"{what}: timeout must be None, -1 or a non-negative number, not {timeout!r}")
    if timeout > threading.TIMEOUT_MAX:
        raise OverflowError(f"{what}: timeout value is too large (more than threading.TIMEOUT_MAX)")
    return float(timeout)


# ===========================================================================
# hold()
# ===========================================================================


class LockLike(_Protocol):
    """The type of what hold() and acquire_all() take: anything with ``acquire(blocking,
    timeout) -> bool`` and ``release()``, as the threading locks, Semaphores, Conditions,
    SpinLock, the sides of an RWLock and the checked locks of this module have.  For
    annotations only (a typing.Protocol): hold() and acquire_all() check at run time."""

    def acquire(self, blocking: bool = ..., timeout: float = ..., /) -> bool: ...

    def release(self) -> None: ...


_L = _TypeVar("_L", bound=LockLike)
_T = _TypeVar("_T", bound=threading.Thread)


class _Hold:
    """What hold() returns: acquire on enter (TimeoutError if not in time), release on exit."""

    __slots__ = ("_lock", "_timeout")

    def __init__(self, lock: Any, timeout: float | None) -> None:
        self._lock = lock
        self._timeout = timeout

    def __enter__(self) -> Any:
        lock = self._lock
        if self._timeout is None:
            lock.acquire()
        elif not lock.acquire(True, self._timeout):
            raise TimeoutError(f"could not acquire {lock!r} within {self._timeout} s")
        return lock

    def __exit__(self, *exc_info: object) -> None:
        _leave(self._lock)


def _leave(lock: Any) -> None:
    """Release what a `with lock:` block holds: the lock's own __exit__ where it has one.

    Not always the same as release(): after ``rw.downgrade()`` inside the block, the write
    side's __exit__ releases the read lock the write lock became, where release() would
    raise and leak it."""
    exit_ = getattr(type(lock), "__exit__", None)
    if exit_ is None:
        lock.release()
    else:
        exit_(lock, None, None, None)


def _check_lock_like(lock: Any, what: str) -> None:
    if not (callable(getattr(lock, "acquire", None)) and callable(getattr(lock, "release", None))):
        hint = (
            "; an RWLock has two sides: pass rw.reader or rw.writer" if hasattr(lock, "acquire_read") else ""
        )
        raise TypeError(f"{what}() needs objects with acquire() and release(), not {lock!r}{hint}")


def hold(lock: _L, timeout: float | None = None) -> AbstractContextManager[_L, None]:
    """Context manager: acquire ``lock``, or raise TimeoutError after ``timeout`` seconds.

    ``lock`` is anything with ``acquire(blocking, timeout)`` and ``release()``: threading
    locks, Semaphores, Conditions, SpinLock, the ``reader``/``writer`` sides of an RWLock,
    the checked locks of this module.  ``timeout=None`` waits forever; ``0`` tries once.
    Nothing is held when TimeoutError is raised.  The lock is released on exit, also when
    the body raises.  ``with hold(lock, t) as l:`` binds the lock itself.
    """
    _check_lock_like(lock, "hold")
    return _Hold(lock, _normalize_timeout(timeout, "hold()"))


# ===========================================================================
# acquire_all()
# ===========================================================================


def _underlying(lock: Any) -> Any:
    """The lock that matters for deadlocks: a Condition's lock, an RWLock side's RWLock
    (for a side of a handle, rw.handle(), the RWLock it is a handle of: the same lock)."""
    while isinstance(lock, Condition):
        lock = lock._lock  # type: ignore[attr-defined]  # the lock it was made with
    rw = getattr(lock, "rwlock", None)
    return lock if rw is None else getattr(rw, "_root", rw)


def _lock_identity(lock: Any) -> int:
    """Which lock an argument of acquire_all() is, to refuse the same lock twice: id() of
    the underlying lock (both sides of one RWLock, and a Condition and its lock, are one)."""
    return id(_underlying(lock))


def _order_keys(locks: tuple[Any, ...]) -> list[tuple[int, int]]:
    """The keys acquire_all() sorts by, one per lock: one global order, the same for every
    caller, whatever order the locks are named in.

    Checked locks come first, by their place in the checker's order (_rank): a linear
    extension of every order the checker has recorded, so acquire_all() takes locks the way
    code already nested them by hand, and, between locks never nested, in creation order
    (the serial number each checked lock gets when made), which is the same from run to run.
    Other lock-like objects follow, by id(): unique among live objects, stable while
    acquire_all() holds them, but not the same from one run to the next.
    """
    under = [_underlying(lock) for lock in locks]
    nodes = [getattr(u, "_node", None) for u in under]
    if not any(isinstance(n, _Node) for n in nodes):
        return [(1, id(u)) for u in under]
    # Under the graph lock: _rank is rewritten as a whole when an edge reorders it, and
    # the keys must come from one consistent version of it.
    with _graph_lock:
        rank = _rank
        return [
            (0, rank.get(n.key, n.key)) if isinstance(n, _Node) else (1, id(u)) for n, u in zip(nodes, under)
        ]


class _AcquireAll:
    __slots__ = ("_order", "_timeout")

    def __init__(self, order: tuple[Any, ...], timeout: float | None) -> None:
        self._order = order
        self._timeout = timeout

    def __enter__(self) -> tuple[Any, ...]:
        timeout = self._timeout
        deadline = None if timeout is None else _monotonic() + timeout
        # A count, not a list of the locks taken: appending can fail (MemoryError)
        # after a lock was taken, and the cleanup would not know of that lock.
        order, taken = self._order, 0
        try:
            for lock in order:
                if deadline is None:
                    lock.acquire()
                else:
                    remaining = deadline - _monotonic()
                    if not lock.acquire(True, remaining if remaining > 0.0 else 0.0):
                        raise TimeoutError(
                            f"acquire_all(): could not acquire {lock!r} within the {timeout} s "
                            f"deadline (the {taken} of {len(order)} locks taken before it "
                            "have been released)"
                        )
                taken += 1
        except BaseException:
            _release_reversed(order, taken)
            raise
        return order

    def __exit__(self, *exc_info: object) -> None:
        _release_reversed(self._order)


def _release_reversed(locks: _Sequence[Any], count: int | None = None) -> None:
    """Release the first ``count`` locks (all by default), last first; if some release
    raises, still release the rest, then re-raise the first error.  Allocates nothing
    before the releases (no list, no slice): under memory pressure a MemoryError
    here must not leave the locks held."""
    error = None
    i = len(locks) if count is None else count
    while i > 0:
        i -= 1
        try:
            _leave(locks[i])
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            if error is None:
                error = exc
    if error is not None:
        raise error


def acquire_all(
    *locks: LockLike, timeout: float | None = None
) -> AbstractContextManager[tuple[LockLike, ...], None]:
    """Context manager: acquire all ``locks`` in one global, stable order; release in reverse.

    The order does not depend on the order the caller names the locks, so two callers
    asking for ``(a, b)`` and ``(b, a)`` take them in the same order and cannot deadlock
    each other.  Checked locks are taken first, in the order the lock-order checker has
    already recorded (so code that nests them by hand and acquire_all() agree), else in
    creation order, which is the same in every run; other locks follow, by id() of the
    underlying lock (see ``_order_keys``).
    ``timeout`` is one total deadline for all of them (None: wait forever).  If it expires,
    or acquiring raises (KeyboardInterrupt, LockOrderError...), the locks already taken are
    released (last first) before TimeoutError (or that exception) propagates: all or nothing.

    The same lock twice -- including both sides of one RWLock, or a Condition and its lock --
    raises ValueError before anything is acquired (taking a lock twice would deadlock, or for
    an RLock hide a bug).  ``with acquire_all(...) as locks:`` binds the tuple of locks in the
    order they were acquired.
    """
    for lock in locks:
        _check_lock_like(lock, "acquire_all")
    timeout = _normalize_timeout(timeout, "acquire_all()")
    seen: dict[int, int] = {}
    for i, lock in enumerate(locks):
        j = seen.setdefault(_lock_identity(lock), i)
        if j != i:
            raise ValueError(
                f"acquire_all() got the same lock twice: {locks[j]!r} and {lock!r} (arguments {j} and {i})"
            )
    keys = _order_keys(locks)
    return _AcquireAll(tuple(locks[i] for i in sorted(range(len(locks)), key=keys.__getitem__)), timeout)


# ===========================================================================
# join_all() and StoppableThread
# ===========================================================================

_JOIN_SLICE = 0.05
# Before 3.13, Thread.join() is written in Python around the thread's "tstate lock", and a
# KeyboardInterrupt that interrupts the wait inside join() makes it release that lock on the
# running thread's behalf and mark the thread stopped: is_alive() then says False while it
# still runs, and interpreter exit no longer waits for it (python/cpython#90882).  There,
# join_all() sleeps and polls is_alive() instead, so the interrupt lands in time.sleep().
# From 3.13 join() is the C thread handle's, which an interrupt leaves consistent.
_JOIN_SURVIVES_INTERRUPT = sys.version_info >= (3, 13)


def join_all(threads: Iterable[_T], timeout: float | None = None) -> list[_T]:
    """Wait until every thread has ended, or ``timeout`` seconds (total) have passed.

    Returns the threads still alive (an empty list if all ended), in the order given.
    Waits in slices of at most 0.05 s, so the main thread gets back to the interpreter
    often and a Ctrl-C (KeyboardInterrupt, or any signal handler that raises) surfaces
    within about a slice even where a long join() cannot be interrupted (Windows, and
    joins that wait without waking for signals).  An interrupted join_all() leaves the
    threads' state correct: they are still joinable and still alive if they were.

    Like Thread.join(), raises RuntimeError for a thread that was never started (it would
    never end) and for the calling thread itself (it would wait for itself) -- checked for
    all of them before waiting for any.
    """
    threads = list(threads)
    me = threading.current_thread()
    for t in threads:
        # ident is set by start() (it waits until the new thread has set it) and never unset.
        if t.ident is None:
            raise RuntimeError(f"join_all(): cannot join thread {t!r} before it is started")
        if t is me:
            raise RuntimeError(f"join_all(): cannot join the current thread {t!r}")
    timeout = _normalize_timeout(timeout, "join_all()")
    deadline = None if timeout is None else _monotonic() + timeout
    for t in threads:
        poll = 0.001
        while t.is_alive():
            if deadline is None:
                wait = _JOIN_SLICE
            else:
                wait = deadline - _monotonic()
                if wait <= 0.0:
                    return [t for t in threads if t.is_alive()]
                wait = min(_JOIN_SLICE, wait)
            if _JOIN_SURVIVES_INTERRUPT:
                t.join(wait)
            else:
                time.sleep(min(poll, wait))
                poll = min(poll * 2, _JOIN_SLICE)
    return [t for t in threads if t.is_alive()]


def _takes_stop_event(target: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether StoppableThread calls ``target(stop_event, *args, **kwargs)`` (True) or
    ``target(*args, **kwargs)`` (False): whichever the signature accepts; True if both do
    or the signature is unknown (what StoppableThread always did)."""
    import inspect  # only here: importing it costs more than this module

    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):  # some builtins have none
        return True
    try:
        sig.bind(None, *args, **kwargs)
    except TypeError as exc:
        with_event = exc
    else:
        return True
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(
            f"StoppableThread: target {target!r} cannot be called with args={args!r}, "
            f"kwargs={kwargs!r}, neither as target(stop_event, *args, **kwargs) ({with_event}) "
            f"nor as target(*args, **kwargs) ({exc})"
        ) from None
    return False


class StoppableThread(threading.Thread):
    """A thread for background work that can be asked to stop and then cleans up.

    ``target(stop_event, *args, **kwargs)`` runs with the thread's ``stop_event`` (a
    threading.Event) first; it should return soon after the event is set, e.g.
    ``while not stop_event.wait(interval): do_work()``.  Or subclass and override run(),
    using ``self.stop_event``.  A plain Thread-style target, ``target(*args, **kwargs)``,
    works too (it can watch ``threading.current_thread().stop_event``): the constructor
    looks at the target's signature and passes ``stop_event`` only if the target can take
    it.  When both calls fit (``def f(*args)``, ``def f(x=None)``) or the signature cannot
    be read, it passes ``stop_event``; ``pass_stop_event=True/False`` decides explicitly.
    A target that fits neither call is a TypeError here, not in the new thread.

    Non-daemon by default: the interpreter waits for it at exit, so its ``finally`` blocks
    run.  ``stop()`` sets the event; ``shutdown(timeout)`` stops and joins (Ctrl-C-responsive,
    see join_all) and returns whether the thread has ended.  As a context manager it starts
    on enter and shuts down (waiting) on exit.
    """

    def __init__(
        self,
        target: Callable[..., object] | None = None,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        daemon: bool = False,
        pass_stop_event: bool | None = None,
    ) -> None:
        super().__init__(name=name, daemon=daemon)
        self.stop_event = Event()
        self._stoppable_target = target
        self._stoppable_args = tuple(args)
        self._stoppable_kwargs = dict(kwargs) if kwargs else {}
        if target is not None:
            if pass_stop_event is None:
                pass_stop_event = _takes_stop_event(target, self._stoppable_args, self._stoppable_kwargs)
            if pass_stop_event:
                self._stoppable_args = (self.stop_event, *self._stoppable_args)

    def run(self) -> None:
        try:
            if self._stoppable_target is not None:
                self._stoppable_target(*self._stoppable_args, **self._stoppable_kwargs)
        finally:
            # Like threading.Thread: drop references that might form cycles through the thread.
            del self._stoppable_target, self._stoppable_args, self._stoppable_kwargs

    def stop(self) -> None:
        """Ask the thread to stop (sets ``stop_event``); does not wait."""
        self.stop_event.set()

    @property
    def stopping(self) -> bool:
        """Whether stop() has been called."""
        return self.stop_event.is_set()

    def shutdown(self, timeout: float | None = None) -> bool:
        """stop(), then wait up to ``timeout`` seconds (None: forever) for the thread to end.
        Returns True if it has ended (or was never started), False if it is still running."""
        self.stop()
        if self.is_alive():
            join_all([self], timeout)
        return not self.is_alive()

    def __enter__(self) -> StoppableThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()


# ===========================================================================
# The lock-order checker
# ===========================================================================

OrderEdge = namedtuple("OrderEdge", "held acquired location thread")
OrderEdge.__doc__ = """One recorded order: lock `held` was held when lock `acquired` was acquired,
first seen at `location` ("file:line in function") in thread `thread`."""


class LockOrderError(RuntimeError):
    """Acquiring a lock would close a cycle in the lock-order graph: a potential deadlock.

    Raised before blocking; the lock is not acquired and the locks already held stay held.
    Attributes: ``acquiring`` and ``holding`` (lock names), ``location`` (where this
    acquisition was attempted), ``cycle`` (the OrderEdges already recorded that lead from
    ``acquiring`` back to ``holding``; the first is where the reverse order was first seen).
    """

    def __init__(
        self,
        message: str,
        acquiring: str = "",
        holding: str = "",
        location: str = "",
        cycle: Iterable[OrderEdge] = (),
    ) -> None:
        super().__init__(message)
        self.acquiring = acquiring
        self.holding = holding
        self.location = location
        self.cycle = list(cycle)


_checking = False
# The graph: _edges[held_key][acquired_key] = OrderEdge.  Keys are serial numbers, never
# reused (an id() could be reused by a new lock after the old one is freed, inheriting its
# edges).  Mutated only under _graph_lock; read without it on the fast path (a single dict
# lookup is safe on free-threaded builds too: dicts lock themselves).
_graph_lock = _PlainLock()
_edges: dict[int, dict[int, OrderEdge]] = {}
# _preds[acquired_key] = {held_key, ...}: the edges backwards, for reordering _rank.
_preds: dict[int, set[int]] = {}
# _rank[key]: each checked lock's place in one linear order consistent with every edge
# (held before acquired), which acquire_all() follows.  A new lock gets its serial number,
# larger than every rank in use, so it goes last; an edge against the order moves only
# locks ranked between its two ends that the edge now orders (those reachable from its
# head, those reaching its tail: Pearce and Kelly's dynamic topological sort).  A pair that
# has ever been taken together is ordered by a recorded path and never flips; a pair that
# never was may, so two acquire_all() calls racing with the very edge that moves them can
# disagree once -- with checked locks only, so the second gets a LockOrderError before it
# blocks, not a deadlock.  Replaced as a whole under _graph_lock, so that readers under it
# see one version.
_rank: dict[int, int] = {}
_dead_keys: list[int] = []  # keys of collected locks, purged from the graph lazily
_next_key = 0
_tls = threading.local()  # _tls.held: see _held()


def _reinit_graph_lock_after_fork() -> None:
    # Another thread may have held the graph lock at fork(); it does not exist in the child.
    global _graph_lock
    _graph_lock = _PlainLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_graph_lock_after_fork)

_SKIP_FILES = frozenset(
    {
        _normalize_timeout.__code__.co_filename,  # this module
        threading.Condition.wait.__code__.co_filename,  # Condition.wait re-acquiring, Timer...
        contextlib.ExitStack.enter_context.__code__.co_filename,  # ExitStack, contextmanager
    }
)


def _caller_frame() -> FrameType | None:
    """The first frame outside this module, threading and contextlib (the user's call)."""
    f: FrameType | None = sys._getframe(1)
    while f is not None and f.f_code.co_filename in _SKIP_FILES:
        f = f.f_back
    return f


def _caller_location() -> str:
    """'file:line in function' of the user's call."""
    f = _caller_frame()
    if f is None:
        return "<unknown>"
    return f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}"


class _Node:
    """A checked lock's identity in the graph (the two sides of an RWLock share one)."""

    __slots__ = ("key", "name")

    def __init__(self, name: str | None, kind: str) -> None:
        global _next_key
        with _graph_lock:
            _next_key += 1
            self.key = _next_key
            _rank[_next_key] = _next_key
        if name is None:
            f = _caller_frame()
            where = f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno}" if f else "?"
            name = f"{kind}#{self.key} created at {where}"
        self.name = str(name)


# Per thread, _tls.held = {key: entry} for the checked locks the thread holds, where
# entry = [node, count, that held dict].  Only the owning thread adds or removes entries.
# A Lock or SpinLock released by another thread (allowed) just gets count 0, and the owner
# prunes the entry later.  The hot paths below are inlined by hand: on free-threaded 3.13
# (no specializing interpreter) each Python call costs about as much as the lock itself.


# A thread's entry for a checked lock it holds: [node, count, the thread's held dict].
_Entry = list[Any]


def _held() -> dict[int, _Entry]:
    try:
        held: dict[int, _Entry] = _tls.held
        return held
    except AttributeError:
        held = _tls.held = {}
        return held


def _check(node: _Node, held: dict[int, _Entry]) -> None:
    """Before a blocking acquisition of `node` by a thread holding `held` (not empty): make
    sure every (held -> node) edge is known, recording new ones or raising LockOrderError."""
    key = node.key
    entry = held.get(key)
    if entry is not None and entry[1] > 0:
        return  # re-entrant (RLock, a second read hold): never waits for itself
    edges = _edges
    for held_key, held_entry in held.items():
        if held_entry[1] > 0:
            out = edges.get(held_key)
            if out is None or key not in out:
                _record(node, held)
                return


def _record(node: _Node, held: dict[int, _Entry]) -> None:
    key = node.key
    for stale in [k for k, e in held.items() if e[1] <= 0]:  # released by another thread
        del held[stale]
    holding = [e[0] for e in held.values() if e[0].key != key]
    where = _caller_location()
    thread = _thread_name()
    error = None
    with _graph_lock:
        if _dead_keys:
            _purge_dead()
        new = []
        for h in holding:
            out = _edges.get(h.key)
            if out is not None and key in out:
                continue
            path = _find_path(key, h.key)
            if path is not None:
                error = _order_error(node, h, where, thread, path)
                break
            new.append(h)
        else:
            for h in new:
                _edges.setdefault(h.key, {})[key] = OrderEdge(h.name, node.name, where, thread)
                _preds.setdefault(key, set()).add(h.key)
                _reorder(h.key, key)
    if error is not None:
        raise error


def _thread_name() -> str:
    # Not threading.current_thread(): in a thread that threading did not start it makes a
    # _DummyThread, whose Event takes a lock, which with patch_threading is a checked lock,
    # whose check would come back here.
    ident = threading.get_ident()
    t = getattr(threading, "_active", {}).get(ident)
    return t.name if t is not None else f"thread {ident}"


def _reorder(before: int, after: int) -> None:
    """Keep _rank a linear extension of the graph after the edge before -> after was added.
    Under _graph_lock; the edge closes no cycle (checked by the caller)."""
    global _rank
    rank = _rank
    lo, hi = rank.get(after, after), rank.get(before, before)
    if hi < lo:
        return  # already in order
    # Reachable from `after` with rank < hi, and reaching `before` with rank > lo: only
    # these move; the first set must end up after the second.
    forward = _reach(after, _edges, lambda k: rank.get(k, k) < hi)
    backward = _reach(before, _preds, lambda k: rank.get(k, k) > lo)
    moved = sorted(backward, key=rank.__getitem__) + sorted(forward, key=rank.__getitem__)
    slots = sorted(rank[k] for k in moved)
    new = dict(rank)
    new.update(zip(moved, slots))
    _rank = new


def _reach(start: int, adjacency: dict[int, Any], inside: Callable[[int], bool]) -> set[int]:
    seen = {start}
    stack = [start]
    while stack:
        for k in adjacency.get(stack.pop(), ()):
            if k not in seen and k in _rank and inside(k):
                seen.add(k)
                stack.append(k)
    return seen


def _find_path(src: int, dst: int) -> list[OrderEdge] | None:
    """The recorded edges of a path src -> ... -> dst, or None.  Under _graph_lock."""
    previous: dict[int, tuple[int, OrderEdge] | None] = {src: None}
    stack = [src]
    while stack:
        k = stack.pop()
        for nxt, edge in _edges.get(k, {}).items():
            if nxt in previous:
                continue
            previous[nxt] = (k, edge)
            if nxt == dst:
                path = []
                step = previous[nxt]
                while step is not None:
                    nxt, edge = step
                    path.append(edge)
                    step = previous[nxt]
                path.reverse()
                return path
            stack.append(nxt)
    return None


def _order_error(
    node: _Node, holding: _Node, where: str, thread: str, path: list[OrderEdge]
) -> LockOrderError:
    lines = [
        f"lock order inversion (potential deadlock): thread {thread!r} is acquiring "
        f"{node.name!r} while holding {holding.name!r}, at {where}",
        f"  but the order {node.name!r} -> {holding.name!r} was already established:",
    ]
    for edge in path:
        lines.append(
            f"    {edge.held!r} -> {edge.acquired!r} first seen at {edge.location} (thread {edge.thread!r})"
        )
    lines.append(
        f"  and {holding.name!r} -> {node.name!r} here would close the cycle; acquire these "
        f"locks in one order everywhere: {node.name!r} before {holding.name!r}, the order "
        f"already recorded, is the order acquire_all() takes them in (it follows the recorded "
        "order, then creation order)"
    )
    return LockOrderError("\n".join(lines), node.name, holding.name, where, path)


def _purge_dead() -> None:
    """Drop collected locks from the graph.  Under _graph_lock."""
    dead = set()
    while _dead_keys:
        dead.add(_dead_keys.pop())
    global _rank
    for k in dead:
        _edges.pop(k, None)
        _preds.pop(k, None)
    for out in _edges.values():
        for k in dead.intersection(out):
            del out[k]
    for into in _preds.values():
        into.difference_update(dead)
    rank = dict(_rank)
    for k in dead:
        rank.pop(k, None)
    _rank = rank


def _count_in(node: _Node, held: dict[int, _Entry]) -> None:
    """After acquiring a re-entrant `node` (RLock, RWLock side): one more hold by this thread."""
    entry = held.get(node.key)
    if entry is not None and entry[1] > 0:
        entry[1] += 1
    else:
        held[node.key] = [node, 1, held]


def _count_out(node: _Node) -> None:
    """After the owner released a re-entrant `node`: one hold less."""
    held = _tls.held
    key = node.key
    entry = held[key]
    if entry[1] > 1:
        entry[1] -= 1
    else:
        del held[key]


def _forget_on_del(self: Any) -> None:
    """__del__ of the checked locks: queue the lock's key for removal from the graph."""
    try:
        _dead_keys.append(self._node.key)
    except Exception:  # noqa: BLE001 - module globals already cleared at interpreter exit
        pass


# Private methods of the stdlib locks that are part of their protocol: threading.Condition
# uses _is_owned, _release_save and _acquire_restore (and, from 3.14, locked()); the fork
# handlers of threading call _at_fork_reinit on the locks inside Events and Conditions;
# _recursion_count is RLock's (3.11+).  A wrapper offers those its wrapped type has on the
# running interpreter, no fewer and no more (see _trim_protocol; tests/test_sync_conformance.py
# compares them name by name), so that code written against the stdlib type keeps working
# when checking is switched on.


def _trim_protocol(cls: type, plain: Any, optional: Iterable[str]) -> None:
    """Drop from `cls` the methods in `optional` that the wrapped type lacks here, so that
    hasattr() (which threading.Condition uses to pick its strategy) answers as it would
    for the plain lock."""
    for name in optional:
        if not hasattr(plain, name) and name in cls.__dict__:
            delattr(cls, name)


def _stdlib_repr(self: Any, locked: bool, details: str) -> str:
    """The stdlib form, '<locked _thread.lock object at 0x...>', with the checked lock's
    name and the wrapped lock's details (owner=... count=... for an RLock) in the middle."""
    cls = type(self)
    state = "locked" if locked else "unlocked"
    middle = f"{self._node.name!r} {details} " if details else f"{self._node.name!r} "
    return f"<{state} {cls.__module__}.{cls.__qualname__} object {middle}at {id(self):#x}>"


def _inner_details(lock: Any) -> str:
    """'owner=... count=...' out of '<locked _thread.RLock object owner=... count=... at 0x..>'."""
    text = repr(lock)
    return text.partition(" object ")[2].rpartition(" at ")[0].strip()


if TYPE_CHECKING:

    class _InnerLock(_Protocol):
        """What the checked locks call on the plain lock they wrap, threading's private
        lock protocol included (typeshed lists none of it)."""

        def acquire(self, blocking: bool = ..., timeout: float = ..., /) -> bool: ...
        def release(self) -> None: ...
        def locked(self) -> bool: ...
        def _at_fork_reinit(self) -> None: ...
        def _is_owned(self) -> bool: ...
        def _release_save(self) -> Any: ...
        def _acquire_restore(self, state: Any, /) -> None: ...
        def _recursion_count(self) -> int: ...


class CheckedLock:
    """A threading.Lock that takes part in lock-order checking (see the module docstring).

    Same protocol as threading.Lock on the running interpreter: acquire(blocking=True,
    timeout=-1), release(), locked(), _at_fork_reinit(), the context manager and the old
    aliases acquire_lock()/release_lock()/locked_lock() where threading.Lock has them; any
    thread may release it.  ``name`` appears in LockOrderError messages.  Non-blocking
    acquisitions (blocking=False) cannot deadlock, so they are not checked, but the lock
    then counts as held for later acquisitions.
    """

    __slots__ = ("_lock", "_node", "_entry", "__weakref__")
    _kind = "Lock"

    @staticmethod
    def _factory() -> Any:
        return _PlainLock()

    def __init__(self, name: str | None = None) -> None:
        self._lock: _InnerLock = self._factory()
        self._node = _Node(name, self._kind)
        self._entry: _Entry | None = None

    @property
    def name(self) -> str:
        return self._node.name

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        try:
            held = _tls.held
        except AttributeError:
            held = _tls.held = {}
        node = self._node
        if held and blocking:
            _check(node, held)
        if self._lock.acquire(blocking, timeout):
            # Not re-entrant: if this thread had an entry, another thread released it.
            self._entry = held[node.key] = [node, 1, held]
            return True
        return False

    def __enter__(self) -> bool:
        try:
            held = _tls.held
        except AttributeError:
            held = _tls.held = {}
        node = self._node
        if held:
            _check(node, held)
        self._lock.acquire()
        self._entry = held[node.key] = [node, 1, held]
        return True

    def release(self) -> None:
        entry = self._entry
        if entry is not None:
            # Before the real release: once released, another thread may take the lock and
            # set _entry.  The owner drops the entry; another thread only zeroes the count.
            self._entry = None
            entry[1] = 0
            try:
                mine = _tls.held is entry[2]
            except AttributeError:
                mine = False
            if mine:
                del entry[2][entry[0].key]
        self._lock.release()

    def __exit__(self, *exc_info: object) -> None:
        entry = self._entry
        if entry is not None:
            self._entry = None
            entry[1] = 0
            try:
                mine = _tls.held is entry[2]
            except AttributeError:
                mine = False
            if mine:
                del entry[2][entry[0].key]
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def _at_fork_reinit(self) -> None:
        # In the child of fork(): the lock becomes a new, unlocked one, so nobody holds it;
        # the forking thread (the only one left) stops counting it as held.
        entry = self._entry
        self._entry = None
        if entry is not None:
            entry[1] = 0
            if _held() is entry[2]:
                entry[2].pop(entry[0].key, None)
        self._lock._at_fork_reinit()

    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    def __repr__(self) -> str:
        return _stdlib_repr(self, self._lock.locked(), "")

    __del__ = _forget_on_del


_trim_protocol(CheckedLock, _PlainLock(), ("_at_fork_reinit", "acquire_lock", "release_lock", "locked_lock"))


class CheckedSpinLock(CheckedLock):
    """A pyatomics.SpinLock that takes part in lock-order checking (see CheckedLock)."""

    __slots__ = ()
    _kind = "SpinLock"

    @staticmethod
    def _factory() -> Any:
        return _PlainSpinLock()


class CheckedRLock:
    """A threading.RLock that takes part in lock-order checking.

    Re-acquiring it in the thread that holds it is not an ordering event (it never blocks).
    Same protocol as threading.RLock on the running interpreter: _is_owned, _release_save
    and _acquire_restore (so threading.Condition works on it), _at_fork_reinit,
    _recursion_count (3.11+) and locked() (3.14+).  The re-acquisition at the end of
    Condition.wait() is checked like any other.
    """

    __slots__ = ("_lock", "_node", "__weakref__")

    def __init__(self, name: str | None = None) -> None:
        self._lock = _cast("_InnerLock", _PlainRLock())
        self._node = _Node(name, "RLock")

    @property
    def name(self) -> str:
        return self._node.name

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        try:
            held = _tls.held
        except AttributeError:
            held = _tls.held = {}
        node = self._node
        if held and blocking:
            _check(node, held)
        if self._lock.acquire(blocking, timeout):
            _count_in(node, held)
            return True
        return False

    def __enter__(self) -> bool:
        try:
            held = _tls.held
        except AttributeError:
            held = _tls.held = {}
        node = self._node
        if held:
            _check(node, held)
        self._lock.acquire()
        entry = held.get(node.key)
        if entry is not None and entry[1] > 0:
            entry[1] += 1
        else:
            held[node.key] = [node, 1, held]
        return True

    def release(self) -> None:
        self._lock.release()  # RuntimeError unless this thread owns it
        _count_out(self._node)

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()
        held = _tls.held
        key = self._node.key
        entry = held[key]
        if entry[1] > 1:
            entry[1] -= 1
        else:
            del held[key]

    def _is_owned(self) -> bool:
        return self._lock._is_owned()

    def _release_save(self) -> tuple[Any, int]:
        state = self._lock._release_save()
        entry = _held().pop(self._node.key, None)
        return state, (entry[1] if entry is not None else 1)

    def _acquire_restore(self, saved: tuple[Any, int]) -> None:
        state, count = saved
        node = self._node
        held = _held()
        if held:
            _check(node, held)
        self._lock._acquire_restore(state)
        held[node.key] = [node, count, held]

    def _at_fork_reinit(self) -> None:
        # In the child of fork(): a new, unowned lock; the forking thread no longer holds it.
        _held().pop(self._node.key, None)
        self._lock._at_fork_reinit()

    def _recursion_count(self) -> int:
        return self._lock._recursion_count()

    def locked(self) -> bool:
        return self._lock.locked()

    def __repr__(self) -> str:
        text = repr(self._lock)
        return _stdlib_repr(self, text.startswith("<locked"), _inner_details(self._lock))

    __del__ = _forget_on_del


_trim_protocol(CheckedRLock, _PlainRLock(), ("_at_fork_reinit", "_recursion_count", "locked"))


class _CheckedRWSide:
    """CheckedRWLock.reader / .writer: one side of the lock, with the Lock protocol."""

    __slots__ = ("rwlock", "_node", "_acquire", "_release", "_exit", "_view", "_write", "__weakref__")

    def __init__(self, rwlock: CheckedRWLock, view: Any, write: bool) -> None:
        self.rwlock = rwlock
        self._node = rwlock._node
        self._view: _InnerLock = view
        self._acquire = view.acquire
        self._release = view.release
        # Not release: the view's __exit__ releases the read lock a downgrade() in the
        # block turned the write lock into.  The checker's count is unchanged by a
        # downgrade (one hold of the same node either way).
        self._exit = view.__exit__
        self._write = write

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        try:
            held = _tls.held
        except AttributeError:
            held = _tls.held = {}
        node = self._node
        if held and blocking:
            _check(node, held)
        if self._acquire(blocking, timeout):
            _count_in(node, held)
            return True
        return False

    def release(self) -> None:
        self._release()  # RuntimeError unless this thread holds this side
        _count_out(self._node)

    def locked(self) -> bool:
        return self._view.locked()

    def _is_owned(self) -> bool:
        return self._view._is_owned()

    def _at_fork_reinit(self) -> None:
        # threading.Condition._at_fork_reinit calls this on its lock: the view resets the
        # whole RWLock in the child, and the forking thread no longer holds it.
        _held().pop(self._node.key, None)
        self._view._at_fork_reinit()

    def __enter__(self) -> bool:
        try:
            held = _tls.held
        except AttributeError:
            held = _tls.held = {}
        node = self._node
        if held:
            _check(node, held)
        self._acquire()
        entry = held.get(node.key)
        if entry is not None and entry[1] > 0:
            entry[1] += 1
        else:
            held[node.key] = [node, 1, held]
        return True

    def __exit__(self, *exc_info: object) -> None:
        self._exit(None, None, None)
        held = _tls.held
        key = self._node.key
        entry = held[key]
        if entry[1] > 1:
            entry[1] -= 1
        else:
            del held[key]

    def __repr__(self) -> str:
        side = "write" if self._write else "read"
        return _stdlib_repr(self, self._view.locked(), f"({side} side)")


class CheckedRWLock:
    """A pyatomics.RWLock that takes part in lock-order checking.

    Both sides are one node of the order graph: with a writer-preferring lock, even two
    threads taking read locks in opposite orders can deadlock once writers queue up.  A
    second read hold by the same thread is re-entrant (not an ordering event).  Same API as
    RWLock: acquire_read/release_read/acquire_write/release_write, read(timeout)/write(timeout),
    acquire_upgradable/release_upgradable/upgrade/upgradable(timeout),
    reader/writer, downgrade() (also inside ``with rw.write():``), readers, write_locked,
    optimistic_read()/validate(stamp), _at_fork_reinit.
    """

    __slots__ = ("_rw", "_node", "reader", "writer", "__weakref__")

    def __init__(self, name: str | None = None) -> None:
        self._rw = _PlainRWLock()
        self._node = _Node(name, "RWLock")
        self.reader = _CheckedRWSide(self, self._rw.reader, False)
        self.writer = _CheckedRWSide(self, self._rw.writer, True)

    @property
    def name(self) -> str:
        return self._node.name

    def acquire_read(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self.reader.acquire(blocking, timeout)

    def release_read(self) -> None:
        self.reader.release()

    def acquire_write(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self.writer.acquire(blocking, timeout)

    def release_write(self) -> None:
        self.writer.release()

    # As RWLock.read/write: with no timeout the side itself is the context manager.
    @_overload
    def read(self, timeout: None = None) -> CheckedRWSide: ...
    @_overload
    def read(self, timeout: float) -> AbstractContextManager[CheckedRWSide, None]: ...
    @_overload
    def read(
        self, timeout: float | None
    ) -> CheckedRWSide | AbstractContextManager[CheckedRWSide, None]: ...

    def read(
        self, timeout: float | None = None
    ) -> CheckedRWSide | AbstractContextManager[CheckedRWSide, None]:
        """Context manager holding a read lock; TimeoutError if not had in time."""
        return self.reader if timeout is None else hold(self.reader, timeout)

    @_overload
    def write(self, timeout: None = None) -> CheckedRWSide: ...
    @_overload
    def write(self, timeout: float) -> AbstractContextManager[CheckedRWSide, None]: ...
    @_overload
    def write(
        self, timeout: float | None
    ) -> CheckedRWSide | AbstractContextManager[CheckedRWSide, None]: ...

    def write(
        self, timeout: float | None = None
    ) -> CheckedRWSide | AbstractContextManager[CheckedRWSide, None]:
        """Context manager holding the write lock (or the read lock a downgrade() in the
        block made of it); TimeoutError if not had in time."""
        return self.writer if timeout is None else hold(self.writer, timeout)

    # Upgradable reads: a hold of the same node as either side (one node per RWLock);
    # upgrade() turns that hold into the write lock, still one hold: nothing to record.
    def acquire_upgradable(self, blocking: bool = True, timeout: float = -1) -> bool:
        held = _held()
        if held and blocking:
            _check(self._node, held)
        if self._rw.acquire_upgradable(blocking, timeout):
            _count_in(self._node, held)
            return True
        return False

    def release_upgradable(self) -> None:
        self._rw.release_upgradable()  # RuntimeError unless this thread holds it
        _count_out(self._node)

    def upgrade(self, timeout: float = -1) -> bool:
        return self._rw.upgrade(timeout)

    def upgradable(self, timeout: float | None = None) -> AbstractContextManager[bool, None]:
        """Context manager holding the upgradable read lock (the write lock if the block
        upgraded, the read lock a downgrade() then made of it); TimeoutError if not had in time."""
        return _CheckedUpgradable(self, self._rw.upgradable(timeout))

    def downgrade(self) -> None:
        self._rw.downgrade()  # still one hold of the same node: nothing to record

    @property
    def readers(self) -> int:
        return self._rw.readers

    @property
    def write_locked(self) -> bool:
        return self._rw.write_locked

    # Optimistic reads hold nothing, so they are no ordering event: straight through.
    def optimistic_read(self) -> int:
        return self._rw.optimistic_read()

    def validate(self, stamp: _SupportsIndex, /) -> bool:
        return self._rw.validate(stamp)

    def _at_fork_reinit(self) -> None:
        # In the child of fork(): a new, unheld lock; the forking thread no longer holds it.
        _held().pop(self._node.key, None)
        self._rw._at_fork_reinit()

    def handle(self) -> CheckedRWLock:
        """As RWLock.handle(): a new object for the calling thread's own use, the same lock
        (it wraps the plain lock's handle) and the same node of the order graph, so that
        holds through it and through this lock are one lock's holds."""
        h = object.__new__(_CheckedRWLockHandle)
        h._root = getattr(self, "_root", self)
        h._rw = self._rw.handle()
        h._node = self._node
        h.reader = _CheckedRWSide(h, h._rw.reader, False)
        h.writer = _CheckedRWSide(h, h._rw.writer, True)
        return h

    def __repr__(self) -> str:
        # The plain form is '<pyatomics.RWLock object at 0x..., readers=0>' (or 'write-locked').
        state = repr(self._rw).partition(", ")[2].rstrip(">")
        cls = type(self)
        return f"<{cls.__module__}.{cls.__qualname__} object {self._node.name!r} at {id(self):#x}, {state}>"

    __del__ = _forget_on_del


class _CheckedRWLockHandle(CheckedRWLock):
    """What CheckedRWLock.handle() returns.  It keeps its root alive (_root), and its end
    forgets nothing: the node is the root's, dropped from the graph when the root goes."""

    __slots__ = ("_root",)
    _root: CheckedRWLock

    def __del__(self) -> None:
        pass


class _CheckedUpgradable:
    """What CheckedRWLock.upgradable() returns: the plain guard, with the hold recorded."""

    __slots__ = ("_node", "_guard")

    def __init__(self, rw: CheckedRWLock, guard: Any) -> None:
        self._node = rw._node
        self._guard = guard

    def __enter__(self) -> bool:
        held = _held()
        if held:
            _check(self._node, held)
        self._guard.__enter__()  # TimeoutError: nothing held, nothing recorded
        _count_in(self._node, held)
        return True

    def __exit__(self, *exc_info: object) -> None:
        self._guard.__exit__(None, None, None)
        _count_out(self._node)


# The type of CheckedRWLock.reader and .writer, by a public name.
CheckedRWSide = _CheckedRWSide

_trim_protocol(CheckedRWLock, _PlainRWLock(), ("_at_fork_reinit",))
_trim_protocol(_CheckedRWSide, _PlainRWLock().reader, ("_at_fork_reinit",))

# What threading.Lock and threading.RLock were before enable_lock_order_checking(
# patch_threading=True) replaced them; None while they are not replaced.
_threading_saved: tuple[Any, Any] | None = None


def enable_lock_order_checking(*, patch_threading: bool = False) -> None:
    """Switch checking on for locks made from now on: ``Lock``, ``RLock``, ``SpinLock`` and
    ``RWLock`` of this module become the Checked* classes, and new_lock() & co. return them.
    Locks made before stay as they are (plain locks are invisible to the checker).

    With ``patch_threading=True``, ``threading.Lock`` and ``threading.RLock`` become
    CheckedLock and CheckedRLock too, until disable_lock_order_checking(): code that calls
    ``threading.Lock()`` (including threading's own Condition, Event, Semaphore and Barrier,
    queue.Queue, logging...) is checked as well.  Names bound before (``from threading
    import Lock``) and ``_thread.allocate_lock()`` are not affected.  A call without it
    leaves an earlier patch in place."""
    global _checking, _threading_saved, Lock, RLock, SpinLock, RWLock
    _checking = True
    Lock, RLock, SpinLock, RWLock = CheckedLock, CheckedRLock, CheckedSpinLock, CheckedRWLock
    if patch_threading and _threading_saved is None:
        _threading_saved = (threading.Lock, threading.RLock)
        threading.Lock, threading.RLock = CheckedLock, CheckedRLock  # type: ignore[assignment]


def disable_lock_order_checking() -> None:
    """Switch checking off for locks made from now on: ``sync.Lock()`` makes a plain
    threading.Lock again, and so on; threading.Lock and threading.RLock are restored if
    enable_lock_order_checking(patch_threading=True) replaced them.  Checked locks already
    made keep checking (against the same graph)."""
    global _checking, _threading_saved, Lock, RLock, SpinLock, RWLock
    _checking = False
    Lock, RLock = _PlainLockFactory, _PlainRLockFactory
    SpinLock, RWLock = _PlainSpinLockFactory, _PlainRWLockFactory
    saved, _threading_saved = _threading_saved, None
    if saved is not None:
        # Only our own replacement is undone: if something patched threading after us, it
        # is its to undo.
        if _cast(object, threading.Lock) is CheckedLock:
            threading.Lock = saved[0]
        if _cast(object, threading.RLock) is CheckedRLock:
            threading.RLock = saved[1]


def lock_order_checking_enabled() -> bool:
    return _checking


def new_lock(name: str | None = None) -> threading.Lock | CheckedLock:
    """A threading.Lock, or a CheckedLock named ``name`` while checking is on."""
    return CheckedLock(name) if _checking else _PlainLock()


def new_rlock(name: str | None = None) -> threading.RLock | CheckedRLock:
    """A threading.RLock, or a CheckedRLock named ``name`` while checking is on."""
    return CheckedRLock(name) if _checking else _PlainRLock()


def new_spinlock(name: str | None = None) -> _PlainSpinLock | CheckedSpinLock:
    """A pyatomics.SpinLock, or a CheckedSpinLock named ``name`` while checking is on."""
    return CheckedSpinLock(name) if _checking else _PlainSpinLock()


def new_rwlock(name: str | None = None) -> _PlainRWLock | CheckedRWLock:
    """A pyatomics.RWLock, or a CheckedRWLock named ``name`` while checking is on."""
    return CheckedRWLock(name) if _checking else _PlainRWLock()


# "1" (or true/yes/on): checking on; "threading": on, and threading.Lock/RLock patched too.
_env = os.environ.get("PYATOMICS_LOCK_ORDER_CHECK", "").strip().lower()
if _env in ("1", "true", "yes", "on", "threading"):
    enable_lock_order_checking(patch_threading=_env == "threading")
del _env
