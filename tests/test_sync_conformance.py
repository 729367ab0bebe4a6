"""CPython's own lock test-suite (Lib/test/lock_tests.py) run against every lock-like
type pyatomics.sync hands out, with lock-order checking off and on.

With checking off, sync.Lock() & co. return the plain locks; with it on, the Checked*
wrappers, which must keep the full protocol of what they wrap on the running interpreter
(threading.Condition and threading's fork handlers rely on its private half), so that
switching the debugging aid on never changes what a correct program does.  With
``patch_threading=True`` the stdlib primitives built on threading.Lock (Event, Semaphore,
Barrier, Condition) run on checked locks too.

The lock_tests are never skipped: an interpreter without CPython's test package fails
test_lock_tests_are_importable instead (install it: Debian's libpython3.X-testsuite,
PyPy's own is part of pypy3-lib-testsuite).
"""

from __future__ import annotations

import re
import threading
import unittest

import pytest

import pyatomics
from pyatomics import sync

try:
    from test import lock_tests
except (ImportError, OSError) as exc:  # Debian's PyPy 3.11: FileNotFoundError from test.support
    lock_tests = None
    LOCK_TESTS_ERROR: BaseException | None = exc
else:
    LOCK_TESTS_ERROR = None


def test_lock_tests_are_importable():
    assert lock_tests is not None, (
        f"CPython's test.lock_tests cannot be imported ({LOCK_TESTS_ERROR!r}): the conformance "
        "tests of pyatomics.sync would not run; install the interpreter's test package"
    )


# ---------------------------------------------------------------------------
# The protocol, compared name by name with the wrapped type on this interpreter
# ---------------------------------------------------------------------------

# The private names of the stdlib locks' protocol (threading.Condition picks its strategy by
# hasattr() on the first three; threading's fork handlers call _at_fork_reinit).
PRIVATE_PROTOCOL = ("_is_owned", "_release_save", "_acquire_restore", "_at_fork_reinit", "_recursion_count")


def protocol(obj) -> set:
    """The names a lock-like object offers: public ones, the context manager and the
    private protocol (not implementation details such as the cffi backend's _p)."""
    return {
        n
        for n in dir(obj)
        if not n.startswith("_") or n in PRIVATE_PROTOCOL or n in ("__enter__", "__exit__")
    }


PAIRS = {
    "Lock": (threading.Lock, sync.CheckedLock),
    "RLock": (threading.RLock, sync.CheckedRLock),
    "SpinLock": (pyatomics.SpinLock, sync.CheckedSpinLock),
    "RWLock": (pyatomics.RWLock, sync.CheckedRWLock),
    "RWLock.reader": (lambda: pyatomics.RWLock().reader, lambda: sync.CheckedRWLock().reader),
    "RWLock.writer": (lambda: pyatomics.RWLock().writer, lambda: sync.CheckedRWLock().writer),
}


@pytest.mark.parametrize("kind", list(PAIRS))
def test_checked_wrapper_has_the_protocol_of_what_it_wraps(kind):
    plain_factory, checked_factory = PAIRS[kind]
    plain, checked = plain_factory(), checked_factory()
    missing = protocol(plain) - protocol(checked)
    assert not missing, f"Checked {kind} lacks {sorted(missing)} of the plain type"
    # threading.Condition picks its strategy by hasattr() on exactly these: answer as the
    # plain lock does, no more (a Lock must not grow _release_save) and no less.
    for name in PRIVATE_PROTOCOL:
        assert hasattr(checked, name) == hasattr(plain, name), name


def test_checked_rlock_private_protocol_delegates():
    r = sync.CheckedRLock(name="r")
    plain = threading.RLock()
    assert r._is_owned() is False
    with r, r:
        assert r._is_owned() is True
        if hasattr(plain, "_recursion_count"):  # 3.11+
            assert r._recursion_count() == 2
        if hasattr(plain, "locked"):  # 3.14+
            assert r.locked() is True
        assert sync._held()[r._node.key][1] == 2
    if hasattr(plain, "_recursion_count"):
        assert r._recursion_count() == 0
    assert sync._held() == {}
    r.acquire()
    r._at_fork_reinit()  # as in a child of fork(): a new, unowned lock, held by nobody
    assert sync._held() == {} and not r._is_owned()
    assert r.acquire(False)
    r.release()
    assert sync._held() == {}


@pytest.mark.parametrize("factory", [sync.CheckedLock, sync.CheckedSpinLock])
def test_checked_lock_at_fork_reinit_forgets_the_hold(factory):
    lock = factory(name="x")
    other = sync.CheckedLock(name="other")
    lock.acquire()
    lock._at_fork_reinit()
    assert not lock.locked() and sync._held() == {}
    with other:  # no stale "x is held" left behind: no x -> other edge
        pass
    assert lock._node.key not in sync._edges
    lock.acquire_lock() if hasattr(lock, "acquire_lock") else lock.acquire()
    assert lock.locked() and lock._node.key in sync._held()
    lock.release()
    assert sync._held() == {}


def test_checked_rwlock_at_fork_reinit_forgets_the_hold():
    rw = sync.CheckedRWLock(name="rw")
    if not hasattr(pyatomics.RWLock(), "_at_fork_reinit"):
        assert not hasattr(rw, "_at_fork_reinit")
        return
    rw.acquire_write()
    rw._at_fork_reinit()
    assert not rw.write_locked and rw.readers == 0 and sync._held() == {}
    with rw.write(timeout=1):
        pass


STDLIB_REPR = re.compile(r"<(locked|unlocked) \S+ object (.*)?at 0x[0-9a-f]+>")


@pytest.mark.parametrize("kind", ["Lock", "RLock", "SpinLock", "RWLock.reader", "RWLock.writer"])
def test_checked_reprs_have_the_stdlib_form(kind):
    lock = PAIRS[kind][1]()
    text = repr(lock)
    m = STDLIB_REPR.fullmatch(text)
    assert m and m.group(1) == "unlocked", text
    assert "pyatomics.sync." in text and repr(lock._node.name) in text
    lock.acquire()
    try:
        m = STDLIB_REPR.fullmatch(repr(lock))
        assert m and m.group(1) == "locked", repr(lock)
        if kind == "RLock":
            assert f"owner={threading.get_ident()} count=1" in repr(lock)
        if kind.startswith("RWLock"):
            assert ("(write side)" if kind.endswith("writer") else "(read side)") in repr(lock)
    finally:
        lock.release()
    rw = sync.CheckedRWLock(name="config")
    assert re.fullmatch(
        r"<pyatomics\.sync\.CheckedRWLock object 'config' at 0x[0-9a-f]+, readers=0>", repr(rw)
    )
    with rw.writer:
        assert repr(rw).endswith(", write-locked>")


# ---------------------------------------------------------------------------
# lock_tests, in each mode
# ---------------------------------------------------------------------------


class _Mode:
    """Mixin: each test runs with lock-order checking as `checking` says (and threading's
    Lock/RLock patched if `patch`), and leaves the module as it found it."""

    checking = False
    patch = False

    def setUp(self):
        self._was_checking = sync.lock_order_checking_enabled()
        sync.disable_lock_order_checking()
        if self.patch:
            sync.enable_lock_order_checking(patch_threading=True)
        elif self.checking:
            sync.enable_lock_order_checking()
        super().setUp()

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            sync.disable_lock_order_checking()
            if self._was_checking:
                sync.enable_lock_order_checking()


def _made(kind):
    """A lock of `kind`, made the way users make it, in whichever mode is on now."""
    return {
        "Lock": lambda: sync.Lock(),
        "RLock": lambda: sync.RLock(),
        "SpinLock": lambda: sync.SpinLock(),
        "new_lock": lambda: sync.new_lock("L"),
        "new_rlock": lambda: sync.new_rlock("R"),
        "new_spinlock": lambda: sync.new_spinlock("S"),
        "RWLock.writer": lambda: sync.RWLock().writer,
        "RWLock.reader": lambda: sync.RWLock().reader,
    }[kind]


def _expect_checked(test, lock, checked_type):
    test.assertIsInstance(lock, checked_type if test.checking else object)
    if not test.checking:
        test.assertNotIsInstance(lock, (sync.CheckedLock, sync.CheckedRLock, sync._CheckedRWSide))


if lock_tests is not None:
    import test_lock_conformance as _base

    def _classes():
        """One unittest class per (lock_tests class, lock kind, mode)."""
        plans = [
            ("Lock", lock_tests.LockTests, sync.CheckedLock),
            ("new_lock", lock_tests.LockTests, sync.CheckedLock),
            ("SpinLock", lock_tests.LockTests, sync.CheckedSpinLock),
            ("new_spinlock", lock_tests.LockTests, sync.CheckedSpinLock),
            ("RLock", lock_tests.RLockTests, sync.CheckedRLock),
            ("new_rlock", lock_tests.RLockTests, sync.CheckedRLock),
            ("RWLock.writer", lock_tests.BaseLockTests, sync._CheckedRWSide),
            ("RWLock.reader", _base.TestRWLockReaderConformance, sync._CheckedRWSide),
        ]
        # With checking off the factories hand out the plain locks themselves
        # (threading's, or pyatomics' own, which tests/test_lock_conformance.py
        # runs lock_tests on), so that mode only checks what is made.  Of two
        # factories of one checked type (sync.Lock and sync.new_lock), lock_tests
        # run on the second: the suite costs ~0.8 s a class in test_timeout alone,
        # on every interpreter and backend.
        lock_tests_on = {"new_lock", "new_spinlock", "new_rlock", "RWLock.writer", "RWLock.reader"}
        out = {}
        for checking in (False, True):
            mode = "Checked" if checking else "Plain"
            for kind, base, checked_type in plans:
                make = _made(kind)

                def locktype(make=make):
                    return make()

                def test_made_in_this_mode(self, make=make, checked_type=checked_type):
                    _expect_checked(self, make(), checked_type)

                with_lock_tests = checking and kind in lock_tests_on
                bases = (_Mode, base) if with_lock_tests else (_Mode, unittest.TestCase)
                suffix = base.__name__ if with_lock_tests else "made"
                name = f"Test{mode}_{kind.replace('.', '_')}_{suffix}"
                out[name] = type(
                    name,
                    bases,
                    {
                        "checking": checking,
                        "locktype": staticmethod(locktype),
                        "test_made_in_this_mode": test_made_in_this_mode,
                        "__module__": __name__,
                    },
                )

            # threading.Condition over each lock kind.
            def default_condition(lock=None):
                return threading.Condition(sync.RLock() if lock is None else lock)

            conditions = [
                ("RLock", lock_tests.ConditionTests, staticmethod(default_condition)),
                (
                    "SpinLock",
                    _base.TestConditionOnSpinLock,
                    staticmethod(
                        lambda lock=None: threading.Condition(sync.SpinLock() if lock is None else lock)
                    ),
                ),
                (
                    "Lock",
                    _base.TestConditionOnSpinLock,  # the same overrides: a non-reentrant lock
                    staticmethod(
                        lambda lock=None: threading.Condition(sync.Lock() if lock is None else lock)
                    ),
                ),
                (
                    "RWLock_writer",
                    _base.TestConditionOnRWLockWriter,
                    staticmethod(
                        lambda lock=None: threading.Condition(sync.RWLock().writer if lock is None else lock)
                    ),
                ),
            ]
            for kind, base, condtype in conditions if checking else ():
                name = f"Test{mode}_Condition_on_{kind}"
                out[name] = type(
                    name, (_Mode, base), {"checking": checking, "condtype": condtype, "__module__": __name__}
                )

        # patch_threading: threading's own primitives, built on threading.Lock/RLock, run on
        # checked locks (Event, Semaphore, Barrier: Condition(Lock()); Condition(): RLock()).
        # (threading.Lock()/RLock() themselves are the checked types above; the
        # class TestPatchedThreadingReallyChecks shows they are what they return.)
        patched = [
            (
                "Condition",
                lock_tests.ConditionTests,
                {"condtype": staticmethod(lambda *a, **k: threading.Condition(*a, **k))},
            ),
            (
                "Event",
                lock_tests.EventTests,
                {"eventtype": staticmethod(lambda *a, **k: threading.Event(*a, **k))},
            ),
            (
                "Semaphore",
                lock_tests.SemaphoreTests,
                {"semtype": staticmethod(lambda *a, **k: threading.Semaphore(*a, **k))},
            ),
            (
                "BoundedSemaphore",
                lock_tests.BoundedSemaphoreTests,
                {"semtype": staticmethod(lambda *a, **k: threading.BoundedSemaphore(*a, **k))},
            ),
            (
                "Barrier",
                lock_tests.BarrierTests,
                {"barriertype": staticmethod(lambda *a, **k: threading.Barrier(*a, **k))},
            ),
        ]
        for kind, base, attrs in patched:
            name = f"TestPatchedThreading_{kind}"
            out[name] = type(
                name, (_Mode, base), {"checking": True, "patch": True, "__module__": __name__, **attrs}
            )
        return out

    globals().update(_classes())

    class TestPatchedThreadingReallyChecks(_Mode, lock_tests.BaseTestCase):
        """The patched mode above is not a no-op: the stdlib primitives hold checked locks."""

        checking = True
        patch = True

        def test_primitives_use_checked_locks(self):
            self.assertIsInstance(threading.Lock(), sync.CheckedLock)
            self.assertIsInstance(threading.Condition()._lock, sync.CheckedRLock)
            self.assertIsInstance(threading.Event()._cond._lock, sync.CheckedLock)
            self.assertIsInstance(threading.Semaphore()._cond._lock, sync.CheckedLock)
