#include "train/data_shard.h"

#include <algorithm>

#include "data/data_files.h"
#include "data/epoch_order.h"

namespace sigtrain {

RowBlock block_of_rank(size_t n, int rank, int ranks) {
  const size_t first = share_start(n, rank, ranks);
  return {first, share_start(n, rank + 1, ranks) - first};
}

EpochShard epoch_shard(const EpochShuffle& order, size_t batch, RowBlock mine) {
  const size_t n = order.n;
  EpochShard shard;
  shard.rows.reserve(mine.count);
  shard.step_starts.reserve((n + batch - 1) / batch + 1);
  std::vector<uint32_t> rows(batch);
  for (size_t first = 0; first < n; first += batch) {
    shard.step_starts.push_back(shard.rows.size());
    const size_t count = std::min(batch, n - first);
    epoch_rows(order, first, count, rows.data());
    for (size_t k = 0; k < count; ++k)
      if (mine.holds(rows[k])) shard.rows.push_back(uint32_t(rows[k] - mine.first));
  }
  shard.step_starts.push_back(shard.rows.size());
  return shard;
}

}  // namespace sigtrain
