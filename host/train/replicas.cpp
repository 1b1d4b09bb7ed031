#include "train/replicas.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <sstream>

#include "util/errors.h"

#ifdef SIGTRAIN_HAVE_CUDA
#include "backends/choose.h"
#include "backends/cuda/fused_networks.h"
#include "train/memory_estimate.h"
#endif

namespace sigtrain {

namespace {

std::vector<double> parse_values(const std::string& key, const std::string& text) {
  std::vector<double> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    // "a-b" is an inclusive range of whole numbers (seeds); the '-' after the first character.
    const size_t dash = item.find('-', 1);
    size_t used = 0;
    try {
      if (key == "seed" && dash != std::string::npos) {
        const long long first = std::stoll(item.substr(0, dash), &used);
        size_t used_last = 0;
        const long long last = std::stoll(item.substr(dash + 1), &used_last);
        if (used != dash || used_last != item.size() - dash - 1 || last < first || last - first > 100000) throw 0;
        for (long long v = first; v <= last; ++v) values.push_back(double(v));
        continue;
      }
      const double v = std::stod(item, &used);
      if (used != item.size() || !std::isfinite(v)) throw 0;
      values.push_back(v);
    } catch (...) {
      throw UsageError("--sweep " + key + "=" + text + ": '" + item + "' is not " +
                       (key == "seed" ? "a seed or a range like 1-16" : "a number"));
    }
  }
  if (values.empty()) throw UsageError("--sweep " + key + "= needs at least one value");
  return values;
}

}  // namespace

std::vector<NetworkSettings> expand_sweeps(const std::vector<std::string>& sweeps, int replicas, uint64_t base_seed,
                                           double base_lr) {
  if (replicas < 1) throw UsageError("--replicas must be at least 1, got " + std::to_string(replicas));
  std::vector<double> lrs = {base_lr};
  std::vector<uint64_t> seeds;
  bool seed_swept = false;
  for (const std::string& sweep : sweeps) {
    const size_t eq = sweep.find('=');
    const std::string key = sweep.substr(0, eq);
    if (eq == std::string::npos || (key != "lr" && key != "seed"))
      throw UsageError("--sweep '" + sweep + "': expected lr=… or seed=… (e.g. --sweep lr=0.1,0.3,1 --sweep seed=1-16)");
    const std::vector<double> values = parse_values(key, sweep.substr(eq + 1));
    if (key == "lr") {
      for (double v : values)
        if (!(v > 0)) throw UsageError("--sweep lr: every learning rate must be above 0");
      lrs = values;
    } else {
      seeds.clear();
      for (double v : values) {
        if (v < 0) throw UsageError("--sweep seed: seeds are 0 or more");
        seeds.push_back(uint64_t(v));
      }
      seed_swept = true;
    }
  }
  if (seed_swept && replicas > 1) throw UsageError("give --replicas or a seed sweep, not both");
  if (!seed_swept)
    for (int r = 0; r < replicas; ++r) seeds.push_back(base_seed + uint64_t(r));
  std::vector<NetworkSettings> settings;
  for (double lr : lrs)
    for (uint64_t seed : seeds) settings.push_back({seed, lr});
  return settings;
}

namespace {

void finish(ReplicaResult& out) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  out.train_loss = out.validation_loss = nan;
  const std::vector<EpochReport>& epochs = out.result.epochs;
  for (const EpochReport& e : epochs)
    if (e.epoch == out.result.kept_epoch) {
      out.train_loss = e.train_loss;
      out.validation_loss = e.validation_loss;
    }
  // Interrupted in the middle of an epoch, the kept model has no figures of its own: the last finished
  // epoch's stand in, so that the network is listed and ranked by how far it got.
  if (out.result.outcome == TrainOutcome::interrupted && std::isnan(out.train_loss) && !epochs.empty()) {
    out.train_loss = epochs.back().train_loss;
    out.validation_loss = epochs.back().validation_loss;
  }
}

// The options each replica's backend is made with. On the cuBLAS path every replica keeps its own
// device copy of the training data: how much each may keep resident is decided here, once, from the
// free device memory measured before any starts (replica_data_allowance), not by each replica from what
// it finds free as it starts (replicas starting together would each count the same free memory and
// together run out).
BackendOptions replica_options(const ReplicaRun& run, const NetworkSettings& first, size_t at_once) {
  BackendOptions options = run.options;
#ifdef SIGTRAIN_HAVE_CUDA
  if (options.device_data_limit != 0 || (run.backend != "cuda" && run.backend != "auto")) return options;
  const NetworkSpec spec = run.initial(first).spec;
  if (choose_backend(run.backend, spec, options).backend != BackendKind::cuda) return options;
  const AvailableMemory available = available_memory(/*device=*/true);
  if (available.device < 0) return options;  // not measured: each replica sizes itself, as a single run does
  RunMemoryShape shape;
  shape.spec = spec;
  shape.optimizer_slots = size_t(optimizer_slots(run.setup.optimizer.kind));
  shape.batch = run.config.batch;
  shape.backend = EstimatedBackend::cuda_cublas;
  options.device_data_limit = replica_data_allowance(size_t(available.device), at_once, size_t(estimate_memory(shape).device));
#else
  (void)first;
  (void)at_once;
#endif
  return options;
}

// On the host: threads over networks, each replica one ordinary training run with its own backend.
std::vector<ReplicaResult> train_each(const ReplicaRun& run, const std::vector<NetworkSettings>& settings,
                                      const Dataset& train, const Dataset& validation, const std::atomic<bool>* stop) {
  std::vector<ReplicaResult> results(settings.size());
  if (settings.empty()) return results;
  const size_t at_once = std::min(settings.size(), size_t(std::max(1, run.parallel)));
  const BackendOptions options = replica_options(run, settings[0], at_once);
  std::exception_ptr first_error;
  std::atomic<bool> failed{false};  // the others stop starting new replicas
  std::mutex mutex;                 // guards first_error and on_done
  const long count = long(settings.size());
#pragma omp parallel for schedule(dynamic, 1) num_threads(std::max(1, run.parallel))
  for (long r = 0; r < count; ++r) {
    try {
      if (failed) continue;
      ReplicaResult& out = results[size_t(r)];
      out.settings = settings[size_t(r)];
      if (stop && stop->load()) {  // Ctrl-C before its turn: it does not start
        out.ran = false;
        out.result.outcome = TrainOutcome::interrupted;
        out.result.message = "did not run (interrupted before it started)";
        out.train_loss = out.validation_loss = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      TrainConfig config = run.config;
      config.seed = out.settings.seed;
      config.lr = out.settings.lr;
      const Parameters initial = run.initial(out.settings);
      std::unique_ptr<Backend> backend = make_backend(run.backend, initial.spec, run.setup, options);
      TrainObserver quiet;
      out.result = sigtrain::train(*backend, initial, train, validation, config, quiet, stop, &run.initial_state);
      finish(out);
      std::lock_guard<std::mutex> lock(mutex);
      if (run.on_done) run.on_done(size_t(r), out);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!first_error) first_error = std::current_exception();
      failed = true;
    }
  }
  if (first_error) std::rethrow_exception(first_error);
  return results;
}

#ifdef SIGTRAIN_HAVE_CUDA
// On the GPU: every replica in the same launches of the fused kernel, one block (or cluster) each,
// driven by the trainer's own loop (train_group), so replica r ends exactly where the single fused run
// with its settings ends.
std::vector<ReplicaResult> train_fused(const ReplicaRun& run, const std::vector<NetworkSettings>& settings,
                                       const Dataset& train, const Dataset& validation, const std::atomic<bool>* stop) {
  std::vector<Parameters> initial;
  for (const NetworkSettings& s : settings) initial.push_back(run.initial(s));
  FusedNetworks networks(initial[0].spec, run.setup, settings.size());
  struct Progress : TrainObserver {
    const ReplicaRun& run;
    explicit Progress(const ReplicaRun& r) : run(r) {}
    void on_step(int epoch, size_t done, size_t total) override {
      if (run.on_progress) run.on_progress(epoch, done, total);
    }
  } progress(run);
  std::vector<TrainResult> trained =
      train_group(networks, initial, settings, train, validation, run.config, progress, stop,
                  std::vector<OptimizerState>(settings.size(), run.initial_state));
  std::vector<ReplicaResult> results(settings.size());
  for (size_t r = 0; r < settings.size(); ++r) {
    results[r].settings = settings[r];
    results[r].result = std::move(trained[r]);
    finish(results[r]);
    if (run.on_done) run.on_done(r, results[r]);
  }
  return results;
}
#endif

}  // namespace

std::vector<ReplicaResult> train_replicas(const ReplicaRun& run, const std::vector<NetworkSettings>& settings,
                                          const Dataset& train, const Dataset& validation,
                                          const std::atomic<bool>* stop) {
#ifdef SIGTRAIN_HAVE_CUDA
  // Where the run's backend is the fused kernel (choose_backend), the GPU takes all replicas at once;
  // otherwise, and on the host, replica after replica (threads over networks).
  if (!settings.empty() &&
      choose_backend(run.backend, run.initial(settings[0]).spec, run.options).kernel == CudaKernel::fused)
    return train_fused(run, settings, train, validation, stop);
#endif
  return train_each(run, settings, train, validation, stop);
}

int best_replica(const std::vector<ReplicaResult>& results) {
  int best = -1;
  double best_value = std::numeric_limits<double>::infinity();
  for (size_t r = 0; r < results.size(); ++r) {
    const ReplicaResult& x = results[r];
    if (!x.ran || x.result.outcome == TrainOutcome::diverged) continue;
    const double value = std::isnan(x.validation_loss) ? x.train_loss : x.validation_loss;
    if (value < best_value) {
      best_value = value;
      best = int(r);
    }
  }
  return best;
}

}  // namespace sigtrain
