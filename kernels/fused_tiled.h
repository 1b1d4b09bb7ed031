// The tiled kernel: fused training of a network with compile-time widths too wide for registers
// (32 and 64: FusedTiledInstances; fused_warp.h takes the narrow ones), batches up to 256, as a cluster of K = ⌈B/32⌉
// blocks that each take 32 samples of every step (issue 9, item 1: widths 32–64, spread over as many
// SMs as the step's work needs). The runtime-shaped kernel (fused_step.h) gives a whole sample to a
// thread, whose chain of 2·64·64 multiply-adds then sets the step's time; here each layer's products
// are small matrix products over the block's 32 samples, cut into tiles that every thread of the
// block shares: a thread computes a tile of outputs with its accumulators in registers.
//
// Like fused_step.h, the algorithm is written once over the cluster that runs it (HostCluster on the
// CPU, DeviceCluster on the GPU: fused_step.h), as phases in which each thread writes only its own
// tiles and reads what earlier phases wrote, so the host twin computes what the GPU computes and the
// CPU tests check this code against the fp64 reference (tests/test_fused_tiled.cpp). Each entry is
// summed in the order of the per-sample math (sample_math.h): z = b + Σ_j W[i][j]·a[j] with j rising,
// Σ_i W[i][j]·Δ[i] with i rising, dW over the block's samples in order, then over the blocks in order.
//
// One step of B samples, block k taking samples 32k … 32k + 31 (those past B are zero rows whose Δ is
// scaled by 0), in phases separated by the block's barrier:
//   load       thread s < 32: its sample's row (the epoch's order, computed) into A_0 and Y
//   forward    per layer l: A_l = f(W_l A_{l-1} + b_l) for hidden layers, Z_L for the output (tiles of
//              kTileSamples samples × up to 4 units)
//   head       thread s < 32: Δ_L = Head::delta(z, y)/B and the sample's loss term (loss slot k·256 + s)
//   backward   per layer l = L … 2: Δ_{l-1} = (W_lᵀ Δ_l) ⊙ f'(A_{l-1}) (tiles of samples × units)
//   gradient   every layer's dW_l = Δ_l A_{l-1}ᵀ and db_l over the block's samples, tiles of up to
//              4 × 4 entries, into the block's dθ
//   update     (after the cluster's barrier) every block adds the K blocks' dθ in block order and
//              takes the optimizer's step on its own copy of θ and of the optimizer state, as in
//              fused_step.h; a second cluster barrier before the next step's dθ is written
// Rows of A_l and Δ_l are padded to an odd number of floats (fused_step.h's reason: threads reading
// one value from each of several rows hit different banks).
#pragma once

#include <cstddef>
#include <cstdint>

#include "fused_step.h"
#include "fused_warp.h"  // StaticLayout, static_for, instances' shapes

namespace sigtrain {

constexpr int kTiledRows = 32;           // samples per block per step
constexpr int kTiledMaxBlocks = kFusedMaxBlocksPerNetwork;  // K ≤ 8: B ≤ 256
constexpr int kTiledMaxBatch = kTiledRows * kTiledMaxBlocks;
constexpr int kTileSamples = 2;          // samples per tile of the forward and backward products
static_assert(kTiledRows % kTileSamples == 0, "whole tiles of samples");
static_assert(kFusedLossSlots >= kTiledMaxBlocks * kFusedThreads, "a loss slot for every block's thread");

// The units per tile along a width n: 4 where n allows, else 2, else 1 (a tile never straddles a row).
SIGTRAIN_HD constexpr int tile_units(int n) { return n % 4 == 0 ? 4 : n % 2 == 0 ? 2 : 1; }

// A network's places in a block's workspace (floats), all known at compile time.
template <class Layout>
struct TiledWorkspace {
  static constexpr int kLayers = Layout::kLayers;
  static constexpr int kParams = Layout::kParams;
  static constexpr int row(int l) { return Layout::width(l) | 1; }  // a row's floats, odd
  static constexpr int params = 0;                                 // θ, network.h's flat layout
  static constexpr int grads = kParams;                            // the block's dθ
  static constexpr int acts(int l) {                               // A_l, l = 0 … L: 32 rows
    int offset = 2 * kParams;
    for (int k = 0; k < l; ++k) offset += kTiledRows * row(k);
    return offset;
  }
  static constexpr int deltas(int l) {  // Δ_l, l = 1 … L: 32 rows
    int offset = acts(kLayers + 1);
    for (int k = 1; k < l; ++k) offset += kTiledRows * row(k);
    return offset;
  }
  static constexpr int targets = deltas(kLayers + 1);  // Y: 32 rows of n_L
  static constexpr int loss = (targets + kTiledRows * Layout::kOutputs + 1) / 2 * 2;  // doubles, one per thread
  static constexpr int floats = loss + 2 * kFusedThreads;
};

// Blocks per network for steps of `batch` samples (0: more than the tiled kernel takes).
SIGTRAIN_HD int fused_tiled_blocks_for(size_t batch) {
  if (batch < 1 || batch > size_t(kTiledMaxBatch)) return 0;
  return int((batch + kTiledRows - 1) / kTiledRows);
}

// ---- The phases' tiles -----------------------------------------------------------------------------

// Which samples and units a forward or backward tile takes: consecutive tiles (a warp's threads) take
// consecutive groups of samples first, so that in each step of a tile's sum the warp reads one or two
// weights (a broadcast) and one value from each of 16 rows whose odd stride puts them in 16 banks;
// units first would have the warp read 16 weights 4 rows apart, which a row of 64 floats puts in one
// bank (16-way conflicts). (Worked out from the layout, not yet measured.)
SIGTRAIN_HD int tiled_sample_group(int tile) { return tile % (kTiledRows / kTileSamples); }
SIGTRAIN_HD int tiled_unit_group(int tile) { return tile / (kTiledRows / kTileSamples); }

// Forward through layer l for tile `tile` of the block's 32 samples × n_l units: kTileSamples samples
// × tile_units(n_l) units, z = b + Σ_j W[i][j]·a[j] (j rising), then f(z) for hidden layers.
template <class Layout, int l, class Act>
SIGTRAIN_HD void tiled_forward_tile(float* ws, int tile) {
  using S = TiledWorkspace<Layout>;
  constexpr int n_in = Layout::width(l - 1), n_out = Layout::width(l), TU = tile_units(n_out);
  constexpr bool hidden = l < Layout::kLayers;
  const int s0 = tiled_sample_group(tile) * kTileSamples, i0 = tiled_unit_group(tile) * TU;
  const float* W = ws + S::params + Layout::weight_offset(l);
  const float* a_in = ws + S::acts(l - 1) + s0 * S::row(l - 1);
  float z[kTileSamples][TU];
  SIGTRAIN_UNROLL
  for (int s = 0; s < kTileSamples; ++s)
    SIGTRAIN_UNROLL
    for (int i = 0; i < TU; ++i) z[s][i] = Layout::kBias ? ws[S::params + Layout::bias_offset(l) + i0 + i] : 0.0f;
  SIGTRAIN_UNROLL
  for (int j = 0; j < n_in; ++j) {
    float a[kTileSamples], w[TU];
    SIGTRAIN_UNROLL
    for (int s = 0; s < kTileSamples; ++s) a[s] = a_in[s * S::row(l - 1) + j];
    SIGTRAIN_UNROLL
    for (int i = 0; i < TU; ++i) w[i] = W[(i0 + i) * n_in + j];
    SIGTRAIN_UNROLL
    for (int s = 0; s < kTileSamples; ++s)
      SIGTRAIN_UNROLL
      for (int i = 0; i < TU; ++i) z[s][i] += w[i] * a[s];
  }
  float* a_out = ws + S::acts(l) + s0 * S::row(l);
  SIGTRAIN_UNROLL
  for (int s = 0; s < kTileSamples; ++s)
    SIGTRAIN_UNROLL
    for (int i = 0; i < TU; ++i) a_out[s * S::row(l) + i0 + i] = hidden ? Act::forward(z[s][i]) : z[s][i];
}

// Backward through layer l ≥ 2 for tile `tile` of 32 samples × n_{l-1} units:
// Δ_{l-1}[s][j] = (Σ_i W[i][j]·Δ_l[s][i], i rising) · f'(a_{l-1}[s][j]).
template <class Layout, int l, class Act>
SIGTRAIN_HD void tiled_backward_tile(float* ws, int tile) {
  using S = TiledWorkspace<Layout>;
  constexpr int n_in = Layout::width(l - 1), n_out = Layout::width(l), TU = tile_units(n_in);
  const int s0 = tiled_sample_group(tile) * kTileSamples, j0 = tiled_unit_group(tile) * TU;
  const float* W = ws + S::params + Layout::weight_offset(l);
  const float* delta = ws + S::deltas(l) + s0 * S::row(l);
  float sum[kTileSamples][TU];
  SIGTRAIN_UNROLL
  for (int s = 0; s < kTileSamples; ++s)
    SIGTRAIN_UNROLL
    for (int j = 0; j < TU; ++j) sum[s][j] = 0.0f;
  SIGTRAIN_UNROLL
  for (int i = 0; i < n_out; ++i) {
    float d[kTileSamples], w[TU];
    SIGTRAIN_UNROLL
    for (int s = 0; s < kTileSamples; ++s) d[s] = delta[s * S::row(l) + i];
    SIGTRAIN_UNROLL
    for (int j = 0; j < TU; ++j) w[j] = W[i * n_in + j0 + j];
    SIGTRAIN_UNROLL
    for (int s = 0; s < kTileSamples; ++s)
      SIGTRAIN_UNROLL
      for (int j = 0; j < TU; ++j) sum[s][j] += w[j] * d[s];
  }
  const float* a_in = ws + S::acts(l - 1) + s0 * S::row(l - 1);
  float* delta_in = ws + S::deltas(l - 1) + s0 * S::row(l - 1);
  SIGTRAIN_UNROLL
  for (int s = 0; s < kTileSamples; ++s)
    SIGTRAIN_UNROLL
    for (int j = 0; j < TU; ++j)
      delta_in[s * S::row(l - 1) + j0 + j] = sum[s][j] * Act::grad_from_output(a_in[s * S::row(l - 1) + j0 + j]);
}

// The gradient tiles of layer l: TI × TJ entries of dW_l (TI = tile_units(n_l), TJ = tile_units(n_{l-1}))
// and, with biases, TI entries of db_l; weight tiles first, then bias tiles.
template <class Layout, int l>
struct TiledGradientTiles {
  static constexpr int TI = tile_units(Layout::width(l)), TJ = tile_units(Layout::width(l - 1));
  static constexpr int kRowTiles = Layout::width(l) / TI, kColumnTiles = Layout::width(l - 1) / TJ;
  static constexpr int kWeightTiles = kRowTiles * kColumnTiles;
  static constexpr int count = kWeightTiles + (Layout::kBias ? kRowTiles : 0);
};

// Tile `tile` of layer l's gradient over the block's 32 samples (in order) into the block's dθ: rows
// i0 … i0 + TI − 1 and the columns jg, jg + C, jg + 2C, … (C = kColumnTiles column groups,
// interleaved so that the warp's threads, consecutive jg, read a row's consecutive floats: distinct
// banks; contiguous columns 4 apart would put threads 8 apart in one bank).
template <class Layout, int l>
SIGTRAIN_HD void tiled_gradient_tile(float* ws, int tile) {
  using S = TiledWorkspace<Layout>;
  using G = TiledGradientTiles<Layout, l>;
  constexpr int n_in = Layout::width(l - 1);
  const float* delta = ws + S::deltas(l);
  const float* a_in = ws + S::acts(l - 1);
  float* grads = ws + S::grads;
  if (tile >= G::kWeightTiles) {  // db_l[i] = Σ_s Δ_l[s][i]
    const int i0 = (tile - G::kWeightTiles) * G::TI;
    float sum[G::TI];
    SIGTRAIN_UNROLL
    for (int i = 0; i < G::TI; ++i) sum[i] = 0.0f;
    for (int s = 0; s < kTiledRows; ++s)
      SIGTRAIN_UNROLL
      for (int i = 0; i < G::TI; ++i) sum[i] += delta[s * S::row(l) + i0 + i];
    SIGTRAIN_UNROLL
    for (int i = 0; i < G::TI; ++i) grads[Layout::bias_offset(l) + i0 + i] = sum[i];
    return;
  }
  const int i0 = (tile / G::kColumnTiles) * G::TI, jg = tile % G::kColumnTiles;
  float sum[G::TI][G::TJ];
  SIGTRAIN_UNROLL
  for (int i = 0; i < G::TI; ++i)
    SIGTRAIN_UNROLL
    for (int j = 0; j < G::TJ; ++j) sum[i][j] = 0.0f;
  for (int s = 0; s < kTiledRows; ++s) {
    float d[G::TI], a[G::TJ];
    SIGTRAIN_UNROLL
    for (int i = 0; i < G::TI; ++i) d[i] = delta[s * S::row(l) + i0 + i];
    SIGTRAIN_UNROLL
    for (int j = 0; j < G::TJ; ++j) a[j] = a_in[s * S::row(l - 1) + jg + j * G::kColumnTiles];
    SIGTRAIN_UNROLL
    for (int i = 0; i < G::TI; ++i)
      SIGTRAIN_UNROLL
      for (int j = 0; j < G::TJ; ++j) sum[i][j] += d[i] * a[j];
  }
  SIGTRAIN_UNROLL
  for (int i = 0; i < G::TI; ++i)
    SIGTRAIN_UNROLL
    for (int j = 0; j < G::TJ; ++j) grads[Layout::weight_offset(l) + (i0 + i) * n_in + jg + j * G::kColumnTiles] = sum[i][j];
}

// Every layer's gradient tiles numbered one after another, layer 1's first: tile u of the step.
template <class Layout, int l = 1>
SIGTRAIN_HD void tiled_gradient_unit(float* ws, int u) {
  constexpr int count = TiledGradientTiles<Layout, l>::count;
  if (u < count) {
    tiled_gradient_tile<Layout, l>(ws, u);
  } else if constexpr (l < Layout::kLayers) {
    tiled_gradient_unit<Layout, l + 1>(ws, u - count);
  }
}
template <class Layout, int l = 1>
constexpr int tiled_gradient_units() {
  if constexpr (l > Layout::kLayers) {
    return 0;
  } else {
    return TiledGradientTiles<Layout, l>::count + tiled_gradient_units<Layout, l + 1>();
  }
}

// ---- The steps -------------------------------------------------------------------------------------

// fused_train_steps's contract (fused_step.h) for one network of the shape Layout and batches up to
// 256, run by the K = ⌈batch/32⌉ blocks of `cluster` (each block's workspace TiledWorkspace<Layout>::floats
// floats, 8-byte aligned; net.block_states holds K − 1 copies of the optimizer state).
SIGTRAIN_HD_TEMPLATE
template <class Layout, class Act, class Head, class Optimizer, class Cluster>
SIGTRAIN_HD void fused_tiled_steps(const Cluster& cluster, const FusedNetwork& net, const float* X, const float* Y,
                                   const EpochShuffle& order, size_t first, size_t end, size_t batch, float lr,
                                   const OptimizerSettings& settings, float* grads_global) {
  using S = TiledWorkspace<Layout>;
  constexpr int L = Layout::kLayers, P = Layout::kParams, n0 = Layout::kInputs, nL = Layout::kOutputs;
  constexpr int T = kFusedThreads, kStateFloats = Optimizer::kSlots * P, kGradientUnits = tiled_gradient_units<Layout>();
  static_assert(size_t(S::floats) * sizeof(float) <= kFusedMaxWorkspaceBytes, "the workspace fits in shared memory");
  const ClusterPlaces at{S::params, S::grads, S::loss};
  const auto loss_terms = [&](int rank) { return reinterpret_cast<double*>(cluster.workspace(rank) + S::loss); };
  uint64_t steps_taken = *net.steps;
  cluster_load_network(cluster, at, net, P, kStateFloats, T);
  for (size_t step = first; step < end; step += batch) {
    const int B = int(end - step < batch ? end - step : batch);
    const float inv_B = 1.0f / float(B);
    cluster.phase([&](int rank, int t) {  // load: thread s its sample (zeros past the step's end)
      if (t >= kTiledRows) return;
      float* ws = cluster.workspace(rank);
      const int sample = rank * kTiledRows + t;
      const bool inside = sample < B;
      const size_t row = inside ? size_t(order.row(step + size_t(sample))) : 0;
      SIGTRAIN_UNROLL
      for (int j = 0; j < n0; ++j) ws[S::acts(0) + t * S::row(0) + j] = inside ? X[row * n0 + j] : 0.0f;
      SIGTRAIN_UNROLL
      for (int o = 0; o < nL; ++o) ws[S::targets + t * nL + o] = inside ? Y[row * nL + o] : 0.0f;
    });
    static_for<1, L>([&](auto layer) {  // forward
      constexpr int l = decltype(layer)::value;
      constexpr int tiles = (kTiledRows / kTileSamples) * (Layout::width(l) / tile_units(Layout::width(l)));
      cluster.phase([&](int rank, int t) {
        for (int tile = t; tile < tiles; tile += T) tiled_forward_tile<Layout, l, Act>(cluster.workspace(rank), tile);
      });
    });
    cluster.phase([&](int rank, int t) {  // head: Δ_L = Head::delta(z, y)/B and the loss term
      if (t >= kTiledRows) return;
      float* ws = cluster.workspace(rank);
      const bool inside = rank * kTiledRows + t < B;
      const float term = output_delta_sample<Head>(ws + S::acts(L) + t * S::row(L), ws + S::targets + t * nL,
                                                   ws + S::deltas(L) + t * S::row(L), nL, inside ? inv_B : 0.0f);
      if (inside) loss_terms(rank)[t] += term;
    });
    static_for_down<L, 2>([&](auto layer) {  // backward
      constexpr int l = decltype(layer)::value;
      constexpr int tiles = (kTiledRows / kTileSamples) * (Layout::width(l - 1) / tile_units(Layout::width(l - 1)));
      cluster.phase([&](int rank, int t) {
        for (int tile = t; tile < tiles; tile += T) tiled_backward_tile<Layout, l, Act>(cluster.workspace(rank), tile);
      });
    });
    cluster.phase([&](int rank, int t) {  // the block's dθ, every layer's tiles
      for (int u = t; u < kGradientUnits; u += T) tiled_gradient_unit<Layout>(cluster.workspace(rank), u);
    });
    cluster.sync_blocks();  // every block's dθ is complete
    const bool last_step = step + batch >= end;
    if (!grads_global) ++steps_taken;
    const OptimizerStep<float> scalars = optimizer_step<float>(settings, double(lr), steps_taken);
    cluster_update<Optimizer>(cluster, at, net, P, T, scalars, grads_global, last_step);  // (fused_step.h)
  }
  cluster_store_network(cluster, at, net, P, T, steps_taken);
}

// ---- The instances ---------------------------------------------------------------------------------

// The shapes the tiled kernel is compiled for, with and without biases, with the notes' units and
// loss (sigmoid hidden units, linear output, mse) and every optimizer: 2 inputs, two hidden layers of
// 16, 32 or 64 units, 1 output; and three hidden layers of 32 or 64 with the notes' policies (the
// 4-layer limit; fused_warp.h's instance lists and their dispatch, with_warp_instances).
// Only shapes with P > 256, for which --kernel auto sends one network to cuBLAS (choose.cpp), until a device run has
// measured the kernel: a single network's choice stays as measured. --kernel fused takes this kernel
// for them, and so do many networks at once under auto (choose.cpp gives them the fused kernel: here
// 8 blocks of 71 KB per 2-64-64-1 network where the runtime-shaped kernel took 2 of 171 KB).
using FusedTiledInstances =
    WarpInstanceList<WarpInstance<StaticShape<2, 16, 16, 1>, InstancePolicies::every_optimizer>,
                     WarpInstance<StaticShape<2, 32, 32, 1>, InstancePolicies::every_optimizer>,
                     WarpInstance<StaticShape<2, 64, 64, 1>, InstancePolicies::every_optimizer>,
                     WarpInstance<StaticShape<2, 32, 32, 32, 1>, kNotesOnly>, WarpInstance<StaticShape<2, 64, 64, 64, 1>, kNotesOnly>>;

// Calls f(Layout{}, Act{}, Head{}, Optimizer{}) with the tiled kernel's instance for (s, p) and returns
// true; false (and no call) where there is none.
template <class F>
bool with_fused_tiled_instance(const FusedShape& s, const FusedPolicies& p, F&& f) {
  return with_warp_instances(FusedTiledInstances{}, s, p, f);
}

// The blocks per network (K = ⌈batch/32⌉, 1 … 8) with which steps of `batch` samples of (s, p) run
// fused_tiled_steps, or 0: no instance, or a batch over 256. The device launcher and the host twin
// both decide by this (after fused_block_warps, which takes the narrow shapes).
inline int fused_tiled_blocks(const FusedShape& s, const FusedPolicies& p, size_t batch) {
  if (!with_fused_tiled_instance(s, p, [](auto, auto, auto, auto) {})) return 0;
  return fused_tiled_blocks_for(batch);
}

// The blocks per network that keep their own copy of the optimizer state in global memory for steps
// of `batch` samples (net.block_states holds K − 1 copies), the one place the three paths' choice is
// made for the launcher and the host twin alike: 1 for the shape-specialised kernel (fused_warp.h: a
// warp, a block or a cluster per network, whose lanes keep their entries' state in registers), the
// tiled kernel's K, else the runtime-shaped kernel's (fused_step.h), both their clusters' sizes.
inline int fused_cluster_blocks(const FusedShape& s, const FusedPolicies& p, size_t batch) {
  if (fused_block_warps(s, p, batch) > 0) return 1;
  if (const int K = fused_tiled_blocks(s, p, batch); K > 0) return K;
  return fused_blocks_per_network(batch, s.chunk);
}

}  // namespace sigtrain
