#!/usr/bin/env bash
# The main job, with all set-up, on a fresh machine:
#
#   bash scripts/demo.sh [demo arguments]
#
# Finds or builds a free-threaded CPython (first run: ~4 minutes, then cached
# in ~/.cache/pyatomics), installs pyatomics into .venvs/, and runs
# `python -m pyatomics info` and `python -m pyatomics demo` there: the race
# condition tour, where the GIL is really off.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
py=$(scripts/get-free-threaded-python.sh)
venv=.venvs/demo-$(basename "$py")
[[ -x "$venv/bin/python" ]] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps . >&2
cd /   # run the installed package, not the source tree
"$OLDPWD/$venv/bin/python" -m pyatomics info
"$OLDPWD/$venv/bin/python" -m pyatomics demo "$@"
