// Many networks at once (--replicas R, --sweep key=values): independent training runs over the same
// data, each with its own initialisation, learning rate and epoch orders. Replica r is exactly the
// single run with its settings (same backend, same bits): each one runs the ordinary trainer.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "train/trainer.h"

namespace sigtrain {

// The replicas of a run: with no sweep, `replicas` networks seeded base_seed, base_seed+1, …; each
// --sweep ("lr=0.1,0.3,1", "seed=1-16", "seed=3,5,9") sets one key to a list, and the networks are the
// cartesian product, lr outermost (with --replicas R and no seed sweep, each lr gets R seeds).
// Throws UsageError for an unknown key, a malformed list, or --replicas > 1 with a seed sweep.
std::vector<NetworkSettings> expand_sweeps(const std::vector<std::string>& sweeps, int replicas, uint64_t base_seed,
                                           double base_lr);

struct ReplicaResult {
  NetworkSettings settings;
  // False for a replica that never started: the stop (Ctrl-C) came before its turn. Its result is then
  // only outcome interrupted, with no parameters and no epochs.
  bool ran = true;
  TrainResult result;
  double train_loss = 0;       // of the epoch whose model the run kept (the last finished one, or the
  double validation_loss = 0;  // best with keep_best; after Ctrl-C in an epoch, the last finished one's); NaN if none
};

struct ReplicaRun {
  std::string backend = "cpu";
  TrainingSetup setup;     // loss and optimizer, the same for every replica
  BackendOptions options;  // per replica (the cpu backend: one thread each)
  int parallel = 1;        // replicas trained at once on the host (threads over networks)
  TrainConfig config;      // everything but seed and lr, which come from each replica's settings
  // The initial parameters of a replica (Glorot from its seed, or a --init model).
  std::function<Parameters(const NetworkSettings&)> initial;
  OptimizerState initial_state;  // every replica's optimizer state to start from (a --init model's; else fresh)
  std::function<void(size_t index, const ReplicaResult&)> on_done;  // called as each replica finishes
  // Where all replicas train together (the GPU), their progress: after each call of the epoch's
  // steps, `done` of `total` samples of epoch `epoch`.
  std::function<void(int epoch, size_t done, size_t total)> on_progress;
};

// Trains every replica; results in the order of `settings`. Rethrows the first error a replica hit.
// After `stop`, replicas that had not started are not started (ran = false).
std::vector<ReplicaResult> train_replicas(const ReplicaRun& run, const std::vector<NetworkSettings>& settings,
                                          const Dataset& train, const Dataset& validation,
                                          const std::atomic<bool>* stop = nullptr);

// The index of the best replica by validation loss (by training loss when there is no validation set),
// among those that ran and did not diverge; −1 if none.
int best_replica(const std::vector<ReplicaResult>& results);

}  // namespace sigtrain
