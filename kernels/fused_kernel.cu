// The fully fused training kernel for small networks (kernels/fused_step.h on the device): one block
// per network runs many SGD steps with the parameters in shared memory. Many networks (replicas) of
// one shape train in the same launch, one block each, each with its own order and learning rate.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "backends/cuda/cuda_backend.h"
#include "cuda_check.h"
#include "backends/cuda/fused_host.h"
#include "fused_step.h"
#include "sigmoid_kernels.h"

namespace sigtrain {

namespace {

// The cluster of blocks r·K … r·K + K − 1 trains network r: its parameters at params + r·P, its order
// at orders + r·order_stride, its loss slots at loss_slots + r·kFusedLossSlots. Launched with clusters
// of K blocks when K > 1 (launch_train below).
__global__ void __launch_bounds__(kFusedThreads)
    fused_train_kernel(const __grid_constant__ FusedShape s,  // read in place (no local copy: -Xptxas -v)
                       int blocks_per_network, float* params, const float* X, const float* Y, const uint32_t* orders,
                       size_t order_stride, size_t first, size_t end, size_t batch, const float* lrs,
                       double* loss_slots, float* grads) {
  extern __shared__ double workspace[];  // doubles: the per-thread loss terms need 8-byte alignment
  const size_t r = blockIdx.x / unsigned(blocks_per_network);
  fused_train_steps(DeviceCluster{blocks_per_network, reinterpret_cast<float*>(workspace)}, s, params + r * s.params,
                    X, Y, orders ? orders + r * order_stride : nullptr, first, end, batch, lrs[r], loss_slots + r * kFusedLossSlots,
                    grads ? grads + r * s.params : nullptr);
}

// Network r's loss: the sum of its slots in slot order (fused_loss_sum), one thread per network.
__global__ void sum_loss_slots_kernel(const double* loss_slots, size_t networks, double* losses) {
  const size_t r = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r < networks) losses[r] = fused_loss_sum(loss_slots + r * kFusedLossSlots);
}

// Block k predicts samples [k·per_block, …) of X with one network's parameters.
__global__ void __launch_bounds__(kFusedThreads)
    fused_predict_kernel(const __grid_constant__ FusedShape s, const float* params, const float* X, size_t count,
                         size_t per_block, float* out) {
  extern __shared__ double workspace[];
  const size_t first = size_t(blockIdx.x) * per_block;
  const size_t n = std::min(per_block, count - first);
  fused_predict(DeviceCluster{1, reinterpret_cast<float*>(workspace)}, s, params, X, first, n,
                out + first * s.widths[s.layers]);
}

size_t workspace_bytes(const FusedShape& s) { return size_t(s.ws_floats) * sizeof(float); }

// Networks × K blocks, in clusters of K (a cluster's blocks are resident together and reach each
// other's shared memory).
void launch_train(const FusedShape& s, size_t networks, size_t batch, float* params, const float* X, const float* Y,
                  const uint32_t* orders, size_t order_stride, size_t first, size_t end, const float* lrs,
                  double* loss_slots, float* grads, cudaStream_t stream) {
  // No steps, no launch: the kernel's blocks meet at a cluster barrier only between steps and at the end.
  if (end <= first) return;
  const int K = fused_blocks_per_network(batch, s.chunk);
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(unsigned(networks) * unsigned(K));
  config.blockDim = dim3(unsigned(s.threads));
  config.dynamicSmemBytes = size_t(s.ws_floats) * sizeof(float);
  config.stream = stream;
  cudaLaunchAttribute cluster{};
  cluster.id = cudaLaunchAttributeClusterDimension;
  cluster.val.clusterDim.x = unsigned(K);
  cluster.val.clusterDim.y = 1;
  cluster.val.clusterDim.z = 1;
  config.attrs = &cluster;
  config.numAttrs = K > 1 ? 1 : 0;
  CUDA_CHECK(cudaLaunchKernelEx(&config, fused_train_kernel, s, K, params, X, Y, orders, order_stride, first, end,
                                batch, lrs, loss_slots, grads));
}

// Lets the kernels take the largest workspace any shape may have (the attribute is per kernel and per
// process: set to one shape's size, it would refuse a larger shape trained at the same time).
void allow_largest_workspace() {
  static std::once_flag once;
  std::call_once(once, [] {
    const int bytes = int(kFusedMaxWorkspaceBytes);
    CUDA_CHECK(cudaFuncSetAttribute(fused_train_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
    CUDA_CHECK(cudaFuncSetAttribute(fused_predict_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  });
}

template <typename T>
T* device_alloc(size_t count, const char* what) {
  T* p = nullptr;
  const cudaError_t error = cudaMalloc(reinterpret_cast<void**>(&p), std::max<size_t>(count, 1) * sizeof(T));
  if (error == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw CudaError(std::string("out of device memory: asked for ") + std::to_string(count * sizeof(T) >> 20) +
                    " MiB for " + what);
  }
  CUDA_CHECK(error);
  return p;
}

}  // namespace

// ---- Many networks of one shape ---------------------------------------------------------------------

FusedNetworks::FusedNetworks(const NetworkSpec& spec, const TrainingSetup& setup, size_t count)
    : spec_(spec), setup_(setup), count_(count), optimizer_steps_(count) {
  if (setup.optimizer.kind != OptimizerKind::sgd || setup.optimizer.weight_decay != 0.0 ||
      spec.hidden != Activation::sigmoid || spec.output != Activation::linear || setup.loss != Loss::mse)
    throw UsageError("the fused kernel: only the notes' sigmoid, linear output, mse and plain sgd so far");
  std::string why_not;
  if (!make_fused_shape(spec, shape_, &why_not)) throw UsageError("--kernel fused: " + why_not);
  allow_largest_workspace();
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  params_ = device_alloc<float>(count * shape_.params, "the parameters");
  lrs_ = device_alloc<float>(count, "the learning rates");
  losses_ = device_alloc<double>(count, "the losses");
  loss_slots_ = device_alloc<double>(count * kFusedLossSlots, "the loss slots");
  CUDA_CHECK(cudaMemsetAsync(loss_slots_, 0, count * kFusedLossSlots * sizeof(double), stream_));
}

FusedNetworks::~FusedNetworks() {
  if (stream_) cudaStreamSynchronize(stream_);
  for (void* p : {static_cast<void*>(params_), static_cast<void*>(lrs_), static_cast<void*>(losses_),
                  static_cast<void*>(loss_slots_),
                  static_cast<void*>(X_), static_cast<void*>(Y_), static_cast<void*>(orders_), static_cast<void*>(batch_x_),
                  static_cast<void*>(batch_y_), static_cast<void*>(grads_), static_cast<void*>(out_)})
    if (p) cudaFree(p);
  if (stream_) cudaStreamDestroy(stream_);
}

void FusedNetworks::set_parameters(size_t r, const Parameters& p) {
  p.check_spec(spec_);
  const std::vector<float> values = p.to_float();
  CUDA_CHECK(cudaMemcpyAsync(params_ + r * shape_.params, values.data(), values.size() * sizeof(float),
                             cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

Parameters FusedNetworks::parameters(size_t r) const {
  std::vector<float> values(shape_.params);
  CUDA_CHECK(cudaMemcpyAsync(values.data(), params_ + r * shape_.params, values.size() * sizeof(float),
                             cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  return Parameters::from_float(spec_, values.data());
}

void FusedNetworks::set_optimizer_state(size_t r, const OptimizerState& state) {
  check_optimizer_state(state, setup_.optimizer.kind, size_t(shape_.params));
  optimizer_steps_[r] = state.steps;
}

OptimizerState FusedNetworks::optimizer_state(size_t r) const {
  OptimizerState state;
  state.steps = optimizer_steps_[r];
  return state;
}

void FusedNetworks::set_training_data(const Dataset& train) {
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  for (void* p : {static_cast<void*>(X_), static_cast<void*>(Y_), static_cast<void*>(orders_)})
    if (p) cudaFree(p);
  train_size_ = train.size;
  // The fused kernel keeps the data and every network's order on the device; it does not stream.
  const size_t needed = (train.x.size() + train.y.size()) * sizeof(float) + count_ * train.size * sizeof(uint32_t);
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (needed > free_bytes / 10 * 8)
    throw CudaError("the training data and epoch orders need " + std::to_string(needed >> 20) + " MiB of the " +
                    std::to_string(free_bytes >> 20) + " MiB free on the device, and the fused kernel does not "
                    "stream: use --kernel cublas, which streams data sets larger than device memory");
  X_ = device_alloc<float>(train.x.size(), "the training inputs");
  Y_ = device_alloc<float>(train.y.size(), "the training targets");
  orders_ = device_alloc<uint32_t>(count_ * train.size, "the epoch orders");
  CUDA_CHECK(cudaMemcpyAsync(X_, train.x.data(), train.x.size() * sizeof(float), cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaMemcpyAsync(Y_, train.y.data(), train.y.size() * sizeof(float), cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void FusedNetworks::begin_epoch(const std::vector<EpochOrder>& orders) {
  // Each network's permutation is the one a single run with its seed makes (kernels::epoch_orders).
  std::vector<uint8_t> shuffled(count_);
  std::vector<uint64_t> seeds(count_);
  for (size_t r = 0; r < count_; ++r) {
    shuffled[r] = orders[r].shuffle;
    seeds[r] = orders[r].seed;
  }
  kernels::epoch_orders(orders_, train_size_, count_, shuffled.data(), seeds.data(), stream_);
  CUDA_CHECK(cudaMemsetAsync(loss_slots_, 0, count_ * kFusedLossSlots * sizeof(double), stream_));
}

void FusedNetworks::set_learning_rates(const std::vector<double>& lrs) {
  const std::vector<float> in_fp32(lrs.begin(), lrs.end());
  if (in_fp32 == current_lrs_) return;
  current_lrs_ = in_fp32;
  CUDA_CHECK(cudaMemcpyAsync(lrs_, current_lrs_.data(), count_ * sizeof(float), cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void FusedNetworks::train_steps(size_t first, size_t end, size_t batch) {
  for (uint64_t& steps : optimizer_steps_) steps += (end - first + batch - 1) / batch;
  launch_train(shape_, count_, batch, params_, X_, Y_, orders_, train_size_, first, end, lrs_, loss_slots_, nullptr, stream_);
}

size_t FusedNetworks::steps_per_call(size_t batch) const { return fused_steps_per_launch(batch); }

Evaluation FusedNetworks::evaluate(size_t r, const Dataset& d) {
  return sigtrain::evaluate(d, spec_, setup_.loss, [&](const float* x, size_t n, double* z) { predict_logits(r, x, n, z); });
}

void FusedNetworks::epoch_loss_sums(double* sums) {
  sum_loss_slots_kernel<<<unsigned((count_ + 127) / 128), 128, 0, stream_>>>(loss_slots_, count_, losses_);
  CUDA_CHECK_LAUNCH();
  CUDA_CHECK(cudaMemcpyAsync(sums, losses_, count_ * sizeof(double), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void FusedNetworks::ensure_batch_buffers(size_t samples) {
  if (samples <= batch_capacity_) return;
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  for (void* p : {static_cast<void*>(batch_x_), static_cast<void*>(batch_y_), static_cast<void*>(out_)})
    if (p) cudaFree(p);
  batch_capacity_ = samples;
  batch_x_ = device_alloc<float>(samples * spec_.inputs(), "a batch of inputs");
  batch_y_ = device_alloc<float>(samples * spec_.outputs(), "a batch of targets");
  out_ = device_alloc<float>(samples * spec_.outputs(), "predictions");
  if (!grads_) grads_ = device_alloc<float>(shape_.params, "a gradient");
}

void FusedNetworks::predict_logits(size_t r, const float* x, size_t count, double* yhat) {
  constexpr size_t kChunk = 65536;   // samples copied to the device at a time
  constexpr size_t kPerBlock = 1024;  // samples per block
  ensure_batch_buffers(std::min(count, kChunk));
  const int nL = spec_.outputs();
  std::vector<float> out(std::min(count, kChunk) * nL);
  for (size_t start = 0; start < count; start += kChunk) {
    const size_t n = std::min(kChunk, count - start);
    CUDA_CHECK(cudaMemcpyAsync(batch_x_, x + start * spec_.inputs(), n * spec_.inputs() * sizeof(float),
                               cudaMemcpyHostToDevice, stream_));
    fused_predict_kernel<<<unsigned((n + kPerBlock - 1) / kPerBlock), shape_.threads, workspace_bytes(shape_), stream_>>>(
        shape_, params_ + r * shape_.params, batch_x_, n, kPerBlock, out_);
    CUDA_CHECK_LAUNCH();
    CUDA_CHECK(cudaMemcpyAsync(out.data(), out_, n * nL * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    std::copy(out.begin(), out.begin() + n * nL, yhat + start * nL);
  }
}

double FusedNetworks::loss_and_gradients(size_t r, const Batch& batch, Parameters& grad) {
  // One step with learning rate 0: θ stays, and the kernel reports the step's gradient and loss. It
  // runs on a copy of network r's parameters, in the kernel's slot 0 of scratch buffers.
  ensure_batch_buffers(batch.count);
  CUDA_CHECK(cudaMemcpyAsync(batch_x_, batch.x, batch.count * spec_.inputs() * sizeof(float), cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaMemcpyAsync(batch_y_, batch.y, batch.count * spec_.outputs() * sizeof(float), cudaMemcpyHostToDevice, stream_));
  float* params_copy = device_alloc<float>(shape_.params, "a copy of the parameters");
  float* zero_lr = device_alloc<float>(1, "a learning rate");
  double* slots = device_alloc<double>(kFusedLossSlots, "loss slots");
  CUDA_CHECK(cudaMemcpyAsync(params_copy, params_ + r * shape_.params, shape_.params * sizeof(float), cudaMemcpyDeviceToDevice, stream_));
  CUDA_CHECK(cudaMemsetAsync(zero_lr, 0, sizeof(float), stream_));
  CUDA_CHECK(cudaMemsetAsync(slots, 0, kFusedLossSlots * sizeof(double), stream_));
  launch_train(shape_, 1, batch.count, params_copy, batch_x_, batch_y_, nullptr, 0, 0, batch.count, zero_lr, slots,
               grads_, stream_);
  std::vector<float> values(shape_.params);
  std::vector<double> loss_slots(kFusedLossSlots);
  CUDA_CHECK(cudaMemcpyAsync(values.data(), grads_, values.size() * sizeof(float), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaMemcpyAsync(loss_slots.data(), slots, kFusedLossSlots * sizeof(double), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  cudaFree(params_copy);
  cudaFree(zero_lr);
  cudaFree(slots);
  const double loss_sum = fused_loss_sum(loss_slots.data());
  grad = Parameters::from_float(spec_, values.data());
  return loss_sum / double(batch.count);
}

// ---- One network behind the Backend interface -------------------------------------------------------

namespace {

class FusedCudaBackend : public Backend {
 public:
  FusedCudaBackend(const NetworkSpec& spec, const TrainingSetup& setup) : Backend(spec, setup), networks_(spec, setup, 1) {}
  std::string name() const override { return "cuda"; }
  std::string description() const override {
    int device = 0;
    cudaDeviceProp properties{};
    if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&properties, device) != cudaSuccess)
      properties.name[0] = '\0';
    return std::string("cuda (") + properties.name + ", fp32, fused kernel)";
  }
  void set_parameters(const Parameters& p) override { networks_.set_parameters(0, p); }
  Parameters parameters() const override { return networks_.parameters(0); }
  void set_optimizer_state(const OptimizerState& state) override { networks_.set_optimizer_state(0, state); }
  OptimizerState optimizer_state() const override { return networks_.optimizer_state(0); }
  void set_training_data(const Dataset& train) override { networks_.set_training_data(train); }
  void begin_epoch(const EpochOrder& order) override { networks_.begin_epoch({order}); }
  void train_step(size_t first, size_t count, double lr) override { train_steps(first, first + count, count, lr); }
  void train_steps(size_t first, size_t end, size_t batch, double lr) override {
    networks_.set_learning_rates({lr});
    networks_.train_steps(first, end, batch);
  }
  size_t steps_per_call(size_t batch) const override { return networks_.steps_per_call(batch); }
  double epoch_loss_sum() override {
    double sum = 0.0;
    networks_.epoch_loss_sums(&sum);
    return sum;
  }
  bool loss_is_cheap_to_read() const override { return false; }
  void predict_logits(const float* x, size_t count, double* z) override { networks_.predict_logits(0, x, count, z); }
  double loss_and_gradients(const Batch& batch, Parameters& grad) override {
    return networks_.loss_and_gradients(0, batch, grad);
  }

 private:
  FusedNetworks networks_;
};

}  // namespace

std::unique_ptr<Backend> make_fused_cuda_backend(const NetworkSpec& spec, const TrainingSetup& setup) {
  return std::make_unique<FusedCudaBackend>(spec, setup);
}

}  // namespace sigtrain
