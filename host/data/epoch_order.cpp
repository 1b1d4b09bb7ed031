#include "data/epoch_order.h"

#include "backends/cpu/cpu_kernels.h"

namespace sigtrain {

void epoch_rows(const EpochShuffle& shuffle, size_t first, size_t count, uint32_t* rows) {
  if (!shuffle.shuffled) {
    for (size_t i = 0; i < count; ++i) rows[i] = uint32_t(first + i);
    return;
  }
  // The Feistel network a vector of positions at a time: the cpu kernels' code for this processor.
  cpu_kernels().epoch_rows(shuffle, first, count, rows);
}

std::vector<uint32_t> epoch_permutation(size_t n, uint64_t epoch_seed_value) {
  std::vector<uint32_t> order(n);
  epoch_rows(make_epoch_shuffle(n, true, epoch_seed_value), 0, n, order.data());
  return order;
}

}  // namespace sigtrain
