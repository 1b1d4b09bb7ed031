// A planned run (train_plan.h) trained: the backend it gets, the training, and the model it ends with,
// for one network or many (--replicas / --sweep). The program and the Python module both run here;
// they differ only in what they print and which files they write.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "run/train_plan.h"
#include "train/replicas.h"
#include "train/trainer.h"

namespace sigtrain {

// The backend of a single run, and its description for the first line (with backend auto, why it is
// not cuda).
struct RunBackend {
  std::unique_ptr<Backend> backend;
  std::string description;
};
RunBackend make_run_backend(const RunOptions& o, const TrainPlan& plan);

// Trains the plan's network from its start (or from `resume`, a checkpoint's progress) with `config`
// (the plan's, or with progress_every set) and returns the result with the model it ends with: the
// plan's setup and standardisation, the result's parameters and optimizer state.
struct SingleRunResult {
  TrainResult result;
  Model trained;
};
SingleRunResult train_single(Backend& backend, const TrainPlan& plan, const TrainConfig& config, TrainObserver& observer,
                             const std::atomic<bool>* stop, const TrainProgress* resume = nullptr);

// Many networks over the plan's data: their settings (seed and lr of each) and the run that trains them.
// The backend is chosen here, so that a missing device is reported before anything is printed.
// `plan` must outlive the result (the run's initial() reads it).
struct ReplicasPlan {
  std::vector<NetworkSettings> settings;
  ReplicaRun run;
  bool fused_kernel = false;  // all networks at once in the fused kernel (else `run.parallel` at a time)
};
ReplicasPlan plan_replicas(const RunOptions& o, const TrainPlan& plan, bool from_init);
// The model replica `x` ends with.
Model replica_model(const TrainPlan& plan, const ReplicaResult& x);

}  // namespace sigtrain
