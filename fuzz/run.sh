#!/usr/bin/env bash
# Builds the fuzz targets (a separate clang tree) and runs them on their seed corpus.
#   fuzz/run.sh BUILD_DIR SECONDS [TARGET...]   (no target: every one)
#   fuzz/run.sh BUILD_DIR build                 (only build)
# Each target first replays every seed in fuzz/corpus/<target>/ (the crashes found so far are
# among them), then mutates for SECONDS. New inputs go to BUILD_DIR/corpus/<target>/, never into
# the committed seeds; a crash is saved as BUILD_DIR/crashes/<target>/crash-* and fails the run.
# FUZZ_SEED: libFuzzer's -seed. 0 (the default, `make fuzz`) is a new random walk each run; ctest
# passes a fixed one, so a CI run repeats what the same commit did before instead of failing at
# random on a new finding (the long random runs are `make fuzz`'s job, and what they find becomes
# a seed here).
set -euo pipefail
source_dir="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$1"
seconds="$2"
shift 2

# One build at a time: ctest runs a target per test, in parallel.
mkdir -p "$build_dir"
exec 9>"$build_dir/.build.lock"
flock 9
if [ ! -f "$build_dir/build.ninja" ]; then
    cmake -S "$source_dir" -B "$build_dir" -G Ninja -DFLOWGATE_FUZZ=ON \
          -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build_dir" --target fuzzers -j "${JOBS:-2}"
flock -u 9
if [ "$seconds" = build ]; then
    exit 0
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=()
    for d in "$source_dir"/fuzz/corpus/*/; do
        targets+=("$(basename "$d")")
    done
fi

failed=0
for t in "${targets[@]}"; do
    work="$build_dir/corpus/$t"
    crashes="$build_dir/crashes/$t"
    mkdir -p "$work" "$crashes"
    log="$build_dir/fuzz_$t.log"
    if "$build_dir/fuzz/fuzz_$t" -max_total_time="$seconds" -seed="${FUZZ_SEED:-0}" -print_final_stats=1 -rss_limit_mb=2048 \
        -artifact_prefix="$crashes/" "$work" "$source_dir/fuzz/corpus/$t" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        echo "fuzz_$t: ${runs:-?} runs, $cov, no crash"
    else
        echo "fuzz_$t: FAILED (log: $log)"
        grep -E 'ERROR|SUMMARY|broken promise|runtime error' "$log" | head -5 || true
        failed=1
    fi
done
exit $failed
