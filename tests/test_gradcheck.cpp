// gradcheck on a sample of entries (host/tools/gradcheck.h): which entries a sample holds, that the
// check reports the worst error among exactly those, that a wrong gradient is still caught, and that
// small networks keep the exact full check by default.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "backend_test_util.h"
#include "backends/reference/reference.h"
#include "tools/gradcheck.h"
#include "train/trainer.h"

namespace sigtrain {
namespace {

// The layer (1 … L) holding flat parameter index k.
int layer_of(const NetworkSpec& spec, size_t k) {
  int l = 1;
  while (k >= spec.weight_offset(l + 1)) ++l;
  return l;
}

// Catches a sample of the wrong size, with repeats, unsorted, or starving a small layer: 12 entries of
// 2-3-3-1 (layers of 6, 9 and 3 entries) are shared by water-filling as 4, 5 and all 3; every request is
// met exactly, and 0 or at least P gives every entry.
TEST(GradcheckEntries, ShareTheRequestEvenlyOverTheLayers) {
  const NetworkSpec notes{{2, 3, 3, 1}, false};
  const std::vector<size_t> twelve = gradcheck_entries(notes, 12, 5);
  ASSERT_EQ(twelve.size(), 12u);
  EXPECT_TRUE(std::is_sorted(twelve.begin(), twelve.end()));
  EXPECT_EQ(std::set<size_t>(twelve.begin(), twelve.end()).size(), 12u) << "no entry twice";
  std::vector<int> per_layer(4);
  for (size_t k : twelve) ++per_layer[layer_of(notes, k)];
  EXPECT_EQ(per_layer, (std::vector<int>{0, 4, 5, 3}));

  const NetworkSpec wide{{4, 300, 300, 2}, true};
  for (size_t n : {3, 100, 1001}) {
    const std::vector<size_t> sample = gradcheck_entries(wide, n, 9);
    EXPECT_EQ(sample.size(), n);
    EXPECT_EQ(std::set<size_t>(sample.begin(), sample.end()).size(), n);
    EXPECT_LT(sample.back(), wide.parameter_count());
  }
  for (size_t all : {size_t(0), notes.parameter_count(), notes.parameter_count() + 5}) {
    const std::vector<size_t> every = gradcheck_entries(notes, all, 5);
    ASSERT_EQ(every.size(), notes.parameter_count());
    for (size_t k = 0; k < every.size(); ++k) EXPECT_EQ(every[k], k);
  }
}

// Catches a sample that is not random (always the first entries of each layer, which in W_l are one
// unit's inputs) or not reproducible: two seeds draw different samples, one seed the same twice, and
// the sample reaches beyond the first rows of the wide layer.
TEST(GradcheckEntries, SeededAndSpreadOverTheLayer) {
  const NetworkSpec spec{{4, 300, 300, 2}, true};
  EXPECT_EQ(gradcheck_entries(spec, 60, 1), gradcheck_entries(spec, 60, 1));
  EXPECT_NE(gradcheck_entries(spec, 60, 1), gradcheck_entries(spec, 60, 2));
  const std::vector<size_t> sample = gradcheck_entries(spec, 60, 1);
  const size_t wide_begin = spec.weight_offset(2), wide_end = spec.weight_offset(3);
  size_t beyond_first_half = 0;
  for (size_t k : sample) beyond_first_half += k >= wide_begin + (wide_end - wide_begin) / 2 && k < wide_end;
  EXPECT_GT(beyond_first_half, 0u);
}

// A network, its batch and its backprop gradient, for planting errors into.
struct Checked {
  NetworkSpec spec{{3, 8, 6, 2}, true, Activation::tanh, Activation::linear};
  int B = 5;
  Parameters p = testing::random_parameters(spec, 21);
  std::vector<double> X, Y;
  Parameters backprop;
  Checked() {
    random_batch(spec, Loss::mse, 22, B, X, Y);
    reference::loss_and_gradients(p, Loss::mse, X.data(), Y.data(), B, backprop);
  }
  GradcheckResult compare(const Parameters& gradient, const std::vector<size_t>& entries) const {
    return compare_with_finite_differences(p, gradient, Loss::mse, X.data(), Y.data(), B, entries);
  }
};

// Catches a sampled check that reports something other than the worst error among the sampled entries
// (the whole layer's, a min, another layer's) or counts them wrong: each layer's error is
// relative_difference over its sampled entries, computed here from the full finite-difference gradient;
// an error planted at a sampled entry is reported at its size (1e-3 of the largest sampled entry), and
// one planted at an entry outside the sample is, by design, not seen.
TEST(Gradcheck, SampledCheckReportsTheWorstErrorAmongTheSampledEntries) {
  const Checked c;
  const Parameters numeric = finite_difference_gradient(c.p, Loss::mse, c.X.data(), c.Y.data(), c.B);
  const std::vector<size_t> sample = gradcheck_entries(c.spec, 30, 23);
  const GradcheckResult r = c.compare(c.backprop, sample);
  ASSERT_EQ(r.layers.size(), 3u);
  EXPECT_EQ(r.entries_checked, 30u);
  double worst = 0;
  for (const GradcheckLayer& layer : r.layers) {
    std::vector<double> exact, differences;
    for (size_t k : sample)
      if (layer_of(c.spec, k) == layer.layer) {
        exact.push_back(c.backprop.values[k]);
        differences.push_back(numeric.values[k]);
      }
    EXPECT_EQ(layer.entries_checked, exact.size());
    EXPECT_EQ(layer.entries, c.spec.weight_offset(layer.layer + 1) - c.spec.weight_offset(layer.layer));
    EXPECT_DOUBLE_EQ(layer.relative_error, relative_difference(exact.data(), differences.data(), exact.size()))
        << "layer " << layer.layer;
    EXPECT_GT(layer.relative_error, 0.0) << "fp64 differences are never all exact";
    worst = std::max(worst, layer.relative_error);
  }
  EXPECT_EQ(r.worst, worst);

  // Plant 1e-3 of the largest sampled finite difference of layer 2 at one sampled entry of layer 2.
  const std::vector<size_t> in_layer2 = [&] {
    std::vector<size_t> k2;
    for (size_t k : sample)
      if (layer_of(c.spec, k) == 2) k2.push_back(k);
    return k2;
  }();
  ASSERT_FALSE(in_layer2.empty());
  double largest = 0;
  for (size_t k : in_layer2) largest = std::max(largest, std::abs(numeric.values[k]));
  Parameters wrong = c.backprop;
  wrong.values[in_layer2.front()] += 1e-3 * largest;
  const GradcheckResult caught = c.compare(wrong, sample);
  EXPECT_NEAR(caught.layers[1].relative_error, 1e-3, 1e-6);
  EXPECT_EQ(caught.worst, caught.layers[1].relative_error);
  EXPECT_GT(caught.worst, kGradcheckTolerance);

  // The same error at an entry of layer 2 outside the sample leaves the report as it was.
  size_t outside = c.spec.weight_offset(2);
  while (std::binary_search(sample.begin(), sample.end(), outside)) ++outside;
  ASSERT_LT(outside, c.spec.weight_offset(3));
  Parameters unseen = c.backprop;
  unseen.values[outside] += 1e-3 * largest;
  EXPECT_EQ(c.compare(unseen, sample).worst, r.worst);
}

// Catches sampling that misses the bugs backprop has: a wrong factor on a whole layer (a 2/B for 1/B, a
// missing f' term) moves every entry, so even 2 entries of each layer catch it, layer by layer.
TEST(Gradcheck, SmallSampleCatchesAWrongLayer) {
  const Checked c;
  const std::vector<size_t> sample = gradcheck_entries(c.spec, 6, 24);
  for (int l = 1; l <= c.spec.num_layers(); ++l) {
    Parameters wrong = c.backprop;
    for (size_t k = c.spec.weight_offset(l); k < c.spec.weight_offset(l + 1); ++k) wrong.values[k] *= 1.01;
    const GradcheckResult r = c.compare(wrong, sample);
    EXPECT_GT(r.layers[size_t(l - 1)].relative_error, 100 * kGradcheckTolerance) << "layer " << l;
    EXPECT_GT(r.worst, kGradcheckTolerance) << "layer " << l;
  }
}

// Catches the default giving up the exact check where it is cheap, or not bounding it where it is not:
// every entry for the notes' network and for 2-200-200-1 at batch 4 (2·P²·B = 1.3e10 multiply-adds),
// a sample for 2-1000-1000-1 that fits kGradcheckDefaultWork, and at least kGradcheckMinEntries for
// 2-5000-5000-1 (issue 11: minutes with no output before); and gradcheck's default (0) is the full check,
// with the same figures as a request for every entry.
TEST(Gradcheck, SmallNetworksAreCheckedWholeByDefault) {
  EXPECT_EQ(default_gradcheck_entries(NetworkSpec{{2, 3, 3, 1}, false}, 4), 0u);
  EXPECT_EQ(default_gradcheck_entries(NetworkSpec{{2, 200, 200, 1}, false}, 4), 0u);
  const NetworkSpec mid{{2, 1000, 1000, 1}, false};
  const size_t sampled = default_gradcheck_entries(mid, 4);
  EXPECT_GE(sampled, kGradcheckMinEntries);
  EXPECT_LT(sampled, mid.parameter_count());
  EXPECT_LE(2.0 * double(mid.parameter_count()) * 4 * double(sampled), kGradcheckDefaultWork);
  EXPECT_EQ(default_gradcheck_entries(NetworkSpec{{2, 5000, 5000, 1}, false}, 4), kGradcheckMinEntries);

  const NetworkSpec spec{{3, 5, 2, 4, 2}, true};
  const GradcheckResult whole = gradcheck(spec, Loss::mse, 7, 3);
  const GradcheckResult every = gradcheck(spec, Loss::mse, 7, 3, spec.parameter_count());
  EXPECT_EQ(whole.entries_checked, spec.parameter_count());
  ASSERT_EQ(whole.layers.size(), every.layers.size());
  for (size_t l = 0; l < whole.layers.size(); ++l) {
    EXPECT_EQ(whole.layers[l].relative_error, every.layers[l].relative_error);
    EXPECT_EQ(whole.layers[l].entries_checked, whole.layers[l].entries);
  }
}

// Catches progress that is not reported entry by entry up to the end (the CLI's progress lines on
// stderr come from these calls).
TEST(Gradcheck, ReportsProgressForEveryEntry) {
  const NetworkSpec spec{{2, 3, 3, 1}, true};
  std::vector<size_t> done;
  size_t total_seen = 0;
  gradcheck(spec, Loss::mse, 3, 2, 7, [&](size_t d, size_t total) {
    done.push_back(d);
    total_seen = total;
  });
  EXPECT_EQ(total_seen, 7u);
  EXPECT_EQ(done, (std::vector<size_t>{1, 2, 3, 4, 5, 6, 7}));
}

}  // namespace
}  // namespace sigtrain
