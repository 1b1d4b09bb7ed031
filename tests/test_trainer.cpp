// The training loop: batches, order, partial batches, validation split, divergence, interruption.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "backend_test_util.h"
#include "backends/cpu/cpu_backend.h"
#include "util/errors.h"
#include "backends/reference/reference.h"
#include "backends/reference/reference_backend.h"
#include "data/epoch_order.h"
#include "train/trainer.h"

namespace sigtrain {
namespace {

using testing::random_dataset;
using testing::random_parameters;

// SGD written out by hand with the reference functions: epoch e visits rows in `order_of(e)`, in
// batches of B, the last one smaller and averaged over its own size.
template <typename OrderOf>
Parameters manual_sgd(Parameters p, const Dataset& d, size_t B, double lr, int epochs, OrderOf order_of) {
  for (int e = 0; e < epochs; ++e) {
    const std::vector<uint32_t> order = order_of(e);
    for (size_t first = 0; first < d.size; first += B) {
      const size_t count = std::min(B, d.size - first);
      std::vector<double> X, Y;
      for (size_t b = 0; b < count; ++b) {
        X.insert(X.end(), d.x_of(order[first + b]), d.x_of(order[first + b]) + d.inputs);
        Y.insert(Y.end(), d.y_of(order[first + b]), d.y_of(order[first + b]) + d.outputs);
      }
      Parameters g;
      reference::loss_and_gradients(p, Loss::mse, X.data(), Y.data(), int(count), g);
      for (size_t k = 0; k < p.values.size(); ++k) p.values[k] -= lr * g.values[k];  // θ ← θ − lr·dθ
    }
  }
  return p;
}

// Catches a trainer that drops the last partial batch, averages it over B instead of its own size,
// or visits the samples in another order than epoch_permutation(N, epoch_seed(seed, e)).
TEST(Trainer, ShuffledEpochsMatchHandWrittenSgd) {
  const NetworkSpec spec{{3, 4, 2}, true};
  const Dataset d = random_dataset(spec, 23, 1);  // 23 = 4 batches of 5 and one of 3
  const Parameters p = random_parameters(spec, 2);
  TrainConfig config;
  config.epochs = 3;
  config.batch = 5;
  config.lr = 0.2;
  config.seed = 77;
  TrainObserver quiet;
  ReferenceBackend backend(spec);
  const TrainResult result = train(backend, p, d, Dataset{}, config, quiet);
  const Parameters expected = manual_sgd(p, d, 5, 0.2, 3, [&](int e) { return epoch_permutation(23, epoch_seed(77, e)); });
  EXPECT_EQ(result.parameters.values, expected.values);  // same fp64 operations in the same order: bit for bit
}

// Catches --no-shuffle taking anything but file order: batch k is rows kB … kB+B−1.
TEST(Trainer, NoShuffleTakesFileOrder) {
  const NetworkSpec spec{{2, 3, 1}, false};
  const Dataset d = random_dataset(spec, 10, 3);
  const Parameters p = random_parameters(spec, 4);
  TrainConfig config;
  config.epochs = 2;
  config.batch = 4;
  config.lr = 0.3;
  config.shuffle = false;
  TrainObserver quiet;
  ReferenceBackend backend(spec);
  const TrainResult result = train(backend, p, d, Dataset{}, config, quiet);
  std::vector<uint32_t> file_order(10);
  for (uint32_t i = 0; i < 10; ++i) file_order[i] = i;
  const Parameters expected = manual_sgd(p, d, 4, 0.3, 2, [&](int) { return file_order; });
  EXPECT_EQ(result.parameters.values, expected.values);
}

// Catches an epoch's training MSE that is not the mean over its samples of Σ_o (ŷ − y)² before each step.
TEST(Trainer, EpochTrainMseIsTheMeanOfPreUpdateLosses) {
  const NetworkSpec spec{{2, 3, 1}, false};
  const Dataset d = random_dataset(spec, 7, 5);
  const Parameters p = random_parameters(spec, 6);
  TrainConfig config;
  config.epochs = 1;
  config.batch = 7;  // one step: the loss is the initial parameters' MSE
  config.lr = 0.5;
  TrainObserver quiet;
  ReferenceBackend backend(spec);
  const TrainResult result = train(backend, p, d, d, config, quiet);
  ReferenceBackend before(spec);
  before.set_parameters(p);
  EXPECT_NEAR(result.epochs[0].train_loss, before.evaluate(d).mse, 1e-12);
  ReferenceBackend after(spec);
  after.set_parameters(result.parameters);
  EXPECT_NEAR(result.epochs[0].validation_loss, after.evaluate(d).mse, 1e-12);
}

// Catches a validation split that overlaps training, loses rows, reorders them, or depends on --seed.
TEST(ValidationSplit, DisjointCompleteInFileOrder) {
  const NetworkSpec spec{{1, 1}, false};
  Dataset d = random_dataset(spec, 100, 8);
  for (size_t s = 0; s < 100; ++s) d.x[s] = float(s);  // row number as the input, to trace rows
  const TrainValidation split = split_validation(d, 0.25);
  ASSERT_EQ(split.validation.size, 25u);
  ASSERT_EQ(split.train.size, 75u);
  std::set<float> all(split.train.x.begin(), split.train.x.end());
  all.insert(split.validation.x.begin(), split.validation.x.end());
  EXPECT_EQ(all.size(), 100u);
  EXPECT_TRUE(std::is_sorted(split.train.x.begin(), split.train.x.end()));
  EXPECT_TRUE(std::is_sorted(split.validation.x.begin(), split.validation.x.end()));
  EXPECT_FALSE(split.validation.x.back() == 99.0f && split.validation.x.front() == 75.0f);  // not simply the tail
  EXPECT_EQ(split_validation(d, 0.0).validation.size, 0u);
  EXPECT_THROW(split_validation(d, 1.0), UsageError);
}

// Catches training on after the loss overflowed, or keeping the broken parameters: the result is the
// last finite model and the outcome says why.
TEST(Trainer, DivergenceStopsAndKeepsTheLastGoodModel) {
  const NetworkSpec spec{{2, 8, 1}, true};
  const Dataset d = random_dataset(spec, 64, 9);
  const Parameters p = random_parameters(spec, 10);
  TrainConfig config;
  config.epochs = 50;
  config.batch = 8;
  config.lr = 1e6;
  TrainObserver quiet;
  CpuBackend backend(spec, TrainingSetup{}, 1);
  const TrainResult result = train(backend, p, d, Dataset{}, config, quiet);
  EXPECT_EQ(result.outcome, TrainOutcome::diverged);
  EXPECT_TRUE(result.parameters.all_finite());
  EXPECT_NE(result.message.find("epoch"), std::string::npos);
}

// Catches an interrupt that is ignored or that loses the steps already taken.
TEST(Trainer, StopFlagEndsAfterTheCurrentStep) {
  const NetworkSpec spec{{2, 3, 1}, false};
  const Dataset d = random_dataset(spec, 100, 11);
  const Parameters p = random_parameters(spec, 12);
  TrainConfig config;
  config.epochs = 1000;
  config.batch = 10;
  struct StopAfterThreeSteps : TrainObserver {
    std::atomic<bool> stop{false};
    int steps = 0;
    void on_step(int, size_t, size_t) override {
      if (++steps == 3) stop = true;
    }
  } observer;
  ReferenceBackend backend(spec);
  const TrainResult result = train(backend, p, d, Dataset{}, config, observer, &observer.stop);
  EXPECT_EQ(result.outcome, TrainOutcome::interrupted);
  EXPECT_EQ(observer.steps, 3);
  EXPECT_NE(result.parameters.values, p.values);
}

// Catches --verify-every comparing different batches or parameters (it would report large differences
// for a correct backend) and a verifier that never runs.
TEST(Trainer, VerifyEveryReportsSmallDifferencesForTheCpuBackend) {
  const NetworkSpec spec{{2, 16, 16, 1}, true};
  const Dataset d = random_dataset(spec, 200, 13);
  TrainConfig config;
  config.epochs = 2;
  config.batch = 32;
  config.lr = 0.1;
  config.verify_every = 3;
  struct Collect : TrainObserver {
    std::vector<VerifyReport> reports;
    void on_verify(const VerifyReport& r) override { reports.push_back(r); }
  } observer;
  CpuBackend backend(spec, TrainingSetup{}, 1);
  train(backend, random_parameters(spec, 14), d, Dataset{}, config, observer);
  ASSERT_EQ(observer.reports.size(), 5u);  // steps 0, 3, 6, 9, 12 of 14
  for (const VerifyReport& r : observer.reports) {
    EXPECT_LE(r.gradient_difference, 1e-5);
    EXPECT_LE(r.loss_difference, 1e-5);
  }
}

// Catches the synthetic sets drifting from their definitions (DESIGN.md §3).
TEST(SyntheticData, SineAndXorFollowTheirFormulas) {
  const Dataset sine = synthetic_dataset("sine", 500, 3);
  double mean = 0, square = 0;
  for (size_t s = 0; s < sine.size; ++s) {
    EXPECT_LE(std::abs(sine.x[2 * s]), 2.0f);
    EXPECT_FLOAT_EQ(sine.y[s], float(std::sin(double(sine.x[2 * s])) * std::cos(double(sine.x[2 * s + 1]))));
    mean += sine.y[s];
    square += double(sine.y[s]) * sine.y[s];
  }
  mean /= 500;
  EXPECT_NEAR(square / 500 - mean * mean, 0.24, 0.04);  // the documented variance
  const Dataset x = synthetic_dataset("xor", 200, 3);
  for (size_t s = 0; s < x.size; ++s) EXPECT_EQ(x.y[s], float(int(x.x[2 * s]) ^ int(x.x[2 * s + 1])));
  EXPECT_THROW(synthetic_dataset("spiral", 10, 1), UsageError);
}

}  // namespace
}  // namespace sigtrain

namespace sigtrain {
namespace {

// ---- Schedules ------------------------------------------------------------------------------------

// Catches a schedule off by one epoch or with the wrong formula: each against its definition
// (train/schedule.h), with and without warm-up.
TEST(Schedule, EachFollowsItsFormula) {
  const double pi = std::acos(-1.0);
  Schedule s;
  for (int e = 1; e <= 10; ++e) EXPECT_EQ(s.lr(0.3, e, 10), 0.3);
  s.kind = ScheduleKind::step;
  s.step_every = 3;
  s.gamma = 0.1;
  const double step[] = {1, 1, 1, 0.1, 0.1, 0.1, 0.01};
  for (int e = 1; e <= 7; ++e) EXPECT_NEAR(s.lr(2.0, e, 7), 2.0 * step[e - 1], 1e-15) << e;
  s.kind = ScheduleKind::cosine;
  EXPECT_DOUBLE_EQ(s.lr(2.0, 1, 5), 2.0);
  EXPECT_NEAR(s.lr(2.0, 3, 5), 2.0 * (1 + std::cos(pi * 2 / 5)) / 2, 1e-15);
  EXPECT_NEAR(s.lr(2.0, 5, 5), 2.0 * (1 + std::cos(pi * 4 / 5)) / 2, 1e-15);
  s.kind = ScheduleKind::invscaling;
  s.power = 0.5;
  EXPECT_NEAR(s.lr(1.0, 4, 10), 1.0 / 2.0, 1e-15);  // 1 / 4^0.5
  s.warmup = 4;
  for (int e = 1; e <= 4; ++e) EXPECT_NEAR(s.lr(0.8, e, 10), 0.8 * e / 4, 1e-15);  // linear warm-up
  EXPECT_NEAR(s.lr(0.8, 5, 10), 0.8, 1e-15);                                       // then the schedule from its start
  EXPECT_NEAR(s.lr(0.8, 8, 10), 0.8 / 2, 1e-15);
  s.kind = ScheduleKind::cosine;
  EXPECT_NEAR(s.lr(0.8, 5, 10), 0.8, 1e-15);
  EXPECT_NEAR(s.lr(0.8, 7, 10), 0.8 * (1 + std::cos(pi * 2 / 6)) / 2, 1e-15);
}

// Catches a trainer that does not hand each epoch its scheduled learning rate (or reports another):
// step decay against the hand-written SGD with the rate of each epoch.
TEST(Trainer, EachEpochTrainsAtItsScheduledRate) {
  const NetworkSpec spec{{3, 4, 2}, true};
  const Dataset d = random_dataset(spec, 23, 1);
  const Parameters p = random_parameters(spec, 2);
  TrainConfig config;
  config.epochs = 4;
  config.batch = 5;
  config.lr = 0.4;
  config.schedule.kind = ScheduleKind::step;
  config.schedule.step_every = 1;
  config.schedule.gamma = 0.5;
  config.shuffle = false;
  TrainObserver quiet;
  ReferenceBackend backend(spec);
  const TrainResult result = train(backend, p, d, Dataset{}, config, quiet);
  std::vector<uint32_t> file_order(23);
  for (uint32_t i = 0; i < 23; ++i) file_order[i] = i;
  Parameters expected = p;
  for (int e = 0; e < 4; ++e) {
    expected = manual_sgd(expected, d, 5, 0.4 * std::pow(0.5, e), 1, [&](int) { return file_order; });
    EXPECT_EQ(result.epochs[size_t(e)].lr, 0.4 * std::pow(0.5, e));
  }
  EXPECT_EQ(result.parameters.values, expected.values);
}

// ---- Early stopping and the model kept -------------------------------------------------------------

// A group whose validation losses follow a script, one list per network: after epoch e network r
// reports losses[r][e − 1], and its parameters and optimizer steps are e (so the kept epoch shows).
class ScriptedGroup : public NetworkGroup {
 public:
  explicit ScriptedGroup(std::vector<std::vector<double>> losses) : losses_(std::move(losses)), epoch_(losses_.size()) {}
  size_t size() const override { return losses_.size(); }
  void set_parameters(size_t, const Parameters&) override {}
  Parameters parameters(size_t r) const override {
    Parameters p(NetworkSpec{{1, 1}, false});
    p.values[0] = double(epoch_[r]);
    return p;
  }
  void set_optimizer_state(size_t, const OptimizerState&) override {}
  OptimizerState optimizer_state(size_t r) const override { return OptimizerState{uint64_t(epoch_[r]), {}}; }
  void set_learning_rates(const std::vector<double>&) override {}
  void set_training_data(const Dataset&) override {}
  void begin_epoch(const std::vector<EpochOrder>&) override {
    for (int& e : epoch_) ++e;
  }
  void train_steps(size_t, size_t, size_t) override {}
  size_t steps_per_call(size_t) const override { return 1000; }
  void epoch_loss_sums(double* sums) override {
    for (size_t r = 0; r < size(); ++r) sums[r] = 1.0;
  }
  bool loss_is_cheap_to_read() const override { return true; }
  Evaluation evaluate(size_t r, const Dataset&) override { return {losses_[r][size_t(epoch_[r] - 1)], 0.0}; }

 private:
  std::vector<std::vector<double>> losses_;
  std::vector<int> epoch_;
};

std::vector<TrainResult> run_scripted(const std::vector<std::vector<double>>& losses, int patience, double min_delta,
                                      bool keep_best) {
  ScriptedGroup group(losses);
  TrainConfig config;
  config.epochs = int(losses[0].size());
  config.batch = 1;
  config.patience = patience;
  config.min_delta = min_delta;
  config.keep_best = keep_best;
  const Dataset one = random_dataset(NetworkSpec{{1, 1}, false}, 1, 1);
  TrainObserver quiet;
  const Parameters start(NetworkSpec{{1, 1}, false});
  return train_group(group, std::vector<Parameters>(losses.size(), start),
                     std::vector<NetworkSettings>(losses.size(), NetworkSettings{}), one, one, config, quiet);
}

// Catches patience counted from the wrong epoch, a min-delta ignored or applied the wrong way, a best
// model that is not the best epoch's (parameters and optimizer state), and one network's stop ending
// the others.
TEST(EarlyStopping, StopsAfterPatienceAndKeepsTheBestEpoch) {
  // Network 0 improves until epoch 3, then not for 2 epochs: stops after epoch 5, keeps epoch 3.
  // Network 1 improves by less than min-delta after epoch 2 (0.5 → 0.47 → 0.45, each within 0.06 of
  // the best, 0.5): stops after epoch 4 and keeps epoch 2. Network 2 keeps improving: all 8 epochs, keeps epoch 8.
  const std::vector<TrainResult> r = run_scripted({{0.9, 0.8, 0.7, 0.75, 0.71, 0.6, 0.5, 0.4},
                                                   {0.9, 0.5, 0.47, 0.45, 0.2, 0.1, 0.1, 0.1},
                                                   {0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2}},
                                                  2, 0.06, true);
  EXPECT_EQ(r[0].outcome, TrainOutcome::stopped_early);
  EXPECT_EQ(r[0].epochs.size(), 5u);
  EXPECT_EQ(r[0].kept_epoch, 3);
  EXPECT_EQ(r[0].parameters.values[0], 3.0);
  EXPECT_EQ(r[0].optimizer_state.steps, 3u);
  EXPECT_NE(r[0].message.find("after epoch 5"), std::string::npos) << r[0].message;
  EXPECT_EQ(r[1].outcome, TrainOutcome::stopped_early);
  EXPECT_EQ(r[1].epochs.size(), 4u);
  EXPECT_EQ(r[1].kept_epoch, 2);
  EXPECT_EQ(r[2].outcome, TrainOutcome::completed);
  EXPECT_EQ(r[2].epochs.size(), 8u);
  EXPECT_EQ(r[2].kept_epoch, 8);
}

// Catches keep-last returning the best, and keep-best returning the last: the same script both ways.
TEST(EarlyStopping, KeepLastOrBest) {
  const std::vector<std::vector<double>> losses = {{0.5, 0.2, 0.3, 0.4}};
  const TrainResult last = run_scripted(losses, 0, 0.0, false)[0];
  EXPECT_EQ(last.outcome, TrainOutcome::completed);
  EXPECT_EQ(last.kept_epoch, 4);
  EXPECT_EQ(last.parameters.values[0], 4.0);
  const TrainResult best = run_scripted(losses, 0, 0.0, true)[0];
  EXPECT_EQ(best.kept_epoch, 2);
  EXPECT_EQ(best.parameters.values[0], 2.0);
  EXPECT_EQ(best.optimizer_state.steps, 2u);
  // Patience that never runs out (the last epoch ends the run anyway) is a completed run.
  EXPECT_EQ(run_scripted(losses, 3, 0.0, true)[0].outcome, TrainOutcome::completed);
}

// Catches early stopping without a validation set being accepted silently.
TEST(EarlyStopping, NeedsAValidationSet) {
  const NetworkSpec spec{{2, 3, 1}, false};
  const Dataset d = random_dataset(spec, 20, 1);
  ReferenceBackend backend(spec);
  TrainConfig config;
  config.patience = 3;
  TrainObserver quiet;
  EXPECT_THROW(train(backend, random_parameters(spec, 1), d, Dataset{}, config, quiet), std::invalid_argument);
}

// ---- The optimizer's state across runs -------------------------------------------------------------

// Catches a run from a saved model that restarts the optimizer (Adam's moments and step count) or
// loses part of its state: 2 epochs, then 2 more from the first run's parameters and optimizer state,
// give exactly the 4-epoch run (file order, so both see the same batches).
TEST(Trainer, ContinuingFromTheOptimizerStateEqualsOneRun) {
  NetworkSpec spec{{3, 5, 2}, true};
  spec.hidden = Activation::tanh;
  TrainingSetup setup;
  setup.optimizer.kind = OptimizerKind::adam;
  setup.optimizer.weight_decay = 0.01;
  const Dataset d = random_dataset(spec, 30, 4);
  const Parameters p = random_parameters(spec, 5);
  TrainConfig config;
  config.epochs = 4;
  config.batch = 7;
  config.lr = 0.01;
  config.shuffle = false;
  TrainObserver quiet;
  ReferenceBackend whole(spec, setup), first(spec, setup), second(spec, setup);
  const TrainResult at_once = train(whole, p, d, Dataset{}, config, quiet);
  config.epochs = 2;
  const TrainResult half = train(first, p, d, Dataset{}, config, quiet);
  const TrainResult rest = train(second, half.parameters, d, Dataset{}, config, quiet, nullptr, &half.optimizer_state);
  EXPECT_EQ(at_once.optimizer_state.steps, 4u * 5u);
  EXPECT_EQ(rest.optimizer_state.steps, at_once.optimizer_state.steps);
  EXPECT_EQ(rest.optimizer_state.values, at_once.optimizer_state.values);
  EXPECT_EQ(rest.parameters.values, at_once.parameters.values);
  // … and without the state, the second half is another run.
  ReferenceBackend fresh(spec, setup);
  EXPECT_NE(train(fresh, half.parameters, d, Dataset{}, config, quiet).parameters.values, at_once.parameters.values);
}

}  // namespace
}  // namespace sigtrain
