#include "backends/cuda/cublas_backend.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/device_copies.h"
#include "backends/cuda/fused_host.h"
#include "data/epoch_order.h"
#include "mpi/device_rank_sum.h"
#include "rank_sum.h"
#include "step_kernels.h"

namespace sigtrain {

CublasBackend::CublasBackend(const NetworkSpec& spec, const TrainingSetup& setup, const BackendOptions& options)
    : Backend(spec, setup),
      options_(options),
      state_floats_(size_t(optimizer_slots(setup.optimizer.kind)) * spec.parameter_count()),
      current_lr_(std::numeric_limits<float>::quiet_NaN()) {
  // Every resource has its owner (device_buffer.h): a throw below frees what was made before it.
  device_name_ = cuda_device_name();
  stream_ = make_cuda_stream();
  copy_stream_ = make_cuda_stream();
  cublas_ = make_cublas_handle();
  CUBLAS_CHECK(cublasSetStream(cublas_.get(), stream_.get()));
  // FP32 by default: no TF32 tensor-core rounding unless asked for.
  CUBLAS_CHECK(cublasSetMathMode(cublas_.get(), options_.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  constexpr size_t kCublasWorkspaceBytes = 32u << 20;  // cuBLAS's recommendation for Hopper
  cublas_workspace_.allocate(kCublasWorkspaceBytes, "the cuBLAS workspace");
  CUBLAS_CHECK(cublasSetWorkspace(cublas_.get(), cublas_workspace_.get(), kCublasWorkspaceBytes));
  params_.allocate(spec.parameter_count(), "the parameters");
  grads_.allocate(spec.parameter_count(), "the gradients");
  optimizer_state_.allocate(state_floats_, "the optimizer state");
  steps_.allocate(1, "the optimizer step count");
  lr_.allocate(1, "the learning rate");
  shuffle_.allocate(1, "the epoch order");
  CublasBackend::set_optimizer_state(OptimizerState{});  // a fresh optimizer: zeros, t = 0
  position_.allocate(1, "the epoch position");
  epoch_loss_.allocate(1, "the epoch loss");
  scratch_loss_.allocate(1, "a loss");
  for (Chunk& chunk : chunks_) {
    chunk.copied = make_cuda_event();
    chunk.consumed = make_cuda_event();
  }
  batch_copied_ = make_cuda_event();
}

CublasBackend::~CublasBackend() {
  // No throwing here: a destructor may run while an error is already on its way out. The streams
  // are waited for before any member is freed (the graphs and the chunks' copies use the buffers).
  cudaStreamSynchronize(stream_.get());
  cudaStreamSynchronize(copy_stream_.get());
}

std::string CublasBackend::description() const {
  return "cuda (" + device_name_ + ", " + (options_.tf32 ? "TF32" : "fp32") +
         (options_.cuda_graphs ? ", CUDA graphs" : ", no graphs") + (streaming_ ? ", streaming data" : "") + ")";
}

void CublasBackend::set_parameters(const Parameters& p) { upload_parameters(p, spec(), params_.get(), stream_.get()); }

Parameters CublasBackend::parameters() const { return download_parameters(spec(), params_.get(), stream_.get()); }

void CublasBackend::set_optimizer_state(const OptimizerState& state) {
  upload_optimizer_state(state, setup().optimizer.kind, spec().parameter_count(), optimizer_state_.get(), state_floats_,
                         steps_.get(), stream_.get());
}

OptimizerState CublasBackend::optimizer_state() const {
  return download_optimizer_state(optimizer_state_.get(), state_floats_, steps_.get(), stream_.get());
}

void CublasBackend::reserve(size_t batch) {
  if (batch <= capacity_) return;
  check_backend_limits({0, batch, 0});  // cuBLAS takes B as an int
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  clear_graphs();  // the graphs point at the buffers about to be replaced
  capacity_ = 0;   // until every buffer has its new size: a failed allocation leaves some smaller
  A_.resize(spec().widths.size());
  for (size_t l = 0; l < A_.size(); ++l) A_[l].allocate(size_t(spec().widths[l]) * batch, "the activations");
  Y_batch_.allocate(size_t(spec().outputs()) * batch, "the batch targets");
  delta_.allocate(size_t(spec().max_width()) * batch, "the deltas");
  dA_.allocate(size_t(spec().max_width()) * batch, "the deltas");
  partials_.allocate(size_t(kernels::loss_blocks(spec().outputs(), batch)), "the loss partials");
  capacity_ = batch;
}

void CublasBackend::gemm_forward(int l, size_t B, const float* A_in, float* Z) {
  // Z (n_out × B) = W_l A_in: W_l is stored as the column-major n_in × n_out matrix W_lᵀ, hence OP_T.
  const int n_in = spec().widths[l - 1], n_out = spec().widths[l];
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSgemm(cublas_.get(), CUBLAS_OP_T, CUBLAS_OP_N, n_out, int(B), n_in, &one, W(l), n_in, A_in, n_in,
                           &zero, Z, n_out));
}

void CublasBackend::gemm_weight_gradient(int l, size_t B, const float* A_in, const float* delta, float* dW) {
  // dW_l = Δ_l A_inᵀ (row-major n_out × n_in) is the column-major n_in × n_out matrix A_in Δ_lᵀ.
  const int n_in = spec().widths[l - 1], n_out = spec().widths[l];
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSgemm(cublas_.get(), CUBLAS_OP_N, CUBLAS_OP_T, n_in, n_out, int(B), &one, A_in, n_in, delta, n_out,
                           &zero, dW, n_in));
}

void CublasBackend::gemm_input_gradient(int l, size_t B, const float* delta, float* dA_in) {
  // dA_in (n_in × B) = W_lᵀ Δ_l: the stored W_l already is W_lᵀ in column-major, hence OP_N.
  const int n_in = spec().widths[l - 1], n_out = spec().widths[l];
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasSgemm(cublas_.get(), CUBLAS_OP_N, CUBLAS_OP_N, n_in, int(B), n_out, &one, W(l), n_in, delta, n_out,
                           &zero, dA_in, n_in));
}

void CublasBackend::enqueue_forward(size_t B, bool training, double* loss_accumulator) {
  const int L = spec().num_layers();
  for (int l = 1; l <= L; ++l) {
    float* Z = A_[l].get();
    gemm_forward(l, B, A_[l - 1].get(), Z);
    if (l < L) {
      CUDA_CHECK(kernels::bias_activation(spec().hidden, Z, b(l), spec().widths[l], B, stream_.get()));
    } else if (training) {
      CUDA_CHECK(kernels::output_loss_delta(setup().loss, spec().output, Z, b(l), Y_batch_.get(), delta_.get(),
                                            partials_.get(), spec().outputs(), B, stream_.get()));
      CUDA_CHECK(kernels::accumulate_loss(partials_.get(), kernels::loss_blocks(spec().outputs(), B), loss_accumulator,
                                          stream_.get()));
    } else {  // prediction: the logits Z_L + b_L
      CUDA_CHECK(kernels::bias_activation(Activation::linear, Z, b(l), spec().widths[l], B, stream_.get()));
    }
  }
}

void CublasBackend::enqueue_backward(size_t B) {
  // delta_ holds Δ_L on entry; dA_ is the scratch for W_lᵀ Δ_l, then the two swap roles.
  float* delta = delta_.get();
  float* scratch = dA_.get();
  for (int l = spec().num_layers(); l >= 1; --l) {
    const int n_out = spec().widths[l], n_in = spec().widths[l - 1];
    gemm_weight_gradient(l, B, A_[l - 1].get(), delta, grads_.get() + spec().weight_offset(l));
    if (spec().bias)
      CUDA_CHECK(kernels::row_sums(delta, n_out, B, grads_.get() + spec().bias_offset(l), stream_.get()));
    if (l == 1) break;
    gemm_input_gradient(l, B, delta, scratch);
    CUDA_CHECK(kernels::activation_backward(spec().hidden, scratch, A_[l - 1].get(), scratch, size_t(n_in) * B,
                                            stream_.get()));
    std::swap(delta, scratch);
  }
}

void CublasBackend::enqueue_step(const DataSource& source, size_t B) {
  CUDA_CHECK(kernels::gather_batch(source.x, source.y, source.order, position_.get(), spec().inputs(), spec().outputs(),
                                   B, A_[0].get(), Y_batch_.get(), stream_.get()));
  enqueue_forward(B, /*training=*/true, epoch_loss_.get());
  enqueue_backward(B);
  CUDA_CHECK(kernels::optimizer_update(setup().optimizer, params_.get(), grads_.get(), optimizer_state_.get(),
                                       spec().parameter_count(), lr_.get(), steps_.get(), stream_.get()));
  CUDA_CHECK(kernels::finish_step(position_.get(), B, steps_.get(), stream_.get()));
}

CudaGraphExec CublasBackend::capture_step(const DataSource& source, size_t B) {
  CUDA_CHECK(cudaStreamBeginCapture(stream_.get(), cudaStreamCaptureModeThreadLocal));
  try {
    enqueue_step(source, B);
  } catch (...) {
    cudaGraph_t partial = nullptr;  // the stream leaves capture mode whatever was captured
    cudaStreamEndCapture(stream_.get(), &partial);
    const CudaGraph discarded(partial);
    throw;
  }
  cudaGraph_t captured = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream_.get(), &captured);
  const CudaGraph graph(captured);  // owned before the check: an invalidated capture may still return one
  CUDA_CHECK(ended);
  cudaGraphExec_t exec = nullptr;
  CUDA_CHECK(cudaGraphInstantiate(&exec, graph.get(), 0));
  return CudaGraphExec(exec);
}

void CublasBackend::run_step(const DataSource& source, size_t B) {
  if (!options_.cuda_graphs) {
    enqueue_step(source, B);
    return;
  }
  const auto key = std::make_pair(B, source.slot);
  auto found = graphs_.find(key);
  if (found == graphs_.end()) {
    // Captured once per batch shape (the partial last batch gets its own) and replayed for every step.
    found = graphs_.emplace(key, capture_step(source, B)).first;
    ++graph_captures_;
  }
  CUDA_CHECK(cudaGraphLaunch(found->second.get(), stream_.get()));
}

void CublasBackend::set_training_data(const Dataset& train) {
  check_backend_limits({train.size, 0, 0});
  train_ = nullptr;  // no training set until its buffers are ready
  const size_t n = train.size;
  const size_t data_bytes = n * size_t(train.inputs + train.outputs) * sizeof(float);
  // Resident: the data (the order is computed, not stored).
  const size_t resident_bytes = data_bytes;
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  const size_t limit = options_.device_data_limit ? options_.device_data_limit : free_bytes / 10 * 8;
  streaming_ = resident_bytes > limit;
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  clear_graphs();
  if (!streaming_) {
    X_.allocate(n * train.inputs, "the training inputs");
    Y_.allocate(n * train.outputs, "the training targets");
    CUDA_CHECK(cudaMemcpyAsync(X_.get(), train.x.data(), train.x.size() * sizeof(float), cudaMemcpyHostToDevice,
                               stream_.get()));
    CUDA_CHECK(cudaMemcpyAsync(Y_.get(), train.y.data(), train.y.size() * sizeof(float), cudaMemcpyHostToDevice,
                               stream_.get()));
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    train_ = &train;
    return;
  }
  // Streaming: two chunks of about a quarter of the allowance each (at least one row).
  X_.allocate(0, "");
  Y_.allocate(0, "");
  const size_t row_bytes = size_t(train.inputs + train.outputs) * sizeof(float);
  chunk_rows_ = std::max<size_t>(1, std::min(n, limit / 4 / row_bytes));
  for (Chunk& chunk : chunks_) {
    chunk.x.allocate(chunk_rows_ * train.inputs, "a streamed chunk of inputs");
    chunk.y.allocate(chunk_rows_ * train.outputs, "a streamed chunk of targets");
    chunk.staging_x.allocate(chunk_rows_ * train.inputs);
    chunk.staging_y.allocate(chunk_rows_ * train.outputs);
    chunk.valid = false;
  }
  train_ = &train;
}

void CublasBackend::begin_epoch(const EpochOrder& order) {
  CUDA_CHECK(cudaMemsetAsync(epoch_loss_.get(), 0, sizeof(double), stream_.get()));
  CUDA_CHECK(kernels::set_position(position_.get(), 0, stream_.get()));
  expected_position_ = 0;
  if (!train_) return;  // (data_parallel_step trains on batches given; train_step refuses to run)
  const EpochShuffle shuffle = make_epoch_shuffle(train_->size, order.shuffle, order.seed);
  if (!streaming_) {  // data, not a new graph: the captured gathers read it when they run
    CUDA_CHECK(cudaMemcpyAsync(shuffle_.get(), &shuffle, sizeof shuffle, cudaMemcpyHostToDevice, stream_.get()));
    return;
  }
  host_shuffle_ = shuffle;
  for (Chunk& chunk : chunks_) chunk.valid = false;
}

void CublasBackend::load_chunk(int slot, size_t begin) {
  Chunk& chunk = chunks_[slot];
  const Dataset& d = *train_;
  const size_t end = std::min(begin + chunk_rows_, d.size);
  // The staging buffer is free once its last copy has finished; the device chunk once the steps that
  // read it have run (the copy stream waits for that on the device, not here).
  CUDA_CHECK(cudaEventSynchronize(chunk.copied.get()));
  chunk_rows_of_.resize(end - begin);
  epoch_rows(host_shuffle_, begin, end - begin, chunk_rows_of_.data());
  for (size_t r = begin; r < end; ++r) {
    const size_t row = chunk_rows_of_[r - begin];
    std::copy(d.x_of(row), d.x_of(row) + d.inputs, chunk.staging_x.get() + (r - begin) * d.inputs);
    std::copy(d.y_of(row), d.y_of(row) + d.outputs, chunk.staging_y.get() + (r - begin) * d.outputs);
  }
  CUDA_CHECK(cudaStreamWaitEvent(copy_stream_.get(), chunk.consumed.get(), 0));
  CUDA_CHECK(cudaMemcpyAsync(chunk.x.get(), chunk.staging_x.get(), (end - begin) * d.inputs * sizeof(float),
                             cudaMemcpyHostToDevice, copy_stream_.get()));
  CUDA_CHECK(cudaMemcpyAsync(chunk.y.get(), chunk.staging_y.get(), (end - begin) * d.outputs * sizeof(float),
                             cudaMemcpyHostToDevice, copy_stream_.get()));
  CUDA_CHECK(cudaEventRecord(chunk.copied.get(), copy_stream_.get()));
  chunk.begin = begin;
  chunk.end = end;
  chunk.valid = true;
}

void CublasBackend::ensure_chunk(size_t first, size_t count) {
  const auto holds = [&](const Chunk& c) { return c.valid && c.begin <= first && first + count <= c.end; };
  if (holds(chunks_[current_chunk_])) return;
  const int next = 1 - current_chunk_;
  if (!holds(chunks_[next])) load_chunk(next, first);  // not prefetched (start of an epoch, or an odd step)
  CUDA_CHECK(cudaEventRecord(chunks_[current_chunk_].consumed.get(), stream_.get()));
  CUDA_CHECK(cudaStreamWaitEvent(stream_.get(), chunks_[next].copied.get(), 0));
  current_chunk_ = next;
  // Prefetch what follows into the slot just left, while the device works on this one.
  if (chunks_[current_chunk_].end < train_->size) load_chunk(1 - current_chunk_, chunks_[current_chunk_].end);
}

void CublasBackend::train_step(size_t first, size_t count, double lr) {
  if (!train_) throw std::logic_error("set_training_data must be called before training");
  reserve(count);
  DataSource source{X_.get(), Y_.get(), shuffle_.get(), 0};
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
  if (position != expected_position_) CUDA_CHECK(kernels::set_position(position_.get(), position, stream_.get()));
  set_learning_rate(lr);
  run_step(source, count);
  expected_position_ = position + count;
}

void CublasBackend::set_learning_rate(double lr) {
  // Data, not a new graph: the captured steps read lr_ when they run (stream order puts the copy first).
  const float in_fp32 = float(lr);
  if (in_fp32 == current_lr_) return;
  current_lr_ = in_fp32;
  CUDA_CHECK(cudaMemcpyAsync(lr_.get(), &current_lr_, sizeof(float), cudaMemcpyHostToDevice, stream_.get()));
}

double CublasBackend::epoch_loss_sum() {
  double sum = 0.0;
  CUDA_CHECK(cudaMemcpyAsync(&sum, epoch_loss_.get(), sizeof sum, cudaMemcpyDeviceToHost, stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  return sum;
}

void CublasBackend::predict_logits(const float* x, size_t count, double* yhat) {
  const size_t chunk = std::max<size_t>(capacity_, std::min<size_t>(count, 65536));
  reserve(chunk);
  const int n0 = spec().inputs(), nL = spec().outputs(), L = spec().num_layers();
  std::vector<float> out(chunk * nL);
  for (size_t start = 0; start < count; start += chunk) {
    const size_t B = std::min(chunk, count - start);
    CUDA_CHECK(
        cudaMemcpyAsync(A_[0].get(), x + start * n0, B * n0 * sizeof(float), cudaMemcpyHostToDevice, stream_.get()));
    enqueue_forward(B, /*training=*/false, nullptr);
    CUDA_CHECK(cudaMemcpyAsync(out.data(), A_[L].get(), B * nL * sizeof(float), cudaMemcpyDeviceToHost, stream_.get()));
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    std::copy(out.begin(), out.begin() + B * nL, yhat + start * nL);
  }
}

void CublasBackend::enqueue_batch_gradient(const Batch& batch) {
  const size_t B = batch.count;
  CUDA_CHECK(cudaMemsetAsync(scratch_loss_.get(), 0, sizeof(double), stream_.get()));
  if (B == 0) return;
  reserve(B);
  // Through page-locked staging, so that the copies are truly asynchronous and the caller may reuse its
  // memory at once: the staging is reused once the last batch's copies are done.
  const size_t nx = B * size_t(spec().inputs()), ny = B * size_t(spec().outputs());
  CUDA_CHECK(cudaEventSynchronize(batch_copied_.get()));
  if (nx + ny > batch_staging_floats_) {
    batch_staging_floats_ = 0;  // (until the allocation has succeeded)
    batch_staging_.allocate(nx + ny);
    batch_staging_floats_ = nx + ny;
  }
  float* staged = batch_staging_.get();
  std::copy(batch.x, batch.x + nx, staged);
  std::copy(batch.y, batch.y + ny, staged + nx);
  CUDA_CHECK(cudaMemcpyAsync(A_[0].get(), staged, nx * sizeof(float), cudaMemcpyHostToDevice, stream_.get()));
  CUDA_CHECK(cudaMemcpyAsync(Y_batch_.get(), staged + nx, ny * sizeof(float), cudaMemcpyHostToDevice, stream_.get()));
  CUDA_CHECK(cudaEventRecord(batch_copied_.get(), stream_.get()));
  enqueue_forward(B, /*training=*/true, scratch_loss_.get());
  enqueue_backward(B);
}

double CublasBackend::loss_and_gradients(const Batch& batch, Parameters& grad) {
  const size_t B = batch.count;
  enqueue_batch_gradient(batch);
  std::vector<float> values(spec().parameter_count());
  double loss_sum = 0.0;
  CUDA_CHECK(cudaMemcpyAsync(values.data(), grads_.get(), values.size() * sizeof(float), cudaMemcpyDeviceToHost,
                             stream_.get()));
  CUDA_CHECK(cudaMemcpyAsync(&loss_sum, scratch_loss_.get(), sizeof loss_sum, cudaMemcpyDeviceToHost, stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  grad = Parameters::from_float(spec(), values.data());
  return loss_sum / double(B);
}

void CublasBackend::data_parallel_step(const Batch& batch, size_t global_count, double lr, DeviceRankSum& sum) {
  const size_t B = batch.count, P = spec().parameter_count();
  rank_sums_.reserve(P + 1, "the sums over the ranks");
  enqueue_batch_gradient(batch);  // the shard's mean gradient in grads_ and its loss sum (none: zeros below)
  CUDA_CHECK(kernels::gradient_sums_of_shard(grads_.get(), P, B, scratch_loss_.get(), rank_sums_.get(), stream_.get()));
  sum.sum_in_rank_order(rank_sums_.get(), P + 1, stream_.get());
  CUDA_CHECK(kernels::mean_gradient_of_job(rank_sums_.get(), P, global_count, grads_.get(), epoch_loss_.get(),
                                           stream_.get()));
  set_learning_rate(lr);
  CUDA_CHECK(kernels::optimizer_update(setup().optimizer, params_.get(), grads_.get(), optimizer_state_.get(), P,
                                       lr_.get(), steps_.get(), stream_.get()));
  CUDA_CHECK(kernels::finish_step(position_.get(), 0, steps_.get(), stream_.get()));  // t += 1
  // Nothing waits here (the batch was staged): epoch_loss_sum waits for the device.
}

}  // namespace sigtrain
