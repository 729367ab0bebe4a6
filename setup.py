"""Build the pyatomics C extension.

Metadata and tool configuration live in pyproject.toml; this file only
declares the extension and the build knobs, read from the environment:

  PYATOMICS_DEBUG=1        -O0 -g, assertions on
  PYATOMICS_SANITIZE=...   e.g. "thread" or "address,undefined" (gcc/clang)
  PYATOMICS_WERROR=1       warnings are errors (CI sets this)
"""

import os
import sys

from setuptools import Extension, setup

CORE_SOURCES = [
    "csrc/pa_wait.c",
    "csrc/pa_spinlock.c",
    "csrc/pa_rwlock.c",
    "csrc/pa_int_wait.c",
]


def compile_args():
    if sys.platform == "win32":
        # MSVC: C11 atomics need both flags (VS 2022 17.5+).
        return ["/std:c11", "/experimental:c11atomics", "/W3"], []
    cflags = ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    ldflags = []
    if os.environ.get("PYATOMICS_WERROR") == "1":
        cflags.append("-Werror")
    if os.environ.get("PYATOMICS_DEBUG") == "1":
        cflags += ["-O0", "-g3", "-UNDEBUG"]
    sanitize = os.environ.get("PYATOMICS_SANITIZE")
    if sanitize:
        flag = f"-fsanitize={sanitize}"
        cflags += [flag, "-fno-omit-frame-pointer", "-g"]
        ldflags.append(flag)
    return cflags, ldflags


cflags, ldflags = compile_args()

extension = Extension(
    "pyatomics._pyatomics",
    sources=["pyatomics/_pyatomics.c", *CORE_SOURCES],
    include_dirs=["csrc"],
    depends=[os.path.join("csrc", name) for name in sorted(os.listdir("csrc")) if name.endswith(".h")],
    extra_compile_args=cflags,
    extra_link_args=ldflags,
    libraries=["Synchronization"] if sys.platform == "win32" else [],
)

setup(ext_modules=[extension])
