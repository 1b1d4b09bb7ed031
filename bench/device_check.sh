#!/usr/bin/env bash
# The device check: everything the GPU path promises, on a machine with an NVIDIA GPU, in one go.
#
#   bench/device_check.sh [--build-dir build-device] [--no-build] [--no-tests] [--python python3]
#
#   1. builds for sm_90 with all cores (--build-dir, default build-device/), using .deps/ where Debian
#      packages are missing (make it first with bench/prepare_device_deps.sh and carry it: see
#      bench/README.md); --no-build uses the build folder as it is;
#   2. runs the whole ctest suite, GPU tests included (they must run, not skip), and the sanitizer gate:
#      compute-sanitizer (memcheck, racecheck, synccheck) on the runtime-shaped, warp, block, cluster and tiled
#      fused kernels, which must all be clean, else the summary says FAIL and the check exits non-zero;
#      --no-tests skips both (for a rerun of the measurements alone);
#   3. measures every row of issue 9's "Targets" table side by side, most important first:
#      a. `sigtrain bench`: 2-3-3-1 at batches 32, 256, 4096 (cuda paths and cpu-all), 1,024 networks
#         at batch 256 and 16,384 at batch 32 (fused kernel), 2-64-64-1 at 256 (fused: the tiled
#         kernel, and cuBLAS),
#         2-1024-1024-1 at 4096 (cuBLAS, with and without graphs);
#      b. timed `sigtrain train` commands: the default run with --backend auto and --backend cpu (3
#         runs each, alternating), 1,024 networks (`--replicas 1024 --batch 256 --samples 100000
#         --val-split 0`, 10 epochs and 40), the cpu backend on 1 M samples at batch 256 on one thread,
#         and 2-1024-1024-1 at 4096 through the cuBLAS path in fp32, with --tf32, and --data-parallel
#         at one rank (its sums on the GPU by NCCL where the build found it);
#      c. the peers on the same GPU: PyTorch (one CUDA graph per step; `bmm` replicas, graph and
#         eager), JAX (jit, the epoch as one lax.scan with a fresh permutation; vmap for replicas) and
#         FANN incremental on one CPU thread; a peer that is missing says so in one line and is skipped;
#      d. with time left: PyTorch eager, the cpu backend on 2-1024-1024-1, and Nsight Compute on one
#         fused launch (into the log);
#   4. writes bench/results/device-check-<date>.json and .md (bench/peers/device_summary.py): GPU,
#      date, commit, test counts, the largest GPU-vs-reference differences, the Targets table (each
#      case with sigtrain's figure, the peers', the ratios, the must and moonshot targets, met or not),
#      every bench row, every peer row and every ratio against PyTorch and JAX.
# Sized to finish in under 8 minutes on the lent H200 (16 cores): every measurement has its own time
# limit, cut to what is left of the check's budget, and is skipped when too little is left. What is done
# reaches $OUT as it is done (the log as it is written, the test results after the tests, the raw
# results and the summary after each stage of 3., the sanitizer runs' output after the gate), 8 files in
# all, so a run cut short still brings back what it had. Prints the summary last. Exits non-zero when a
# test failed or the sanitizer gate failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

usage() { sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-0}"; }
build_dir=build-device
build=1
tests=1
python=python3
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=${2:?--build-dir needs a folder}; shift ;;
    --no-build) build=0 ;;
    --no-tests) tests=0 ;;
    --python) python=${2:?--python needs an interpreter}; shift ;;
    -h | --help) usage 0 ;;
    *) echo "device check: unknown option $1" >&2; usage 2 >&2 ;;
  esac
  shift
done

started=$(date +%s)
budget=450  # seconds for everything but the summary and Nsight Compute: the check must end within 8 minutes
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results=bench/results
mkdir -p "$results"
log=$results/device-check-$stamp.log
out_files=()  # what goes to $OUT as soon as it exists (at most 8 files come back)
[ -n "${OUT:-}" ] && out_files=("$OUT/device-check-$stamp.log")
exec > >(tee "$log" "${out_files[@]}") 2>&1
to_out() { [ -n "${OUT:-}" ] && cp "$@" "$OUT"/ 2>/dev/null; true; }
elapsed() { echo $(($(date +%s) - started)); }

# Runs a command under `timeout`: its own limit ($1 seconds), cut to what is left of the budget; skips
# it (status 125) when under 15 s are left.
limited() {
  local limit=$1 left=$((budget - $(elapsed)))
  shift
  if [ "$left" -lt 15 ]; then
    echo "device check: skipped, no time left: ${*:1:6}"
    return 125
  fi
  timeout "$((limit < left ? limit : left))" "$@"
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null | grep -v '^?? bench/results/')" ]; then commit="$commit+changes"; fi
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)
echo "device check: commit $commit, GPU: ${gpu:-none found}, $(nproc) cores"

# 1. Build for sm_90.
if [ "$build" = 1 ]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  # NCCL (the data-parallel sums on the GPU, run here at one rank): the CUDA toolkit's, else the one the
  # machine's PyTorch brings (the nvidia-nccl package: include/ and lib/).
  nccl=()
  if [ ! -f /usr/local/cuda/include/nccl.h ]; then
    nccl_root=$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null || true)
    [ -n "$nccl_root" ] && nccl=(-DSIGTRAIN_NCCL_ROOT="$nccl_root")
  fi
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 "${nccl[@]}" >/dev/null ||
    { echo "device check: configure failed"; exit 1; }
  cmake --build "$build_dir" -j "$(nproc)" || { echo "device check: build failed"; exit 1; }
fi
[ -x "$build_dir/sigtrain" ] || { echo "device check: no $build_dir/sigtrain"; exit 1; }
build_seconds=$(elapsed)

# 2. The whole suite. The GPU tests print "sigtrain-diff:" lines (largest differences from the reference).
passed=0 failed=0 skipped=0 gpu_skipped=0 ctest_status=0 sanitizer=""
: >"$results/diffs-$stamp.txt"
if [ "$tests" = 1 ]; then
  ctest --test-dir "$build_dir" -j 8 --output-on-failure --timeout 300 >"$results/ctest-$stamp.txt" 2>&1
  ctest_status=$?
  tail -n 5 "$results/ctest-$stamp.txt"
  test_log=$build_dir/Testing/Temporary/LastTest.log
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
fi
# 2b. The sanitizer gate: compute-sanitizer's memcheck, racecheck and synccheck on every fused kernel
#     variant, one small gtest filter each (a few seconds a run on the H200). The runtime-shaped kernel
#     on one block per network (5-64-64-3, B 256) and on clusters of 8 blocks that read each other's
#     shared memory (3-17-2, B 4099); the shape-specialised kernel with a warp per network (2-3-3-1,
#     B 32); and with a block of 8 warps (2-3-3-1, B 256, one step) and of 4 warps over 25 steps a
#     launch (B 100: the double-buffered exchange between the warps, one barrier a step), and with
#     clusters of 8 warps a block (B 4096, one step: 8 blocks, two samples a lane; B 600 over 100
#     steps with AdamW: 3 blocks reading each other's sums, the last barrier); the tiled
#     kernel (2-64-64-1) on clusters of 8 blocks (B 256, one step) and of 2 over 100 steps (B 33). A run is
#     clean only when it exits 0, the sanitizer reports 0 errors, and every test of its filter ran and
#     passed (a filter that matches nothing, or tests that skip, would otherwise be clean by checking
#     nothing). Any other run, or a GPU without compute-sanitizer, makes the gate FAIL and the check
#     exit non-zero. Runs after the suite whatever the time, as the gate is not optional.
sanitizer_variants=(
  "runtime=Networks/CudaVsReference.OneStepForwardLossAndGradients/fused_5_64_64_3_nobias_B256:Networks/CudaVsReference.OneStepForwardLossAndGradients/fused_3_17_2_bias_B4099"
  "warp=Shapes/WarpOnGpuVsReference.OneStepLossAndGradients/2_3_3_1_bias_B32"
  "block=Networks/CudaVsReference.OneStepForwardLossAndGradients/fused_2_3_3_1_bias_B256:BlockShapes/WarpOnGpuVsReference.HundredStepsInFewLaunches/2_3_3_1_bias_B100"
  "cluster=ClusterShapes/WarpOnGpuVsReference.OneStepLossAndGradients/2_3_3_1_bias_B4096:ClusterShapes/WarpOnGpuVsReference.HundredStepsInFewLaunches/2_3_3_1_nobias_B600_adamw_wd"
  "tiled=Shapes/TiledOnGpuVsReference.OneStepLossAndGradients/2_64_64_1_bias_B256:Shapes/TiledOnGpuVsReference.HundredStepsInFewLaunches/2_64_64_1_nobias_B33"
)
sanitizer_log=$results/sanitizer-$stamp.txt
# One run's verdict from its exit status ($1), its filter's number of tests ($2) and its output ($3).
sanitizer_verdict() {
  local status=$1 expected=$2 output=$3 passed
  case $status in
    0) ;;
    3) echo errors; return ;;
    124) echo out-of-time; return ;;
    *) echo "exit$status"; return ;;
  esac
  # memcheck and synccheck end in "ERROR SUMMARY: 0 errors", racecheck in "RACECHECK SUMMARY: … (0 errors, …".
  grep -qE "ERROR SUMMARY: 0 errors|RACECHECK SUMMARY: .*\(0 errors," "$output" || { echo no-error-summary; return; }
  grep -q "^\[  SKIPPED \]" "$output" && { echo skipped; return; }
  passed=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?\..*/\1/p' "$output" | tail -n 1)
  [ "${passed:-0}" = "$expected" ] || { echo "ran-${passed:-0}-of-$expected"; return; }
  echo clean
}
if [ "$tests" = 0 ]; then
  sanitizer_gate="not run (--no-tests)"
elif [ -z "$gpu" ]; then
  sanitizer_gate="not run (no GPU)"
elif ! command -v compute-sanitizer >/dev/null; then
  sanitizer_gate=FAIL sanitizer="compute-sanitizer not found"
else
  sanitizer_gate=PASS
  run_output=$(mktemp)
  : >"$sanitizer_log"
  for tool in memcheck racecheck synccheck; do
    for variant in "${sanitizer_variants[@]}"; do
      name=${variant%%=*} filter=${variant#*=}
      expected=$(($(tr -cd : <<<"$filter" | wc -c) + 1))
      timeout 40 compute-sanitizer --tool "$tool" --error-exitcode 3 "$build_dir/tests/sigtrain_tests" \
        --gtest_filter="$filter" >"$run_output" 2>&1
      verdict=$(sanitizer_verdict $? "$expected" "$run_output")
      sanitizer="$sanitizer $tool/$name=$verdict"
      [ "$verdict" = clean ] || sanitizer_gate=FAIL
      { echo "== compute-sanitizer --tool $tool, $name: $verdict"; tail -n 40 "$run_output"; } >>"$sanitizer_log"
    done
  done
  rm -f "$run_output"
  to_out "$sanitizer_log"
fi
sanitizer=${sanitizer# }
echo "device check: compute-sanitizer gate: $sanitizer_gate${sanitizer:+ ($sanitizer)}"
test_seconds=$(($(elapsed) - build_seconds))
# Where a GPU is present, the fused kernels' resources: registers, shared memory, spills (none wanted),
# of the default instantiations (sigmoid, linear output with mse, sgd; the mangled name holds the three
# policies in that order) and of the prediction kernels; and the group evaluation's default instance
# (CUB's segmented reduction over evaluation_terms, kernels/evaluate_kernel.cu).
cuobjdump --dump-resource-usage "$build_dir/host/libsigtrain_core.a" 2>/dev/null |
  grep -A1 -E "fused_((train|tiled)_kernel.*Sigmoid.*Identity.*Sgd|predict_kernel)|DeviceSegmentedReduceKernel.*PairTerms.*Sigmoid.*SquaredError.*Identity" |
  head -n 56 \
  >"$results/ptxas-$stamp.txt" || true
to_out "$results/ptxas-$stamp.txt"

# 3. The measurements. Raw results go to $raw (one file per tool), scratch files to $work.
sigtrain=$build_dir/sigtrain
raw=$results/raw-$stamp
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$raw"

# Resume on the GPU (issue 11): for each cuda kernel, a run killed (-9) once its first checkpoint exists
# and resumed from it must save the bytes of the same run without the kill (the cpu backend's is a ctest,
# CliCheckpoint.KilledRunResumedSavesTheBytesOfTheRunWithoutTheKill). A failure fails the check.
if [ -n "$gpu" ] && [ "$(elapsed)" -lt 400 ]; then
  for kernel in fused cublas; do
    resume=(train --backend cuda --kernel "$kernel" --epochs 30 --batch 256 --samples 1000000 --optimizer adam
      --schedule cosine --keep best --quiet)
    timeout 60 "$sigtrain" "${resume[@]}" --save "$work/whole.json"
    "$sigtrain" "${resume[@]}" --checkpoint "$work/ck.json" --save "$work/a.json" & pid=$!  # (no timeout: its pid)
    for _ in $(seq 6000); do { [ -e "$work/ck.json" ] || ! kill -0 "$pid" 2>/dev/null; } && break; sleep 0.01; done
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    killed_after=$(grep -m1 -o '"epochs_done": [0-9]*' "$work/ck.json")
    timeout 60 "$sigtrain" "${resume[@]}" --checkpoint "$work/ck.json" --resume "$work/ck.json" --save "$work/b.json"
    if cmp -s "$work/whole.json" "$work/b.json"; then result=byte-identical; else result=DIFFERENT; ctest_status=1; fi
    echo "device check: cuda $kernel: killed with $killed_after of 30, resumed: $result"
    rm -f "$work/ck.json" "$work/whole.json" "$work/a.json" "$work/b.json"
  done
fi

# The summary so far: the raw results in one file (in case the summary fails), the JSON and markdown;
# all three to $OUT. $1 says how far the check got; --print prints the markdown.
summarise() {
  local stage=$1 quiet=--quiet
  [ "${2:-}" = --print ] && quiet=""
  for f in "$raw"/*; do [ -f "$f" ] && { echo "== $f"; cat "$f"; }; done >"$results/raw-$stamp.txt"
  python3 bench/peers/device_summary.py --raw "$raw" --diffs "$results/diffs-$stamp.txt" \
    --json "$results/device-check-$stamp.json" --markdown "$results/device-check-$stamp.md" $quiet \
    --info "commit=$commit" --info "gpu=$gpu" --info "passed=$passed" --info "failed=$failed" \
    --info "skipped=$skipped" --info "gpu_skipped=$gpu_skipped" --info "ctest_status=$ctest_status" \
    --info "build_seconds=$build_seconds" --info "test_seconds=$test_seconds" \
    --info "sanitizer=$sanitizer" --info "sanitizer_gate=$sanitizer_gate" --info "tests_run=$tests" --info "stage=$stage ($(elapsed) s)" ||
    echo "device check: the summary failed (the raw results are in $results/raw-$stamp.txt)"
  to_out "$results/raw-$stamp.txt" "$results/device-check-$stamp.json" "$results/device-check-$stamp.md"
}

# sigtrain bench: a name, a time limit, then the bench's arguments.
run_bench() {
  local name=$1 limit=$2
  shift 2
  limited "$limit" "$sigtrain" bench --note "commit $commit" "$@" --json "$raw/bench-$name.json" >/dev/null
  local status=$?
  [ $status -eq 0 ] || [ $status -eq 125 ] || echo "device check: bench $name failed or ran out of time (exit $status)"
}

# One timed `sigtrain train` command, appended to $raw/train.jsonl: a case name, the run's number, the
# samples it trains in all (networks × epochs × training samples), its epochs, a time limit, "log" to
# have it write --log (train's own clock per epoch) or "nolog", then train's arguments.
time_train() {
  local case=$1 run=$2 samples=$3 epochs=$4 limit=$5 with_log=$6
  shift 6
  local csv=$work/$case-$run.csv log_args=() start end status wall clock first last
  [ "$with_log" = log ] && log_args=(--log "$csv")
  rm -f "$csv"
  start=$(date +%s.%N)
  limited "$limit" "$sigtrain" train "$@" "${log_args[@]}" >"$work/train.out" 2>&1
  status=$?
  end=$(date +%s.%N)
  [ $status -eq 125 ] && return
  [ $status -eq 0 ] || { echo "device check: train $case failed (exit $status):"; tail -n 3 "$work/train.out"; }
  wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.6f", e - s }')
  # train's own clock from its log: elapsed_seconds after the first epoch and after the last.
  clock=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "elapsed_seconds") c = i; next }
                   c { if (first == "") first = $c; last = $c }
                   END { if (first != "") printf "%s %s", first, last; else printf "null null" }' "$csv" 2>/dev/null ||
          echo "null null")
  read -r first last <<<"${clock:-null null}"
  printf '{"case": "%s", "run": %d, "exit": %d, "wall_seconds": %s, "samples": %s, "epochs": %d, "log_first_epoch_seconds": %s, "log_elapsed_seconds": %s, "command": "sigtrain train %s"}\n' \
    "$case" "$run" "$status" "$wall" "$samples" "$epochs" "${first:-null}" "${last:-null}" "$*" >>"$raw/train.jsonl"
}

# A peer: the raw file its JSON lines go to, a time limit, then the command. A peer that cannot run
# here (no torch, no jax, no GPU for it) says so in one line on stderr and prints nothing.
run_peer() {
  local file=$1 limit=$2
  shift 2
  limited "$limit" "$@" >>"$raw/$file"
  local status=$?
  [ $status -eq 0 ] || [ $status -eq 125 ] || echo "device check: peer failed or ran out of time (exit $status): $*"
}

# The FANN peer: the one the build made where CMake found FANN, else one built here from the static
# libfloatfann that bench/prepare_device_deps.sh puts in .deps/fann (non-PIC code: linked -no-pie).
fann_peer() {
  local built=$build_dir/bench/peers/fann_peer
  if [ -x "$built" ] && "$built" --help >/dev/null 2>&1; then
    echo "$built"
  elif [ -f .deps/fann/lib/libfloatfann.a ] &&
    c++ -O2 -std=c++17 -no-pie -I.deps/fann/include bench/peers/fann_peer.cpp .deps/fann/lib/libfloatfann.a -lm \
      -o "$work/fann_peer" >&2; then
    echo "$work/fann_peer"
  fi
}

# 3a. sigtrain bench: the figures every target is about. --work is FLOPs per repeat (per network with
#     --replicas); 2-3-3-1 counts 72 per sample. The cuda-graphs path at batch 32 (~46 µs a step)
#     would take most of a minute, so batch 32 runs the fused kernel (and cpu-all) alone. Where the
#     bench also times the trainer (its train samples/s column), the cases whose targets are about the
#     kernel alone and whose trainer runs would be long (16,384 networks; the cpu backend on the wide
#     network) skip it with --kernel-only.
echo "device check: sigtrain bench ($(elapsed) s)"
kernel_only=()
"$sigtrain" bench --help 2>/dev/null | grep -q -- --kernel-only && kernel_only=(--kernel-only)
run_bench notes 120 --backends cuda-fused,cuda-graphs,cpu-all --networks 2-3-3-1 --batches 256,4096
run_bench b32 60 --backends cuda-fused,cpu-all --networks 2-3-3-1 --batches 32 --work 2e8
# 1e8 FLOPs ≈ 0.93 M samples per network; 5e6 ≈ 69 k samples per network, 1.1 G samples in all.
run_bench replicas 120 --backends cuda-fused --networks 2-3-3-1 --batches 256 --replicas 1024 --work 1e8
run_bench replicas16k 120 --backends cuda-fused --networks 2-3-3-1 --batches 32 --replicas 16384 --work 5e6 "${kernel_only[@]}"
run_bench n64 90 --backends cuda-fused,cuda-graphs --networks 2-64-64-1 --batches 256 --work 2e10
run_bench wide 60 --backends cuda-graphs,cuda-nographs,cuda-graphs-tf32 --networks 2-1024-1024-1 --batches 4096 --work 2e12
summarise "after sigtrain bench"

# 3b. Timed train commands (wall clock from start to exit; train's --log clock where it has one).
echo "device check: timed train commands ($(elapsed) s)"
for run in 1 2 3; do  # the default run (8,000 training samples, batch 8, 100 epochs), alternating
  time_train default-auto "$run" 800000 100 60 log --backend auto
  time_train default-cpu "$run" 800000 100 60 log --backend cpu
done
replicas=(--replicas 1024 --batch 256 --samples 100000 --val-split 0 --quiet)
time_train replicas-1024 1 1024000000 10 90 nolog "${replicas[@]}" --epochs 10
# 30 epochs more: their cost by wall clock leaves out the start-up (process, CUDA context, data).
time_train replicas-1024-long 1 4096000000 40 120 nolog "${replicas[@]}" --epochs 40
time_train cpu-1m 1 30000000 30 90 log --backend cpu --threads 1 --batch 256 --samples 1000000 --val-split 0 --epochs 30
# fp32 and --tf32 also through train's cuBLAS path (50 steps an epoch), beside the bench's cuda-graphs-tf32.
wide=(--backend cuda --kernel cublas --layers 2,1024,1024,1 --batch 4096 --samples 204800 --val-split 0 --epochs 20 --lr 1e-4)
time_train wide-fp32 1 4096000 20 60 log "${wide[@]}"
time_train wide-tf32 1 4096000 20 60 log "${wide[@]}" --tf32
# The same run data-parallel at one rank: with NCCL built, its sums on the GPU (issue 13); the first
# line in train.out says which. Against wide-fp32: what the data-parallel step costs on one GPU.
time_train wide-data-parallel 1 4096000 20 60 log "${wide[@]}" --data-parallel
grep -m1 '^data-parallel' "$work/train.out" || true
summarise "after the train commands"

# 3c. The peers on the same machine. Work per repeat as sigtrain bench's --work (per network).
echo "device check: peers ($(elapsed) s)"
torch=("$python" bench/peers/torch_peer.py --cuda)
jax=("$python" bench/peers/jax_peer.py --cuda)
run_peer torch.jsonl 90 "${torch[@]}" --graphs --networks 2-3-3-1 --batches 32,256,4096 --work 3e7
run_peer jax.jsonl 90 "${jax[@]}" --networks 2-3-3-1 --batches 32,256,4096 --work 3e7
run_peer torch.jsonl 90 "${torch[@]}" --graphs --replicas 1024 --networks 2-3-3-1 --batches 256 --work 1e7
run_peer jax.jsonl 90 "${jax[@]}" --replicas 1024 --networks 2-3-3-1 --batches 256 --work 1e7
run_peer torch.jsonl 90 "${torch[@]}" --graphs --replicas 16384 --networks 2-3-3-1 --batches 32 --work 1e6
run_peer jax.jsonl 90 "${jax[@]}" --replicas 16384 --networks 2-3-3-1 --batches 32 --work 1e6
run_peer torch.jsonl 60 "${torch[@]}" --graphs --networks 2-64-64-1 --batches 256 --work 2e10
run_peer jax.jsonl 60 "${jax[@]}" --networks 2-64-64-1 --batches 256 --work 2e10
run_peer torch.jsonl 60 "${torch[@]}" --graphs --networks 2-1024-1024-1 --batches 4096 --work 2e12
run_peer torch.jsonl 60 "${torch[@]}" --graphs --tf32 --networks 2-1024-1024-1 --batches 4096 --work 2e12
run_peer jax.jsonl 60 "${jax[@]}" --networks 2-1024-1024-1 --batches 4096 --work 2e12
fann=$(fann_peer)
if [ -n "$fann" ]; then
  run_peer fann.jsonl 60 "$fann" --networks 2-3-3-1 --modes incremental --work 2e8
else
  echo "device check: FANN peer skipped: not built, and no .deps/fann (bench/prepare_device_deps.sh)"
fi
summarise "after the peers"

# 3d. With time left: PyTorch eager (~0.9 ms a step: small work), the cpu backend on the wide network.
echo "device check: the rest ($(elapsed) s)"
run_peer torch.jsonl 60 "${torch[@]}" --networks 2-3-3-1 --batches 256,4096 --work 2e7
run_peer torch.jsonl 60 "${torch[@]}" --replicas 1024 --networks 2-3-3-1 --batches 256 --work 2e6
run_peer torch.jsonl 60 "${torch[@]}" --replicas 16384 --networks 2-3-3-1 --batches 32 --work 2e5
run_bench widecpu 60 --backends cpu-all --networks 2-1024-1024-1 --batches 4096 --work 2e11 "${kernel_only[@]}"

# 4. The summary: $OUT now holds 8 files: the log, ctest output, differences, sanitizer output, ptxas,
#    raw results, JSON, markdown.
summarise "the end" --print

# Last, and only with time to spare: where the fused kernels' warps wait, for whoever tunes them next
# (Nsight Compute on one launch each, into the log only): the shape-specialised kernel on a block
# (2-3-3-1, B 256) and on a cluster (B 4096), the tiled kernel (2-64-64-1, B 256). Each kernel's name
# ends in _kernel: fused_warp_kernel, fused_tiled_kernel (fused_train_kernel is the runtime-shaped one).
ncu_cases=("2-3-3-1 256" "2-3-3-1 4096" "2-64-64-1 256")
for ncu_case in "${ncu_cases[@]}"; do
  [ -n "$gpu" ] && command -v ncu >/dev/null && [ "$(elapsed)" -lt 400 ] || break
  read -r network batch <<<"$ncu_case"
  echo "device check: ncu, $network at batch $batch"
  timeout 40 ncu --clock-control none --kernel-name regex:'fused_(train|warp|tiled)_kernel' --launch-count 1 \
    --section SpeedOfLight --section WarpStateStats --section MemoryWorkloadAnalysis \
    "$sigtrain" bench --backends cuda-fused --networks "$network" --batches "$batch" --repeats 1 --work 1e8 \
    2>&1 | grep -vE "^==PROF==|^\|" | tail -n 60 || echo "device check: ncu did not run"
done
echo "device check: $(elapsed) s in all; results in $results/*$stamp*"
[ "$sanitizer_gate" = FAIL ] && echo "device check: FAIL: compute-sanitizer gate ($sanitizer)"
[ "$ctest_status" -eq 0 ] && [ "$sanitizer_gate" != FAIL ]
