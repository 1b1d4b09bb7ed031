// The fully fused training of a small network (every width ≤ 64): one thread block runs many SGD steps
// with the parameters in its shared memory, never returning to the host between them.
//
// The algorithm is written once, as a template over the block that runs it: DeviceBlock on the GPU
// (threads of a CUDA block, __syncthreads between phases, warp shuffles for sums), HostBlock on the
// CPU (the same phases, each thread's work run in turn; the warp sums in the same butterfly order).
// Within a phase every thread writes its own places and reads only what earlier phases wrote, so the
// host twin computes exactly what the block computes, and the CPU tests check this very code against
// the fp64 reference (tests/test_fused.cpp).
//
// One step over a batch of B samples (DESIGN.md §1), in passes of up to `chunk` samples:
//   forward    thread t: sample t of the pass through every layer, Δ_L = (2/B)(ŷ − y), loss term
//   gradients  per layer, one warp per entry of dW_l (and db_l): lanes sum every 32nd sample, then a
//              butterfly of shuffles adds the lanes — a fixed order, so the result is deterministic
//   deltas     thread t: Δ_{l-1} = (W_lᵀ Δ_l) ⊙ a ⊙ (1 − a) for its sample
//   update     θ ← θ − lr · dθ, once the whole batch is summed
#pragma once

#include <cstddef>
#include <cstdint>

#include "sample_math.h"

// The phase templates below are __host__ __device__ but call the host-only HostBlock or the
// device-only DeviceBlock; each instantiation runs on one side only, which nvcc is told here.
#if defined(__CUDACC__)
#define SIGTRAIN_HD_TEMPLATE _Pragma("nv_exec_check_disable")
#else
#define SIGTRAIN_HD_TEMPLATE
#endif

namespace sigtrain {

constexpr int kFusedMaxLayers = 4;    // weight layers L
constexpr int kFusedMaxWidth = 64;    // every width
constexpr int kFusedThreads = 256;    // threads of a block
constexpr int kFusedWarp = 32;
constexpr size_t kFusedMaxWorkspaceBytes = 200 * 1024;  // shared memory one block may use (Hopper: 227 KB)

// One network's layout in the block's workspace (shared memory), in floats. Made on the host by
// make_fused_shape (host/fused_host.h); passed to the kernel by value.
struct FusedShape {
  int layers = 0;                           // L
  int widths[kFusedMaxLayers + 1] = {};     // n_0 … n_L
  int bias = 0;
  int params = 0;                           // P, the flat layout of network.h
  int weight_offset[kFusedMaxLayers + 1] = {};  // of W_l, l = 1 … L
  int bias_offset[kFusedMaxLayers + 1] = {};
  int threads = kFusedThreads;
  int chunk = 0;                            // samples per pass (≤ threads)
  // Workspace offsets, in floats.
  int ws_params = 0, ws_grads = 0;          // θ and dθ: P each
  int ws_acts[kFusedMaxLayers + 1] = {};    // a_l for the pass: chunk rows of n_l
  int ws_delta[2] = {};                     // Δ_l and Δ_{l-1}, alternating: chunk rows of max width
  int ws_loss = 0;                          // one double per thread (8-byte aligned)
  int ws_floats = 0;                        // total
};

// Every (virtual) thread of a block runs `body(t)`; then the block waits (one phase).
// Sums over a warp: `warp_units(units, partial, store)` gives each unit to one warp, whose lanes
// compute partial(unit, lane); the 32 partials are added in a butterfly and store(unit, total) runs once.
struct HostBlock {
  int threads;
  template <class Body>
  void phase(Body&& body) const {
    for (int t = 0; t < threads; ++t) body(t);
  }
  template <class Partial, class Store>
  void warp_units(int units, Partial&& partial, Store&& store) const {
    for (int u = 0; u < units; ++u) {
      float lanes[kFusedWarp];
      for (int lane = 0; lane < kFusedWarp; ++lane) lanes[lane] = partial(u, lane);
      // The butterfly of __shfl_xor_sync: after the round of `offset`, lane k holds v[k] + v[k ^ offset].
      for (int offset = kFusedWarp / 2; offset > 0; offset /= 2) {
        float next[kFusedWarp];
        for (int lane = 0; lane < kFusedWarp; ++lane) next[lane] = lanes[lane] + lanes[lane ^ offset];
        for (int lane = 0; lane < kFusedWarp; ++lane) lanes[lane] = next[lane];
      }
      store(u, lanes[0]);
    }
  }
};

#if defined(__CUDACC__)
struct DeviceBlock {
  template <class Body>
  __device__ void phase(Body&& body) const {
    body(int(threadIdx.x));
    __syncthreads();
  }
  template <class Partial, class Store>
  __device__ void warp_units(int units, Partial&& partial, Store&& store) const {
    const int warp = int(threadIdx.x) / kFusedWarp, lane = int(threadIdx.x) % kFusedWarp;
    const int warps = int(blockDim.x) / kFusedWarp;
    for (int u = warp; u < units; u += warps) {
      float v = partial(u, lane);
      for (int offset = kFusedWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
      if (lane == 0) store(u, v);
    }
    __syncthreads();
  }
};
#endif

// The forward pass of one pass of `count` samples (rows order[base + t], or base + t when order is
// null), with the parameters `theta` of the workspace; a_L ends in ws_acts[L].
SIGTRAIN_HD_TEMPLATE
template <class Block>
SIGTRAIN_HD void fused_forward_pass(const Block& block, const FusedShape& s, float* ws, const float* X,
                                    const uint32_t* order, size_t base, int count) {
  const float* theta = ws + s.ws_params;
  block.phase([&](int t) {
    if (t >= count) return;
    const size_t row = order ? order[base + t] : base + size_t(t);
    const int n0 = s.widths[0];
    float* a0 = ws + s.ws_acts[0] + t * n0;
    for (int j = 0; j < n0; ++j) a0[j] = X[row * n0 + j];
    for (int l = 1; l <= s.layers; ++l)
      dense_forward_sample(theta + s.weight_offset[l], s.bias ? theta + s.bias_offset[l] : nullptr,
                           ws + s.ws_acts[l - 1] + t * s.widths[l - 1], ws + s.ws_acts[l] + t * s.widths[l],
                           s.widths[l - 1], s.widths[l], l < s.layers);
  });
}

// SGD steps of `batch` samples over positions [first, end) of the order (the last step may be
// partial), starting from and ending in params_global (P floats). Adds Σ (ŷ − y)² over the samples to
// *loss_global. With grads_global, also writes the last step's gradient there (lr 0 then leaves θ).
SIGTRAIN_HD_TEMPLATE
template <class Block>
SIGTRAIN_HD void fused_train_steps(const Block& block, const FusedShape& s, float* ws, float* params_global,
                                   const float* X, const float* Y, const uint32_t* order, size_t first, size_t end,
                                   size_t batch, float lr, double* loss_global, float* grads_global) {
  float* theta = ws + s.ws_params;
  float* grad = ws + s.ws_grads;
  double* loss = reinterpret_cast<double*>(ws + s.ws_loss);  // per thread: the same samples' terms, in step order
  const int L = s.layers, T = s.threads, P = s.params, nL = s.widths[L];
  block.phase([&](int t) {
    for (int e = t; e < P; e += T) theta[e] = params_global[e];
    loss[t] = 0.0;
  });
  for (size_t step = first; step < end; step += batch) {
    const int B = int(end - step < batch ? end - step : batch);
    const float inv_B = 1.0f / float(B);
    block.phase([&](int t) {
      for (int e = t; e < P; e += T) grad[e] = 0.0f;
    });
    for (int pass = 0; pass < B; pass += s.chunk) {
      const int count = B - pass < s.chunk ? B - pass : s.chunk;
      fused_forward_pass(block, s, ws, X, order, step + size_t(pass), count);
      block.phase([&](int t) {  // Δ_L = (2/B)(ŷ − y) and the loss term, per sample
        if (t >= count) return;
        const size_t row = order ? order[step + pass + t] : step + size_t(pass + t);
        loss[t] += output_delta_sample(ws + s.ws_acts[L] + t * nL, Y + row * nL, ws + s.ws_delta[L % 2] + t * nL, nL, inv_B);
      });
      for (int l = L; l >= 1; --l) {
        const int n_in = s.widths[l - 1], n_out = s.widths[l], row_entries = n_in + s.bias;
        const float* delta = ws + s.ws_delta[l % 2];
        const float* a_in = ws + s.ws_acts[l - 1];
        // dW_l += Δ_l a_{l-1}ᵀ (and db_l += Δ_l 1) over this pass: one warp per entry.
        block.warp_units(
            n_out * row_entries,
            [&](int entry, int lane) {
              const int i = entry / row_entries, j = entry % row_entries;
              return gradient_partial(delta, a_in, i, j < n_in ? j : -1, n_in, n_out, lane, kFusedWarp, count);
            },
            [&](int entry, float total) {
              const int i = entry / row_entries, j = entry % row_entries;
              grad[j < n_in ? s.weight_offset[l] + i * n_in + j : s.bias_offset[l] + i] += total;
            });
        if (l > 1)
          block.phase([&](int t) {  // Δ_{l-1} = (W_lᵀ Δ_l) ⊙ a ⊙ (1 − a), per sample
            if (t >= count) return;
            dense_backward_sample(theta + s.weight_offset[l], delta + t * n_out, a_in + t * n_in,
                                  ws + s.ws_delta[(l - 1) % 2] + t * n_in, n_in, n_out);
          });
      }
    }
    block.phase([&](int t) {  // θ ← θ − lr · dθ
      for (int e = t; e < P; e += T) theta[e] -= lr * grad[e];
    });
  }
  block.phase([&](int t) {
    for (int e = t; e < P; e += T) params_global[e] = theta[e];
    if (grads_global)
      for (int e = t; e < P; e += T) grads_global[e] = grad[e];
    if (t == 0) {  // the threads' loss terms, added in thread order
      double total = 0.0;
      for (int k = 0; k < T; ++k) total += loss[k];
      *loss_global += total;
    }
  });
}

// Ŷ for `count` samples starting at row `first` of X (no order), in passes; out: nL × count, column-major.
SIGTRAIN_HD_TEMPLATE
template <class Block>
SIGTRAIN_HD void fused_predict(const Block& block, const FusedShape& s, float* ws, const float* params_global,
                               const float* X, size_t first, size_t count, float* out) {
  const int T = s.threads, P = s.params, L = s.layers, nL = s.widths[L];
  block.phase([&](int t) {
    for (int e = t; e < P; e += T) ws[s.ws_params + e] = params_global[e];
  });
  for (size_t pass = 0; pass < count; pass += size_t(s.chunk)) {
    const int n = int(count - pass < size_t(s.chunk) ? count - pass : size_t(s.chunk));
    fused_forward_pass(block, s, ws, X, nullptr, first + pass, n);
    block.phase([&](int t) {
      if (t >= n) return;
      for (int o = 0; o < nL; ++o) out[(pass + t) * nL + o] = ws[s.ws_acts[L] + t * nL + o];
    });
  }
}

}  // namespace sigtrain
