#!/bin/sh
# sigtrain train --data-parallel under mpirun (ctest's Mpi.DataParallelCli.npN): the program's wiring of
# the library's parts (tests/mpi/test_data_parallel.cpp tests those): the split and standardisation of
# the whole file, rank 0 saving. Catches a run that differs between two runs (cmp of the model files),
# from the single process's beyond 1e-5 (every number of the model files), or that reads {rank} files
# or byte ranges wrongly, a first line counting one rank's samples,
# --log/--plot left incomplete, a diverged run saying so once per rank, or a resumed run that does not end where the run without the stop ends;
# and a rank given a missing file must fail the job, naming the rank.
# Usage: data_parallel_cli.sh SIGTRAIN MPIEXEC RANKS FOLDER
set -eu
sigtrain=$1 mpiexec=$2 ranks=$3 dir=$4
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
# 600 random rows (awk's seeded generator: never zeros, never the same twice), 3 inputs and 2 targets,
# with a header; and the same rows cut into one file per rank at other rows than the byte ranges'.
awk 'BEGIN { srand(7); print "a,b,c,y1,y2"; for (i = 0; i < 600; i++) printf "%.6f,%.6f,%.6f,%.6f,%.6f\n", 4*rand()-2, 4*rand()-2, 4*rand()-2, 2*rand()-1, 2*rand()-1 }' > whole.csv
tail -n +2 whole.csv | awk -v R="$ranks" '{ r = (NR <= 250 || R == 1) ? 0 : 1 + int((NR - 251) * (R - 1) / 350); print > ("part" r ".csv") }'
run() { "$mpiexec" --oversubscribe -np "$ranks" "$sigtrain" train --layers 3,8,2 --bias --epochs 5 --batch 40 \
          --optimizer adam --lr 0.01 --standardize both --val-split 0.2 --backend cpu --quiet "$@"; }
# every number of two model files within 1e-5 of the largest of the second's (relative difference)
close() {
  grep -oE -- '-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?' "$1" > a.numbers
  grep -oE -- '-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?' "$2" > b.numbers
  paste a.numbers b.numbers | awk -v what="$1 vs $2" '
    { d = $1 - $2; if (d < 0) d = -d; if (d > worst) worst = d; m = $2 < 0 ? -$2 : $2; if (m > largest) largest = m; n++ }
    END { if (n < 50 || worst > 1e-5 * largest) { printf "%s: %d numbers, relative difference %g\n", what, n, worst / largest; exit 1 } }'
}
"$sigtrain" train --layers 3,8,2 --bias --epochs 5 --batch 40 --optimizer adam --lr 0.01 --standardize both \
  --val-split 0.2 --backend cpu --quiet --data whole.csv --save single.json
run --data-parallel --data whole.csv --save first.json
run --data-parallel --data whole.csv --save second.json
cmp first.json second.json
close first.json single.json
run --data-parallel --data 'part{rank}.csv' --save parts.json
close parts.json single.json
# The first line names the job's samples (every rank's part), as the single process's does.
"$mpiexec" --oversubscribe -np "$ranks" "$sigtrain" train --layers 3,8,2 --epochs 1 --backend cpu --data-parallel \
  --data whole.csv > header.txt
grep -q "(480 training, 120 validation samples)" header.txt || { echo "the header does not count the job's samples:"; cat header.txt; exit 1; }
# --log ends with the kept epoch's line and --plot is drawn, as for a single process (rank 0's files).
run --data-parallel --data whole.csv --keep best --log log.csv --plot curves.svg
tail -n 1 log.csv | grep -q "^# kept epoch" || { echo "the log has no kept line:"; cat log.csv; exit 1; }
grep -q "<svg" curves.svg || { echo "--plot was not drawn"; exit 1; }
# --checkpoint/--resume: a run resumed from its checkpoint after epoch 3 of 5 saves the bytes of the run
# that was not stopped (both ways of combining the ranks: at an epoch's end every rank holds the same
# network); a resume over another rank count is refused, naming the setting.
for combine in "" "--average-every 3"; do
  # shellcheck disable=SC2086
  run --data-parallel --data whole.csv $combine --save straight.json --checkpoint ck.json --checkpoint-every 3
  rm -f resumed.csv
  # shellcheck disable=SC2086
  run --data-parallel --data whole.csv $combine --resume ck.json --save resumed.json --log resumed.csv
  cmp straight.json resumed.json || { echo "resumed ($combine) is not the run without the stop"; exit 1; }
  # (and it did resume: its log has epochs 4 and 5 only, where a run from scratch would have 1-5)
  [ "$(tail -n +2 resumed.csv | cut -d, -f1 | tr '\n' ' ')" = "4 5 " ] || { echo "not resumed:"; cat resumed.csv; exit 1; }
done
if [ "$ranks" -gt 1 ]; then
  if "$sigtrain" train --layers 3,8,2 --bias --epochs 5 --batch 40 --optimizer adam --lr 0.01 --standardize both \
       --val-split 0.2 --backend cpu --quiet --average-every 3 --data-parallel --data whole.csv --resume ck.json 2> error.txt; then
    echo "a resume over another rank count was not refused"; exit 1
  fi
  grep -q "data" error.txt || { echo "the refusal does not name the data:"; cat error.txt; exit 1; }
fi
# A diverging run: one line (rank 0's, not one per rank), exit 1, the last finite model beside --save.
# (mpirun -q: its own banner about a non-zero exit would follow the line)
if "$mpiexec" -q --oversubscribe -np "$ranks" "$sigtrain" train --layers 3,8,2 --epochs 2 --backend cpu --quiet \
     --data-parallel --data whole.csv --lr 1e6 --save diverged.json 2> error.txt; then
  echo "a diverged run exited 0"; exit 1
fi
[ "$(wc -l < error.txt)" = 1 ] && grep -q "became" error.txt || { echo "not one line for a diverged run:"; cat error.txt; exit 1; }
[ -f diverged.last-finite.json ] && [ ! -e diverged.json ] || { echo "a diverged run saved in the wrong place"; exit 1; }
if [ "$ranks" -gt 1 ]; then
  rm "part$((ranks - 1)).csv"
  if run --data-parallel --data 'part{rank}.csv' 2> error.txt; then echo "a missing file did not fail the job"; exit 1; fi
  grep -q "rank $((ranks - 1))" error.txt || { echo "the error does not name rank $((ranks - 1)):"; cat error.txt; exit 1; }
fi
echo "data-parallel over $ranks ranks: the same model twice, within 1e-5 of the single process"
