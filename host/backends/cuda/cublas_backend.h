// The cuda backend's cuBLAS path: one training step of DESIGN.md §1 on the device, for networks of
// any width (the fused kernel, fused_networks.h, takes the small ones).
//
//   gather      A_0, Y ← the rows at positions p … p+B−1 of the epoch's order      (one kernel)
//   forward     Z_l = W_l A_{l-1}                                                  (cuBLAS SGEMM)
//               A_l = f(Z_l + b_l)                      hidden layers              (one fused kernel)
//               Z_L = Z_L + b_L (the logits), Δ_L = Head::delta(Z_L, Y)/B,
//               the loss terms Head::value summed per block                        (one fused kernel)
//   loss        epoch loss += Σ of the block partials, fp64, fixed order            (one block)
//   backward    dW_l = Δ_l A_{l-1}ᵀ                                                (cuBLAS SGEMM)
//               db_l = Δ_l 1                                                       (row sums, fixed order)
//               Δ_{l-1} = (W_lᵀ Δ_l) ⊙ f'(A_{l-1})                                 (SGEMM + fused kernel)
//   update      the optimizer's step over the single flat parameter buffer and its
//               state, its scalars from the learning rate and step count on the device   (one kernel)
//   finish      p += B, t += 1                                                     (one thread)
//
// The step reads its position p in the epoch's order, the learning rate and the optimizer's step
// count t from device memory and advances p and t itself, so the whole step is captured once per
// batch shape as a CUDA graph and replayed for every step, learning rate and epoch; nothing in it
// waits for the host. The epoch's loss stays on the device until the trainer asks for it. The
// policies (activation, head, optimizer; kernels/math/) are chosen inside the kernels' launchers.
//
// Layouts: activations are column-major n_l × B (ld = n_l); W_l is row-major n_l × n_{l-1} (PyTorch's
// order), which cuBLAS reads as the column-major n_{l-1} × n_l matrix W_lᵀ: every product is a plain
// SGEMM with transpose flags, never a transposing copy.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/device_buffer.h"
#include "math/epoch_shuffle.h"

namespace sigtrain {

class CublasBackend : public Backend {
 public:
  CublasBackend(const NetworkSpec& spec, const TrainingSetup& setup, const BackendOptions& options);
  ~CublasBackend() override;

  std::string name() const override { return "cuda"; }
  std::string description() const override;
  void set_parameters(const Parameters& p) override;
  Parameters parameters() const override;
  void set_optimizer_state(const OptimizerState& state) override;
  OptimizerState optimizer_state() const override;
  void set_training_data(const Dataset& train) override;
  void begin_epoch(const EpochOrder& order) override;
  void train_step(size_t first, size_t count, double lr) override;
  double epoch_loss_sum() override;
  bool loss_is_cheap_to_read() const override { return false; }
  void predict_logits(const float* x, size_t count, double* z) override;
  double loss_and_gradients(const Batch& batch, Parameters& grad) override;
  // Data parallel with NCCL: the batch's gradient through the same forward and backward, its sums
  // packed beside the loss (kernels/rank_sum.h), summed over the ranks on the device, the job's mean
  // gradient unpacked into grads_ and the optimizer's kernel: nothing leaves the device but the batch in.
  bool steps_with_device_sums() const override { return true; }
  void data_parallel_step(const Batch& batch, size_t global_count, double lr, DeviceRankSum& sum) override;

  // How many times a step has been captured as a CUDA graph (once per batch shape and data buffer).
  size_t graph_captures() const { return graph_captures_; }

 private:
  // Where the step's batch comes from: the resident data set with the epoch's order, or one streamed chunk.
  struct DataSource {
    const float* x;
    const float* y;
    const EpochShuffle* order;  // device memory (math/epoch_shuffle.h); null: take rows in sequence
    int slot;               // distinguishes captured graphs that read different buffers
  };

  void reserve(size_t batch);
  const float* W(int l) const { return params_.get() + spec().weight_offset(l); }
  const float* b(int l) const { return spec().bias ? params_.get() + spec().bias_offset(l) : nullptr; }
  // The three products of §1 (see the file's header for the layouts).
  void gemm_forward(int l, size_t B, const float* A_in, float* Z);
  void gemm_weight_gradient(int l, size_t B, const float* A_in, const float* delta, float* dW);
  void gemm_input_gradient(int l, size_t B, const float* delta, float* dA_in);

  // The batch's loss sum into scratch_loss_ (0 for no samples) and its mean gradient into grads_, the
  // batch going in through batch_staging_ (loss_and_gradients, data_parallel_step).
  void enqueue_batch_gradient(const Batch& batch);
  void enqueue_forward(size_t B, bool training, double* loss_accumulator);
  void enqueue_backward(size_t B);
  void enqueue_step(const DataSource& source, size_t B);
  void run_step(const DataSource& source, size_t B);
  CudaGraphExec capture_step(const DataSource& source, size_t B);  // enqueue_step as a graph
  void clear_graphs() { graphs_.clear(); }
  void set_learning_rate(double lr);

  // Streaming (data sets larger than the device memory allowed for them).
  void ensure_chunk(size_t first, size_t count);
  void load_chunk(int slot, size_t begin);

  BackendOptions options_;
  size_t state_floats_;  // the optimizer's state: optimizer_slots × P
  CudaStream stream_, copy_stream_;  // before the cuBLAS handle that works on stream_: destroyed after it
  std::string device_name_;

  DeviceBuffer<float> params_, grads_;   // flat layout of network.h
  DeviceBuffer<float> optimizer_state_;  // slot-major (math/optimizer.h)
  DeviceBuffer<uint64_t> steps_;         // t, advanced by each step on the device
  DeviceBuffer<float> lr_;               // the learning rate the steps read
  float current_lr_;                     // what lr_ holds (NaN before the first step)
  DeviceBuffer<char> cublas_workspace_;  // given to cuBLAS so that graph capture never allocates
  CublasHandle cublas_;                  // after its workspace: destroyed before it

  // Batch workspace, capacity_ samples wide.
  size_t capacity_ = 0;
  std::vector<DeviceBuffer<float>> A_;  // A_[l]: n_l × capacity; A_[L] holds Z_L, the logits
  DeviceBuffer<float> Y_batch_, delta_, dA_, partials_;

  // Training data and the epoch's state.
  const Dataset* train_ = nullptr;
  bool streaming_ = false;
  DeviceBuffer<float> X_, Y_;     // resident: n0 × N and nL × N
  DeviceBuffer<EpochShuffle> shuffle_;  // resident: the epoch's order (one; the graphs read it)
  DeviceBuffer<unsigned long long> position_;
  DeviceBuffer<double> epoch_loss_, scratch_loss_;
  DeviceBuffer<double> rank_sums_;  // data parallel: [G_r (P), F_r], then the job's sums
  PinnedBuffer batch_staging_;      // a batch the caller holds (X then Y), copied to the device from here
  size_t batch_staging_floats_ = 0;
  CudaEvent batch_copied_;          // recorded after the staged batch's copies: the staging is free again
  size_t expected_position_ = 0;  // what *position_ holds after the steps enqueued so far

  // Streaming: two device chunks filled from two pinned staging buffers on copy_stream_.
  struct Chunk {
    size_t begin = 0, end = 0;
    bool valid = false;
    DeviceBuffer<float> x, y;
    PinnedBuffer staging_x, staging_y;
    CudaEvent copied, consumed;
  };
  Chunk chunks_[2];
  int current_chunk_ = 0;
  size_t chunk_rows_ = 0;
  EpochShuffle host_shuffle_;    // streaming: the order is applied on the host, as chunks are gathered
  std::vector<uint32_t> chunk_rows_of_;  // streaming: the rows of the chunk being gathered

  std::map<std::pair<size_t, int>, CudaGraphExec> graphs_;  // by (B, data slot)
  size_t graph_captures_ = 0;
};

}  // namespace sigtrain
