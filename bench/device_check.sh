#!/usr/bin/env bash
# The device check: everything the GPU path promises, on a machine with an NVIDIA GPU, in one go.
#   1. builds for sm_90 with all cores (build-device/), using .deps/ where Debian packages are missing
#      (make it first with bench/prepare_device_deps.sh and carry it: see bench/README.md);
#   2. runs the whole ctest suite, GPU tests included (they must run, not skip);
#   3. runs a short benchmark of the cuda backend with and without CUDA graphs (the notes' network at
#      batches 256 and 4096, 2-1024-1024-1 at 4096) beside the cpu backend;
#   4. writes bench/results/device-check-<date>.json and .md (and copies to $OUT when set): GPU, date,
#      commit, test counts, the largest GPU-vs-reference differences seen, the benchmark table.
# Sized to finish in under 8 minutes on the lent H200 (16 cores); every benchmark has its own time
# limit. What is done reaches $OUT as it is done (the log as it is written, the test results after
# the tests), so a run cut short still brings back what it had. Prints a short table last.
set -uo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results=bench/results
mkdir -p "$results"
log=$results/device-check-$stamp.log
out_files=()  # what goes to $OUT as soon as it exists (at most 8 files come back)
[ -n "${OUT:-}" ] && out_files=("$OUT/device-check-$stamp.log")
exec > >(tee "$log" "${out_files[@]}") 2>&1
to_out() { [ -n "${OUT:-}" ] && cp "$@" "$OUT"/ 2>/dev/null; true; }

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null | grep -v '^?? bench/results/')" ]; then commit="$commit+changes"; fi
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)
echo "device check: commit $commit, GPU: ${gpu:-none found}, $(nproc) cores"

# 1. Build for sm_90.
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build-device "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null ||
  { echo "device check: configure failed"; exit 1; }
cmake --build build-device -j "$(nproc)" || { echo "device check: build failed"; exit 1; }
build_seconds=$(($(date +%s) - started))

# 2. The whole suite. The GPU tests print "sigtrain-diff:" lines (largest differences from the reference).
ctest --test-dir build-device -j 8 --output-on-failure --timeout 300 >"$results/ctest-$stamp.txt" 2>&1
ctest_status=$?
tail -n 5 "$results/ctest-$stamp.txt"
test_log=build-device/Testing/Temporary/LastTest.log
# From ctest's summary line and its "***Skipped" lines. The summary reads "N% tests passed, F tests
# failed out of T", or "100% tests passed out of T" when nothing failed (then F is 0).
summary_line=$(grep -E "tests passed(, [0-9]+ tests? failed)? out of [0-9]+" "$results/ctest-$stamp.txt" | tail -n 1)
total=$(echo "$summary_line" | sed -nE 's/.*out of ([0-9]+).*/\1/p')
failed=$(echo "$summary_line" | sed -nE 's/.* ([0-9]+) tests? failed.*/\1/p')
skipped=$(grep -c "\*\*\*Skipped" "$results/ctest-$stamp.txt")
# Where a GPU is present every Cuda test must run, but the one that checks the no-device error.
gpu_skipped=$(grep "\*\*\*Skipped" "$results/ctest-$stamp.txt" | grep "Cuda" | grep -vc "WithoutADevice")
total=${total:-0} failed=${failed:-0} skipped=${skipped:-0} gpu_skipped=${gpu_skipped:-0}
passed=$((total - failed - skipped))
if [ -n "$gpu" ] && [ "$gpu_skipped" -gt 0 ]; then
  echo "device check: $gpu_skipped GPU tests skipped although a GPU is present"
  ctest_status=1
fi
grep -h "sigtrain-diff:" "$test_log" | sort -k4 -g -r >"$results/diffs-$stamp.txt" || true
to_out "$results/ctest-$stamp.txt" "$results/diffs-$stamp.txt"
# Where a GPU is present, the fused kernel's resources: registers, shared memory, spills (none wanted),
# of the default instantiation (sigmoid, linear output with mse, sgd; the mangled name holds the three
# policies in that order) and of the prediction kernels.
cuobjdump --dump-resource-usage build-device/host/libsigtrain_core.a 2>/dev/null |
  grep -A1 -E "fused_(train_kernel.*Sigmoid.*Identity.*Sgd|predict_kernel)" | head -n 12 \
  >"$results/ptxas-$stamp.txt" || true
# Races and bad accesses in the fused kernel (one block per network, and clusters of 8 blocks that read
# each other's shared memory), where the machine's runtime lets compute-sanitizer run (40 s each), and
# only when build and tests left time for the benchmark.
sanitizer="not run"
if [ -n "$gpu" ] && command -v compute-sanitizer >/dev/null && [ $(($(date +%s) - started)) -lt 300 ]; then
  sanitizer=""
  fused_tests='Networks/CudaVsReference.OneStepForwardLossAndGradients/fused_2_3_3_1_bias_B256:Networks/CudaVsReference.OneStepForwardLossAndGradients/fused_3_17_2_bias_B4099'
  for tool in racecheck memcheck synccheck; do
    timeout 40 compute-sanitizer --tool "$tool" --error-exitcode 3 build-device/tests/sigtrain_tests \
      --gtest_filter="$fused_tests" >"$results/sanitizer.txt" 2>&1
    status=$?
    tail -n 4 "$results/sanitizer.txt"
    sanitizer="$sanitizer $tool=exit$status"
  done
  rm -f "$results/sanitizer.txt"
  echo "device check: compute-sanitizer:$sanitizer (0: clean, 3: errors found, 124: out of time, else: did not run)"
fi
test_seconds=$(($(date +%s) - started - build_seconds))

# 3. The benchmark: the cuda backend's three paths beside the cpu backend, 1024 networks at once, a
#    wide network, and PyTorch on the same GPU (eager and CUDA graphs) on the same network and batches.
bench=(build-device/sigtrain bench --note "commit $commit")
raw=$results/raw-$stamp
mkdir -p "$raw"
run_bench() {  # name, then the bench's arguments; 120 s at most each
  local name=$1
  shift
  timeout 120 "${bench[@]}" "$@" --json "$raw/bench-$name.json" >/dev/null ||
    echo "device check: bench $name failed or ran out of time (exit $?)"
}
run_bench notes --backends cuda-fused,cuda-graphs,cuda-nographs,cpu-all --networks 2-3-3-1 --batches 256,4096
# --work is per network: 1e8 FLOPs ≈ 0.93 M samples each, 1024 × 0.93 M epoch orders ≈ 3.8 GB.
run_bench replicas --backends cuda-fused --networks 2-3-3-1 --batches 256 --replicas 1024 --work 1e8
run_bench wide --backends cuda-graphs,cuda-nographs --networks 2-1024-1024-1 --batches 4096 --work 2e12
run_bench widecpu --backends cpu-all --networks 2-1024-1024-1 --batches 4096 --work 2e11
for graphs in "" --graphs; do
  timeout 120 python3 bench/peers/torch_peer.py --cuda $graphs --networks 2-3-3-1 --batches 256,4096 \
    >>"$raw/torch.jsonl" || echo "device check: the PyTorch peer failed or is missing"
done
# The raw outputs in one file, in case the summary below fails.
for f in "$raw"/*; do echo "== $f"; cat "$f"; done >"$results/raw-$stamp.txt"
to_out "$results/raw-$stamp.txt"

# 4. One JSON and one markdown summary.
python3 - "$results" "$stamp" "$commit" "$gpu" "$passed" "$failed" "$skipped" "$gpu_skipped" "$ctest_status" \
  "$build_seconds" "$test_seconds" "$sanitizer" <<'EOF'
import json, sys, time
results, stamp, commit, gpu, passed, failed, skipped, gpu_skipped, ctest_status, build_s, test_s, sanitizer = sys.argv[1:]
diffs = []
for line in open(f"{results}/diffs-{stamp}.txt"):
    _, test, what, value = line.split()
    diffs.append({"test": test, "what": what, "relative_difference": float(value)})
bench = []
for part in ("notes", "replicas", "wide", "widecpu"):
    try:
        bench += json.load(open(f"{results}/raw-{stamp}/bench-{part}.json"))["results"]
    except (OSError, ValueError):
        pass
torch = []
try:
    torch = [json.loads(line) for line in open(f"{results}/raw-{stamp}/torch.jsonl") if line.strip()]
except (OSError, ValueError):
    pass
# Ratios against PyTorch on the same GPU, network and batch: fused vs eager, graphs vs graphs.
ratios = []
for t in torch:
    ours = "cuda-graphs" if t.get("mode") == "cuda-graphs" else "cuda-fused"
    for r in bench:
        if r.get("network") == t.get("network") and r.get("batch") == t.get("batch") and r.get("backend") == ours \
                and "samples_per_second" in r:
            ratios.append({"network": t["network"], "batch": t["batch"], "sigtrain": ours, "torch": t["mode"],
                           "ratio": r["samples_per_second"]["median"] / t["samples_per_second"]})
    for r in bench:
        if r.get("network") == t.get("network") and r.get("batch") == t.get("batch") and r.get("backend") == "cuda-fused" \
                and ours != "cuda-fused" and "samples_per_second" in r:
            ratios.append({"network": t["network"], "batch": t["batch"], "sigtrain": "cuda-fused", "torch": t["mode"],
                           "ratio": r["samples_per_second"]["median"] / t["samples_per_second"]})
summary = {
    "format": "sigtrain-device-check", "version": 1, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commit": commit, "gpu": gpu,
    "tests": {"passed": int(passed), "failed": int(failed), "skipped": int(skipped), "gpu_tests_skipped": int(gpu_skipped),
              "ctest_status": int(ctest_status)},
    "seconds": {"build": int(build_s), "tests": int(test_s)}, "compute_sanitizer": sanitizer.strip(),
    "largest_differences_from_reference": diffs[:10], "bench": bench, "torch": torch, "ratios_vs_torch": ratios,
}
json.dump(summary, open(f"{results}/device-check-{stamp}.json", "w"), indent=2)
md = [f"# Device check {summary['date']}", "", f"- GPU: {gpu}", f"- commit: {commit}",
      f"- tests: {passed} passed, {failed} failed, {skipped} skipped, of which GPU tests {gpu_skipped} "
      f"(ctest exit {ctest_status})",
      f"- build {build_s} s, tests {test_s} s", f"- compute-sanitizer on the fused kernel: {sanitizer.strip()}", "", "## Largest GPU-vs-reference differences (tests)", "",
      "| test | quantity | relative difference |", "| --- | --- | ---: |"]
md += [f"| {d['test']} | {d['what']} | {d['relative_difference']:.3g} |" for d in diffs[:10]]
md += ["", "## Benchmark (sigtrain bench)", "", "| network | batch | backend | samples/s | µs/step | rel. diff |",
       "| --- | ---: | --- | ---: | ---: | ---: |"]
for r in bench:
    if "skipped" in r:
        continue
    md.append(f"| {r['network']} | {r['batch']} | {r['backend']} | {r['samples_per_second']['median']:.4g} | "
              f"{r['us_per_step']['median']:.4g} | {r.get('max_relative_difference_vs_reference', float('nan')):.2g} |")
md += ["", "## Against PyTorch on the same GPU", "", "| network | batch | sigtrain | torch | samples/s ratio |",
       "| --- | ---: | --- | --- | ---: |"]
md += [f"| {x['network']} | {x['batch']} | {x['sigtrain']} | {x['torch']} | {x['ratio']:.3g}× |" for x in ratios]
open(f"{results}/device-check-{stamp}.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
EOF

# $OUT now holds 7 files: the log, ctest output, differences, raw bench output, ptxas, JSON, markdown.
to_out "$results/ptxas-$stamp.txt" "$results/device-check-$stamp.json" "$results/device-check-$stamp.md"

# Last, and only with time to spare: where the fused kernel's warps wait, for whoever tunes it next
# (Nsight Compute on one launch of the notes' network at batch 256; into the log only).
if [ -n "$gpu" ] && command -v ncu >/dev/null && [ $(($(date +%s) - started)) -lt 360 ]; then
  timeout 60 ncu --clock-control none --kernel-name regex:fused_train --launch-count 1 \
    --section SpeedOfLight --section WarpStateStats --section MemoryWorkloadAnalysis \
    build-device/sigtrain bench --backends cuda-fused --networks 2-3-3-1 --batches 256 --repeats 1 --work 1e8 \
    2>&1 | grep -vE "^==PROF==|^\|" | tail -n 60 || echo "device check: ncu did not run"
fi
echo "device check: $(($(date +%s) - started)) s in all; results in $results/*$stamp*"
[ "$ctest_status" -eq 0 ]
