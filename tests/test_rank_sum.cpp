// The sum over ranks in rank order (kernels/math/rank_sum.h), the one piece of code behind MPI's host
// sum (host/mpi/communicator.cpp) and NCCL's on the GPUs (host/backends/cuda/nccl_rank_sum.cpp), run
// here for simulated ranks without MPI or a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "math/rank_sum.h"

namespace sigtrain {
namespace {

// Catches slices that overlap, leave a gap or an end out, or go out of rank order, for every length
// up to 50 (fewer values than ranks included) over 1 … 8 ranks.
TEST(RankSum, SlicesPartitionTheValuesInRankOrder) {
  for (int ranks = 1; ranks <= 8; ++ranks)
    for (size_t n = 0; n <= 50; ++n) {
      size_t next = 0;
      for (int k = 0; k < ranks; ++k) {
        EXPECT_EQ(rank_slice_begin(n, ranks, k), next) << n << " values, " << ranks << " ranks, slice " << k;
        next += rank_slice_count(n, ranks, k);
      }
      EXPECT_EQ(next, n) << n << " values, " << ranks << " ranks";
    }
}

// The reduce-scatter and all-gather as both transports run them (rank k receives every rank's copy of
// slice k, at received + r·count in rank order, adds them with sum_over_ranks_in_order, and every rank
// gathers the summed slices), simulated for 3 … 7 ranks: catches a sum that is not the serial sum in
// rank order bit for bit (values over 16 decades, where another order changes the bits).
TEST(RankSum, ReduceScatterThenGatherIsTheSerialSumInRankOrder) {
  std::mt19937_64 generator(5);
  std::uniform_real_distribution<double> mantissa(-1, 1);
  std::uniform_int_distribution<int> exponent(-8, 8);
  for (int ranks = 3; ranks <= 7; ++ranks) {
    const size_t n = 37;
    std::vector<std::vector<double>> values(static_cast<size_t>(ranks), std::vector<double>(n));
    for (auto& v : values)
      for (double& x : v) x = mantissa(generator) * std::pow(10.0, exponent(generator));
    std::vector<double> serial = values[0], reversed = values[size_t(ranks) - 1];
    for (int r = 1; r < ranks; ++r)
      for (size_t i = 0; i < n; ++i) {
        serial[i] += values[size_t(r)][i];
        reversed[i] += values[size_t(ranks - 1 - r)][i];
      }
    std::vector<double> result(n);
    for (int k = 0; k < ranks; ++k) {
      const size_t begin = rank_slice_begin(n, ranks, k), count = rank_slice_count(n, ranks, k);
      std::vector<double> received(count * size_t(ranks));
      for (int r = 0; r < ranks; ++r)
        std::memcpy(received.data() + size_t(r) * count, values[size_t(r)].data() + begin, count * sizeof(double));
      for (size_t i = 0; i < count; ++i) result[begin + i] = sum_over_ranks_in_order(received.data(), ranks, count, i);
    }
    EXPECT_EQ(std::memcmp(result.data(), serial.data(), n * sizeof(double)), 0) << ranks << " ranks";
    EXPECT_NE(std::memcmp(reversed.data(), serial.data(), n * sizeof(double)), 0) << "the data must make the order matter";
  }
}

}  // namespace
}  // namespace sigtrain
