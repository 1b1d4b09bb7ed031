// Backpropagation against central finite differences, in fp64 (DESIGN.md §5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "math/loss.h"
#include "model/network.h"

namespace sigtrain {

// ∂Loss/∂θ_k ≈ (Loss(θ + h e_k) − Loss(θ − h e_k)) / 2h for every parameter, with the reference loss.
// The error is O(h²) from truncation plus O(ε/h) from rounding; h = 1e-5 balances them in fp64.
constexpr double kFiniteDifferenceStep = 1e-5;
Parameters finite_difference_gradient(const Parameters& p, Loss loss, const double* X, const double* Y, int B,
                                      double h = kFiniteDifferenceStep);

struct GradcheckLayer {
  int layer = 0;                 // l = 1 … L
  double relative_error = 0;     // relative_difference(backprop, finite differences) over the checked entries of W_l and b_l
  size_t entries_checked = 0;    // of `entries`
  size_t entries = 0;            // W_l's and b_l's
};

struct GradcheckResult {
  std::vector<GradcheckLayer> layers;
  double worst = 0;
  double loss = 0;
  size_t entries_checked = 0;  // of the network's parameter count
};

// Tolerance of `sigtrain gradcheck` and of the reference's tests.
constexpr double kGradcheckTolerance = 1e-6;

// Called after each entry checked: (entries done, entries to check).
using GradcheckProgress = std::function<void(size_t done, size_t total)>;

// Each central difference costs two forward passes, about 2·P·B multiply-adds for P parameters, so a
// full check costs 2·P²·B: days for millions of parameters. By default gradcheck checks every entry
// while that stays within kGradcheckDefaultWork multiply-adds, and above as many entries as fit in it,
// at least kGradcheckMinEntries. Measured (2-core machine, batch 4): 2-200-200-1 is checked whole in
// 5 s; 2-5000-5000-1 checks 100 entries in 24 s (its forward passes run from memory, not cache).
constexpr double kGradcheckDefaultWork = 2e10;
constexpr size_t kGradcheckMinEntries = 100;
// The default number of entries for `spec` at batch B: 0 (every entry) or the sample's size.
size_t default_gradcheck_entries(const NetworkSpec& spec, int B);

// The flat parameter indices a check of `entries` entries looks at, sorted: every index when `entries`
// is 0 or at least the parameter count; else `entries` shared evenly between the layers (a layer smaller
// than its share is checked whole and leaves the rest to the others, so that the output layer is not
// drowned by a wide hidden one), drawn at random within each layer from `seed`.
std::vector<size_t> gradcheck_entries(const NetworkSpec& spec, size_t entries, uint64_t seed);

// `backprop` (a gradient of the reference loss at p) against central differences at `entries`
// (gradcheck_entries), layer by layer: each layer's relative error is relative_difference over its
// checked entries (the largest difference over the largest finite-difference entry among them), worst
// the largest of the layers'. loss is left at 0.
GradcheckResult compare_with_finite_differences(const Parameters& p, const Parameters& backprop, Loss loss,
                                                const double* X, const double* Y, int B,
                                                const std::vector<size_t>& entries,
                                                const GradcheckProgress& progress = {});

// A Glorot network of `spec` (its activations) from `seed`, a batch of B random inputs in [-2, 2] and
// targets in [-1, 1] (in [0, 1] for bce) from the same seed; backprop (the reference, with `loss`)
// against finite differences at gradcheck_entries(spec, entries, seed): every entry by default.
GradcheckResult gradcheck(const NetworkSpec& spec, Loss loss, uint64_t seed, int B, size_t entries = 0,
                          const GradcheckProgress& progress = {});

// Random batch helper shared by gradcheck and the tests: X (n0 × B) uniform in [-2, 2], Y (nL × B) in
// [-1, 1], or in [0, 1] (y → (y + 1)/2) for bce, whose targets are probabilities.
void random_batch(const NetworkSpec& spec, Loss loss, uint64_t seed, int B, std::vector<double>& X,
                  std::vector<double>& Y);

}  // namespace sigtrain
