// The cuda backend: one training step of DESIGN.md §1 on the device.
//
//   gather      A_0, Y ← rows order[p … p+B−1] of the resident data set          (one kernel)
//   forward     Z_l = W_l A_{l-1}                                                  (cuBLAS SGEMM)
//               A_l = σ(Z_l + b_l)                     hidden layers               (one fused kernel)
//               Ŷ = Z_L + b_L, Δ_L = (2/B)(Ŷ − Y), Σ(Ŷ − Y)² per block            (one fused kernel)
//   loss        epoch loss += Σ of the block partials, fp64, fixed order            (one block)
//   backward    dW_l = Δ_l A_{l-1}ᵀ                                                (cuBLAS SGEMM)
//               db_l = Δ_l 1                                                       (row sums, fixed order)
//               Δ_{l-1} = (W_lᵀ Δ_l) ⊙ A_{l-1} ⊙ (1 − A_{l-1})                     (SGEMM + fused kernel)
//   update      θ ← θ − lr · dθ over the single flat parameter buffer               (one kernel)
//   advance     p += B                                                             (one thread)
//
// The step reads its position p in the epoch's order from device memory and advances it itself, so
// the whole step is captured once per batch shape as a CUDA graph and replayed; nothing in it waits
// for the host. The epoch's loss stays on the device until the trainer asks for it.
//
// Layouts: activations are column-major n_l × B (ld = n_l); W_l is row-major n_l × n_{l-1} (PyTorch's
// order), which cuBLAS reads as the column-major n_{l-1} × n_l matrix W_lᵀ: every product below is a
// plain SGEMM with transpose flags, never a transposing copy.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "backends/cuda/cuda_backend.h"
#include "cuda_check.h"
#include "backends/cuda/fused_host.h"
#include "sigmoid_kernels.h"

namespace sigtrain {

void throw_cuda_error(const char* file, int line, const char* call, cudaError_t error) {
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " + cudaGetErrorName(error) +
                  " (" + cudaGetErrorString(error) + ")");
}

void throw_cublas_error(const char* file, int line, const char* call, cublasStatus_t status) {
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + call +
                  " failed: " + cublasGetStatusName(status) + " (" + cublasGetStatusString(status) + ")");
}

bool cuda_device_usable(std::string* why_not) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error == cudaSuccess && count > 0) return true;
  cudaGetLastError();  // clear the error of the failed query
  if (why_not) {
    if (error == cudaSuccess || error == cudaErrorNoDevice)
      *why_not = "no CUDA device found";
    else if (error == cudaErrorInsufficientDriver)
      *why_not = "no CUDA device usable: no NVIDIA driver, or one too old for this CUDA runtime";
    else
      *why_not = std::string("no CUDA device usable: ") + cudaGetErrorString(error);
  }
  return false;
}

namespace {

std::string mebibytes(size_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

// Device memory owned by one object; allocation failures name what was being allocated and its size.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept : data_(other.data_), count_(other.count_) {
    other.data_ = nullptr;
    other.count_ = 0;
  }
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);
  }

  void allocate(size_t count, const char* what) {
    if (data_) cudaFree(data_);
    data_ = nullptr;
    count_ = 0;
    if (count == 0) return;
    const cudaError_t error = cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T));
    if (error == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      throw CudaError("out of device memory: asked for " + mebibytes(count * sizeof(T)) + " for " + what + " (" +
                      mebibytes(free_bytes) + " free of " + mebibytes(total_bytes) + ")");
    }
    CUDA_CHECK(error);
    count_ = count;
  }

  T* get() const { return data_; }
  size_t size() const { return count_; }

 private:
  T* data_ = nullptr;
  size_t count_ = 0;
};

// Page-locked host memory, so that copies from it run asynchronously and overlap compute.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (data_) cudaFreeHost(data_);
  }
  void allocate(size_t count) {
    if (data_) cudaFreeHost(data_);
    data_ = nullptr;
    CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&data_), std::max<size_t>(count, 1) * sizeof(float)));
  }
  float* get() const { return data_; }

 private:
  float* data_ = nullptr;
};

class CudaBackend : public Backend {
 public:
  CudaBackend(const NetworkSpec& spec, const TrainingSetup& setup, const BackendOptions& options);
  ~CudaBackend() override;

  std::string name() const override { return "cuda"; }
  std::string description() const override;
  void set_parameters(const Parameters& p) override;
  Parameters parameters() const override;
  void set_optimizer_state(const OptimizerState& state) override {
    check_optimizer_state(state, setup().optimizer.kind, spec_.parameter_count());
    optimizer_steps_ = state.steps;
  }
  OptimizerState optimizer_state() const override {
    OptimizerState state;
    state.steps = optimizer_steps_;
    return state;
  }
  void set_training_data(const Dataset& train) override;
  void begin_epoch(const EpochOrder& order) override;
  void train_step(size_t first, size_t count, double lr) override;
  double epoch_loss_sum() override;
  bool loss_is_cheap_to_read() const override { return false; }
  void predict_logits(const float* x, size_t count, double* z) override;
  double loss_and_gradients(const Batch& batch, Parameters& grad) override;

 private:
  // Where the step's batch comes from: the resident data set with the epoch's order, or one streamed chunk.
  struct DataSource {
    const float* x;
    const float* y;
    const uint32_t* order;  // null: take rows in sequence
    int slot;               // distinguishes captured graphs that read different buffers
  };

  void reserve(size_t batch);
  const float* W(int l) const { return params_.get() + spec_.weight_offset(l); }
  const float* b(int l) const { return spec_.bias ? params_.get() + spec_.bias_offset(l) : nullptr; }
  // The three products of §1 (see the file's header for the layouts).
  void gemm_forward(int l, size_t B, const float* A_in, float* Z);
  void gemm_weight_gradient(int l, size_t B, const float* A_in, const float* delta, float* dW);
  void gemm_input_gradient(int l, size_t B, const float* delta, float* dA_in);

  void enqueue_forward(size_t B, bool training, double* loss_accumulator);
  void enqueue_backward(size_t B);
  void enqueue_step(const DataSource& source, size_t B, float lr);
  void run_step(const DataSource& source, size_t B, float lr);

  // Streaming (data sets larger than the device memory allowed for them).
  void ensure_chunk(size_t first, size_t count);
  void load_chunk(int slot, size_t begin);

  NetworkSpec spec_;
  BackendOptions options_;
  uint64_t optimizer_steps_ = 0;
  cudaStream_t stream_ = nullptr, copy_stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  std::string device_name_;

  DeviceBuffer<float> params_, grads_;  // flat layout of network.h
  DeviceBuffer<char> cublas_workspace_;  // given to cuBLAS so that graph capture never allocates

  // Batch workspace, capacity_ samples wide.
  size_t capacity_ = 0;
  std::vector<DeviceBuffer<float>> A_;  // A_[l]: n_l × capacity; A_[L] holds Ŷ
  DeviceBuffer<float> Y_batch_, delta_, dA_, partials_;

  // Training data and the epoch's state.
  const Dataset* train_ = nullptr;
  bool streaming_ = false;
  DeviceBuffer<float> X_, Y_;            // resident: n0 × N and nL × N
  DeviceBuffer<uint32_t> order_;         // resident: the epoch's order
  DeviceBuffer<unsigned long long> position_;
  DeviceBuffer<double> epoch_loss_, scratch_loss_;
  size_t expected_position_ = 0;         // what *position_ holds after the steps enqueued so far

  // Streaming: two device chunks filled from two pinned staging buffers on copy_stream_.
  struct Chunk {
    size_t begin = 0, end = 0;
    bool valid = false;
    DeviceBuffer<float> x, y;
    PinnedBuffer staging_x, staging_y;
    cudaEvent_t copied = nullptr, consumed = nullptr;
  };
  Chunk chunks_[2];
  int current_chunk_ = 0;
  size_t chunk_rows_ = 0;
  std::vector<uint32_t> host_order_;  // streaming: the order is applied on the host, as chunks are gathered

  std::map<std::tuple<size_t, uint32_t, int>, cudaGraphExec_t> graphs_;  // by (B, lr bits, data slot)
  void clear_graphs();
};

CudaBackend::CudaBackend(const NetworkSpec& spec, const TrainingSetup& setup, const BackendOptions& options)
    : Backend(spec, setup), spec_(spec), options_(options) {
  if (setup.optimizer.kind != OptimizerKind::sgd || setup.optimizer.weight_decay != 0.0 ||
      spec.hidden != Activation::sigmoid || spec.output != Activation::linear || setup.loss != Loss::mse)
    throw UsageError("the cuda backend: only the notes' sigmoid, linear output, mse and plain sgd so far");
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp properties{};
  CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
  device_name_ = properties.name;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
  CUBLAS_CHECK(cublasCreate(&cublas_));
  CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  // FP32 by default: no TF32 tensor-core rounding unless asked for.
  CUBLAS_CHECK(cublasSetMathMode(cublas_, options_.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  constexpr size_t kCublasWorkspaceBytes = 32u << 20;  // cuBLAS's recommendation for Hopper
  cublas_workspace_.allocate(kCublasWorkspaceBytes, "the cuBLAS workspace");
  CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_.get(), kCublasWorkspaceBytes));
  params_.allocate(spec_.parameter_count(), "the parameters");
  grads_.allocate(spec_.parameter_count(), "the gradients");
  position_.allocate(1, "the epoch position");
  epoch_loss_.allocate(1, "the epoch loss");
  scratch_loss_.allocate(1, "a loss");
  for (Chunk& chunk : chunks_) {
    CUDA_CHECK(cudaEventCreateWithFlags(&chunk.copied, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&chunk.consumed, cudaEventDisableTiming));
  }
}

CudaBackend::~CudaBackend() {
  // No throwing here: a destructor may run while an error is already on its way out.
  if (stream_) cudaStreamSynchronize(stream_);
  if (copy_stream_) cudaStreamSynchronize(copy_stream_);
  for (auto& entry : graphs_) cudaGraphExecDestroy(entry.second);
  for (Chunk& chunk : chunks_) {
    if (chunk.copied) cudaEventDestroy(chunk.copied);
    if (chunk.consumed) cudaEventDestroy(chunk.consumed);
  }
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) cudaStreamDestroy(stream_);
  if (copy_stream_) cudaStreamDestroy(copy_stream_);
}

std::string CudaBackend::description() const {
  return "cuda (" + device_name_ + ", " + (options_.tf32 ? "TF32" : "fp32") +
         (options_.cuda_graphs ? ", CUDA graphs" : ", no graphs") + (streaming_ ? ", streaming data" : "") + ")";
}

void CudaBackend::clear_graphs() {
  for (auto& entry : graphs_) cudaGraphExecDestroy(entry.second);
  graphs_.clear();
}

void CudaBackend::set_parameters(const Parameters& p) {
  p.check_spec(spec_);
  const std::vector<float> values = p.to_float();
  CUDA_CHECK(cudaMemcpyAsync(params_.get(), values.data(), values.size() * sizeof(float), cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

Parameters CudaBackend::parameters() const {
  std::vector<float> values(spec_.parameter_count());
  CUDA_CHECK(cudaMemcpyAsync(values.data(), params_.get(), values.size() * sizeof(float), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  return Parameters::from_float(spec_, values.data());
}

void CudaBackend::reserve(size_t batch) {
  if (batch <= capacity_) return;
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  clear_graphs();  // the graphs point at the buffers about to be replaced
  capacity_ = batch;
  A_.resize(spec_.widths.size());
  for (size_t l = 0; l < A_.size(); ++l) A_[l].allocate(size_t(spec_.widths[l]) * capacity_, "the activations");
  Y_batch_.allocate(size_t(spec_.outputs()) * capacity_, "the batch targets");
  delta_.allocate(size_t(spec_.max_width()) * capacity_, "the deltas");
  dA_.allocate(size_t(spec_.max_width()) * capacity_, "the deltas");
  partials_.allocate(size_t(kernels::loss_blocks(spec_.outputs(), capacity_)), "the loss partials");
}

void CudaBackend::gemm_forward(int l, size_t B, const float* A_in, float* Z) {
  // Z (n_out × B) = W_l A_in: W_l is stored as the column-major n_in × n_out matrix W_lᵀ, hence OP_T.
  const int n_in = spec_.widths[l - 1], n_out = spec_.widths[l];
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSgemm(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, n_out, int(B), n_in, &one, W(l), n_in, A_in, n_in, &zero,
                           Z, n_out));
}

void CudaBackend::gemm_weight_gradient(int l, size_t B, const float* A_in, const float* delta, float* dW) {
  // dW_l = Δ_l A_inᵀ (row-major n_out × n_in) is the column-major n_in × n_out matrix A_in Δ_lᵀ.
  const int n_in = spec_.widths[l - 1], n_out = spec_.widths[l];
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSgemm(cublas_, CUBLAS_OP_N, CUBLAS_OP_T, n_in, n_out, int(B), &one, A_in, n_in, delta, n_out,
                           &zero, dW, n_in));
}

void CudaBackend::gemm_input_gradient(int l, size_t B, const float* delta, float* dA_in) {
  // dA_in (n_in × B) = W_lᵀ Δ_l: the stored W_l already is W_lᵀ in column-major, hence OP_N.
  const int n_in = spec_.widths[l - 1], n_out = spec_.widths[l];
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSgemm(cublas_, CUBLAS_OP_N, CUBLAS_OP_N, n_in, int(B), n_out, &one, W(l), n_in, delta, n_out,
                           &zero, dA_in, n_in));
}

void CudaBackend::enqueue_forward(size_t B, bool training, double* loss_accumulator) {
  const int L = spec_.num_layers();
  for (int l = 1; l <= L; ++l) {
    float* Z = A_[l].get();
    gemm_forward(l, B, A_[l - 1].get(), Z);
    if (l < L) {
      kernels::bias_sigmoid(Z, b(l), spec_.widths[l], B, stream_);
    } else if (training) {
      kernels::output_loss_delta(Z, b(l), Y_batch_.get(), delta_.get(), partials_.get(), spec_.outputs(), B, stream_);
      kernels::accumulate_loss(partials_.get(), kernels::loss_blocks(spec_.outputs(), B), loss_accumulator, stream_);
    } else {
      kernels::bias_linear(Z, b(l), spec_.widths[l], B, stream_);
    }
  }
}

void CudaBackend::enqueue_backward(size_t B) {
  // delta_ holds Δ_L on entry; dA_ is the scratch for W_lᵀ Δ_l, then the two swap roles.
  float* delta = delta_.get();
  float* scratch = dA_.get();
  for (int l = spec_.num_layers(); l >= 1; --l) {
    const int n_out = spec_.widths[l], n_in = spec_.widths[l - 1];
    gemm_weight_gradient(l, B, A_[l - 1].get(), delta, grads_.get() + spec_.weight_offset(l));
    if (spec_.bias) kernels::row_sums(delta, n_out, B, grads_.get() + spec_.bias_offset(l), stream_);
    if (l == 1) break;
    gemm_input_gradient(l, B, delta, scratch);
    kernels::sigmoid_backward(scratch, A_[l - 1].get(), scratch, size_t(n_in) * B, stream_);
    std::swap(delta, scratch);
  }
}

void CudaBackend::enqueue_step(const DataSource& source, size_t B, float lr) {
  kernels::gather_batch(source.x, source.y, source.order, position_.get(), spec_.inputs(), spec_.outputs(), B,
                        A_[0].get(), Y_batch_.get(), stream_);
  enqueue_forward(B, /*training=*/true, epoch_loss_.get());
  enqueue_backward(B);
  kernels::sgd_update(params_.get(), grads_.get(), spec_.parameter_count(), lr, stream_);
  kernels::advance_position(position_.get(), B, stream_);
}

void CudaBackend::run_step(const DataSource& source, size_t B, float lr) {
  if (!options_.cuda_graphs) {
    enqueue_step(source, B, lr);
    return;
  }
  uint32_t lr_bits;
  std::memcpy(&lr_bits, &lr, sizeof lr_bits);
  const auto key = std::make_tuple(B, lr_bits, source.slot);
  auto found = graphs_.find(key);
  if (found == graphs_.end()) {
    // Captured once per batch shape (the partial last batch gets its own) and replayed for every step.
    cudaGraph_t graph = nullptr;
    CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    try {
      enqueue_step(source, B, lr);
    } catch (...) {
      cudaStreamEndCapture(stream_, &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    CUDA_CHECK(instantiated);
    found = graphs_.emplace(key, exec).first;
  }
  CUDA_CHECK(cudaGraphLaunch(found->second, stream_));
}

void CudaBackend::set_training_data(const Dataset& train) {
  train_ = &train;
  const size_t n = train.size;
  const size_t data_bytes = n * size_t(train.inputs + train.outputs) * sizeof(float);
  // Resident: the data, the order, and the sort's keys and scratch (about 3 × 8 bytes per sample).
  const size_t resident_bytes = data_bytes + n * (sizeof(uint32_t) + 24);
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  const size_t limit = options_.device_data_limit ? options_.device_data_limit : free_bytes / 10 * 8;
  streaming_ = resident_bytes > limit;
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  clear_graphs();
  if (!streaming_) {
    X_.allocate(n * train.inputs, "the training inputs");
    Y_.allocate(n * train.outputs, "the training targets");
    order_.allocate(n, "the epoch order");
    CUDA_CHECK(cudaMemcpyAsync(X_.get(), train.x.data(), train.x.size() * sizeof(float), cudaMemcpyHostToDevice, stream_));
    CUDA_CHECK(cudaMemcpyAsync(Y_.get(), train.y.data(), train.y.size() * sizeof(float), cudaMemcpyHostToDevice, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    return;
  }
  // Streaming: two chunks of about a quarter of the allowance each (at least one row).
  X_.allocate(0, "");
  Y_.allocate(0, "");
  order_.allocate(0, "");
  const size_t row_bytes = size_t(train.inputs + train.outputs) * sizeof(float);
  chunk_rows_ = std::max<size_t>(1, std::min(n, limit / 4 / row_bytes));
  for (Chunk& chunk : chunks_) {
    chunk.x.allocate(chunk_rows_ * train.inputs, "a streamed chunk of inputs");
    chunk.y.allocate(chunk_rows_ * train.outputs, "a streamed chunk of targets");
    chunk.staging_x.allocate(chunk_rows_ * train.inputs);
    chunk.staging_y.allocate(chunk_rows_ * train.outputs);
    chunk.valid = false;
  }
}

void CudaBackend::begin_epoch(const EpochOrder& order) {
  if (!train_) throw std::logic_error("set_training_data must be called before training");
  CUDA_CHECK(cudaMemsetAsync(epoch_loss_.get(), 0, sizeof(double), stream_));
  kernels::set_position(position_.get(), 0, stream_);
  expected_position_ = 0;
  if (!streaming_) {
    kernels::epoch_order(order_.get(), train_->size, order.shuffle, order.seed, stream_);
    return;
  }
  if (order.shuffle) {
    host_order_ = epoch_permutation(train_->size, order.seed);
  } else {
    host_order_.resize(train_->size);
    for (size_t i = 0; i < host_order_.size(); ++i) host_order_[i] = uint32_t(i);
  }
  for (Chunk& chunk : chunks_) chunk.valid = false;
}

void CudaBackend::load_chunk(int slot, size_t begin) {
  Chunk& chunk = chunks_[slot];
  const Dataset& d = *train_;
  const size_t end = std::min(begin + chunk_rows_, d.size);
  // The staging buffer is free once its last copy has finished; the device chunk once the steps that
  // read it have run (the copy stream waits for that on the device, not here).
  CUDA_CHECK(cudaEventSynchronize(chunk.copied));
  for (size_t r = begin; r < end; ++r) {
    const size_t row = host_order_[r];
    std::copy(d.x_of(row), d.x_of(row) + d.inputs, chunk.staging_x.get() + (r - begin) * d.inputs);
    std::copy(d.y_of(row), d.y_of(row) + d.outputs, chunk.staging_y.get() + (r - begin) * d.outputs);
  }
  CUDA_CHECK(cudaStreamWaitEvent(copy_stream_, chunk.consumed, 0));
  CUDA_CHECK(cudaMemcpyAsync(chunk.x.get(), chunk.staging_x.get(), (end - begin) * d.inputs * sizeof(float),
                             cudaMemcpyHostToDevice, copy_stream_));
  CUDA_CHECK(cudaMemcpyAsync(chunk.y.get(), chunk.staging_y.get(), (end - begin) * d.outputs * sizeof(float),
                             cudaMemcpyHostToDevice, copy_stream_));
  CUDA_CHECK(cudaEventRecord(chunk.copied, copy_stream_));
  chunk.begin = begin;
  chunk.end = end;
  chunk.valid = true;
}

void CudaBackend::ensure_chunk(size_t first, size_t count) {
  const auto holds = [&](const Chunk& c) { return c.valid && c.begin <= first && first + count <= c.end; };
  if (holds(chunks_[current_chunk_])) return;
  const int next = 1 - current_chunk_;
  if (!holds(chunks_[next])) load_chunk(next, first);  // not prefetched (start of an epoch, or an odd step)
  CUDA_CHECK(cudaEventRecord(chunks_[current_chunk_].consumed, stream_));
  CUDA_CHECK(cudaStreamWaitEvent(stream_, chunks_[next].copied, 0));
  current_chunk_ = next;
  // Prefetch what follows into the slot just left, while the device works on this one.
  if (chunks_[current_chunk_].end < train_->size) load_chunk(1 - current_chunk_, chunks_[current_chunk_].end);
}

void CudaBackend::train_step(size_t first, size_t count, double lr) {
  if (!train_) throw std::logic_error("set_training_data must be called before training");
  reserve(count);
  DataSource source{X_.get(), Y_.get(), order_.get(), 0};
  size_t position = first;
  if (streaming_) {
    if (count > chunk_rows_)
      throw CudaError("a batch of " + std::to_string(count) + " samples does not fit in a streamed chunk of " +
                      std::to_string(chunk_rows_) + " (raise the device memory available to the data)");
    // Chunks of whole batches, so that the prefetched chunk starts where the next step does.
    if (first == 0 && chunk_rows_ % count != 0) chunk_rows_ -= chunk_rows_ % count;
    ensure_chunk(first, count);
    const Chunk& chunk = chunks_[current_chunk_];
    source = {chunk.x.get(), chunk.y.get(), nullptr, 1 + current_chunk_};
    position = first - chunk.begin;
  }
  if (position != expected_position_) kernels::set_position(position_.get(), position, stream_);
  run_step(source, count, float(lr));
  ++optimizer_steps_;
  expected_position_ = position + count;
}

double CudaBackend::epoch_loss_sum() {
  double sum = 0.0;
  CUDA_CHECK(cudaMemcpyAsync(&sum, epoch_loss_.get(), sizeof sum, cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  return sum;
}

void CudaBackend::predict_logits(const float* x, size_t count, double* yhat) {
  const size_t chunk = std::max<size_t>(capacity_, std::min<size_t>(count, 65536));
  reserve(chunk);
  const int n0 = spec_.inputs(), nL = spec_.outputs(), L = spec_.num_layers();
  std::vector<float> out(chunk * nL);
  for (size_t start = 0; start < count; start += chunk) {
    const size_t B = std::min(chunk, count - start);
    CUDA_CHECK(cudaMemcpyAsync(A_[0].get(), x + start * n0, B * n0 * sizeof(float), cudaMemcpyHostToDevice, stream_));
    enqueue_forward(B, /*training=*/false, nullptr);
    CUDA_CHECK(cudaMemcpyAsync(out.data(), A_[L].get(), B * nL * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    std::copy(out.begin(), out.begin() + B * nL, yhat + start * nL);
  }
}

double CudaBackend::loss_and_gradients(const Batch& batch, Parameters& grad) {
  const size_t B = batch.count;
  reserve(B);
  CUDA_CHECK(cudaMemcpyAsync(A_[0].get(), batch.x, B * spec_.inputs() * sizeof(float), cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaMemcpyAsync(Y_batch_.get(), batch.y, B * spec_.outputs() * sizeof(float), cudaMemcpyHostToDevice, stream_));
  CUDA_CHECK(cudaMemsetAsync(scratch_loss_.get(), 0, sizeof(double), stream_));
  enqueue_forward(B, /*training=*/true, scratch_loss_.get());
  enqueue_backward(B);
  std::vector<float> values(spec_.parameter_count());
  double loss_sum = 0.0;
  CUDA_CHECK(cudaMemcpyAsync(values.data(), grads_.get(), values.size() * sizeof(float), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaMemcpyAsync(&loss_sum, scratch_loss_.get(), sizeof loss_sum, cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  grad = Parameters::from_float(spec_, values.data());
  return loss_sum / double(B);
}

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(const NetworkSpec& spec, const TrainingSetup& setup,
                                           const BackendOptions& options) {
  FusedShape shape;
  std::string why_not;
  const bool fits = make_fused_shape(spec, shape, &why_not);
  if (options.kernel == "fused" && !fits) throw UsageError("--kernel fused: " + why_not);
  // The fused kernel has no streaming, TF32 or graph settings: those ask for the cuBLAS path.
  const bool plain = !options.tf32 && options.device_data_limit == 0;
  if (options.kernel == "fused" || (options.kernel == "auto" && fits && plain)) return make_fused_cuda_backend(spec, setup);
  return std::make_unique<CudaBackend>(spec, setup, options);
}

}  // namespace sigtrain
