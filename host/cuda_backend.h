// The cuda backend's entry points (the classes live in kernels/*.cu). This header needs no CUDA
// headers: host code includes it only where the build has CUDA (SIGTRAIN_HAVE_CUDA).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "fused_step.h"

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace sigtrain {

// True when a CUDA device can be used; otherwise why not, in one line.
bool cuda_device_usable(std::string* why_not);
// The cuBLAS path (kernels/cuda_backend.cu) or the fused kernel (kernels/fused_kernel.cu), chosen by
// options.kernel.
std::unique_ptr<Backend> make_cuda_backend(const NetworkSpec& spec, const BackendOptions& options);
std::unique_ptr<Backend> make_fused_cuda_backend(const NetworkSpec& spec);

// Many networks of one shape (every width ≤ 64) trained by the fused kernel in one launch, one block
// each, over the same resident training set; each with its own order and learning rate. Network r
// computes exactly what a single fused run with its settings computes.
class FusedNetworks {
 public:
  FusedNetworks(const NetworkSpec& spec, size_t count);
  ~FusedNetworks();
  FusedNetworks(const FusedNetworks&) = delete;
  FusedNetworks& operator=(const FusedNetworks&) = delete;

  size_t count() const { return count_; }
  void set_parameters(size_t r, const Parameters& p);
  Parameters parameters(size_t r) const;
  void set_training_data(const Dataset& train);
  void begin_epoch(const std::vector<EpochOrder>& orders);  // one per network; zeroes the loss sums
  void set_learning_rates(const std::vector<float>& lrs);   // one per network
  // Steps of `batch` over positions [first, end) of each network's order, all networks in one launch.
  void train_steps(size_t first, size_t end, size_t batch);
  std::vector<double> loss_sums() const;  // Σ (ŷ − y)² per network since begin_epoch
  void predict(size_t r, const float* x, size_t count, double* yhat);
  double loss_and_gradients(size_t r, const Batch& batch, Parameters& grad);

 private:
  void ensure_batch_buffers(size_t samples);

  NetworkSpec spec_;
  size_t count_;
  FusedShape shape_;
  CUstream_st* stream_ = nullptr;
  float* params_ = nullptr;  // count × P
  float* lrs_ = nullptr;
  double* losses_ = nullptr;
  std::vector<float> current_lrs_;
  size_t train_size_ = 0;
  float *X_ = nullptr, *Y_ = nullptr;
  uint32_t* orders_ = nullptr;  // count × N
  bool shuffled_ = false;
  size_t batch_capacity_ = 0;
  float *batch_x_ = nullptr, *batch_y_ = nullptr, *grads_ = nullptr, *out_ = nullptr;
};

}  // namespace sigtrain
