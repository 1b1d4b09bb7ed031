// Which samples of each global batch a rank steps on, in data-parallel training (--data-parallel,
// --average-every): the pure part, with no communication (train/data_parallel.h uses it).
//
// The training set of a job is the concatenation of the ranks' parts in rank order: rank r holds the
// global rows [first, first + count) (a RowBlock). Every rank computes the same global epoch order
// over all N rows (kernels/math/epoch_shuffle.h, from the run's seed, as a single process does), and
// global step i covers positions [i·B, min(N, (i + 1)·B)) of it. A rank's shard of step i is the
// rows of that step that it holds, in the order's order. So the union of the shards of a step is the
// single process's batch whatever the rank count, and no sample is moved between ranks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "math/epoch_shuffle.h"

namespace sigtrain {

// Global rows [first, first + count).
struct RowBlock {
  size_t first = 0;
  size_t count = 0;
  bool holds(size_t row) const { return row - first < count; }  // (unsigned: below first wraps above count)
};

// Rank `rank`'s equal share of n rows held by every rank (a built-in data set): [n·r/R, n·(r+1)/R).
RowBlock block_of_rank(size_t n, int rank, int ranks);

// A rank's part of one epoch: its rows (indices into its own part, block.first subtracted) in the
// order the epoch visits them, and where each global step's shard starts among them: step i's shard is
// rows[step_starts[i] … step_starts[i + 1]). step_starts has one entry per step and one more.
struct EpochShard {
  std::vector<uint32_t> rows;
  std::vector<size_t> step_starts;
  size_t steps() const { return step_starts.empty() ? 0 : step_starts.size() - 1; }
  size_t count(size_t step) const { return step_starts[step + 1] - step_starts[step]; }
};

// The shard of every step of the epoch whose order is `order` (over order.n global rows), in steps of
// `batch` positions, for the rank that holds `mine`. Cost: the whole order is computed (N rows, in
// vectors), the rank keeps only its own.
EpochShard epoch_shard(const EpochShuffle& order, size_t batch, RowBlock mine);

}  // namespace sigtrain
