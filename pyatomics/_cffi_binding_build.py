"""Build definitions of both extensions; the cffi one is made here.

* setup.py loads this file (by path, without cffi) for CORE_SOURCES, HEADERS
  and compile_args(), so the C-API extension (pyatomics._capi_binding) and the
  cffi extension (pyatomics._cffi_binding_lib) are compiled from the same core
  sources with the same knobs.
* cffi's setuptools hook runs it (setup.py: cffi_modules=
  ["pyatomics/_cffi_binding_build.py:ffibuilder"]) to get the FFI builder of the
  out-of-line, API-mode module pyatomics._cffi_binding_lib.
* `python pyatomics/_cffi_binding_build.py` compiles that module into build/cffi/
  (a quick check that the cdef matches the headers).

The cdef is written by hand against plain C declarations: the core's
structs are opaque here (their size comes from the compiler), no _Atomic type
appears, and AtomicInt goes through the small wrappers of csrc/pa_cffi.h.
Build knobs (environment): PYATOMICS_DEBUG=1, PYATOMICS_SANITIZE=...,
PYATOMICS_WERROR=1 (see setup.py).
"""

from __future__ import annotations

import os
import sys
from typing import Any

CORE_SOURCES = [
    "csrc/pa_contract.c",
    "csrc/pa_counter.c",
    "csrc/pa_wait.c",
    "csrc/pa_spinlock.c",
    "csrc/pa_rwlock.c",
    "csrc/pa_int_wait.c",
]
HEADERS = [
    "csrc/pa_atomic.h",
    "csrc/pa_atomic_int.h",
    "csrc/pa_build_info.h",
    "csrc/pa_common.h",
    "csrc/pa_cffi.h",
    "csrc/pa_contract.h",
    "csrc/pa_counter.h",
    "csrc/pa_int_wait.h",
    "csrc/pa_lock.h",
    "csrc/pa_rwlock.h",
    "csrc/pa_spinlock.h",
    "csrc/pa_thread.h",
    "csrc/pa_wait.h",
]
LIBRARIES = ["Synchronization"] if sys.platform == "win32" else []


def compile_args() -> tuple[list[str], list[str]]:
    """(extra_compile_args, extra_link_args) from the build knobs."""
    if sys.platform == "win32":
        # MSVC: C11 atomics need both flags (VS 2022 17.5+).
        return ["/std:c11", "/experimental:c11atomics", "/W3"], []
    cflags = ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    ldflags: list[str] = []
    if os.environ.get("PYATOMICS_WERROR") == "1":
        cflags.append("-Werror")
    if os.environ.get("PYATOMICS_DEBUG") == "1":
        cflags += ["-O0", "-g3", "-UNDEBUG"]
    sanitize = os.environ.get("PYATOMICS_SANITIZE")
    if sanitize:
        # Non-recovering: a UBSan finding aborts instead of printing and
        # going on, so it fails the run.  The optimisation level stays the
        # one that ships (sysconfig's CFLAGS; setting CFLAGS in the
        # environment would replace them and build at -O0), unless
        # PYATOMICS_DEBUG=1 asks for -O0 with assertions.
        flag = f"-fsanitize={sanitize}"
        cflags += [flag, "-fno-omit-frame-pointer", "-g"]
        if "thread" not in sanitize:
            cflags.append("-fno-sanitize-recover=all")
        ldflags.append(flag)
    return cflags, ldflags


# ---------------------------------------------------------------------------
# The cffi module
# ---------------------------------------------------------------------------

CDEF = """
typedef enum {
    PA_ACQUIRED, PA_TIMEDOUT, PA_INTERRUPTED, PA_WRITE_TWICE, PA_UPGRADE, PA_READ_WHILE_WRITING,
    PA_NOT_HELD, PA_READ_NOT_HELD, PA_WRITE_NOT_HELD, PA_DOWNGRADE_NOT_HELD, PA_TOO_MANY_READERS,
    PA_READ_TABLE_FULL, ...
} pa_lock_result;

#define PA_FOREVER ...
#define PA_CFFI_SENTINEL ...

/* Opaque: cffi learns their size and alignment from the compiler. */
typedef struct { ...; } pa_cffi_int;
typedef struct { ...; } pa_spinlock;
typedef struct { ...; } pa_rwlock;

/* pa_wait.h, pa_build_info.h */
int64_t pa_monotonic_ns(void);
int64_t pa_deadline_after(int64_t timeout_ns);
const char *pa_wait_mechanism(void);
const char *pa_atomics_description(void);
const char *pa_compiler_description(void);
int pa_lock_free_64(void);

/* AtomicInt: pa_cffi.h */
int pa_cffi_add_slow(pa_cffi_int *a, int64_t v, bool subtract, bool report_new, int64_t *out);
void pa_cffi_int_init(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_load(pa_cffi_int *a);
void pa_cffi_store(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_exchange(pa_cffi_int *a, int64_t v);
bool pa_cffi_compare_exchange(pa_cffi_int *a, int64_t expected, int64_t desired);
int64_t pa_cffi_compare_exchange_seen(pa_cffi_int *a, int64_t expected, int64_t desired);
int64_t pa_cffi_fetch_add(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_fetch_sub(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_add(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_sub(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_inc(pa_cffi_int *a);
int64_t pa_cffi_dec(pa_cffi_int *a);
int pa_cffi_iadd(pa_cffi_int *a, int64_t v);
int pa_cffi_isub(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_fetch_and(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_fetch_or(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_fetch_xor(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_fetch_max(pa_cffi_int *a, int64_t v);
int64_t pa_cffi_fetch_min(pa_cffi_int *a, int64_t v);
void pa_cffi_iand(pa_cffi_int *a, int64_t v);
void pa_cffi_ior(pa_cffi_int *a, int64_t v);
void pa_cffi_ixor(pa_cffi_int *a, int64_t v);
pa_lock_result pa_cffi_int_wait(pa_cffi_int *a, int64_t expected, int64_t deadline_ns);
void pa_cffi_int_notify(pa_cffi_int *a, bool all);

/* SpinLock: pa_spinlock.h, as declared there */
void pa_spinlock_init(pa_spinlock *l);
bool pa_spinlock_try_acquire(pa_spinlock *l);
pa_lock_result pa_spinlock_acquire_slow(pa_spinlock *l, int64_t deadline_ns);
pa_lock_result pa_spinlock_release(pa_spinlock *l);
bool pa_spinlock_locked(pa_spinlock *l);

/* Recording acquire/release wrappers and the undo for Ctrl-C: pa_cffi.h */
bool pa_cffi_spin_try_acquire(pa_spinlock *l);
pa_lock_result pa_cffi_spin_acquire_slow(pa_spinlock *l, int64_t deadline_ns);
pa_lock_result pa_cffi_spin_release(pa_spinlock *l);
pa_lock_result pa_cffi_rw_acquire_read(pa_rwlock *rw, int64_t deadline_ns);
pa_lock_result pa_cffi_rw_acquire_write(pa_rwlock *rw, int64_t deadline_ns);
pa_lock_result pa_cffi_rw_release_read(pa_rwlock *rw);
pa_lock_result pa_cffi_rw_release_write(pa_rwlock *rw);
pa_lock_result pa_cffi_rw_downgrade(pa_rwlock *rw);
pa_lock_result pa_cffi_rw_exit(pa_rwlock *rw, bool write);
bool pa_cffi_undo_acquire(void *lock);
/* RWLock: pa_rwlock.h, as declared there */
void pa_rwlock_init(pa_rwlock *rw);
pa_lock_result pa_rwlock_acquire_read(pa_rwlock *rw, int64_t deadline_ns);
pa_lock_result pa_rwlock_acquire_write(pa_rwlock *rw, int64_t deadline_ns);
pa_lock_result pa_rwlock_release_read(pa_rwlock *rw);
pa_lock_result pa_rwlock_release_write(pa_rwlock *rw);
pa_lock_result pa_rwlock_downgrade(pa_rwlock *rw);
bool pa_rwlock_is_write_locked(pa_rwlock *rw);
uint32_t pa_rwlock_reader_count(pa_rwlock *rw);
bool pa_rwlock_write_held_by_me(pa_rwlock *rw);
uint32_t pa_rwlock_read_holds_by_me(pa_rwlock *rw);
bool pa_rwlock_side_locked(pa_rwlock *rw, bool write);
void pa_rwlock_reinit_after_fork(pa_rwlock *rw);
void pa_rwlock_forget_my_holds(pa_rwlock *rw);
void pa_rwlock_destroy(pa_rwlock *rw);
"""

SOURCE = """
#include "pa_build_info.h"
#include "pa_cffi.h"
#include "pa_rwlock.h"
#include "pa_spinlock.h"
#include "pa_wait.h"
"""


def make_ffibuilder(root: str = "") -> Any:
    """The FFI builder; paths relative to the project root (as setuptools wants
    them), or under `root` if given (ffi.compile() works in a temp directory)."""
    from cffi import FFI  # type: ignore[import-untyped]  # cffi has no type hints

    cflags, ldflags = compile_args()
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source(
        "pyatomics._cffi_binding_lib",
        SOURCE,
        sources=[os.path.join(root, p) for p in CORE_SOURCES],
        include_dirs=[os.path.join(root, "csrc")],
        depends=[os.path.join(root, p) for p in HEADERS],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
        libraries=LIBRARIES,
        # Not abi3: the wheel is per interpreter anyway (the C-API extension
        # is), and the full API makes cffi's call path a little cheaper.
        py_limited_api=False,
    )
    return ffi


if __name__ == "__cffi__":
    ffibuilder = make_ffibuilder()

if __name__ == "__main__":
    # A check that the cdef matches the headers: the module lands in build/cffi/.
    _root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    make_ffibuilder(_root).compile(tmpdir=os.path.join(_root, "build", "cffi"), verbose=True)
