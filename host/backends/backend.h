// The interface the trainer drives (DESIGN.md §2), without knowing which implementation it has:
// reference (fp64 oracle), cpu (fp32, fast) and cuda (fp32 on the GPU).
//
// A backend holds the parameters and the training data for the whole run (on the device for cuda),
// makes each epoch's order itself from the epoch's seed (the same order on every backend, see
// kernels/math/epoch_shuffle.h), and runs SGD steps on consecutive slices of that order. It reports the
// training loss only when asked, so a device backend need not synchronise on every step.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/standardize.h"
#include "model/model.h"
#include "model/network.h"

namespace sigtrain {

class DeviceRankSum;  // mpi/device_rank_sum.h

// A batch held by the caller: X is n0 × B and Y is nL × B, column-major (sample b's values contiguous).
struct Batch {
  const float* x = nullptr;
  const float* y = nullptr;
  size_t count = 0;  // B
};

// How an epoch visits the training set: in file order, or in the order make_epoch_shuffle(N, true, seed)
// computes (kernels/math/epoch_shuffle.h).
struct EpochOrder {
  bool shuffle = true;
  uint64_t seed = 0;  // epoch_seed(run seed, epoch), used only when shuffle is true
};

// A backend's view of one data set's outputs, over every sample: the mean loss (1/N) Σ_s Σ_o ℓ(z, y)
// of the backend's head (kernels/math/loss.h) and the MSE (1/N) Σ_s Σ_o (ŷ − y)², where ŷ is the
// output activation of z (and, with a standardisation of the targets, in the data's own units).
struct Evaluation {
  double loss = 0;
  double mse = 0;
};

class Backend {
 public:
  Backend(const NetworkSpec& spec, const TrainingSetup& setup);
  virtual ~Backend() = default;

  virtual std::string name() const = 0;                      // "reference", "cpu", "cuda"
  virtual std::string description() const { return name(); }  // for the first line of output
  // The network (widths, bias, activations) and how it trains (loss, optimizer), fixed when it is made.
  const NetworkSpec& spec() const { return spec_; }
  const TrainingSetup& setup() const { return setup_; }

  // Parameters in the flat layout of network.h.
  virtual void set_parameters(const Parameters& p) = 0;
  virtual Parameters parameters() const = 0;
  // The optimizer's state (zeros and step 0 until set or trained).
  virtual void set_optimizer_state(const OptimizerState& state) = 0;
  virtual OptimizerState optimizer_state() const = 0;

  // The training set, kept (by reference on the host backends: it must outlive the training run).
  virtual void set_training_data(const Dataset& train) = 0;
  virtual void begin_epoch(const EpochOrder& order) = 0;
  // One optimizer step (forward, loss, backward, update; DESIGN.md §1 and kernels/math/) at learning
  // rate lr, on the samples at positions [first, first + count) of the epoch's order. count may be
  // smaller than the usual batch (the last batch of an epoch): the step is averaged over its own size.
  virtual void train_step(size_t first, size_t count, double lr) = 0;
  // Steps of `batch` samples over positions [first, end) of the epoch's order, the last one possibly
  // smaller: exactly what train_step does, step after step. A backend that runs many steps in one go
  // (the fused kernel) overrides it, and says in steps_per_call how many it likes to be given.
  virtual void train_steps(size_t first, size_t end, size_t batch, double lr);
  virtual size_t steps_per_call(size_t /*batch*/) const { return 1; }
  // Σ_b Σ_o ℓ(z, y) over every sample stepped on since begin_epoch, each taken before its own step's
  // update. Returns only once every step given so far has finished, its update included (a device
  // backend synchronises here): the trainer times an epoch's work up to this call's return.
  virtual double epoch_loss_sum() = 0;
  // Whether epoch_loss_sum is cheap enough to call after every step (false on a device).
  virtual bool loss_is_cheap_to_read() const { return true; }

  // Z_L (nL × count, column-major): the output layer's values before its activation (the logits; Ŷ
  // itself for a linear output) at the current parameters, for inputs X (n0 × count).
  virtual void predict_logits(const float* x, size_t count, double* z) = 0;
  // The loss of the head on `batch` at the current parameters (no update), and its gradient in `grad`
  // (same layout as Parameters; resized to the spec).
  virtual double loss_and_gradients(const Batch& batch, Parameters& grad) = 0;

  // Data-parallel training with the sums kept on the device (train/data_parallel.h given a
  // DeviceRankSum: NCCL): whether this backend can, and one such step. Its gradient and loss sums over
  // `batch` (this rank's shard of a global batch of global_count samples; an empty shard adds zeros)
  // are summed over the ranks by `sum` on the device, then the optimizer steps with g = ΣG/global_count
  // at rate lr; the job's loss sum of the step is added to the epoch's (epoch_loss_sum), which
  // begin_epoch resets even where no training set was given. Backends that cannot: logic_error.
  virtual bool steps_with_device_sums() const { return false; }
  virtual void data_parallel_step(const Batch& batch, size_t global_count, double lr, DeviceRankSum& sum);

  // The loss and MSE over a whole data set (in the units the backend trains in).
  Evaluation evaluate(const Dataset& d);

 private:
  NetworkSpec spec_;
  TrainingSetup setup_;
};

// Ŷ (nL × count, in the data's own units) for inputs x (n0 × count, in the data's units) through a
// backend that holds the model's parameters: standardise x, Z_L, the output activation, undo the
// standardisation of the targets.
void predict_outputs(Backend& backend, const Standardization& standardization, const float* x, size_t count,
                     double* yhat);

// The Evaluation of a data set from a predict_logits function, in fixed chunks. With a standardisation,
// d is in the data's own units: its inputs are standardised before predict_logits, and ŷ is taken back
// to the data's units before the MSE (the loss is then the MSE's for mse, and bce's on the raw targets).
using PredictLogits = std::function<void(const float* x, size_t count, double* z)>;
Evaluation evaluate(const Dataset& d, const NetworkSpec& spec, Loss loss, const PredictLogits& predict_logits,
                    const Standardization* standardization = nullptr);

// Settings a backend may use; each ignores what is not its own.
struct BackendOptions {
  int threads = 1;            // cpu: worker threads (≤ 0: all hardware threads)
  bool tf32 = false;          // cuda: let cuBLAS use TF32 tensor cores (off: plain FP32 math)
  bool cuda_graphs = true;    // cuda: capture each step once per batch shape and replay it
  std::string kernel = "auto";  // cuda: "fused" (small networks), "cublas", or "auto" (choose.h)
  size_t device_data_limit = 0;  // cuda: bytes of training data kept resident before streaming (0: by free memory)
  // What the run asks of the backend, for the choices of --backend auto and --kernel auto
  // (backends/choose.h): samples per step (0: not known) and networks trained at once.
  size_t batch = 0;
  size_t networks = 1;
};

// The sizes of a run that every backend must be able to index, for check_backend_limits; 0: not known
// (yet), not checked.
struct RunSizes {
  size_t training_rows = 0;  // N
  size_t batch = 0;          // samples per step (--batch)
  size_t networks = 0;       // trained at once (--replicas, --sweep)
};
// The limits, and why. Rows: an epoch's order numbers positions and rows in 32 bits
// (math/epoch_shuffle.h), so N < 2³². Batch: a step's sample count is an int in the fused kernel
// (fused_step.h), in cuBLAS's and the cpu's GEMMs (the cpu pads it up to a multiple of 16 first) and
// in the reference; 2³⁰ leaves that padding room below INT_MAX. Networks: a CUDA grid has at most
// 2³¹ − 1 blocks, and the fused kernel gives each network up to 8 (kFusedMaxBlocksPerNetwork).
constexpr size_t kMaxTrainingRows = 0xFFFFFFFFu;
constexpr size_t kMaxBatch = size_t(1) << 30;
constexpr size_t kMaxNetworksAtOnce = 0x7FFFFFFFu / 8;
// Throws, before anything is allocated for the run, where a size is beyond its limit: UsageError
// (exit 2) for the batch and the networks (flags), InputError (exit 1) for the rows (data). Every
// backend calls it with the sizes it is given (make_backend, set_training_data, the replicas' group).
void check_backend_limits(const RunSizes& sizes);

// The names --backend accepts, and a factory. "auto" follows choose_backend (choose.h).
const std::vector<std::string>& backend_names();
std::unique_ptr<Backend> make_backend(const std::string& name, const NetworkSpec& spec, const TrainingSetup& setup = {},
                                      const BackendOptions& options = {});
// Whether the cuda backend can run here; if not, why (one line), and whether a GPU is there all the
// same (one this build has no code for).
bool cuda_backend_available(std::string* why_not = nullptr, bool* device_present = nullptr);
// The GPU of one of several ranks on a machine (an MPI job): device local_rank % devices, made current
// on this thread and on every thread that chooses a cuda backend after (CUDA's current device is per
// thread). Nothing without CUDA or a device.
void use_cuda_device_of_rank(int local_rank);
// The CUDA devices this process sees (0 without CUDA or a device).
int cuda_device_count();

}  // namespace sigtrain
