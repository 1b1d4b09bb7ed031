// The interface the trainer drives (DESIGN.md §2), without knowing which implementation it has:
// reference (fp64 oracle), cpu (fp32, fast) and cuda (fp32 on the GPU).
//
// A backend holds the parameters and the training data for the whole run (on the device for cuda),
// makes each epoch's order itself from the epoch's seed (the same order on every backend, see
// kernels/shuffle_key.h), and runs SGD steps on consecutive slices of that order. It reports the
// training loss only when asked, so a device backend need not synchronise on every step.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "model/network.h"

namespace sigtrain {

// A batch held by the caller: X is n0 × B and Y is nL × B, column-major (sample b's values contiguous).
struct Batch {
  const float* x = nullptr;
  const float* y = nullptr;
  size_t count = 0;  // B
};

// How an epoch visits the training set: in file order, or in epoch_permutation(N, seed).
struct EpochOrder {
  bool shuffle = true;
  uint64_t seed = 0;  // epoch_seed(run seed, epoch), used only when shuffle is true
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;                      // "reference", "cpu", "cuda"
  virtual std::string description() const { return name(); }  // for the first line of output

  // Parameters in the flat layout of network.h. The spec is fixed when the backend is made.
  virtual void set_parameters(const Parameters& p) = 0;
  virtual Parameters parameters() const = 0;

  // The training set, kept (by reference on the host backends: it must outlive the training run).
  virtual void set_training_data(const Dataset& train) = 0;
  virtual void begin_epoch(const EpochOrder& order) = 0;
  // One SGD step (forward, loss, backward, update; DESIGN.md §1) on the samples at positions
  // [first, first + count) of the epoch's order. count may be smaller than the usual batch (the last
  // batch of an epoch): the step is averaged over its own size.
  virtual void train_step(size_t first, size_t count, double lr) = 0;
  // Steps of `batch` samples over positions [first, end) of the epoch's order, the last one possibly
  // smaller: exactly what train_step does, step after step. A backend that runs many steps in one go
  // (the fused kernel) overrides it, and says in steps_per_call how many it likes to be given.
  virtual void train_steps(size_t first, size_t end, size_t batch, double lr);
  virtual size_t steps_per_call(size_t /*batch*/) const { return 1; }
  // Σ_b Σ_o (ŷ − y)² over every sample stepped on since begin_epoch, each taken before its own
  // step's update. May synchronise with a device.
  virtual double epoch_loss_sum() = 0;
  // Whether epoch_loss_sum is cheap enough to call after every step (false on a device).
  virtual bool loss_is_cheap_to_read() const { return true; }

  // Ŷ (nL × count, column-major) at the current parameters, for inputs X (n0 × count).
  virtual void predict(const float* x, size_t count, double* yhat) = 0;
  // The loss of §1 on `batch` at the current parameters (no update), and its gradient in `grad`
  // (same layout as Parameters; resized to the spec).
  virtual double loss_and_gradients(const Batch& batch, Parameters& grad) = 0;

  // MSE of §1 over a whole data set: (1/N) Σ_s Σ_o (ŷ − y)².
  double mean_squared_error(const Dataset& d);
};

// MSE of §1 over a data set, (1/N) Σ_s Σ_o (ŷ − y)², from a predict function, in fixed chunks.
double mean_squared_error(const Dataset& d, const std::function<void(const float* x, size_t count, double* yhat)>& predict);

// Settings a backend may use; each ignores what is not its own.
struct BackendOptions {
  int threads = 1;            // cpu: worker threads (≤ 0: all hardware threads)
  bool tf32 = false;          // cuda: let cuBLAS use TF32 tensor cores (off: plain FP32 math)
  bool cuda_graphs = true;    // cuda: capture each step once per batch shape and replay it
  std::string kernel = "auto";  // cuda: "fused" (small networks), "cublas", or "auto" (fused where it fits)
  size_t device_data_limit = 0;  // cuda: bytes of training data kept resident before streaming (0: by free memory)
};

// The names --backend accepts, and a factory. "auto" picks cuda when a device is usable, else cpu.
const std::vector<std::string>& backend_names();
std::unique_ptr<Backend> make_backend(const std::string& name, const NetworkSpec& spec,
                                      const BackendOptions& options = {});
// Whether the cuda backend can run here; if not, why (one line).
bool cuda_backend_available(std::string* why_not = nullptr);

}  // namespace sigtrain
