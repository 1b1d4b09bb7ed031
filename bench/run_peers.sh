#!/usr/bin/env bash
# sigtrain beside its peers, FANN and PyTorch, on the same networks, batches and kind of data, on this
# machine. The tools take turns (sigtrain, fann, torch; then fann, torch, sigtrain; …) network by
# network for several rounds, so that drift on a shared machine hits all of them alike; the table gives
# the median over rounds of samples/s and of the ratio sigtrain ÷ peer measured within each round.
#
#   bench/run_peers.sh [--quick] [--rounds 3] [--sigtrain build/sigtrain] [--fann build/bench/peers/fann_peer]
#                      [--python python3] [--out bench/results/peers-<date>.json]
#
# Cases (the work per repeat is the same for every tool of a network, as `sigtrain bench --work`):
#   2-3-3-1          batch 256 (sigtrain cpu-1, cpu-all; torch 1 thread, all), batch 1 (sigtrain cpu-1
#                    against FANN incremental), FANN full batch
#   2-64-64-1        batches 32, 256, 4096, the same way
#   784-256-256-10   batches 32, 256, 4096, the same way
# --quick: 2-3-3-1 and 2-64-64-1 at batch 256 (and 1), a tenth of the work. On an idle 2-core machine
# --quick takes about a minute in all, the full grid about ten.
# A peer that is missing (no fann_peer built, no torch for --python) is skipped with a message.
# Writes bench/results/peers-<date>.json (every run and the summary) and .md (the table).
set -uo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-0}"; }

sigtrain=build/sigtrain
fann=build/bench/peers/fann_peer
python=python3
quick=0
rounds=3
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/peers-$stamp.json
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --sigtrain) sigtrain=${2:?--sigtrain needs a path}; shift ;;
    --fann) fann=${2:?--fann needs a path}; shift ;;
    --python) python=${2:?--python needs an interpreter}; shift ;;
    --out) out=${2:?--out needs a path}; shift ;;
    -h | --help) usage 0 ;;
    *) echo "run_peers: unknown option $1" >&2; usage 2 >&2 ;;
  esac
  shift
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "run_peers: --rounds must be a whole number above 0" >&2; exit 2; }

if [ ! -x "$sigtrain" ]; then
  echo "run_peers: no sigtrain program at $sigtrain: build it with ./build.sh (or pass --sigtrain PATH)" >&2
  exit 1
fi
if [ ! -x "$fann" ]; then
  echo "run_peers: no FANN peer at $fann: build it with 'cmake --build build --target fann_peer' (needs libfann-dev); FANN skipped" >&2
  fann=""
fi
if ! "$python" -c "import torch" >/dev/null 2>&1; then
  echo "run_peers: '$python' cannot import torch (see bench/README.md, or pass --python); PyTorch skipped" >&2
  python=""
fi

if [ "$quick" = 1 ]; then
  networks=(2-3-3-1 2-64-64-1)
else
  networks=(2-3-3-1 2-64-64-1 784-256-256-10)
fi
# Batches per network, and FLOPs per repeat: enough that the slowest case of a network still takes
# several steps at batch 4096 (784-256-256-10: 1.6 MFLOP per sample) and at least ~0.1 s per repeat.
batches_for() { case "$1" in 2-3-3-1) echo 256 ;; *) if [ "$quick" = 1 ]; then echo 256; else echo 32,256,4096; fi ;; esac; }
work_for() {
  local work
  case "$1" in 2-3-3-1) work=1e9 ;; 2-64-64-1) work=2e9 ;; *) work=1e10 ;; esac
  if [ "$quick" = 1 ]; then awk "BEGIN { printf \"%g\", $work / 10 }"; else echo "$work"; fi
}

raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT
# Copies of the programs, so that a rebuild during the run (others share the build folder) cannot mix
# two builds in one table.
cp "$sigtrain" "$raw/sigtrain" && sigtrain=$raw/sigtrain || exit 1
if [ -n "$fann" ]; then cp "$fann" "$raw/fann_peer" && fann=$raw/fann_peer || exit 1; fi
failures=0
# One tool on one network in one round; its output lands in $raw/r<round>-<tool>-<network>.*
run_tool() {
  local tool=$1 round=$2 network=$3 batches work
  batches=$(batches_for "$network")
  work=$(work_for "$network")
  echo "run_peers: round $round/$rounds, $network, $tool" >&2
  case "$tool" in
    sigtrain)
      # Batch 1, one thread: the counterpart of FANN's incremental mode, shuffled and in file order.
      "$sigtrain" bench --networks "$network" --batches 1 --backends cpu-1 --work "$work" \
        --json "$raw/r$round-sigtrain-$network-b1.json" >/dev/null 2>"$raw/log" &&
        "$sigtrain" bench --networks "$network" --batches 1 --backends cpu-1 --work "$work" --no-shuffle \
          --json "$raw/r$round-sigtrain-$network-b1-fileorder.json" >/dev/null 2>"$raw/log" &&
        "$sigtrain" bench --networks "$network" --batches "$batches" --backends cpu-1,cpu-all --work "$work" \
          --json "$raw/r$round-sigtrain-$network.json" >/dev/null 2>"$raw/log" &&
        # One thread in file order, as FANN visits its data: the like-for-like row for FANN.
        "$sigtrain" bench --networks "$network" --batches "$batches" --backends cpu-1 --work "$work" --no-shuffle \
          --json "$raw/r$round-sigtrain-$network-fileorder.json" >/dev/null 2>"$raw/log"
      ;;
    fann)
      [ -n "$fann" ] || return 0
      "$fann" --networks "$network" --work "$work" >"$raw/r$round-fann-$network.jsonl" 2>"$raw/log"
      ;;
    torch)
      [ -n "$python" ] || return 0
      "$python" bench/peers/torch_peer.py --networks "$network" --batches "$batches" --threads 1,0 --work "$work" \
        >"$raw/r$round-torch-$network.jsonl" 2>"$raw/log"
      ;;
  esac
  local status=$?
  if [ $status -ne 0 ]; then
    echo "run_peers: $tool failed on $network (exit $status):" >&2
    tail -n 5 "$raw/log" >&2
    failures=$((failures + 1))
  fi
}

started=$(date +%s)
tools=(sigtrain fann torch)
for round in $(seq 1 "$rounds"); do
  for network in "${networks[@]}"; do
    # Each round starts with the next tool, so that none always runs right after another's warm-up.
    for i in 0 1 2; do
      run_tool "${tools[$(((round - 1 + i) % 3))]}" "$round" "$network"
    done
  done
done

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit+changes"; fi
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
mkdir -p "$(dirname "$out")"
python3 bench/peers/summarise.py --raw "$raw" --json "$out" --markdown "${out%.json}.md" \
  --hardware-threads "$(nproc)" \
  --meta "commit=$commit" --meta "cpu=${cpu:-unknown}" --meta "hardware_threads=$(nproc)" \
  --meta "rounds=$rounds" --meta "quick=$quick" --meta "networks=${networks[*]}" \
  --meta "fann=$(dpkg-query -W -f='libfann-dev ${Version}' libfann-dev 2>/dev/null || echo unknown)" \
  --meta "seconds=$(($(date +%s) - started))" || exit 1
echo "run_peers: $(($(date +%s) - started)) s; wrote $out and ${out%.json}.md" >&2
[ "$failures" -eq 0 ]
