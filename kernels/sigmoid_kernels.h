// The fused elementwise kernels of the cuda backend (DESIGN.md §1, §2), as host-callable launchers.
// Matrices are column-major n × B (sample b's values contiguous), as cuBLAS sees them. Every launcher
// enqueues on `stream` and returns at once; none synchronises and none uses float atomics, so the same
// inputs give the same bits on every run.
//
// This header needs only cuda_runtime_api.h, so host C++ (the tests) can call the launchers directly.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace sigtrain::kernels {

constexpr int kBlockSize = 256;

// Blocks of kBlockSize threads that output_loss_delta uses for nL × B values (the size of `partials`).
inline int loss_blocks(int n_out, size_t B) { return int((size_t(n_out) * B + kBlockSize - 1) / kBlockSize); }

// Gathers one batch from the resident data set: A0[:, b] = X[:, order[p + b]], Yb[:, b] = Y[:, order[p + b]]
// for b < B, where p = *position is read on the device (so a captured graph replays for every step).
// order may be null: identity (file order).
void gather_batch(const float* X, const float* Y, const uint32_t* order, const unsigned long long* position,
                  int n0, int nL, size_t B, float* A0, float* Yb, cudaStream_t stream);

// Hidden layer after its GEMM: A = σ(Z + b), in place. Z: n × B; bias: n, or null.
void bias_sigmoid(float* Z, const float* bias, int n, size_t B, cudaStream_t stream);
// Output layer after its GEMM, for prediction: Ŷ = Z + b, in place (nothing when bias is null).
void bias_linear(float* Z, const float* bias, int n, size_t B, cudaStream_t stream);

// Output layer after its GEMM, for training: Ŷ = Z + b (in place), Δ_L = (2/B)(Ŷ − Y), and per block the
// partial sum of (Ŷ − Y)² in a fixed order (partials has loss_blocks(n_out, B) entries).
void output_loss_delta(float* Z, const float* bias, const float* Y, float* delta, float* partials, int n_out,
                       size_t B, cudaStream_t stream);
// *accumulator += Σ_k partials[k], summed in a fixed order in fp64 (one block).
void accumulate_loss(const float* partials, int count, double* accumulator, cudaStream_t stream);

// Backward through a sigmoid: Δ = dA ⊙ A ⊙ (1 − A), over `count` values.
void sigmoid_backward(const float* dA, const float* A, float* delta, size_t count, cudaStream_t stream);
// Bias gradient: db[i] = Σ_b Δ[i, b] (Δ: n × B), one block per row, in a fixed order.
void row_sums(const float* delta, int n, size_t B, float* db, cudaStream_t stream);

// Plain SGD over the whole flat parameter buffer in one launch: θ ← θ − lr · dθ.
void sgd_update(float* params, const float* grads, size_t n, float lr, cudaStream_t stream);

// The epoch position the next gather reads: *position += count / *position = value.
void advance_position(unsigned long long* position, size_t count, cudaStream_t stream);
void set_position(unsigned long long* position, unsigned long long value, cudaStream_t stream);

// The epoch's order: order[i] = i (file order) or the stable sort of the indices by shuffle_key(seed, i)
// (kernels/shuffle_key.h), made with Thrust; the same permutation the host's epoch_permutation makes.
void epoch_order(uint32_t* order, size_t n, bool shuffle, uint64_t seed, cudaStream_t stream);
// The orders of many networks at once, network r's (shuffled[r] 0 or 1, seeds[r]: host arrays) at
// orders + r·n; each the permutation epoch_order makes for it. Sorted as segments of one CUB
// segmented sort (a group of networks at a time, to bound the temporary memory), not a sort each.
void epoch_orders(uint32_t* orders, size_t n, size_t networks, const uint8_t* shuffled, const uint64_t* seeds,
                  cudaStream_t stream);

}  // namespace sigtrain::kernels
