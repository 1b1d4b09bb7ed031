#!/usr/bin/env bash
# Sweep throughput against MPI ranks on this machine (issue 13, item 6, the sweep half):
#   bench/mpi_sweep_scaling.sh [SIGTRAIN] [MAX_RANKS]      (defaults: build/sigtrain, 3)
# A sweep of NETWORKS networks (seeds 1…NETWORKS, the notes' 2-3-3-1 network, the sine set: 8000
# training samples, batch 8, EPOCHS epochs, cpu backend, one thread per rank) run as a plain process,
# as the same process with --threads 2 (threads over networks), and under
# `mpirun --oversubscribe -np R` for R = 1 … MAX_RANKS. Each is run REPEATS times; the median wall time
# (mpirun's start-up included: what a user waits for) gives networks/s and training samples/s
# (networks × epochs × 8000 / s). Every run's --save-all is compared with the plain run's (cmp): the
# speed is of the same models.
set -euo pipefail
sigtrain=$(realpath "${1:-build/sigtrain}")
max_ranks=${2:-3}
networks=${NETWORKS:-24} epochs=${EPOCHS:-400} repeats=${REPEATS:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
sweep=(train --backend cpu --epochs "$epochs" --sweep "seed=1-$networks" --quiet)

median_seconds() {  # the command's median wall time over $repeats runs; its --save-all into $scratch/$label
  local label=$1; shift
  local times=()
  for _ in $(seq "$repeats"); do
    rm -rf "${scratch:?}/$label"
    local start end
    start=$(date +%s.%N)
    "$@" --save-all "$scratch/$label"
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -g | sed -n "$(( (repeats + 1) / 2 ))p"
}

row() {  # label, seconds, baseline seconds
  printf '| %-26s | %7.2f | %10.1f | %12.3g | %6.2f |\n' "$1" "$2" "$(echo "$networks / $2" | bc -l)" \
    "$(echo "$networks * $epochs * 8000 / $2" | bc -l)" "$(echo "$3 / $2" | bc -l)"
}

echo "sweep of $networks networks, $epochs epochs each, on $(nproc) cores; median of $repeats; load average before: $(cut -d" " -f1-3 /proc/loadavg)"
echo "| run                        | wall s  | networks/s | samples/s    | speed-up |"
echo "|---|---|---|---|---|"
plain=$(median_seconds plain "$sigtrain" "${sweep[@]}")
row "plain, 1 thread" "$plain" "$plain"
threads=$(median_seconds threads "$sigtrain" "${sweep[@]}" --threads 2)
diff -r "$scratch/plain" "$scratch/threads" > /dev/null || { echo "--threads 2 saved other models" >&2; exit 1; }
row "plain, --threads 2" "$threads" "$plain"
for ranks in $(seq "$max_ranks"); do
  t=$(median_seconds "np$ranks" mpirun -q --oversubscribe -np "$ranks" "$sigtrain" "${sweep[@]}")
  diff -r "$scratch/plain" "$scratch/np$ranks" > /dev/null || { echo "$ranks ranks saved other models" >&2; exit 1; }
  row "mpirun -np $ranks" "$t" "$plain"
done
