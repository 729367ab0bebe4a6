"""pyatomics: atomics and locks for free-threaded Python, written in C.

    from pyatomics import AtomicInt, SpinLock, RWLock

The classes are the C types themselves (no Python wrapper on the hot path).
"""

from ._pyatomics import AtomicInt, RWLock, SpinLock

__version__ = "0.1.0"
BACKEND = "capi"

__all__ = ["AtomicInt", "RWLock", "SpinLock", "BACKEND", "__version__"]
