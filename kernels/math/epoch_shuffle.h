// The epoch's order, defined so that every backend (host code, and each CUDA thread on the device)
// computes the same one, per position, with no order array and no sort anywhere: position p of an
// epoch visits row EpochShuffle::row(p), a keyed bijection of [0, n).
//
// The bijection is a Feistel network on the b-bit numbers, 2^b the smallest power of two ≥ n, with
// cycle-walking (Black and Rogaway, "Ciphers with arbitrary finite domains", 2002): x = p is split
// into a left part (the high b − b/2 bits) and a right part (the low b/2 bits); each round replaces
// one part by itself XOR a keyed hash of the other (so each round, and the network, is invertible),
// and where the result lands outside [0, n) the network is applied again, until it lands inside.
// Since 2^b < 2n, that takes fewer than two applications on average; it always ends, because the
// walk follows the cycle of the permutation through p, which returns to p itself, inside [0, n).
// Four rounds of a multiply-xorshift hash (the keys from the epoch's seed) give the pseudorandom
// order SGD wants where n > 64 (tests/test_epoch_order.cpp checks it looks like one; a cryptographic
// one it need not be). A few bits a part allow so few round functions that four rounds leave a
// visibly uneven order (measured: the first row of n = 10 samples over 200,000 epochs, chi-square
// 338 for 9 degrees of freedom), so small sets take eight (chi-square 7).
#pragma once

#include <cstddef>
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

constexpr int kFeistelRounds = 4;      // for n > 64
constexpr int kFeistelSmallRounds = 8;  // for n ≤ 64

// One epoch's order over n samples (n < 2³²): file order, or the keyed bijection above. Small and
// trivially copyable, so a kernel takes it by value or reads it from device memory.
struct EpochShuffle {
  uint32_t n = 0;
  uint32_t shuffled = 0;    // 0: file order, row(p) = p
  uint32_t right_bits = 0;  // b/2: the low part of x
  uint32_t right_mask = 0;  // 2^(b/2) − 1
  uint32_t left_shift = 0;   // 32 − (b − b/2): the hash's top bits become the left part
  uint32_t right_shift = 0;  // 32 − b/2 (31 when b/2 = 0)
  uint32_t rounds = 0;  // even
  uint32_t keys[kFeistelSmallRounds] = {};

  // The Feistel network on [0, 2^b): round k even replaces the left part, odd the right one, by
  // itself XOR the top bits of a multiply-xorshift hash of the other part and the round's key. No
  // branch but the rounds' loop, so that it runs on vectors of positions: a right part of 0 bits
  // (n = 2) is kept at 0 by its mask (its shift is held at 31). U is uint32_t, or a vector of them
  // (the cpu kernels' GCC vector type: every operation here is lane by lane, scalars broadcast).
  template <class U>
  SIGTRAIN_HD U permute(U x) const {
    return rounds == kFeistelRounds ? permute_in<kFeistelRounds>(x) : permute_in<kFeistelSmallRounds>(x);
  }
  // The same with the number of rounds known to the compiler (unrolled: a loop over a run of
  // positions chooses it once, outside).
  template <int Rounds, class U>
  SIGTRAIN_HD U permute_in(U x) const {
    U left = x >> right_bits, right = x & right_mask;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (int k = 0; k < Rounds; k += 2) {
      left ^= hash(right, keys[k]) >> left_shift;
      right = (right ^ (hash(left, keys[k + 1]) >> right_shift)) & right_mask;
    }
    return (left << right_bits) | right;
  }
  // The row taken at position p (p < n) of the epoch.
  SIGTRAIN_HD uint32_t row(size_t position) const {
    uint32_t x = uint32_t(position);
    if (!shuffled) return x;
    do x = permute<uint32_t>(x);  // cycle-walking: at most until the walk returns to p
    while (x >= n);
    return x;
  }

 private:
  template <class U>
  SIGTRAIN_HD static U hash(U v, uint32_t key) {
    U h = (v ^ key) * 0x9E3779B1u;  // 2³² / φ, odd: a bijection that carries low bits up
    h ^= h >> 15;
    return h * 0x85EBCA77u;  // a second odd multiplier spreads the xorshift's bits to the top
  }
};

// The order of an epoch over n samples: file order when !shuffle, else the bijection keyed by the
// epoch's seed (epoch_seed above).
SIGTRAIN_HD EpochShuffle make_epoch_shuffle(size_t n, bool shuffle, uint64_t epoch_seed_value) {
  EpochShuffle s;
  s.n = uint32_t(n);
  s.shuffled = shuffle && n > 1 ? 1u : 0u;
  if (!s.shuffled) return s;
  uint32_t bits = 0;  // b: 2^b ≥ n
  while ((uint64_t(1) << bits) < uint64_t(n)) ++bits;
  const uint32_t right = bits / 2, left = bits - right;
  s.right_bits = right;
  s.right_mask = (uint32_t(1) << right) - 1u;
  s.left_shift = 32u - left;                     // left ≥ 1 since n ≥ 2
  s.right_shift = right > 0 ? 32u - right : 31u;  // see permute
  s.rounds = n > 64 ? kFeistelRounds : kFeistelSmallRounds;
  for (uint32_t k = 0; k < s.rounds; ++k) s.keys[k] = uint32_t(mix64(epoch_seed_value + uint64_t(k)) >> 32);
  return s;
}

}  // namespace sigtrain
