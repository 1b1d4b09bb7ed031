// The fused small-network training (kernels/fused_step.h), run on the host by its twin: the same code
// the CUDA kernel runs, phase by phase, against the fp64 reference, with every policy (activation,
// head, optimizer) on one block and on a cluster of several.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "backend_test_util.h"
#include "backends/cuda/fused_host.h"
#include "backends/reference/reference_backend.h"
#include "model/choices.h"
#include "train/trainer.h"

namespace sigtrain {
namespace {

using testing::random_dataset;
using testing::random_parameters;
using Case = testing::BackendCase;

class FusedVsReference : public ::testing::TestWithParam<Case> {};

// Catches a wrong phase of the fused step (forward to the logits, the head's output delta, warp sums
// of dW and db, Wᵀ·Δ ⊙ f', passes over a batch larger than the block, the bias entries) or a policy the
// step instantiates wrongly: one step's output, loss and gradients.
TEST_P(FusedVsReference, OneStepLossAndGradients) {
  FusedHostBackend fused(testing::case_spec(GetParam()), testing::case_setup(GetParam()));
  testing::expect_agreement(testing::one_step_agreement(fused, GetParam(), 71), testing::kOneStepTolerance, false);
}

// Catches a gradient step that changes θ or the optimizer: loss_and_gradients leaves θ as loaded, and
// the optimizer's state and step count as set, on the runtime-shaped kernel (3-7-2, 50 samples), on
// the warp kernel (2-3-3-1, 20 samples) and on a block of 4 warps (2-3-3-1, 100 samples: no warp,
// warp 0 or another, writes the network back).
TEST(FusedHost, LossAndGradientsLeaveTheParametersAndTheOptimizer) {
  for (const auto& [spec, samples] : {std::pair{NetworkSpec{{3, 7, 2}, true}, size_t(50)},
                                      std::pair{NetworkSpec{{2, 3, 3, 1}, true}, size_t(20)},
                                      std::pair{NetworkSpec{{2, 3, 3, 1}, true}, size_t(100)}}) {
    const Parameters p = random_parameters(spec, 72);
    const Dataset d = random_dataset(spec, samples, 73);
    TrainingSetup adam;
    adam.optimizer.kind = OptimizerKind::adam;
    OptimizerState state;
    state.steps = 7;
    for (size_t k = 0; k < 2 * p.values.size(); ++k) state.values.push_back(0.25 + 0.5 * double(k % 3));  // v ≥ 0
    FusedHostBackend fused(spec, adam);
    fused.set_parameters(p);
    fused.set_optimizer_state(state);
    Parameters grad;
    fused.loss_and_gradients({d.x.data(), d.y.data(), d.size}, grad);
    Parameters in_fp32 = p;
    for (double& v : in_fp32.values) v = double(float(v));
    EXPECT_EQ(fused.parameters().values, in_fp32.values) << spec.to_string();
    EXPECT_EQ(fused.optimizer_state().values, state.values) << spec.to_string();
    EXPECT_EQ(fused.optimizer_state().steps, 7u) << spec.to_string();
  }
}

// Catches drift or a wrong update over 100 steps run in few calls (many steps per launch), with a
// partial last batch each epoch, in the same order as the reference and at a schedule's learning
// rates: the parameters, every epoch's loss, and the optimizer's state and step count (each block of a
// cluster updating its own copy of the state, block 0's read back).
TEST_P(FusedVsReference, HundredStepsInFewLaunches) {
  FusedHostBackend fused(testing::case_spec(GetParam()), testing::case_setup(GetParam()));
  testing::expect_agreement(testing::hundred_steps_agreement(fused, GetParam(), 81),
                            testing::kHundredStepsTolerance, true);
}

// The notes' policies on networks and batches that exercise every part of the step, then every
// policy (policy_cases) on one block (B 31), on several layers with a bias (B 77), and on a cluster of
// three blocks (B 700), where each block keeps its own copy of the optimizer state.
std::vector<Case> fused_cases() {
  std::vector<Case> cases = {Case{{1, 1}, true, 1}, Case{{2, 3, 3, 1}, false, 1}, Case{{2, 3, 3, 1}, false, 256},
                             Case{{2, 5, 5, 1}, true, 300}, Case{{3, 17, 4}, true, 31},
                             Case{{5, 64, 64, 3}, false, 100}, Case{{4, 64, 1}, true, 513},
                             Case{{2, 8, 8, 8, 2}, true, 77}, Case{{64, 33, 64}, false, 40},
                             // batches over one block: 3 and 8 blocks per network
                             Case{{3, 17, 4}, true, 700}, Case{{3, 3, 3, 1}, false, 4096}};
  for (const Case& c : {Case{{3, 17, 4}, true, 31}, Case{{2, 8, 8, 8, 2}, true, 77}, Case{{3, 17, 4}, true, 700}})
    for (const Case& p : testing::policy_cases(c)) cases.push_back(p);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Networks, FusedVsReference, ::testing::ValuesIn(fused_cases()), testing::backend_case_name);

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

// Trains two twins of `spec` from the same start, run a each epoch in one launch, run b in other cuts
// (see the tests below), and expects the same bits.
void expect_same_bits_whatever_the_launch_cut(const NetworkSpec& spec, const std::vector<size_t>& batches) {
  Dataset d = random_dataset(spec, 2000, 91);
  // Targets from 1e-3 to 1e3: loss terms over many binades, whose sum in double depends on its order
  // (a loss summed per launch and then over launches would differ from one summed step by step).
  for (size_t s = 0; s < d.size; ++s) d.y[s] *= std::pow(10.0f, float(int(s % 7) - 3));
  const Parameters p = random_parameters(spec, 92);
  TrainingSetup adam;
  adam.optimizer.kind = OptimizerKind::adam;
  adam.optimizer.weight_decay = 0.01;
  for (const TrainingSetup& setup : {TrainingSetup{}, adam})
    for (size_t batch : batches) {
      const std::string what = name_of(setup.optimizer.kind) + " batch " + std::to_string(batch);
      FusedHostBackend a(spec, setup), b(spec, setup);
      for (FusedHostBackend* x : {&a, &b}) {
        x->set_parameters(p);
        x->set_training_data(d);
      }
      for (uint64_t epoch = 0; epoch < 2; ++epoch) {
        for (FusedHostBackend* x : {&a, &b}) x->begin_epoch({true, 5 + epoch});
        a.train_steps(0, 2000, batch, 0.1);
        const size_t per_launch = epoch == 0 ? batch : 2 * batch;
        for (size_t first = 0; first < 2000; first += per_launch) {
          const size_t end = std::min<size_t>(first + per_launch, 2000);
          if (epoch == 0)
            b.train_step(first, end - first, 0.1);
          else
            b.train_steps(first, end, batch, 0.1);
        }
        EXPECT_EQ(a.parameters().values, b.parameters().values) << what;
        EXPECT_EQ(a.epoch_loss_sum(), b.epoch_loss_sum()) << what;
        EXPECT_EQ(a.optimizer_state().values, b.optimizer_state().values) << what;
        EXPECT_EQ(a.optimizer_state().steps, b.optimizer_state().steps) << what;
      }
      EXPECT_EQ(a.optimizer_state().steps, 2 * ((2000 + batch - 1) / batch)) << what;
    }
}

// Catches a fused run whose result (parameters, epoch loss, optimizer state and step count) depends on
// how its steps are cut into launches, with one block per network and with several (batch 600: three
// blocks, the last step's batch smaller). Run a takes each epoch in one launch; run b takes the first
// epoch step by step (its last step alone runs on one block, so the other blocks' copies of the
// optimizer state miss it) and the second in launches of two steps (where those copies, if not taken
// afresh from block 0's, would update the blocks' θ wrongly). Plain SGD (the notes') and Adam with
// weight decay (two slots of state, bias corrections that follow t).
TEST(FusedHost, SameBitsWhateverTheLaunchCut) {
  expect_same_bits_whatever_the_launch_cut(NetworkSpec{{2, 5, 1}, true}, {64, 600});
}

// The same on the shape-specialised kernel (fused_warp.h): one warp (batch 24, the last step 8
// samples), a block of 3 warps (batch 96, the last step 80: the third warp empty), of 8 (batch 256,
// the last step 208) and a cluster of 3 blocks (batch 600, the last step 200). Catches a lane's
// optimizer state, θ, loss slot or t not stored at a launch's end or not loaded at the next one's
// start, a warp other than 0 writing the network back, or an exchange whose buffer parity carries
// over from one launch to the next.
TEST(FusedHost, WarpPathSameBitsWhateverTheLaunchCut) {
  const NetworkSpec notes{{2, 3, 3, 1}, true};
  FusedHostBackend twin(notes);
  ASSERT_EQ(twin.warps_per_network(24), 1);
  ASSERT_EQ(twin.warps_per_network(96), 3);
  ASSERT_EQ(twin.warps_per_network(256), 8);
  ASSERT_EQ(twin.warps_per_network(600), 24);
  expect_same_bits_whatever_the_launch_cut(notes, {24, 96, 256, 600});
}

// Trains `spec` with Adam (weight decay 0.01) at `batch` for two epochs in one twin, and for one epoch
// in a second twin whose parameters and optimizer state (m, v and t) a third, fresh twin takes for the
// second epoch, as a resumed run does (--resume, --init from a model with its optimizer); expects the
// third to end with the first's bits. A fresh twin's other blocks have no state of their own yet:
// each launch must give every block of a cluster block 0's state, the one set_optimizer_state wrote.
void expect_resume_gives_the_same_bits(const NetworkSpec& spec, size_t batch) {
  const Dataset d = random_dataset(spec, 2000, 93);
  TrainingSetup adam;
  adam.optimizer.kind = OptimizerKind::adam;
  adam.optimizer.weight_decay = 0.01;
  FusedHostBackend straight(spec, adam), first_half(spec, adam), resumed(spec, adam);
  for (FusedHostBackend* x : {&straight, &first_half, &resumed}) {
    x->set_parameters(random_parameters(spec, 94));
    x->set_training_data(d);
  }
  for (uint64_t epoch = 0; epoch < 2; ++epoch) {
    straight.begin_epoch({true, 7 + epoch});
    straight.train_steps(0, d.size, batch, 0.01);
  }
  first_half.begin_epoch({true, 7});
  first_half.train_steps(0, d.size, batch, 0.01);
  resumed.set_parameters(first_half.parameters());
  resumed.set_optimizer_state(first_half.optimizer_state());
  resumed.begin_epoch({true, 8});
  resumed.train_steps(0, d.size, batch, 0.01);
  const std::string what = spec.to_string() + " batch " + std::to_string(batch);
  EXPECT_EQ(resumed.parameters().values, straight.parameters().values) << what;
  EXPECT_EQ(resumed.optimizer_state().values, straight.optimizer_state().values) << what;
  EXPECT_EQ(resumed.optimizer_state().steps, straight.optimizer_state().steps) << what;
}

// Catches an optimizer state that reaches block 0 only, on every path of the fused kernel: the
// runtime-shaped kernel on a cluster of 3 blocks (2-5-1, batch 600), the tiled kernel on 4 (2-16-16-1,
// batch 100), the shape-specialised kernel on a block and on a cluster of warps (2-3-3-1, batch 100
// and 600), whose lanes load their entries' state at each launch.
TEST(FusedHost, ResumedOptimizerStateReachesEveryBlock) {
  ASSERT_EQ(FusedHostBackend(NetworkSpec{{2, 16, 16, 1}, true}).tiled_blocks_per_network(100), 4);
  expect_resume_gives_the_same_bits(NetworkSpec{{2, 5, 1}, true}, 600);
  expect_resume_gives_the_same_bits(NetworkSpec{{2, 16, 16, 1}, true}, 100);
  expect_resume_gives_the_same_bits(NetworkSpec{{2, 3, 3, 1}, true}, 100);
  expect_resume_gives_the_same_bits(NetworkSpec{{2, 3, 3, 1}, true}, 600);
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
