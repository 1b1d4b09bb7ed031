#!/usr/bin/env bash
# Fuzzes the readers (fuzz/fuzz_{csv,fann,model,checkpoint}.cpp) under AddressSanitizer and UBSan with libFuzzer:
# builds the targets with Clang in build-fuzz/ (BUILD_DIR to change it), replays every corpus once
# (ctest), then fuzzes each target for SECONDS (default 60) on a copy of its corpus. A crash fails the
# run and leaves its input as crash-* in the working folder: add it to fuzz/corpus/<target>/ with the fix.
#   fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build_dir=${BUILD_DIR:-build-fuzz}
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DSIGTRAIN_WITH_CUDA=OFF -DSIGTRAIN_SANITIZE=ON -DSIGTRAIN_FUZZ=ON >/dev/null
fi
cmake --build "$build_dir" -j "$(nproc 2>/dev/null || echo 2)" --target fuzz_csv fuzz_fann fuzz_model fuzz_checkpoint
ctest --test-dir "$build_dir" -R '^Fuzz\.' --output-on-failure
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in csv fann model checkpoint; do
  cp -r "fuzz/corpus/$target" "$work/$target"
  echo "fuzz/run.sh: fuzz_$target for $seconds s"
  "$build_dir/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
    "$work/$target" 2>"$work/$target.log" || { tail -n 40 "$work/$target.log"; exit 1; }
  grep -E "^stat::number_of_executed_units" "$work/$target.log" || true
done
