#!/bin/sh
# Install the benchmark peers into one virtual environment, one at a time, so
# a peer that cannot be installed there (atomics on free-threaded 3.13,
# ft_utils before 3.12) is reported and skipped instead of stopping the rest.
#     benchmarks/install_peers.sh .venvs/cpython3.13t
set -u
venv=${1:?usage: $0 VENV_DIR}
py="$venv/bin/python"
# cereggii has no free-threaded wheel: its source build needs a recent cmake,
# found first on PATH (an old system cmake picks the wrong Python).
PATH="$(cd "$venv/bin" && pwd):$PATH"
export PATH
"$py" -m pip install -q cmake || echo "cmake: not installed"
for peer in cereggii ft_utils atomics readerwriterlock; do
    if "$py" -m pip install -q "$peer"; then
        echo "$peer: installed"
    else
        echo "$peer: NOT installed (the benchmarks will list it as missing)"
    fi
done
