// The communicator of a process not started by mpirun (every build, MPI or not): one rank, and every
// collective a copy of its own. (Under mpirun: tests/mpi/test_communicator.cpp, ctest's Mpi.*.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mpi/communicator.h"

namespace sigtrain {
namespace {

TEST(CommunicatorSingleProcess, IsOneRankWhoseCollectivesAreCopies) {
  Communicator& world = sigtrain::world();
  EXPECT_EQ(world.rank(), 0);
  EXPECT_EQ(world.size(), 1);
  EXPECT_EQ(world.local_rank(), 0);
  EXPECT_EQ(world.local_size(), 1);
  const std::string bytes("a\0b", 3);
  EXPECT_EQ(world.all_gather(bytes), std::vector<std::string>{bytes});
  EXPECT_EQ(world.gather(bytes), std::vector<std::string>{bytes});
  EXPECT_EQ(world.broadcast(bytes), bytes);
  EXPECT_EQ(world.gather_errors("bad file"), std::vector<std::string>{"bad file"});
  std::vector<double> values = {0.1, -2.5e7, 3e-9};
  const std::vector<double> before = values;
  world.sum_in_rank_order(values.data(), values.size());
  EXPECT_EQ(values, before);
  world.barrier();
}

}  // namespace
}  // namespace sigtrain
