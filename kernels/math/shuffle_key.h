// The epoch permutation, defined so that every backend (host code, or Thrust on the device) makes the
// same one: sample i gets the key shuffle_key(epoch_seed, i), and the permutation is the stable sort
// of the sample indices by key. A stateless hash (SplitMix64's finaliser) needs no RNG state to be
// carried between host and device, and the same seed gives the same order everywhere.
#pragma once

#include <cstdint>

#include "math/activation.h"  // SIGTRAIN_HD

namespace sigtrain {

// SplitMix64's output function (Steele, Lea, Flood 2014): a bijection on 64-bit words with good
// avalanche, used here as a counter-based generator.
SIGTRAIN_HD uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The seed of epoch `epoch` (0-based) of a run seeded with `seed`.
SIGTRAIN_HD uint64_t epoch_seed(uint64_t seed, uint64_t epoch) { return mix64(mix64(seed) ^ (epoch + 1)); }

// Sort key of sample `index` in the epoch seeded with `epoch_seed_value`.
SIGTRAIN_HD uint64_t shuffle_key(uint64_t epoch_seed_value, uint64_t index) {
  return mix64(epoch_seed_value ^ mix64(index));
}

}  // namespace sigtrain
