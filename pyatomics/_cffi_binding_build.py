"""Build definitions of both extensions; the cffi one is made here.

setup.py loads this file (by path, without cffi) for CORE_SOURCES and compile_args()
(the knobs PYATOMICS_DEBUG, _SANITIZE, _WERROR: setup.py), so both extensions build
alike; cffi's setuptools hook runs it for `ffibuilder`, the out-of-line API-mode module
pyatomics._cffi_binding_lib; `python pyatomics/_cffi_binding_build.py` builds that into build/cffi/.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE_SOURCES = [f"csrc/pa_{name}.c" for name in ("contract", "counter", "ref", "wait", "spinlock", "rwlock", "int_wait")]
LIBRARIES = ["Synchronization"] if sys.platform == "win32" else []


def compile_args() -> tuple[list[str], list[str]]:
    """(extra_compile_args, extra_link_args) from the build knobs."""
    if sys.platform == "win32":
        # MSVC: C11 atomics need both flags (VS 2022 17.5+).
        return ["/std:c11", "/experimental:c11atomics", "/W3"], []
    cflags = ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    cflags += ["-Werror"] if os.environ.get("PYATOMICS_WERROR") == "1" else []
    cflags += ["-O0", "-g3", "-UNDEBUG"] if os.environ.get("PYATOMICS_DEBUG") == "1" else []
    sanitize = os.environ.get("PYATOMICS_SANITIZE")
    if sanitize:  # non-recovering: a UBSan finding fails the run; -O stays the shipped one
        cflags += [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-g"]
        cflags += [] if "thread" in sanitize else ["-fno-sanitize-recover=all"]
    return cflags, [f"-fsanitize={sanitize}"] if sanitize else []


# The cffi module's cdef is read out of the headers, never restated: all of
# pa_lock.h and pa_contract.h (plain C), and the marked block of pa_cffi.h (the
# declarations of what the binding calls, checked there against their
# definitions).  The module's source includes the same headers, so a cdef that
# drifted from the C would not compile.

CDEF_HEADERS = ["csrc/pa_lock.h", "csrc/pa_contract.h", "csrc/pa_cffi.h"]
_BEGIN, _END = "/* cffi-cdef-begin */", "/* cffi-cdef-end */"


def _declarations(text: str) -> str:
    """C text -> what cffi's cdef parser accepts: no comments or preprocessor
    lines, inline functions as prototypes, enums open (`...`: the compiler
    checks the values), the block's marker macros expanded."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
    text = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", "", text, flags=re.M)
    # an inline function's body has no nested braces (else cffi's parser says so)
    text = re.sub(r"\bstatic\s+inline\s+([^;{}]*\))\s*\{[^{}]*\}", r"\1;", text)
    text = re.sub(r"(typedef\s+enum\s*\{[^}]*?),?\s*\}", r"\1, ... }", text)
    text = re.sub(r"PA_CFFI_OPAQUE\((\w+)\);", r"typedef struct { ...; } \1;", text)
    text = re.sub(r"PA_CFFI_CONSTANT\((\w+)\);", r"\n#define \1 ...\n", text)
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def make_cdef(root: str = _ROOT) -> str:
    """The cdef, from CDEF_HEADERS (pa_cffi.h: only its marked block)."""
    parts = []
    for path in CDEF_HEADERS:
        with open(os.path.join(root, path), encoding="utf-8") as f:
            text = f.read()
        if path.endswith("pa_cffi.h"):
            if text.count(_BEGIN) != 1 or text.count(_END) != 1:
                raise RuntimeError(f"{path}: expected one {_BEGIN} ... {_END} block")
            text = text[text.index(_BEGIN) : text.index(_END)]
        parts.append(_declarations(text))
    return "\n".join(parts) + "\n"


def make_ffibuilder(root: str = "") -> Any:
    """The FFI builder; paths relative to the project root (as setuptools wants
    them), or under `root` if given (ffi.compile() works in a temp directory)."""
    from cffi import FFI  # type: ignore[import-untyped]  # cffi has no type hints

    cflags, ldflags = compile_args()
    csrc = os.path.join(root, "csrc")
    headers = [os.path.join(csrc, n) for n in os.listdir(os.path.join(_ROOT, "csrc")) if n.endswith(".h")]
    ffi = FFI()
    ffi.cdef(make_cdef(root or _ROOT))
    ffi.set_source(  # the source includes the headers the cdef was read from
        "pyatomics._cffi_binding_lib", '#include "pa_cffi.h"\n', include_dirs=[csrc], depends=headers,
        sources=[os.path.join(root, p) for p in CORE_SOURCES], extra_compile_args=cflags,
        extra_link_args=ldflags, libraries=LIBRARIES,
        # Not abi3: the wheel is per interpreter anyway (the C-API extension
        # is), and the full API makes cffi's call path a little cheaper.
        py_limited_api=False)
    return ffi


if __name__ == "__cffi__":
    ffibuilder = make_ffibuilder()

if __name__ == "__main__":
    make_ffibuilder(_ROOT).compile(tmpdir=os.path.join(_ROOT, "build", "cffi"), verbose=True)
