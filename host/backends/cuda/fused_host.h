// The fused small-network training (kernels/fused_step.h) on the host: the shape of a network's
// workspace and its policies, and the host twin of a cluster, which runs the very code of the CUDA
// kernel phase by phase. The twin is what the CPU tests check against the fp64 reference; it is not a
// fast path. Plain C++: built with or without CUDA.
#pragma once

#include <string>
#include <vector>

#include "fused_step.h"
#include "fused_tiled.h"
#include "fused_warp.h"
#include "backends/host_backend.h"

namespace sigtrain {

// The workspace layout of `spec` for the fused kernel, or false (and why) when the network is too
// large for it: more than kFusedMaxLayers layers, a width above kFusedMaxWidth, or a workspace that
// does not fit in kFusedMaxWorkspaceBytes even with passes of 32 samples.
bool make_fused_shape(const NetworkSpec& spec, FusedShape& shape, std::string* why_not = nullptr);

// The policies of `spec` and `setup`, as fused_train_steps takes them (with_fused_policies).
FusedPolicies fused_policies(const NetworkSpec& spec, const TrainingSetup& setup);

// The steps an epoch is cut into for one launch of the fused kernel (the trainer and the replica runner
// use the same cut, so a replica and a single run launch the same steps).
size_t fused_steps_per_launch(size_t batch);

// The host twin as a backend, for the tests: every step runs what the GPU runs for the batch — the
// shape-specialised kernel's fused_block_steps with a HostBlock of W warps where fused_block_warps
// gives W > 0, else the tiled kernel's fused_tiled_steps where fused_tiled_blocks gives K > 0, else
// fused_train_steps — with a HostCluster of as many blocks as the GPU would use for the batch, each
// with its own copy of θ and of the optimizer state, as on the GPU.
class FusedHostBackend : public HostBackend {
 public:
  explicit FusedHostBackend(const NetworkSpec& spec, const TrainingSetup& setup = {});
  std::string name() const override { return "fused-host"; }
  void set_parameters(const Parameters& p) override;
  Parameters parameters() const override;
  void set_optimizer_state(const OptimizerState& state) override;
  OptimizerState optimizer_state() const override;
  void begin_epoch(const EpochOrder& order) override;
  double epoch_loss_sum() override { return fused_loss_sum(loss_slots_.data()); }
  void train_step(size_t first, size_t count, double lr) override { train_steps(first, first + count, count, lr); }
  void train_steps(size_t first, size_t end, size_t batch, double lr) override;
  size_t steps_per_call(size_t batch) const override { return fused_steps_per_launch(batch); }
  void predict_logits(const float* x, size_t count, double* z) override;
  double loss_and_gradients(const Batch& batch, Parameters& grad) override;
  // The warps per network (1 … 8) with which steps of `batch` samples run the shape-specialised
  // kernel's code (fused_warp.h), as on the GPU; 0 where they run the runtime-shaped kernel's.
  int warps_per_network(size_t batch) const;
  // The blocks per network with which steps of `batch` samples run the tiled kernel's code
  // (fused_tiled.h), as on the GPU; 0 where they do not.
  int tiled_blocks_per_network(size_t batch) const;

 private:
  // The group of `blocks` host blocks, each with its own workspace of `floats` floats (0: the
  // runtime-shaped kernel's, shape_.ws_floats).
  HostCluster cluster(int blocks, int floats = 0);
  // The buffers of a call with batches of `batch` (the other blocks' copies of the state sized for it).
  FusedNetwork network(size_t batch, double* loss_slots);
  // fused_train_steps with the run's policies, as a cluster of as many blocks as the GPU takes for `batch`.
  void run_steps(const FusedNetwork& net, const float* X, const float* Y, const EpochShuffle& order, size_t first,
                 size_t end, size_t batch, double lr, float* grads);

  FusedShape shape_;
  FusedPolicies policies_;
  std::vector<std::vector<double>> workspaces_;  // doubles, so that the per-thread loss terms are aligned
  std::vector<float*> workspace_pointers_;
  std::vector<float> params_;
  std::vector<float> optimizer_state_;  // block 0's copy (kSlots × P)
  std::vector<float> block_states_;     // the other blocks' copies
  std::vector<float> partials_;         // the shape-specialised kernel's exchange between its warps
  uint64_t steps_ = 0;
  std::vector<double> loss_slots_ = std::vector<double>(kFusedLossSlots);  // this epoch's, as on the GPU
};

}  // namespace sigtrain
