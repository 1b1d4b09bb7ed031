// DESIGN.md §1 for one sample at a time, as __host__ __device__ functions: the per-sample math of the
// fully fused training kernel (kernels/fused_kernel.cu), and of its host twin in host/backends/cuda/fused_host.cpp
// that the CPU tests check against the reference, so that the code the GPU runs is also the code the
// CPU tests exercise; and of the cpu backend's small batches (host/backends/cpu/cpu_backend.cpp).
//
// A sample's values of one layer are contiguous (a row of n floats); W is row-major n_out × n_in.
// The activation (Act, activation.h) and the head (loss and output activation, loss.h) are policies.
#pragma once

#include "math/activation.h"
#include "math/loss.h"

namespace sigtrain {

// z = W a_in + b for one sample (b may be null); then a = Act::forward(z) when the layer is hidden
// (the output layer keeps its logits z: the head applies the output activation).
template <class Act, typename T>
SIGTRAIN_HD void dense_forward_sample(const T* W, const T* b, const T* a_in, T* a_out, int n_in, int n_out,
                                      bool hidden) {
  for (int i = 0; i < n_out; ++i) {
    T z = b ? b[i] : T(0);
    for (int j = 0; j < n_in; ++j) z += W[i * n_in + j] * a_in[j];
    a_out[i] = hidden ? Act::forward(z) : z;
  }
}

// The output layer's delta for one sample from its logits z: Δ_L = (1/B) dℓ/dz (the notes' (2/B)(ŷ − y));
// returns Σ_o ℓ(z_o, y_o), its loss term. delta may be z itself (each z_o is read before Δ_o is written).
template <class Head, typename T>
SIGTRAIN_HD T output_delta_sample(const T* z, const T* y, T* delta, int n_out, T inv_B) {
  T loss = T(0);
  for (int o = 0; o < n_out; ++o) {
    loss += Head::value(z[o], y[o]);
    delta[o] = Head::delta(z[o], y[o]) * inv_B;
  }
  return loss;
}

// One sample's delta one layer down: Δ_{l-1} = (W_lᵀ Δ_l) ⊙ f'(a_{l-1}) (the notes' a ⊙ (1 − a) for σ).
template <class Act, typename T>
SIGTRAIN_HD void dense_backward_sample(const T* W, const T* delta, const T* a_in, T* delta_in, int n_in, int n_out) {
  for (int j = 0; j < n_in; ++j) {
    T sum = T(0);
    for (int i = 0; i < n_out; ++i) sum += W[i * n_in + j] * delta[i];
    delta_in[j] = sum * Act::grad_from_output(a_in[j]);
  }
}

// One sample's share of a layer's gradient: dW += Δ a_inᵀ (dW[i][j] += Δ[i]·a_in[j]) and db += Δ
// (db may be null).
template <typename T>
SIGTRAIN_HD void add_gradient_sample(const T* delta, const T* a_in, T* dW, T* db, int n_in, int n_out) {
  for (int i = 0; i < n_out; ++i) {
    for (int j = 0; j < n_in; ++j) dW[i * n_in + j] += delta[i] * a_in[j];
    if (db) db[i] += delta[i];
  }
}

// Part of one entry of a layer's gradient over a group of `count` samples: the samples t = start,
// start + stride, … < count of dW[i][j] = Σ_t Δ[t][i] · a_in[t][j] (or of db[i] = Σ_t Δ[t][i] when
// j < 0), in sample order. Row t of Δ starts at delta + t·delta_row, row t of a_in at a_in + t·a_row.
template <typename T>
SIGTRAIN_HD T gradient_partial(const T* delta, int delta_row, const T* a_in, int a_row, int i, int j, int start,
                               int stride, int count) {
  T sum = T(0);
  for (int t = start; t < count; t += stride) sum += delta[t * delta_row + i] * (j < 0 ? T(1) : a_in[t * a_row + j]);
  return sum;
}

}  // namespace sigtrain
