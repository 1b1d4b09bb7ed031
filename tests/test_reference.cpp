// The fp64 reference against central finite differences and against the notes' own formulas.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "math/activation.h"
#include "backend_test_util.h"
#include "tools/gradcheck.h"
#include "backends/reference/reference.h"
#include "util/rng.h"

namespace sigtrain {
namespace {

struct GradcheckCase {
  std::vector<int> widths;
  bool bias;
  int batch;
};

class ReferenceVsFiniteDifferences : public ::testing::TestWithParam<GradcheckCase> {};

// Catches any wrong term of backprop (a missing σ', a transposed W, a lost bias gradient, a wrong
// 2/B factor) on networks with and without bias and with several outputs: relative error ≤
// kGradcheckCasesTolerance (2e-8; the test's name predates it).
TEST_P(ReferenceVsFiniteDifferences, GradientsMatchToOnePartInAMillion) {
  const GradcheckCase c = GetParam();
  NetworkSpec spec{c.widths, c.bias};
  for (uint64_t seed : {1u, 7u, 12345u}) {
    const GradcheckResult r = gradcheck(spec, Loss::mse, seed, c.batch);
    EXPECT_GT(r.loss, 0.0);
    for (const GradcheckLayer& layer : r.layers)
      EXPECT_LE(layer.relative_error, testing::kGradcheckCasesTolerance) << spec.to_string() << " seed " << seed << " layer " << layer.layer;
  }
}

// Catches gradcheck reporting anything but the largest layer error as its worst (a min is always 0
// and always passes): worst is the max over the layers, every layer's error is > 0 in fp64 (so a min
// and a max differ), and a planted gradient error in one entry is found in its layer at its size.
TEST(Gradcheck, WorstIsTheLargestLayerError) {
  const NetworkSpec spec{{3, 5, 2, 4, 2}, true};
  const GradcheckResult r = gradcheck(spec, Loss::mse, 7, 3);
  ASSERT_EQ(r.layers.size(), 4u);
  double largest = 0;
  for (const GradcheckLayer& layer : r.layers) {
    EXPECT_GT(layer.relative_error, 0.0) << "layer " << layer.layer;
    largest = std::max(largest, layer.relative_error);
  }
  EXPECT_EQ(r.worst, largest);
  // The per-layer figure gradcheck reports (layer_relative_difference): an error of 1e-3·max|g| planted
  // in one entry of layer 3 is reported as 1e-3 there and leaves the other layers at 0.
  const Parameters g = testing::random_parameters(spec, 8);  // stands for a gradient: random, no zeros
  Parameters wrong = g;
  double largest_in_layer = 0;
  const size_t offset = spec.weight_offset(3), n = spec.weight_offset(4) - offset;
  for (size_t k = 0; k < n; ++k) largest_in_layer = std::max(largest_in_layer, std::abs(g.values[offset + k]));
  wrong.values[offset + 1] += 1e-3 * largest_in_layer;
  EXPECT_NEAR(layer_relative_difference(wrong, g, 3), 1e-3, 1e-12);
  for (int l : {1, 2, 4}) EXPECT_EQ(layer_relative_difference(wrong, g, l), 0.0) << "layer " << l;
}

INSTANTIATE_TEST_SUITE_P(Networks, ReferenceVsFiniteDifferences,
                         ::testing::Values(GradcheckCase{{2, 3, 3, 1}, false, 1},   // the notes' network, one point
                                           GradcheckCase{{2, 3, 3, 1}, false, 5},   // … and a batch
                                           GradcheckCase{{2, 3, 3, 1}, true, 4},    // with bias
                                           GradcheckCase{{4, 7, 3}, true, 6},       // several outputs
                                           GradcheckCase{{3, 5, 2, 4, 2}, false, 3},  // four layers, two outputs
                                           GradcheckCase{{1, 1}, true, 2},          // a single linear layer
                                           GradcheckCase{{5, 16, 16, 3}, true, 9}));

// The notes' network with its parameters named as in the notes: W1 = [p; q; r], W2 = [s; u; v], W3 = wᵀ.
struct NotesPoint {
  Parameters p;
  double x[2];
  double y;
  double h[3], z[3], yhat, f;
  Parameters backprop;
};

NotesPoint notes_point(uint64_t seed) {
  NotesPoint n;
  n.p = glorot_uniform(NetworkSpec{{2, 3, 3, 1}, false}, seed);
  Rng rng(seed + 99);
  n.x[0] = rng.uniform(-2, 2);
  n.x[1] = rng.uniform(-2, 2);
  n.y = rng.uniform(-1, 1);
  // The notes' forward pass, written out: h_i = σ(row_i(W1)ᵀ x), z_k = σ(row_k(W2)ᵀ h), ŷ = wᵀ z.
  for (int i = 0; i < 3; ++i) n.h[i] = sigmoid(n.p.W(1, i, 0) * n.x[0] + n.p.W(1, i, 1) * n.x[1]);
  for (int k = 0; k < 3; ++k)
    n.z[k] = sigmoid(n.p.W(2, k, 0) * n.h[0] + n.p.W(2, k, 1) * n.h[1] + n.p.W(2, k, 2) * n.h[2]);
  n.yhat = n.p.W(3, 0, 0) * n.z[0] + n.p.W(3, 0, 1) * n.z[1] + n.p.W(3, 0, 2) * n.z[2];
  n.f = (n.yhat - n.y) * (n.yhat - n.y);
  n.backprop = Parameters();
  const double f = reference::loss_and_gradients(n.p, Loss::mse, n.x, &n.y, 1, n.backprop);
  EXPECT_NEAR(f, n.f, 1e-15);
  return n;
}

double rel(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

// The notes' df/dw = 2(wᵀz − y) z against backprop: catches a wrong output delta (sign, factor 2).
TEST(NotesFormulas, OutputGradientDfDw) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const NotesPoint n = notes_point(seed);
    for (int k = 0; k < 3; ++k) EXPECT_LE(rel(2 * (n.yhat - n.y) * n.z[k], n.backprop.W(3, 0, k)), 1e-12);
  }
}

// The notes' df/ds1 = 2(ŷ − y) w1 · z1(1 − z1) h1 (and all of s, u, v): catches a wrong σ' or a
// mixed-up row/column of W2's gradient.
TEST(NotesFormulas, SecondLayerGradientDfDs) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const NotesPoint n = notes_point(seed);
    for (int k = 0; k < 3; ++k)      // row k of W2: s, u, v
      for (int i = 0; i < 3; ++i) {  // its weight on h_i
        const double notes = 2 * (n.yhat - n.y) * n.p.W(3, 0, k) * n.z[k] * (1 - n.z[k]) * n.h[i];
        EXPECT_LE(rel(notes, n.backprop.W(2, k, i)), 1e-12) << "row " << k << " col " << i;
      }
  }
}

// The corrected df/dp1 = Σ_k (df/dz_k)(dz_k/dh1)(dh1/dp1), summed over z1, z2, z3: catches a backprop
// that drops paths through W2ᵀ (the notes' own slip).
TEST(NotesFormulas, FirstLayerGradientDfDp1SumsOverAllThreePaths) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const NotesPoint n = notes_point(seed);
    for (int i = 0; i < 3; ++i)      // row i of W1: p, q, r
      for (int j = 0; j < 2; ++j) {  // its weight on x_j
        double sum = 0;
        for (int k = 0; k < 3; ++k) {
          const double df_dzk = 2 * (n.yhat - n.y) * n.p.W(3, 0, k);
          const double dzk_dhi = n.z[k] * (1 - n.z[k]) * n.p.W(2, k, i);
          sum += df_dzk * dzk_dhi;
        }
        const double dhi_dpij = n.h[i] * (1 - n.h[i]) * n.x[j];
        EXPECT_LE(rel(sum * dhi_dpij, n.backprop.W(1, i, j)), 1e-12) << "row " << i << " col " << j;
      }
  }
}

// The notes' single-path df/dp1 = (df/dz1)(dz1/dh1)(dh1/dp1) keeps only k = 1; this test shows it is not
// the gradient (it would catch a "fix" that made backprop agree with the notes' slip).
TEST(NotesFormulas, SinglePathDfDp1DiffersFromTheGradient) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const NotesPoint n = notes_point(seed);
    const double single_path = 2 * (n.yhat - n.y) * n.p.W(3, 0, 0) * n.z[0] * (1 - n.z[0]) * n.p.W(2, 0, 0) *
                               n.h[0] * (1 - n.h[0]) * n.x[0];
    EXPECT_GT(rel(single_path, n.backprop.W(1, 0, 0)), 1e-3);
    // … and finite differences side with the summed form.
    const Parameters numeric = finite_difference_gradient(n.p, Loss::mse, n.x, &n.y, 1);
    EXPECT_LE(rel(n.backprop.W(1, 0, 0), numeric.W(1, 0, 0)), 1e-6);
  }
}

// The notes' "2·sqrt(f)" loses the sign of ŷ − y: for a point with ŷ < y it gives the wrong direction.
TEST(NotesFormulas, TwoSqrtFLosesTheSign) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const NotesPoint n = notes_point(seed);
    if (n.yhat >= n.y) continue;
    const double literal = 2 * std::sqrt(n.f) * n.z[0];
    EXPECT_LT(n.backprop.W(3, 0, 0), 0.0);
    EXPECT_GT(literal, 0.0);
    return;
  }
  FAIL() << "no seed gave ŷ < y";
}

// Loss of §1 is summed over outputs and averaged over the batch: catches a mean over outputs or a sum over samples.
TEST(ReferenceLoss, SumOverOutputsMeanOverBatch) {
  const NetworkSpec spec{{3, 4, 2}, true};
  const Parameters p = glorot_uniform(spec, 3);
  std::vector<double> X, Y;
  random_batch(spec, Loss::mse, 3, 5, X, Y);
  double expected = 0;
  for (int b = 0; b < 5; ++b) {
    const reference::Activations one = reference::forward(p, X.data() + 3 * b, 1);
    for (int o = 0; o < 2; ++o) expected += std::pow(one.A[2][o] - Y[2 * b + o], 2);
  }
  EXPECT_NEAR(reference::loss(p, Loss::mse, X.data(), Y.data(), 5), expected / 5, 1e-14);
}

}  // namespace
}  // namespace sigtrain
