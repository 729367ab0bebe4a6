"""pyatomics.sync: the standard synchronization primitives under one roof.

    from pyatomics import sync

    accounts = sync.new_lock("accounts")        # a plain threading.Lock unless checking is on
    with sync.hold(accounts, timeout=1.0):      # TimeoutError instead of a silent hang
        ...
    with sync.acquire_all(a, b, c, timeout=2):  # one global order, whatever order you name them
        ...

This module wraps, it does not reimplement:

* ``Lock``, ``RLock``, ``Semaphore``, ``BoundedSemaphore``, ``Event``, ``Condition``,
  ``Barrier``, ``Timer``, ``local`` (from :mod:`threading`) and ``ThreadPoolExecutor``
  (from :mod:`concurrent.futures`, imported on first use) are the very same objects,
  re-exported, so the normal path costs nothing.  ``SpinLock``, ``RWLock`` and ``AtomicInt`` are pyatomics' own types.
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

With checking off (the default), ``sync.Lock is threading.Lock``, ``sync.RLock is
threading.RLock``, ``sync.SpinLock is pyatomics.SpinLock`` and ``sync.RWLock is
pyatomics.RWLock``: no wrapper, no overhead.  Because ``threading.Lock`` takes no arguments,
code that wants to *name* its locks in both modes uses the factories :func:`new_lock`,
:func:`new_rlock`, :func:`new_spinlock` and :func:`new_rwlock` (``name`` is ignored when
checking is off; the lock returned is the plain object).  Note that ``from pyatomics.sync
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

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

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
    "SpinLock",
    "RWLock",
    "AtomicInt",
    # helpers
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
]

_PlainLock = threading.Lock
_PlainRLock = threading.RLock

# Rebound by enable_lock_order_checking() / disable_lock_order_checking().
Lock: Any = _PlainLock
RLock: Any = _PlainRLock
SpinLock: Any = _PlainSpinLock
RWLock: Any = _PlainRWLock

_monotonic = time.monotonic


def __getattr__(name: str) -> Any:
    # ThreadPoolExecutor is imported on first use: concurrent.futures pulls in logging and
    # more (about 10 ms), which code that only wants the locks should not pay for.
    if name == "ThreadPoolExecutor":
        from concurrent.futures import ThreadPoolExecutor

        globals()["ThreadPoolExecutor"] = ThreadPoolExecutor
        return ThreadPoolExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _normalize_timeout(timeout: float | None, what: str) -> float | None:
    """None (or a timeout too large for the OS) -> None = forever; else a number >= 0."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise TypeError(f"{what}: timeout must be None or a number, not {type(timeout).__name__!r}")
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f"{what}: timeout must be None or a non-negative number, not {timeout!r}")
    if timeout >= threading.TIMEOUT_MAX:
        return None
    return float(timeout)


# ===========================================================================
# hold()
# ===========================================================================


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
        self._lock.release()


def _check_lock_like(lock: Any, what: str) -> None:
    if not (callable(getattr(lock, "acquire", None)) and callable(getattr(lock, "release", None))):
        hint = (
            "; an RWLock has two sides: pass rw.reader or rw.writer" if hasattr(lock, "acquire_read") else ""
        )
        raise TypeError(f"{what}() needs objects with acquire() and release(), not {lock!r}{hint}")


def hold(lock: Any, timeout: float | None = None) -> _Hold:
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


def _lock_identity(lock: Any) -> int:
    """The per-object key acquire_all() orders by: id() of the underlying lock.

    id() is unique among objects alive at the same time, and the objects are alive (we hold
    references to them) for as long as the order matters, so it is a stable key.  The two
    sides of one RWLock share the RWLock's key (they are one lock for deadlock purposes), and
    a Condition shares the key of the lock it wraps.
    """
    while isinstance(lock, Condition):
        lock = lock._lock
    rw = getattr(lock, "rwlock", None)
    if rw is not None:
        return id(rw)
    return id(lock)


class _AcquireAll:
    __slots__ = ("_order", "_timeout")

    def __init__(self, order: tuple, timeout: float | None) -> None:
        self._order = order
        self._timeout = timeout

    def __enter__(self) -> tuple:
        timeout = self._timeout
        deadline = None if timeout is None else _monotonic() + timeout
        acquired: list = []
        try:
            for lock in self._order:
                if deadline is None:
                    lock.acquire()
                else:
                    remaining = deadline - _monotonic()
                    if not lock.acquire(True, remaining if remaining > 0.0 else 0.0):
                        raise TimeoutError(
                            f"acquire_all(): could not acquire {lock!r} within the {timeout} s "
                            f"deadline (the {len(acquired)} of {len(self._order)} locks taken before it "
                            "have been released)"
                        )
                acquired.append(lock)
        except BaseException:
            _release_reversed(acquired)
            raise
        return self._order

    def __exit__(self, *exc_info: object) -> None:
        _release_reversed(self._order)


def _release_reversed(locks: Iterable) -> None:
    """Release every lock, last first; if some release() raises, still release the rest,
    then re-raise the first error."""
    error = None
    for lock in reversed(list(locks)):
        try:
            lock.release()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            if error is None:
                error = exc
    if error is not None:
        raise error


def acquire_all(*locks: Any, timeout: float | None = None) -> _AcquireAll:
    """Context manager: acquire all ``locks`` in one global, stable order; release in reverse.

    The order does not depend on the order the caller names the locks: they are sorted by
    the id() of the underlying lock (see ``_lock_identity``), so two callers asking for
    ``(a, b)`` and ``(b, a)`` take them in the same order and cannot deadlock each other.
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
    keyed = sorted(((_lock_identity(lock), i) for i, lock in enumerate(locks)))
    for (k1, i1), (k2, i2) in zip(keyed, keyed[1:]):
        if k1 == k2:
            raise ValueError(
                f"acquire_all() got the same lock twice: {locks[i1]!r} and {locks[i2]!r} "
                "(arguments %d and %d)" % (i1, i2)
            )
    return _AcquireAll(tuple(locks[i] for _, i in keyed), timeout)


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


def join_all(threads: Iterable[threading.Thread], timeout: float | None = None) -> list:
    """Wait until every thread has ended, or ``timeout`` seconds (total) have passed.

    Returns the threads still alive (an empty list if all ended), in the order given.
    Waits in slices of at most 0.05 s, so the main thread gets back to the interpreter
    often and a Ctrl-C (KeyboardInterrupt, or any signal handler that raises) surfaces
    within about a slice even where a long join() cannot be interrupted (Windows, and
    joins that wait without waking for signals).  An interrupted join_all() leaves the
    threads' state correct: they are still joinable and still alive if they were.
    """
    threads = list(threads)
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


class StoppableThread(threading.Thread):
    """A thread for background work that can be asked to stop and then cleans up.

    ``target(stop_event, *args, **kwargs)`` runs with the thread's ``stop_event`` (a
    threading.Event) first; it should return soon after the event is set, e.g.
    ``while not stop_event.wait(interval): do_work()``.  Or subclass and override run(),
    using ``self.stop_event``.

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
    ) -> None:
        super().__init__(name=name, daemon=daemon)
        self.stop_event = Event()
        self._stoppable_target = target
        self._stoppable_args = tuple(args)
        self._stoppable_kwargs = dict(kwargs) if kwargs else {}

    def run(self) -> None:
        try:
            if self._stoppable_target is not None:
                self._stoppable_target(self.stop_event, *self._stoppable_args, **self._stoppable_kwargs)
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
        self, message: str, acquiring: str = "", holding: str = "", location: str = "", cycle: Iterable = ()
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
_edges: dict = {}
_dead_keys: list = []  # keys of collected locks, purged from the graph lazily
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


def _caller_frame() -> Any:
    """The first frame outside this module, threading and contextlib (the user's call)."""
    f = sys._getframe(1)
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


def _held() -> dict:
    try:
        return _tls.held
    except AttributeError:
        held = _tls.held = {}
        return held


def _check(node: _Node, held: dict) -> None:
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


def _record(node: _Node, held: dict) -> None:
    key = node.key
    for stale in [k for k, e in held.items() if e[1] <= 0]:  # released by another thread
        del held[stale]
    holding = [e[0] for e in held.values() if e[0].key != key]
    where = _caller_location()
    thread = threading.current_thread().name
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
    if error is not None:
        raise error


def _find_path(src: int, dst: int) -> list | None:
    """The recorded edges of a path src -> ... -> dst, or None.  Under _graph_lock."""
    previous: dict = {src: None}
    stack = [src]
    while stack:
        k = stack.pop()
        for nxt, edge in _edges.get(k, {}).items():
            if nxt in previous:
                continue
            previous[nxt] = (k, edge)
            if nxt == dst:
                path = []
                while previous[nxt] is not None:
                    nxt, edge = previous[nxt]
                    path.append(edge)
                path.reverse()
                return path
            stack.append(nxt)
    return None


def _order_error(node: _Node, holding: _Node, where: str, thread: str, path: list) -> LockOrderError:
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
        "locks in one order everywhere (acquire_all() can do it for you)"
    )
    return LockOrderError("\n".join(lines), node.name, holding.name, where, path)


def _purge_dead() -> None:
    """Drop collected locks from the graph.  Under _graph_lock."""
    dead = set()
    while _dead_keys:
        dead.add(_dead_keys.pop())
    for k in dead:
        _edges.pop(k, None)
    for out in _edges.values():
        for k in dead.intersection(out):
            del out[k]


def _count_in(node: _Node, held: dict) -> None:
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


class CheckedLock:
    """A threading.Lock that takes part in lock-order checking (see the module docstring).

    Same protocol as threading.Lock: acquire(blocking=True, timeout=-1), release(), locked(),
    context manager; any thread may release it.  ``name`` appears in LockOrderError messages.
    Non-blocking acquisitions (blocking=False) cannot deadlock, so they are not checked, but
    the lock then counts as held for later acquisitions.
    """

    __slots__ = ("_lock", "_node", "_entry", "__weakref__")
    _kind = "Lock"

    @staticmethod
    def _factory() -> Any:
        return _PlainLock()

    def __init__(self, name: str | None = None) -> None:
        self._lock = self._factory()
        self._node = _Node(name, self._kind)
        self._entry: list | None = None

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

    def __repr__(self) -> str:
        state = "locked" if self._lock.locked() else "unlocked"
        return f"<{state} {type(self).__name__} {self._node.name!r} at {id(self):#x}>"

    __del__ = _forget_on_del


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
    Works with threading.Condition (provides _is_owned, _release_save, _acquire_restore);
    the re-acquisition at the end of Condition.wait() is checked like any other.
    """

    __slots__ = ("_lock", "_node", "__weakref__")

    def __init__(self, name: str | None = None) -> None:
        self._lock = _PlainRLock()
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

    def _release_save(self) -> tuple:
        state = self._lock._release_save()
        entry = _held().pop(self._node.key, None)
        return state, (entry[1] if entry is not None else 1)

    def _acquire_restore(self, saved: tuple) -> None:
        state, count = saved
        node = self._node
        held = _held()
        if held:
            _check(node, held)
        self._lock._acquire_restore(state)
        held[node.key] = [node, count, held]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._node.name!r} wrapping {self._lock!r}>"

    __del__ = _forget_on_del


class _CheckedRWSide:
    """CheckedRWLock.reader / .writer: one side of the lock, with the Lock protocol."""

    __slots__ = ("rwlock", "_node", "_acquire", "_release", "_view", "_write")

    def __init__(self, rwlock: CheckedRWLock, view: Any, write: bool) -> None:
        self.rwlock = rwlock
        self._node = rwlock._node
        self._view = view
        self._acquire = view.acquire
        self._release = view.release
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
        self._release()
        held = _tls.held
        key = self._node.key
        entry = held[key]
        if entry[1] > 1:
            entry[1] -= 1
        else:
            del held[key]

    def __repr__(self) -> str:
        side = "write" if self._write else "read"
        return f"<{side} side of {self.rwlock!r}>"


class CheckedRWLock:
    """A pyatomics.RWLock that takes part in lock-order checking.

    Both sides are one node of the order graph: with a writer-preferring lock, even two
    threads taking read locks in opposite orders can deadlock once writers queue up.  A
    second read hold by the same thread is re-entrant (not an ordering event).  Same API as
    RWLock: acquire_read/release_read/acquire_write/release_write, read(timeout)/write(timeout),
    reader/writer, downgrade(), readers, write_locked.
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

    def read(self, timeout: float | None = None) -> Any:
        """Context manager holding a read lock; TimeoutError if not had in time."""
        return self.reader if timeout is None else hold(self.reader, timeout)

    def write(self, timeout: float | None = None) -> Any:
        """Context manager holding the write lock; TimeoutError if not had in time."""
        return self.writer if timeout is None else hold(self.writer, timeout)

    def downgrade(self) -> None:
        self._rw.downgrade()  # still one hold of the same node: nothing to record

    @property
    def readers(self) -> int:
        return self._rw.readers

    @property
    def write_locked(self) -> bool:
        return self._rw.write_locked

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._node.name!r} wrapping {self._rw!r}>"

    __del__ = _forget_on_del


def enable_lock_order_checking() -> None:
    """Switch checking on for locks made from now on: ``Lock``, ``RLock``, ``SpinLock`` and
    ``RWLock`` of this module become the Checked* classes, and new_lock() & co. return them.
    Locks made before stay as they are (plain locks are invisible to the checker)."""
    global _checking, Lock, RLock, SpinLock, RWLock
    _checking = True
    Lock, RLock, SpinLock, RWLock = CheckedLock, CheckedRLock, CheckedSpinLock, CheckedRWLock


def disable_lock_order_checking() -> None:
    """Switch checking off for locks made from now on: ``Lock`` is threading.Lock again,
    and so on.  Checked locks already made keep checking (against the same graph)."""
    global _checking, Lock, RLock, SpinLock, RWLock
    _checking = False
    Lock, RLock, SpinLock, RWLock = _PlainLock, _PlainRLock, _PlainSpinLock, _PlainRWLock


def lock_order_checking_enabled() -> bool:
    return _checking


def new_lock(name: str | None = None) -> Any:
    """A threading.Lock, or a CheckedLock named ``name`` while checking is on."""
    return CheckedLock(name) if _checking else _PlainLock()


def new_rlock(name: str | None = None) -> Any:
    """A threading.RLock, or a CheckedRLock named ``name`` while checking is on."""
    return CheckedRLock(name) if _checking else _PlainRLock()


def new_spinlock(name: str | None = None) -> Any:
    """A pyatomics.SpinLock, or a CheckedSpinLock named ``name`` while checking is on."""
    return CheckedSpinLock(name) if _checking else _PlainSpinLock()


def new_rwlock(name: str | None = None) -> Any:
    """A pyatomics.RWLock, or a CheckedRWLock named ``name`` while checking is on."""
    return CheckedRWLock(name) if _checking else _PlainRWLock()


if os.environ.get("PYATOMICS_LOCK_ORDER_CHECK", "").strip().lower() in ("1", "true", "yes", "on"):
    enable_lock_order_checking()
