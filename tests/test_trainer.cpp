// The training loop: batches, order, partial batches, validation split, divergence, interruption.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
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

// ŷ of one sample by the definition (DESIGN.md §1), written out here rather than taken from a backend:
// A_l = σ(W_l A_{l−1} + b_l) for the hidden layers, a linear output layer. Sigmoid hidden, linear output.
std::vector<double> hand_outputs(const Parameters& p, const float* x) {
  std::vector<double> a(x, x + p.spec.inputs());
  for (int l = 1; l <= p.spec.num_layers(); ++l) {
    std::vector<double> next(size_t(p.spec.widths[l]));
    for (int i = 0; i < p.spec.widths[l]; ++i) {
      double z = p.spec.bias ? p.b(l)[i] : 0.0;
      for (int j = 0; j < p.spec.widths[l - 1]; ++j) z += p.W(l, i, j) * a[size_t(j)];
      next[size_t(i)] = l == p.spec.num_layers() ? z : 1.0 / (1.0 + std::exp(-z));
    }
    a = std::move(next);
  }
  return a;
}

// The MSE of the notes, (1/N) Σ_s Σ_o (ŷ_o − y_o)²: summed over the outputs, averaged over the samples only.
double hand_mse(const Parameters& p, const Dataset& d) {
  double sum = 0;
  for (size_t s = 0; s < d.size; ++s) {
    const std::vector<double> yhat = hand_outputs(p, d.x_of(s));
    for (int o = 0; o < d.outputs; ++o) sum += (yhat[size_t(o)] - d.y_of(s)[o]) * (yhat[size_t(o)] - d.y_of(s)[o]);
  }
  return sum / double(d.size);
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

// The split's seed (host/data/dataset.cpp kValidationSplitSeed), pinned here on purpose: changing it
// changes which rows every existing --val-split run validates on.
constexpr uint64_t kValidationSplitSeed = 0x5EED'0F'7A11DA7Eull;

// Catches a split that holds out the head (or the tail, or any fixed block) of the file instead of the
// seeded choice: the validation rows are exactly the first ⌊fN⌋ of epoch_permutation(N, split seed),
// in file order, for several N and fractions (a block of the file would match none of them).
TEST(ValidationSplit, HoldsOutTheSeededRows) {
  for (size_t n : {10u, 100u, 1001u})
    for (double fraction : {0.1, 0.25, 0.5}) {
      const NetworkSpec spec{{1, 1}, false};
      Dataset d = random_dataset(spec, n, 8);
      for (size_t s = 0; s < n; ++s) d.x[s] = float(s);  // row number as the input, to trace rows
      const size_t held_out = size_t(std::floor(fraction * double(n)));
      const std::vector<uint32_t> order = epoch_permutation(n, kValidationSplitSeed);
      std::vector<float> expected;
      for (size_t k = 0; k < held_out; ++k) expected.push_back(float(order[k]));
      std::sort(expected.begin(), expected.end());
      const TrainValidation split = split_validation(d, fraction);
      EXPECT_EQ(split.validation.x, expected) << "N " << n << " fraction " << fraction;
      std::vector<float> head(held_out);
      for (size_t s = 0; s < held_out; ++s) head[s] = float(s);
      if (held_out >= 5) {
        EXPECT_NE(expected, head) << "the case cannot tell the seeded rows from the file's first";
      }
    }
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

// Catches a diverged run that keeps some finite model other than the last good one (the initial one,
// one from an earlier epoch, or parameters from the middle of the diverging epoch): a run that
// diverges after several finite epochs ends with exactly the parameters (and optimizer state) of the
// same run stopped after its last finite epoch.
TEST(Trainer, DivergedRunKeepsTheModelOfItsLastFiniteEpoch) {
  const NetworkSpec spec{{2, 8, 1}, true};
  const Dataset d = random_dataset(spec, 64, 9);
  const Parameters p = random_parameters(spec, 10);
  TrainConfig config;
  config.epochs = 200;
  config.batch = 8;
  config.lr = 1.0;  // finite for 9 epochs, then the loss overflows (fp32) in the 10th
  TrainObserver quiet;
  CpuBackend backend(spec, TrainingSetup{}, 1);
  const TrainResult result = train(backend, p, d, Dataset{}, config, quiet);
  ASSERT_EQ(result.outcome, TrainOutcome::diverged);
  ASSERT_GE(result.kept_epoch, 2) << "the case must diverge after a few finite epochs";
  config.epochs = result.kept_epoch;
  CpuBackend again(spec, TrainingSetup{}, 1);
  const TrainResult last_good = train(again, p, d, Dataset{}, config, quiet);
  ASSERT_EQ(last_good.outcome, TrainOutcome::completed);
  EXPECT_EQ(result.parameters.values, last_good.parameters.values);
  EXPECT_EQ(result.optimizer_state.steps, last_good.optimizer_state.steps);
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

// The reference backend under another name (so --verify-every checks it), with its loss or one layer's
// gradient off by one part in a thousand: ten times kVerifyTolerance.
class OffBackend : public ReferenceBackend {
 public:
  enum class Off { nothing, loss, gradient };
  OffBackend(const NetworkSpec& spec, Off off) : ReferenceBackend(spec), off_(off) {}
  std::string name() const override { return "off-by-1e-3"; }
  double loss_and_gradients(const Batch& batch, Parameters& grad) override {
    const double loss = ReferenceBackend::loss_and_gradients(batch, grad);
    if (off_ == Off::gradient)
      for (int i = 0; i < grad.spec.widths[1] * grad.spec.widths[0]; ++i) grad.W(1)[i] *= 1 + 1e-3;
    return off_ == Off::loss ? loss * (1 + 1e-3) : loss;
  }

 private:
  Off off_;
};

// Runs --verify-every 2 on `backend`; true when the verifier stopped the run.
bool verify_every_stops(OffBackend& backend, const NetworkSpec& spec) {
  const Dataset d = random_dataset(spec, 50, 15);
  TrainConfig config;
  config.epochs = 1;
  config.batch = 10;
  config.lr = 0.1;
  config.verify_every = 2;
  TrainObserver quiet;
  try {
    train(backend, random_parameters(spec, 16), d, Dataset{}, config, quiet);
  } catch (const InputError&) {
    return true;
  }
  return false;
}

// Catches a verifier that stops only when the loss and a gradient are both off (or neither): each
// alone beyond kVerifyTolerance must stop the run, and a backend that agrees must not be stopped.
TEST(Trainer, VerifyEveryFailsWhenTheLossOrAGradientIsOff) {
  const NetworkSpec spec{{2, 5, 1}, true};
  OffBackend loss_off(spec, OffBackend::Off::loss), gradient_off(spec, OffBackend::Off::gradient),
      exact(spec, OffBackend::Off::nothing);
  EXPECT_TRUE(verify_every_stops(loss_off, spec)) << "a wrong loss with right gradients passed";
  EXPECT_TRUE(verify_every_stops(gradient_off, spec)) << "a wrong gradient with the right loss passed";
  EXPECT_FALSE(verify_every_stops(exact, spec)) << "a backend equal to the reference was stopped";
}

// Catches validation figures computed on the training set (or on the parameters before the epoch's
// steps): with a training and a validation set drawn apart, each epoch's validation loss is the MSE
// of the validation set at that epoch's parameters, computed here by hand; two outputs, so the sum
// over o shows too.
TEST(Trainer, ValidationLossIsTheValidationSetsMse) {
  const NetworkSpec spec{{3, 6, 2}, true};
  const Dataset train_set = random_dataset(spec, 40, 21), validation = random_dataset(spec, 17, 22);
  const Parameters p = random_parameters(spec, 23);
  TrainConfig config;
  config.epochs = 3;
  config.batch = 8;
  config.lr = 0.2;
  TrainObserver quiet;
  ReferenceBackend backend(spec);
  const TrainResult result = train(backend, p, train_set, validation, config, quiet);
  ASSERT_EQ(result.epochs.size(), 3u);
  for (int e = 1; e <= 3; ++e) {
    config.epochs = e;  // the parameters at the end of epoch e: the same run, stopped there
    ReferenceBackend again(spec);
    const Parameters at_e = train(again, p, train_set, Dataset{}, config, quiet).parameters;
    const double expected = hand_mse(at_e, validation);
    EXPECT_NEAR(result.epochs[size_t(e - 1)].validation_loss, expected, 1e-12 * expected) << "epoch " << e;
    ASSERT_GT(std::abs(hand_mse(at_e, train_set) - expected), 1e-3 * expected) << "the two sets cannot be told apart";
  }
}

// Catches an MSE divided by the number of outputs (or by N·nL, or not averaged over the samples):
// with nL = 3 the reference's loss, every backend's loss and evaluation, and the trainer's epoch
// losses equal (1/N) Σ_s Σ_o (ŷ − y)², computed by hand.
TEST(MseDefinition, SumsOverOutputsAndAveragesOverSamples) {
  const NetworkSpec spec{{4, 5, 3}, true};
  const Dataset d = random_dataset(spec, 37, 31);
  const Parameters p = random_parameters(spec, 32);
  const double expected = hand_mse(p, d);
  std::vector<double> X(d.x.begin(), d.x.end()), Y(d.y.begin(), d.y.end());
  EXPECT_NEAR(reference::loss(p, Loss::mse, X.data(), Y.data(), int(d.size)), expected, 1e-12 * expected);
  ReferenceBackend reference_backend(spec);
  CpuBackend cpu(spec, TrainingSetup{}, 1);
  for (Backend* b : std::initializer_list<Backend*>{&reference_backend, &cpu}) {
    const double tolerance = b == &cpu ? testing::kOneStepTolerance : 1e-12;  // cpu: fp32
    b->set_parameters(p);
    const Evaluation e = b->evaluate(d);
    EXPECT_NEAR(e.mse, expected, tolerance * expected) << b->name() << " evaluate().mse";
    EXPECT_NEAR(e.loss, expected, tolerance * expected) << b->name() << " evaluate().loss";
    Parameters grad;
    EXPECT_NEAR(b->loss_and_gradients({d.x.data(), d.y.data(), d.size}, grad), expected, tolerance * expected)
        << b->name() << " loss_and_gradients";
  }
  TrainConfig config;
  config.epochs = 1;
  config.batch = d.size;  // one step: the epoch's training loss is the initial parameters' MSE
  config.lr = 0.1;
  TrainObserver quiet;
  ReferenceBackend trained(spec);
  const TrainResult result = train(trained, p, d, d, config, quiet);
  EXPECT_NEAR(result.epochs[0].train_loss, expected, 1e-12 * expected);
  EXPECT_NEAR(result.epochs[0].validation_loss, hand_mse(result.parameters, d), 1e-12 * expected);
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
