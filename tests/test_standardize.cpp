// Standardisation (data/standardize.h): fitted on the training part, applied, undone; and the
// evaluation of a standardised model in the data's own units.
#include <gtest/gtest.h>

#include <cmath>

#include "backend_test_util.h"
#include "backends/reference/reference.h"
#include "data/standardize.h"

namespace sigtrain {
namespace {

// A data set with columns far from mean 0 and scale 1 (inputs ×1000 + 300, targets ×100 − 7), and a
// constant input column.
Dataset scaled_dataset(size_t n, uint64_t seed) {
  Dataset d = testing::random_dataset(NetworkSpec{{3, 2}, false}, n, seed);
  for (size_t s = 0; s < n; ++s) {
    d.x[s * 3 + 0] = d.x[s * 3 + 0] * 1000 + 300;
    d.x[s * 3 + 2] = 5.0f;  // constant
    for (int o = 0; o < 2; ++o) d.y[s * 2 + o] = d.y[s * 2 + o] * 100 - 7;
  }
  return d;
}

// Catches statistics that are not each column's mean and population standard deviation (in double),
// a constant column divided by 0, and a side fitted that was not asked for.
TEST(Standardization, FitsEachColumnsMeanAndSpread) {
  const Dataset d = scaled_dataset(500, 1);
  const Standardization s = Standardization::fit(d, StandardizeWhat::both);
  for (int j = 0; j < 3; ++j) {
    double mean = 0, var = 0;
    for (size_t k = 0; k < d.size; ++k) mean += d.x[k * 3 + j];
    mean /= double(d.size);
    for (size_t k = 0; k < d.size; ++k) var += (d.x[k * 3 + j] - mean) * (d.x[k * 3 + j] - mean);
    EXPECT_NEAR(s.input_mean[j], mean, 1e-9 * std::max(1.0, std::abs(mean)));
    EXPECT_NEAR(s.input_scale[j], j == 2 ? 1.0 : std::sqrt(var / double(d.size)), 1e-9 * std::sqrt(var / double(d.size)) + 1e-12);
  }
  EXPECT_EQ(s.input_scale[2], 1.0) << "a constant column is only shifted";
  EXPECT_EQ(s.target_mean.size(), 2u);
  EXPECT_FALSE(Standardization::fit(d, StandardizeWhat::inputs).targets());
  EXPECT_FALSE(Standardization::fit(d, StandardizeWhat::targets).inputs());
  EXPECT_TRUE(Standardization::fit(d, StandardizeWhat::none).none());
}

// Catches apply and invert_targets that are not each other's inverse, or that mix up the columns:
// standardised training columns have mean 0 and scale 1, and undoing the targets gives them back.
TEST(Standardization, ApplyThenUndoGivesTheDataBack) {
  const Dataset d = scaled_dataset(400, 2);
  const Standardization s = Standardization::fit(d, StandardizeWhat::both);
  const Dataset t = s.apply(d);
  for (int j = 0; j < 2; ++j) {
    double mean = 0, squares = 0;
    for (size_t k = 0; k < t.size; ++k) mean += t.x[k * 3 + j], squares += double(t.x[k * 3 + j]) * t.x[k * 3 + j];
    EXPECT_NEAR(mean / double(t.size), 0.0, 1e-5);
    EXPECT_NEAR(squares / double(t.size), 1.0, 1e-5);
  }
  std::vector<double> y(t.y.begin(), t.y.end());
  s.invert_targets(y.data(), t.size);
  for (size_t k = 0; k < y.size(); ++k) EXPECT_NEAR(y[k], d.y[k], 1e-4 * std::max(1.0f, std::abs(d.y[k])));
  std::vector<float> x;
  s.apply_inputs(d.x.data(), d.size, x);
  EXPECT_EQ(x, t.x);
}

// Catches an evaluation in the data's units that forgets a step (standardising the inputs, undoing the
// targets) or applies one twice: against the reference's outputs, worked out here by hand.
TEST(Standardization, EvaluationIsInTheDataUnits) {
  const Dataset d = scaled_dataset(50, 3);
  const Standardization s = Standardization::fit(d, StandardizeWhat::both);
  NetworkSpec spec{{3, 4, 2}, true};
  spec.hidden = Activation::tanh;
  const Parameters p = testing::random_parameters(spec, 4);
  const PredictLogits logits = [&](const float* x, size_t n, double* z) {
    const std::vector<double> X(x, x + n * 3);
    const reference::Activations act = reference::forward(p, X.data(), int(n));
    std::copy(act.A.back().begin(), act.A.back().end(), z);
  };
  const Evaluation e = evaluate(d, spec, Loss::mse, logits, &s);
  double squared = 0;
  for (size_t k = 0; k < d.size; ++k) {
    double x[3];
    for (int j = 0; j < 3; ++j) x[j] = double(float((d.x[k * 3 + j] - s.input_mean[j]) / s.input_scale[j]));
    const std::vector<double> yhat = reference::predict(p, x, 1);
    for (int o = 0; o < 2; ++o) {
      const double y = yhat[o] * s.target_scale[o] + s.target_mean[o];
      squared += (y - d.y[k * 2 + o]) * (y - d.y[k * 2 + o]);
    }
  }
  EXPECT_NEAR(e.mse, squared / double(d.size), 1e-9 * squared / double(d.size));
  EXPECT_EQ(e.loss, e.mse);
  EXPECT_GT(e.mse, 100.0) << "in the data's units the errors are large (targets ×100)";
}

}  // namespace
}  // namespace sigtrain
