// The sizes every backend can index (check_backend_limits, backends/backend.h): a training set of 2³²
// rows or more, a batch beyond 2³⁰ or more networks than a grid holds must fail with one clear line
// before anything is allocated, never wrap a 32-bit index or an int. Checked without allocating: the
// limits are pure, and the data sets here only claim their sizes.
#include <gtest/gtest.h>

#include <climits>
#include <string>

#include "backends/backend.h"
#include "backends/choose.h"
#include "backends/cpu/cpu_kernels.h"
#include "fused_step.h"
#include "math/epoch_shuffle.h"
#include "util/errors.h"

namespace sigtrain {
namespace {

// The error text of check_backend_limits(sizes) as type E, or "" where it throws nothing.
template <class E>
std::string refusal(const RunSizes& sizes) {
  try {
    check_backend_limits(sizes);
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

// Catches a limit set beyond what the index types hold: the largest training set's positions and rows
// fit the epoch order's 32 bits (its last position maps inside the set), the largest batch padded to
// the cpu's GEMM columns is still an int, and the largest group of networks times the fused kernel's
// blocks per network is still a CUDA grid.
TEST(BackendLimits, TheLimitsFitTheIndexTypes) {
  const EpochShuffle order = make_epoch_shuffle(kMaxTrainingRows, /*shuffle=*/true, 7);
  EXPECT_EQ(size_t(order.n), kMaxTrainingRows);
  EXPECT_LT(size_t(order.row(kMaxTrainingRows - 1)), kMaxTrainingRows);
  EXPECT_LE(padded_columns(kMaxBatch), size_t(INT_MAX));
  EXPECT_LE(kMaxNetworksAtOnce * size_t(kFusedMaxBlocksPerNetwork), size_t(INT_MAX));
}

// Catches a limit that refuses what every backend handles: the largest sizes, and sizes not known yet.
TEST(BackendLimits, AcceptsEverySizeUpToTheLimits) {
  EXPECT_NO_THROW(check_backend_limits({kMaxTrainingRows, kMaxBatch, kMaxNetworksAtOnce}));
  EXPECT_NO_THROW(check_backend_limits({}));
}

// Catches 2³² rows wrapping to 0 in the epoch order (a silent epoch of nothing), a batch of
// INT_MAX + 1 wrapping negative, and 2²⁹ networks wrapping the fused kernel's grid: each refused, the
// batch and the networks as usage errors (flags), the rows as an input error (data), in one line
// naming the size and the limit.
TEST(BackendLimits, RefusesEachSizeBeyondItsLimitInOneLine) {
  const std::string rows = refusal<InputError>({size_t(1) << 32, 0, 0});
  EXPECT_NE(rows.find("4294967296 rows"), std::string::npos) << rows;
  EXPECT_NE(rows.find("4294967295"), std::string::npos) << rows;
  const std::string batch = refusal<UsageError>({0, size_t(INT_MAX) + 1, 0});
  EXPECT_NE(batch.find("--batch 2147483648"), std::string::npos) << batch;
  EXPECT_NE(refusal<UsageError>({0, kMaxBatch + 1, 0}), "");
  const std::string networks = refusal<UsageError>({0, 0, size_t(1) << 29});
  EXPECT_NE(networks.find("536870912 networks"), std::string::npos) << networks;
  for (const std::string& line : {rows, batch, networks}) EXPECT_EQ(line.find('\n'), std::string::npos) << line;
}

// Catches a backend that takes a batch or a training set beyond the limits and only fails (or wraps)
// later: the factory refuses the batch before making anything, and the host backends refuse a training
// set that claims 2³² rows (none of its values exist: nothing may be read) when it is given.
TEST(BackendLimits, BackendsRefuseSizesBeyondTheLimitsBeforeWork) {
  const NetworkSpec spec{{2, 3, 1}, true};
  BackendOptions options;
  options.batch = kMaxBatch + 1;
  for (const std::string name : {"reference", "cpu", "auto"})
    EXPECT_THROW(make_backend(name, spec, {}, options), UsageError) << name;
  Dataset huge;
  huge.inputs = 2;
  huge.outputs = 1;
  huge.size = size_t(1) << 32;
  for (const std::string name : {"reference", "cpu"})
    EXPECT_THROW(make_backend(name, spec)->set_training_data(huge), InputError) << name;
}

}  // namespace
}  // namespace sigtrain
