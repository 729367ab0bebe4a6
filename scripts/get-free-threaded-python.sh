#!/usr/bin/env bash
# Print the path of a free-threaded CPython (3.13t or newer), building one if needed.
#
# Order of preference:
#   1. $PYATOMICS_FT_PYTHON, if set.
#   2. python3.15t / python3.14t / python3.13t on PATH.
#   3. A cached build under $PYATOMICS_CACHE (default ~/.cache/pyatomics), keyed by
#      the Debian source version, so a machine builds it once.
#   4. Build CPython from Debian trixie's python3.13 *upstream* tarball with
#      --disable-gil (about 3-4 minutes on 2 cores) into that cache.
#
# Only the path goes to stdout; progress goes to stderr, so callers can do
#   FT=$(scripts/get-free-threaded-python.sh)
#
# --tsan: instead, a free-threaded CPython built --with-thread-sanitizer (for
# scripts/sanitize.sh tsan).  Steps 1-2 are skipped (an ordinary interpreter
# will not do); it is cached separately ($PYATOMICS_CACHE/cpython-<version>-ft-tsan)
# and takes several times longer to build.
set -euo pipefail

tsan=0
if [[ "${1:-}" == --tsan ]]; then tsan=1; shift; fi

log() { echo "[ft-python] $*" >&2; }

is_free_threaded() {
    "$1" -c 'import sys, sysconfig; sys.exit(0 if sysconfig.get_config_var("Py_GIL_DISABLED") else 1)' 2>/dev/null
}

if [[ $tsan == 0 && -n "${PYATOMICS_FT_PYTHON:-}" ]]; then
    is_free_threaded "$PYATOMICS_FT_PYTHON" || { log "$PYATOMICS_FT_PYTHON is not free-threaded"; exit 1; }
    echo "$PYATOMICS_FT_PYTHON"; exit 0
fi

for name in python3.15t python3.14t python3.13t; do
    [[ $tsan == 0 ]] || break
    if exe=$(command -v "$name" 2>/dev/null) && is_free_threaded "$exe"; then
        echo "$exe"; exit 0
    fi
done

cache_root=${PYATOMICS_CACHE:-$HOME/.cache/pyatomics}
suffix=ft
[[ $tsan == 0 ]] || suffix=ft-tsan
# Fast path: any finished build in the cache (the marker file is written last).
for done_marker in "$cache_root"/cpython-*-"$suffix"/.complete; do
    [[ -e "$done_marker" ]] || continue
    prefix=$(dirname "$done_marker")
    exe=$(ls "$prefix"/bin/python3.*t 2>/dev/null | head -n1 || true)
    if [[ -n "$exe" ]] && is_free_threaded "$exe"; then
        echo "$exe"; exit 0
    fi
done

# --- build from Debian trixie's source package --------------------------------
SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
src_list=/etc/apt/sources.list.d/pyatomics-trixie-src.sources
if [[ ! -e $src_list ]]; then
    log "adding a deb-src entry for trixie in $src_list"
    $SUDO tee "$src_list" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
# apt only for what is missing: a second build (the TSan one, which .ci/run
# starts in the background once the ordinary one is done) then takes no apt
# lock while the test suite may be installing packages: apt-get update waits
# for no lock timeout.
if [[ -z "$(apt-cache showsrc python3.13 2>/dev/null)" ]]; then
    log "apt-get update"
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
fi
# Headers the interpreter needs for ssl (pip), ctypes/cffi (libffi), compression modules.
build_deps=(dpkg-dev build-essential libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev
            libsqlite3-dev libreadline-dev uuid-dev xz-utils)
if ! dpkg -s "${build_deps[@]}" >/dev/null 2>&1; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
        "${build_deps[@]}" >&2
fi

version=$(apt-cache showsrc python3.13 | awk '/^Version:/{print $2}' | sort -V | tail -n1)
[[ -n "$version" ]] || { log "python3.13 source package not found"; exit 1; }
key=$(echo "$version" | tr -c 'A-Za-z0-9.\n' '_')
prefix="$cache_root/cpython-$key-$suffix"
if [[ -e "$prefix/.complete" ]]; then
    ls "$prefix"/bin/python3.*t | head -n1; exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "downloading python3.13 $version sources"
(cd "$work" && apt-get source --download-only "python3.13=$version" >&2)
orig=$(ls "$work"/python3.13_*.orig.tar.* | head -n1)
mkdir "$work/src"
tar -xf "$orig" -C "$work/src" --strip-components=1
log "building free-threaded CPython $version into $prefix"
rm -rf "$prefix"
configure_extra=(--with-ensurepip=install)
install_extra=()
if [[ $tsan == 1 ]]; then
    # No pip and no precompiled .pyc files in the TSan build: both run the new,
    # instrumented interpreter over thousands of files (compileall -j0 also forks
    # worker processes from a threaded one), which took longer than the whole
    # compile.  A venv made from this interpreter still gets pip (venv runs
    # ensurepip), and .pyc files are written on first import.
    configure_extra=(--with-thread-sanitizer --without-ensurepip)
    install_extra=(PYTHON_FOR_BUILD=true)
    # The build runs the new interpreter (setup of modules, ensurepip): CPython's
    # own suppressions keep its known internal races from failing the build.
    export TSAN_OPTIONS="suppressions=$work/src/Tools/tsan/suppressions_free_threading.txt halt_on_error=0 exitcode=0"
fi
(
    cd "$work/src"
    ./configure --prefix="$prefix" --disable-gil "${configure_extra[@]}" \
        >"$work/configure.log" 2>&1 || { tail -50 "$work/configure.log" >&2; exit 1; }
    make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -50 "$work/make.log" >&2; exit 1; }
    make install "${install_extra[@]}" >"$work/install.log" 2>&1 || { tail -50 "$work/install.log" >&2; exit 1; }
)
exe=$(ls "$prefix"/bin/python3.*t | head -n1)
is_free_threaded "$exe" || { log "built interpreter is not free-threaded"; exit 1; }
if [[ $tsan == 1 ]]; then
    cp "$work/src/Tools/tsan/suppressions_free_threading.txt" "$prefix/cpython-tsan-suppressions.txt"
fi
touch "$prefix/.complete"
log "done: $exe"
echo "$exe"
