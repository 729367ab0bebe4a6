#!/usr/bin/env bash
# The whole test suite, with all set-up, on a fresh machine:
#
#   bash scripts/test.sh
#
# For each interpreter: a venv under .venvs/, `pip install .[test]` (the built
# package, never the source tree, is what the tests import), pytest, and on
# x86_64 the disassembly check of the built extension.  Interpreters:
#   - the default python3 (run with PYTHONDEVMODE=1, so warnings are errors);
#   - a free-threaded CPython (scripts/get-free-threaded-python.sh finds one or
#     builds 3.13t once into ~/.cache/pyatomics); the suite asserts that the GIL
#     stays disabled after importing pyatomics;
#   - every other pyenv CPython 3.9-3.13 present, unless PYATOMICS_QUICK=1.
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
    if (cd "$root" && PYTHONDEVMODE=$devmode "$venv/bin/python" -m pytest -p no:cacheprovider \
            --rootdir "$root" -c "$root/pyproject.toml" "$@" "$root/tests" --import-mode=importlib); then
        ran+=("$tag")
    else
        failed+=("$tag")
    fi
    if [[ "$(uname -m)" == x86_64 ]]; then
        "$venv/bin/python" scripts/check_disassembly.py || failed+=("$tag:disassembly")
    fi
done

log "summary"
echo "passed on: ${ran[*]:-none}"
if (( ${#failed[@]} )); then
    echo "FAILED on: ${failed[*]}"
    exit 1
fi
