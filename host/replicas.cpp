#include "replicas.h"

#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <sstream>

#include "errors.h"
#include "shuffle_key.h"

#ifdef SIGTRAIN_HAVE_CUDA
#include "cuda_backend.h"
#include "fused_host.h"
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

std::vector<ReplicaSettings> expand_sweeps(const std::vector<std::string>& sweeps, int replicas, uint64_t base_seed,
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
  std::vector<ReplicaSettings> settings;
  for (double lr : lrs)
    for (uint64_t seed : seeds) settings.push_back({seed, lr});
  return settings;
}

namespace {

void finish(ReplicaResult& out) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  out.train_mse = out.result.epochs.empty() ? nan : out.result.epochs.back().train_mse;
  out.validation_mse = out.result.epochs.empty() ? nan : out.result.epochs.back().validation_mse;
}

// On the host: threads over networks, each replica one ordinary training run with its own backend.
std::vector<ReplicaResult> train_each(const ReplicaRun& run, const std::vector<ReplicaSettings>& settings,
                                      const Dataset& train, const Dataset& validation, const std::atomic<bool>* stop) {
  std::vector<ReplicaResult> results(settings.size());
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
      TrainConfig config = run.config;
      config.seed = out.settings.seed;
      config.lr = out.settings.lr;
      const Parameters initial = run.initial(out.settings);
      std::unique_ptr<Backend> backend = make_backend(run.backend, initial.spec, run.options);
      TrainObserver quiet;
      out.result = sigtrain::train(*backend, initial, train, validation, config, quiet, stop);
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
// On the GPU: every replica in the same launches of the fused kernel, one block each. This is the
// trainer's loop (host/trainer.cpp) for many networks at once, with the same epoch orders, the same
// cut of each epoch into launches (fused_steps_per_launch) and the same validation, so replica r ends
// exactly where the single fused run with its settings ends.
std::vector<ReplicaResult> train_fused(const ReplicaRun& run, const std::vector<ReplicaSettings>& settings,
                                       const Dataset& train, const Dataset& validation, const std::atomic<bool>* stop) {
  const size_t R = settings.size();
  std::vector<ReplicaResult> results(R);
  std::vector<Parameters> last_good(R);
  std::vector<bool> active(R, true);
  std::vector<float> lrs(R);
  FusedNetworks networks(run.initial(settings[0]).spec, R);
  for (size_t r = 0; r < R; ++r) {
    results[r].settings = settings[r];
    last_good[r] = run.initial(settings[r]);
    networks.set_parameters(r, last_good[r]);
    lrs[r] = float(settings[r].lr);
  }
  networks.set_training_data(train);
  networks.set_learning_rates(lrs);
  const TrainConfig& config = run.config;
  const size_t steps_per_call = fused_steps_per_launch(config.batch);
  const auto start = std::chrono::steady_clock::now();
  bool interrupted = false;
  for (int epoch = 1; epoch <= config.epochs && !interrupted; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    std::vector<EpochOrder> orders(R);
    for (size_t r = 0; r < R; ++r) orders[r] = {config.shuffle, epoch_seed(settings[r].seed, uint64_t(epoch - 1))};
    networks.begin_epoch(orders);
    for (size_t first = 0; first < train.size;) {
      const size_t end = std::min(train.size, first + steps_per_call * config.batch);
      networks.train_steps(first, end, config.batch);
      if (stop && stop->load()) {
        interrupted = true;
        break;
      }
      first = end;
    }
    const std::vector<double> loss_sums = networks.loss_sums();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    for (size_t r = 0; r < R; ++r) {
      if (!active[r]) continue;
      TrainResult& result = results[r].result;
      Parameters now = networks.parameters(r);
      if (!std::isfinite(loss_sums[r]) || !now.all_finite()) {
        active[r] = false;
        result.outcome = TrainOutcome::diverged;
        result.message = "the training loss became " + std::string(std::isnan(loss_sums[r]) ? "NaN" : "infinite") +
                         " in epoch " + std::to_string(epoch);
        continue;
      }
      if (interrupted) {
        result.outcome = TrainOutcome::interrupted;
        result.message = "interrupted in epoch " + std::to_string(epoch);
        last_good[r] = std::move(now);
        continue;
      }
      last_good[r] = std::move(now);
      EpochReport report;
      report.epoch = epoch;
      report.train_mse = loss_sums[r] / double(train.size);
      report.validation_mse =
          validation.size > 0
              ? mean_squared_error(validation, [&](const float* x, size_t n, double* yhat) { networks.predict(r, x, n, yhat); })
              : std::numeric_limits<double>::quiet_NaN();
      report.samples_per_second = double(train.size) * double(R) / std::max(seconds, 1e-9);
      report.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      result.epochs.push_back(report);
    }
  }
  for (size_t r = 0; r < R; ++r) {
    results[r].result.parameters = last_good[r];
    finish(results[r]);
    if (run.on_done) run.on_done(r, results[r]);
  }
  return results;
}
#endif

}  // namespace

std::vector<ReplicaResult> train_replicas(const ReplicaRun& run, const std::vector<ReplicaSettings>& settings,
                                          const Dataset& train, const Dataset& validation,
                                          const std::atomic<bool>* stop) {
#ifdef SIGTRAIN_HAVE_CUDA
  // The GPU takes all replicas at once where the fused kernel fits the network; otherwise, and on the
  // host, replica after replica (threads over networks).
  if (!settings.empty() && (run.backend == "cuda" || run.backend == "auto") && cuda_backend_available() &&
      run.options.kernel != "cublas") {
    FusedShape shape;
    if (make_fused_shape(run.initial(settings[0]).spec, shape)) return train_fused(run, settings, train, validation, stop);
  }
#endif
  return train_each(run, settings, train, validation, stop);
}

int best_replica(const std::vector<ReplicaResult>& results) {
  int best = -1;
  double best_value = std::numeric_limits<double>::infinity();
  for (size_t r = 0; r < results.size(); ++r) {
    const ReplicaResult& x = results[r];
    if (x.result.outcome == TrainOutcome::diverged) continue;
    const double value = std::isnan(x.validation_mse) ? x.train_mse : x.validation_mse;
    if (value < best_value) {
      best_value = value;
      best = int(r);
    }
  }
  return best;
}

}  // namespace sigtrain
