"""Build the pyatomics extensions.

Metadata and tool configuration live in pyproject.toml; this file declares
the two bindings of the C core (csrc/) and decides which ones to build:

  pyatomics._capi_binding        the CPython C-API binding: every CPython (not PyPy)
  pyatomics._cffi_binding_lib   the cffi binding (pyatomics/_cffi_binding_build.py): every
                              interpreter cffi supports, i.e. PyPy and CPython
                              except free-threaded 3.13 (cffi wants 3.14t+)

Where the cffi binding is built, cffi is a build requirement (setup_requires,
which setuptools' PEP 517 backend reports as a dynamic build requirement) and,
on CPython, a runtime one (install_requires; PyPy has cffi built in).  On an
interpreter cffi does not support, neither is asked for and only the C-API
binding is built.

Build knobs, read from the environment (here and by pyatomics/_cffi_binding_build.py):

  PYATOMICS_DEBUG=1        -O0 -g, assertions on
  PYATOMICS_SANITIZE=...   e.g. "thread" or "address,undefined" (gcc/clang)
  PYATOMICS_WERROR=1       warnings are errors (CI sets this)
  PYATOMICS_CFFI=0         do not build the cffi binding (=1: fail where it cannot be built)
  PYATOMICS_NO_CAPI=1      do not build the C-API binding (to test the cffi one alone)
"""

import importlib.util
import os
import platform
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_py import build_py as _build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def load_build_definitions():
    # pyatomics/_cffi_binding_build.py, loaded by path: importing the package would
    # need the extension this script is about to build.  It needs no cffi.
    path = os.path.join(HERE, "pyatomics", "_cffi_binding_build.py")
    spec = importlib.util.spec_from_file_location("_pyatomics_build_definitions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = load_build_definitions()

PYPY = platform.python_implementation() == "PyPy"
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
# cffi refuses free-threaded CPython before 3.14 ("requires 3.14t or later").
CFFI_SUPPORTED = PYPY or not (FREE_THREADED and sys.version_info < (3, 14))


def want_cffi():
    knob = os.environ.get("PYATOMICS_CFFI", "auto")
    if knob == "0":
        return False
    if knob == "1" and not CFFI_SUPPORTED:
        sys.exit("PYATOMICS_CFFI=1, but cffi does not support this interpreter "
                 "(free-threaded CPython < 3.14)")
    if knob not in ("0", "1", "auto"):
        sys.exit(f"PYATOMICS_CFFI={knob!r}: expected 0, 1 or auto")
    return CFFI_SUPPORTED


BUILD_CFFI = want_cffi()
if PYPY and not BUILD_CFFI:
    sys.exit("PYATOMICS_CFFI=0 on PyPy would build nothing: the cffi binding is the only one built there")
# cffi 2.0 is the first to support 3.14 (and 3.14t); 1.17 covers 3.9-3.13.
CFFI_REQUIREMENT = "cffi>=2.0" if sys.version_info >= (3, 14) else "cffi>=1.17"

cflags, ldflags = build.compile_args()

capi_extension = Extension(
    "pyatomics._capi_binding",
    sources=["pyatomics/_capi_binding.c", *build.CORE_SOURCES],
    include_dirs=["csrc"],
    depends=[os.path.join("csrc", name) for name in sorted(os.listdir(os.path.join(HERE, "csrc")))
             if name.endswith(".h")],
    extra_compile_args=cflags,
    extra_link_args=ldflags,
    libraries=build.LIBRARIES,
)

class build_py(_build_py):
    """Also writes pyatomics/_cffi_binding.pyi, the cffi binding's stub: the same
    classes as the C-API binding, so the C-API stub's text under its own
    docstring (stubtest checks each module against its own stub, and skips
    re-exported names, so the stub must be the text itself, not an import)."""

    def run(self):
        super().run()
        with open(os.path.join(HERE, "pyatomics", "_capi_binding.pyi"), encoding="utf-8") as f:
            text = f.read()
        body = text[text.index('"""\n', 3) + 4 :]
        header = ('"""Type stubs for the cffi binding (pyatomics/_cffi_binding.py): written at build\n'
                  'time from pyatomics/_capi_binding.pyi (setup.py), whose classes it has."""\n')
        target = os.path.join(self.build_lib, "pyatomics", "_cffi_binding.pyi")
        with open(target, "w", encoding="utf-8") as f:
            f.write(header + body)


options = {
    "cmdclass": {"build_py": build_py},
    # PyPy runs C-API extensions only through its slow emulation layer: there
    # the cffi binding is the one to use, and the only one built.
    "ext_modules": [] if PYPY or os.environ.get("PYATOMICS_NO_CAPI") == "1" else [capi_extension],
}
if BUILD_CFFI:
    options["cffi_modules"] = ["pyatomics/_cffi_binding_build.py:ffibuilder"]
    if not PYPY:  # PyPy ships cffi (and its setuptools hook) with the interpreter
        options["setup_requires"] = [CFFI_REQUIREMENT]
        options["install_requires"] = [CFFI_REQUIREMENT]

setup(**options)
