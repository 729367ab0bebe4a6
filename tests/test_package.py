"""The package as installed: its public surface, typing files, the GIL
staying off on free-threaded builds, and the design rules of the source."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pyatomics
import pyatomics._pyatomics as ext
from conftest import FREE_THREADED

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_public_names():
    from pyatomics import AtomicInt, RWLock, SpinLock  # noqa: F401

    for name in pyatomics.__all__:
        assert hasattr(pyatomics, name), name
    assert {"AtomicInt", "SpinLock", "RWLock"} <= set(pyatomics.__all__)


def test_classes_are_the_c_types():
    # No Python-level wrapper between the user's call and the C method.
    assert pyatomics.AtomicInt is ext.AtomicInt
    assert type(pyatomics.AtomicInt.inc).__name__ == "method_descriptor"


def test_typing_files_ship():
    pkg = pathlib.Path(pyatomics.__file__).parent
    assert (pkg / "py.typed").is_file()
    assert (pkg / "_pyatomics.pyi").is_file()


def test_build_info():
    info = ext.build_info()
    assert set(info) >= {"atomics", "wait", "compiler", "lock_free_64"}
    assert info["lock_free_64"] == 2  # always lock-free
    if sys.platform.startswith("linux"):
        assert info["wait"] == "futex"


def test_gil_stays_disabled_after_import():
    """On a free-threaded build, importing pyatomics must not re-enable the GIL
    (the module declares Py_mod_gil = Py_MOD_GIL_NOT_USED).  Checked in a fresh
    interpreter with PYTHON_GIL unset."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    code = "import sys, pyatomics; print(getattr(sys, '_is_gil_enabled', lambda: True)())"
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], env=env, capture_output=True,
                         text=True, check=True, cwd="/")
    assert out.stderr == ""
    assert out.stdout.strip() == ("False" if FREE_THREADED else "True")


def test_multi_phase_init_gives_independent_modules():
    spec = importlib.util.find_spec("pyatomics._pyatomics")
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    assert fresh is not ext
    assert fresh.AtomicInt is not ext.AtomicInt
    a = fresh.AtomicInt(3)
    assert a.inc() == 4
    rw = fresh.RWLock()
    with rw.read():
        assert rw.readers == 1


def test_core_is_free_of_python_h():
    """csrc/ is the portable core shared by both bindings: no CPython types."""
    csrc = REPO / "csrc"
    assert csrc.is_dir(), "tests run from a source checkout or sdist"
    for path in csrc.iterdir():
        if path.suffix in (".c", ".h"):
            text = path.read_text()
            assert not re.search(r'#\s*include\s*[<"]Python\.h', text), path
            assert not re.search(r"\bPy[A-Z_]\w*", text), path
