// A group's validation in one call (NetworkGroup::evaluate_all): the default, network after network;
// the trainer's use of it, once an epoch; and FusedNetworks' device pass over every network
// (kernels/evaluate_kernel.cu), whose per-sample terms (kernels/evaluate_terms.h) the CPU checks here.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "backend_test_util.h"
#include "backends/cuda/fused_host.h"
#include "evaluate_terms.h"
#include "math/epoch_shuffle.h"
#include "train/network_group.h"
#include "train/trainer.h"

#ifdef SIGTRAIN_HAVE_CUDA
#include "backends/cuda/fused_networks.h"
#endif

namespace sigtrain {
namespace {

using testing::random_dataset;
using testing::random_parameters;

// Networks and heads to evaluate: the notes' network, every hidden activation, each head (mse on a
// linear and on a sigmoid output, bce), two outputs, four layers, and the widest the fused kernel takes.
struct EvaluationCase {
  std::vector<int> widths;
  bool bias;
  Activation hidden;
  Activation output;
  Loss loss;
};

std::vector<EvaluationCase> evaluation_cases() {
  using A = Activation;
  return {
      {{2, 3, 3, 1}, false, A::sigmoid, A::linear, Loss::mse},
      {{2, 5, 3, 1}, true, A::tanh, A::linear, Loss::mse},
      {{3, 8, 2}, true, A::relu, A::sigmoid, Loss::mse},
      {{2, 4, 4, 1}, true, A::sigmoid, A::sigmoid, Loss::bce},
      {{3, 6, 5, 4, 2}, true, A::relu, A::sigmoid, Loss::bce},
      {{2, 64, 64, 1}, true, A::sigmoid, A::linear, Loss::mse},
  };
}

NetworkSpec spec_of(const EvaluationCase& c) {
  NetworkSpec spec{c.widths, c.bias};
  spec.hidden = c.hidden;
  spec.output = c.output;
  return spec;
}

TrainingSetup setup_of(const EvaluationCase& c) {
  TrainingSetup setup;
  setup.loss = c.loss;
  return setup;
}

// |a − b| ≤ tolerance · |b|.
void expect_relative(double a, double b, double tolerance, const std::string& what) {
  EXPECT_LE(std::abs(a - b), tolerance * std::abs(b)) << what << ": " << a << " against " << b;
}

// The sums over the samples of evaluation_terms and the host path (sigtrain::evaluate on the fused
// kernel's host twin) add the same fp64 terms in another grouping when there are several outputs
// (per sample first): N = 1000 positive terms differ by at most ~N·ε ≈ 1e-13 relative.
constexpr double kRegroupedSumTolerance = 1e-12;

// Catches a term that is not the host path's: the loss on ŷ instead of the logit (bce), the squared
// error on z instead of ŷ (a sigmoid output), a missing bias or a wrong parameter offset of network r
// in the group's network-major array. With one output the sums add the very same terms in the same
// order, so they must be equal bit for bit; with two, within the regrouping of the sums.
TEST(GroupEvaluation, TermsAreThoseOfTheHostPath) {
  for (const EvaluationCase& c : evaluation_cases()) {
    const NetworkSpec spec = spec_of(c);
    const TrainingSetup setup = setup_of(c);
    FusedShape shape;
    ASSERT_TRUE(make_fused_shape(spec, shape)) << spec.to_string();
    const Dataset d = random_dataset(spec, c.loss, 1000, 7);
    const size_t R = 3, P = spec.parameter_count();
    std::vector<Parameters> networks;
    std::vector<float> params;  // network r at r·P, as FusedNetworks holds them
    for (size_t r = 0; r < R; ++r) {
      networks.push_back(random_parameters(spec, 20 + r));
      const std::vector<float> values = networks.back().to_float();
      params.insert(params.end(), values.begin(), values.end());
    }
    for (size_t r = 0; r < R; ++r) {
      EvaluationTerms sums;
      with_evaluation_policies(c.hidden, c.loss, c.output, [&](auto act, auto head) {
        const float* theta = params.data() + r * P;
        for (size_t s = 0; s < d.size; ++s)
          sums = sums + evaluation_terms<decltype(act), decltype(head)>(shape, theta, d.x_of(s), d.y_of(s));
      });
      FusedHostBackend host(spec, setup);
      host.set_parameters(networks[r]);
      const Evaluation expected = host.evaluate(d);
      const std::string what = spec.to_string() + " " + name_of(c.loss) + ", network " + std::to_string(r);
      if (spec.outputs() == 1) {
        EXPECT_EQ(sums.loss / double(d.size), expected.loss) << what;
        EXPECT_EQ(sums.squared / double(d.size), expected.mse) << what;
      } else {
        expect_relative(sums.loss / double(d.size), expected.loss, kRegroupedSumTolerance, what + " loss");
        expect_relative(sums.squared / double(d.size), expected.mse, kRegroupedSumTolerance, what + " mse");
      }
    }
  }
}

// Backends of the spec with different parameters each (seeds 30, 31, …).
std::vector<std::unique_ptr<Backend>> cpu_backends(const NetworkSpec& spec, size_t count) {
  std::vector<std::unique_ptr<Backend>> backends;
  for (size_t r = 0; r < count; ++r) {
    backends.push_back(make_backend("cpu", spec));
    backends.back()->set_parameters(random_parameters(spec, 30 + r));
  }
  return backends;
}

std::vector<Backend*> pointers(const std::vector<std::unique_ptr<Backend>>& backends) {
  std::vector<Backend*> p;
  for (const auto& b : backends) p.push_back(b.get());
  return p;
}

// Catches a default evaluate_all that writes network r's figures to another slot, skips a network or
// evaluates one network's parameters for all: out[r] is backend r's own evaluate, bit for bit (and the
// networks' figures differ, so a mix-up shows).
TEST(GroupEvaluation, DefaultIsEvaluatePerNetwork) {
  const NetworkSpec spec{{2, 5, 3, 1}, true};
  const Dataset d = random_dataset(spec, 500, 8);
  const std::vector<std::unique_ptr<Backend>> backends = cpu_backends(spec, 4);
  BackendGroup group(pointers(backends));
  std::vector<Evaluation> all(backends.size());
  group.evaluate_all(d, all.data());
  for (size_t r = 0; r < backends.size(); ++r) {
    const Evaluation alone = backends[r]->evaluate(d);
    EXPECT_EQ(all[r].loss, alone.loss) << r;
    EXPECT_EQ(all[r].mse, alone.mse) << r;
  }
  EXPECT_NE(all[0].loss, all[1].loss);
  EXPECT_NE(all[2].loss, all[3].loss);
}

// A BackendGroup that counts how the trainer validates and copies the models: evaluate_all and
// snapshot calls, and evaluate, parameters and optimizer_state calls made outside of them.
class CountingGroup : public BackendGroup {
 public:
  using BackendGroup::BackendGroup;
  void snapshot(std::vector<Parameters>& parameters, std::vector<OptimizerState>& states) const override {
    ++snapshot_calls;
    inside_ = true;
    BackendGroup::snapshot(parameters, states);
    inside_ = false;
  }
  Parameters parameters(size_t r) const override {
    if (!inside_) ++single_copies;
    return BackendGroup::parameters(r);
  }
  OptimizerState optimizer_state(size_t r) const override {
    if (!inside_) ++single_copies;
    return BackendGroup::optimizer_state(r);
  }
  void evaluate_all(const Dataset& d, Evaluation* out) override {
    ++all_calls;
    inside_ = true;
    BackendGroup::evaluate_all(d, out);
    inside_ = false;
  }
  Evaluation evaluate(size_t r, const Dataset& d) override {
    if (!inside_) ++single_calls;
    return BackendGroup::evaluate(r, d);
  }
  int all_calls = 0;
  int single_calls = 0;
  mutable int snapshot_calls = 0;
  mutable int single_copies = 0;

 private:
  mutable bool inside_ = false;
};

// Catches a trainer that validates or copies the models network by network (which would bypass the
// fused group's one device pass and one copy) or more than once an epoch, and one that reports another
// network's figures or keeps another network's model: every epoch takes one evaluate_all, one snapshot
// and no evaluate, parameters or optimizer_state, and each network's last validation loss is its final
// model's own (cpu backend: the figures the single-network path reports).
TEST(GroupEvaluation, TrainerValidatesEveryNetworkInOneCallAnEpoch) {
  const NetworkSpec spec{{2, 4, 3, 1}, true};
  const Dataset train = random_dataset(spec, 256, 9), validation = random_dataset(spec, 64, 10);
  const size_t R = 3;
  const std::vector<std::unique_ptr<Backend>> backends = cpu_backends(spec, R);
  CountingGroup group(pointers(backends));
  TrainConfig config;
  config.epochs = 4;
  config.batch = 32;
  std::vector<Parameters> initial;
  std::vector<NetworkSettings> settings;
  for (size_t r = 0; r < R; ++r) {
    initial.push_back(random_parameters(spec, 40 + r));
    settings.push_back({uint64_t(r + 1), 0.1 * double(r + 1)});
  }
  TrainObserver quiet;
  const std::vector<TrainResult> results = train_group(group, initial, settings, train, validation, config, quiet);
  EXPECT_EQ(group.all_calls, config.epochs);
  EXPECT_EQ(group.single_calls, 0);
  EXPECT_EQ(group.snapshot_calls, config.epochs + 1);  // and one at the start, for the initial states
  EXPECT_EQ(group.single_copies, 0);
  for (size_t r = 0; r < R; ++r) {
    ASSERT_EQ(results[r].epochs.size(), size_t(config.epochs)) << r;
    std::unique_ptr<Backend> final_model = make_backend("cpu", spec);
    final_model->set_parameters(results[r].parameters);
    EXPECT_EQ(results[r].epochs.back().validation_loss, final_model->evaluate(validation).loss) << r;
  }
}

// ---- FusedNetworks on the GPU ------------------------------------------------------------------------

#ifdef SIGTRAIN_HAVE_CUDA

// The group of `count` networks of case c, network r with random_parameters(spec, seed + r).
std::unique_ptr<FusedNetworks> fused_group(const EvaluationCase& c, size_t count, uint64_t seed) {
  auto group = std::make_unique<FusedNetworks>(spec_of(c), setup_of(c), count);
  for (size_t r = 0; r < count; ++r) group->set_parameters(r, random_parameters(spec_of(c), seed + r));
  return group;
}

// The device pass and the host path (evaluate(r, d): the fused prediction's fp32 logits, fp64 terms
// summed on the host in sample order) take the same logits; the terms may differ by an ulp where the
// device's exp and log1p round otherwise than the host's, and the sums group them otherwise:
// kRegroupedSumTolerance.
void expect_evaluate_all_is_evaluate(FusedNetworks& group, const Dataset& d, const std::string& what) {
  std::vector<Evaluation> all(group.size());
  group.evaluate_all(d, all.data());
  for (size_t r = 0; r < group.size(); ++r) {
    const Evaluation alone = group.evaluate(r, d);
    expect_relative(all[r].loss, alone.loss, kRegroupedSumTolerance, what + " loss of network " + std::to_string(r));
    expect_relative(all[r].mse, alone.mse, kRegroupedSumTolerance, what + " mse of network " + std::to_string(r));
  }
}

#endif

// Catches a device pass that computes other figures than the host path: a wrong network or sample
// index (network-major parameters, sample-major data), a head or output activation dispatched wrongly,
// logits taken in another precision, samples dropped or counted twice at the ends of the blocks'
// ranges (N = 1, 1000 and 4099 samples), for every case's head, with five networks of different parameters.
TEST(CudaGroupEvaluation, EvaluateAllMatchesEvaluatePerNetwork) {
  SKIP_WITHOUT_CUDA();
#ifdef SIGTRAIN_HAVE_CUDA
  for (const EvaluationCase& c : evaluation_cases()) {
    const std::unique_ptr<FusedNetworks> group = fused_group(c, 5, 50);
    for (size_t n : {1u, 1000u, 4099u}) {
      const Dataset d = random_dataset(spec_of(c), c.loss, n, 11 + n);
      expect_evaluate_all_is_evaluate(*group, d,
                                      spec_of(c).to_string() + " " + name_of(c.loss) + ", N " + std::to_string(n));
    }
  }
#endif
}

// Catches a sum whose order depends on timing (atomics, a look-back across tiles): 300 networks of
// 20,000 samples each, twice on one group and once on a fresh one, give the same bits.
TEST(CudaGroupEvaluation, RunToRunBitIdentical) {
  SKIP_WITHOUT_CUDA();
#ifdef SIGTRAIN_HAVE_CUDA
  const EvaluationCase c = evaluation_cases()[0];
  const Dataset d = random_dataset(spec_of(c), c.loss, 20000, 12);
  const size_t R = 300;
  std::vector<Evaluation> first(R), second(R), fresh(R);
  const std::unique_ptr<FusedNetworks> group = fused_group(c, R, 60);
  group->evaluate_all(d, first.data());
  group->evaluate_all(d, second.data());
  fused_group(c, R, 60)->evaluate_all(d, fresh.data());
  for (size_t r = 0; r < R; ++r) {
    EXPECT_EQ(first[r].loss, second[r].loss) << r;
    EXPECT_EQ(first[r].mse, second[r].mse) << r;
    EXPECT_EQ(first[r].loss, fresh[r].loss) << r;
    EXPECT_EQ(first[r].mse, fresh[r].mse) << r;
  }
#endif
}

// Catches a resident validation set or result kept too long: another data set of the same size, then
// one of another size, then new parameters for one network, each evaluated as the host path does.
TEST(CudaGroupEvaluation, FollowsTheDataSetAndTheParameters) {
  SKIP_WITHOUT_CUDA();
#ifdef SIGTRAIN_HAVE_CUDA
  const EvaluationCase c = evaluation_cases()[1];
  const std::unique_ptr<FusedNetworks> group = fused_group(c, 4, 70);
  const Dataset a = random_dataset(spec_of(c), c.loss, 700, 13), b = random_dataset(spec_of(c), c.loss, 700, 14),
                smaller = random_dataset(spec_of(c), c.loss, 33, 15);
  expect_evaluate_all_is_evaluate(*group, a, "set a");
  expect_evaluate_all_is_evaluate(*group, b, "set b, the same size");
  expect_evaluate_all_is_evaluate(*group, smaller, "a smaller set");
  group->set_parameters(2, random_parameters(spec_of(c), 99));
  expect_evaluate_all_is_evaluate(*group, smaller, "new parameters of network 2");
  std::vector<Evaluation> none(group->size(), Evaluation{1.0, 1.0});
  group->evaluate_all(Dataset{}, none.data());  // as sigtrain::evaluate: zeros for an empty set
  EXPECT_EQ(none[3].loss, 0.0);
  EXPECT_EQ(none[3].mse, 0.0);
#endif
}

// Catches a group snapshot that gives network r another network's θ, state or step count, or drops the
// state: FusedNetworks::snapshot equals parameters(r) and optimizer_state(r), network by network, after
// Adam steps (so every network has its own moments and t).
TEST(CudaGroupEvaluation, SnapshotIsEachNetworksOwnModel) {
  SKIP_WITHOUT_CUDA();
#ifdef SIGTRAIN_HAVE_CUDA
  const NetworkSpec spec{{2, 5, 3, 1}, true};
  TrainingSetup setup;
  setup.optimizer.kind = OptimizerKind::adam;
  const size_t R = 4;
  FusedNetworks group(spec, setup, R);
  for (size_t r = 0; r < R; ++r) group.set_parameters(r, random_parameters(spec, 80 + r));
  const Dataset d = random_dataset(spec, 300, 81);
  group.set_training_data(d);
  std::vector<EpochOrder> orders;
  for (size_t r = 0; r < R; ++r) orders.push_back({true, epoch_seed(r, 0)});
  group.begin_epoch(orders);
  std::vector<double> lrs;
  for (size_t r = 0; r < R; ++r) lrs.push_back(0.01 * double(r + 1));
  group.set_learning_rates(lrs);
  group.train_steps(0, d.size - 7, 20);
  std::vector<Parameters> parameters;
  std::vector<OptimizerState> states;
  group.snapshot(parameters, states);
  ASSERT_EQ(parameters.size(), R);
  for (size_t r = 0; r < R; ++r) {
    EXPECT_EQ(parameters[r].values, group.parameters(r).values) << r;
    const OptimizerState alone = group.optimizer_state(r);
    EXPECT_EQ(states[r].steps, alone.steps) << r;
    EXPECT_GT(states[r].steps, 0u) << r;
    EXPECT_EQ(states[r].values, alone.values) << r;
  }
#endif
}

}  // namespace
}  // namespace sigtrain
