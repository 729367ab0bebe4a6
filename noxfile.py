"""The test matrix, interpreter x backend, as nox sessions.

scripts/test.sh (the README's one command) finds or builds the interpreters,
installs nox and runs this file with them; it can also be run directly:

    PYATOMICS_PYTHONS="python3 /path/to/python3.13t" nox [-s SESSION] [-- PYTEST_ARGS]

PYATOMICS_PYTHONS: the interpreters, space-separated (default: python3).  For
each one, with TAG its implementation, version and "t" if free-threaded
(cpython3.11, cpython3.13t, pypy3.9), there are these sessions:

  TAG               a venv (under --envdir; scripts/test.sh reuses .venvs/),
                    `pip install .[test]`, then a forced rebuild of the package
                    itself: the tests import the built package, never the tree;
  TAG/capi          (CPython) pytest with the C-API backend;
  TAG/cffi          pytest with the cffi backend (on CPython: the first
                    interpreter, 3.9, 3.14 and 3.15; see CFFI_ON_CPYTHON),
                    skipped where it was not built
                    (free-threaded 3.13); on PyPy the only backend;
  TAG/disassembly   (CPython on x86_64) scripts/check_disassembly.py.

The pytest sessions need TAG's session, which nox runs first.  The first
interpreter runs with PYTHONDEVMODE=1; with PYATOMICS_STRICT_WARNINGS=1 (the
Debian sid run of scripts/test.sh) every CPython runs with PYTHONDEVMODE=1
PYTHONWARNINGS=error, so a deprecation in a new CPython fails.  With
PYATOMICS_LOCK_LOG=FILE each pytest session appends "RUN_TAG: ..." there
from the suite's "lock_tests: ..." line (how many of CPython's lock_tests
ran); RUN_TAG is TAG for the default backend and TAG/BACKEND for another, the
names scripts/test.sh's summary uses.
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
import subprocess
import sys

import nox
import nox.command

ROOT = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("PYATOMICS_WERROR", "1")  # the C code must compile without warnings
os.environ.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")

nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"
nox.needs_version = ">=2025.2.9"  # `requires=`

TAG_CODE = (
    "import sys, sysconfig; print(f'{sys.implementation.name}{sys.version_info[0]}.{sys.version_info[1]}'"
    " + ('t' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''))"
)
STRICT = os.environ.get("PYATOMICS_STRICT_WARNINGS") == "1"
LOCK_LOG = os.environ.get("PYATOMICS_LOCK_LOG")
# TAG -> the bin directory of its venv, set by TAG's session for the others.
_BIN: dict[str, str] = {}
# The cffi backend on CPython (PyPy's only backend, selectable on CPython) runs
# a second time on the first interpreter (the default python3), the oldest
# supported CPython and the two newest: its code is the same Python on every
# version, and what a version changes (3.9's signal checks, 3.14's messages)
# shows at the ends.  The CPythons between run the C-API backend only (each
# cffi run costs ~3 minutes of the CI hour).  PYATOMICS_CFFI_EVERYWHERE=1 runs
# it on every CPython where it is built.
CFFI_ON_CPYTHON = {"cpython3.9", "cpython3.14", "cpython3.15"}
CFFI_EVERYWHERE = os.environ.get("PYATOMICS_CFFI_EVERYWHERE") == "1"


def _interpreter_tag(py: str) -> str | None:
    exe = shutil.which(py)
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-c", TAG_CODE], capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _installed_backends(python: str) -> list[str]:
    """The backends built into this installation, asked from / so the source
    tree's uncompiled pyatomics/ cannot shadow the installed package."""
    env = {k: v for k, v in os.environ.items() if k != "PYATOMICS_BACKEND"}
    out = subprocess.run(
        [python, "-c", "import pyatomics; print(*sorted(pyatomics.available_backends()))"],
        cwd=os.path.abspath(os.sep),
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"cannot import the installed pyatomics:\n{out.stdout}{out.stderr}")
    return out.stdout.split()


def _tee(session: nox.Session, cmd: list[str], env: dict[str, str]) -> tuple[int, str | None]:
    """Run cmd with its output shown as it comes (a long suite must not look
    hung); return its exit status and the last "lock_tests: " line."""
    session.log(" ".join(shlex.quote(c) for c in cmd))
    lock_line = None
    with subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.startswith("lock_tests: "):
                lock_line = line[len("lock_tests: ") :].rstrip("\n")
    return proc.returncode, lock_line


def _make_install(tag: str, exe: str):
    @nox.session(name=tag, python=exe, venv_backend="venv", reuse_venv=True, default=True)
    def install(session: nox.Session) -> None:
        session.run("python", "-m", "pip", "install", "-q", "--upgrade", "pip", silent=True)
        # Dependencies first, then a fresh build of the package itself.
        session.run("python", "-m", "pip", "install", "-q", ".[test]")
        session.run("python", "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", "--no-cache-dir", ".")
        _BIN[tag] = session.bin

    install.__doc__ = f"venv and build for {tag} ({exe})"


def _make_pytest(tag: str, backend: str, default_backend: str, devmode: bool):
    run_tag = tag if backend == default_backend else f"{tag}/{backend}"
    warnings = os.environ.get("PYTHONWARNINGS", "")
    if STRICT and tag.startswith("cpython"):
        # Any warning is an error from interpreter start on, in the suite's
        # child interpreters too (the environment, unlike -W, is inherited).
        devmode, warnings = True, "error"

    @nox.session(name=f"{tag}/{backend}", venv_backend="none", requires=[tag], default=True)
    def pytest(session: nox.Session) -> None:
        if tag not in _BIN:
            session.error(f"session {tag} (the venv) did not run in this nox invocation")
        python = os.path.join(_BIN[tag], "python")
        if backend not in _installed_backends(python):
            session.skip(f"the {backend} backend is not built on {tag}")
        args = list(session.posargs)
        # Extra arguments go to pytest; tests/ is added unless one names a test.
        if not any(not a.startswith("-") and os.path.exists(os.path.join(ROOT, a)) for a in args):
            args.append(os.path.join(ROOT, "tests"))
        env = dict(os.environ, PYTHONDEVMODE="1" if devmode else "0", PYTHONWARNINGS=warnings)
        env["PYATOMICS_BACKEND"] = backend
        session.log(f"{run_tag}: pytest with the {backend} backend{f', PYTHONWARNINGS={warnings}' if warnings else ''}")
        rc, lock_line = _tee(
            session,
            [python, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", ROOT,
             "-c", os.path.join(ROOT, "pyproject.toml"), *args, "--import-mode=importlib"],
            env,
        )  # fmt: skip
        if lock_line and LOCK_LOG:
            with open(LOCK_LOG, "a", encoding="utf-8") as f:
                f.write(f"{run_tag}: {lock_line}\n")
        if rc != 0:
            # FAILED, not session.error()'s ABORTED (which nox also gives a
            # session whose prerequisite failed).
            session.log(f"pytest exited with {rc}")
            raise nox.command.CommandFailed(f"pytest exited with {rc}")

    pytest.__doc__ = f"pytest on {tag} with the {backend} backend"


def _make_disassembly(tag: str):
    @nox.session(name=f"{tag}/disassembly", venv_backend="none", requires=[tag], default=True)
    def disassembly(session: nox.Session) -> None:
        # It reads the built C-API extension's machine code.
        session.run(os.path.join(_BIN[tag], "python"), os.path.join(ROOT, "scripts", "check_disassembly.py"))

    disassembly.__doc__ = f"the x86_64 disassembly check of {tag}'s C-API extension"


def _make_missing(py: str):
    @nox.session(name=f"{py}:missing", venv_backend="none", default=True)
    def missing(session: nox.Session) -> None:
        session.error(f"{py}: not found or does not run")


for _i, _py in enumerate(os.environ.get("PYATOMICS_PYTHONS", "python3").split()):
    _tag = _interpreter_tag(_py)
    if _tag is None:
        _make_missing(_py)
        continue
    _exe = shutil.which(_py)
    assert _exe is not None
    _make_install(_tag, os.path.abspath(_exe))
    _default = "cffi" if _tag.startswith("pypy") else "capi"
    _backends = [_default]
    if _default != "cffi" and (_i == 0 or _tag in CFFI_ON_CPYTHON or CFFI_EVERYWHERE):
        _backends.append("cffi")
    for _backend in _backends:
        _make_pytest(_tag, _backend, _default, devmode=_i == 0)
    if platform.machine() in ("x86_64", "AMD64") and not _tag.startswith("pypy"):
        _make_disassembly(_tag)
