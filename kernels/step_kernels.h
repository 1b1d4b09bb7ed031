// The cuBLAS path's kernels beside its GEMMs (DESIGN.md §1, §2), as host-callable launchers: the
// gather of a batch, the layers' elementwise work on the activation and head policies
// (kernels/math/), the loss and bias reductions, and the optimizer's update. Matrices are column-major
// n × B (sample b's values contiguous), as cuBLAS sees them. Every launcher enqueues on `stream`,
// returns at once with the launch's error (cudaSuccess when it went); none synchronises and none uses
// float atomics, so the same inputs give the same bits on every run.
//
// This header needs only cuda_runtime_api.h, so host C++ (the backend, the tests) calls the launchers
// directly; the policies become types inside the launchers (with_activation, with_head, with_optimizer).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "math/activation.h"
#include "math/epoch_shuffle.h"
#include "math/loss.h"
#include "math/optimizer.h"

namespace sigtrain::kernels {

constexpr int kBlockSize = 256;

// Blocks of kBlockSize threads for one thread per value of `count` (the elementwise kernels here and
// in rank_sum.cu).
inline unsigned blocks_for(size_t count) { return unsigned((count + kBlockSize - 1) / kBlockSize); }

// Blocks of kBlockSize threads that output_loss_delta uses for nL × B values (the size of `partials`).
inline int loss_blocks(int n_out, size_t B) { return int((size_t(n_out) * B + kBlockSize - 1) / kBlockSize); }

// Gathers one batch from the resident data set: A0[:, b] = X[:, r(p + b)], Yb[:, b] = Y[:, r(p + b)] for
// b < B, where r = order->row (math/epoch_shuffle.h) and p = *position, both read on the device (so a
// captured graph replays for every step of every epoch). order may be null: file order, r(p) = p.
cudaError_t gather_batch(const float* X, const float* Y, const EpochShuffle* order, const unsigned long long* position,
                         int n0, int nL, size_t B, float* A0, float* Yb, cudaStream_t stream);

// A layer after its GEMM: A = f(Z + b), in place, f the activation `f` (linear for the output layer's
// logits, where nothing is done without a bias). Z: n × B; bias: n, or null.
cudaError_t bias_activation(Activation f, float* Z, const float* bias, int n, size_t B, cudaStream_t stream);

// The output layer after its GEMM, for training, with the head of (loss, output) (math/loss.h):
// Z = Z + b, the logits (in place); Δ_L = Head::delta(Z, Y) / B; and per block the partial sum of the
// loss terms Head::value(Z, Y) in a fixed order (partials has loss_blocks(n_out, B) entries).
cudaError_t output_loss_delta(Loss loss, Activation output, float* Z, const float* bias, const float* Y, float* delta,
                              float* partials, int n_out, size_t B, cudaStream_t stream);
// *accumulator += Σ_k partials[k], summed in a fixed order in fp64 (one block).
cudaError_t accumulate_loss(const float* partials, int count, double* accumulator, cudaStream_t stream);

// Backward through the activation f: Δ = dA ⊙ f'(A), f' from the layer's output A, over `count` values.
cudaError_t activation_backward(Activation f, const float* dA, const float* A, float* delta, size_t count,
                                cudaStream_t stream);
// Bias gradient: db[i] = Σ_b Δ[i, b] (Δ: n × B), one block per row, in a fixed order.
cudaError_t row_sums(const float* delta, int n, size_t B, float* db, cudaStream_t stream);

// One optimizer step over the whole flat parameter buffer in one launch (math/optimizer.h): θ and the
// state (optimizer_slots(kind) × n floats, slot-major) from dθ, with the step's scalars computed on
// the device from *lr and t = *steps + 1 (both device memory, so that a captured graph replays for
// every learning rate and step; finish_step advances *steps).
cudaError_t optimizer_update(const OptimizerSettings& settings, float* params, const float* grads, float* state,
                             size_t n, const float* lr, const uint64_t* steps, cudaStream_t stream);

// The end of a training step: *position += count (the epoch position the next gather reads) and
// *steps += 1 (the optimizer's step count).
cudaError_t finish_step(unsigned long long* position, size_t count, uint64_t* steps, cudaStream_t stream);
// *position = value.
cudaError_t set_position(unsigned long long* position, unsigned long long value, cudaStream_t stream);

// Whether the current device runs this build's device code, launching nothing: cudaSuccess, or
// cudaErrorNoKernelImageForDevice (or cudaErrorInvalidDeviceFunction) where the build has neither
// SASS for its compute capability nor PTX the driver can compile for it (CMake's CUDA_ARCHITECTURES).
cudaError_t probe_kernel_image();

}  // namespace sigtrain::kernels
