// The fp32 cpu backend against the fp64 reference (DESIGN.md §5): forward, loss and gradients within
// 1e-5 relative for one step, parameters within 1e-4 after 100 SGD steps, on random data and networks.
#include <gtest/gtest.h>

#include <cmath>

#include "backend_test_util.h"
#include "cpu_backend.h"
#include "reference_backend.h"
#include "trainer.h"

namespace sigtrain {
namespace {

using testing::random_dataset;
using testing::random_parameters;

using Case = testing::BackendCase;

class CpuVsReference : public ::testing::TestWithParam<Case> {};

// Catches a wrong formula or indexing in the cpu backend's forward pass (unit-major layout, bias,
// linear output) and in its batched loss.
TEST_P(CpuVsReference, ForwardAndLossAgree) {
  const Case c = GetParam();
  const NetworkSpec spec{c.widths, c.bias};
  const Parameters p = random_parameters(spec, 11);
  const Dataset d = random_dataset(spec, c.batch, 12);
  CpuBackend cpu(spec, 1);
  ReferenceBackend reference(spec);
  cpu.set_parameters(p);
  reference.set_parameters(p);
  std::vector<double> fast(c.batch * spec.outputs()), exact(fast.size());
  cpu.predict(d.x.data(), c.batch, fast.data());
  reference.predict(d.x.data(), c.batch, exact.data());
  EXPECT_LE(relative_difference(fast.data(), exact.data(), fast.size()), 1e-5);
  EXPECT_LE(relative_difference(std::vector<double>{cpu.mean_squared_error(d)}.data(),
                                std::vector<double>{reference.mean_squared_error(d)}.data(), 1),
            1e-5);
}

// Catches a wrong gradient in any layer (Δ·Aᵀ, Wᵀ·Δ, σ', the 2/B factor, the bias row sums).
TEST_P(CpuVsReference, GradientsAgreeLayerByLayer) {
  const Case c = GetParam();
  const NetworkSpec spec{c.widths, c.bias};
  const Parameters p = random_parameters(spec, 21);
  const Dataset d = random_dataset(spec, c.batch, 22);
  CpuBackend cpu(spec, 1);
  ReferenceBackend reference(spec);
  cpu.set_parameters(p);
  reference.set_parameters(p);
  const Batch batch{d.x.data(), d.y.data(), d.size};
  Parameters fast, exact;
  const double fast_loss = cpu.loss_and_gradients(batch, fast);
  const double exact_loss = reference.loss_and_gradients(batch, exact);
  EXPECT_LE(std::abs(fast_loss - exact_loss) / exact_loss, 1e-5);
  for (int l = 1; l <= spec.num_layers(); ++l) {
    const size_t offset = spec.weight_offset(l), n = spec.weight_offset(l + 1) - offset;
    EXPECT_LE(relative_difference(fast.values.data() + offset, exact.values.data() + offset, n), 1e-5) << "layer " << l;
  }
}

// Catches drift or a wrong update (lr, sign, a missed layer, a partial batch not averaged over its own
// size: the data size is not a multiple of the batch) over 100 steps of shuffled SGD.
TEST_P(CpuVsReference, HundredStepsOfSgdAgree) {
  const Case c = GetParam();
  const NetworkSpec spec{c.widths, c.bias};
  const Parameters p = random_parameters(spec, 31);
  // 100 steps: 4 epochs of 25 batches, the last of each epoch partial.
  const size_t n = 24 * c.batch + (c.batch + 1) / 2;
  const Dataset d = random_dataset(spec, n, 32);
  TrainConfig config;
  config.epochs = 4;
  config.batch = c.batch;
  config.lr = 0.1 / std::sqrt(double(spec.max_width()));  // wide layers sum many terms: a smaller step stays stable
  config.seed = 33;
  TrainObserver quiet;
  CpuBackend cpu(spec, 1);
  ReferenceBackend reference(spec);
  const TrainResult fast = train(cpu, p, d, Dataset{}, config, quiet);
  const TrainResult exact = train(reference, p, d, Dataset{}, config, quiet);
  ASSERT_EQ(fast.outcome, TrainOutcome::completed);
  for (int l = 1; l <= spec.num_layers(); ++l) {
    const size_t offset = spec.weight_offset(l), count = spec.weight_offset(l + 1) - offset;
    EXPECT_LE(relative_difference(fast.parameters.values.data() + offset, exact.parameters.values.data() + offset, count), 1e-4)
        << "layer " << l;
  }
  // The parameters moved: a backend that ignored the update would pass the comparison trivially otherwise.
  EXPECT_GT(relative_difference(exact.parameters.values.data(), p.values.data(), p.values.size()), 1e-3);
  for (size_t e = 0; e < exact.epochs.size(); ++e)
    EXPECT_LE(std::abs(fast.epochs[e].train_mse - exact.epochs[e].train_mse) / exact.epochs[e].train_mse, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Networks, CpuVsReference,
                         ::testing::Values(Case{{2, 3, 3, 1}, false, 1}, Case{{2, 3, 3, 1}, false, 31},
                                           Case{{2, 3, 3, 1}, true, 256}, Case{{5, 17, 4}, true, 31},
                                           Case{{3, 64, 64, 2}, false, 100}, Case{{8, 1, 8, 3}, true, 7},
                                           Case{{1, 1}, true, 9}, Case{{20, 300, 1}, true, 64}),
                         testing::backend_case_name);

// Catches hidden state or uninitialised memory: the same run twice gives the same bits.
TEST(CpuBackend, SameRunTwiceGivesIdenticalParameters) {
  const NetworkSpec spec{{2, 3, 3, 1}, false};
  const Dataset d = random_dataset(spec, 1000, 5);
  TrainConfig config;
  config.epochs = 3;
  config.batch = 17;
  config.lr = 0.3;
  TrainObserver quiet;
  CpuBackend a(spec, 1), b(spec, 1);
  const TrainResult first = train(a, glorot_uniform(spec, 9), d, Dataset{}, config, quiet);
  const TrainResult second = train(b, glorot_uniform(spec, 9), d, Dataset{}, config, quiet);
  EXPECT_EQ(first.parameters.values, second.parameters.values);
  config.seed = 2;  // and the seed matters: another order gives another model
  CpuBackend c(spec, 1);
  const TrainResult third = train(c, glorot_uniform(spec, 9), d, Dataset{}, config, quiet);
  EXPECT_NE(first.parameters.values, third.parameters.values);
}

// Catches buffers sized for the first batch only: a larger batch after a smaller one must still agree.
TEST(CpuBackend, GrowingBatchesReuseNothingStale) {
  const NetworkSpec spec{{4, 9, 2}, true};
  const Parameters p = random_parameters(spec, 3);
  CpuBackend cpu(spec, 1);
  ReferenceBackend reference(spec);
  cpu.set_parameters(p);
  reference.set_parameters(p);
  for (size_t n : {3u, 50u, 7u, 129u}) {
    const Dataset d = random_dataset(spec, n, n);
    Parameters fast, exact;
    cpu.loss_and_gradients({d.x.data(), d.y.data(), n}, fast);
    reference.loss_and_gradients({d.x.data(), d.y.data(), n}, exact);
    EXPECT_LE(relative_difference(fast.values.data(), exact.values.data(), fast.values.size()), 1e-5) << n;
  }
}

}  // namespace
}  // namespace sigtrain
