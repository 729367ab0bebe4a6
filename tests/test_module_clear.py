"""RWLock() and rw.read(timeout) after the C-API module's state was cleared.

Interpreter finalisation runs the module's m_clear while objects whose
finalizers still make RWLocks may be alive; the old code then passed a NULL
type to PyObject_New (a crash).  No Python-level sequence reliably reaches
that moment, so the child calls the module's m_clear itself through ctypes,
as finalisation would, and then uses the types that are still alive.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import pyatomics

CHILD = textwrap.dedent(
    r"""
    import ctypes, os, sys
    import pyatomics
    from pyatomics import RWLock
    mod = sys.modules["pyatomics._capi_binding"]
    rw = RWLock()
    T = type(rw)
    get_def = ctypes.pythonapi.PyModule_GetDef
    get_def.restype, get_def.argtypes = ctypes.c_void_p, [ctypes.py_object]
    d = get_def(mod)
    # PyModuleDef: PyModuleDef_Base (PyObject_HEAD, m_init, m_index, m_copy), then
    # m_name, m_doc, m_size, m_methods, m_slots, m_traverse, m_clear, m_free.
    head = object.__basicsize__
    m_clear = ctypes.c_void_p.from_address(d + head + 3 * 8 + 6 * 8).value
    assert m_clear, "no m_clear found"
    ctypes.CFUNCTYPE(ctypes.c_int, ctypes.py_object)(m_clear)(mod)
    out = []
    for what, make in (("RWLock()", T), ("rw.read(1)", lambda: rw.read(1))):
        try:
            make()
            out.append(what + ": made")
        except RuntimeError as e:
            out.append(what + ": RuntimeError")
    print("; ".join(out), flush=True)
    os._exit(0)  # the module's state is gone: skip the normal teardown
    """
)


@pytest.mark.skipif(pyatomics.BACKEND != "capi", reason="the C-API binding's module state (cffi has none)")
def test_rwlock_after_module_clear_raises_instead_of_crashing(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    # rw.read() with no timeout needs no helper type; rw.read(1) makes a guard.
    assert proc.stdout.strip() == "RWLock(): RuntimeError; rw.read(1): RuntimeError", proc.stdout
