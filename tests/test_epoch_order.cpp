// The epoch's order (kernels/math/epoch_shuffle.h, host/data/epoch_order.h): a keyed bijection of
// [0, n) computed per position. The device computes the same rows with the same function; the cuda
// backends' shuffled runs against the reference (test_cuda_backend.cpp, test_fused.cpp) check that.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "data/epoch_order.h"

namespace sigtrain {
namespace {

std::vector<uint32_t> identity(size_t n) {
  std::vector<uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  return v;
}

// Catches an order that repeats or loses a row, at sizes where the Feistel network's parts are empty
// (n = 1, 2), unbalanced (odd b), exactly a power of two (no walking) or one past it (the longest walks).
TEST(EpochShuffle, IsABijectionOfEverySize) {
  for (size_t n : {1u, 2u, 3u, 4u, 5u, 7u, 8u, 9u, 255u, 256u, 257u, 1000u, 4097u, 65535u, 65536u, 65537u, 100003u,
                   (1u << 20) + 1u}) {
    std::vector<uint32_t> order = epoch_permutation(n, epoch_seed(11, 3));
    std::sort(order.begin(), order.end());
    EXPECT_EQ(order, identity(n)) << n;
  }
}

// Catches the batched host function (a vectorised pass, then lists of walking positions) parting from
// the per-position definition the device threads use, for runs that start and end anywhere (partial
// vectors at both ends), on every instruction set's version (AVX-512 lists the walkers with compress
// instructions, the others lane by lane): n = 1000 lands 2% of positions outside [0, n), 65537 about
// half, 3 a quarter (with eight rounds).
TEST(EpochShuffle, RowsOfAnyRunEqualTheRowOfEachPosition) {
  for (const CpuKernels* k : supported_cpu_kernels())
    for (size_t n : {3u, 1000u, 65537u}) {
      const EpochShuffle s = make_epoch_shuffle(n, true, epoch_seed(4, 9));
      for (const auto& [first, count] : {std::pair<size_t, size_t>{0, n}, {1, n - 1}, {n / 3, n / 2}, {n - 1, 1}}) {
        std::vector<uint32_t> rows(count);
        k->epoch_rows(s, first, count, rows.data());
        for (size_t i = 0; i < count; ++i)
          ASSERT_EQ(rows[i], s.row(first + i)) << k->name << ": " << n << " at " << first + i;
      }
    }
}

// Catches file order that is not the identity, and a shuffled order that is the same every epoch or
// not a pure function of its seed.
TEST(EpochShuffle, FileOrderIsTheIdentityAndShuffledOrdersChangeEachEpoch) {
  std::vector<uint32_t> rows(1000);
  epoch_rows(make_epoch_shuffle(1000, false, epoch_seed(1, 0)), 0, 1000, rows.data());
  EXPECT_EQ(rows, identity(1000));
  const std::vector<uint32_t> a = epoch_permutation(1000, epoch_seed(1, 0));
  EXPECT_NE(a, epoch_permutation(1000, epoch_seed(1, 1)));
  EXPECT_NE(a, identity(1000));
  EXPECT_EQ(a, epoch_permutation(1000, epoch_seed(1, 0)));
}

// Catches a weak shuffle, one SGD would notice: rows that stay near their position (correlation of
// position and row, distance between the rows of neighbouring positions), more fixed points than a
// random permutation has (1 on average), and a first batch that favours some part of the data. The
// seeds are fixed, so the test is deterministic; the bounds are several standard errors wide.
TEST(EpochShuffle, LooksLikeARandomPermutation) {
  const size_t n = 10000;
  double fixed_points = 0;
  std::vector<double> first_row_bins(10, 0.0);
  const int epochs = 400;
  for (int e = 0; e < epochs; ++e) {
    const std::vector<uint32_t> order = epoch_permutation(n, epoch_seed(21, uint64_t(e)));
    double position_row = 0, neighbour_distance = 0;
    for (size_t p = 0; p < n; ++p) {
      fixed_points += order[p] == p;
      position_row += (double(p) - 0.5 * n) * (double(order[p]) - 0.5 * n);
      if (p + 1 < n) neighbour_distance += std::abs(double(order[p + 1]) - double(order[p]));
    }
    // Pearson correlation of position and row: both have variance n²/12. Random: about ±1/√n = 0.01.
    EXPECT_LT(std::abs(position_row / n / (double(n) * n / 12.0)), 0.05) << "epoch " << e;
    // Mean |row(p+1) − row(p)| is n/3 for a random permutation.
    EXPECT_NEAR(neighbour_distance / double(n - 1) / (n / 3.0), 1.0, 0.05) << "epoch " << e;
    for (size_t p = 0; p < 8; ++p) first_row_bins[order[p] * 10 / n] += 1;
  }
  EXPECT_NEAR(fixed_points / epochs, 1.0, 0.3);  // Poisson(1) per epoch: the mean of 400 is 1 ± 0.05
  // The first 8 rows of 400 epochs in 10 bins of the data: chi-square with 9 degrees of freedom
  // (99.9% quantile 27.9).
  double chi_square = 0;
  const double expected = 8.0 * epochs / 10.0;
  for (double count : first_row_bins) chi_square += (count - expected) * (count - expected) / expected;
  EXPECT_LT(chi_square, 27.9);
}

// Catches a small data set's order that favours some rows: the first row of n = 10 samples over
// 50,000 epochs, chi-square against uniform (9 degrees of freedom, 99.9% quantile 27.9). With four
// Feistel rounds instead of eight it is about 85 (measured).
TEST(EpochShuffle, SmallSetsStartAnywhereAlike) {
  const size_t n = 10, epochs = 50000;
  std::vector<double> first_row(n, 0.0);
  for (size_t e = 0; e < epochs; ++e) first_row[make_epoch_shuffle(n, true, epoch_seed(5, e)).row(0)] += 1;
  double chi_square = 0;
  const double expected = double(epochs) / double(n);
  for (double count : first_row) chi_square += (count - expected) * (count - expected) / expected;
  EXPECT_LT(chi_square, 27.9);
}

}  // namespace
}  // namespace sigtrain
