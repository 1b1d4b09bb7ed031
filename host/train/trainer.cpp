#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "util/errors.h"
#include "backends/reference/reference_backend.h"
#include "math/epoch_shuffle.h"

namespace sigtrain {

double relative_difference(const double* a, const double* b, size_t n) {
  double largest_difference = 0.0, largest_reference = 0.0;
  for (size_t k = 0; k < n; ++k) {
    largest_difference = std::max(largest_difference, std::abs(a[k] - b[k]));
    largest_reference = std::max(largest_reference, std::abs(b[k]));
  }
  if (largest_difference == 0.0) return 0.0;
  return largest_reference > 0.0 ? largest_difference / largest_reference : std::numeric_limits<double>::infinity();
}

double layer_relative_difference(const Parameters& a, const Parameters& b, int l) {
  const size_t offset = a.spec.weight_offset(l), n = a.spec.weight_offset(l + 1) - offset;
  return relative_difference(a.values.data() + offset, b.values.data() + offset, n);
}

double ReferenceComparison::worst() const {
  double largest = loss;
  for (double d : layers) largest = std::max(largest, d);
  return largest;
}

ReferenceComparison compare_with_reference(Backend& backend, const Batch& batch) {
  const Parameters params = backend.parameters();
  ReferenceBackend reference(params.spec, backend.setup());
  reference.set_parameters(params);
  Parameters fast_grad, reference_grad;
  const double fast_loss = backend.loss_and_gradients(batch, fast_grad);
  const double reference_loss = reference.loss_and_gradients(batch, reference_grad);
  ReferenceComparison c;
  c.loss = relative_difference(&fast_loss, &reference_loss, 1);
  for (int l = 1; l <= params.spec.num_layers(); ++l)
    c.layers.push_back(layer_relative_difference(fast_grad, reference_grad, l));
  return c;
}

namespace {

// "0.001", "1e-05": a number for a message.
std::string format_compact(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

// config.clock, or the steady clock in seconds where the config gives none.
std::function<double()> clock_of(const TrainConfig& config) {
  if (config.clock) return config.clock;
  return [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
}

}  // namespace

VerifyReport verify_report(const ReferenceComparison& c, long step) {
  VerifyReport report;
  report.step = step;
  report.loss_difference = c.loss;
  for (int l = 1; l <= int(c.layers.size()); ++l)
    if (c.layers[l - 1] > report.gradient_difference || report.worst_layer == 0) {
      report.gradient_difference = c.layers[l - 1];
      report.worst_layer = l;
    }
  return report;
}

void check_verify_report(const VerifyReport& report, const std::string& backend) {
  if (report.loss_difference <= kVerifyTolerance && report.gradient_difference <= kVerifyTolerance) return;
  throw InputError("--verify-every: at step " + std::to_string(report.step) + " the " + backend +
                   " backend differs from the fp64 reference by " + std::to_string(report.gradient_difference) +
                   " in the gradient of layer " + std::to_string(report.worst_layer) + " and " +
                   std::to_string(report.loss_difference) + " in the loss (tolerance " +
                   std::to_string(kVerifyTolerance) + ")");
}

namespace {

// --verify-every: runs the reference on the batch the backend is about to step on, at the backend's
// current parameters, and compares loss and gradients layer by layer.
class Verifier {
 public:
  explicit Verifier(const Dataset& train) : train_(train) {}

  VerifyReport compare(Backend& backend, const EpochShuffle& order, size_t first, size_t count, long step) {
    const int n0 = train_.inputs, nL = train_.outputs;
    x_.resize(count * n0);
    y_.resize(count * nL);
    for (size_t b = 0; b < count; ++b) {
      const size_t row = order.row(first + b);
      std::copy(train_.x_of(row), train_.x_of(row) + n0, x_.begin() + b * n0);
      std::copy(train_.y_of(row), train_.y_of(row) + nL, y_.begin() + b * nL);
    }
    return verify_report(compare_with_reference(backend, {x_.data(), y_.data(), count}), step);
  }

 private:
  const Dataset& train_;
  std::vector<float> x_, y_;
};

// The loop of train() and train_group(); `verified` is the one backend --verify-every compares, or null.
// `initial` refers to the caller's models: each is copied once, into what the run keeps (memory: a wide
// network's parameters are the largest thing a run holds, and every copy of them counts).
std::vector<TrainResult> run_training(NetworkGroup& group, const std::vector<const Parameters*>& initial,
                                      const std::vector<NetworkSettings>& settings, const Dataset& train,
                                      const Dataset& validation, const TrainConfig& config, TrainObserver& observer,
                                      const std::atomic<bool>* stop, Backend* verified,
                                      const std::vector<OptimizerState>& initial_states, const TrainProgress* resume) {
  const size_t R = group.size();
  if (initial.size() != R || settings.size() != R || (!initial_states.empty() && initial_states.size() != R))
    throw std::invalid_argument("train_group: one initial model (and optimizer state) and one setting per network");
  // The rows the epochs cover and validate on: every rank's part where the data are split over the ranks
  // of a job (NetworkGroup::rows_in_all_parts), else the data sets' own.
  const size_t training_rows = group.rows_in_all_parts(train), validation_rows = group.rows_in_all_parts(validation);
  if ((config.patience > 0 || config.keep_best) && validation_rows == 0)
    throw std::invalid_argument("early stopping and keeping the best model need a validation set");
  if ((config.progress_every > 0 || resume) && R != 1)
    throw std::invalid_argument("progress and resuming are for a single run");
  std::vector<TrainResult> results(R);
  std::vector<KeptModel> kept(R);
  // Where the run stands after its last finished epoch (progress_every > 0 only): what a stop reports.
  const bool track_progress = config.progress_every > 0;
  TrainProgress last;
  if (resume) {
    group.set_parameters(0, resume->parameters);
    group.set_optimizer_state(0, resume->optimizer_state);
    kept[0] = resume->kept;
    if (!resume->stopped_early.empty()) {
      results[0].outcome = TrainOutcome::stopped_early;
      results[0].message = resume->stopped_early;
    }
    if (track_progress) last = *resume;
  } else {
    for (size_t r = 0; r < R; ++r) {
      group.set_parameters(r, *initial[r]);
      if (!initial_states.empty()) group.set_optimizer_state(r, initial_states[r]);
      kept[r].parameters = *initial[r];
    }
    // the optimizer states the run starts from (zeros, or initial_states as the group holds them)
    std::vector<Parameters> start_parameters;
    std::vector<OptimizerState> start_states;
    group.snapshot(start_parameters, start_states);
    for (size_t r = 0; r < R; ++r) kept[r].optimizer_state = std::move(start_states[r]);
    if (track_progress) {
      last.parameters = kept[0].parameters;
      last.optimizer_state = kept[0].optimizer_state;
      last.kept = kept[0];
    }
  }
  group.set_training_data(train);
  Verifier verifier(train);
  const bool verify = verified && config.verify_every > 0 && verified->name() != "reference";
  const bool check_every_step = group.loss_is_cheap_to_read();
  const auto stop_requested = [&] { return stop && stop->load(std::memory_order_relaxed); };
  // A network trains on until it diverges or stops early (the others go on); training ends when none is left.
  const auto training = [&](size_t r) {
    return results[r].outcome != TrainOutcome::diverged && results[r].outcome != TrainOutcome::stopped_early;
  };
  const auto any_training = [&] {
    for (size_t r = 0; r < R; ++r)
      if (training(r)) return true;
    return false;
  };
  const auto diverge = [&](size_t r, int epoch, double loss_sum) {
    results[r].outcome = TrainOutcome::diverged;
    results[r].message = "the training loss became " + std::string(std::isnan(loss_sum) ? "NaN" : "infinite") +
                         " in epoch " + std::to_string(epoch) + " (try a smaller --lr); keeping the model from " +
                         (kept[r].epoch == 0 ? std::string("before training") : "the end of epoch " + std::to_string(kept[r].epoch));
  };
  const auto finish = [&] {
    for (size_t r = 0; r < R; ++r) {
      if (results[r].outcome == TrainOutcome::interrupted && !config.keep_best) continue;  // set at the stop
      results[r].parameters = std::move(kept[r].parameters);  // (finish ends the run: kept is not read again)
      results[r].optimizer_state = std::move(kept[r].optimizer_state);
      results[r].kept_epoch = kept[r].epoch;
      results[r].kept_validation_loss = kept[r].validation_loss;
    }
    return results;
  };

  const std::function<double()> clock = clock_of(config);
  const double start = clock();
  long step = resume ? resume->steps : 0;
  std::vector<double> sums(R);  // each network's loss sum so far this epoch
  std::vector<double> lrs(R);
  std::vector<Evaluation> validations(R);  // each network's figures on the validation set, this epoch
  std::vector<Parameters> now_parameters;     // each network's model after the epoch (NetworkGroup::snapshot)
  std::vector<OptimizerState> now_states;
  for (int epoch = resume ? resume->epochs_done + 1 : 1; epoch <= config.epochs && any_training(); ++epoch) {
    const double epoch_start = clock();
    for (size_t r = 0; r < R; ++r) lrs[r] = config.schedule.lr(settings[r].lr, epoch, config.epochs);
    group.set_learning_rates(lrs);
    std::vector<EpochOrder> orders;
    for (size_t r = 0; r < R; ++r) orders.push_back({config.shuffle, epoch_seed(settings[r].seed, uint64_t(epoch - 1))});
    group.begin_epoch(orders);
    // The order as the backends compute it, needed here only to verify.
    const EpochShuffle order = make_epoch_shuffle(training_rows, config.shuffle, orders[0].seed);

    // Steps go to the group a call at a time: one step, or as many as it likes at once (the fused
    // kernel runs an epoch's steps in few launches); one step at a time while verifying.
    const size_t steps_per_call = verify ? 1 : std::max<size_t>(1, group.steps_per_call(config.batch));
    for (size_t first = 0; first < training_rows;) {
      const size_t end = std::min(training_rows, first + steps_per_call * config.batch);
      if (verify && step % config.verify_every == 0) {
        const VerifyReport report = verifier.compare(*verified, order, first, end - first, step);
        observer.on_verify(report);
        check_verify_report(report, verified->name());
      }
      group.train_steps(first, end, config.batch);
      step += long((end - first + config.batch - 1) / config.batch);
      if (check_every_step) {
        group.epoch_loss_sums(sums.data());
        for (size_t r = 0; r < R; ++r)
          if (training(r) && !std::isfinite(sums[r])) diverge(r, epoch, sums[r]);
        if (!any_training()) return finish();
      }
      observer.on_step(epoch, end, training_rows);
      if (stop_requested()) break;
      first = end;
    }
    // The read-back waits until every step given has finished (a device runs them asynchronously), so
    // the clock is read after it: the epoch's time is that of the work done, not of its enqueuing.
    group.epoch_loss_sums(sums.data());
    const double epoch_seconds = clock() - epoch_start;
    for (size_t r = 0; r < R; ++r)
      if (training(r) && !std::isfinite(sums[r])) diverge(r, epoch, sums[r]);
    if (stop_requested()) {
      // An interrupted epoch reports nothing; the model after the last finished step is kept (with
      // keep_best, the best epoch's). A checkpoint can only go on from the last finished epoch.
      if (track_progress) observer.on_progress(last);
      for (size_t r = 0; r < R; ++r) {
        if (!training(r)) continue;
        Parameters now = group.parameters(r);
        results[r].outcome = TrainOutcome::interrupted;
        results[r].message = "interrupted in epoch " + std::to_string(epoch);
        if (config.keep_best) continue;
        const bool finite = now.all_finite();
        results[r].parameters = finite ? std::move(now) : kept[r].parameters;
        results[r].optimizer_state = finite ? group.optimizer_state(r) : kept[r].optimizer_state;
        results[r].kept_epoch = finite ? epoch : kept[r].epoch;  // (the epoch in progress, when finite)
      }
      return finish();
    }
    // Every network's validation in one call (one pass on the device for the fused group): those that
    // no longer train, or diverged in this epoch, are evaluated too and their figures left unused.
    if (validation_rows > 0 && any_training()) group.evaluate_all(validation, validations.data());
    // Every network's model after the epoch, in one call (one copy of each buffer for a device group).
    if (any_training()) group.snapshot(now_parameters, now_states);
    for (size_t r = 0; r < R; ++r) {
      if (!training(r)) continue;
      Parameters& now = now_parameters[r];
      if (!now.all_finite()) {
        diverge(r, epoch, sums[r]);
        continue;
      }
      EpochReport report;
      report.network = r;
      report.epoch = epoch;
      report.lr = lrs[r];
      report.train_loss = sums[r] / double(training_rows);
      report.validation_loss = validation_rows > 0 ? validations[r].loss : std::numeric_limits<double>::quiet_NaN();
      report.samples_per_second = double(training_rows) * double(R) / std::max(epoch_seconds, 1e-9);
      report.elapsed_seconds = clock() - start;
      results[r].epochs.push_back(report);
      // The model to end with: the last finite one, or with keep_best the best by validation loss.
      KeptModel& k = kept[r];
      // As Keras's EarlyStopping: an epoch improves on the best when it is lower by more than min_delta,
      // and only such an epoch becomes the best (so a slow drift below it does not reset the patience).
      const bool improved = report.validation_loss < k.best_validation - config.min_delta;
      if (improved) k.best_validation = report.validation_loss;
      k.epochs_without_improvement = improved ? 0 : k.epochs_without_improvement + 1;
      if (!config.keep_best || improved) {
        // (copied where the progress below takes the epoch's model as well)
        k.parameters = track_progress ? now : std::move(now);
        k.optimizer_state = track_progress ? now_states[r] : std::move(now_states[r]);
        k.epoch = epoch;
        k.validation_loss = report.validation_loss;
      }
      observer.on_epoch(report);
      if (config.patience > 0 && k.epochs_without_improvement >= config.patience && epoch < config.epochs) {
        results[r].outcome = TrainOutcome::stopped_early;
        results[r].message = "stopped early after epoch " + std::to_string(epoch) + ": the validation loss did not " +
                             "improve by more than " + format_compact(config.min_delta) + " for " +
                             std::to_string(config.patience) + " epochs";
      }
      if (track_progress) {  // (a single run: r is 0)
        last.epochs_done = epoch;
        last.steps = step;
        last.parameters = std::move(now);
        last.optimizer_state = std::move(now_states[r]);
        last.kept = k;
        last.stopped_early = results[r].outcome == TrainOutcome::stopped_early ? results[r].message : "";
        if (epoch % config.progress_every == 0) observer.on_progress(last);
      }
    }
  }
  return finish();
}

}  // namespace

TrainResult train(Backend& backend, const Parameters& initial, const Dataset& train, const Dataset& validation,
                  const TrainConfig& config, TrainObserver& observer, const std::atomic<bool>* stop,
                  const OptimizerState* initial_state, const TrainProgress* resume) {
  BackendGroup one({&backend});
  std::vector<OptimizerState> states;
  if (initial_state) states.push_back(*initial_state);
  return std::move(run_training(one, {&initial}, {{config.seed, config.lr}}, train, validation, config, observer, stop,
                                &backend, states, resume)[0]);
}

std::vector<TrainResult> train_group(NetworkGroup& group, const std::vector<Parameters>& initial,
                                     const std::vector<NetworkSettings>& settings, const Dataset& train,
                                     const Dataset& validation, const TrainConfig& config, TrainObserver& observer,
                                     const std::atomic<bool>* stop, const std::vector<OptimizerState>& initial_states,
                                     const TrainProgress* resume) {
  std::vector<const Parameters*> models;
  for (const Parameters& p : initial) models.push_back(&p);
  return run_training(group, models, settings, train, validation, config, observer, stop, nullptr, initial_states,
                      resume);
}

}  // namespace sigtrain
