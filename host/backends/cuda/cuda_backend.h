// The cuda backend's entry points (the classes live in kernels/*.cu). This header needs no CUDA
// headers: host code includes it only where the build has CUDA (SIGTRAIN_HAVE_CUDA).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "train/network_group.h"
#include "fused_step.h"

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace sigtrain {

// True when a CUDA device can be used; otherwise why not, in one line.
bool cuda_device_usable(std::string* why_not);
// The cuBLAS path (kernels/cuda_backend.cu) or the fused kernel (kernels/fused_kernel.cu), chosen by
// options.kernel.
std::unique_ptr<Backend> make_cuda_backend(const NetworkSpec& spec, const TrainingSetup& setup,
                                           const BackendOptions& options);
std::unique_ptr<Backend> make_fused_cuda_backend(const NetworkSpec& spec, const TrainingSetup& setup);

// Many networks of one shape (every width ≤ 64) trained by the fused kernel in one launch, one block
// each, over the same resident training set; each with its own order and learning rate. Network r
// computes exactly what a single fused run with its settings computes.
class FusedNetworks : public NetworkGroup {
 public:
  FusedNetworks(const NetworkSpec& spec, const TrainingSetup& setup, size_t count);
  ~FusedNetworks() override;
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
  void epoch_loss_sums(double* sums) override;  // Σ (ŷ − y)² per network since begin_epoch
  bool loss_is_cheap_to_read() const override { return false; }
  Evaluation evaluate(size_t r, const Dataset& d) override;
  void predict_logits(size_t r, const float* x, size_t count, double* z);
  double loss_and_gradients(size_t r, const Batch& batch, Parameters& grad);

 private:
  void ensure_batch_buffers(size_t samples);

  NetworkSpec spec_;
  TrainingSetup setup_;
  size_t count_;
  std::vector<uint64_t> optimizer_steps_;
  FusedShape shape_;
  CUstream_st* stream_ = nullptr;
  float* params_ = nullptr;  // count × P
  float* lrs_ = nullptr;
  double* losses_ = nullptr;      // count: each network's epoch loss, summed from its slots when read
  double* loss_slots_ = nullptr;  // count × kFusedLossSlots (fused_step.h)
  std::vector<float> current_lrs_;
  size_t train_size_ = 0;
  float *X_ = nullptr, *Y_ = nullptr;
  uint32_t* orders_ = nullptr;  // count × N
  size_t batch_capacity_ = 0;
  float *batch_x_ = nullptr, *batch_y_ = nullptr, *grads_ = nullptr, *out_ = nullptr;
};

}  // namespace sigtrain
