// The fp64 reference: plain loops that read like DESIGN.md §1, one forward and one backward function
// per layer kind (linear, activation, loss) and one update, each a few lines over the shared policies
// of kernels/math/ (activation.h, loss.h, optimizer.h) instantiated on double. It is the oracle every
// other path is tested against, and is itself tested against central finite differences, the notes'
// formulas and PyTorch's update formulas written out in the tests. It is never optimised.
//
// Shapes: a layer maps n_in → n_out over a batch of B samples (sizes and indices in size_t: products
// of them pass 2³¹ on wide layers and large batches). Matrices of activations are column-major n × B
// (sample b's values contiguous, at [b*n … b*n + n−1]); W is n_out × n_in row-major (out × in).
#pragma once

#include <cstddef>
#include <vector>

#include "model/model.h"
#include "model/network.h"

namespace sigtrain::reference {

// Linear layer, forward: Z = W A_in + b.          Z: n_out × B, A_in: n_in × B, W: n_out × n_in, b: n_out or null
void linear_forward(double* Z, const double* A_in, const double* W, const double* b, size_t n_in, size_t n_out,
                    size_t B);
// Linear layer, backward, from Δ = dLoss/dZ (n_out × B):
//   dW = Δ A_inᵀ (n_out × n_in),  db = Δ 1 (n_out, row sums over the batch),  dA_in = Wᵀ Δ (n_in × B).
// db and dA_in may be null when not wanted (no bias; the input layer).
void linear_backward(double* dA_in, double* dW, double* db, const double* delta, const double* A_in, const double* W,
                     size_t n_in, size_t n_out, size_t B);

// Activation layer, forward: A = f(Z), elementwise over n values (f: sigmoid, tanh, relu; activation.h).
void activation_forward(Activation f, double* A, const double* Z, size_t n);
// Activation layer, backward: Δ = dA ⊙ f'(Z), with f'(Z) taken from the stored activation A
// (σ' = A(1 − A), tanh' = 1 − A², relu' = [A > 0]).
void activation_backward(Activation f, double* delta, const double* dA, const double* A, size_t n);

// The loss on the output layer's logits Z (n_out × B) with the output activation `output` (loss.h):
//   forward:  Loss = (1/B) Σ_b Σ_o ℓ(Z, Y)_{o,b}     (mse, linear output: the notes' (1/B) Σ (Ŷ − Y)²)
//   backward: Δ_L = (1/B) dℓ/dZ                       (mse, linear output: (2/B)(Ŷ − Y))
double loss_forward(Loss loss, Activation output, const double* Z, const double* Y, int n_out, size_t B);
void loss_backward(Loss loss, Activation output, double* delta, const double* Z, const double* Y, int n_out, size_t B);

// One optimizer step over the flat parameter buffer (optimizer.h, PyTorch's formulas): step t =
// state.steps + 1 at learning rate lr; advances state.steps and the state's values (zeros when empty).
void optimizer_update(const OptimizerSettings& settings, double lr, OptimizerState& state, double* params,
                      const double* grads, size_t n);

// The whole network on one batch. A[l] holds A_l (n_l × B) for l = 0 … L−1, and A[L] the output
// layer's logits Z_L (Ŷ = output activation of Z_L; Z_L itself for the notes' linear output).
struct Activations {
  size_t B = 0;
  std::vector<std::vector<double>> A;
};
// Forward pass of §1: A_0 = X, A_l = f(W_l A_{l-1} + b_l) for l < L, Z_L = W_L A_{L-1} + b_L.
Activations forward(const Parameters& p, const double* X, size_t B);
// Ŷ for a batch: the output activation of forward's Z_L (nL × B).
std::vector<double> predict(const Parameters& p, const double* X, size_t B);
// Loss of §1 and its gradient by backpropagation (same layout as Parameters).
double loss_and_gradients(const Parameters& p, Loss loss, const double* X, const double* Y, size_t B, Parameters& grad);
// Loss of §1 only.
double loss(const Parameters& p, Loss loss, const double* X, const double* Y, size_t B);

}  // namespace sigtrain::reference
