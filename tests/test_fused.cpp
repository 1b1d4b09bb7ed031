// The fused small-network training (kernels/fused_step.h), run on the host by its twin: the same code
// the CUDA kernel runs, phase by phase, against the fp64 reference.
#include <gtest/gtest.h>

#include <cmath>

#include "backend_test_util.h"
#include "backends/cuda/fused_host.h"
#include "backends/reference/reference_backend.h"
#include "train/trainer.h"

namespace sigtrain {
namespace {

using testing::random_dataset;
using testing::random_parameters;
using Case = testing::BackendCase;

class FusedVsReference : public ::testing::TestWithParam<Case> {};

// Catches a wrong phase of the fused step (forward, output delta, warp sums of dW and db, Wᵀ·Δ ⊙ σ',
// passes over a batch larger than the block, the bias entries): one step's output, loss and gradients.
TEST_P(FusedVsReference, OneStepLossAndGradients) {
  FusedHostBackend fused(NetworkSpec{GetParam().widths, GetParam().bias});
  testing::expect_agreement(testing::one_step_agreement(fused, GetParam(), 71), 1e-5, false);
}

// Catches a gradient step that changes θ: with learning rate 0, loss_and_gradients leaves θ as loaded.
TEST(FusedHost, LossAndGradientsLeaveTheParameters) {
  const NetworkSpec spec{{3, 7, 2}, true};
  const Parameters p = random_parameters(spec, 72);
  const Dataset d = random_dataset(spec, 50, 73);
  FusedHostBackend fused(spec);
  fused.set_parameters(p);
  Parameters grad;
  fused.loss_and_gradients({d.x.data(), d.y.data(), d.size}, grad);
  Parameters in_fp32 = p;
  for (double& v : in_fp32.values) v = double(float(v));
  EXPECT_EQ(fused.parameters().values, in_fp32.values);
}

// Catches drift or a wrong update over 100 steps run in few calls (many steps per launch), with a
// partial last batch each epoch, in the same order as the reference.
TEST_P(FusedVsReference, HundredStepsInFewLaunches) {
  FusedHostBackend fused(NetworkSpec{GetParam().widths, GetParam().bias});
  testing::expect_agreement(testing::hundred_steps_agreement(fused, GetParam(), 81), 1e-4, true);
}

INSTANTIATE_TEST_SUITE_P(Networks, FusedVsReference,
                         ::testing::Values(Case{{1, 1}, true, 1}, Case{{2, 3, 3, 1}, false, 1},
                                           Case{{2, 3, 3, 1}, false, 256}, Case{{2, 3, 3, 1}, true, 300},
                                           Case{{3, 17, 4}, true, 31}, Case{{5, 64, 64, 3}, false, 100},
                                           Case{{4, 64, 1}, true, 513}, Case{{2, 8, 8, 8, 2}, true, 77},
                                           Case{{64, 33, 64}, false, 40},
                                           // batches over one block: 3 and 8 blocks per network
                                           Case{{3, 17, 4}, true, 700}, Case{{2, 3, 3, 1}, false, 4096}),
                         testing::backend_case_name);

// Catches networks the fused kernel cannot hold being accepted (they must fall back to cuBLAS).
TEST(FusedShape, RejectsWhatDoesNotFit) {
  FusedShape shape;
  std::string why;
  EXPECT_TRUE(make_fused_shape(NetworkSpec{{2, 3, 3, 1}, false}, shape, &why));
  EXPECT_EQ(shape.chunk, kFusedThreads);
  EXPECT_FALSE(make_fused_shape(NetworkSpec{{2, 65, 1}, false}, shape, &why));
  EXPECT_NE(why.find("64"), std::string::npos);
  EXPECT_FALSE(make_fused_shape(NetworkSpec{{2, 3, 3, 3, 3, 1}, false}, shape, &why));
  EXPECT_TRUE(make_fused_shape(NetworkSpec{{64, 64, 64, 64, 64}, true}, shape, &why)) << why;
  EXPECT_LE(size_t(shape.ws_floats) * 4, kFusedMaxWorkspaceBytes);
}

// Catches a fused run whose result (parameters and epoch loss) depends on how its steps are cut into
// launches, with one block per network and with several (batch 600: three blocks, the last step's
// batch smaller).
TEST(FusedHost, SameBitsWhateverTheLaunchCut) {
  const NetworkSpec spec{{2, 5, 1}, true};
  Dataset d = random_dataset(spec, 2000, 91);
  // Targets from 1e-3 to 1e3: loss terms over many binades, whose sum in double depends on its order
  // (a loss summed per launch and then over launches would differ from one summed step by step).
  for (size_t s = 0; s < d.size; ++s) d.y[s] *= std::pow(10.0f, float(int(s % 7) - 3));
  const Parameters p = random_parameters(spec, 92);
  for (size_t batch : {64u, 600u}) {
    FusedHostBackend a(spec), b(spec);
    for (FusedHostBackend* x : {&a, &b}) {
      x->set_parameters(p);
      x->set_training_data(d);
      x->begin_epoch({true, 5});
    }
    a.train_steps(0, 2000, batch, 0.1);
    for (size_t first = 0; first < 2000; first += batch) b.train_step(first, std::min<size_t>(batch, 2000 - first), 0.1);
    EXPECT_EQ(a.parameters().values, b.parameters().values) << batch;
    EXPECT_EQ(a.epoch_loss_sum(), b.epoch_loss_sum()) << batch;
  }
}

// Catches a wrong count of blocks per network: one per pass of a block's samples, at most eight.
TEST(FusedShape, BlocksPerNetworkFollowTheBatch) {
  EXPECT_EQ(fused_blocks_per_network(1, 256), 1);
  EXPECT_EQ(fused_blocks_per_network(256, 256), 1);
  EXPECT_EQ(fused_blocks_per_network(257, 256), 2);
  EXPECT_EQ(fused_blocks_per_network(4096, 256), kFusedMaxBlocksPerNetwork);
  EXPECT_EQ(fused_blocks_per_network(100, 32), 4);
}

}  // namespace
}  // namespace sigtrain
