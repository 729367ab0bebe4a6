#!/usr/bin/env bash
# The whole test suite, with all set-up, on a fresh machine:
#
#   bash scripts/test.sh
#
# For each interpreter: a venv under .venvs/, `pip install .[test]` (the built
# package, never the source tree, is what the tests import), pytest, and on
# x86_64 the disassembly check of the built C-API extension.  On each CPython
# where the cffi backend was built (all but free-threaded 3.13) the suite runs a
# second time with PYATOMICS_BACKEND=cffi.  Interpreters:
#   - the default python3 (run with PYTHONDEVMODE=1, so warnings are errors);
#   - a free-threaded CPython (scripts/get-free-threaded-python.sh finds one or
#     builds 3.13t once into ~/.cache/pyatomics); the suite asserts that the GIL
#     stays disabled after importing pyatomics;
#   - unless PYATOMICS_QUICK=1: every other pyenv CPython 3.9-3.13 present, and
#     PyPy (Debian's pypy3, pypy3-dev, pypy3-venv and, for CPython's lock tests,
#     pypy3-lib-testsuite: installed here with apt-get, as root or with sudo, if
#     pypy3 is missing), where pyatomics uses its cffi backend.
#     PYATOMICS_PYPY=0 leaves PyPy out, =1 runs it even with PYATOMICS_QUICK=1.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PYATOMICS_WERROR=1   # the C code must compile without warnings
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

log() { printf '\n=== %s ===\n' "$*"; }

ft_python=$(scripts/get-free-threaded-python.sh)

interpreters=("$(command -v python3)" "$ft_python")
if [[ "${PYATOMICS_QUICK:-0}" != 1 ]]; then
    for v in 3.9 3.10 3.12 3.13; do
        for exe in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v"; do
            [[ -x "$exe" ]] && interpreters+=("$exe") && break
        done
    done
fi

# PyPy: Debian's packages.  pypy3-lib-testsuite brings test.lock_tests, which
# tests/test_lock_conformance.py runs against our locks.
want_pypy=${PYATOMICS_PYPY:-}
[[ -z "$want_pypy" ]] && { [[ "${PYATOMICS_QUICK:-0}" == 1 ]] && want_pypy=0 || want_pypy=1; }
if [[ "$want_pypy" == 1 ]]; then
    pypy_packages=(pypy3 pypy3-dev pypy3-venv pypy3-lib-testsuite)
    if ! command -v pypy3 >/dev/null || ! dpkg -s "${pypy_packages[@]}" >/dev/null 2>&1; then
        log "installing PyPy (${pypy_packages[*]})"
        sudo=()
        if [[ $(id -u) != 0 ]]; then
            command -v sudo >/dev/null || { echo "PyPy is missing and installing it needs root or sudo (PYATOMICS_PYPY=0 skips PyPy)" >&2; exit 1; }
            sudo=(sudo)
        fi
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${pypy_packages[@]}" >/dev/null
    fi
    interpreters+=("$(command -v pypy3)")
fi

failed=()
ran=()
for py in "${interpreters[@]}"; do
    tag=$("$py" -c 'import sys, sysconfig; print(f"{sys.implementation.name}{sys.version_info[0]}.{sys.version_info[1]}" + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))')
    venv="$root/.venvs/$tag"
    log "$tag ($py)"
    if [[ ! -x "$venv/bin/python" ]]; then
        "$py" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    # Dependencies first, then a fresh build of the package itself.
    "$venv/bin/python" -m pip install -q ".[test]"
    "$venv/bin/python" -m pip install -q --force-reinstall --no-deps --no-cache-dir .
    devmode=0
    [[ "$py" == "${interpreters[0]}" ]] && devmode=1
    # The backends built into this installation: the default one first, then
    # (CPython) the cffi one where it was built.  Asked from / so the source
    # tree's pyatomics/ cannot shadow the installed package.
    backends=$(cd / && env -u PYATOMICS_BACKEND "$venv/bin/python" -c 'import pyatomics
print(pyatomics.BACKEND, *sorted(pyatomics.available_backends() - {pyatomics.BACKEND}))') \
        || { failed+=("$tag:import"); continue; }
    for backend in $backends; do
        run_tag=$tag
        [[ "$backend" != "${backends%% *}" ]] && run_tag="$tag/$backend"
        log "$run_tag: pytest with the $backend backend"
        if (cd "$root" && PYTHONDEVMODE=$devmode PYATOMICS_BACKEND=$backend "$venv/bin/python" -m pytest \
                -p no:cacheprovider --rootdir "$root" -c "$root/pyproject.toml" "$@" "$root/tests" \
                --import-mode=importlib); then
            ran+=("$run_tag")
        else
            failed+=("$run_tag")
        fi
    done
    # The disassembly check reads the C-API extension (not built on PyPy).
    if [[ "$(uname -m)" == x86_64 && "$tag" != pypy* ]]; then
        "$venv/bin/python" scripts/check_disassembly.py || failed+=("$tag:disassembly")
    fi
done

log "summary"
echo "passed on: ${ran[*]:-none}"
if (( ${#failed[@]} )); then
    echo "FAILED on: ${failed[*]}"
    exit 1
fi
