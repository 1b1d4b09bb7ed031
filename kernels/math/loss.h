// The losses, with the output activation they apply to, written once for every path (like
// activation.h's policies). Every path computes the output layer linearly, Z_L = W_L A_{L-1} + b_L
// (the "logits"), and hands z to a head H, which owns the output activation and the loss:
//
//   H::Output                 the output activation: ŷ = H::Output::forward(z)
//   H::value(z, y)            one output's loss term ℓ(ŷ, y); the batch loss is (1/B) Σ_b Σ_o ℓ
//   H::delta(z, y)            dℓ/dz, so that Δ_L = (1/B) H::delta(Z_L, Y) starts backpropagation
//
// Keeping z (not ŷ) lets binary cross-entropy be computed from the logit, where it is stable for any z.
//
//   mse, linear output:   ℓ = (z − y)²,  dℓ/dz = 2(z − y)                 the notes' f = (ŷ − y)²
//   mse, sigmoid output:  ℓ = (σ(z) − y)²,  dℓ/dz = 2(ŷ − y)·ŷ(1 − ŷ)
//   bce, sigmoid output:  ℓ = −[y log ŷ + (1 − y) log(1 − ŷ)] = max(z, 0) − z·y + log(1 + e^{−|z|}),
//                         dℓ/dz = σ(z) − y                                 (PyTorch's BCEWithLogitsLoss)
#pragma once

#include "math/activation.h"

namespace sigtrain {

// Squared-error residual derivative: d/dŷ (ŷ − y)² = 2(ŷ − y) (the notes' "2·sqrt(f)", with its sign).
template <typename T>
SIGTRAIN_HD T squared_error_grad(T yhat, T y) {
  return T(2) * (yhat - y);
}

// log(1 + e^{x}) for x ≤ 0 without overflow or loss of the small values.
SIGTRAIN_HD double log1p_exp_nonpositive(double x) { return log1p(exp(x)); }
SIGTRAIN_HD float log1p_exp_nonpositive(float x) { return log1pf(expf(x)); }

// (ŷ − y)² on the output activation Out (Identity: the notes' linear output; Sigmoid).
template <class Out>
struct SquaredError {
  using Output = Out;
  template <typename T>
  static SIGTRAIN_HD T value(T z, T y) {
    const T residual = Out::forward(z) - y;
    return residual * residual;
  }
  template <typename T>
  static SIGTRAIN_HD T delta(T z, T y) {
    const T yhat = Out::forward(z);
    return squared_error_grad(yhat, y) * Out::grad_from_output(yhat);
  }
};

// Binary cross-entropy on a sigmoid output, from the logit z (targets in [0, 1]).
struct BinaryCrossEntropy {
  using Output = Sigmoid;
  template <typename T>
  static SIGTRAIN_HD T value(T z, T y) {
    const T positive = z < T(0) ? T(0) : z;  // max(z, 0)
    const T magnitude = z < T(0) ? -z : z;    // |z|
    return positive - z * y + log1p_exp_nonpositive(-magnitude);
  }
  template <typename T>
  static SIGTRAIN_HD T delta(T z, T y) {
    return sigmoid(z) - y;
  }
};

// The losses by name: mse (default; the notes' loss) and bce (binary cross-entropy, sigmoid output only).
enum class Loss : uint8_t { mse, bce };

// Calls f(Head{}) for the loss and output activation: the one place where they become a type. bce
// takes only a sigmoid output (check_head says so before any training); here it is bce whatever `output`.
template <class F>
SIGTRAIN_HD decltype(auto) with_head(Loss loss, Activation output, F&& f) {
  if (loss == Loss::bce) return f(BinaryCrossEntropy{});
  if (output == Activation::sigmoid) return f(SquaredError<Sigmoid>{});
  return f(SquaredError<Identity>{});
}

}  // namespace sigtrain
