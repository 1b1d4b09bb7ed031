// The fused small-network training (kernels/fused_step.h) on the host: the shape of a network's
// workspace, and the host twin of one block, which runs the very code of the CUDA kernel phase by
// phase. The twin is what the CPU tests check against the fp64 reference; it is not a fast path.
#pragma once

#include <string>
#include <vector>

#include "fused_step.h"
#include "backends/host_backend.h"

namespace sigtrain {

// The workspace layout of `spec` for the fused kernel, or false (and why) when the network is too
// large for it: more than kFusedMaxLayers layers, a width above kFusedMaxWidth, or a workspace that
// does not fit in kFusedMaxWorkspaceBytes even with passes of 32 samples.
bool make_fused_shape(const NetworkSpec& spec, FusedShape& shape, std::string* why_not = nullptr);

// The steps an epoch is cut into for one launch of the fused kernel (the trainer and the replica runner
// use the same cut, so a replica and a single run launch the same steps).
size_t fused_steps_per_launch(size_t batch);

// The host twin as a backend, for the tests: every step runs fused_train_steps with a HostCluster of
// as many blocks as the GPU would use for the batch.
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

 private:
  // The group of `blocks` host blocks, each with its own workspace.
  HostCluster cluster(int blocks);

  NetworkSpec spec_;
  FusedShape shape_;
  std::vector<std::vector<double>> workspaces_;  // doubles, so that the per-thread loss terms are aligned
  std::vector<float*> workspace_pointers_;
  std::vector<float> params_;
  uint64_t optimizer_steps_ = 0;
  std::vector<double> loss_slots_ = std::vector<double>(kFusedLossSlots);  // this epoch's, as on the GPU
};

}  // namespace sigtrain
