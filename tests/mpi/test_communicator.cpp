// The communicator (host/mpi/communicator.h) under mpirun -np 1, 2 and 3 (ctest's Mpi.Communicator.*):
// every collective against what a serial program computes from every rank's values, which each rank
// can make itself (they come from the rank's number). Every rank runs every test in the same order, so
// the collectives meet; a test that failed on one rank only would hang, which ctest's timeout ends.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "mpi/communicator.h"
#include "mpi/device_rank_sum.h"

#ifdef SIGTRAIN_HAVE_NCCL
#include <cuda_runtime_api.h>
#endif

namespace sigtrain {
namespace {

int launcher_size() {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  return size ? std::atoi(size) : 1;
}

// Rank r's bytes: different lengths (rank 0's empty), a NUL inside, so that a gather that cuts at a
// NUL, takes one length for all or mixes up the order shows.
std::string bytes_of(int rank) {
  std::string s;
  for (int i = 0; i < 7 * rank; ++i) s += char((rank * 31 + i) % 256);
  if (!s.empty()) s[s.size() / 2] = '\0';
  return s;
}

// Rank r's values: random, of magnitudes from 1e-8 to 1e8 and both signs, so that the order of a sum
// changes its bits (checked below).
std::vector<double> values_of(int rank, size_t n) {
  std::mt19937_64 generator(1000 + uint64_t(rank));
  std::uniform_real_distribution<double> mantissa(-1, 1);
  std::uniform_int_distribution<int> exponent(-8, 8);
  std::vector<double> v(n);
  for (double& x : v) x = mantissa(generator) * std::pow(10.0, exponent(generator));
  return v;
}

// The values' bytes: equal strings are equal bits (NaN and −0 included), and an empty vector is "".
std::string bits_of(const std::vector<double>& v) {
  return v.empty() ? std::string() : std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
}

TEST(Communicator, WorldIsTheLaunchersJob) {
  // Under mpirun the world is MPI's (not one rank per process, which every later test would also pass
  // trivially on -np 1 but not on 2 or 3).
  Communicator& world = sigtrain::world();
  EXPECT_TRUE(built_with_mpi());
  EXPECT_EQ(world.size(), launcher_size());
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  EXPECT_EQ(world.rank(), rank ? std::atoi(rank) : 0);
}

TEST(Communicator, AllGatherReturnsEveryRanksBytesInRankOrder) {
  Communicator& world = sigtrain::world();
  const std::vector<std::string> all = world.all_gather(bytes_of(world.rank()));
  ASSERT_EQ(all.size(), size_t(world.size()));
  for (int r = 0; r < world.size(); ++r) EXPECT_EQ(all[size_t(r)], bytes_of(r)) << "rank " << r;
  // The fault agreement: the last rank reports an error, every rank learns it, at its rank's place.
  std::vector<std::string> expected(all.size());
  expected.back() = "rank failed";
  EXPECT_EQ(world.gather_errors(world.rank() == world.size() - 1 ? "rank failed" : ""), expected);
}

TEST(Communicator, GatherGivesEveryRanksBytesToTheRootOnly) {
  Communicator& world = sigtrain::world();
  const int root = world.size() - 1;
  const std::vector<std::string> all = world.gather(bytes_of(world.rank()), root);
  if (world.rank() != root) {
    EXPECT_TRUE(all.empty());
  } else {
    ASSERT_EQ(all.size(), size_t(world.size()));
    for (int r = 0; r < world.size(); ++r) EXPECT_EQ(all[size_t(r)], bytes_of(r)) << "rank " << r;
  }
}

TEST(Communicator, BroadcastGivesTheRootsBytesToEveryRank) {
  Communicator& world = sigtrain::world();
  for (int root = 0; root < world.size(); ++root) {
    // The others offer bytes of another length, which must not count.
    const std::string got = world.broadcast(bytes_of(world.rank() + 1) + "x", root);
    EXPECT_EQ(got, bytes_of(root + 1) + "x") << "root " << root;
  }
}

TEST(Communicator, SumInRankOrderIsTheSerialSumInRankOrderBitForBit) {
  Communicator& world = sigtrain::world();
  // Lengths that do not divide among the ranks, one shorter than the ranks (empty slices), and none.
  for (size_t n : {size_t(1001), size_t(2), size_t(1), size_t(0)}) {
    std::vector<double> values = values_of(world.rank(), n);
    world.sum_in_rank_order(values.data(), n);
    std::vector<double> serial = values_of(0, n), reversed = values_of(world.size() - 1, n);
    for (int r = 1; r < world.size(); ++r) {
      const std::vector<double> v = values_of(r, n), w = values_of(world.size() - 1 - r, n);
      for (size_t i = 0; i < n; ++i) {
        serial[i] += v[i];
        reversed[i] += w[i];
      }
    }
    EXPECT_TRUE(bits_of(values) == bits_of(serial)) << "n " << n;
    // The same bits on every rank.
    const std::string mine = bits_of(values);
    for (const std::string& other : world.all_gather(mine)) EXPECT_TRUE(other == mine) << "n " << n;
    // The data make the order matter: a sum in another order (say, MPI_Allreduce's) would show.
    if (world.size() >= 3 && n == 1001) {
      EXPECT_FALSE(bits_of(reversed) == bits_of(serial));
    }
  }
}

// NCCL's sum on the GPUs (mpi/device_rank_sum.h) against the host's, on the same values: the same bits
// (catches slices sent to the wrong rank or placed at the wrong offset, a sum in NCCL's own order or
// not in rank order, empty slices mishandled). One GPU per rank: skipped, on every rank alike, where
// the machine has fewer GPUs than ranks, no GPU, or the build no NCCL.
TEST(Communicator, NcclSumOnTheGpusGivesTheHostSumsBits) {
  Communicator& world = sigtrain::world();
  std::string why_not;
  if (!cuda_backend_available(&why_not)) GTEST_SKIP() << why_not;
  if (!nccl_fits_ranks(world)) GTEST_SKIP() << "no NCCL in this build, or fewer GPUs than ranks on this machine";
#ifdef SIGTRAIN_HAVE_NCCL
  use_cuda_device_of_rank(world.local_rank());
  const std::unique_ptr<DeviceRankSum> nccl = make_nccl_rank_sum(world);
  for (size_t n : {size_t(1001), size_t(2), size_t(1), size_t(0)}) {
    std::vector<double> host = values_of(world.rank(), n), device_result(n);
    double* device = nullptr;
    ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&device), std::max<size_t>(n, 1) * sizeof(double)), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(device, host.data(), n * sizeof(double), cudaMemcpyHostToDevice), cudaSuccess);
    nccl->sum_in_rank_order(device, n, nullptr);  // (the legacy default stream)
    ASSERT_EQ(cudaMemcpy(device_result.data(), device, n * sizeof(double), cudaMemcpyDeviceToHost), cudaSuccess);
    cudaFree(device);
    world.sum_in_rank_order(host.data(), n);
    EXPECT_TRUE(bits_of(device_result) == bits_of(host)) << "n " << n;
  }
#endif
}

TEST(Communicator, LocalRanksNumberTheRanksOfThisMachine) {
  // mpirun runs every rank here on one machine: the local ranks are 0 … size − 1, each once.
  Communicator& world = sigtrain::world();
  EXPECT_EQ(world.local_size(), world.size());
  std::vector<bool> seen(size_t(world.size()), false);
  for (const std::string& local : world.all_gather(std::to_string(world.local_rank()))) {
    const int l = std::stoi(local);
    ASSERT_TRUE(l >= 0 && l < world.size());
    EXPECT_FALSE(seen[size_t(l)]);
    seen[size_t(l)] = true;
  }
  world.barrier();
}

}  // namespace
}  // namespace sigtrain
