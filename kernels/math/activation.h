// The activation math, written once for the CPU code (reference and cpu backends) and the CUDA
// kernels. DESIGN.md §1: hidden layers use σ(x) = 1/(1 + e^{-x}); its derivative is taken from the
// stored activation, σ'(x) = σ(x)(1 − σ(x)), so the backward pass never re-evaluates an exp.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define SIGTRAIN_HD __host__ __device__ __forceinline__
#else
#define SIGTRAIN_HD inline
#endif

namespace sigtrain {

// σ(x) = 1/(1 + e^{-x}). For very negative x, e^{-x} overflows to +inf and σ is exactly 0 (no NaN).
SIGTRAIN_HD double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
SIGTRAIN_HD float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// σ'(x) expressed through a = σ(x): dσ/dx = a(1 − a)  (the notes' z1(1 − z1), h1(1 − h1)).
template <typename T>
SIGTRAIN_HD T sigmoid_grad_from_output(T a) {
  return a * (T(1) - a);
}

// Squared-error residual derivative: d/dŷ (ŷ − y)² = 2(ŷ − y) (the notes' "2·sqrt(f)", with its sign).
template <typename T>
SIGTRAIN_HD T squared_error_grad(T yhat, T y) {
  return T(2) * (yhat - y);
}

}  // namespace sigtrain
