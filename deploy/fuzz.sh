#!/usr/bin/env bash
# Fuzzes the decoders and parsers of lib/ with libFuzzer (docs/fuzzing.md):
# installs clang and what the build needs, builds the targets of tests/fuzz
# in build-fuzz, runs each for FUZZ_SECONDS on a copy of its seed corpus,
# prints how many inputs each one ran and exits non-zero on any crash.
#
#   bash deploy/fuzz.sh                      # every target, 60 s each
#   FUZZ_SECONDS=600 FUZZ_TARGETS="config time" bash deploy/fuzz.sh
#   FUZZ_SECONDS=0 bash deploy/fuzz.sh       # only replay the corpus
#
# Settings (environment):
#   FUZZ_SECONDS   seconds per target (default 60); 0 runs every corpus input
#                  once and fuzzes nothing
#   FUZZ_TARGETS   space-separated subset of: complaint scan config time snapshot
#   FUZZ_WORK_DIR  keep the working corpora there (and reuse them on the next
#                  run) instead of in a temporary directory
#
# A crashing input (crash, leak, timeout, out of memory, broken invariant) is
# copied to tests/fuzz/corpus/<target>/crash-<sha1>: commit it with the fix,
# and every later run replays it first. The seed corpus in the repository is
# never written to otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TARGETS=${FUZZ_TARGETS:-complaint scan config time snapshot}
BUILD="$ROOT/build-fuzz"
CORPUS="$ROOT/tests/fuzz/corpus"
JOBS=$(nproc 2>/dev/null || echo 2)

if ! [[ $FUZZ_SECONDS =~ ^[0-9]+$ ]]; then
    echo "fuzz: FUZZ_SECONDS must be a whole number of seconds, not '$FUZZ_SECONDS'" >&2
    exit 2
fi

# ---- what it needs -------------------------------------------------------
# The project's own dependencies (the fuzz tree is configured from the
# top-level CMakeLists.txt), then clang, libFuzzer and the symbolizer.
bash "$ROOT/deploy/install-deps.sh"
bash "$ROOT/deploy/install-deps.sh" --only clang libclang-rt-dev llvm

# ---- build ---------------------------------------------------------------
# Only the fuzz targets: the rest of the project is configured but not built
# with clang.
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOMPLAINTD_FUZZ=ON
cmake --build "$BUILD" --target fuzz --parallel "$JOBS"

# ---- run -----------------------------------------------------------------
if [[ -n ${FUZZ_WORK_DIR:-} ]]; then
    WORK=$FUZZ_WORK_DIR
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/complaintd-fuzz.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
fi

# Sanitizer reports with symbols and a stack for UBSan too; the binaries
# stop at the first report (-fno-sanitize-recover).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1}
if [[ -z ${ASAN_SYMBOLIZER_PATH:-} ]] && command -v llvm-symbolizer >/dev/null; then
    ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)
    export ASAN_SYMBOLIZER_PATH
fi

# Largest input worth trying per target: a message or a configuration file
# is larger than a time stamp or a ticket snapshot.
max_len_of() {
    case $1 in
    complaint | scan) echo 4096 ;;
    config) echo 8192 ;;
    time) echo 128 ;;
    snapshot) echo 1024 ;;
    *) echo 4096 ;;
    esac
}

# The value of one of libFuzzer's -print_final_stats lines, or "".
stat_of() {
    sed -n "s/^stat::$2: *\([0-9][0-9]*\).*/\1/p" "$1" | tail -n 1
}

total_execs=0
crashes=0
errors=0
ntargets=0
declare -a SUMMARY=()

for t in $FUZZ_TARGETS; do
    bin="$BUILD/fuzz_$t"
    if [[ ! -x $bin || ! -d $CORPUS/$t ]]; then
        echo "fuzz: unknown target '$t' (targets: complaint scan config time snapshot)" >&2
        errors=$((errors + 1))
        continue
    fi
    ntargets=$((ntargets + 1))
    corpus="$WORK/corpus/$t"
    artifacts="$WORK/artifacts/$t"
    log="$WORK/$t.log"
    rm -rf "$artifacts"
    mkdir -p "$corpus" "$artifacts"
    cp -a "$CORPUS/$t/." "$corpus/"
    if [[ $t == snapshot ]]; then
        # Valid snapshots in the current format, packed by lib/tkt itself.
        "$BUILD/fuzz_snapshot_seeds" "$corpus"
    fi

    args=(-print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len_of "$t")"
        -artifact_prefix="$artifacts/")
    if [[ -f $ROOT/tests/fuzz/$t.dict ]]; then
        args+=(-dict="$ROOT/tests/fuzz/$t.dict")
    fi
    if [[ $FUZZ_SECONDS -eq 0 ]]; then
        args+=(-runs=0)
    else
        args+=(-max_total_time="$FUZZ_SECONDS")
    fi

    printf '\n==> fuzz_%s: %s\n' "$t" "$([[ $FUZZ_SECONDS -eq 0 ]] && echo "replaying the corpus" ||
        echo "${FUZZ_SECONDS}s")"
    inputs=$(find "$corpus" -type f | wc -l)
    set +e
    "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
    rc=$?
    set -e

    execs=$(stat_of "$log" number_of_executed_units)
    if [[ -z $execs ]]; then
        # No final stats (a crash stops the run first): the last status line.
        execs=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$log" | tail -n 1)
    fi
    execs=${execs:-0}
    total_execs=$((total_execs + execs))
    added=$(stat_of "$log" new_units_added)
    rss=$(stat_of "$log" peak_rss_mb)

    found=()
    while IFS= read -r -d '' f; do
        found+=("$f")
    done < <(find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) -print0)

    if [[ $rc -eq 0 && ${#found[@]} -eq 0 ]]; then
        line="fuzz_$t: $execs executions, corpus $inputs + ${added:-0} new inputs, peak ${rss:-?} MB, no crash"
    else
        # Show what happened: the sanitizer report or the broken invariant,
        # with its stack, from where it starts.
        start=$(grep -n -m 1 -E 'runtime error:|ERROR: (Address|Leak)Sanitizer|invariant broken|ERROR: libFuzzer' \
            "$log" | cut -d: -f1 || true)
        echo "---- fuzz_$t: libFuzzer log ----"
        if [[ -n $start ]]; then
            sed -n "${start},$((start + 150))p" "$log"
        else
            tail -n 80 "$log"
        fi
        echo "----"
        if [[ ${#found[@]} -eq 0 ]]; then
            errors=$((errors + 1))
            line="fuzz_$t: $execs executions, FAILED (exit $rc) without a crashing input"
        else
            crashes=$((crashes + ${#found[@]}))
            kept=()
            for f in "${found[@]}"; do
                # A regression input that still crashes is already there,
                # perhaps under a name that says what it is.
                dest=""
                for old in "$CORPUS/$t"/*; do
                    if [[ -f $old ]] && cmp -s "$f" "$old"; then
                        dest=$old
                        break
                    fi
                done
                if [[ -n $dest ]]; then
                    echo "fuzz_$t: still crashes on ${dest#"$ROOT"/}"
                else
                    dest="$CORPUS/$t/crash-$(sha1sum "$f" | cut -d' ' -f1)"
                    cp "$f" "$dest"
                    echo "fuzz_$t: $(basename "$f" | cut -d- -f1) input kept as ${dest#"$ROOT"/}"
                fi
                kept+=("${dest#"$ROOT"/}")
                echo "  reproduce: $bin ${dest#"$ROOT"/}"
            done
            line="fuzz_$t: $execs executions, CRASH (exit $rc): ${kept[*]}"
        fi
    fi
    echo "$line"
    SUMMARY+=("$line")
done

printf '\n'
printf '%s\n' "${SUMMARY[@]}"
final="fuzz: $ntargets targets, $total_execs executions, $crashes crashes"
if [[ $errors -gt 0 ]]; then
    final+=", $errors errors"
fi
echo "$final"
[[ $crashes -eq 0 && $errors -eq 0 ]]
