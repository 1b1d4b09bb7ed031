// The shape-specialised kernel (kernels/fused_warp.h: compile-time widths, W warps per network: the
// warp kernel for B ≤ 32, a block of up to 8 warps for B ≤ 256, a cluster of up to 8 blocks of 8
// warps beyond, each lane taking several samples a step beyond 2,048), run on the host by its
// twin (HostBlock of HostWarps: the very code of the CUDA kernel, warp by warp and lane by lane, the
// shuffles permuting lanes as the hardware does) against the fp64 reference; and on the GPU where one
// is usable.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "backend_test_util.h"
#include "backends/cuda/fused_host.h"
#include "fused_warp.h"
#include "train/replicas.h"
#include "train/trainer.h"

namespace sigtrain {
namespace {

using Case = testing::BackendCase;

// The warps the shape-specialised kernel must give a case's network: ⌈B/32⌉ up to B = 256, else 8 per
// block of 256 samples, at most 8 blocks (written here apart from fused_block_warps, which it checks).
int expected_warps(const Case& c) {
  if (c.batch <= 256) return int((c.batch + kFusedWarp - 1) / kFusedWarp);
  return 8 * int(std::min<size_t>((c.batch + 255) / 256, 8));
}

// A twin that must take the shape-specialised path, with expected_warps warps, for its case: a case
// that silently fell back to another kernel would test that kernel instead.
std::unique_ptr<FusedHostBackend> warp_twin(const Case& c) {
  auto twin = std::make_unique<FusedHostBackend>(testing::case_spec(c), testing::case_setup(c));
  EXPECT_EQ(twin->warps_per_network(c.batch), expected_warps(c)) << testing::backend_case_text(c);
  return twin;
}

class WarpVsReference : public ::testing::TestWithParam<Case> {};

// Catches a wrong part of the warp step — the forward and backward of a lane's sample through the
// compile-time layout (offsets of W_l and b_l), Δ_L scaled by 1/B with the lanes past the batch's end
// left out (B 1, 7: most lanes empty), the reduce-scatter's ownership of the entries (which lane
// holds which sums) — or a policy instantiated wrongly: one step's loss and every layer's gradient
// (the gradient-only mode) within the one-step tolerance of the reference.
TEST_P(WarpVsReference, OneStepLossAndGradients) {
  testing::expect_agreement(testing::one_step_agreement(*warp_twin(GetParam()), GetParam(), 171),
                            testing::kOneStepTolerance, false);
}

// Catches a wrong update or drift over 100 steps run in few calls: the optimizer's step on each
// lane's own entries, the all-gather that gives every lane the new θ, the optimizer state and t kept
// across steps and launches, the next step's samples loaded ahead (a partial last batch each epoch),
// the loss slots: parameters, every epoch's loss and the optimizer's state within the 100-step
// tolerance.
TEST_P(WarpVsReference, HundredStepsInFewLaunches) {
  testing::expect_agreement(testing::hundred_steps_agreement(*warp_twin(GetParam()), GetParam(), 181),
                            testing::kHundredStepsTolerance, true);
}

// The notes' network with and without biases at B 1, 7 and 32 (one lane, a few, the whole warp),
// every policy on it (every optimizer), and the other compiled shapes with the notes' policies
// (P from 12 to 88: one to three entries per lane after the reduce-scatter).
std::vector<Case> warp_cases() {
  std::vector<Case> cases;
  for (bool bias : {false, true})
    for (size_t batch : {1u, 7u, 32u}) cases.push_back(Case{{2, 3, 3, 1}, bias, batch});
  for (const Case& c : {Case{{2, 3, 3, 1}, false, 32}, Case{{2, 3, 3, 1}, true, 7}})
    for (const Case& p : testing::policy_cases(c)) cases.push_back(p);
  for (const Case& c : {Case{{2, 4, 1}, true, 16}, Case{{2, 8, 1}, false, 32}, Case{{2, 4, 4, 1}, true, 5},
                        Case{{2, 4, 8, 1}, false, 32}, Case{{2, 8, 4, 1}, true, 32}, Case{{2, 8, 8, 1}, false, 32},
                        Case{{2, 8, 8, 1}, false, 3}, Case{{2, 16, 1}, true, 32}, Case{{2, 16, 1}, false, 9},
                        Case{{2, 4, 4, 4, 1}, true, 20}})
    cases.push_back(c);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, WarpVsReference, ::testing::ValuesIn(warp_cases()), testing::backend_case_name);

// A block of W = ⌈B/32⌉ warps per network (32 < B ≤ 256): the notes' network with and without
// biases at B 33 (a second warp with one sample), 100 (4 warps, the last with 4 samples) and 256 (8
// full warps), every policy (every optimizer) at B 256 with biases and at B 100 without; the
// hundred-step runs end each epoch with a partial batch ((B + 1)/2 samples: at B 256, warps 4 … 7
// empty; at B 33, the second warp empty). Then the largest compiled θ (2-8-8-1, P̄ = 96: 3 entries per
// lane, the exchange's rows 96 floats apart), a 2-warp 2-4-8-1 and a 5-warp 2-4-4-4-1 (4 layers).
std::vector<Case> block_cases() {
  std::vector<Case> cases;
  for (bool bias : {false, true})
    for (size_t batch : {33u, 100u, 256u}) cases.push_back(Case{{2, 3, 3, 1}, bias, batch});
  for (const Case& c : {Case{{2, 3, 3, 1}, true, 256}, Case{{2, 3, 3, 1}, false, 100}})
    for (const Case& p : testing::policy_cases(c)) cases.push_back(p);
  for (const Case& c : {Case{{2, 8, 8, 1}, false, 256}, Case{{2, 4, 8, 1}, true, 64}, Case{{2, 4, 4, 4, 1}, false, 150}})
    cases.push_back(c);
  return cases;
}

class BlockVsReference : public ::testing::TestWithParam<Case> {};

// Catches a wrong part of the block step — a warp taking another warp's samples or loss slots, a
// lane past B contributing, the exchange of the warps' sums (a warp's row written or read at the
// wrong place, a warp left out or added twice, the double buffer's parity), warps whose copies of θ
// or of the optimizer state drift apart, or warp 0 not the one writing back: one step's loss and
// gradients (the gradient-only mode, written by warp 0 after the exchange) within the one-step
// tolerance.
TEST_P(BlockVsReference, OneStepLossAndGradients) {
  testing::expect_agreement(testing::one_step_agreement(*warp_twin(GetParam()), GetParam(), 171),
                            testing::kOneStepTolerance, false);
}

// The same over 100 steps in few launches (25 steps a launch, both buffers of the exchange in turn,
// a partial last batch each epoch): parameters, every epoch's loss and the optimizer's state within the
// 100-step tolerance.
TEST_P(BlockVsReference, HundredStepsInFewLaunches) {
  testing::expect_agreement(testing::hundred_steps_agreement(*warp_twin(GetParam()), GetParam(), 181),
                            testing::kHundredStepsTolerance, true);
}

INSTANTIATE_TEST_SUITE_P(Shapes, BlockVsReference, ::testing::ValuesIn(block_cases()), testing::backend_case_name);

// A cluster of K blocks of 8 warps per network (B > 256): the notes' network with and without biases
// at B 257 (a second block with one sample), 1000 (4 blocks, the last partly empty), 2048 (8 full
// blocks), 2049 (8 blocks, every lane two samples a step, one lane's second real) and 4096 (two full
// samples a lane); every policy at B 3000 with biases (a partial second sample) and at B 600 without
// (3 blocks); the largest compiled θ (2-8-8-1, P̄ = 96) at B 1500 and a 2-4-8-1 with biases at 700.
// The hundred-step runs end each epoch with a partial batch ((B + 1)/2: at B 4096 one sample a lane).
std::vector<Case> cluster_cases() {
  std::vector<Case> cases;
  for (bool bias : {false, true})
    for (size_t batch : {257u, 1000u, 2048u, 2049u, 4096u}) cases.push_back(Case{{2, 3, 3, 1}, bias, batch});
  for (const Case& c : {Case{{2, 3, 3, 1}, true, 3000}, Case{{2, 3, 3, 1}, false, 600}})
    for (const Case& p : testing::policy_cases(c)) cases.push_back(p);
  for (const Case& c : {Case{{2, 8, 8, 1}, false, 1500}, Case{{2, 4, 8, 1}, true, 700}}) cases.push_back(c);
  return cases;
}

// The block's tests on clusters. They catch, beside what they catch on a block, a block taking
// another block's samples (the warp's place in the cluster), a lane's second sample of a step left
// out, added twice or taken from the wrong position, the next sample loaded for the wrong pass or
// step, a block's sums read from the wrong block or buffer, loss slots beyond the first block's.
INSTANTIATE_TEST_SUITE_P(Clusters, BlockVsReference, ::testing::ValuesIn(cluster_cases()), testing::backend_case_name);

// Catches the wrong path being taken, or the wrong count of warps: the shape-specialised kernel for
// the compiled shapes and policies at every batch, with ⌈B/32⌉ warps up to B 256 (1 at B 32, 2 at B
// 33, 8 at B 256) and clusters of 8 warps a block beyond (16 at B 257, 64 from B 1793 on), another
// kernel (0 warps) for shapes without an instance, for policies not compiled for the shape (the other
// shapes have only the notes' policies), and for 2-8-8-1 with biases.
TEST(FusedWarpPath, TakenForCompiledShapesAtEveryBatch) {
  const NetworkSpec notes{{2, 3, 3, 1}, false};
  FusedHostBackend twin(notes);
  EXPECT_EQ(twin.warps_per_network(0), 0);
  EXPECT_EQ(twin.warps_per_network(1), 1);
  EXPECT_EQ(twin.warps_per_network(32), 1);
  EXPECT_EQ(twin.warps_per_network(33), 2);
  EXPECT_EQ(twin.warps_per_network(100), 4);
  EXPECT_EQ(twin.warps_per_network(256), 8);
  EXPECT_EQ(twin.warps_per_network(257), 16);
  EXPECT_EQ(twin.warps_per_network(512), 16);
  EXPECT_EQ(twin.warps_per_network(513), 24);
  EXPECT_EQ(twin.warps_per_network(1792), 56);
  EXPECT_EQ(twin.warps_per_network(1793), 64);
  EXPECT_EQ(twin.warps_per_network(4096), 64);
  EXPECT_EQ(twin.warps_per_network(1000000), 64);
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{2, 3, 3, 1}, true}).warps_per_network(8), 1);
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{2, 3, 3, 1}, true}).warps_per_network(256), 8);
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{2, 5, 1}, false}).warps_per_network(8), 0);
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{2, 5, 1}, false}).warps_per_network(256), 0);
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{2, 5, 1}, false}).warps_per_network(4096), 0);
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{3, 3, 3, 1}, false}).warps_per_network(8), 0);
  TrainingSetup adam;
  adam.optimizer.kind = OptimizerKind::adam;
  EXPECT_EQ(FusedHostBackend(notes, adam).warps_per_network(8), 1);
  EXPECT_EQ(FusedHostBackend(notes, adam).warps_per_network(200), 7);
  EXPECT_EQ(FusedHostBackend(notes, adam).warps_per_network(3000), 64);
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{2, 8, 8, 1}, false}).warps_per_network(8), 1);
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{2, 8, 8, 1}, false}, adam).warps_per_network(8), 0);
  EXPECT_EQ(FusedHostBackend(NetworkSpec{{2, 8, 8, 1}, true}).warps_per_network(64), 0);  // no spill-free instance
  NetworkSpec tanh{{2, 4, 1}, false};
  tanh.hidden = Activation::tanh;
  EXPECT_EQ(FusedHostBackend(tanh).warps_per_network(8), 0);
}

// Catches a reduce-scatter or all-gather that mixes up which lane owns which entries, or loses or
// doubles a lane's contribution: on integers (exact in float, so any order gives the same sums), lane
// k must end with Σ over lanes of entries k·m … k·m + m − 1, and after the all-gather every lane with
// the whole array in order.
TEST(FusedWarpCollectives, ReduceScatterThenAllGather) {
  constexpr int N = 4 * kFusedWarp, m = N / kFusedWarp;
  const HostWarp warp;
  HostWarp::Lanes<WarpArray<N>> v;
  for (int k = 0; k < kFusedWarp; ++k)
    for (int e = 0; e < N; ++e) v.lane[k].v[e] = float(1 + (k * 37 + e * 11) % 53);
  std::vector<float> sums(N, 0.0f);
  for (int k = 0; k < kFusedWarp; ++k)
    for (int e = 0; e < N; ++e) sums[e] += v.lane[k].v[e];
  warp_reduce_scatter<kFusedWarp / 2, N / 2, HostWarp, N>(warp, v);
  for (int k = 0; k < kFusedWarp; ++k)
    for (int i = 0; i < m; ++i) EXPECT_EQ(v.lane[k].v[i], sums[k * m + i]) << "lane " << k << " entry " << i;
  warp_all_gather<1, m, HostWarp, N>(warp, v);
  for (int k = 0; k < kFusedWarp; ++k)
    for (int e = 0; e < N; ++e) EXPECT_EQ(v.lane[k].v[e], sums[e]) << "lane " << k << " entry " << e;
}

#ifdef SIGTRAIN_HAVE_CUDA
// The same cases on the GPU (--kernel fused takes the shape-specialised kernel there by the same rule,
// checked on the twin), skipped where no device is usable. Catches a device-only fault the twin
// cannot show: a shuffle whose lanes are not all present, a lane reading another lane's registers, a
// missing or misplaced barrier or shared-memory buffer between a block's warps (the twin runs each
// phase to its end before the next), a kernel not launched for the case or with the wrong block size.
class WarpOnGpuVsReference : public ::testing::TestWithParam<Case> {
 protected:
  std::unique_ptr<Backend> gpu() {
    warp_twin(GetParam());  // expects the twin (and so the launcher) to take ⌈B/32⌉ warps
    BackendOptions options;
    options.kernel = "fused";
    return make_backend("cuda", testing::case_spec(GetParam()), testing::case_setup(GetParam()), options);
  }
};

TEST_P(WarpOnGpuVsReference, OneStepLossAndGradients) {
  SKIP_WITHOUT_CUDA();
  testing::expect_agreement(testing::one_step_agreement(*gpu(), GetParam(), 171), testing::kOneStepTolerance, false);
}

TEST_P(WarpOnGpuVsReference, HundredStepsInFewLaunches) {
  SKIP_WITHOUT_CUDA();
  testing::expect_agreement(testing::hundred_steps_agreement(*gpu(), GetParam(), 181),
                            testing::kHundredStepsTolerance, true);
}

INSTANTIATE_TEST_SUITE_P(Shapes, WarpOnGpuVsReference, ::testing::ValuesIn(warp_cases()), testing::backend_case_name);
INSTANTIATE_TEST_SUITE_P(BlockShapes, WarpOnGpuVsReference, ::testing::ValuesIn(block_cases()),
                         testing::backend_case_name);
INSTANTIATE_TEST_SUITE_P(ClusterShapes, WarpOnGpuVsReference, ::testing::ValuesIn(cluster_cases()),
                         testing::backend_case_name);

// Trains 6 networks of the notes' network (with biases, Adam: per-network optimizer state and
// learning rate) in one launch per call at `batch`, and expects each replica to equal, bit for bit,
// the single fused run with its settings.
void expect_replicas_equal_single_runs(size_t batch) {
  const NetworkSpec spec{{2, 3, 3, 1}, true};
  TrainingSetup adam;
  adam.optimizer.kind = OptimizerKind::adam;
  ASSERT_EQ(FusedHostBackend(spec, adam).warps_per_network(batch), expected_warps(Case{{2, 3, 3, 1}, true, batch}));
  const Dataset train = testing::random_dataset(spec, 1000, 69), validation = testing::random_dataset(spec, 200, 70);
  ReplicaRun run;
  run.backend = "cuda";
  run.options.kernel = "fused";
  run.setup = adam;
  run.config.epochs = 3;
  run.config.batch = batch;
  run.config.lr = 0.01;
  run.initial = [&](const NetworkSettings& s) { return glorot_uniform(spec, s.seed); };
  const std::vector<NetworkSettings> settings = expand_sweeps({"lr=0.01,0.003", "seed=1-3"}, 1, 0, 0);
  const std::vector<ReplicaResult> results = train_replicas(run, settings, train, validation);
  ASSERT_EQ(results.size(), 6u);
  for (size_t r = 0; r < results.size(); ++r) {
    TrainConfig single = run.config;
    single.seed = settings[r].seed;
    single.lr = settings[r].lr;
    TrainObserver quiet;
    BackendOptions fused;
    fused.kernel = "fused";
    auto gpu = make_backend("cuda", spec, adam, fused);
    const TrainResult alone =
        sigtrain::train(*gpu, glorot_uniform(spec, settings[r].seed), train, validation, single, quiet);
    EXPECT_EQ(results[r].result.parameters.values, alone.parameters.values) << "replica " << r;
    EXPECT_EQ(results[r].result.optimizer_state.values, alone.optimizer_state.values) << "replica " << r;
    EXPECT_EQ(results[r].validation_loss, alone.epochs.back().validation_loss) << "replica " << r;
  }
}

// Catches a warp that trains another network's buffers, or networks that share state, in one launch
// of several warp-networks (batch 16; 6 networks: a full block of 4 warps and a block with 2 warps idle).
TEST(WarpOnGpu, ReplicasEqualSingleRuns) {
  SKIP_WITHOUT_CUDA();
  expect_replicas_equal_single_runs(16);
}

// The same with a block of 4 warps per network (batch 100; 6 blocks): catches a block indexing
// another network's buffers or loss slots, or warps of different networks meeting in one exchange.
TEST(WarpOnGpu, BlockReplicasEqualSingleRuns) {
  SKIP_WITHOUT_CUDA();
  expect_replicas_equal_single_runs(100);
}

// The same with clusters of 3 blocks per network (batch 600; 6 clusters): catches a cluster indexing
// another network's buffers, or the blocks of a cluster taken from different networks.
TEST(WarpOnGpu, ClusterReplicasEqualSingleRuns) {
  SKIP_WITHOUT_CUDA();
  expect_replicas_equal_single_runs(600);
}
#endif

}  // namespace
}  // namespace sigtrain
