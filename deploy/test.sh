#!/usr/bin/env bash
# The test command: installs what is missing, builds a release and a sanitizer
# (ASan + UBSan) variant, runs the unit tests and the integration tests
# against both (the two integration runs side by side: each mostly waits on
# the dev broker), the fault suite (tests/faults) against the first, the ticket
# tests under valgrind (smoke and tickets), fuzzes the
# decoders and parsers for FUZZ_SECONDS (default 30) per target
# (deploy/fuzz.sh), builds and lints the Debian package and tests installing
# and purging it (deploy/package.sh), prints a summary and exits non-zero on
# any failure.
#
#   bash deploy/test.sh
#
# Works from a fresh clone with nothing running: the integration tests start
# their own PostgreSQL (deploy/pg-local.sh) and dev broker. Run it as root or
# as a user with sudo (only needed when packages are missing).
#
# The stage functions are only called through run_stage, which shellcheck
# cannot follow:
# shellcheck disable=SC2317
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

PYTHON=/usr/bin/python3
JOBS=$(nproc 2>/dev/null || echo 2)
# Keep the work tree clean: no __pycache__ or .pytest_cache.
export PYTHONDONTWRITEBYTECODE=1

LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/complaintd-test.XXXXXX")
trap 'rm -rf "$LOGDIR"' EXIT

declare -a RESULTS=()
FAILED=0

# The log a stage's output is kept in.
stage_log() {
    printf '%s/%s.log' "$LOGDIR" "$(tr -c 'A-Za-z0-9\n' '_' <<<"$1")"
}

# record_result NAME RC SECONDS LOG: the stage's line of the summary.
record_result() {
    local name=$1 rc=$2 secs=$3 note
    note=$(summary_of "$4")
    if [[ $rc -eq 0 ]]; then
        RESULTS+=("PASS  $name (${secs}s)${note:+  $note}")
    else
        RESULTS+=("FAIL  $name (exit $rc, ${secs}s)${note:+  $note}")
        FAILED=1
        # pytest's short summary names what failed: repeat it here, since
        # the summary may be all of the run's output that a reader sees.
        local what
        while IFS= read -r what; do
            RESULTS+=("        $what")
        done < <(grep -E '^(FAILED|ERROR) ' "$4" | head -n 10 || true)
    fi
}

# run_stage NAME CMD...: runs CMD with its output shown and kept; records the
# result instead of stopping, so one failure does not hide the others.
run_stage() {
    local name=$1
    shift
    local log start=$SECONDS rc
    log=$(stage_log "$name")
    printf '\n==> %s\n' "$name"
    set +e
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    record_result "$name" "$rc" $((SECONDS - start)) "$log"
    return "$rc"
}

# run_stage_bg NAME CMD...: starts a stage in the background with its output
# kept in its log only; wait_stages then waits for every such stage, shows
# each log in the order they were started and records their results.
declare -a BG_NAMES=() BG_PIDS=() BG_STARTS=()
run_stage_bg() {
    local name=$1
    shift
    printf '\n==> %s (started in the background)\n' "$name"
    "$@" >"$(stage_log "$name")" 2>&1 &
    BG_NAMES+=("$name")
    BG_PIDS+=("$!")
    BG_STARTS+=("$SECONDS")
}

wait_stages() {
    local i rc
    for i in "${!BG_PIDS[@]}"; do
        rc=0
        wait "${BG_PIDS[$i]}" || rc=$?
        printf '\n==> %s (output)\n' "${BG_NAMES[$i]}"
        cat "$(stage_log "${BG_NAMES[$i]}")"
        record_result "${BG_NAMES[$i]}" "$rc" $((SECONDS - BG_STARTS[i])) "$(stage_log "${BG_NAMES[$i]}")"
    done
    BG_NAMES=() BG_PIDS=() BG_STARTS=()
}

skip_stage() {
    RESULTS+=("SKIP  $1 ($2)")
    FAILED=1
}

# The one line of a stage's output worth repeating in the summary.
summary_of() {
    local log=$1 line
    line=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -n 1 || true)
    [[ -n $line ]] || line=$(grep -E '^fuzz: [0-9]+ targets' "$log" | tail -n 1 || true)
    [[ -n $line ]] || line=$(grep -E '[0-9]+ (passed|failed|error)' "$log" | tail -n 1 || true)
    [[ -n $line ]] || line=$(grep -E 'tests passed|tests failed' "$log" | tail -n 1 || true)
    # Strip pytest's ====== decoration.
    line=${line//=/}
    line=${line#"${line%%[![:space:]]*}"}
    printf '%s' "$line"
}

build_tree() {
    local dir=$1
    shift
    cmake -S "$ROOT" -B "$ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" &&
        cmake --build "$ROOT/$dir" --parallel "$JOBS"
}

# The Check runner directly (ctest would run the same binary a second time):
# its summary line is what CI reads.
unit_tests() {
    local dir=$1
    "$ROOT/$dir/unit_tests"
}

# Runs a command with the sanitizer settings; the integration harness passes
# them on to every process it starts and fails a test on any report.
with_sanitizers() {
    (
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        "$@"
    )
}

integration_tests() {
    local dir=$1
    COMPLAINTD_BUILD="$ROOT/$dir" "$PYTHON" -m pytest -q -p no:cacheprovider "$ROOT/tests/integration"
}

# The fault suite (tests/faults, docs/faults.md) at CI size: kill -9,
# standby instances taking over, PostgreSQL and broker outages, a deadline
# storm, hostile input, times from the future, a read-only PostgreSQL. -s:
# each case prints its figures.
fault_tests() {
    local dir=$1
    COMPLAINTD_BUILD="$ROOT/$dir" "$PYTHON" -m pytest -q -s -p no:cacheprovider "$ROOT/tests/faults"
}

# The smoke and ticket tests once more with the daemon under valgrind's
# memcheck: an invalid access, an uninitialised value or a definite leak in
# its log fails the test (tests/integration/harness.py).
valgrind_smoke() {
    local dir=$1
    COMPLAINTD_VALGRIND=1 COMPLAINTD_BUILD="$ROOT/$dir" "$PYTHON" -m pytest -q -p no:cacheprovider \
        "$ROOT/tests/integration/test_smoke.py" "$ROOT/tests/integration/test_tickets.py"
}

run_stage "install dependencies" bash "$ROOT/deploy/install-deps.sh" || {
    echo "test.sh: cannot install the dependencies" >&2
    exit 1
}

# Both trees first: their two integration runs then go side by side. Each
# run is mostly waiting (the dev broker takes about 3 s for every group
# join), and each test has its own PostgreSQL database, broker and ports.
PLAIN_OK=0 ASAN_OK=0
if run_stage "build (RelWithDebInfo)" build_tree build; then PLAIN_OK=1; fi
if run_stage "build (ASan+UBSan)" build_tree build-asan -DCOMPLAINTD_SANITIZE=ON; then ASAN_OK=1; fi

if [[ $PLAIN_OK -eq 1 ]]; then
    run_stage "unit tests (build)" unit_tests build || true
else
    skip_stage "unit tests (build)" "build failed"
fi
if [[ $ASAN_OK -eq 1 ]]; then
    # CK_FORK=no: one process for every test. A forked child of an ASan
    # process costs about 0.2 s, two minutes for the suite; lib/ has no
    # globals for one test to leave to the next, and a leak of any test is
    # still reported when the process exits.
    run_stage "unit tests (build-asan)" with_sanitizers env CK_FORK=no "$ROOT/build-asan/unit_tests" || true
else
    skip_stage "unit tests (build-asan)" "build failed"
fi

if [[ $PLAIN_OK -eq 1 ]]; then
    run_stage_bg "integration tests (build)" integration_tests build
else
    skip_stage "integration tests (build)" "build failed"
fi
if [[ $ASAN_OK -eq 1 ]]; then
    run_stage_bg "integration tests (build-asan)" with_sanitizers integration_tests build-asan
else
    skip_stage "integration tests (build-asan)" "build failed"
fi
wait_stages

# The fault suite measures recovery times and kills processes: it runs
# alone.
if [[ $PLAIN_OK -eq 1 ]]; then
    run_stage "fault suite (build)" fault_tests build || true
    run_stage "valgrind smoke (build)" valgrind_smoke build || true
    run_stage "status page (headless chromium)" bash "$ROOT/deploy/check-status-page.sh" build || true
else
    skip_stage "fault suite (build)" "build failed"
    skip_stage "valgrind smoke (build)" "build failed"
    skip_stage "status page (headless chromium)" "build failed"
fi

# The Prometheus alert rules, checked and unit-tested with promtool.
run_stage "prometheus rules (promtool)" bash "$ROOT/deploy/check-rules.sh" || true

# The Debian package: cpack, lintian, install, upgrade, remove, purge
# (deploy/package.sh; it refuses the install steps on a machine that already
# runs a complaintd of its own).
run_stage "debian package (lintian, install, purge)" bash "$ROOT/deploy/package.sh" || true

# libFuzzer on the decoders and parsers (docs/fuzzing.md): its own clang
# build in build-fuzz, FUZZ_SECONDS per target (5 targets).
export FUZZ_SECONDS=${FUZZ_SECONDS:-30}
run_stage "fuzz (libFuzzer, ${FUZZ_SECONDS}s per target)" bash "$ROOT/deploy/fuzz.sh" || true

printf '\n==================== complaintd test summary ====================\n'
printf '%s\n' "${RESULTS[@]}"
if [[ $FAILED -eq 0 ]]; then
    printf 'ALL PASSED\n'
else
    printf 'FAILED\n'
fi
exit "$FAILED"
