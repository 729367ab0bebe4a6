"""pyatomics: atomics and locks for free-threaded Python, written in C.

    from pyatomics import AtomicInt, SpinLock, RWLock

Two bindings of the same C core (csrc/), with the same API and behaviour:

* "capi": pyatomics._capi_binding, the CPython C-API extension.  The classes are
  the C types themselves (no Python wrapper on the hot path).  The default on
  CPython.
* "cffi": pyatomics._cffi_binding, thin Python classes over the cffi module
  pyatomics._cffi_binding_lib.  The default (and only) backend on PyPy, whose JIT
  calls cffi functions directly; selectable on CPython where it is built (all
  CPythons but free-threaded 3.13, which cffi does not support).

PYATOMICS_BACKEND=capi or =cffi, read at import, forces one; anything else is
an ImportError, and so is a backend that is not available: there is never a
silent fallback from one to the other.
"""

from __future__ import annotations

import importlib.util as _importlib_util
import os as _os
import sys as _sys
from types import ModuleType as _ModuleType
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# The compiled module each backend needs, by backend name.
_EXTENSIONS = {"capi": "pyatomics._capi_binding", "cffi": "pyatomics._cffi_binding_lib"}


def available_backends() -> frozenset[str]:
    """The backends built into this installation ("capi", "cffi"), whether or not in use."""
    return frozenset(name for name, module in _EXTENSIONS.items()
                     if _importlib_util.find_spec(module) is not None)


def _select_backend() -> str:
    requested = _os.environ.get("PYATOMICS_BACKEND", "").strip().lower()
    if requested == "":
        return "cffi" if _sys.implementation.name == "pypy" else "capi"
    if requested not in _EXTENSIONS:
        raise ImportError(
            f"PYATOMICS_BACKEND={_os.environ['PYATOMICS_BACKEND']!r} is not a pyatomics backend: "
            "use 'capi' (the CPython C-API extension) or 'cffi', or leave it unset for the default"
        )
    return requested


def _import_backend(name: str) -> tuple[_ModuleType, _ModuleType]:
    try:
        if name == "capi":
            from . import _capi_binding

            return _capi_binding, _capi_binding
        from . import _cffi_binding, _cffi_binding_lib

        return _cffi_binding, _cffi_binding_lib
    except ImportError as exc:
        if _importlib_util.find_spec(_EXTENSIONS[name]) is None and not available_backends():
            raise ImportError(
                "pyatomics is not built here: this is the source tree, whose compiled modules "
                "are made by installing it (`pip install .`, or `bash scripts/test.sh`); "
                "run Python from another directory to use the installed package"
            ) from exc
        if name == "capi" and _sys.implementation.name == "pypy":
            why = "it is not built on PyPy, which uses the cffi backend (leave PYATOMICS_BACKEND unset)"
        elif name == "cffi" and _importlib_util.find_spec(_EXTENSIONS["cffi"]) is None:
            why = ("it is not built in this installation (it is built only where cffi supports the "
                   "interpreter: PyPy, and CPython except free-threaded 3.13)")
        else:
            why = f"{type(exc).__name__}: {exc}"
        raise ImportError(f"pyatomics: the {name!r} backend cannot be imported: {why}") from exc


BACKEND: str = _select_backend()
_backend, _extension = _import_backend(BACKEND)
if hasattr(_os, "register_at_fork"):
    # A child's main thread is the one that forked (signals are run there).
    _os.register_at_fork(after_in_child=_backend._after_fork_in_child)

# An AtomicInt answers the int protocol on a snapshot of its value (the
# methods listed in csrc/pa_contract.h), so it is registered where int is:
# isinstance(a, numbers.Integral), Fraction(a), statistics and the like.
import numbers as _numbers

_numbers.Integral.register(_backend.AtomicInt)

# For type checkers the classes are the C-API binding's (its stub, pyatomics/_capi_binding.pyi,
# is also the cffi binding's): one set of types whichever backend runs.
if TYPE_CHECKING:
    from ._capi_binding import (
        AtomicCounter,
        AtomicCounterHandle,
        AtomicInt,
        AtomicIntHandle,
        AtomicRef,
        AtomicRefHandle,
        RWLock,
        RWLockGuard,
        RWLockHandle,
        RWLockView,
        SpinLock,
    )
else:
    AtomicInt = _backend.AtomicInt
    AtomicCounter = _backend.AtomicCounter
    AtomicRef = _backend.AtomicRef
    SpinLock = _backend.SpinLock
    RWLock = _backend.RWLock
    # Not made directly: the types of rw.reader / rw.writer and of rw.read(timeout) /
    # rw.write(timeout), exported to be named in annotations and isinstance().
    RWLockView = _backend.RWLockView
    RWLockGuard = _backend.RWLockGuard
    # Not made directly either: what x.handle() returns (a subclass of x's type, bound to
    # the same value or lock, for one thread's use).
    AtomicIntHandle = _backend.AtomicIntHandle
    AtomicCounterHandle = _backend.AtomicCounterHandle
    AtomicRefHandle = _backend.AtomicRefHandle
    RWLockHandle = _backend.RWLockHandle

__all__ = [
    "AtomicCounter",
    "AtomicCounterHandle",
    "AtomicInt",
    "AtomicIntHandle",
    "AtomicRef",
    "AtomicRefHandle",
    "RWLock",
    "RWLockGuard",
    "RWLockHandle",
    "RWLockView",
    "SpinLock",
    "BACKEND",
    "available_backends",
    "__version__",
]
