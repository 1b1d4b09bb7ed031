#!/bin/sh
# Data-parallel scaling on one machine: samples/s of `sigtrain train --data-parallel` against the rank
# count (mpirun --oversubscribe), and per step rank 0's time in the gradients' sum and, apart, waiting
# for the slowest rank before it (a timed barrier). bench/README.md ("Past one machine") projects it to
# many nodes. Usage:
#   bench/data_parallel.sh [SIGTRAIN] [MAX_RANKS] [LAYERS] [BATCH] [SAMPLES] [EPOCHS] [EXTRA TRAIN FLAGS…]
set -eu
sigtrain=${1:-build/sigtrain} max_ranks=${2:-3} layers=${3:-2,256,256,1} batch=${4:-4096} samples=${5:-65536} epochs=${6:-3}
shift $(( $# < 6 ? $# : 6 ))
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 SIGTRAIN_DATA_PARALLEL_TIMES=1
dir=$(mktemp -d)
steps=$(( (samples * 4 / 5 + batch - 1) / batch * epochs ))   # (--val-split 0.2)
echo "network $layers, global batch $batch, $samples samples, $epochs epochs ($steps steps), cpu backend, 1 thread a rank; $(nproc) cores $*"
echo "ranks | samples/s (best epoch) | sum µs/step | waiting µs/step"
for ranks in $(seq 1 "$max_ranks"); do
  out=$(mpirun --oversubscribe -np "$ranks" "$sigtrain" train --data-parallel --synthetic sine --samples "$samples" \
          --layers "$layers" --batch "$batch" --epochs "$epochs" --backend cpu --threads 1 --quiet --log "$dir/log.csv" "$@")
  best=$(tail -n +2 "$dir/log.csv" | cut -d, -f4 | sort -g | tail -1)
  line=$(echo "$out" | grep '^communication:')
  sum=$(echo "$line" | awk '{ print $4 }') waiting=$(echo "$line" | awk '{ print $8 }')
  echo "$ranks | $best | $(awk -v s="$sum" -v n="$steps" 'BEGIN { printf "%.1f", 1e6 * s / n }') | $(awk -v s="$waiting" -v n="$steps" 'BEGIN { printf "%.1f", 1e6 * s / n }')"
done
rm -rf "$dir"
