// The fp64 reference: plain loops that read like DESIGN.md §1, one forward and one backward function
// per layer kind (linear, sigmoid, squared-error loss). It is the oracle every other path is tested
// against, and is itself tested against central finite differences and the notes' formulas. It is
// never optimised.
//
// Shapes: a layer maps n_in → n_out over a batch of B samples. Matrices of activations are column-major
// n × B (sample b's values contiguous, at [b*n … b*n + n−1]); W is n_out × n_in row-major (out × in).
#pragma once

#include <vector>

#include "model/network.h"

namespace sigtrain::reference {

// Linear layer, forward: Z = W A_in + b.          Z: n_out × B, A_in: n_in × B, W: n_out × n_in, b: n_out or null
void linear_forward(double* Z, const double* A_in, const double* W, const double* b, int n_in, int n_out, int B);
// Linear layer, backward, from Δ = dLoss/dZ (n_out × B):
//   dW = Δ A_inᵀ (n_out × n_in),  db = Δ 1 (n_out, row sums over the batch),  dA_in = Wᵀ Δ (n_in × B).
// db and dA_in may be null when not wanted (no bias; the input layer).
void linear_backward(double* dA_in, double* dW, double* db, const double* delta, const double* A_in,
                     const double* W, int n_in, int n_out, int B);

// Sigmoid layer, forward: A = σ(Z), elementwise over n values.
void sigmoid_forward(double* A, const double* Z, size_t n);
// Sigmoid layer, backward: Δ = dA ⊙ A ⊙ (1 − A), with σ' taken from the stored activation A.
void sigmoid_backward(double* delta, const double* dA, const double* A, size_t n);

// Squared-error loss, forward: Loss = (1/B) Σ_b Σ_o (Ŷ − Y)²_{o,b}.      Ŷ, Y: n_out × B
double squared_error_forward(const double* Yhat, const double* Y, int n_out, int B);
// Squared-error loss, backward: Δ_L = (2/B)(Ŷ − Y).
void squared_error_backward(double* delta, const double* Yhat, const double* Y, int n_out, int B);

// Plain SGD over the flat parameter buffer: θ ← θ − lr · dθ.
void sgd_update(double* params, const double* grads, size_t n, double lr);

// The whole network on one batch. A[l] holds A_l (n_l × B) for l = 0 … L; A[L] is Ŷ.
struct Activations {
  int B = 0;
  std::vector<std::vector<double>> A;
};
// Forward pass of §1: A_0 = X, A_l = σ(W_l A_{l-1} + b_l) for l < L, Ŷ = W_L A_{L-1} + b_L.
Activations forward(const Parameters& p, const double* X, int B);
// Loss of §1 and its gradient by backpropagation (same layout as Parameters).
double loss_and_gradients(const Parameters& p, const double* X, const double* Y, int B, Parameters& grad);
// Loss of §1 only.
double loss(const Parameters& p, const double* X, const double* Y, int B);

}  // namespace sigtrain::reference
