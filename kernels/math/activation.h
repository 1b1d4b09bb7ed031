// The activations, written once for every path: the fp64 reference, the cpu backend's scalar and
// vector kernels, the cuBLAS path's elementwise kernels and the fused kernel all instantiate these
// policies (a type with the forward value and the derivative), on double, float or a vector of floats.
//
// An activation policy A has
//   A::forward(z)          a = f(z)
//   A::grad_from_output(a) f'(z) expressed through a = f(z), so the backward pass needs only the
//                          stored activations and never re-evaluates an exp (the notes' z1(1 − z1)).
// Every f here has such a form: σ' = a(1 − a), tanh' = 1 − a², relu' = [a > 0], identity' = 1.
//
// The elementary functions (sigmoid, tanh_of, relu_of, relu_grad_of) are overloaded per number type;
// the cpu kernels add their own for their vector type, found by argument-dependent lookup.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define SIGTRAIN_HD __host__ __device__ __forceinline__
#else
#define SIGTRAIN_HD inline
#endif

namespace sigtrain {

// σ(x) = 1/(1 + e^{-x}). For very negative x, e^{-x} overflows to +inf and σ is exactly 0 (no NaN).
SIGTRAIN_HD double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
SIGTRAIN_HD float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
SIGTRAIN_HD double tanh_of(double x) { return tanh(x); }
SIGTRAIN_HD float tanh_of(float x) { return tanhf(x); }
// max(z, 0), written so that a NaN stays NaN (a diverged network must still report a NaN loss).
SIGTRAIN_HD double relu_of(double x) { return x < 0.0 ? 0.0 : x; }
SIGTRAIN_HD float relu_of(float x) { return x < 0.0f ? 0.0f : x; }
// relu'(z) from a = relu(z): 1 where a > 0, else 0 (0 at z = 0, as PyTorch's).
SIGTRAIN_HD double relu_grad_of(double a) { return a > 0.0 ? 1.0 : 0.0; }
SIGTRAIN_HD float relu_grad_of(float a) { return a > 0.0f ? 1.0f : 0.0f; }

// σ'(x) expressed through a = σ(x): dσ/dx = a(1 − a)  (the notes' z1(1 − z1), h1(1 − h1)).
template <typename T>
SIGTRAIN_HD T sigmoid_grad_from_output(T a) {
  return a * (T(1) - a);
}

// ---- The policies ---------------------------------------------------------------------------------

struct Sigmoid {  // the notes' hidden units: a = σ(z)
  template <typename T>
  static SIGTRAIN_HD T forward(T z) {
    return sigmoid(z);
  }
  template <typename T>
  static SIGTRAIN_HD T grad_from_output(T a) {
    return sigmoid_grad_from_output(a);
  }
};

struct Tanh {  // a = tanh(z), tanh' = 1 − a²
  template <typename T>
  static SIGTRAIN_HD T forward(T z) {
    return tanh_of(z);
  }
  template <typename T>
  static SIGTRAIN_HD T grad_from_output(T a) {
    return T(1) - a * a;
  }
};

struct Relu {  // a = max(z, 0), relu' = [a > 0]
  template <typename T>
  static SIGTRAIN_HD T forward(T z) {
    return relu_of(z);
  }
  template <typename T>
  static SIGTRAIN_HD T grad_from_output(T a) {
    return relu_grad_of(a);
  }
};

struct Identity {  // the notes' linear output: a = z
  template <typename T>
  static SIGTRAIN_HD T forward(T z) {
    return z;
  }
  template <typename T>
  static SIGTRAIN_HD T grad_from_output(T) {
    return T(1);
  }
};

// The activations by name, as the command line and the model file choose them: hidden layers take
// sigmoid (default), tanh or relu; the output layer linear (default) or sigmoid.
enum class Activation : uint8_t { sigmoid, tanh, relu, linear };

// Calls f(Policy{}) with the policy of `a`: the one place where a runtime choice becomes a type.
template <class F>
SIGTRAIN_HD decltype(auto) with_activation(Activation a, F&& f) {
  switch (a) {
    case Activation::tanh:
      return f(Tanh{});
    case Activation::relu:
      return f(Relu{});
    case Activation::linear:
      return f(Identity{});
    case Activation::sigmoid:
    default:
      return f(Sigmoid{});
  }
}

}  // namespace sigtrain
