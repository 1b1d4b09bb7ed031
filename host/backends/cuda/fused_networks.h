// The fused kernel (kernels/fused_step.h, launched by kernels/fused_kernel.h) from the host: many
// networks of one shape trained in each launch (FusedNetworks, the replicas' group), and one network
// behind the Backend interface (FusedCudaBackend, --kernel fused).
#pragma once

#include <cuda_runtime_api.h>

#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/device_buffer.h"
#include "evaluate_terms.h"
#include "fused_step.h"
#include "train/network_group.h"

namespace sigtrain {

// Many networks of one shape (every width ≤ 64) trained by the fused kernel in one launch, a cluster
// of blocks each, over the same resident training set; each with its own order, learning rate and
// optimizer state. Network r computes exactly what a single fused run with its settings computes.
class FusedNetworks : public NetworkGroup {
 public:
  FusedNetworks(const NetworkSpec& spec, const TrainingSetup& setup, size_t count);
  FusedNetworks(const FusedNetworks&) = delete;
  FusedNetworks& operator=(const FusedNetworks&) = delete;

  size_t size() const override { return count_; }
  void set_parameters(size_t r, const Parameters& p) override;
  Parameters parameters(size_t r) const override;
  void set_optimizer_state(size_t r, const OptimizerState& state) override;
  OptimizerState optimizer_state(size_t r) const override;
  void set_training_data(const Dataset& train) override;
  void begin_epoch(const std::vector<EpochOrder>& orders) override;  // zeroes the loss sums
  void set_learning_rates(const std::vector<double>& lrs) override;
  // Steps of `batch` over positions [first, end) of each network's order, all networks in one launch.
  void train_steps(size_t first, size_t end, size_t batch) override;
  size_t steps_per_call(size_t batch) const override;
  void epoch_loss_sums(double* sums) override;  // Σ ℓ(z, y) per network since begin_epoch
  bool loss_is_cheap_to_read() const override { return false; }
  Evaluation evaluate(size_t r, const Dataset& d) override;
  // Every network at once: d resident on the device (kept for the next call with the same set), one
  // launch (kernels/evaluate_kernel.h), one copy back. Sums in a fixed order (bit-identical run to
  // run) that is not the host path's: within rounding of evaluate(r, d), not bit for bit.
  void evaluate_all(const Dataset& d, Evaluation* out) override;
  void snapshot(std::vector<Parameters>& parameters, std::vector<OptimizerState>& states) const override;
  void predict_logits(size_t r, const float* x, size_t count, double* z);
  double loss_and_gradients(size_t r, const Batch& batch, Parameters& grad);

 private:
  void ensure_batch_buffers(size_t samples);
  // Room for the other blocks' copies of the optimizer state of `networks` networks at `batch`.
  void ensure_block_states(size_t networks, size_t batch);
  size_t state_floats() const { return size_t(optimizer_slots(policies_.optimizer.kind)) * size_t(shape_.params); }

  NetworkSpec spec_;
  TrainingSetup setup_;
  FusedPolicies policies_;
  size_t count_;
  FusedShape shape_;
  DeviceBuffer<float> params_;            // count × P
  DeviceBuffer<float> optimizer_states_;  // count × kSlots × P: block 0's copies (fused_step.h)
  DeviceBuffer<float> block_states_;      // count × (K − 1) × kSlots × P: the other blocks' copies
  DeviceBuffer<uint64_t> steps_;          // count: each network's t
  DeviceBuffer<float> lrs_;
  DeviceBuffer<double> losses_;      // count: each network's epoch loss, summed from its slots when read
  DeviceBuffer<double> loss_slots_;  // count × kFusedLossSlots
  std::vector<float> current_lrs_;
  size_t train_size_ = 0;
  DeviceBuffer<float> X_, Y_;
  DeviceBuffer<EpochShuffle> shuffles_;  // count: each network's epoch order (math/epoch_shuffle.h)
  // Prediction and loss_and_gradients: a batch on the device, its outputs, a gradient, loss slots.
  size_t batch_capacity_ = 0;
  DeviceBuffer<float> batch_x_, batch_y_, out_, grads_;
  DeviceBuffer<EpochShuffle> batch_order_;  // one: the batch's own order
  DeviceBuffer<double> scratch_loss_slots_;
  // evaluate_all: the data set it last made resident, told apart by its arrays' addresses and its size
  // (so it must not change in place between calls, as the trainer's validation set does not), each
  // network's sums, CUB's scratch.
  void make_resident(const Dataset& d);
  const float* resident_x_source_ = nullptr;
  const float* resident_y_source_ = nullptr;
  size_t resident_size_ = 0;
  DeviceBuffer<float> resident_x_, resident_y_;
  DeviceBuffer<EvaluationTerms> evaluation_sums_;
  DeviceBuffer<unsigned char> evaluation_scratch_;
  // Last, so that it is destroyed first: it waits for the work queued on it, which uses the buffers above.
  CudaStream stream_;
};

// One network behind the Backend interface: a FusedNetworks of one.
class FusedCudaBackend : public Backend {
 public:
  FusedCudaBackend(const NetworkSpec& spec, const TrainingSetup& setup);
  std::string name() const override { return "cuda"; }
  std::string description() const override;
  void set_parameters(const Parameters& p) override { networks_.set_parameters(0, p); }
  Parameters parameters() const override { return networks_.parameters(0); }
  void set_optimizer_state(const OptimizerState& state) override { networks_.set_optimizer_state(0, state); }
  OptimizerState optimizer_state() const override { return networks_.optimizer_state(0); }
  void set_training_data(const Dataset& train) override { networks_.set_training_data(train); }
  void begin_epoch(const EpochOrder& order) override { networks_.begin_epoch({order}); }
  void train_step(size_t first, size_t count, double lr) override { train_steps(first, first + count, count, lr); }
  void train_steps(size_t first, size_t end, size_t batch, double lr) override;
  size_t steps_per_call(size_t batch) const override { return networks_.steps_per_call(batch); }
  double epoch_loss_sum() override;
  bool loss_is_cheap_to_read() const override { return false; }
  void predict_logits(const float* x, size_t count, double* z) override { networks_.predict_logits(0, x, count, z); }
  double loss_and_gradients(const Batch& batch, Parameters& grad) override {
    return networks_.loss_and_gradients(0, batch, grad);
  }

 private:
  FusedNetworks networks_;
};

}  // namespace sigtrain
