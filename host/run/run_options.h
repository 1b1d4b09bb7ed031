// The settings of a training run, as `sigtrain train`'s flags and the Python module's options name them
// (flag "--min-delta" = option "min_delta"). The program's parser and the module's option dictionary
// both fill this one struct, so that a run means the same from either.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace sigtrain {

struct RunOptions {
  std::string layers = "2,3,3,1";
  bool bias = false;
  // Defaults: the notes' network on the sine set reaches a held-out MSE near 0.002 in about a second.
  // About one seed in three settles in a local minimum near 0.015 instead (seeds 1-16 measured);
  // seed 2 is not one of them.
  int epochs = 100;
  long long batch = 8;
  double lr = 0.2;  // when not given: 0.2 for sgd, momentum and nesterov (the notes'), 0.001 for adam and adamw
  uint64_t seed = 2;
  bool no_shuffle = false;
  double val_split = 0.2;
  // The network's activations and the loss (kernels/math/activation.h, loss.h).
  std::string activation = "sigmoid", output = "linear", loss = "mse";
  // The optimizer (kernels/math/optimizer.h) and the schedule of its learning rate (train/schedule.h).
  std::string optimizer = "sgd";
  double momentum = 0.9, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  std::string schedule = "constant";
  int step_every = 10;
  double gamma = 0.5, power = 0.5;
  int warmup = 0;
  std::string standardize = "none";  // none, inputs, targets, both (data/standardize.h)
  // Early stopping and the model kept (train/trainer.h).
  int patience = 0;
  double min_delta = 0.0;
  std::string keep;  // best, last; empty: best with patience, else last
  std::string backend = "auto";
  int threads = 1;
  bool tf32 = false;
  bool no_graphs = false;
  std::string kernel = "auto";
  long long verify_every = 0;
  // Many networks at once (train/replicas.h).
  int replicas = 1;
  std::vector<std::string> sweeps;

  // The options given explicitly, by option name ("lr", "min_delta"): a model to start from keeps its
  // own choice where an option is not given, and lr's default depends on the optimizer.
  std::set<std::string> given;
  bool is_given(const std::string& name) const { return given.count(name) > 0; }
  bool many() const { return replicas > 1 || !sweeps.empty(); }
};

// Sets option `name` (a flag's name without "--", '-' as '_': "min_delta") from its text as a flag
// would take it ("0.01", "2,3,3,1", "true"; "sweep" adds one sweep) and marks it given. Throws UsageError
// naming it for an unknown name or a value that is not of its type; the values themselves are checked
// where the run is planned (check_run_options, make_train_plan).
void set_run_option(RunOptions& o, const std::string& name, const std::string& text);
// The names set_run_option knows, in the flags' order.
const std::vector<std::string>& run_option_names();

}  // namespace sigtrain
