// Backpropagation against central finite differences, in fp64 (DESIGN.md §5).
#pragma once

#include <cstdint>
#include <vector>

#include "math/loss.h"
#include "model/network.h"

namespace sigtrain {

// ∂Loss/∂θ_k ≈ (Loss(θ + h e_k) − Loss(θ − h e_k)) / 2h for every parameter, with the reference loss.
// The error is O(h²) from truncation plus O(ε/h) from rounding; h = 1e-5 balances them in fp64.
Parameters finite_difference_gradient(const Parameters& p, Loss loss, const double* X, const double* Y, int B,
                                      double h = 1e-5);

struct GradcheckLayer {
  int layer = 0;                 // l = 1 … L
  double relative_error = 0;     // relative_difference(backprop, finite differences) over W_l and b_l
};

struct GradcheckResult {
  std::vector<GradcheckLayer> layers;
  double worst = 0;
  double loss = 0;
};

// Tolerance of `sigtrain gradcheck` and of the reference's tests.
constexpr double kGradcheckTolerance = 1e-6;

// A Glorot network of `spec` (its activations) from `seed`, a batch of B random inputs in [-2, 2] and
// targets in [-1, 1] (in [0, 1] for bce) from the same seed; backprop (the reference, with `loss`)
// against finite differences.
GradcheckResult gradcheck(const NetworkSpec& spec, Loss loss, uint64_t seed, int B);

// Random batch helper shared by gradcheck and the tests: X (n0 × B) uniform in [-2, 2], Y (nL × B) in
// [-1, 1], or in [0, 1] (y → (y + 1)/2) for bce, whose targets are probabilities.
void random_batch(const NetworkSpec& spec, Loss loss, uint64_t seed, int B, std::vector<double>& X,
                  std::vector<double>& Y);

}  // namespace sigtrain
