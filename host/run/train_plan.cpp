// From a run's options to a TrainPlan (train_plan.h). Messages name the options as the program's flags.
#include "run/train_plan.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "backends/choose.h"
#include "model/choices.h"
#include "train/memory_estimate.h"
#include "train/replicas.h"
#include "util/errors.h"
#include "util/format.h"

namespace sigtrain {

void check_run_options(const RunOptions& o) {
  if (o.epochs < 0) throw UsageError("--epochs must be 0 or more, got " + std::to_string(o.epochs));
  if (o.batch < 1) throw UsageError("--batch must be at least 1, got " + std::to_string(o.batch));
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw UsageError("--lr must be a finite number above 0, got " + format_number(o.lr));
  if (!(o.val_split >= 0 && o.val_split < 1))
    throw UsageError("--val-split must be in [0, 1), got " + format_number(o.val_split));
  if (o.threads < 0) throw UsageError("--threads must be 0 (all) or more, got " + std::to_string(o.threads));
  if (o.verify_every < 0) throw UsageError("--verify-every must be 0 (off) or more, got " + std::to_string(o.verify_every));
  Schedule schedule;
  schedule.step_every = o.step_every;
  schedule.gamma = o.gamma;
  schedule.power = o.power;
  schedule.warmup = o.warmup;
  check_schedule(schedule);
  if (o.patience < 0) throw UsageError("--patience must be 0 (off) or more, got " + std::to_string(o.patience));
  if (!(o.min_delta >= 0) || !std::isfinite(o.min_delta))
    throw UsageError("--min-delta must be a finite number, 0 or more, got " + format_number(o.min_delta));
  if ((o.patience > 0 || o.keep == "best") && o.val_split == 0)
    throw UsageError(std::string(o.patience > 0 ? "--patience" : "--keep best") +
                     " watches the validation loss: give --val-split above 0");
  const StandardizeWhat standardize = parse_standardize(o.standardize);
  if (o.loss == "bce" && (standardize == StandardizeWhat::targets || standardize == StandardizeWhat::both))
    throw UsageError("--standardize " + o.standardize + " does not go with --loss bce: its targets are probabilities "
                     "in [0, 1]; standardise the inputs only");
  // (The program's parser checks these names too; other callers set them from text.)
  if (!o.keep.empty() && o.keep != "best" && o.keep != "last")
    throw UsageError("--keep must be best or last, got '" + o.keep + "'");
  if (o.kernel != "auto" && o.kernel != "fused" && o.kernel != "cublas")
    throw UsageError("--kernel must be auto, fused or cublas, got '" + o.kernel + "'");
  if (std::find(backend_names().begin(), backend_names().end(), o.backend) == backend_names().end())
    throw UsageError("--backend must be auto, reference, cpu or cuda, got '" + o.backend + "'");
  if (o.replicas < 1) throw UsageError("--replicas must be at least 1, got " + std::to_string(o.replicas));
}

BackendOptions backend_options(const RunOptions& o) {
  BackendOptions options;
  options.threads = o.threads;
  options.tf32 = o.tf32;
  options.cuda_graphs = !o.no_graphs;
  options.kernel = o.kernel;
  options.batch = size_t(o.batch);  // for --backend auto and --kernel auto (backends/choose.h)
  return options;
}

namespace {

// The optimizer's settings by option name (the options' values go to the model's OptimizerSettings).
struct OptimizerValue {
  const char* name;
  double RunOptions::*option;
  double OptimizerSettings::*setting;
};
constexpr OptimizerValue kOptimizerValues[] = {
    {"momentum", &RunOptions::momentum, &OptimizerSettings::momentum},
    {"beta1", &RunOptions::beta1, &OptimizerSettings::beta1},
    {"beta2", &RunOptions::beta2, &OptimizerSettings::beta2},
    {"eps", &RunOptions::eps, &OptimizerSettings::eps},
    {"weight_decay", &RunOptions::weight_decay, &OptimizerSettings::weight_decay},
};

// The starting model's network against the options that describe one: an option given must agree.
void check_init_network(const RunOptions& o, const std::string& init_name, const NetworkSpec& model,
                        const NetworkSpec& flags) {
  const auto mismatch = [&](const std::string& what, const std::string& flag) {
    throw InputError(init_name + ": the model " + what + ", but " + flag);
  };
  if (o.is_given("layers") && model.widths != flags.widths)
    mismatch("is " + model.to_string(), "--layers says " + o.layers);
  // (bias is given false only by the Python module, which gives every option)
  if (o.is_given("bias") && o.bias != model.bias)
    mismatch(model.bias ? "has biases" : "has no biases", o.bias ? "--bias was given" : "bias is false");
  if (o.is_given("activation") && model.hidden != flags.hidden)
    mismatch("has " + name_of(model.hidden) + " hidden layers", "--activation says " + o.activation);
  if (o.is_given("output") && model.output != flags.output)
    mismatch("has a " + name_of(model.output) + " output", "--output says " + o.output);
}

}  // namespace

void check_probability_targets(const Dataset& d) {
  for (size_t k = 0; k < d.y.size(); ++k)
    if (!(d.y[k] >= 0.0f && d.y[k] <= 1.0f))
      throw InputError(d.name + ": --loss bce needs targets in [0, 1], but sample " +
                       std::to_string(k / size_t(d.outputs) + 1) + " has target " + format_number(d.y[k]));
}

namespace {

// The run's sizes for the memory estimate (train/memory_estimate.h): `rows` of data (a file not read
// yet: 0, its size counted instead).
RunMemoryShape memory_shape(const RunOptions& o, const PlanInputs& inputs, const NetworkSpec& spec,
                            OptimizerKind optimizer, size_t rows) {
  RunMemoryShape s;
  s.spec = spec;
  s.optimizer_slots = size_t(optimizer_slots(optimizer));
  s.rows = rows;
  s.validation_rows = size_t(std::floor(o.val_split * double(rows)));
  if (rows == 0) s.file_bytes = inputs.file_bytes;
  s.standardized = o.standardize != "none";
  s.saves = inputs.saves;
  s.checkpoints = inputs.checkpoints;
  s.resumes = inputs.resumes;
  s.batch = size_t(o.batch);
  const int hardware = int(std::max(1u, std::thread::hardware_concurrency()));
  s.threads = o.threads > 0 ? o.threads : hardware;
  const bool many = o.many();
  s.networks = many ? expand_sweeps(o.sweeps, o.replicas, o.seed, o.lr).size() : 1;
  s.at_once = many ? size_t(s.threads) : 1;  // host replicas: threads over networks (train_replicas.cpp)
  BackendOptions options = backend_options(o);
  options.networks = s.networks;
  try {
    const BackendChoice choice = choose_backend(o.backend, spec, options);
    s.backend = choice.backend == BackendKind::reference ? EstimatedBackend::reference
                : choice.backend == BackendKind::cpu     ? EstimatedBackend::cpu
                : choice.kernel == CudaKernel::fused     ? EstimatedBackend::cuda_fused
                                                         : EstimatedBackend::cuda_cublas;
  } catch (const std::exception&) {
    s.backend = EstimatedBackend::cpu;  // the backend's own error comes where the run makes it
  }
  return s;
}

// Fails with one line (exit 1) where the run would need more memory than there is, before it allocates.
void check_memory(const RunOptions& o, const PlanInputs& inputs, const NetworkSpec& spec, OptimizerKind optimizer,
                  size_t rows) {
  const RunMemoryShape shape = memory_shape(o, inputs, spec, optimizer, rows);
  // A size no backend can index is a usage error of its own, not a shortage of memory: say that first.
  check_backend_limits({rows, shape.batch, shape.networks});
  const bool device = shape.backend == EstimatedBackend::cuda_cublas || shape.backend == EstimatedBackend::cuda_fused;
  const std::string shortfall = memory_shortfall(estimate_memory(shape), available_memory(device));
  if (!shortfall.empty()) throw InputError(shortfall);
}

}  // namespace

TrainPlan make_train_plan(const RunOptions& o, const PlanInputs& inputs) {
  TrainPlan plan;
  Model& start = plan.start;
  NetworkSpec flags = parse_widths(o.layers, o.bias);
  flags.hidden = parse_hidden_activation(o.activation, "--activation");
  flags.output = parse_output_activation(o.output, "--output");
  const bool init = inputs.init != nullptr;
  const Model empty;
  const Model& model = init ? *inputs.init : empty;  // the starting model
  if (init) {
    check_init_network(o, inputs.init_name, model.parameters.spec, flags);
    start = model;
  } else {
    // Before the parameters and the data: built-in data are counted by --samples, a file by its size.
    check_memory(o, inputs, flags, parse_optimizer(o.optimizer, "--optimizer"), inputs.rows_before_loading);
    start.parameters = glorot_uniform(flags, o.seed);
  }
  const NetworkSpec& spec = start.parameters.spec;

  // The loss and the optimizer: the flags', or where a flag is not given with --init, the model's.
  if (!init || o.is_given("loss")) start.setup.loss = parse_loss(o.loss, "--loss");
  check_head(start.setup.loss, spec.output);
  OptimizerSettings& optimizer = start.setup.optimizer;
  if (!init || o.is_given("optimizer")) optimizer.kind = parse_optimizer(o.optimizer, "--optimizer");
  for (const OptimizerValue& value : kOptimizerValues)
    if (!init || o.is_given(value.name)) optimizer.*value.setting = o.*value.option;
  check_optimizer_settings(optimizer);
  // The optimizer goes on from the model's state only when it is the same optimizer.
  plan.continued_state = init && optimizer.kind == model.setup.optimizer.kind && model.optimizer_state.steps > 0;
  if (!plan.continued_state) start.optimizer_state = OptimizerState{};

  // The data, split, and standardised as the model (or --standardize, fitted on the training part) says.
  if (init) check_memory(o, inputs, spec, optimizer.kind, inputs.rows_before_loading);
  Dataset data = inputs.load_data(spec);
  check_memory(o, inputs, spec, optimizer.kind, data.size);  // with the rows read
  plan.data_name = data.name;
  if (start.setup.loss == Loss::bce) check_probability_targets(data);
  // (whole data are the one part of themselves)
  const DataPart part = inputs.part_of ? inputs.part_of(data) : DataPart{0, data.size, {}};
  TrainValidation split = split_validation_part(data, o.val_split, part.first_row, part.total_rows);
  const StandardizeWhat standardize = parse_standardize(o.standardize);
  if (init) {
    if (o.is_given("standardize") && standardize != model.standardization.what())
      throw UsageError("--standardize " + o.standardize + ": " + inputs.init_name + " was trained with --standardize " +
                       name_of(model.standardization.what()) + ", which a run from it keeps");
  } else {
    start.standardization = Standardization::fit(split.train, standardize, part.sum_over_parts);
  }
  if (start.setup.loss == Loss::bce && start.standardization.targets())
    throw UsageError("--loss bce does not go with standardised targets: its targets are probabilities in [0, 1]");
  if (start.standardization.none()) {
    plan.split = std::move(split);
  } else {
    plan.split.train = start.standardization.apply(split.train);
    plan.split.validation = start.standardization.apply(split.validation);
    plan.raw_validation = std::move(split.validation);
  }

  TrainConfig& config = plan.config;
  config.epochs = o.epochs;
  config.batch = size_t(o.batch);
  // Without --lr, each optimizer's usual rate: the notes' 0.2 for the SGD family, PyTorch's 0.001 for Adam.
  const bool adam = optimizer.kind == OptimizerKind::adam || optimizer.kind == OptimizerKind::adamw;
  config.lr = o.is_given("lr") || !adam ? o.lr : 0.001;
  config.schedule.kind = parse_schedule(o.schedule);
  config.schedule.step_every = o.step_every;
  config.schedule.gamma = o.gamma;
  config.schedule.power = o.power;
  config.schedule.warmup = o.warmup;
  config.seed = o.seed;
  config.shuffle = !o.no_shuffle;
  config.verify_every = o.verify_every;
  config.patience = o.patience;
  config.min_delta = o.min_delta;
  config.keep_best = o.keep.empty() ? o.patience > 0 : o.keep == "best";
  return plan;
}

std::string loss_label(const TrainPlan& plan) { return name_of(plan.start.setup.loss); }

std::string describe_setup(const TrainPlan& plan) {
  const Model& m = plan.start;
  const OptimizerSettings& s = m.setup.optimizer;
  const OptimizerSettings defaults;
  std::string text;
  const auto add = [&](const std::string& part) { text += "; " + part; };
  if (m.setup.loss != Loss::mse) add("loss " + name_of(m.setup.loss));
  if (s.kind != OptimizerKind::sgd || s.weight_decay != 0.0) {
    std::string o = "optimizer " + name_of(s.kind);
    std::vector<std::string> values;
    if (s.kind == OptimizerKind::momentum || s.kind == OptimizerKind::nesterov)
      values.push_back("momentum " + format_number(s.momentum));
    if (s.kind == OptimizerKind::adam || s.kind == OptimizerKind::adamw) {
      values.push_back("beta1 " + format_number(s.beta1));
      values.push_back("beta2 " + format_number(s.beta2));
      values.push_back("eps " + format_number(s.eps));
    }
    if (s.weight_decay != defaults.weight_decay)
      values.push_back((s.kind == OptimizerKind::adamw ? "decoupled weight decay " : "weight decay (L2) ") +
                       format_number(s.weight_decay));
    for (size_t k = 0; k < values.size(); ++k) o += (k ? ", " : " (") + values[k] + (k + 1 == values.size() ? ")" : "");
    if (plan.continued_state) o += ", continued from step " + std::to_string(m.optimizer_state.steps);
    add(o);
  }
  const Schedule& schedule = plan.config.schedule;
  if (schedule.kind != ScheduleKind::constant || schedule.warmup > 0) add("schedule " + schedule.describe());
  if (!m.standardization.none())
    add("standardised " + std::string(m.standardization.inputs() && m.standardization.targets() ? "inputs and targets"
                                      : m.standardization.inputs()                              ? "inputs"
                                                                                                : "targets") +
        (m.standardization.targets() ? " (losses in standardised units)" : ""));
  if (plan.config.patience > 0)
    add("early stopping: patience " + std::to_string(plan.config.patience) + ", min-delta " +
        format_number(plan.config.min_delta));
  if (plan.config.keep_best) add("keeping the epoch with the best validation " + loss_label(plan));
  return text;
}

}  // namespace sigtrain
