// The policies of kernels/math/ (activations, losses, optimizers) in the fp64 reference: backprop
// against central finite differences for every combination, the losses against their textbook form,
// and the optimizers against PyTorch's documented algorithms, written out here step by step in the
// docs' own form (not the policies' form), so that a wrong formula in a policy shows.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backends/reference/reference.h"
#include "math/activation.h"
#include "math/loss.h"
#include "math/optimizer.h"
#include "model/choices.h"
#include "backend_test_util.h"
#include "tools/gradcheck.h"
#include "util/rng.h"

namespace sigtrain {
namespace {

// ---- Backprop against finite differences, every activation with every head --------------------------

struct PolicyCase {
  Activation hidden;
  Activation output;
  Loss loss;
};

std::string policy_case_name(const ::testing::TestParamInfo<PolicyCase>& info) {
  return name_of(info.param.hidden) + "_" + name_of(info.param.output) + "_" + name_of(info.param.loss);
}

class PoliciesVsFiniteDifferences : public ::testing::TestWithParam<PolicyCase> {};

// Catches a wrong derivative of any activation (tanh' = 1 − a², relu' = [a > 0]), of the sigmoid
// output under mse (2(ŷ − y)·ŷ(1 − ŷ)), or of bce from the logit (σ(z) − y), and a head whose value
// and delta disagree: relative error ≤ kGradcheckCasesTolerance, on networks with bias and several outputs.
TEST_P(PoliciesVsFiniteDifferences, GradientsMatchToOnePartInAMillion) {
  const PolicyCase c = GetParam();
  for (const NetworkSpec& base : {NetworkSpec{{3, 6, 5, 2}, true}, NetworkSpec{{2, 4, 1}, false}}) {
    NetworkSpec spec = base;
    spec.hidden = c.hidden;
    spec.output = c.output;
    for (uint64_t seed : {3u, 17u}) {
      const GradcheckResult r = gradcheck(spec, c.loss, seed, 5);
      EXPECT_GT(r.loss, 0.0);
      for (const GradcheckLayer& layer : r.layers)
        EXPECT_LE(layer.relative_error, testing::kGradcheckCasesTolerance)
            << spec.to_string() << " " << name_of(c.loss) << " seed " << seed << " layer " << layer.layer;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryCombination, PoliciesVsFiniteDifferences,
    ::testing::Values(PolicyCase{Activation::sigmoid, Activation::linear, Loss::mse},
                      PolicyCase{Activation::tanh, Activation::linear, Loss::mse},
                      PolicyCase{Activation::relu, Activation::linear, Loss::mse},
                      PolicyCase{Activation::sigmoid, Activation::sigmoid, Loss::mse},
                      PolicyCase{Activation::tanh, Activation::sigmoid, Loss::mse},
                      PolicyCase{Activation::relu, Activation::sigmoid, Loss::mse},
                      PolicyCase{Activation::sigmoid, Activation::sigmoid, Loss::bce},
                      PolicyCase{Activation::tanh, Activation::sigmoid, Loss::bce},
                      PolicyCase{Activation::relu, Activation::sigmoid, Loss::bce}),
    policy_case_name);

// ---- Activations and losses one value at a time -------------------------------------------------

// Catches a grad_from_output that is not the derivative of forward: (f(z + h) − f(z − h)) / 2h against
// grad_from_output(f(z)) at random points (away from relu's kink).
TEST(Activations, GradFromOutputIsTheDerivative) {
  Rng rng(5);
  for (Activation a : {Activation::sigmoid, Activation::tanh, Activation::relu, Activation::linear})
    with_activation(a, [&](auto act) {
      for (int k = 0; k < 1000; ++k) {
        const double z = rng.uniform(-6, 6);
        if (std::abs(z) < 1e-3) continue;
        const double h = 1e-6;
        const double numeric = (act.forward(z + h) - act.forward(z - h)) / (2 * h);
        EXPECT_NEAR(act.grad_from_output(act.forward(z)), numeric, 1e-8) << name_of(a) << " at " << z;
      }
    });
}

// Catches a relu or tanh that turns NaN into a number: a diverged network must still report NaN.
TEST(Activations, NanStaysNan) {
  for (Activation a : {Activation::sigmoid, Activation::tanh, Activation::relu, Activation::linear})
    with_activation(a, [&](auto act) {
      EXPECT_TRUE(std::isnan(act.forward(std::nan(""))));
      EXPECT_TRUE(std::isnan(act.forward(std::nanf(""))));
    });
}

// Catches a bce value that is not −[y log ŷ + (1 − y) log(1 − ŷ)] (in long double, for |z| ≤ 8, where
// 1 − ŷ keeps its digits), one that overflows for large |z| (the naive form gives inf at z = ±100 in
// double), and a delta that is not σ(z) − y.
TEST(Losses, BinaryCrossEntropyFromTheLogit) {
  Rng rng(8);
  for (int k = 0; k < 1000; ++k) {
    const double z = rng.uniform(-8, 8), y = rng.uniform(0, 1);
    const long double yhat = 1.0L / (1.0L + std::exp(-(long double)z));
    const long double textbook = -(y * std::log(yhat) + (1 - y) * std::log(1 - yhat));
    EXPECT_NEAR(BinaryCrossEntropy::value(z, y), double(textbook), 1e-12 * std::max(1.0, double(textbook)));
    EXPECT_NEAR(BinaryCrossEntropy::delta(z, y), double(yhat) - y, 1e-15);
    EXPECT_NEAR(BinaryCrossEntropy::value(float(z), float(y)), double(textbook), 2e-5 * std::max(1.0, double(textbook)));
  }
  EXPECT_DOUBLE_EQ(BinaryCrossEntropy::value(100.0, 1.0), std::log1p(std::exp(-100.0)));  // ≈ 3.7e-44, not 0 or inf
  EXPECT_DOUBLE_EQ(BinaryCrossEntropy::value(-100.0, 1.0), 100.0 + std::log1p(std::exp(-100.0)));
  EXPECT_TRUE(std::isfinite(BinaryCrossEntropy::value(-100.0f, 1.0f)));
}

// Catches a squared error on the wrong side of the output activation: ℓ = (σ(z) − y)² with
// dℓ/dz = 2(σ(z) − y)σ(z)(1 − σ(z)); on a linear output, exactly the notes' (z − y)² and 2(z − y).
TEST(Losses, SquaredErrorOnEitherOutput) {
  Rng rng(9);
  for (int k = 0; k < 100; ++k) {
    const double z = rng.uniform(-4, 4), y = rng.uniform(-1, 1);
    const double s = 1 / (1 + std::exp(-z));
    EXPECT_NEAR(SquaredError<Sigmoid>::value(z, y), (s - y) * (s - y), 1e-15);
    EXPECT_NEAR(SquaredError<Sigmoid>::delta(z, y), 2 * (s - y) * s * (1 - s), 1e-15);
    EXPECT_EQ(SquaredError<Identity>::value(z, y), (z - y) * (z - y));
    EXPECT_EQ(SquaredError<Identity>::delta(z, y), 2 * (z - y));
  }
}

// ---- Optimizers against PyTorch's documented algorithms -------------------------------------------

// One parameter vector trained by `steps` updates with given gradients and per-step learning rates.
struct Trajectory {
  std::vector<double> theta;
  std::vector<std::vector<double>> grads;  // grads[t − 1]: the gradient of step t
  std::vector<double> lrs;
};

Trajectory random_trajectory(uint64_t seed, size_t n = 7, int steps = 100) {
  Rng rng(seed);
  Trajectory t;
  for (size_t k = 0; k < n; ++k) t.theta.push_back(rng.uniform(-1, 1));
  for (int s = 0; s < steps; ++s) {
    std::vector<double> g;
    for (size_t k = 0; k < n; ++k) g.push_back(rng.uniform(-2, 2));
    t.grads.push_back(g);
    t.lrs.push_back(s < 50 ? 0.05 : 0.02);  // the schedule may change lr between steps
  }
  return t;
}

// torch.optim.SGD's documented algorithm (lr γ, momentum μ, weight decay λ, dampening 0):
//   g_t ← ∇ + λθ;  if μ ≠ 0: b_t ← g_t if t = 1 else μ b_{t−1} + g_t;  g_t ← g_t + μ b_t (nesterov) or b_t;
//   θ_t ← θ_{t−1} − γ g_t
std::vector<double> torch_sgd(Trajectory t, double momentum, bool nesterov, double weight_decay) {
  std::vector<double> b(t.theta.size());
  for (size_t step = 1; step <= t.grads.size(); ++step)
    for (size_t k = 0; k < t.theta.size(); ++k) {
      double g = t.grads[step - 1][k] + weight_decay * t.theta[k];
      if (momentum != 0) {
        b[k] = step == 1 ? g : momentum * b[k] + g;
        g = nesterov ? g + momentum * b[k] : b[k];
      }
      t.theta[k] -= t.lrs[step - 1] * g;
    }
  return t.theta;
}

// torch.optim.Adam's documented algorithm, and AdamW's (decoupled: θ ← θ − γλθ first, no λθ in g):
//   g_t ← ∇ + λθ;  m_t ← β1 m + (1 − β1) g;  v_t ← β2 v + (1 − β2) g²;
//   m̂ ← m_t / (1 − β1ᵗ);  v̂ ← v_t / (1 − β2ᵗ);  θ_t ← θ_{t−1} − γ m̂ / (√v̂ + ε)
std::vector<double> torch_adam(Trajectory t, double beta1, double beta2, double eps, double weight_decay, bool decoupled) {
  std::vector<double> m(t.theta.size()), v(t.theta.size());
  for (size_t step = 1; step <= t.grads.size(); ++step)
    for (size_t k = 0; k < t.theta.size(); ++k) {
      const double lr = t.lrs[step - 1];
      double g = t.grads[step - 1][k];
      if (decoupled)
        t.theta[k] -= lr * weight_decay * t.theta[k];
      else
        g += weight_decay * t.theta[k];
      m[k] = beta1 * m[k] + (1 - beta1) * g;
      v[k] = beta2 * v[k] + (1 - beta2) * g * g;
      const double m_hat = m[k] / (1 - std::pow(beta1, double(step)));
      const double v_hat = v[k] / (1 - std::pow(beta2, double(step)));
      t.theta[k] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  return t.theta;
}

// The reference's optimizer_update over the same trajectory.
std::vector<double> sigtrain_steps(Trajectory t, const OptimizerSettings& settings, OptimizerState* state_out = nullptr) {
  OptimizerState state;
  for (size_t step = 0; step < t.grads.size(); ++step)
    reference::optimizer_update(settings, t.lrs[step], state, t.theta.data(), t.grads[step].data(), t.theta.size());
  if (state_out) *state_out = state;
  return t.theta;
}

double largest_relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (size_t k = 0; k < a.size(); ++k) worst = std::max(worst, std::abs(a[k] - b[k]) / std::max(1e-300, std::abs(b[k])));
  return worst;
}

OptimizerSettings settings_of(OptimizerKind kind, double weight_decay) {
  OptimizerSettings s;
  s.kind = kind;
  s.weight_decay = weight_decay;
  s.momentum = 0.8;  // not the default, so that a hard-coded 0.9 would show
  s.beta1 = 0.85;
  s.beta2 = 0.995;
  s.eps = 1e-6;
  return s;
}

// Catches any departure from PyTorch's update rules over 100 steps with a changing learning rate:
// a missing or misplaced weight decay (L2 against decoupled), Nesterov's extra μ·b, a momentum buffer
// that does not start at g, Adam's bias corrections or ε in the wrong place. Agreement to 1e-12 (the
// two forms round differently; a wrong formula is off by far more).
TEST(Optimizers, EqualPyTorchsDocumentedAlgorithms) {
  for (double wd : {0.0, 0.03}) {
    const Trajectory t = random_trajectory(wd == 0 ? 1 : 2);
    EXPECT_LE(largest_relative_difference(sigtrain_steps(t, settings_of(OptimizerKind::sgd, wd)), torch_sgd(t, 0, false, wd)), 1e-12);
    EXPECT_LE(largest_relative_difference(sigtrain_steps(t, settings_of(OptimizerKind::momentum, wd)),
                                          torch_sgd(t, 0.8, false, wd)), 1e-12);
    EXPECT_LE(largest_relative_difference(sigtrain_steps(t, settings_of(OptimizerKind::nesterov, wd)),
                                          torch_sgd(t, 0.8, true, wd)), 1e-12);
    EXPECT_LE(largest_relative_difference(sigtrain_steps(t, settings_of(OptimizerKind::adam, wd)),
                                          torch_adam(t, 0.85, 0.995, 1e-6, wd, false)), 1e-12);
    EXPECT_LE(largest_relative_difference(sigtrain_steps(t, settings_of(OptimizerKind::adamw, wd)),
                                          torch_adam(t, 0.85, 0.995, 1e-6, wd, true)), 1e-12);
  }
}

// Catches an optimizer whose formulas coincide by accident: the five give five different results.
TEST(Optimizers, AreDifferent) {
  const Trajectory t = random_trajectory(3);
  std::vector<std::vector<double>> ends;
  for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::momentum, OptimizerKind::nesterov, OptimizerKind::adam,
                             OptimizerKind::adamw})
    ends.push_back(sigtrain_steps(t, settings_of(kind, 0.03)));
  for (size_t a = 0; a < ends.size(); ++a)
    for (size_t b = a + 1; b < ends.size(); ++b) EXPECT_GT(largest_relative_difference(ends[a], ends[b]), 1e-6) << a << " " << b;
}

// Catches state kept in the wrong slots or steps not counted: momentum keeps b (1 slot), adam m then v
// (2 slots, slot-major), each step advances t, and stopping after 40 steps and going on from the state
// gives the same bits as 100 steps at once.
TEST(Optimizers, StateIsSlotMajorAndResumable) {
  const Trajectory t = random_trajectory(4);
  for (OptimizerKind kind : {OptimizerKind::momentum, OptimizerKind::adam}) {
    const OptimizerSettings s = settings_of(kind, 0.01);
    OptimizerState whole;
    const std::vector<double> at_once = sigtrain_steps(t, s, &whole);
    EXPECT_EQ(whole.steps, 100u);
    EXPECT_EQ(whole.values.size(), size_t(optimizer_slots(kind)) * t.theta.size());
    Trajectory first = t, rest = t;
    first.grads.resize(40);
    first.lrs.resize(40);
    OptimizerState state;
    rest.theta = sigtrain_steps(first, s, &state);
    for (size_t step = 40; step < t.grads.size(); ++step)
      reference::optimizer_update(s, t.lrs[step], state, rest.theta.data(), t.grads[step].data(), rest.theta.size());
    EXPECT_EQ(rest.theta, at_once);
    EXPECT_EQ(state.values, whole.values);
  }
  // Adam's v (slot 1) is the running mean of g², so it is positive; m (slot 0) takes both signs.
  OptimizerState adam;
  sigtrain_steps(t, settings_of(OptimizerKind::adam, 0), &adam);
  const size_t n = t.theta.size();
  for (size_t k = 0; k < n; ++k) EXPECT_GT(adam.values[n + k], 0.0);
}

}  // namespace
}  // namespace sigtrain
