#include "backends/cuda/fused_networks.h"

#include <algorithm>

#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/device_copies.h"
#include "backends/cuda/fused_host.h"
#include "evaluate_kernel.h"
#include "fused_kernel.h"
#include "util/errors.h"

namespace sigtrain {

// ---- Many networks of one shape ---------------------------------------------------------------------

FusedNetworks::FusedNetworks(const NetworkSpec& spec, const TrainingSetup& setup, size_t count)
    : spec_(spec), setup_(setup), policies_(fused_policies(spec, setup)), count_(count) {
  check_backend_limits({0, 0, count});  // the launch's grid: count × K blocks
  std::string why_not;
  if (!make_fused_shape(spec, shape_, &why_not)) throw UsageError("--kernel fused: " + why_not);
  stream_ = make_cuda_stream();
  params_.allocate(count * shape_.params, "the parameters");
  optimizer_states_.allocate(count * state_floats(), "the optimizer states");
  steps_.allocate(count, "the optimizer step counts");
  lrs_.allocate(count, "the learning rates");
  shuffles_.allocate(count, "the epoch orders");
  batch_order_.allocate(1, "a batch's order");
  losses_.allocate(count, "the losses");
  loss_slots_.allocate(count * kFusedLossSlots, "the loss slots");
  // Fresh optimizers (zeros, t = 0) and empty loss sums.
  if (optimizer_states_.size())
    CUDA_CHECK(cudaMemsetAsync(optimizer_states_.get(), 0, optimizer_states_.size() * sizeof(float), stream_.get()));
  CUDA_CHECK(cudaMemsetAsync(steps_.get(), 0, count * sizeof(uint64_t), stream_.get()));
  CUDA_CHECK(cudaMemsetAsync(loss_slots_.get(), 0, count * kFusedLossSlots * sizeof(double), stream_.get()));
}

void FusedNetworks::set_parameters(size_t r, const Parameters& p) {
  upload_parameters(p, spec_, params_.get() + r * shape_.params, stream_.get());
}

Parameters FusedNetworks::parameters(size_t r) const {
  return download_parameters(spec_, params_.get() + r * shape_.params, stream_.get());
}

void FusedNetworks::set_optimizer_state(size_t r, const OptimizerState& state) {
  // Block 0's copy: the other blocks of a cluster take theirs from it at the start of every launch.
  upload_optimizer_state(state, setup_.optimizer.kind, size_t(shape_.params),
                         optimizer_states_.get() + r * state_floats(), state_floats(), steps_.get() + r, stream_.get());
}

void FusedNetworks::snapshot(std::vector<Parameters>& parameters, std::vector<OptimizerState>& states) const {
  // Every network's θ, optimizer state and t in one copy each and one wait (not 2 copies and 2 waits a
  // network, as parameters(r) and optimizer_state(r) take): a thousand replicas' epoch ends cost that.
  const size_t P = size_t(shape_.params), S = state_floats();
  std::vector<float> values(count_ * P), state_values(count_ * S);
  std::vector<uint64_t> steps(count_);
  CUDA_CHECK(cudaMemcpyAsync(values.data(), params_.get(), values.size() * sizeof(float), cudaMemcpyDeviceToHost,
                             stream_.get()));
  if (S > 0)
    CUDA_CHECK(cudaMemcpyAsync(state_values.data(), optimizer_states_.get(), state_values.size() * sizeof(float),
                               cudaMemcpyDeviceToHost, stream_.get()));
  CUDA_CHECK(
      cudaMemcpyAsync(steps.data(), steps_.get(), count_ * sizeof(uint64_t), cudaMemcpyDeviceToHost, stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  parameters.resize(count_);
  states.resize(count_);
  for (size_t r = 0; r < count_; ++r) {
    parameters[r] = Parameters::from_float(spec_, values.data() + r * P);
    states[r] = OptimizerState::from_float(
        steps[r], std::vector<float>(state_values.begin() + std::ptrdiff_t(r * S),
                                     state_values.begin() + std::ptrdiff_t((r + 1) * S)));
  }
}

OptimizerState FusedNetworks::optimizer_state(size_t r) const {
  return download_optimizer_state(optimizer_states_.get() + r * state_floats(), state_floats(), steps_.get() + r,
                                  stream_.get());
}

void FusedNetworks::set_training_data(const Dataset& train) {
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  check_backend_limits({train.size, 0, count_});
  X_.allocate(0, "");
  Y_.allocate(0, "");
  train_size_ = 0;  // no training set until it is on the device
  // The fused kernel keeps the data on the device; it does not stream. (The orders are computed.)
  const size_t needed = (train.x.size() + train.y.size()) * sizeof(float);
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (needed > free_bytes / 10 * 8)
    throw CudaError("the training data needs " + std::to_string(needed >> 20) + " MiB of the " +
                    std::to_string(free_bytes >> 20) +
                    " MiB free on the device, and the fused kernel does not "
                    "stream: use --kernel cublas, which streams data sets larger than device memory");
  X_.allocate(train.x.size(), "the training inputs");
  Y_.allocate(train.y.size(), "the training targets");
  CUDA_CHECK(
      cudaMemcpyAsync(X_.get(), train.x.data(), train.x.size() * sizeof(float), cudaMemcpyHostToDevice, stream_.get()));
  CUDA_CHECK(
      cudaMemcpyAsync(Y_.get(), train.y.data(), train.y.size() * sizeof(float), cudaMemcpyHostToDevice, stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  train_size_ = train.size;
}

void FusedNetworks::begin_epoch(const std::vector<EpochOrder>& orders) {
  // Each network's order is the one a single run with its seed takes: a few words each, from which the
  // kernel computes every sample's row (math/epoch_shuffle.h).
  std::vector<EpochShuffle> shuffles(count_);
  for (size_t r = 0; r < count_; ++r) shuffles[r] = make_epoch_shuffle(train_size_, orders[r].shuffle, orders[r].seed);
  CUDA_CHECK(cudaMemcpyAsync(shuffles_.get(), shuffles.data(), count_ * sizeof(EpochShuffle), cudaMemcpyHostToDevice,
                             stream_.get()));
  CUDA_CHECK(cudaMemsetAsync(loss_slots_.get(), 0, count_ * kFusedLossSlots * sizeof(double), stream_.get()));
}

void FusedNetworks::set_learning_rates(const std::vector<double>& lrs) {
  const std::vector<float> in_fp32(lrs.begin(), lrs.end());
  if (in_fp32 == current_lrs_) return;
  current_lrs_ = in_fp32;
  CUDA_CHECK(
      cudaMemcpyAsync(lrs_.get(), current_lrs_.data(), count_ * sizeof(float), cudaMemcpyHostToDevice, stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
}

void FusedNetworks::ensure_block_states(size_t networks, size_t batch) {
  check_backend_limits({0, batch, networks});  // the kernel's step size B is an int (fused_step.h)
  const size_t needed = networks * size_t(fused_cluster_blocks(shape_, policies_, batch) - 1) * state_floats();
  if (needed <= block_states_.size()) return;
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));  // the buffer about to be replaced may still be in use
  block_states_.allocate(needed, "the optimizer states of the clusters' other blocks");
}

void FusedNetworks::train_steps(size_t first, size_t end, size_t batch) {
  ensure_block_states(count_, batch);
  const kernels::FusedBuffers buffers{params_.get(), optimizer_states_.get(), block_states_.get(), steps_.get(),
                                      loss_slots_.get()};
  CUDA_CHECK(kernels::launch_fused_train(shape_, policies_, count_, buffers, X_.get(), Y_.get(), shuffles_.get(), first,
                                         end, batch, lrs_.get(), nullptr, stream_.get()));
}

size_t FusedNetworks::steps_per_call(size_t batch) const { return fused_steps_per_launch(batch); }

Evaluation FusedNetworks::evaluate(size_t r, const Dataset& d) {
  return sigtrain::evaluate(d, spec_, setup_.loss,
                            [&](const float* x, size_t n, double* z) { predict_logits(r, x, n, z); });
}

void FusedNetworks::epoch_loss_sums(double* sums) {
  CUDA_CHECK(kernels::launch_fused_loss_sums(loss_slots_.get(), count_, losses_.get(), stream_.get()));
  CUDA_CHECK(cudaMemcpyAsync(sums, losses_.get(), count_ * sizeof(double), cudaMemcpyDeviceToHost, stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
}

void FusedNetworks::ensure_batch_buffers(size_t samples) {
  if (samples <= batch_capacity_) return;
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));  // the buffers about to be replaced may still be read
  batch_capacity_ = 0;  // until every buffer has its new size: a failed allocation leaves some smaller
  batch_x_.allocate(samples * spec_.inputs(), "a batch of inputs");
  batch_y_.allocate(samples * spec_.outputs(), "a batch of targets");
  out_.allocate(samples * spec_.outputs(), "predictions");
  grads_.reserve(shape_.params, "a gradient");
  scratch_loss_slots_.reserve(kFusedLossSlots, "loss slots");
  batch_capacity_ = samples;
}

void FusedNetworks::predict_logits(size_t r, const float* x, size_t count, double* z) {
  constexpr size_t kChunk = 65536;  // samples copied to the device at a time
  ensure_batch_buffers(std::min(count, kChunk));
  const int nL = spec_.outputs();
  std::vector<float> out(std::min(count, kChunk) * nL);
  for (size_t start = 0; start < count; start += kChunk) {
    const size_t n = std::min(kChunk, count - start);
    CUDA_CHECK(cudaMemcpyAsync(batch_x_.get(), x + start * spec_.inputs(), n * spec_.inputs() * sizeof(float),
                               cudaMemcpyHostToDevice, stream_.get()));
    CUDA_CHECK(kernels::launch_fused_predict(shape_, spec_.hidden, params_.get() + r * shape_.params, batch_x_.get(), n,
                                             out_.get(), stream_.get()));
    CUDA_CHECK(cudaMemcpyAsync(out.data(), out_.get(), n * nL * sizeof(float), cudaMemcpyDeviceToHost, stream_.get()));
    CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
    std::copy(out.begin(), out.begin() + n * nL, z + start * nL);
  }
}

double FusedNetworks::loss_and_gradients(size_t r, const Batch& batch, Parameters& grad) {
  // One step of network r in the kernel's gradient-only mode: θ, the optimizer's state and t stay;
  // the step's loss goes to scratch slots, not to the epoch's (the other blocks' copies of the state
  // are scratch, refreshed by every launch).
  ensure_block_states(1, batch.count);
  ensure_batch_buffers(batch.count);
  CUDA_CHECK(cudaMemcpyAsync(batch_x_.get(), batch.x, batch.count * spec_.inputs() * sizeof(float),
                             cudaMemcpyHostToDevice, stream_.get()));
  CUDA_CHECK(cudaMemcpyAsync(batch_y_.get(), batch.y, batch.count * spec_.outputs() * sizeof(float),
                             cudaMemcpyHostToDevice, stream_.get()));
  CUDA_CHECK(cudaMemsetAsync(scratch_loss_slots_.get(), 0, kFusedLossSlots * sizeof(double), stream_.get()));
  const EpochShuffle in_order = make_epoch_shuffle(batch.count, /*shuffle=*/false, 0);
  CUDA_CHECK(cudaMemcpyAsync(batch_order_.get(), &in_order, sizeof in_order, cudaMemcpyHostToDevice, stream_.get()));
  const kernels::FusedBuffers buffers{params_.get() + r * shape_.params, optimizer_states_.get() + r * state_floats(),
                                      block_states_.get(), steps_.get() + r, scratch_loss_slots_.get()};
  CUDA_CHECK(kernels::launch_fused_train(shape_, policies_, 1, buffers, batch_x_.get(), batch_y_.get(),
                                         batch_order_.get(), 0, batch.count, batch.count, lrs_.get() + r, grads_.get(),
                                         stream_.get()));
  std::vector<float> values(shape_.params);
  std::vector<double> loss_slots(kFusedLossSlots);
  CUDA_CHECK(cudaMemcpyAsync(values.data(), grads_.get(), values.size() * sizeof(float), cudaMemcpyDeviceToHost,
                             stream_.get()));
  CUDA_CHECK(cudaMemcpyAsync(loss_slots.data(), scratch_loss_slots_.get(), kFusedLossSlots * sizeof(double),
                             cudaMemcpyDeviceToHost, stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  grad = Parameters::from_float(spec_, values.data());
  return fused_loss_sum(loss_slots.data()) / double(batch.count);
}

// ---- One network behind the Backend interface -------------------------------------------------------

FusedCudaBackend::FusedCudaBackend(const NetworkSpec& spec, const TrainingSetup& setup)
    : Backend(spec, setup), networks_(spec, setup, 1) {}

std::string FusedCudaBackend::description() const { return "cuda (" + cuda_device_name() + ", fp32, fused kernel)"; }

void FusedCudaBackend::train_steps(size_t first, size_t end, size_t batch, double lr) {
  networks_.set_learning_rates({lr});
  networks_.train_steps(first, end, batch);
}

double FusedCudaBackend::epoch_loss_sum() {
  double sum = 0.0;
  networks_.epoch_loss_sums(&sum);
  return sum;
}

// ---- Every network's evaluation at once --------------------------------------------------------------

void FusedNetworks::make_resident(const Dataset& d) {
  if (d.x.data() == resident_x_source_ && d.y.data() == resident_y_source_ && d.size == resident_size_) return;
  if (d.inputs != spec_.inputs() || d.outputs != spec_.outputs())
    throw std::invalid_argument("FusedNetworks::evaluate_all: the data set does not fit the network");
  resident_x_source_ = resident_y_source_ = nullptr;  // nothing resident until the copies are made
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));   // the old copy may still be read
  resident_x_.allocate(d.x.size(), "the validation inputs");
  resident_y_.allocate(d.y.size(), "the validation targets");
  CUDA_CHECK(cudaMemcpyAsync(resident_x_.get(), d.x.data(), d.x.size() * sizeof(float), cudaMemcpyHostToDevice,
                             stream_.get()));
  CUDA_CHECK(cudaMemcpyAsync(resident_y_.get(), d.y.data(), d.y.size() * sizeof(float), cudaMemcpyHostToDevice,
                             stream_.get()));
  resident_x_source_ = d.x.data();
  resident_y_source_ = d.y.data();
  resident_size_ = d.size;
}

void FusedNetworks::evaluate_all(const Dataset& d, Evaluation* out) {
  if (d.size == 0) {  // as sigtrain::evaluate
    std::fill(out, out + count_, Evaluation{});
    return;
  }
  make_resident(d);
  evaluation_sums_.reserve(count_, "the networks' evaluation sums");
  size_t scratch_bytes = 0;
  const auto reduce = [&](void* scratch) {
    return kernels::launch_evaluate_networks(shape_, spec_.hidden, setup_.loss, spec_.output, count_, params_.get(),
                                             resident_x_.get(), resident_y_.get(), d.size, evaluation_sums_.get(),
                                             scratch, scratch_bytes, stream_.get());
  };
  CUDA_CHECK(reduce(nullptr));  // only sizes the scratch
  // Never null: CUB takes a null scratch for a question about its size, and launches nothing.
  evaluation_scratch_.reserve(std::max<size_t>(scratch_bytes, 1), "the evaluation's scratch");
  CUDA_CHECK(reduce(evaluation_scratch_.get()));
  std::vector<EvaluationTerms> sums(count_);
  CUDA_CHECK(cudaMemcpyAsync(sums.data(), evaluation_sums_.get(), count_ * sizeof(EvaluationTerms),
                             cudaMemcpyDeviceToHost, stream_.get()));
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  // Evaluation's means, as sigtrain::evaluate takes them: each sum over N.
  for (size_t r = 0; r < count_; ++r) out[r] = {sums[r].loss / double(d.size), sums[r].squared / double(d.size)};
}

}  // namespace sigtrain
