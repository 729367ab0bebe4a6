#!/usr/bin/env bash
# Sanitizer, race-detector and model-checking jobs (docs/reliability.md has
# what each one covers and what it found).  One subcommand per job:
#
#   bash scripts/sanitize.sh asan        the whole pytest suite against both extensions
#                                        (the C-API one and the cffi one) built with
#                                        -fsanitize=address,undefined (-fno-sanitize-
#                                        recover: any UBSan finding is fatal) at the
#                                        optimisation level that ships (sysconfig's -O3),
#                                        with each backend where it is built: on the
#                                        default python3 capi and cffi, on a free-threaded
#                                        CPython capi (PYATOMICS_QUICK=1: only the default
#                                        python3; PYATOMICS_ASAN_PYTHONS="py1 py2": those).
#                                        Venvs: .venvs/asan-<tag>.
#   bash scripts/sanitize.sh fuzz        tests/test_fuzz.py (every AtomicInt slot and lock
#                                        method, evil arguments, several threads) with a
#                                        fixed budget, PYATOMICS_FUZZ_EXAMPLES (default
#                                        2000) examples, under ASan+UBSan built at -O0
#                                        with the core's assertions on (PYATOMICS_DEBUG=1;
#                                        venvs .venvs/asan-O0-<tag>), each backend.
#   bash scripts/sanitize.sh c-tsan      the C core's test program (csrc/tests) built
#                                        with -fsanitize=thread; zero reports required.
#                                        First checks that TSan does flag a deliberate
#                                        race in a tiny C program.
#   bash scripts/sanitize.sh c-helgrind  the same program, built normally, under
#                                        valgrind --tool=helgrind, with the suppressions
#                                        in scripts/valgrind-suppressions.supp.
#   bash scripts/sanitize.sh model       spin, exhaustively, on csrc/model/rwlock.pml in
#                                        several configurations (PYATOMICS_SLOW=1: also
#                                        the bigger ones, minutes each).
#   bash scripts/sanitize.sh tsan        SLOW: a free-threaded CPython built with
#                                        --with-thread-sanitizer (scripts/get-free-
#                                        threaded-python.sh --tsan, cached; the first
#                                        build takes ~6 min), the extension built with
#                                        -fsanitize=thread, the threaded tests, lock_tests
#                                        and the fuzzer under it with
#                                        scripts/tsan-suppressions.txt (12-17 min).
#                                        First checks that a deliberately racy C
#                                        extension function is reported.
#   bash scripts/sanitize.sh all-fast    asan + fuzz + c-tsan + c-helgrind + model (what CI
#                                        runs); with PYATOMICS_SLOW=1 also tsan.
#   bash scripts/sanitize.sh all         all-fast + tsan.
#
# Several subcommands may be given at once.  The exit status is non-zero if any
# job had a finding (a sanitizer report, a test failure, a model-checker error)
# or could not run.  Extra pytest arguments: PYATOMICS_PYTEST_ARGS="-k rwlock".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
root=$PWD
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
export PYATOMICS_WERROR=1

SUPP_VALGRIND=$root/scripts/valgrind-suppressions.supp
SUPP_TSAN=$root/scripts/tsan-suppressions.txt
# The threaded tests (test_faults.py forks with threads running, which TSan
# does not support).
TSAN_TESTS=(tests/test_atomicint.py tests/test_rwlock.py tests/test_spinlock.py tests/test_wait_notify.py
            tests/test_lock_conformance.py tests/test_fuzz.py)

failures=()
evidence=()   # one line per job run: what it ran and what it found (printed at the end)
log() { printf '\n=== sanitize: %s ===\n' "$*"; }
fail() { echo "sanitize: FAILED: $*" >&2; failures+=("$*"); }

need_tool() { # need_tool <command> <apt package>
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "sanitize: installing $2 (for $1)" >&2
    local sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends "$2" >&2 || { $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends "$2" >&2; }
    command -v "$1" >/dev/null 2>&1
}

py_tag() {
    "$1" -c 'import sys, sysconfig; print(f"{sys.implementation.name}{sys.version_info[0]}.{sys.version_info[1]}" + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))'
}

# make_venv <python> <venv dir> <PYATOMICS_SANITIZE value> [extra CFLAGS]
# Test dependencies, then a fresh instrumented build of the package.  The build
# runs in a copy of the source tree: pip builds in-tree, and setuptools skips
# an extension whose .so in ./build/ is newer than its sources, whatever the
# flags, so building here could silently install an uninstrumented build (and
# leave an instrumented one in ./build/ for the next ordinary install).
make_venv() {
    local py=$1 venv=$2 sanitize=$3 cflags=${4:-} src rc=0
    [[ -x "$venv/bin/python" ]] || "$py" -m venv "$venv" || return 1
    "$venv/bin/python" -m pip install -q ".[test]" || return 1
    src=$(mktemp -d)
    git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -cf - -T - 2>/dev/null |
        tar -xf - -C "$src" || { rm -rf "$src"; return 1; }
    # CFLAGS only when given: set at all, it replaces sysconfig's (-O3
    # -DNDEBUG ...), and the build would not be the one that ships.
    env ${cflags:+CFLAGS="$cflags"} PYATOMICS_SANITIZE="$sanitize" \
        "$venv/bin/python" -m pip install -q --no-deps --force-reinstall --no-cache-dir "$src" || rc=1
    rm -rf "$src"
    return $rc
}

pytest_cmd() { # pytest_cmd <venv> args...: the README's pytest invocation
    local venv=$1; shift
    "$venv/bin/python" -m pytest -p no:cacheprovider --rootdir "$root" -c "$root/pyproject.toml" \
        --import-mode=importlib ${PYATOMICS_PYTEST_ARGS:-} "$@"  # (word splitting wanted)
}

# ---------------------------------------------------------------------------
# asan: AddressSanitizer + UndefinedBehaviorSanitizer over the pytest suite
# ---------------------------------------------------------------------------
asan_interpreters() { # the interpreters the asan and fuzz jobs use, one per line
    if [[ -n "${PYATOMICS_ASAN_PYTHONS:-}" ]]; then
        tr ' ' '\n' <<<"$PYATOMICS_ASAN_PYTHONS"; return
    fi
    command -v python3
    if [[ "${PYATOMICS_QUICK:-0}" != 1 ]]; then
        scripts/get-free-threaded-python.sh || return 1
    fi
}

# asan_pytest <job> <python> <level> pytest-args...: build both extensions with
# ASan+UBSan into .venvs/asan-<tag> (<level> "ship": the optimisation level
# that ships) or .venvs/asan-O0-<tag> (<level> "O0": -O0 with assertions),
# once per run of this script, and run pytest there once per backend built;
# a sanitizer report or a test failure fails <job>.
declare -A asan_built=()
asan_pytest() {
    local job=$1 py=$2 level=$3; shift 3
    local tag venv dir ext pymalloc libasan libubsan backends backend debug=0
    libasan=$(gcc -print-file-name=libasan.so) libubsan=$(gcc -print-file-name=libubsan.so)
    [[ -e "$libasan" && -e "$libubsan" ]] || { fail "$job: gcc has no libasan/libubsan"; return; }
    tag=$(py_tag "$py"); venv=$root/.venvs/asan-$tag
    [[ $level == ship ]] || { venv=$root/.venvs/asan-O0-$tag; debug=1; }
    if [[ -z "${asan_built[$venv]:-}" ]]; then
        log "$job: building both extensions with ASan+UBSan on $tag (level $level)"
        PYATOMICS_DEBUG=$debug make_venv "$py" "$venv" address,undefined || { fail "$job: build on $tag"; return; }
        # Make sure every extension really is instrumented, non-recovering,
        # and at the level asked for (-O0 builds keep the core's assertions,
        # whose failure message names pa_*).
        # (-I: not the source tree's uncompiled pyatomics/ from the current directory)
        dir=$("$venv/bin/python" -I -c 'import importlib.util as u, os; print(os.path.dirname(u.find_spec("pyatomics").origin))')
        for ext in "$dir"/_capi_binding.*.so "$dir"/_cffi_binding_lib.*.so; do
            [[ -e "$ext" ]] || continue
            local syms; syms=$(nm -D "$ext")   # (not nm | grep -q: SIGPIPE + pipefail)
            if ! grep -q __asan_report <<<"$syms" || ! grep -q '__ubsan_handle_.*_abort' <<<"$syms"; then
                fail "$job: $ext is not built with ASan+UBSan (non-recovering)"; return
            fi
            echo "instrumented: $(basename "$ext") ($(grep -c __asan_report <<<"$syms") ASan entry points)"
        done
        asan_built[$venv]=1
    fi
    # Each backend built into this installation (cffi is not on 3.13t).
    backends=$(cd / && env -u PYATOMICS_BACKEND LD_PRELOAD="$libasan $libubsan" ASAN_OPTIONS=detect_leaks=0 \
        "$venv/bin/python" -I -c 'import pyatomics
print(*sorted(pyatomics.available_backends()))') || { fail "$job: import on $tag"; return; }
    for backend in $backends; do
        PYATOMICS_BACKEND=$backend asan_run "$job" "$tag/$backend" "$venv" "$libasan $libubsan" "$@"
    done
}

# asan_run <job> <label> <venv> <preload> pytest-args...
asan_run() {
    local job=$1 label=$2 venv=$3 preload=$4 tag; shift 4
    tag=${label%%/*}
    log "$job on $label"
    # The interpreter is not instrumented, so the runtimes must be loaded
    # first (LD_PRELOAD).  detect_leaks=0: CPython does not free everything
    # at exit (interned strings, static types, module state kept alive by
    # design, pymalloc arenas), so LeakSanitizer would report thousands of
    # "leaks" that are the interpreter's, none of them ours.
    # PYTHONMALLOC=malloc: every object (our locks included) comes from
    # ASan's malloc, so a use after free of a deallocated lock is caught;
    # pymalloc would hand the memory back to its own pool and hide it.
    # Free-threaded builds accept only mimalloc (PYTHONMALLOC=malloc is a
    # fatal error there), so there object memory is mimalloc's.
    pymalloc=malloc
    [[ $tag != *t ]] || pymalloc=mimalloc
    local out rc n; out=$(mktemp)
    LD_PRELOAD="$preload" \
        ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1:exitcode=86 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=87 \
        PYTHONMALLOC=$pymalloc PYTHONFAULTHANDLER=1 \
        pytest_cmd "$venv" "$@" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    n=$(grep -c "ERROR: AddressSanitizer\|runtime error:" "$out")
    local counts; counts=$(grep -E '^(=+ )?[0-9]+ (passed|failed)' "$out" | tail -n1 | tr -d '=' | xargs)
    echo "$job on $label: pytest exit $rc, $n sanitizer report(s) ($counts)"
    evidence+=("$job on $label: pytest exit $rc, ASan/UBSan reports: $n, tests: ${counts:-none}")
    (( rc == 0 && n == 0 )) || fail "$job on $label: pytest exit $rc, $n ASan/UBSan report(s)"
    rm -f "$out"
}

job_asan() {
    local py pys
    pys=$(asan_interpreters) || { fail "asan: no free-threaded CPython"; return; }
    for py in $pys; do asan_pytest asan "$py" ship -q "$root/tests"; done
}

# ---------------------------------------------------------------------------
# fuzz: tests/test_fuzz.py with a fixed budget, under ASan+UBSan
# ---------------------------------------------------------------------------
job_fuzz() {
    local py pys examples=${PYATOMICS_FUZZ_EXAMPLES:-2000}
    pys=$(asan_interpreters) || { fail "fuzz: no free-threaded CPython"; return; }
    for py in $pys; do
        PYATOMICS_FUZZ_EXAMPLES=$examples asan_pytest "fuzz ($examples examples)" "$py" O0 -q \
            --hypothesis-show-statistics "$root/tests/test_fuzz.py"
    done
}

# ---------------------------------------------------------------------------
# c-tsan / c-helgrind: the C core's own test program
# ---------------------------------------------------------------------------
racy_c_program() { # writes a program with a deliberate data race to $1
    cat >"$1" <<'EOF'
/* Deliberately racy: two threads do a plain, non-atomic ++ on one int. */
#include <pthread.h>
#include <stdio.h>
static int counter;
static void *bump(void *arg) { for (int i = 0; i < 1000; i++) counter++; return arg; }
int main(void) {
    pthread_t a, b;
    pthread_create(&a, NULL, bump, NULL);
    pthread_create(&b, NULL, bump, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("counter=%d\n", counter);
    return 0;
}
EOF
}

job_c_tsan() {
    log "c-tsan: does TSan catch a deliberate race?"
    local tmp; tmp=$(mktemp -d)
    racy_c_program "$tmp/racy.c"
    gcc -std=c11 -O1 -g -fsanitize=thread -pthread "$tmp/racy.c" -o "$tmp/racy" || { fail "c-tsan: canary build"; rm -rf "$tmp"; return; }
    if "$tmp/racy" >"$tmp/out" 2>&1 || ! grep -q "WARNING: ThreadSanitizer: data race" "$tmp/out"; then
        cat "$tmp/out"; fail "c-tsan: the deliberately racy program was NOT reported"
    else
        echo "yes: $(grep -c 'WARNING: ThreadSanitizer' "$tmp/out") report(s) on the racy program, as expected"
    fi
    rm -rf "$tmp"

    log "c-tsan: csrc/tests under ThreadSanitizer"
    make -s -C csrc/tests build CFLAGS_EXTRA='-O1 -g -fsanitize=thread' EXE=build/test_core-tsan ||
        { fail "c-tsan: build"; return; }
    local out; out=$(mktemp)
    TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1" csrc/tests/build/test_core-tsan 2>&1 | tee "$out"
    local rc=${PIPESTATUS[0]} n; n=$(grep -c "WARNING: ThreadSanitizer" "$out")
    echo "c-tsan: exit $rc, $n ThreadSanitizer report(s)"
    evidence+=("c-tsan: csrc/tests exit $rc, ThreadSanitizer reports: $n ($(grep -cE '^ok ' "$out") C tests ok)")
    (( rc == 0 && n == 0 )) || fail "c-tsan: exit $rc, $n report(s)"
    rm -f "$out"
}

job_c_helgrind() {
    need_tool valgrind valgrind || { fail "c-helgrind: valgrind not available"; return; }
    log "c-helgrind: does helgrind catch a deliberate race?"
    local tmp; tmp=$(mktemp -d)
    racy_c_program "$tmp/racy.c"
    gcc -std=c11 -O1 -g -pthread "$tmp/racy.c" -o "$tmp/racy" || { fail "c-helgrind: canary build"; rm -rf "$tmp"; return; }
    if valgrind --tool=helgrind -q --error-exitcode=1 --suppressions="$SUPP_VALGRIND" "$tmp/racy" >"$tmp/out" 2>&1 ||
            ! grep -q "Possible data race" "$tmp/out"; then
        cat "$tmp/out"; fail "c-helgrind: the deliberately racy program was NOT reported"
    else
        echo "yes: $(grep -c 'Possible data race' "$tmp/out") report(s) on the racy program, as expected"
    fi
    rm -rf "$tmp"

    log "c-helgrind: csrc/tests under valgrind --tool=helgrind"
    make -s -C csrc/tests build CFLAGS_EXTRA='-O1 -g' EXE=build/test_core-vg || { fail "c-helgrind: build"; return; }
    local out; out=$(mktemp)
    valgrind --tool=helgrind -q --error-exitcode=1 --suppressions="$SUPP_VALGRIND" \
        csrc/tests/build/test_core-vg 2>&1 | tee "$out"
    local rc=${PIPESTATUS[0]} n; n=$(grep -c "Possible data race\|lock order\|Thread #[0-9]* unlocked" "$out")
    echo "c-helgrind: exit $rc, $n helgrind report(s) outside the suppressions"
    evidence+=("c-helgrind: csrc/tests exit $rc, helgrind reports: $n ($(grep -cE '^ok ' "$out") C tests ok)")
    (( rc == 0 && n == 0 )) || fail "c-helgrind: exit $rc, $n report(s)"
    rm -f "$out"
}

# ---------------------------------------------------------------------------
# model: spin on csrc/model/rwlock.pml
# ---------------------------------------------------------------------------
# name | preprocessor defines.  Each one is exhaustive and took under a minute
# on a busy 2-core machine (docs/reliability.md has the state counts).  The
# FORK ones (waiters vanish at a fork, the child's reset runs) take seconds;
# the slow one about a minute and 1.4 GB.  (The same with TIMEOUTS=1: 133
# million states, 4.5 minutes, 5.8 GB; run by hand, docs/reliability.md.)  The
# slow ones (PYATOMICS_SLOW=1) take minutes; NR=2 NW=2 is out of reach.
MODEL_CONFIGS=(
    "2 readers, 1 writer, 2 rounds|-DNR=2 -DNW=1 -DITER=2 -DTIMEOUTS=0 -DDOWNGRADE=0"
    "1 reader, 2 writers, 1 round, timeouts, downgrade|-DNR=1 -DNW=2 -DITER=1 -DTIMEOUTS=1 -DDOWNGRADE=1 -DSTRICT_END=1"
    "2 readers, 1 writer, 1 round, timeouts, downgrade, recursive read|-DNR=2 -DNW=1 -DITER=1 -DTIMEOUTS=1 -DDOWNGRADE=1 -DRECURSIVE=1 -DSTRICT_END=1"
    "1 reader, 2 writers, 1 round, timeouts, downgrade, wake count unknown|-DNR=1 -DNW=2 -DITER=1 -DTIMEOUTS=1 -DDOWNGRADE=1 -DSTRICT_END=1 -DWAKE_UNKNOWN=1"
    "fork with the write lock held, 1 reader waiting (may time out), 2 child threads|-DNR=1 -DNW=0 -DITER=1 -DTIMEOUTS=1 -DDOWNGRADE=0 -DFORK=1 -DSTRICT_END=1"
    "fork with a read lock held, 1 writer waiting (may time out), 2 child threads|-DNR=0 -DNW=1 -DITER=1 -DTIMEOUTS=1 -DDOWNGRADE=0 -DFORK=2 -DSTRICT_END=1"
)
MODEL_CONFIGS_SLOW=(
    "1 reader, 2 writers, 2 rounds|-DNR=1 -DNW=2 -DITER=2 -DTIMEOUTS=0 -DDOWNGRADE=0"
    "2 readers, 1 writer, 2 rounds, downgrade|-DNR=2 -DNW=1 -DITER=2 -DTIMEOUTS=0 -DDOWNGRADE=1"
    "1 reader, 2 writers, 2 rounds, downgrade|-DNR=1 -DNW=2 -DITER=2 -DTIMEOUTS=0 -DDOWNGRADE=1"
    "2 readers, 1 writer, 2 rounds, timeouts, downgrade|-DNR=2 -DNW=1 -DITER=2 -DTIMEOUTS=1 -DDOWNGRADE=1"
    "fork with the write lock held, 1 reader and 1 writer waiting|-DNR=1 -DNW=1 -DITER=1 -DTIMEOUTS=0 -DDOWNGRADE=0 -DFORK=1 -DSTRICT_END=1"
)

# csrc/model/int_wait.pml: AtomicInt.wait and the wake every change performs.
# Each takes a second.  The last is a canary: a changer that reads the waiter
# count before changing the value must be caught losing a wakeup.
INT_WAIT_CONFIGS=(
    "2 waiters|-DNW=2"
    "3 waiters, a notifier, a same-value operation|-DNW=3 -DNOTIFIERS=1 -DSAME=1"
    "2 waiters (one may time out), a notifier, a same-value operation|-DNW=2 -DTIMEOUTS=1 -DNOTIFIERS=1 -DSAME=1"
)
INT_WAIT_CANARY="canary: waiter count read before the change|-DNW=2 -DBUGGY=1"

# Runs one configuration of csrc/model/$1 in $2 (a scratch directory);
# $4 = 1: the model must report an error (a canary).  Fails the job otherwise.
model_config() {
    local model=$1 tmp=$2 cfg=$3 expect_error=${4:-0} name defs t0 out
    name=${cfg%%|*}; defs=${cfg#*|}
    log "model: $model: $name ($defs)"
    t0=$SECONDS
    # A copy next to pan: `spin -t` looks for <model>.trail beside the model.
    cp "$root/csrc/model/$model" "$tmp/$model"
    # shellcheck disable=SC2086  # $defs: several -D options
    if ! (cd "$tmp" && rm -f pan* ./*.trail && spin $defs -a "$model" >spin.log 2>&1 &&
          gcc -O2 -DSAFETY -DCOLLAPSE -DVECTORSZ=2048 -o pan pan.c 2>gcc.log); then
        cat "$tmp"/spin.log "$tmp"/gcc.log 2>/dev/null; fail "model: $name: spin/gcc"; return
    fi
    # FORK configurations freeze the parent's threads mid-way at the fork:
    # -E ignores their end states; the model's at_end checks (on timeout)
    # that the child's threads all finished instead.
    local panflags=()
    [[ "$defs" != *-DFORK=* ]] || panflags=(-E)
    out=$(cd "$tmp" && ./pan -m1000000 "${panflags[@]}" 2>&1)
    local errors states
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$out" | head -n1)
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' <<<"$out" | head -n1)
    if grep -q "max search depth too small" <<<"$out"; then
        echo "$out"; fail "model: $name: search depth too small"
    elif [[ "$expect_error" == 1 ]]; then
        if [[ "${errors:-0}" == 0 ]]; then echo "$out"; fail "model: $name: the canary was not caught"
        else echo "ok: the canary's error was found ($errors), $((SECONDS - t0)) s"; fi
    elif [[ "$errors" != 0 ]]; then
        # shellcheck disable=SC2086
        echo "$out"; (cd "$tmp" && ls ./*.trail >/dev/null 2>&1 && spin $defs -t -p "$model" | tail -80)
        fail "model: $name: errors=${errors:-?}"
    else
        echo "ok: $states states stored, 0 errors, $((SECONDS - t0)) s"
    fi
}

job_model() {
    need_tool spin spin || { fail "model: spin not available"; return; }
    local tmp cfg
    tmp=$(mktemp -d)
    local configs=("${MODEL_CONFIGS[@]}")
    [[ "${PYATOMICS_SLOW:-0}" != 1 ]] || configs+=("${MODEL_CONFIGS_SLOW[@]}")
    for cfg in "${configs[@]}"; do model_config rwlock.pml "$tmp" "$cfg"; done
    for cfg in "${INT_WAIT_CONFIGS[@]}"; do model_config int_wait.pml "$tmp" "$cfg"; done
    model_config int_wait.pml "$tmp" "$INT_WAIT_CANARY" 1
    rm -rf "$tmp"
}

# ---------------------------------------------------------------------------
# tsan (slow): the Python tests under a ThreadSanitizer free-threaded CPython
# ---------------------------------------------------------------------------
job_tsan() {
    log "tsan: a ThreadSanitizer free-threaded CPython (built once, cached)"
    local py venv tag tmp rc n out
    py=$(scripts/get-free-threaded-python.sh --tsan) || { fail "tsan: could not build a TSan CPython"; return; }
    tag=$(py_tag "$py"); venv=$root/.venvs/tsan-$tag
    # Our own suppressions only; the interpreter's internal races are listed there.
    # print_suppressions: the log ends with which suppressions matched, and how often.
    export TSAN_OPTIONS="suppressions=$SUPP_TSAN halt_on_error=0 exitcode=66 second_deadlock_stack=1 print_suppressions=1"

    log "tsan: does it catch a deliberately racy C extension function?"
    tmp=$(mktemp -d)
    cat >"$tmp/racy.c" <<'EOF'
/* Deliberately racy: bump() does a plain, non-atomic ++ with the GIL-less
 * interpreter letting several threads in at once. */
#include <Python.h>
static long counter;
static PyObject *bump(PyObject *m, PyObject *n) {
    long k = PyLong_AsLong(n);
    for (long i = 0; i < k; i++) counter++;
    Py_RETURN_NONE;
}
static PyObject *get(PyObject *m, PyObject *u) { return PyLong_FromLong(counter); }
static PyMethodDef methods[] = {{"bump", bump, METH_O, NULL}, {"get", get, METH_NOARGS, NULL}, {NULL}};
static PyModuleDef_Slot slots[] = {{Py_mod_gil, Py_MOD_GIL_NOT_USED}, {0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "racy", NULL, 0, methods, slots};
PyMODINIT_FUNC PyInit_racy(void) { return PyModuleDef_Init(&def); }
EOF
    cat >"$tmp/run.py" <<'EOF'
import sys, threading
sys.path.insert(0, sys.argv[1])
import racy
# Start together (a Barrier) and run long enough to overlap: otherwise each
# thread could finish before the next starts, ordered by CPython's own locks.
barrier = threading.Barrier(4)
def run():
    barrier.wait()
    racy.bump(2_000_000)
ts = [threading.Thread(target=run) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print("counter", racy.get(), "of", 8_000_000)
EOF
    local inc ext
    inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    ext=$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
    gcc -shared -fPIC -O1 -g -fsanitize=thread -I"$inc" "$tmp/racy.c" -o "$tmp/racy$ext" ||
        { fail "tsan: canary build"; rm -rf "$tmp"; return; }
    "$py" "$tmp/run.py" "$tmp" >"$tmp/out" 2>&1; rc=$?
    n=$(grep -c "WARNING: ThreadSanitizer: data race" "$tmp/out")
    if (( n == 0 )) || ! grep -q "racy.c" "$tmp/out"; then
        cat "$tmp/out"; fail "tsan: the deliberately racy extension was NOT reported"
    else
        echo "yes: $n report(s) in racy.c (exit $rc), as expected"
    fi
    rm -rf "$tmp"

    log "tsan: the threaded tests on $tag ($py)"
    make_venv "$py" "$venv" thread || { fail "tsan: build"; return; }
    ext=$("$venv/bin/python" -I -c 'import importlib.util as u, os; print(os.path.dirname(u.find_spec("pyatomics").origin))')
    ext=$(ls "$ext"/_capi_binding.*.so | head -n1)
    local syms; syms=$(nm -D "$ext")
    grep -q __tsan_ <<<"$syms" || { fail "tsan: $ext is not built with -fsanitize=thread"; return; }
    local tests=() t
    for t in "${TSAN_TESTS[@]}"; do [[ -e "$t" ]] && tests+=("$root/$t") || echo "tsan: $t missing, skipped"; done
    out=$(mktemp)
    pytest_cmd "$venv" -q "${tests[@]}" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}; n=$(grep -c "WARNING: ThreadSanitizer" "$out")
    echo "tsan: pytest exit $rc, $n ThreadSanitizer report(s) outside the suppressions"
    (( rc == 0 && n == 0 )) || fail "tsan: exit $rc, $n report(s)"
    rm -f "$out"
}

# ---------------------------------------------------------------------------
(( $# )) || { sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 2; }
for cmd in "$@"; do
    case $cmd in
        asan) job_asan ;;
        fuzz) job_fuzz ;;
        c-tsan) job_c_tsan ;;
        c-helgrind) job_c_helgrind ;;
        model) job_model ;;
        tsan) job_tsan ;;
        all-fast|all)
            job_asan; job_fuzz; job_c_tsan; job_c_helgrind; job_model
            if [[ $cmd == all || "${PYATOMICS_SLOW:-0}" == 1 ]]; then job_tsan; fi ;;
        -h|--help|help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "sanitize: unknown job '$cmd' (asan, fuzz, c-tsan, c-helgrind, model, tsan, all-fast, all)" >&2; exit 2 ;;
    esac
done

log "summary"
# The evidence, one line per run (docs/reliability.md quotes a committed copy).
printf '%s\n' "${evidence[@]}" | tee "${PYATOMICS_SANITIZE_REPORT:-/dev/null}"
if (( ${#failures[@]} )); then
    printf 'FAILED: %s\n' "${failures[@]}"
    exit 1
fi
echo "all requested jobs passed: $*"
