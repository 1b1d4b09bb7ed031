// The epoch's order on the host: rows of a run of positions at once, computed from the epoch's
// EpochShuffle (kernels/math/epoch_shuffle.h), the same rows every device thread computes one by one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "math/epoch_shuffle.h"

namespace sigtrain {

// rows[i] = shuffle.row(first + i) for i < count, for positions inside [0, n). Fast: the Feistel
// network runs on a vector of positions at a time (the cpu kernels' epoch_rows, per instruction set),
// and those that land outside [0, n) walk again, gathered into a list that is walked in vectors too.
void epoch_rows(const EpochShuffle& shuffle, size_t first, size_t count, uint32_t* rows);

// The whole order of an epoch over n samples: epoch_rows over [0, n) (for tests, the validation split
// and the gradient check; training computes rows as it goes).
std::vector<uint32_t> epoch_permutation(size_t n, uint64_t epoch_seed_value);

}  // namespace sigtrain
