#include "trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "errors.h"
#include "reference_backend.h"
#include "shuffle_key.h"

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
  ReferenceBackend reference(params.spec);
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

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// --verify-every: runs the reference on the batch the backend is about to step on, at the backend's
// current parameters, and compares loss and gradients layer by layer.
class Verifier {
 public:
  explicit Verifier(const Dataset& train) : train_(train) {}

  VerifyReport compare(Backend& backend, const std::vector<uint32_t>& order, size_t first, size_t count, long step) {
    const int n0 = train_.inputs, nL = train_.outputs;
    x_.resize(count * n0);
    y_.resize(count * nL);
    for (size_t b = 0; b < count; ++b) {
      const size_t row = order.empty() ? first + b : order[first + b];
      std::copy(train_.x_of(row), train_.x_of(row) + n0, x_.begin() + b * n0);
      std::copy(train_.y_of(row), train_.y_of(row) + nL, y_.begin() + b * nL);
    }
    const ReferenceComparison c = compare_with_reference(backend, {x_.data(), y_.data(), count});
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

 private:
  const Dataset& train_;
  std::vector<float> x_, y_;
};

}  // namespace

TrainResult train(Backend& backend, const Parameters& initial, const Dataset& train, const Dataset& validation,
                  const TrainConfig& config, TrainObserver& observer, const std::atomic<bool>* stop) {
  TrainResult result;
  backend.set_parameters(initial);
  backend.set_training_data(train);
  Parameters last_good = initial;  // parameters at the end of the last epoch whose loss was finite
  Verifier verifier(train);
  const bool verify = config.verify_every > 0 && backend.name() != "reference";
  const bool check_every_step = backend.loss_is_cheap_to_read();
  const auto stop_requested = [&] { return stop && stop->load(std::memory_order_relaxed); };
  const auto diverged = [&](int epoch) {
    result.outcome = TrainOutcome::diverged;
    result.parameters = last_good;
    result.message = "the training loss became " + std::string(std::isnan(backend.epoch_loss_sum()) ? "NaN" : "infinite") +
                     " in epoch " + std::to_string(epoch) + " (try a smaller --lr); keeping the model from " +
                     (epoch == 1 ? std::string("before training") : "the end of epoch " + std::to_string(epoch - 1));
    return result;
  };

  const auto start = Clock::now();
  long step = 0;
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    const uint64_t seed = epoch_seed(config.seed, uint64_t(epoch - 1));
    backend.begin_epoch({config.shuffle, seed});
    std::vector<uint32_t> order;  // the host's copy of the order, needed only to verify
    if (verify && config.shuffle) order = epoch_permutation(train.size, seed);

    // Steps go to the backend a call at a time: one step, or as many as it likes at once (the fused
    // kernel runs an epoch's steps in few launches); one step at a time while verifying.
    const size_t steps_per_call = verify ? 1 : std::max<size_t>(1, backend.steps_per_call(config.batch));
    for (size_t first = 0; first < train.size;) {
      const size_t end = std::min(train.size, first + steps_per_call * config.batch);
      if (verify && step % config.verify_every == 0) {
        const VerifyReport report = verifier.compare(backend, order, first, end - first, step);
        observer.on_verify(report);
        if (!(report.loss_difference <= kVerifyTolerance && report.gradient_difference <= kVerifyTolerance))
          throw InputError("--verify-every: at step " + std::to_string(step) + " the " + backend.name() +
                           " backend differs from the fp64 reference by " + std::to_string(report.gradient_difference) +
                           " in the gradient of layer " + std::to_string(report.worst_layer) + " and " +
                           std::to_string(report.loss_difference) + " in the loss (tolerance " +
                           std::to_string(kVerifyTolerance) + ")");
      }
      backend.train_steps(first, end, config.batch, config.lr);
      step += long((end - first + config.batch - 1) / config.batch);
      if (check_every_step && !std::isfinite(backend.epoch_loss_sum())) return diverged(epoch);
      observer.on_step(epoch, end, train.size);
      if (stop_requested()) break;
      first = end;
    }
    const double epoch_seconds = seconds_since(epoch_start);
    if (!std::isfinite(backend.epoch_loss_sum())) return diverged(epoch);
    if (stop_requested()) {
      // An interrupted epoch reports nothing; the model after the last finished step is kept.
      Parameters now = backend.parameters();
      result.outcome = TrainOutcome::interrupted;
      result.parameters = now.all_finite() ? now : last_good;
      result.message = "interrupted in epoch " + std::to_string(epoch);
      return result;
    }
    Parameters now = backend.parameters();
    if (!now.all_finite()) return diverged(epoch);
    last_good = std::move(now);

    EpochReport report;
    report.epoch = epoch;
    report.train_mse = backend.epoch_loss_sum() / double(train.size);
    report.validation_mse =
        validation.size > 0 ? backend.mean_squared_error(validation) : std::numeric_limits<double>::quiet_NaN();
    report.samples_per_second = double(train.size) / std::max(epoch_seconds, 1e-9);
    report.elapsed_seconds = seconds_since(start);
    result.epochs.push_back(report);
    observer.on_epoch(report);
  }
  result.parameters = last_good;
  return result;
}

}  // namespace sigtrain
