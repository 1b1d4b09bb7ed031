// The optimizers' update rules, written once for every path (like activation.h's policies): the fp64
// reference, the cpu backend, the cuBLAS path's update kernel and the fused kernel instantiate them.
// The formulas are PyTorch's (torch.optim.SGD and torch.optim.Adam/AdamW, single-tensor form), for a
// parameter θ with gradient g at step t = 1, 2, … and learning rate lr (the schedule's, per epoch):
//
//   sgd        g ← g + wd·θ;                       θ ← θ − lr·g
//   momentum   g ← g + wd·θ;  b ← μ·b + g;         θ ← θ − lr·b        (b starts at 0, so b₁ = g₁)
//   nesterov   g ← g + wd·θ;  b ← μ·b + g;         θ ← θ − lr·(g + μ·b)
//   adam       g ← g + wd·θ;  m ← m + (1 − β1)(g − m);  v ← β2·v + (1 − β2)·g²;
//              θ ← θ − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
//   adamw      θ ← θ·(1 − lr·wd), then adam's update with g as it is (decoupled weight decay)
//
// A policy O has O::kSlots values of state per parameter (b, or m and v), slot k of parameter e at
// state[e + k·stride] (stride = P: slot-major, each slot in the flat parameter layout of network.h), and
//   O::update(θ, g, state, stride, step)   one parameter's update, in place,
// where `step` holds the scalars of the step, the same for every parameter (optimizer_step below).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "math/activation.h"  // SIGTRAIN_HD

namespace sigtrain {

// The optimizers by name, as the command line and the model file choose them.
enum class OptimizerKind : uint8_t { sgd, momentum, nesterov, adam, adamw };

// What the user chose (PyTorch's defaults; weight decay off). Plain data, passed to kernels by value.
struct OptimizerSettings {
  OptimizerKind kind = OptimizerKind::sgd;
  double momentum = 0.9;  // μ: momentum, nesterov
  double beta1 = 0.9;     // adam, adamw
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // wd: an L2 penalty (added to g) for all but adamw, decoupled for adamw
};

// The scalars of step t (1-based) with learning rate lr, in the precision of the parameters.
template <typename T>
struct OptimizerStep {
  T lr;
  T weight_decay;
  T momentum;
  T one_minus_beta1, beta2, one_minus_beta2;
  T step_size;              // lr / (1 − β1ᵗ)
  T bias_correction2_sqrt;  // √(1 − β2ᵗ)
  T eps;
  T decay;  // 1 − lr·wd (adamw)
};

// Computed in double on both sides (the fused kernel on the device, per step; the others on the host).
template <typename T>
SIGTRAIN_HD OptimizerStep<T> optimizer_step(const OptimizerSettings& s, double lr, uint64_t t) {
  OptimizerStep<T> k;
  k.lr = T(lr);
  k.weight_decay = T(s.weight_decay);
  k.momentum = T(s.momentum);
  k.one_minus_beta1 = T(1.0 - s.beta1);
  k.beta2 = T(s.beta2);
  k.one_minus_beta2 = T(1.0 - s.beta2);
  k.step_size = T(lr / (1.0 - pow(s.beta1, double(t))));
  k.bias_correction2_sqrt = T(sqrt(1.0 - pow(s.beta2, double(t))));
  k.eps = T(s.eps);
  k.decay = T(1.0 - lr * s.weight_decay);
  return k;
}

// g + wd·θ, the L2 penalty's gradient (skipped when wd is 0, so that plain SGD is exactly θ − lr·g).
template <typename T>
SIGTRAIN_HD T with_l2(T g, T theta, const OptimizerStep<T>& k) {
  return k.weight_decay != T(0) ? g + k.weight_decay * theta : g;
}

struct Sgd {
  static constexpr int kSlots = 0;
  template <typename T>
  static SIGTRAIN_HD void update(T& theta, T g, T*, size_t, const OptimizerStep<T>& k) {
    theta -= k.lr * with_l2(g, theta, k);
  }
};

struct Momentum {
  static constexpr int kSlots = 1;
  template <typename T>
  static SIGTRAIN_HD void update(T& theta, T g, T* state, size_t, const OptimizerStep<T>& k) {
    g = with_l2(g, theta, k);
    T& b = state[0];
    b = k.momentum * b + g;
    theta -= k.lr * b;
  }
};

struct Nesterov {
  static constexpr int kSlots = 1;
  template <typename T>
  static SIGTRAIN_HD void update(T& theta, T g, T* state, size_t, const OptimizerStep<T>& k) {
    g = with_l2(g, theta, k);
    T& b = state[0];
    b = k.momentum * b + g;
    theta -= k.lr * (g + k.momentum * b);
  }
};

// Adam's moments and step, after the weight decay has been applied (shared by adam and adamw).
template <typename T>
SIGTRAIN_HD void adam_step(T& theta, T g, T* state, size_t stride, const OptimizerStep<T>& k) {
  T& m = state[0];
  T& v = state[stride];
  m = m + k.one_minus_beta1 * (g - m);        // torch: exp_avg.lerp_(grad, 1 − β1)
  v = k.beta2 * v + k.one_minus_beta2 * g * g;  // torch: exp_avg_sq.mul_(β2).addcmul_(grad, grad, 1 − β2)
  const T denom = sqrt(v) / k.bias_correction2_sqrt + k.eps;
  theta -= k.step_size * m / denom;
}

struct Adam {
  static constexpr int kSlots = 2;
  template <typename T>
  static SIGTRAIN_HD void update(T& theta, T g, T* state, size_t stride, const OptimizerStep<T>& k) {
    adam_step(theta, with_l2(g, theta, k), state, stride, k);
  }
};

struct AdamW {
  static constexpr int kSlots = 2;
  template <typename T>
  static SIGTRAIN_HD void update(T& theta, T g, T* state, size_t stride, const OptimizerStep<T>& k) {
    theta *= k.decay;  // torch: param.mul_(1 − lr·wd)
    adam_step(theta, g, state, stride, k);
  }
};

// Calls f(Policy{}) with the optimizer of `kind`: the one place where the choice becomes a type.
template <class F>
SIGTRAIN_HD decltype(auto) with_optimizer(OptimizerKind kind, F&& f) {
  switch (kind) {
    case OptimizerKind::momentum:
      return f(Momentum{});
    case OptimizerKind::nesterov:
      return f(Nesterov{});
    case OptimizerKind::adam:
      return f(Adam{});
    case OptimizerKind::adamw:
      return f(AdamW{});
    case OptimizerKind::sgd:
    default:
      return f(Sgd{});
  }
}

// State values per parameter of `kind` (0, 1 or 2).
SIGTRAIN_HD int optimizer_slots(OptimizerKind kind) {
  return with_optimizer(kind, [](auto policy) { return decltype(policy)::kSlots; });
}

}  // namespace sigtrain
