// The training loop (DESIGN.md §1, §3): mini-batch steps of the backend's optimizer over epochs, each
// epoch in a new seeded order (or file order) at the schedule's learning rate, the last partial batch
// averaged over its own size, the validation loss per epoch, early stopping and the best model.
// The trainer composes these (the network, loss and optimizer live in the backend it drives, a Backend
// or a group of networks trained together, train/network_group.h); it prints nothing and reports
// through a TrainObserver.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "data/dataset.h"
#include "model/network.h"
#include "train/network_group.h"
#include "train/schedule.h"

namespace sigtrain {

struct TrainConfig {
  int epochs = 1;
  size_t batch = 32;
  double lr = 0.1;        // the base learning rate, which the schedule scales per epoch
  Schedule schedule;      // constant by default
  uint64_t seed = 1;
  bool shuffle = true;
  long verify_every = 0;  // every N steps compare the backend with the fp64 reference (0: never)
  // Early stopping: stop a network after `patience` epochs in a row whose validation loss is not below
  // its best so far by more than min_delta (0: never stop early). Needs a validation set.
  int patience = 0;
  double min_delta = 0.0;
  // Which model a run ends with: the one of the epoch with the best validation loss (keep_best), or
  // the last. Needs a validation set.
  bool keep_best = false;
  // The clock epochs are timed with, in seconds from any fixed origin; the steady clock when empty.
  // (The tests give one whose readings they know.)
  std::function<double()> clock;
  // Every N epochs, and when stopped (Ctrl-C), the observer gets the run's TrainProgress (a checkpoint
  // to write: --checkpoint-every N); 0: never. A single network only (train(), or train_group() of one).
  int progress_every = 0;
};

struct EpochReport {
  int epoch = 0;                     // 1-based
  double train_loss = 0;             // mean over the epoch's samples, each before its own step's update
  double validation_loss = 0;        // at the end of the epoch; NaN when there is no validation set
  double lr = 0;                     // the epoch's learning rate (the schedule's)
  // The epoch's training samples, of every network of the group together, over the epoch's training
  // time: from the epoch's start (its learning rates and orders) until every step of it has finished on
  // the backend (its loss read back: Backend::epoch_loss_sum waits for a device). Validation and keeping
  // the model are not in it; they are in elapsed_seconds.
  double samples_per_second = 0;
  double elapsed_seconds = 0;        // since training started, up to this report (validation included)
  size_t network = 0;                // which of a group's networks (0 for a single run)
};

// Largest relative difference between a backend and the reference on one batch (verify-every).
struct VerifyReport {
  long step = 0;
  double loss_difference = 0;
  double gradient_difference = 0;  // largest over the layers
  int worst_layer = 0;             // 1-based layer of the largest gradient difference
};

// The model a run would end with if it ended now (the last finite one, or with keep_best the best by
// validation loss), and early stopping's count of epochs that did not improve on the best.
struct KeptModel {
  Parameters parameters;
  OptimizerState optimizer_state;
  int epoch = 0;                                                  // 0: the initial model
  double validation_loss = std::numeric_limits<double>::quiet_NaN();  // the kept epoch's (NaN: none)
  double best_validation = std::numeric_limits<double>::infinity();
  int epochs_without_improvement = 0;
};

// Where a run stands at the end of an epoch: everything train() needs to go on from there exactly as
// the run would have gone on (train/checkpoint.h writes it to a file). The epochs' orders and rates need
// nothing more: epoch e's order is epoch_seed(seed, e − 1)'s and its rate the schedule's for e; the
// epoch's loss sums start again at zero with every epoch.
struct TrainProgress {
  int epochs_done = 0;
  long steps = 0;                   // optimizer steps taken (--verify-every counts them)
  Parameters parameters;            // the network after epochs_done epochs, and its optimizer
  OptimizerState optimizer_state;
  KeptModel kept;
  std::string stopped_early;        // why --patience stopped the run after epochs_done (empty: it did not)
};

class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void on_epoch(const EpochReport&) {}
  // After each step: samples done so far in this epoch, of `total`.
  virtual void on_step(int /*epoch*/, size_t /*done*/, size_t /*total*/) {}
  virtual void on_verify(const VerifyReport&) {}
  // Every TrainConfig::progress_every epochs, and once more when stopped (with the last finished
  // epoch's progress: the epoch in progress is not one to go on from).
  virtual void on_progress(const TrainProgress&) {}
};

// completed: every epoch ran; stopped_early: by --patience; interrupted: Ctrl-C; diverged: a NaN or
// infinite loss.
enum class TrainOutcome { completed, stopped_early, interrupted, diverged };

struct TrainResult {
  TrainOutcome outcome = TrainOutcome::completed;
  // The model the run ends with: with keep_best, the one of the best epoch; otherwise the last (after
  // divergence, the last one whose loss was finite). Its optimizer state, so that training can go on.
  Parameters parameters;
  OptimizerState optimizer_state;
  int kept_epoch = 0;     // the epoch whose end `parameters` is (0: the initial model)
  double kept_validation_loss = std::numeric_limits<double>::quiet_NaN();  // that epoch's (NaN: none)
  std::string message;    // why training stopped before its last epoch
  std::vector<EpochReport> epochs;
};

// Differences above this stop a --verify-every run (the CUDA backend issue's tolerance).
constexpr double kVerifyTolerance = 1e-4;

// Relative difference of two tensors: max|a − b| / max|b| (the reference is b); 0 when both are 0.
double relative_difference(const double* a, const double* b, size_t n);
// The same for layer l's parameters (W_l with b_l, adjacent in the flat layout) of a and b (the reference).
double layer_relative_difference(const Parameters& a, const Parameters& b, int l);

// A backend's loss and gradients on `batch` at its current parameters, against the fp64 reference at
// the same parameters: the relative difference of the loss and of each layer's gradient.
struct ReferenceComparison {
  double loss = 0;
  std::vector<double> layers;  // index l − 1
  double worst() const;        // the largest of them all
};
ReferenceComparison compare_with_reference(Backend& backend, const Batch& batch);
// --verify-every's report of a comparison at `step` (the largest layer difference and its layer), and
// its verdict: InputError naming the step, the layer and both differences where one exceeds
// kVerifyTolerance (`backend`: the name of what was verified).
VerifyReport verify_report(const ReferenceComparison& c, long step);
void check_verify_report(const VerifyReport& report, const std::string& backend);

// Trains `backend` from `initial` on `train`, validating on `validation` (may be empty). Stops early,
// after the step in progress, when `stop` becomes true (Ctrl-C). Throws InputError when a verification
// exceeds kVerifyTolerance.
// `initial_state` is the optimizer's state to start from (a fresh optimizer when null).
// `resume`: go on from a run's progress (a checkpoint) instead, with epoch resume->epochs_done + 1; with
// the same data and config the run then ends bit for bit where the run that made it would have ended.
// (`initial` and `initial_state` are then unused.)
TrainResult train(Backend& backend, const Parameters& initial, const Dataset& train, const Dataset& validation,
                  const TrainConfig& config, TrainObserver& observer, const std::atomic<bool>* stop = nullptr,
                  const OptimizerState* initial_state = nullptr, const TrainProgress* resume = nullptr);

// What differs between the networks of a group (replicas): the seed of the epoch orders, and the base
// learning rate.
struct NetworkSettings {
  uint64_t seed = 1;
  double lr = 0.1;
};

// The same loop for the networks of a group at once, network r from initial[r] with settings[r]
// (config's own seed and lr unused); results in network order. Network r ends exactly where the single
// run with its settings ends. A network that diverges or stops early stops counting (the others go
// on); training ends when every network has, or at `stop`. No --verify-every here: it needs one backend.
// initial_states: each network's optimizer state to start from (empty: fresh optimizers). resume: as
// train()'s, for a group of one network (a data-parallel run: train/data_parallel.h).
std::vector<TrainResult> train_group(NetworkGroup& group, const std::vector<Parameters>& initial,
                                     const std::vector<NetworkSettings>& settings, const Dataset& train,
                                     const Dataset& validation, const TrainConfig& config, TrainObserver& observer,
                                     const std::atomic<bool>* stop = nullptr,
                                     const std::vector<OptimizerState>& initial_states = {},
                                     const TrainProgress* resume = nullptr);

}  // namespace sigtrain
