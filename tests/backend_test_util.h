// Helpers shared by the tests that compare a fast backend with the fp64 reference.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "data/dataset.h"
#include "model/choices.h"

// Skips a GPU test, saying why, where no CUDA device is usable (cuda_backend_available).
#define SKIP_WITHOUT_CUDA()                                         \
  do {                                                              \
    std::string why_not;                                            \
    if (!sigtrain::cuda_backend_available(&why_not)) GTEST_SKIP() << why_not; \
  } while (0)
#include "model/network.h"
#include "backends/reference/reference_backend.h"
#include "util/rng.h"
#include "train/trainer.h"

namespace sigtrain::testing {

// Tolerances of the comparisons with the fp64 reference, from the arithmetic (u = 2⁻²⁴ ≈ 6e-8, fp32's
// unit roundoff), each beside the worst error measured on its cases (cpu: every kernel variant, every
// case of the suite, 2026-12-01; GPU: the H200 run of 2026-11-30, ../shared/device-runs/):
//
// One step (forward, loss, gradients): rounding a sum of K fp32 terms adds about u·√K (a random walk),
// and a gradient passes through two such products (the forward sum, then the backward one):
// 2·√1024·u ≈ 4e-6 for the widest sums of the cases (1024 units). Measured worst: 1.33e-6 cpu
// (4-300-300-2 with BLAS), 1.08e-6 the fused kernels' host twins (warp, 2-4-4-1, B 5), 1.49e-6 GPU
// (cuBLAS, 4-1024-2, forward).
constexpr double kOneStepTolerance = 4e-6;
// 100 steps: each step adds its own rounding (kOneStepTolerance at most), and independent errors over
// 100 steps grow like √100 = 10, not 100: 10 · 4e-6. Measured worst: 9.0e-6 cpu (2-3-3-1, tanh,
// momentum, batch 1: the most sensitive case), 1.27e-5 the fused kernel's host twin (3-17-4, adamw
// with weight decay, B 700; 2026-12-01), 8.6e-7 GPU.
constexpr double kHundredStepsTolerance = 4e-5;
// Backprop (fp64) against central differences with h = 1e-5: truncation h²/6·|f‴| and rounding ε|f|/h,
// each about 1e-11 times the loss's scale, relative to the largest gradient entry, which on these cases
// is up to a few hundred times smaller (saturated sigmoid outputs): ~5e-9. Measured worst: 4.6e-9
// (sigmoid output with bce). `sigtrain gradcheck` keeps its own looser kGradcheckTolerance (1e-6) for
// whatever network a user gives it.
constexpr double kGradcheckCasesTolerance = 2e-8;

inline Dataset random_dataset(const NetworkSpec& spec, size_t n, uint64_t seed) {
  return sigtrain::random_dataset(spec.inputs(), spec.outputs(), n, seed);
}
// Random data for a case: targets in [-1, 1], or in [0, 1] (y → (y + 1)/2, never all 0 or 1) for bce.
inline Dataset random_dataset(const NetworkSpec& spec, Loss loss, size_t n, uint64_t seed) {
  Dataset d = random_dataset(spec, n, seed);
  if (loss == Loss::bce)
    for (float& y : d.y) y = (y + 1.0f) / 2.0f;
  return d;
}

// Glorot weights plus random biases in [-0.5, 0.5] (Glorot's zero biases would hide bias bugs).
inline Parameters random_parameters(const NetworkSpec& spec, uint64_t seed) {
  Parameters p = glorot_uniform(spec, seed);
  if (spec.bias) {
    Rng rng(seed + 1000);
    for (int l = 1; l <= spec.num_layers(); ++l)
      for (int i = 0; i < spec.widths[l]; ++i) p.b(l)[i] = rng.uniform(-0.5, 0.5);
  }
  return p;
}

// A network, a batch size and the policies (activations, loss, optimizer; the notes' sigmoid, linear
// output, mse and plain SGD by default) to compare a backend with the reference on.
struct BackendCase {
  std::vector<int> widths;
  bool bias;
  size_t batch;
  Activation hidden = Activation::sigmoid;
  Activation output = Activation::linear;
  Loss loss = Loss::mse;
  OptimizerKind optimizer = OptimizerKind::sgd;
  double weight_decay = 0.0;
};

inline NetworkSpec case_spec(const BackendCase& c) {
  NetworkSpec spec{c.widths, c.bias};
  spec.hidden = c.hidden;
  spec.output = c.output;
  return spec;
}
inline TrainingSetup case_setup(const BackendCase& c) {
  TrainingSetup setup;
  setup.loss = c.loss;
  setup.optimizer.kind = c.optimizer;
  setup.optimizer.weight_decay = c.weight_decay;
  return setup;
}

// The same case with other policies: for the tables of cases that every backend runs.
inline BackendCase with_policies(BackendCase c, Activation hidden, Activation output, Loss loss, OptimizerKind optimizer,
                                 double weight_decay = 0.0) {
  c.hidden = hidden;
  c.output = output;
  c.loss = loss;
  c.optimizer = optimizer;
  c.weight_decay = weight_decay;
  return c;
}

// Every policy at least once beside the notes' defaults, on the network and batch of `c`: each hidden
// activation, each output and loss, each optimizer (with weight decay where it changes the formula).
inline std::vector<BackendCase> policy_cases(const BackendCase& c) {
  using A = Activation;
  using O = OptimizerKind;
  return {
      with_policies(c, A::tanh, A::linear, Loss::mse, O::sgd),
      with_policies(c, A::relu, A::linear, Loss::mse, O::sgd),
      with_policies(c, A::sigmoid, A::sigmoid, Loss::mse, O::sgd),
      with_policies(c, A::sigmoid, A::sigmoid, Loss::bce, O::sgd),
      with_policies(c, A::sigmoid, A::linear, Loss::mse, O::sgd, 0.01),
      with_policies(c, A::tanh, A::linear, Loss::mse, O::momentum),
      with_policies(c, A::sigmoid, A::linear, Loss::mse, O::nesterov, 0.01),
      with_policies(c, A::relu, A::sigmoid, Loss::bce, O::adam, 0.01),
      with_policies(c, A::sigmoid, A::linear, Loss::mse, O::adamw, 0.01),
  };
}

// Every optimizer (with weight decay where it changes the formula) with the notes' units and loss
// (sigmoid hidden units, a linear output, mse), on the network and batch of `c`: for kernels compiled
// with those alone (fused_warp.h's InstancePolicies::every_optimizer).
inline std::vector<BackendCase> optimizer_cases(const BackendCase& c) {
  using A = Activation;
  using O = OptimizerKind;
  return {
      with_policies(c, A::sigmoid, A::linear, Loss::mse, O::sgd, 0.01),
      with_policies(c, A::sigmoid, A::linear, Loss::mse, O::momentum),
      with_policies(c, A::sigmoid, A::linear, Loss::mse, O::nesterov, 0.01),
      with_policies(c, A::sigmoid, A::linear, Loss::mse, O::adam, 0.01),
      with_policies(c, A::sigmoid, A::linear, Loss::mse, O::adamw, 0.01),
  };
}

// "2_3_3_1_nobias_B31" (and "_tanh_sigmoidout_bce_adam_wd" where the policies are not the defaults):
// readable names for parameterised tests.
inline std::string backend_case_text(const BackendCase& c) {
  std::string s;
  for (int w : c.widths) s += std::to_string(w) + "_";
  s += (c.bias ? "bias_" : "nobias_") + std::string("B") + std::to_string(c.batch);
  if (c.hidden != Activation::sigmoid) s += "_" + name_of(c.hidden);
  if (c.output != Activation::linear) s += "_" + name_of(c.output) + "out";
  if (c.loss != Loss::mse) s += "_" + name_of(c.loss);
  if (c.optimizer != OptimizerKind::sgd) s += "_" + name_of(c.optimizer);
  if (c.weight_decay != 0.0) s += "_wd";
  return s;
}
inline std::string backend_case_name(const ::testing::TestParamInfo<BackendCase>& info) {
  return backend_case_text(info.param);
}
// How GoogleTest prints a case (in failures and in ctest's test names), instead of its bytes.
inline void PrintTo(const BackendCase& c, std::ostream* os) { *os << backend_case_text(c); }


// How far a fast backend is from the fp64 reference on one case.
struct Agreement {
  double forward = 0;          // Ŷ on the batch (one step only)
  double loss = 0;             // the loss (one step), or the largest per-epoch training MSE (100 steps)
  std::vector<double> layers;  // each layer's gradient (one step) or parameters (100 steps)
  double moved = 0;            // 100 steps: how far the reference's parameters moved from the start
  double worst() const {
    double largest = std::max(forward, loss);
    for (double d : layers) largest = std::max(largest, d);
    return largest;
  }
};

// One step from random parameters on a random batch of c.batch samples: forward, loss, and every
// layer's gradient, against the reference.
// The fast backend must have been made with case_spec(c) and case_setup(c).
inline Agreement one_step_agreement(Backend& fast, const BackendCase& c, uint64_t seed) {
  const NetworkSpec spec = case_spec(c);
  const Parameters p = random_parameters(spec, seed);
  const Dataset d = random_dataset(spec, c.loss, c.batch, seed + 1);
  ReferenceBackend reference(spec, case_setup(c));
  fast.set_parameters(p);
  reference.set_parameters(p);
  Agreement a;
  std::vector<double> fast_out(c.batch * spec.outputs()), exact_out(fast_out.size());
  fast.predict_logits(d.x.data(), c.batch, fast_out.data());
  reference.predict_logits(d.x.data(), c.batch, exact_out.data());
  a.forward = relative_difference(fast_out.data(), exact_out.data(), fast_out.size());
  const ReferenceComparison gradients = compare_with_reference(fast, {d.x.data(), d.y.data(), c.batch});
  a.loss = gradients.loss;
  a.layers = gradients.layers;
  return a;
}

// 100 steps of the case's optimizer from the same random parameters, in the same shuffled order (4
// epochs of 25 batches, the last of each epoch partial, so it must be averaged over its own size), at
// a step schedule (so the learning rate changes between epochs), against the reference: every layer's
// parameters, the optimizer's state, and every epoch's training loss.
inline Agreement hundred_steps_agreement(Backend& fast, const BackendCase& c, uint64_t seed) {
  const NetworkSpec spec = case_spec(c);
  const Parameters p = random_parameters(spec, seed);
  const size_t n = 24 * c.batch + (c.batch + 1) / 2;
  const Dataset d = random_dataset(spec, c.loss, n, seed + 1);
  TrainConfig config;
  config.epochs = 4;
  config.batch = c.batch;
  config.lr = 0.1 / std::sqrt(double(spec.max_width()));  // wide layers sum many terms: a smaller step stays stable
  if (c.optimizer == OptimizerKind::adam || c.optimizer == OptimizerKind::adamw) config.lr /= 10;  // steps ~ lr each
  config.schedule.kind = ScheduleKind::step;
  config.schedule.step_every = 2;
  config.seed = seed + 2;
  TrainObserver quiet;
  ReferenceBackend reference(spec, case_setup(c));
  const TrainResult fast_result = train(fast, p, d, Dataset{}, config, quiet);
  const TrainResult exact = train(reference, p, d, Dataset{}, config, quiet);
  EXPECT_EQ(fast_result.outcome, TrainOutcome::completed);
  EXPECT_EQ(fast_result.epochs.size(), exact.epochs.size());
  Agreement a;
  for (int l = 1; l <= spec.num_layers(); ++l) a.layers.push_back(layer_relative_difference(fast_result.parameters, exact.parameters, l));
  for (size_t e = 0; e < std::min(exact.epochs.size(), fast_result.epochs.size()); ++e)
    a.loss = std::max(a.loss, relative_difference(&fast_result.epochs[e].train_loss, &exact.epochs[e].train_loss, 1));
  // The optimizer's state (momentum's b, adam's m and v) and step count.
  EXPECT_EQ(fast_result.optimizer_state.steps, exact.optimizer_state.steps);
  EXPECT_EQ(fast_result.optimizer_state.values.size(), exact.optimizer_state.values.size());
  if (fast_result.optimizer_state.values.size() == exact.optimizer_state.values.size() && !exact.optimizer_state.values.empty())
    a.layers.push_back(relative_difference(fast_result.optimizer_state.values.data(), exact.optimizer_state.values.data(),
                                           exact.optimizer_state.values.size()));
  a.moved = relative_difference(exact.parameters.values.data(), p.values.data(), p.values.size());
  return a;
}

// Every figure of `a` within `tolerance`; for 100 steps, also that training moved the parameters (a
// backend that ignored the update would otherwise pass).
inline void expect_agreement(const Agreement& a, double tolerance, bool hundred_steps) {
  EXPECT_LE(a.forward, tolerance) << "forward";
  EXPECT_LE(a.loss, tolerance) << "loss";
  for (size_t l = 0; l < a.layers.size(); ++l) EXPECT_LE(a.layers[l], tolerance) << "layer " << l + 1;
  if (hundred_steps) {
    EXPECT_GT(a.moved, 1e-3) << "the parameters hardly moved";
  }
}

}  // namespace sigtrain::testing
