#!/usr/bin/env bash
# A Debian sid chroot with the newest interpreters Debian ships: CPython 3.14
# and 3.15 and PyPy 3.11, each with its -dev, -venv and test-suite packages
# (the test suite brings test.lock_tests), and gcc.
#
#   scripts/get-sid-chroot.sh            print the chroot's path, building it once
#   scripts/get-sid-chroot.sh run CMD..  run CMD inside it as root, with /proc
#                                        mounted and pip set up as on this machine
#   scripts/get-sid-chroot.sh check      say whether it can be built here (exit 0/1)
#   scripts/get-sid-chroot.sh sync DIR [NAME]
#                                        replace the chroot's /NAME (default /src)
#                                        with DIR's files (in a git work tree: the
#                                        tracked and untracked-but-not-ignored ones,
#                                        as a commit would hold them)
#
# The chroot is cached under $PYATOMICS_CACHE (default ~/.cache/pyatomics) as
# sid-chroot-<key>, the key being a hash of what it holds (suite, variant and
# package list below): change the list and a new one is built.  Building it
# (debootstrap --variant=minbase, about a minute with a nearby mirror) needs
# root (or passwordless sudo) and debootstrap, which is apt-get installed if
# missing; $PYATOMICS_DEBIAN_MIRROR picks the mirror.  Only the path goes to
# stdout; progress goes to stderr.
#
# Runs that share one chroot directory (sync, then run) should hold
# $PYATOMICS_CACHE/sid-chroot.lock (flock), as scripts/test.sh and
# scripts/check_release.sh do: /src and /release are one per chroot.
#
# Mounts: `run` enters a private mount namespace (unshare -m) and mounts /proc
# inside the chroot there, so the mount exists only while CMD runs and vanishes
# with the namespace however CMD ends (no trap to miss, nothing left behind
# that an rm -rf of the cache could walk into).  Before it removes a stale or
# half-built chroot, the script checks that nothing is mounted below it.
#
# pip inside the chroot: the CA bundle pip uses here is copied in (PIP_CERT,
# REQUESTS_CA_BUNDLE, SSL_CERT_FILE point at it), and pip's index settings
# (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST, proxies) are passed
# through from the environment; file:// indexes and find-links directories of
# this machine's pip configuration are not visible inside and are left out.
set -euo pipefail

SUITE=sid
VARIANT=minbase
PACKAGES=(
    python3.14 python3.14-dev python3.14-venv libpython3.14-testsuite
    python3.15 python3.15-dev python3.15-venv libpython3.15-testsuite
    pypy3 pypy3-dev pypy3-venv pypy3-lib-testsuite
    gcc libc6-dev binutils
)
MIRROR=${PYATOMICS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { echo "[sid-chroot] $*" >&2; }
die() { echo "[sid-chroot] ERROR: $*" >&2; exit 1; }

cache_root=${PYATOMICS_CACHE:-$HOME/.cache/pyatomics}
key=$(printf '%s\n' "$SUITE" "$VARIANT" "${PACKAGES[@]}" | sha256sum | cut -c1-12)
dir=$cache_root/sid-chroot-$key

SUDO=()
need_root() {
    if [[ $(id -u) -ne 0 ]]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            SUDO=(sudo -n)
        else
            die "building and entering the sid chroot needs root or passwordless sudo (PYATOMICS_SID=0 skips it)"
        fi
    fi
}

# Anything mounted at or below $1?  (mount points from /proc/self/mountinfo)
mounted_below() {
    awk -v d="$1" '$5 == d || index($5, d "/") == 1 {found=1} END {exit !found}' /proc/self/mountinfo
}

safe_remove() {
    [[ -e "$1" ]] || return 0
    if mounted_below "$1"; then
        die "refusing to remove $1: something is mounted below it ($(awk -v d="$1" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | tr '\n' ' '))"
    fi
    "${SUDO[@]}" rm -rf --one-file-system "$1"
}

ca_bundle() {
    local f
    for f in "${PIP_CERT:-}" "$(pip config get global.cert 2>/dev/null || true)" \
        "$(python3 -c 'import pip._vendor.certifi as c; print(c.where())' 2>/dev/null || true)" \
        /etc/ssl/certs/ca-certificates.crt; do
        [[ -n "$f" && -f "$f" ]] && { echo "$f"; return 0; }
    done
    return 1
}

build() {
    [[ -f "$dir/.complete" ]] && return 0
    need_root
    # One build at a time (two test runs starting together share the result).
    mkdir -p "$cache_root"
    exec 9>"$cache_root/sid-chroot-$key.lock"
    flock 9
    [[ -f "$dir/.complete" ]] && { exec 9>&-; return 0; }
    command -v unshare >/dev/null || die "unshare (util-linux) is missing"
    if ! command -v debootstrap >/dev/null || [[ ! -f $KEYRING ]]; then
        command -v apt-get >/dev/null || die "debootstrap is missing and there is no apt-get to install it (PYATOMICS_SID=0 skips the sid chroot)"
        log "apt-get install debootstrap debian-archive-keyring"
        "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || die "apt-get update failed"
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
            --no-install-recommends debootstrap debian-archive-keyring >&2 || die "cannot install debootstrap"
    fi
    [[ -x /usr/share/debootstrap/scripts/$SUITE || -e /usr/share/debootstrap/scripts/$SUITE ]] ||
        die "this debootstrap does not know the suite $SUITE"
    mkdir -p "$cache_root"
    local tmp=$dir.partial
    safe_remove "$tmp"
    log "debootstrap --variant=$VARIANT $SUITE into $dir ($(printf '%s ' "${PACKAGES[@]}"))"
    local t0=$SECONDS
    if ! "${SUDO[@]}" debootstrap --variant="$VARIANT" --keyring="$KEYRING" \
            --include="$(IFS=,; echo "${PACKAGES[*]}")" "$SUITE" "$tmp" "$MIRROR" >"$cache_root/sid-chroot-$key.log" 2>&1; then
        tail -n 30 "$cache_root/sid-chroot-$key.log" >&2
        safe_remove "$tmp"
        die "debootstrap failed (log: $cache_root/sid-chroot-$key.log)"
    fi
    # What it holds, for the record (and the test summary).
    # shellcheck disable=SC2016  # dpkg-query's format, not the shell's
    "${SUDO[@]}" chroot "$tmp" dpkg-query -W -f '${Package} ${Version}\n' "${PACKAGES[@]}" |
        "${SUDO[@]}" tee "$tmp/.packages" >/dev/null
    "${SUDO[@]}" rm -rf "$tmp/var/cache/apt/archives"/*.deb
    "${SUDO[@]}" touch "$tmp/.complete"
    safe_remove "$dir"
    "${SUDO[@]}" mv "$tmp" "$dir"
    log "built in $((SECONDS - t0)) s: $(tr '\n' ' ' <"$dir/.packages" | grep -oE '(python3\.1[45]|pypy3) [^ ]*' | tr '\n' ' ')"
    exec 9>&-
}

# Environment that crosses into the chroot: pip's index and proxy settings,
# the CA bundle (copied in at the same place for every run) and whatever the
# caller names in PYATOMICS_SID_ENV (space-separated variable names).
enter() {
    local bundle
    bundle=$(ca_bundle) || die "no CA certificate bundle found for pip (PIP_CERT, pip config, certifi)"
    "${SUDO[@]}" mkdir -p "$dir/etc/pyatomics"
    "${SUDO[@]}" cp "$bundle" "$dir/etc/pyatomics/ca-bundle.crt"
    local cert=/etc/pyatomics/ca-bundle.crt
    local envs=(HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 TERM="${TERM:-dumb}"
        "PIP_CERT=$cert" "REQUESTS_CA_BUNDLE=$cert" "SSL_CERT_FILE=$cert" PIP_CONFIG_FILE=/dev/null
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore)
    local v
    for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_DEFAULT_TIMEOUT \
        HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy CI ${PYATOMICS_SID_ENV:-}; do
        [[ -n "${!v+x}" ]] && envs+=("$v=${!v}")
    done
    # file:// indexes only exist on this machine: leave them out.
    local i
    for i in "${!envs[@]}"; do
        [[ ${envs[$i]} == PIP_EXTRA_INDEX_URL=* || ${envs[$i]} == PIP_INDEX_URL=* ]] && [[ ${envs[$i]} == *file:* ]] && unset 'envs[i]'
    done
    # shellcheck disable=SC2016  # expanded by the inner shell
    "${SUDO[@]}" unshare --mount --propagation private -- sh -c '
        dir=$1; shift
        mount -t proc proc "$dir/proc" || exit 125
        exec chroot "$dir" /usr/bin/env -i "$@"' sh "$dir" "${envs[@]}" "$@"
}

case "${1:-}" in
    "")
        build
        echo "$dir"
        ;;
    check)
        if [[ -f "$dir/.complete" ]]; then echo "$dir (cached)"; exit 0; fi
        need_root
        command -v debootstrap >/dev/null || command -v apt-get >/dev/null ||
            die "no debootstrap and no apt-get to install it"
        echo "can be built at $dir"
        ;;
    sync)
        [[ ($# -eq 2 || $# -eq 3) && -d "$2" ]] || die "sync: expected a source directory and an optional name"
        name=${3:-src}
        [[ "$name" =~ ^[a-z][a-z0-9-]*$ ]] || die "sync: '$name' is not a plain directory name"
        need_root
        build
        safe_remove "$dir/$name"
        "${SUDO[@]}" mkdir "$dir/$name"
        if git -C "$2" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
            git -C "$2" ls-files -z --cached --others --exclude-standard |
                while IFS= read -r -d '' f; do [[ -f "$2/$f" ]] && printf '%s\0' "$f"; done |
                tar -C "$2" --null -T - -cf - | "${SUDO[@]}" tar -C "$dir/$name" -xf -
        else
            tar -C "$2" -cf - . | "${SUDO[@]}" tar -C "$dir/$name" -xf -
        fi
        ;;
    run)
        shift
        (( $# )) || die "run: no command"
        need_root
        build
        enter "$@"
        ;;
    *)
        die "unknown command '$1' (none, check, sync DIR, run CMD...)"
        ;;
esac
