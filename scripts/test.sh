#!/usr/bin/env bash
# The whole test suite, with all set-up, on a fresh machine:
#
#   bash scripts/test.sh
#
# This script finds (or builds, or installs) the interpreters, installs nox
# (pinned, in a venv of its own under .venvs/) and runs noxfile.py's sessions
# with them: for each interpreter a venv under .venvs/ (reused between runs),
# `pip install .[test]` (the built package, never the source tree, is what
# the tests import), pytest, and on x86_64 the disassembly check of the built
# C-API extension.  On the default python3, CPython 3.9, 3.14 and 3.15 the
# suite runs a second time with PYATOMICS_BACKEND=cffi (noxfile.py says why
# not on the CPythons between; PYATOMICS_CFFI_EVERYWHERE=1 runs it there too).
# `nox -l` (with PYATOMICS_PYTHONS="python ...") lists the sessions; one of them
# can be run alone with nox -s.  Interpreters:
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
# Then the documentation site is built and checked (scripts/build-docs.sh;
# PYATOMICS_DOCS=0 leaves it out).
# The summary says where the suite passed and, for each run, how many of
# CPython's lock_tests (tests/test_lock_conformance.py) ran.
# Extra arguments go to pytest; if one names a test file or directory, the
# whole tests/ directory is not added.  The test budgets are hypothesis
# profiles (tests/conftest.py): HYPOTHESIS_PROFILE=soak bash scripts/test.sh
# (also passed into the sid chroot).
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

# pytest's arguments (noxfile.py adds tests/ unless one names tests).
pytest_args=("$@")

failed=()
ran=()
lock_lines=()

# nox, pinned, in a venv of its own keyed by its version and the Python it
# runs on (which needs 3.10+: inside the sid chroot there is no python3, so
# the first 3.10+ CPython found).
NOX_VERSION=2026.10.20
run_nox() { # run_nox <interpreter>...: the sessions on those; results into ran/failed/lock_lines
    local tools_py="" p
    for p in python3 python3.14 python3.13 python3.12 python3.11 python3.10 python3.15; do
        if command -v "$p" >/dev/null && "$p" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            tools_py=$p; break
        fi
    done
    [[ -n $tools_py ]] || { echo "no CPython 3.10+ to run nox with" >&2; failed+=("nox:no-python"); return; }
    local tools
    tools=$venvs/tools-nox-$NOX_VERSION-$("$tools_py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    if ! "$tools/bin/nox" --version >/dev/null 2>&1; then
        log "installing nox $NOX_VERSION into $tools"
        rm -rf "$tools"
        { "$tools_py" -m venv "$tools" && "$tools/bin/python" -m pip install -q "nox==$NOX_VERSION"; } ||
            { failed+=("nox:install"); return; }
    fi
    local report=$logdir/nox-report.json rc=0
    : >"$logdir/lock.log"
    # The interpreters' venvs are nox's, under $venvs, reused; every run
    # still rebuilds the package (the sessions force-reinstall it).
    PYATOMICS_PYTHONS="$*" PYATOMICS_STRICT_WARNINGS=$strict_cpython PYATOMICS_LOCK_LOG=$logdir/lock.log \
        "$tools/bin/nox" -f "$root/noxfile.py" --envdir "$venvs" --reuse-existing-virtualenvs \
        --report "$report" -- "${pytest_args[@]}" || rc=$?
    [[ -f $report ]] || { failed+=("nox(exit $rc)"); return; }
    # Session NAME's result -> the summary's words: TAG (venv and build)
    # failing is "TAG:install", TAG/disassembly "TAG:disassembly"; a pytest
    # session TAG/BACKEND counts as TAG for the interpreter's default backend
    # (cffi on PyPy, capi elsewhere: as in noxfile.py) and as TAG/BACKEND for
    # another.  Skipped (cffi not built there) and not-run (its venv failed)
    # sessions are left out.
    local kind what
    while read -r kind what; do
        case $kind in
            ran) ran+=("$what") ;;
            failed) failed+=("$what") ;;
        esac
    done < <("$tools/bin/python" - "$report" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["sessions"]:
    name, result = s["name"], s["result"]
    tag, _, what = name.partition("/")
    if name.endswith(":missing"):
        print("failed", name)
    elif result == "skipped" or (result == "aborted" and (s["reason"] or "").startswith("Prerequisite")):
        pass
    elif not what:
        if result != "success":
            print("failed", f"{tag}:install")
    elif what == "disassembly":
        if result != "success":
            print("failed", f"{tag}:disassembly")
    else:
        default = "cffi" if tag.startswith("pypy") else "capi"
        print("ran" if result == "success" else "failed", tag if what == default else name)
PY
)
    while read -r line; do
        [[ -n $line ]] && lock_lines+=("$line")
    done <"$logdir/lock.log"
}
(( ${#interpreters[@]} )) && run_nox "${interpreters[@]}"

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
            PYATOMICS_RESULTS=/src/.sid-results PYATOMICS_SID_ENV="PYATOMICS_INTERPRETERS PYATOMICS_VENVS PYATOMICS_RESULTS HYPOTHESIS_PROFILE" \
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

# The documentation site (mkdocs.yml, docs/): built strictly, its internal
# links checked (scripts/build-docs.sh), once, outside the chroot.  Its venv is
# kept in the cache, keyed by docs/requirements.txt.  PYATOMICS_DOCS=0 skips it.
if [[ $inner == 0 && "$want_sid" != only && "${PYATOMICS_DOCS:-1}" != 0 ]]; then
    log "documentation site (scripts/build-docs.sh)"
    t0=$SECONDS
    if PYATOMICS_DOCS_VENV=${PYATOMICS_DOCS_VENV:-${PYATOMICS_CACHE:-$HOME/.cache/pyatomics}/docs-venv} \
            bash scripts/build-docs.sh; then
        ran+=("docs($((SECONDS - t0)) s)")
    else
        failed+=("docs")
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
