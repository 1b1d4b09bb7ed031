// The tiled kernel (kernels/fused_tiled.h: compile-time widths 16, 32 and 64, a cluster of K = ⌈B/32⌉ blocks
// of 32 samples each, every layer's products cut into tiles over the block's threads), run on the
// host by its twin (HostCluster: the very code of the CUDA kernel, block by block and thread by
// thread) against the fp64 reference; and on the GPU where one is usable.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "backend_test_util.h"
#include "backends/cuda/fused_host.h"
#include "fused_tiled.h"

namespace sigtrain {
namespace {

using Case = testing::BackendCase;

// A twin that must take the tiled path, with ⌈B/32⌉ blocks, for its case: a case that silently fell
// back to the runtime-shaped kernel would test that kernel instead.
std::unique_ptr<FusedHostBackend> tiled_twin(const Case& c) {
  auto twin = std::make_unique<FusedHostBackend>(testing::case_spec(c), testing::case_setup(c));
  EXPECT_EQ(twin->tiled_blocks_per_network(c.batch), int((c.batch + kTiledRows - 1) / kTiledRows))
      << testing::backend_case_text(c);
  return twin;
}

class TiledVsReference : public ::testing::TestWithParam<Case> {};

// Catches a wrong tile of any phase — a tile's samples or units placed at the wrong offset (widths 32
// and 64 and the narrow input and output layers, whose tiles are 2 and 1 units wide), the forward's
// bias or activation, the head's Δ_L scaled by 1/B with the rows past the batch's end left out (B 1,
// 7, 33, 100: most rows of the last block empty), the backward's f', a gradient tile or a bias tile
// (with and without biases) — or the blocks' sum of dθ (K = 1 … 8): one step's loss and every layer's
// gradient (the gradient-only mode) within the one-step tolerance of the reference.
TEST_P(TiledVsReference, OneStepLossAndGradients) {
  testing::expect_agreement(testing::one_step_agreement(*tiled_twin(GetParam()), GetParam(), 171),
                            testing::kOneStepTolerance, false);
}

// Catches a wrong update or drift over 100 steps in few calls: every block's own copy of θ and of the
// optimizer state kept alike, t across steps and launches, block 0 writing back, the loss slots of
// every block, a partial last batch each epoch: parameters, every epoch's loss and the optimizer's
// state within the 100-step tolerance.
TEST_P(TiledVsReference, HundredStepsInFewLaunches) {
  testing::expect_agreement(testing::hundred_steps_agreement(*tiled_twin(GetParam()), GetParam(), 181),
                            testing::kHundredStepsTolerance, true);
}

// The compiled shapes with the notes' policies: 2-64-64-1 (the case) with and without biases
// at B 1, 33, 256 (1, 2 and 8 blocks); 2-32-32-1 at batches that leave the last block part-empty
// (7, 100, 200) and full (32); 2-16-16-1 (64 tiles of 2 samples × 4 units: three quarters of the
// threads idle in the forward and backward phases) at 50 and 256; three hidden layers (the 4-layer
// limit: a middle layer whose tiles read and write hidden rows on both sides) of 32 at 64 and of 64
// at 200. Then every optimizer (each keeps its state in every block's copy) on 2-64-64-1 with biases
// at B 100 and on 2-16-16-1 without at B 33.
std::vector<Case> tiled_cases() {
  std::vector<Case> cases;
  for (bool bias : {false, true})
    for (size_t batch : {1u, 33u, 256u}) cases.push_back(Case{{2, 64, 64, 1}, bias, batch});
  for (const Case& c : {Case{{2, 32, 32, 1}, true, 7}, Case{{2, 32, 32, 1}, false, 100},
                        Case{{2, 32, 32, 1}, false, 200}, Case{{2, 32, 32, 1}, true, 32},
                        Case{{2, 16, 16, 1}, true, 50}, Case{{2, 16, 16, 1}, false, 256},
                        Case{{2, 32, 32, 32, 1}, true, 64}, Case{{2, 64, 64, 64, 1}, false, 200}})
    cases.push_back(c);
  for (const Case& c : {Case{{2, 64, 64, 1}, true, 100}, Case{{2, 16, 16, 1}, false, 33}})
    for (const Case& o : testing::optimizer_cases(c)) cases.push_back(o);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, TiledVsReference, ::testing::ValuesIn(tiled_cases()), testing::backend_case_name);

// Catches the wrong path being taken or the wrong block count: the tiled kernel for the compiled
// shapes with the notes' units and loss and any optimizer at B ≤ 256 with ⌈B/32⌉ blocks; not for B 0
// or 257, other units or losses, shapes without an instance, nor the narrow shapes the
// shape-specialised kernel takes.
TEST(FusedTiledPath, TakenForCompiledShapesAndOptimizersAndBatchesUpTo256) {
  const NetworkSpec wide{{2, 64, 64, 1}, true};
  FusedHostBackend twin(wide);
  EXPECT_EQ(twin.tiled_blocks_per_network(0), 0);
  EXPECT_EQ(twin.tiled_blocks_per_network(1), 1);
  EXPECT_EQ(twin.tiled_blocks_per_network(32), 1);
  EXPECT_EQ(twin.tiled_blocks_per_network(33), 2);
  EXPECT_EQ(twin.tiled_blocks_per_network(256), 8);
  EXPECT_EQ(twin.tiled_blocks_per_network(257), 0);
  EXPECT_EQ(twin.warps_per_network(256), 0);
  TrainingSetup adam;
  adam.optimizer.kind = OptimizerKind::adam;
  EXPECT_EQ(FusedHostBackend(wide, adam).tiled_blocks_per_network(64), 2);
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{2, 16, 16, 1}, false}, adam).tiled_blocks_per_network(256), 8);
  TrainingSetup bce;
  bce.loss = Loss::bce;
  NetworkSpec sigmoid_output = wide;
  sigmoid_output.output = Activation::sigmoid;
  EXPECT_EQ(FusedHostBackend(sigmoid_output, bce).tiled_blocks_per_network(64), 0);
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{2, 48, 48, 1}, true}).tiled_blocks_per_network(64), 0);
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{2, 64, 1}, true}).tiled_blocks_per_network(64), 0);  // one hidden layer: none
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{3, 64, 64, 1}, true}).tiled_blocks_per_network(64), 0);
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{2, 3, 3, 1}, true}).tiled_blocks_per_network(64), 0);  // the warp kernel's
  NetworkSpec tanh{{2, 32, 32, 1}, true};
  tanh.hidden = Activation::tanh;
  EXPECT_EQ(FusedHostBackend(tanh).tiled_blocks_per_network(64), 0);
}

// Runs every unit of the gradient phase of Layout on a workspace whose Δ and a are all 1 (an entry
// sums 32 ones), each unit alone, and counts the entries it writes: each must be written once.
template <class Layout>
void expect_gradient_tiles_cover_every_entry_once() {
  std::vector<float> ws(TiledWorkspace<Layout>::floats, 1.0f);
  constexpr int units = tiled_gradient_units<Layout>();
  float* grads = ws.data() + TiledWorkspace<Layout>::grads;
  std::vector<int> writes(Layout::kParams, 0);
  for (int u = 0; u < units; ++u) {
    std::fill(grads, grads + Layout::kParams, 0.0f);
    tiled_gradient_unit<Layout>(ws.data(), u);
    for (int e = 0; e < Layout::kParams; ++e)
      if (grads[e] != 0.0f) {
        EXPECT_EQ(grads[e], float(kTiledRows)) << "unit " << u << ", entry " << e;
        ++writes[size_t(e)];
      }
  }
  for (int e = 0; e < Layout::kParams; ++e) EXPECT_EQ(writes[size_t(e)], 1) << "entry " << e;
}

// Catches a tile plan that leaves entries out or computes one twice: every layer's gradient tiles
// cover its n_l × n_{l-1} weights and (with biases) n_l biases exactly once, and the units of the
// gradient phase are their sum; for two and three hidden layers.
TEST(FusedTiledPath, GradientTilesCoverEveryEntryOnce) {
  using Layout = StaticLayout<StaticShape<2, 64, 64, 1>, true>;
  expect_gradient_tiles_cover_every_entry_once<Layout>();
  EXPECT_EQ(tiled_gradient_units<Layout>(), 16 * 1 + 16 + 16 * 16 + 16 + 1 * 16 + 1);  // dW_1, db_1, dW_2, …
  expect_gradient_tiles_cover_every_entry_once<StaticLayout<StaticShape<2, 32, 32, 32, 1>, true>>();
}

#ifdef SIGTRAIN_HAVE_CUDA
// The same cases on the GPU (--kernel fused takes the tiled kernel there by the same rule, checked on
// the twin), skipped where no device is usable. Catches a device-only fault the twin cannot show: a
// missing barrier between phases (the twin runs each phase to its end), a cluster barrier or a
// distributed-shared-memory read in the wrong place, the workspace's size or alignment on the device.
class TiledOnGpuVsReference : public ::testing::TestWithParam<Case> {
 protected:
  std::unique_ptr<Backend> gpu() {
    tiled_twin(GetParam());  // expects the twin (and so the launcher) to take ⌈B/32⌉ blocks
    BackendOptions options;
    options.kernel = "fused";
    return make_backend("cuda", testing::case_spec(GetParam()), testing::case_setup(GetParam()), options);
  }
};

TEST_P(TiledOnGpuVsReference, OneStepLossAndGradients) {
  SKIP_WITHOUT_CUDA();
  testing::expect_agreement(testing::one_step_agreement(*gpu(), GetParam(), 171), testing::kOneStepTolerance, false);
}

TEST_P(TiledOnGpuVsReference, HundredStepsInFewLaunches) {
  SKIP_WITHOUT_CUDA();
  testing::expect_agreement(testing::hundred_steps_agreement(*gpu(), GetParam(), 181),
                            testing::kHundredStepsTolerance, true);
}

INSTANTIATE_TEST_SUITE_P(Shapes, TiledOnGpuVsReference, ::testing::ValuesIn(tiled_cases()), testing::backend_case_name);
#endif

}  // namespace
}  // namespace sigtrain
