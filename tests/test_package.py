"""The package as installed: its public surface, typing files, the backend in
use (C-API or cffi) and how it is chosen, the GIL staying off on free-threaded
builds, and the design rules of the source."""

from __future__ import annotations

import copy
import importlib.util
import os
import pathlib
import pickle
import platform
import re
import shutil
import subprocess
import sys
import types

import pytest
from conftest import FREE_THREADED

import pyatomics

REPO = pathlib.Path(__file__).resolve().parents[1]
PYPY = platform.python_implementation() == "PyPy"
CAPI = pyatomics.BACKEND == "capi"
# The module that implements the backend in use (the C extension itself for
# "capi", the Python classes over the cffi module for "cffi").
ext = pyatomics._backend


def run_python(code: str, **env_changes: str | None) -> subprocess.CompletedProcess:
    """Runs code in a fresh interpreter, outside the source tree, with the
    environment changed as given (None removes a variable)."""
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([sys.executable, "-W", "error", "-c", code], env=env, capture_output=True,
                          text=True, cwd="/")


def test_public_names():
    from pyatomics import AtomicInt, RWLock, SpinLock  # noqa: F401

    for name in pyatomics.__all__:
        assert hasattr(pyatomics, name), name
    assert {"AtomicInt", "SpinLock", "RWLock", "BACKEND"} <= set(pyatomics.__all__)


def test_backend_is_the_expected_one():
    requested = os.environ.get("PYATOMICS_BACKEND", "").strip().lower()
    assert pyatomics.BACKEND == (requested or ("cffi" if PYPY else "capi"))
    assert pyatomics.BACKEND in pyatomics.available_backends()
    # PyPy builds only the cffi backend; CPython always the C-API one, and the
    # cffi one wherever cffi supports the interpreter (not free-threaded 3.13).
    cffi_supported = PYPY or not (FREE_THREADED and sys.version_info < (3, 14))
    expected = ({"capi"} if not PYPY else set()) | ({"cffi"} if cffi_supported else set())
    assert pyatomics.available_backends() == expected


def test_classes_are_direct_bindings():
    if CAPI:
        # No Python-level wrapper between the user's call and the C method.
        assert pyatomics.AtomicInt is ext.AtomicInt
        assert pyatomics._extension is ext
        assert type(pyatomics.AtomicInt.inc).__name__ == "method_descriptor"
        return
    # cffi: Python classes whose methods call the cffi module's functions directly.
    cffi_module = pyatomics._extension
    assert cffi_module.__name__ == "pyatomics._cffi_binding_lib"
    assert hasattr(cffi_module, "ffi") and hasattr(cffi_module, "lib")
    assert ext.__name__ == "pyatomics._cffi_binding"
    for name in ("AtomicInt", "SpinLock", "RWLock"):
        cls = getattr(pyatomics, name)
        assert cls is getattr(ext, name)
        assert cls.__module__ == "pyatomics" and cls.__name__ == name  # as the C types
        assert "__dict__" not in dir(cls)  # __slots__: no per-instance dict, as the C types
    assert isinstance(pyatomics.AtomicInt.inc, types.FunctionType)
    # The C state lives in cffi-owned memory, 8-byte aligned for the 64-bit atomics.
    ffi = cffi_module.ffi
    for _ in range(200):
        for obj in (pyatomics.AtomicInt(), pyatomics.SpinLock(), pyatomics.RWLock()):
            assert int(ffi.cast("uintptr_t", obj._p)) % 8 == 0
    assert ffi.sizeof("pa_cffi_int") >= 16 and ffi.alignof("pa_cffi_int") == 8


def test_typing_files_ship():
    pkg = pathlib.Path(pyatomics.__file__).parent
    assert (pkg / "py.typed").is_file()
    assert (pkg / "_capi_binding.pyi").is_file()


def test_build_info():
    info = ext.build_info()
    assert set(info) >= {"atomics", "wait", "compiler", "lock_free_64"}
    assert info["lock_free_64"] == 2  # always lock-free
    if sys.platform.startswith("linux"):
        assert info["wait"] == "futex"


def test_info_command_names_the_backend():
    out = subprocess.run([sys.executable, "-m", "pyatomics", "info"], capture_output=True, text=True,
                         check=True, cwd="/")
    rows = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in out.stdout.splitlines())
    assert rows["backend"] == pyatomics.BACKEND
    assert rows["wait mechanism"] == ext.build_info()["wait"]
    assert rows["extension"] == pyatomics._extension.__file__


def test_gil_stays_disabled_after_import():
    """On a free-threaded build, importing pyatomics must not re-enable the GIL
    (the C-API module declares Py_mod_gil = Py_MOD_GIL_NOT_USED, and so do
    cffi's modules from cffi 2.0, the first to support free-threaded
    CPython).  Checked in a fresh interpreter with PYTHON_GIL unset, with the
    backend of this run (PYATOMICS_BACKEND is inherited)."""
    code = ("import sys, pyatomics; pyatomics.AtomicInt(1).inc(); "
            "print(pyatomics.BACKEND, getattr(sys, '_is_gil_enabled', lambda: True)())")
    out = run_python(code, PYTHON_GIL=None)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert out.stdout.split() == [pyatomics.BACKEND, "False" if FREE_THREADED else "True"]


def test_binding_module_can_be_loaded_again():
    """C-API: multi-phase init gives independent modules, with their own types.
    cffi: a second copy of the binding module gives independent classes over
    the same compiled module.  Either way each copy fully works."""
    spec = importlib.util.find_spec(ext.__name__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    assert fresh is not ext
    assert fresh.AtomicInt is not ext.AtomicInt
    a = fresh.AtomicInt(3)
    assert a.inc() == 4
    rw = fresh.RWLock()
    with rw.read():
        assert rw.readers == 1
    with fresh.SpinLock() as got:
        assert got is True


# ---------------------------------------------------------------------------
# Choosing the backend: PYATOMICS_BACKEND
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["capi", "cffi", " CFFI ", ""])
def test_backend_selected_by_environment(value):
    wanted = value.strip().lower() or ("cffi" if PYPY else "capi")
    code = ("import pyatomics; a = pyatomics.AtomicInt(41); "
            "print(pyatomics.BACKEND, a.inc(), type(a).__module__)")
    out = run_python(code, PYATOMICS_BACKEND=value)
    if wanted in pyatomics.available_backends():
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == [wanted, "42", "pyatomics"]
    else:
        # Never a silent fallback to the other backend.
        assert out.returncode != 0
        assert f"the {wanted!r} backend cannot be imported" in out.stderr


def test_unknown_backend_is_an_import_error():
    out = run_python("import pyatomics", PYATOMICS_BACKEND="ctypes")
    assert out.returncode != 0
    assert "ImportError: PYATOMICS_BACKEND='ctypes' is not a pyatomics backend" in out.stderr


@pytest.mark.skipif(pyatomics.available_backends() != {"capi", "cffi"},
                    reason="needs both backends installed (CPython where cffi supports it)")
def test_backends_interoperate():
    """Both backends side by side in one process: values compare and convert
    across them, and a pickle made by one loads into the other (both name
    their classes pyatomics.AtomicInt)."""
    from pyatomics import _cffi_binding as cf
    from pyatomics import _capi_binding as capi

    a, b = capi.AtomicInt(7), cf.AtomicInt(7)
    assert a == b and b == a and not (a < b) and a + b == 14 and b + a == 14
    assert capi.AtomicInt(b).load() == 7 and cf.AtomicInt(a).load() == 7
    assert a.fetch_add(b) == 7 and b.fetch_add(a) == 7 and (a.load(), b.load()) == (14, 21)
    assert type(copy.copy(b)) is cf.AtomicInt and type(copy.deepcopy(a)) is capi.AtomicInt
    assert repr(a) == repr(capi.AtomicInt(14)) and repr(b) == "AtomicInt(21)"
    # A pickle written with one backend loads with the other.
    other = "cffi" if pyatomics.BACKEND == "capi" else "capi"
    data = pickle.dumps([pyatomics.AtomicInt(5)])
    code = f"import pickle, pyatomics; [a] = pickle.loads({data!r}); print(pyatomics.BACKEND, a.inc())"
    out = run_python(code, PYATOMICS_BACKEND=other)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [other, "6"]


@pytest.mark.skipif(pyatomics.available_backends() != {"capi", "cffi"},
                    reason="needs both backends installed (CPython where cffi supports it)")
def test_backends_raise_the_same_errors():
    """Every error path of the cffi classes raises what the C types raise,
    with the same message."""
    from pyatomics import _cffi_binding as cf
    from pyatomics import _capi_binding as capi

    MAX = 2**63 - 1

    def outcome(mod, action):
        try:
            return "ok", action(mod)
        except Exception as exc:  # noqa: BLE001 - compared below
            return type(exc).__name__, str(exc)

    def type_only(action):
        # Where the words come from the interpreter's argument parsing or its
        # naming of the type (C types are "pyatomics.X", Python classes "X"),
        # only the exception type can match.
        def run(m):
            try:
                return action(m)
            except Exception as exc:  # noqa: BLE001 - re-raised without its words
                raise type(exc)("(message not compared)") from None

        return run

    def normalise(result):
        # Object addresses in reprs differ by construction.
        kind, value = result
        return kind, re.sub(r"0x[0-9a-f]+", "ADDR", value) if isinstance(value, str) else value

    def read_then_write(m):
        rw = m.RWLock()
        rw.acquire_read()
        try:
            return rw.acquire_write(False)
        finally:
            rw.release_read()

    def write_then_read(m):
        rw = m.RWLock()
        rw.acquire_write()
        try:
            return rw.acquire_read(False)
        finally:
            rw.release_write()

    def write_twice(m):
        rw = m.RWLock()
        rw.acquire_write()
        try:
            return rw.acquire_write(False)
        finally:
            rw.release_write()

    def downgrade_then_exit(m):
        rw = m.RWLock()
        with rw.write():
            rw.downgrade()
            inside = rw.readers
        return inside, rw.readers, rw.write_locked

    def timed_out_guard(m):
        rw = m.RWLock()
        rw.acquire_write()
        import threading

        out = []

        def other():
            try:
                with rw.read(timeout=0.01):
                    out.append("entered")
            except TimeoutError as exc:
                out.append(str(exc))

        t = threading.Thread(target=other)
        t.start()
        t.join()
        rw.release_write()
        return out

    actions = [
        lambda m: m.AtomicInt(MAX + 1),
        lambda m: m.AtomicInt(1.5),
        lambda m: m.AtomicInt("1"),
        type_only(lambda m: m.AtomicInt(1, 2)),
        type_only(lambda m: m.AtomicInt(valu=1)),
        type_only(lambda m: m.AtomicInt(0).inc(1)),
        type_only(lambda m: m.SpinLock().acquire(True, -1, 3)),
        lambda m: m.AtomicInt(MAX).inc(),
        lambda m: m.AtomicInt(-MAX - 1).dec(),
        lambda m: m.AtomicInt(-MAX - 1).dec(),
        lambda m: m.AtomicInt(MAX).add(1),
        lambda m: m.AtomicInt(-MAX - 1).fetch_sub(1),
        lambda m: m.AtomicInt(-MAX).fetch_add(-1),
        lambda m: m.AtomicInt(-MAX).add(-1),
        lambda m: m.AtomicInt(-MAX).sub(1),
        lambda m: m.AtomicInt(-MAX - 1).fetch_add(0),
        lambda m: m.AtomicInt(0).fetch_add(2**63),
        lambda m: m.AtomicInt(0).compare_exchange(0, 2**64),
        lambda m: m.AtomicInt(0).update(lambda v: 2**63),
        lambda m: m.AtomicInt(0).update(None),
        lambda m: m.AtomicInt(0).wait(0, timeout=-2),
        lambda m: m.AtomicInt(0).wait(0, timeout="1"),
        lambda m: m.AtomicInt(0).wait(0, timeout=float("nan")),
        lambda m: m.AtomicInt(0).wait(0, timeout=1e300),
        lambda m: m.AtomicInt(0).wait(0, timeout=0),
        lambda m: m.AtomicInt(0).wait(0, timeout=0.001),
        lambda m: m.AtomicInt(0).wait(1),
        lambda m: m.AtomicInt(0).wait(2**63),
        type_only(lambda m: hash(m.AtomicInt(0))),
        lambda m: exec("a *= 2", {"a": m.AtomicInt(3)}),
        lambda m: exec("a **= 2", {"a": m.AtomicInt(3)}),
        lambda m: m.AtomicInt(3) < "x",
        lambda m: m.AtomicInt(3) + "x",
        lambda m: "x" + m.AtomicInt(3),
        lambda m: pow(m.AtomicInt(3), 2, 5),
        type_only(lambda m: round(m.AtomicInt(3))),
        lambda m: m.SpinLock(1),
        lambda m: m.SpinLock().release(),
        lambda m: m.SpinLock().acquire(False, 1),
        lambda m: m.SpinLock().acquire(timeout=-2),
        lambda m: m.SpinLock().acquire(timeout=1e100),
        lambda m: m.SpinLock().acquire(timeout=None),
        lambda m: m.SpinLock().acquire(timeout=2**2000),
        lambda m: m.SpinLock().acquire(1, 0),
        lambda m: repr(m.SpinLock()),
        lambda m: type("X", (m.SpinLock,), {}),
        lambda m: m.RWLock(x=1),
        lambda m: m.RWLock().release_read(),
        lambda m: m.RWLock().release_write(),
        lambda m: m.RWLock().downgrade(),
        lambda m: m.RWLock().reader.release(),
        lambda m: m.RWLock().writer.release(),
        lambda m: m.RWLock().read(timeout=-2),
        lambda m: m.RWLock().write(timeout="soon"),
        lambda m: repr(m.RWLock()),
        lambda m: repr(m.RWLock().writer),
        lambda m: (m.RWLock().reader.locked(), m.RWLock().writer._is_owned()),
        read_then_write,
        write_then_read,
        write_twice,
        downgrade_then_exit,
        timed_out_guard,
    ]
    for i, action in enumerate(actions):
        want = normalise(outcome(capi, action))
        got = normalise(outcome(cf, action))
        assert got == want, f"action {i}: C-API {want!r}, cffi {got!r}"


def test_core_is_free_of_python_h():
    """csrc/ is the portable core shared by both bindings: no CPython types."""
    csrc = REPO / "csrc"
    assert csrc.is_dir(), "tests run from a source checkout or sdist"
    for path in csrc.iterdir():
        if path.suffix in (".c", ".h"):
            text = path.read_text()
            assert not re.search(r'#\s*include\s*[<"]Python\.h', text), path
            assert not re.search(r"\bPy[A-Z_]\w*", text), path


def _cffi_build_definitions():
    build_py = REPO / "pyatomics" / "_cffi_binding_build.py"
    spec = importlib.util.spec_from_file_location("_cffi_binding_build_for_tests", build_py)
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)  # without cffi: the FFI is made only when cffi runs the file
    return build


def test_cffi_cdef_is_plain_c():
    """The cffi binding sees the core through plain declarations read out of
    the headers: no _Atomic in the cdef, opaque structs, open enums, and only
    functions that exist in csrc/."""
    cdef = _cffi_build_definitions().make_cdef(str(REPO))
    assert "_Atomic" not in cdef and "pa_atomic_" not in cdef and "/*" not in cdef
    assert "typedef struct { ...; } pa_rwlock;" in cdef and "#define PA_CFFI_SENTINEL ..." in cdef
    assert re.search(r"PA_STATUS_COUNT, \.\.\. \} pa_lock_result;", cdef)
    assert "bool pa_status_wants_reclaim(pa_lock_result r);" in cdef  # an inline function's prototype
    headers = "".join(p.read_text() for p in (REPO / "csrc").glob("*.h"))
    declared = re.findall(r"\b(pa_\w+)\(", cdef)
    assert len(declared) > 40
    for name in declared:
        assert re.search(rf"\b{name}\(", headers), f"{name} is declared in the cdef but not in csrc/"


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_cffi_cdef_drift_is_a_compile_error(tmp_path):
    """pa_cffi.h's cdef block is compiled with the header it declares: a
    declaration that no longer matches its definition does not compile."""
    shutil.copytree(REPO / "csrc", tmp_path / "csrc")
    header = tmp_path / "csrc" / "pa_cffi.h"
    text = header.read_text()

    def compiles():
        cmd = ["cc", "-std=c11", "-fsyntax-only", "-I", str(tmp_path / "csrc"), "-x", "c", "-"]
        return subprocess.run(cmd, input='#include "pa_cffi.h"\n', capture_output=True, text=True).returncode == 0

    assert compiles()
    block = text.index("/* cffi-cdef-begin */")
    for old, new in [("int64_t pa_cffi_load(", "int32_t pa_cffi_load("),
                     ("bool write);", "int write);"), ("PA_CFFI_OPAQUE(pa_rwlock)", "PA_CFFI_OPAQUE(pa_rwlock_t)")]:
        assert old in text[block:]
        header.write_text(text[:block] + text[block:].replace(old, new, 1))
        assert not compiles(), f"{old!r} -> {new!r} still compiles"
    assert "pa_cffi_load" in _cffi_build_definitions().make_cdef(str(REPO))


def test_importing_the_unbuilt_source_tree_says_to_install(tmp_path):
    # A copy of the source package without its compiled modules, as a fresh
    # checkout is: `python -c "import pyatomics"` from the checkout's root.
    src = tmp_path / "pyatomics"
    src.mkdir()
    for f in (REPO / "pyatomics").glob("*.py"):
        (src / f.name).write_text(f.read_text())
    out = subprocess.run([sys.executable, "-c", "import pyatomics"], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYATOMICS_BACKEND": ""})
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: pyatomics is not built here"), out.stderr
    assert "pip install ." in last
