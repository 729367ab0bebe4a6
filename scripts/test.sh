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
#     PYATOMICS_PYPY=0 leaves PyPy out, =1 runs it even with PYATOMICS_QUICK=1;
#   - unless PYATOMICS_QUICK=1: CPython 3.14 and 3.15 and PyPy 3.11 (cffi) from
#     Debian sid, in a chroot that scripts/get-sid-chroot.sh builds once into
#     ~/.cache/pyatomics (needs root or passwordless sudo, and debootstrap,
#     which it installs).  This script then runs itself inside the chroot on
#     those three, on a copy of the working tree at /src, with the same steps;
#     there the CPythons run with PYTHONDEVMODE=1 PYTHONWARNINGS=error (a deprecation
#     in 3.14/3.15 fails), and the extension compiles against their headers
#     with PYATOMICS_WERROR=1.  A machine where the chroot cannot be made fails
#     the run, loudly.  PYATOMICS_SID=0 leaves it out, =1 runs it even with
#     PYATOMICS_QUICK=1, =only runs nothing else.
# The summary says where the suite passed and, for each run, how many of
# CPython's lock_tests (tests/test_lock_conformance.py) ran.
# Extra arguments go to pytest; if one names a test file or directory, the
# whole tests/ directory is not added.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PYATOMICS_WERROR=1   # the C code must compile without warnings
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

log() { printf '\n=== %s ===\n' "$*"; }

venvs=${PYATOMICS_VENVS:-$root/.venvs}
logdir=$(mktemp -d "${TMPDIR:-/tmp}/pyatomics-test.XXXXXX")
trap 'rm -rf "$logdir"' EXIT
t_start=$SECONDS

want_sid=${PYATOMICS_SID:-}
[[ -z "$want_sid" ]] && { [[ "${PYATOMICS_QUICK:-0}" == 1 ]] && want_sid=0 || want_sid=1; }
[[ "$want_sid" =~ ^(0|1|only)$ ]] || { echo "PYATOMICS_SID=$want_sid: expected 0, 1 or only" >&2; exit 2; }

# Inside the sid chroot (PYATOMICS_INTERPRETERS set by the run below): just
# those interpreters, strict about warnings on CPython.
inner=0
strict_cpython=0
interpreters=()
if [[ -n "${PYATOMICS_INTERPRETERS:-}" ]]; then
    read -ra interpreters <<<"$PYATOMICS_INTERPRETERS"
    inner=1 strict_cpython=1 want_sid=0
elif [[ "$want_sid" != only ]]; then
    ft_python=$(scripts/get-free-threaded-python.sh)
    interpreters=("$(command -v python3)" "$ft_python")
fi
if [[ $inner == 0 && "$want_sid" != only && "${PYATOMICS_QUICK:-0}" != 1 ]]; then
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
if [[ "$want_pypy" == 1 && $inner == 0 && "$want_sid" != only ]]; then
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

# pytest's arguments: the extra ones, then tests/ unless they name tests.
pytest_args=("$@")
names_tests=0
for a in "$@"; do
    [[ "$a" != -* && -e "$a" ]] && names_tests=1
done
(( names_tests )) || pytest_args+=("$root/tests")

failed=()
ran=()
lock_lines=()
for py in "${interpreters[@]}"; do
    tag=$("$py" -c 'import sys, sysconfig; print(f"{sys.implementation.name}{sys.version_info[0]}.{sys.version_info[1]}" + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))') \
        || { failed+=("$py:missing"); continue; }
    venv="$venvs/$tag"
    log "$tag ($py)"
    if [[ ! -x "$venv/bin/python" ]]; then
        "$py" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    # Dependencies first, then a fresh build of the package itself.
    "$venv/bin/python" -m pip install -q ".[test]"
    "$venv/bin/python" -m pip install -q --force-reinstall --no-deps --no-cache-dir .
    devmode=0 warnings=${PYTHONWARNINGS:-}
    [[ $inner == 0 && "$py" == "${interpreters[0]}" ]] && devmode=1
    # 3.14/3.15: any warning is an error from interpreter start on, in the
    # suite's child interpreters too (the environment, unlike -W, is inherited).
    if [[ $strict_cpython == 1 && "$tag" == cpython* ]]; then
        devmode=1 warnings=error
    fi
    # The backends built into this installation: the default one first, then
    # (CPython) the cffi one where it was built.  Asked from / so the source
    # tree's pyatomics/ cannot shadow the installed package.
    backends=$(cd / && env -u PYATOMICS_BACKEND "$venv/bin/python" -c 'import pyatomics
print(pyatomics.BACKEND, *sorted(pyatomics.available_backends() - {pyatomics.BACKEND}))') \
        || { failed+=("$tag:import"); continue; }
    for backend in $backends; do
        run_tag=$tag
        [[ "$backend" != "${backends%% *}" ]] && run_tag="$tag/$backend"
        log "$run_tag: pytest with the $backend backend${warnings:+, PYTHONWARNINGS=$warnings}"
        out=$logdir/${run_tag//\//-}.log
        if (cd "$root" && PYTHONDEVMODE=$devmode PYTHONWARNINGS=$warnings PYATOMICS_BACKEND=$backend "$venv/bin/python" -m pytest \
                -p no:cacheprovider --rootdir "$root" -c "$root/pyproject.toml" "${pytest_args[@]}" \
                --import-mode=importlib) 2>&1 | tee "$out"; then
            ran+=("$run_tag")
        else
            failed+=("$run_tag")
        fi
        line=$(grep -E '^lock_tests: ' "$out" | tail -n 1 || true)
        [[ -n "$line" ]] && lock_lines+=("$run_tag: ${line#lock_tests: }")
    done
    # The disassembly check reads the C-API extension (not built on PyPy).
    if [[ "$(uname -m)" == x86_64 && "$tag" != pypy* ]]; then
        "$venv/bin/python" scripts/check_disassembly.py || failed+=("$tag:disassembly")
    fi
done

# CPython 3.14, 3.15 and PyPy 3.11 from Debian sid: this script again, inside
# the chroot, on a fresh copy of the working tree; its results come back in a file.
sid_note=""
if [[ "$want_sid" != 0 ]]; then
    log "Debian sid chroot: CPython 3.14, 3.15, PyPy 3.11 (scripts/get-sid-chroot.sh)"
    t0=$SECONDS
    if ! sid_dir=$(scripts/get-sid-chroot.sh); then
        echo "*** the Debian sid chroot cannot be made on this machine (see above):" \
            "CPython 3.14, 3.15 and PyPy 3.11 are NOT tested; PYATOMICS_SID=0 leaves them out knowingly ***" >&2
        failed+=("sid-chroot:unavailable")
    else
        t_built=$SECONDS
        rc=0
        # The chroot's /src is one: a concurrent run (another checkout) waits.
        # shellcheck disable=SC2016  # expanded by the inner bash
        PYATOMICS_INTERPRETERS="python3.14 python3.15 pypy3" PYATOMICS_VENVS=/var/cache/pyatomics/venvs \
            PYATOMICS_RESULTS=/src/.sid-results PYATOMICS_SID_ENV="PYATOMICS_INTERPRETERS PYATOMICS_VENVS PYATOMICS_RESULTS PYATOMICS_SOAK" \
            flock "$(dirname "$sid_dir")/sid-chroot.lock" bash -c \
            'scripts/get-sid-chroot.sh sync "$1" && shift && scripts/get-sid-chroot.sh run bash /src/scripts/test.sh "$@"' \
            sh "$root" "$@" || rc=$?
        if [[ -f "$sid_dir/src/.sid-results" ]]; then
            while read -r kind rest; do
                case $kind in
                    ran) ran+=("sid:$rest") ;;
                    failed) failed+=("sid:$rest") ;;
                    lock) lock_lines+=("sid:$rest") ;;
                esac
            done <"$sid_dir/src/.sid-results"
        else
            failed+=("sid-chroot:run(exit $rc)")
        fi
        sid_note="sid chroot: $((t_built - t0)) s to get it ($(tr '\n' ' ' <"$sid_dir/.packages" | grep -oE '(python3\.1[45]|pypy3) [^ ]*' | tr '\n' ',' | sed 's/,$//; s/,/, /g')), $((SECONDS - t_built)) s for the runs in it"
    fi
fi

if [[ -n "${PYATOMICS_RESULTS:-}" ]]; then
    {
        for r in "${ran[@]}"; do echo "ran $r"; done
        for r in "${failed[@]}"; do echo "failed $r"; done
        for r in "${lock_lines[@]}"; do echo "lock $r"; done
    } >"$PYATOMICS_RESULTS"
fi

log "summary"
for l in "${lock_lines[@]}"; do echo "lock_tests on $l"; done
[[ -n "$sid_note" ]] && echo "$sid_note"
echo "total: $((SECONDS - t_start)) s"
echo "passed on: ${ran[*]:-none}"
if (( ${#failed[@]} )); then
    echo "FAILED on: ${failed[*]}"
    exit 1
fi
