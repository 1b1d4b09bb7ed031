// The shape-specialised kernel: W warps train one small network of a shape known at compile time,
// with θ, every sample's activations and deltas in registers (issue 9, item 1). W = 1 is the warp
// kernel: one warp per network, no block barrier, several networks per block; 1 < W ≤ 8 a block per
// network, with one block barrier per step; W = 8·K (K = 2 … 8) a cluster of K blocks of 8 warps per
// network, with one cluster barrier per step, the warps' sums exchanged through the cluster's
// distributed shared memory. W = ⌈B/32⌉ for B ≤ 256, else 8·min(⌈B/256⌉, 8): a lane takes one sample
// of a step, or R = ⌈B/(32·W)⌉ one after another beyond 2,048. Where the network's shape and policies
// have an instance here (FusedWarpInstances), the fused kernel's launcher and its host twin take this
// path (fused_block_warps decides for both); everything else takes the tiled kernel (fused_tiled.h)
// or fused_train_steps (fused_step.h), the runtime-shaped kernel.
//
// Like fused_step.h, the algorithm is written once, as a template over the warps that run it: a
// Block of Warps. DeviceWarp on the GPU (a lane is a thread, shfl_xor is __shfl_xor_sync), HostWarp
// on the CPU (32 lanes run one after another, shfl_xor permutes the lanes as the hardware does);
// DeviceBlock on the GPU (a thread runs its own warp, sync is __syncthreads or the cluster's barrier,
// the exchange is in shared memory), HostBlock on the CPU (each phase runs its W warps one after
// another). Every per-lane computation is plain scalar float code in warp.each_lane(body): on the
// device body(lane) runs in each thread; on the host body(k) runs for k = 0 … 31, each lane's values
// (WarpLanes) kept apart. So the twin computes what the block computes, in the same order of sums,
// and the CPU tests check this very code against the fp64 reference (tests/test_fused_warp.cpp).
//
// One step over B samples (DESIGN.md §1), lane k of warp w taking samples r·32·W + 32·w + k of the
// step, r = 0 … R − 1 (lanes past B a zero sample whose Δ is multiplied by 0):
//   sample   forward through every layer with the lane's copy of θ (sample_math.h), Δ_L = Head::delta(z, y)/B
//            and the loss term, Δ_{l-1} = (W_lᵀ Δ_l) ⊙ f'(a_{l-1}); then the lane's contribution to every
//            entry of dθ (dW_l[i][j] = Δ_l[i]·a_{l-1}[j], db_l[i] = Δ_l[i]), added over its R samples in
//            an array of P̄ floats (P padded to a multiple of 32, the padding 0)
//   reduce-scatter by recursive halving: at offset 16, 8, 4, 2, 1 each lane keeps the half of its array
//            its lane bit names (upper when set), sends the other half to lane k ^ offset and adds what
//            it receives: P̄/2 + P̄/4 + … shuffles (P̄ − P̄/32), where a butterfly per entry takes 5·P. Lane
//            k ends with the warp's sums of entries k·m … k·m + m − 1 (m = P̄/32), added over lanes in a
//            fixed tree
//   exchange (W > 1 only) each warp writes its sums to its block's shared memory (double-buffered by the
//            step's parity), the block's (or the cluster's) one barrier of the step, and lane k of every
//            warp adds the W warps' sums of its entries in warp order, reading other blocks' through the
//            cluster: all W warps get the same totals
//   update   lane k takes the optimizer's step (math/optimizer.h) on its m entries, whose θ (the master
//            copy) and optimizer state it keeps in registers for the launch (each warp its own copy,
//            updated alike; warp 0's is written back)
//   all-gather by recursive doubling (offset 1, 2, …, 16: each lane's segment doubles) puts the new θ
//            back into every lane of the warp: another P̄ − m shuffles
// The next sample is loaded while this one computes. The loss terms go to the network's loss slots 0
// … 32·W − 1 (slot = 32·w + lane), in step order as fused_step.h's, so a network's epoch loss is still
// fused_loss_sum of its slots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "fused_step.h"  // and math/static_shape.h

// Fully unrolled loops keep the per-lane arrays in registers on the device (no local memory).
#if defined(__CUDA_ARCH__)
#define SIGTRAIN_UNROLL _Pragma("unroll")
#else
#define SIGTRAIN_UNROLL
#endif

namespace sigtrain {

constexpr int kFusedBlockMaxWarps = 8;                                 // warps of a block
constexpr int kFusedBlockMaxBatch = kFusedBlockMaxWarps * kFusedWarp;  // a block's samples per step: one per lane
constexpr int kFusedClusterMaxWarps = kFusedBlockMaxWarps * kFusedMaxBlocksPerNetwork;  // W: warps per network
constexpr int kFusedWarpNetworksPerBlock = 4;  // networks per block of the device launch where W = 1
static_assert(kFusedLossSlots >= kFusedClusterMaxWarps * kFusedWarp, "a loss slot for every lane of a network's warps");

// A layout's θ split over a warp's lanes: P padded to P̄, a multiple of 32 (the padding 0), lane k
// owning entries k·m … k·m + m − 1, m = P̄/32.
template <class Layout>
constexpr int padded_params = (Layout::kParams + kFusedWarp - 1) / kFusedWarp * kFusedWarp;  // P̄
template <class Layout>
constexpr int owned_params = padded_params<Layout> / kFusedWarp;  // m

// Per-lane arrays and samples (plain aggregates, so that the device keeps them in registers).
template <int N>
struct WarpArray {
  float v[N];
};
template <int Inputs, int Outputs>
struct WarpSample {
  float x[Inputs];
  float y[Outputs];
};

// ---- The warp that runs the code -------------------------------------------------------------------

// A value per lane of Warp: Lanes<T> is T on the device (this thread's), 32 Ts on the host.
template <class Warp, class T>
using WarpLanes = typename Warp::template Lanes<T>;

// The 32 lanes of a warp, run on the host one after another.
struct HostWarp {
  template <class T>
  struct Lanes {
    T lane[kFusedWarp];
  };
  template <class T>
  static T& at(Lanes<T>& v, int k) {
    return v.lane[k];
  }
  template <class T>
  static const T& at(const Lanes<T>& v, int k) {
    return v.lane[k];
  }
  template <class Body>
  void each_lane(Body&& body) const {
    for (int k = 0; k < kFusedWarp; ++k) body(k);
  }
  // __shfl_xor_sync(full mask, v, offset): lane k receives lane k ^ offset's value.
  Lanes<float> shfl_xor(const Lanes<float>& v, int offset) const {
    Lanes<float> received;
    for (int k = 0; k < kFusedWarp; ++k) received.lane[k] = v.lane[k ^ offset];
    return received;
  }
};

#if defined(__CUDACC__)
// One warp of a CUDA block: each thread is one lane and holds its own values.
struct DeviceWarp {
  template <class T>
  using Lanes = T;
  template <class T>
  __device__ static T& at(T& v, int) {
    return v;
  }
  template <class Body>
  __device__ void each_lane(Body&& body) const {
    body(int(threadIdx.x % kFusedWarp));
  }
  __device__ float shfl_xor(float v, int offset) const { return __shfl_xor_sync(0xffffffffu, v, offset); }
};
#endif

// Recursive halving over the lanes' arrays v[0, 2·Half) at this Offset (16 first): lane k keeps the
// upper half when k & Offset, else the lower, moved to v[0, Half), plus what lane k ^ Offset sent of
// it. After the round of offset 1, lane k's v[0, m) is Σ over lanes of entries k·m … k·m + m − 1.
SIGTRAIN_HD_TEMPLATE
template <int Offset, int Half, class Warp, int N>
SIGTRAIN_HD void warp_reduce_scatter(const Warp& warp, WarpLanes<Warp, WarpArray<N>>& v) {
  SIGTRAIN_UNROLL
  for (int i = 0; i < Half; ++i) {
    WarpLanes<Warp, float> sent;
    warp.each_lane([&](int k) {
      float* a = Warp::at(v, k).v;
      const bool upper = (k & Offset) != 0;
      Warp::at(sent, k) = upper ? a[i] : a[i + Half];
      a[i] = upper ? a[i + Half] : a[i];
    });
    WarpLanes<Warp, float> received = warp.shfl_xor(sent, Offset);
    warp.each_lane([&](int k) { Warp::at(v, k).v[i] += Warp::at(received, k); });
  }
  if constexpr (Offset > 1) warp_reduce_scatter<Offset / 2, Half / 2, Warp, N>(warp, v);
}

// Recursive doubling, the reverse: lane k's segment v[0, Len) (Offset 1 first; at the start its m
// entries k·m …) becomes v[0, 2·Len), its own first when k & Offset is clear. After the round of
// offset 16, every lane's v is the whole array, in order.
SIGTRAIN_HD_TEMPLATE
template <int Offset, int Len, class Warp, int N>
SIGTRAIN_HD void warp_all_gather(const Warp& warp, WarpLanes<Warp, WarpArray<N>>& v) {
  SIGTRAIN_UNROLL
  for (int i = 0; i < Len; ++i) {
    WarpLanes<Warp, float> sent;
    warp.each_lane([&](int k) { Warp::at(sent, k) = Warp::at(v, k).v[i]; });
    WarpLanes<Warp, float> received = warp.shfl_xor(sent, Offset);
    warp.each_lane([&](int k) {
      float* a = Warp::at(v, k).v;
      const bool upper = (k & Offset) != 0;
      const float own = a[i], other = Warp::at(received, k);
      a[i] = upper ? other : own;
      a[i + Len] = upper ? own : other;
    });
  }
  if constexpr (Offset < kFusedWarp / 2) warp_all_gather<Offset * 2, Len * 2, Warp, N>(warp, v);
}

// Floats of optimizer state a lane keeps: kSlots per owned entry (1 for plain SGD, which keeps none:
// no array has size 0).
template <class Layout, class Optimizer>
struct WarpStateFloats {
  static constexpr int value = Optimizer::kSlots > 0 ? Optimizer::kSlots* owned_params<Layout> : 1;
};

// ---- The block of warps that runs a network --------------------------------------------------------

// The W warps that train one network: each_warp(body) — one phase — runs body(warp, w) for the warps
// w, sync() waits for all of them (a block or cluster barrier), partial(buffer, u, P̄) is where warp u
// keeps its sums of a step for the others to read, finish() lets the network's blocks end, and a
// per-lane value of each warp is a BlockLanes<Block, T>. On the device a thread runs its own warp's
// body; on the host the W warps run one after another, each warp's values kept apart (PerWarp), so a
// phase that follows sync() sees what every warp wrote before it, as on the device.
template <class Block, class T>
using BlockLanes = typename Block::template PerWarp<WarpLanes<typename Block::Warp, T>>;

// W HostWarps, run warp after warp.
struct HostBlock {
  using Warp = HostWarp;
  // Up to 64 warps of 32 lanes of a network's θ and dθ: in heap memory, not on the caller's stack.
  template <class T>
  struct PerWarp {
    std::unique_ptr<T[]> warp{new T[kFusedClusterMaxWarps]};
  };
  int warps;        // W
  float* partials;  // the warps' exchange of partial sums: 2 × W × P̄ floats (fused_block_steps)

  template <class T>
  static T& of(PerWarp<T>& v, int w) {
    return v.warp[w];
  }
  template <class Body>
  void each_warp(Body&& body) const {
    for (int w = 0; w < warps; ++w) body(HostWarp{}, w);
  }
  void sync() const {}  // each phase has already run every warp to its end
  void finish() const {}
  float* partial(int buffer, int u, int padded) const { return partials + (buffer * warps + u) * padded; }
};

#if defined(__CUDACC__)
// This thread's warp w among the W warps of a network: W = 1, a warp trains a network alone (a block
// holds several networks); W ≤ 8, the network's one CUDA block; W = 8·K, a cluster of K blocks of 8
// warps, warp w in block w / 8 of the cluster. Each block's shared memory holds its own warps'
// partial sums, 2 × (warps of a block) × P̄ floats.
struct DeviceBlock {
  using Warp = DeviceWarp;
  template <class T>
  using PerWarp = T;
  int warps;        // W
  int warp;         // w
  float* partials;  // this block's, in shared memory (where W > 1)

  template <class T>
  __device__ static T& of(T& v, int) {
    return v;
  }
  template <class Body>
  __device__ void each_warp(Body&& body) const {
    body(DeviceWarp{}, warp);
  }
  __device__ bool clustered() const { return warps > kFusedBlockMaxWarps; }
  // Only called where W > 1: then the block, or the cluster, is the network's. The cluster's barrier
  // orders shared memory with release/acquire, as __syncthreads does within a block.
  __device__ void sync() const {
    if (clustered()) {
      __cluster_barrier_arrive();
      __cluster_barrier_wait();
    } else {
      __syncthreads();
    }
  }
  // A block's shared memory ends with it: no block of a cluster may end while another may still read
  // its sums of the last step, so the cluster meets once more.
  __device__ void finish() const {
    if (clustered()) sync();
  }
  __device__ float* partial(int buffer, int u, int padded) const {
    const int per_block = clustered() ? kFusedBlockMaxWarps : warps;
    float* local = partials + (buffer * per_block + u % per_block) * padded;
    const int block = u / per_block;
    if (block == warp / per_block) return local;
    return static_cast<float*>(__cluster_map_shared_rank(local, unsigned(block)));
  }
};
#endif

// ---- The steps -------------------------------------------------------------------------------------

// One lane's sample of a step: forward, Δ_L = Head::delta(z, y)·scale (scale 1/B, or 0 for a lane past
// the batch's end), backward, and the sample's contribution to every entry of dθ added to g (P̄
// floats, the padding left as it is). Returns the sample's loss term Σ_o ℓ(z_o, y_o).
SIGTRAIN_HD_TEMPLATE
template <class Layout, class Act, class Head>
SIGTRAIN_HD float warp_sample_gradient(const float* theta, const WarpSample<Layout::kInputs, Layout::kOutputs>& sample,
                                       float scale, float* g) {
  using N = Layout;
  constexpr int L = N::kLayers;
  float acts[N::kUnits];    // a_0 … a_L (a_L: the logits z)
  float deltas[N::kUnits];  // Δ_1 … Δ_L, at a_l's places
  SIGTRAIN_UNROLL
  for (int j = 0; j < N::kInputs; ++j) acts[j] = sample.x[j];
  static_for<1, L>([&](auto layer) {
    constexpr int l = decltype(layer)::value;
    dense_forward_sample<Act>(theta + N::weight_offset(l), N::kBias ? theta + N::bias_offset(l) : nullptr,
                              acts + N::unit_offset(l - 1), acts + N::unit_offset(l), N::width(l - 1), N::width(l),
                              l < L);
  });
  const float loss =
      output_delta_sample<Head>(acts + N::unit_offset(L), sample.y, deltas + N::unit_offset(L), N::kOutputs, scale);
  static_for_down<L, 2>([&](auto layer) {  // Δ_{l-1} = (W_lᵀ Δ_l) ⊙ f'(a_{l-1})
    constexpr int l = decltype(layer)::value;
    dense_backward_sample<Act>(theta + N::weight_offset(l), deltas + N::unit_offset(l), acts + N::unit_offset(l - 1),
                               deltas + N::unit_offset(l - 1), N::width(l - 1), N::width(l));
  });
  static_for<1, L>([&](auto layer) {  // dW_l += Δ_l a_{l-1}ᵀ, db_l += Δ_l
    constexpr int l = decltype(layer)::value;
    add_gradient_sample(deltas + N::unit_offset(l), acts + N::unit_offset(l - 1), g + N::weight_offset(l),
                        N::kBias ? g + N::bias_offset(l) : nullptr, N::width(l - 1), N::width(l));
  });
  return loss;
}

// Lane k's sample of the step at `step` (steps of `batch` up to `end`) into `samples`, for the warp
// whose first sample of the step is `first_lane` (32·w): the row the order gives position
// step + first_lane + k (zeros past the step's end). A function, not a lambda of fused_block_steps:
// the device kept a closure used across the step loop, and what it refers to (the order, the
// samples), in local memory.
SIGTRAIN_HD_TEMPLATE
template <class Layout, class Warp>
SIGTRAIN_HD void warp_load_samples(const Warp& warp,
                                   WarpLanes<Warp, WarpSample<Layout::kInputs, Layout::kOutputs>>& samples,
                                   const float* X, const float* Y, const EpochShuffle& order, size_t step, size_t end,
                                   size_t batch, int first_lane) {
  const size_t count = end - step < batch ? end - step : batch;
  warp.each_lane([&](int k) {
    WarpSample<Layout::kInputs, Layout::kOutputs>& s = Warp::at(samples, k);
    const size_t position = size_t(first_lane + k);
    const bool inside = position < count;
    const size_t row = inside ? size_t(order.row(step + position)) : 0;
    SIGTRAIN_UNROLL
    for (int j = 0; j < Layout::kInputs; ++j) s.x[j] = inside ? X[row * Layout::kInputs + j] : 0.0f;
    SIGTRAIN_UNROLL
    for (int o = 0; o < Layout::kOutputs; ++o) s.y[o] = inside ? Y[row * Layout::kOutputs + o] : 0.0f;
  });
}

// The warp's copy of the network at a launch's start: θ whole in every lane (the padding 0), lane k's
// owned entries k·m … k·m + m − 1 of θ and their optimizer state (slot q of entry i at q·m + i), and
// the lanes' loss slots first_lane + k.
SIGTRAIN_HD_TEMPLATE
template <class Layout, class Optimizer, class Warp, int StateFloats = WarpStateFloats<Layout, Optimizer>::value>
SIGTRAIN_HD void warp_load_network(const Warp& warp, const FusedNetwork& net, int first_lane,
                                   WarpLanes<Warp, WarpArray<padded_params<Layout>>>& theta,
                                   WarpLanes<Warp, WarpArray<owned_params<Layout>>>& owned,
                                   WarpLanes<Warp, WarpArray<StateFloats>>& state, WarpLanes<Warp, double>& loss) {
  constexpr int P = Layout::kParams, m = owned_params<Layout>;
  warp.each_lane([&](int k) {
    float* all = Warp::at(theta, k).v;
    SIGTRAIN_UNROLL
    for (int e = 0; e < padded_params<Layout>; ++e) all[e] = e < P ? net.params[e] : 0.0f;
    SIGTRAIN_UNROLL
    for (int i = 0; i < m; ++i) {
      const int e = k * m + i;
      Warp::at(owned, k).v[i] = e < P ? net.params[e] : 0.0f;
      SIGTRAIN_UNROLL
      for (int q = 0; q < Optimizer::kSlots; ++q)
        Warp::at(state, k).v[q * m + i] = e < P ? net.optimizer_state[q * P + e] : 0.0f;
    }
    Warp::at(loss, k) = net.loss_slots[first_lane + k];
  });
}

// The reverse at a launch's end: the loss slots always; with `write_model`, the owned entries of θ,
// their optimizer state and (lane 0) t.
SIGTRAIN_HD_TEMPLATE
template <class Layout, class Optimizer, class Warp, int StateFloats = WarpStateFloats<Layout, Optimizer>::value>
SIGTRAIN_HD void warp_store_network(const Warp& warp, const FusedNetwork& net, int first_lane, bool write_model,
                                    const WarpLanes<Warp, WarpArray<owned_params<Layout>>>& owned,
                                    const WarpLanes<Warp, WarpArray<StateFloats>>& state,
                                    const WarpLanes<Warp, double>& loss, uint64_t steps_taken) {
  constexpr int P = Layout::kParams, m = owned_params<Layout>;
  warp.each_lane([&](int k) {
    net.loss_slots[first_lane + k] = Warp::at(loss, k);
    if (!write_model) return;
    SIGTRAIN_UNROLL
    for (int i = 0; i < m; ++i) {
      const int e = k * m + i;
      if (e >= P) continue;
      net.params[e] = Warp::at(owned, k).v[i];
      SIGTRAIN_UNROLL
      for (int q = 0; q < Optimizer::kSlots; ++q) net.optimizer_state[q * P + e] = Warp::at(state, k).v[q * m + i];
    }
    if (k == 0) *net.steps = steps_taken;
  });
}

// Lane k's sums of its entries (v[0, m) after the reduce-scatter) to to[k·m + i]: lane k's m floats
// follow lane k − 1's, so the warp writes P̄ consecutive floats.
SIGTRAIN_HD_TEMPLATE
template <class Layout, class Warp>
SIGTRAIN_HD void warp_store_owned(const Warp& warp, const WarpLanes<Warp, WarpArray<padded_params<Layout>>>& sums, float* to,
                                  int count) {
  warp.each_lane([&](int k) {
    SIGTRAIN_UNROLL
    for (int i = 0; i < owned_params<Layout>; ++i)
      if (k * owned_params<Layout> + i < count) to[k * owned_params<Layout> + i] = Warp::at(sums, k).v[i];
  });
}

// Lane k's totals of its entries over the W warps' partial sums of the step's `buffer` (warp u's
// P̄ floats at block.partial(buffer, u, P̄)), added in warp order 0, 1, …, W − 1: every warp adds the
// same numbers in the same order, so all W get the same totals, take the same optimizer step and keep
// identical copies of θ.
SIGTRAIN_HD_TEMPLATE
template <class Layout, class Block, class Warp>
SIGTRAIN_HD void warp_add_partials(const Block& block, const Warp& warp, int buffer,
                                   WarpLanes<Warp, WarpArray<padded_params<Layout>>>& sums) {
  constexpr int m = owned_params<Layout>;
  warp.each_lane([&](int k) {
    SIGTRAIN_UNROLL
    for (int i = 0; i < m; ++i) Warp::at(sums, k).v[i] = block.partial(buffer, 0, padded_params<Layout>)[k * m + i];
    for (int u = 1; u < block.warps; ++u) {
      const float* row = block.partial(buffer, u, padded_params<Layout>);
      SIGTRAIN_UNROLL
      for (int i = 0; i < m; ++i) Warp::at(sums, k).v[i] += row[k * m + i];
    }
  });
}

// Lane k's optimizer step (math/optimizer.h) on its m owned entries, given their gradient sums
// (grad's v[0, m)), then the new values at θ's v[0, m), where warp_all_gather starts. The padding
// entries stay 0: g, θ and the state are 0 there.
SIGTRAIN_HD_TEMPLATE
template <class Layout, class Optimizer, class Warp, int StateFloats = WarpStateFloats<Layout, Optimizer>::value>
SIGTRAIN_HD void warp_update_owned(const Warp& warp, const WarpLanes<Warp, WarpArray<padded_params<Layout>>>& grad,
                                   const OptimizerStep<float>& scalars,
                                   WarpLanes<Warp, WarpArray<owned_params<Layout>>>& owned,
                                   WarpLanes<Warp, WarpArray<StateFloats>>& state,
                                   WarpLanes<Warp, WarpArray<padded_params<Layout>>>& theta) {
  constexpr int m = owned_params<Layout>, kSlots = Optimizer::kSlots;
  warp.each_lane([&](int k) {
    float* own = Warp::at(owned, k).v;
    float* own_state = Warp::at(state, k).v;
    SIGTRAIN_UNROLL
    for (int i = 0; i < m; ++i) {
      float slots[StateFloats];  // entry i's state, as Optimizer::update reads it (stride 1)
      SIGTRAIN_UNROLL
      for (int q = 0; q < kSlots; ++q) slots[q] = own_state[q * m + i];
      Optimizer::update(own[i], Warp::at(grad, k).v[i], kSlots ? slots : nullptr, size_t(1), scalars);
      SIGTRAIN_UNROLL
      for (int q = 0; q < kSlots; ++q) own_state[q * m + i] = slots[q];
    }
    SIGTRAIN_UNROLL
    for (int i = 0; i < m; ++i) Warp::at(theta, k).v[i] = own[i];
  });
}

// fused_train_steps's contract (fused_step.h) for one network of the shape Layout, run by the W =
// block.warps warps of `block` (fused_block_warps: 1 … 8, or 16, 24, … 64 as a cluster): optimizer
// steps of `batch` samples over positions [first, end) of the epoch's order (the last step may be
// partial), from and to the network's buffers (θ, block 0's optimizer state — the only one this path
// uses —, t); lane k of warp w takes samples r·32·W + 32·w + k of each step, r = 0 … R − 1, and adds
// their loss terms to loss slot 32·w + k. With grads_global, only the gradient: the last step's dθ is
// written there, and θ, the optimizer's state and t stay. Every warp keeps its own copy of θ and of
// the optimizer state of its lanes' entries and updates it as the others do theirs; warp 0 writes the
// network back at the end.
//
// A step: each warp forms its lanes' contributions (R samples a lane, added in sample order) and
// reduce-scatters them (lane k: the warp's sums of entries k·m …); with W > 1 it writes those sums to
// block.partial(buffer, w), the block (or cluster) meets at its one barrier of the step, and each warp
// adds the W warps' rows at its lanes' entries (warp_add_partials); then every warp takes the
// optimizer's step on its lanes' entries and all-gathers θ. With W = 1 (the warp kernel) there is no
// exchange and no barrier.
SIGTRAIN_HD_TEMPLATE
template <class Layout, class Act, class Head, class Optimizer, class Block>
SIGTRAIN_HD void fused_block_steps(const Block& block, const FusedNetwork& net, const float* X, const float* Y,
                                   const EpochShuffle& order, size_t first, size_t end, size_t batch, float lr,
                                   const OptimizerSettings& settings, float* grads_global) {
  using N = Layout;
  using Warp = typename Block::Warp;
  using Sample = WarpSample<N::kInputs, N::kOutputs>;
  constexpr int Pbar = padded_params<N>, m = owned_params<N>;
  constexpr int kStateFloats = WarpStateFloats<Layout, Optimizer>::value;
  const int W = block.warps, lanes = W * kFusedWarp;
  const int R = int((batch + size_t(lanes) - 1) / size_t(lanes));  // samples per lane and step
  BlockLanes<Block, WarpArray<Pbar>> theta;          // every lane all of θ (the padding 0)
  BlockLanes<Block, WarpArray<m>> owned;             // lane k: θ of entries k·m + i, the copy it updates
  BlockLanes<Block, WarpArray<kStateFloats>> state;  // their optimizer state: slot q of entry i at q·m + i
  BlockLanes<Block, WarpArray<Pbar>> grad;           // the step's dθ: the lane's terms, then v[0, m) its sums
  BlockLanes<Block, double> loss;                    // the lane's running loss slot
  BlockLanes<Block, Sample> next;                    // the lane's next sample
  uint64_t steps_taken = *net.steps;
  block.each_warp([&](const Warp& warp, int w) {
    warp_load_network<N, Optimizer>(warp, net, w * kFusedWarp, Block::of(theta, w), Block::of(owned, w),
                                    Block::of(state, w), Block::of(loss, w));
    if (first < end) warp_load_samples<N>(warp, Block::of(next, w), X, Y, order, first, end, batch, w * kFusedWarp);
  });
  // The partial sums are double-buffered by the step's parity, which is why one barrier a step
  // suffices: a warp writes partials[buffer] of step s before the barrier of step s and reads every
  // warp's after it; it writes that buffer again in step s + 2, after passing the barrier of step
  // s + 1, which no warp reaches before it has finished reading the sums of step s. Step s + 1 writes
  // the other buffer, so a fast warp cannot overwrite what a slow one is still reading. (With one
  // buffer, a second barrier after the reads would be needed.)
  int buffer = 0;
  for (size_t step = first; step < end; step += batch, buffer ^= 1) {
    const int B = int(end - step < batch ? end - step : batch);
    const float inv_B = 1.0f / float(B);
    const bool last = step + batch >= end;
    block.each_warp([&](const Warp& warp, int w) {  // the warp's samples → its sums of dθ, to shared memory
      warp.each_lane([&](int k) {
        SIGTRAIN_UNROLL
        for (int e = 0; e < Pbar; ++e) Warp::at(Block::of(grad, w), k).v[e] = 0.0f;
      });
      for (int r = 0; r < R; ++r) {
        const WarpLanes<Warp, Sample> samples = Block::of(next, w);
        const int first_lane = r * lanes + w * kFusedWarp;  // lane 0's sample in the step
        if (r + 1 < R)  // the lane's next sample: its next of this step, or its first of the next step
          warp_load_samples<N>(warp, Block::of(next, w), X, Y, order, step, end, batch, first_lane + lanes);
        else if (!last)
          warp_load_samples<N>(warp, Block::of(next, w), X, Y, order, step + batch, end, batch, w * kFusedWarp);
        warp.each_lane([&](int k) {
          const bool inside = first_lane + k < B;
          const float term = warp_sample_gradient<N, Act, Head>(Warp::at(Block::of(theta, w), k).v,
                                                                Warp::at(samples, k), inside ? inv_B : 0.0f,
                                                                Warp::at(Block::of(grad, w), k).v);
          if (inside) Warp::at(Block::of(loss, w), k) += term;
        });
      }
      // Lane k: the warp's Σ of its m entries.
      warp_reduce_scatter<kFusedWarp / 2, Pbar / 2, Warp, Pbar>(warp, Block::of(grad, w));
      if (W > 1) warp_store_owned<N>(warp, Block::of(grad, w), block.partial(buffer, w, Pbar), Pbar);
    });
    if (W > 1) {
      block.sync();
      block.each_warp(
          [&](const Warp& warp, int w) { warp_add_partials<N>(block, warp, buffer, Block::of(grad, w)); });
    }
    if (grads_global) {
      if (last)
        block.each_warp([&](const Warp& warp, int w) {
          if (w == 0) warp_store_owned<N>(warp, Block::of(grad, w), grads_global, N::kParams);
        });
      continue;
    }
    ++steps_taken;
    // The step's scalars (PyTorch's bias corrections), from t and lr in double, the same in every lane.
    const OptimizerStep<float> scalars = optimizer_step<float>(settings, double(lr), steps_taken);
    block.each_warp([&](const Warp& warp, int w) {
      warp_update_owned<N, Optimizer>(warp, Block::of(grad, w), scalars, Block::of(owned, w), Block::of(state, w),
                                      Block::of(theta, w));
      warp_all_gather<1, m, Warp, Pbar>(warp, Block::of(theta, w));
    });
  }
  // θ, the state and t from warp 0, whose copies are all like it. Every warp read them at the start,
  // before the first step's barrier, which warp 0 has passed: none reads what warp 0 writes here.
  block.each_warp([&](const Warp& warp, int w) {
    warp_store_network<N, Optimizer>(warp, net, w * kFusedWarp, w == 0 && !grads_global, Block::of(owned, w),
                                     Block::of(state, w), Block::of(loss, w), steps_taken);
  });
  if (W > 1 && first < end) block.finish();
}

// ---- The instances ---------------------------------------------------------------------------------

// The policies an instance is compiled with: only the notes' (sigmoid hidden units, linear output,
// mse, sgd), the notes' units and loss with every optimizer, or every combination (with_fused_policies).
// Each combination is one more kernel to compile for each shape.
enum class InstancePolicies { notes, every_optimizer, every };

// A shape a kernel is compiled for, with those policies; without biases, and with them where θ and dθ
// still fit the registers (-Xptxas -v: no spills).
template <class Shape, InstancePolicies Policies, bool WithBias = true>
struct WarpInstance {
  using shape = Shape;
  static constexpr InstancePolicies kPolicies = Policies;
  static constexpr bool kWithBias = WithBias;
};
template <class... Instances>
struct WarpInstanceList {};

// The one list of instances, for the device launcher and the host twin alike: the notes' network
// with every policy; 2 inputs, hidden widths 4 or 8 in one or two layers, 16 in one, 4 in three, 1
// output, with the notes' policies (2-8-8-1 without biases only: with them, P = 105 and P̄ = 128 take all 255
// registers and spill).
constexpr InstancePolicies kNotesOnly = InstancePolicies::notes;
using FusedWarpInstances =
    WarpInstanceList<WarpInstance<StaticShape<2, 3, 3, 1>, InstancePolicies::every>,
                     WarpInstance<StaticShape<2, 4, 1>, kNotesOnly>, WarpInstance<StaticShape<2, 8, 1>, kNotesOnly>,
                     WarpInstance<StaticShape<2, 4, 4, 1>, kNotesOnly>, WarpInstance<StaticShape<2, 4, 8, 1>, kNotesOnly>,
                     WarpInstance<StaticShape<2, 8, 4, 1>, kNotesOnly>,
                     WarpInstance<StaticShape<2, 8, 8, 1>, kNotesOnly, false>,
                     WarpInstance<StaticShape<2, 16, 1>, kNotesOnly>, WarpInstance<StaticShape<2, 4, 4, 4, 1>, kNotesOnly>>;

// The notes' units and loss: sigmoid hidden units, a linear output, mean squared error.
inline bool notes_units_and_loss(const FusedPolicies& p) {
  return p.hidden == Activation::sigmoid && p.output == Activation::linear && p.loss == Loss::mse;
}
inline bool notes_policies(const FusedPolicies& p) {
  return notes_units_and_loss(p) && p.optimizer.kind == OptimizerKind::sgd;
}

// f(Layout{}, Act{}, Head{}, Optimizer{}) for instance I when it is compiled for (s, p); false if not.
template <class I, class F>
bool with_warp_instance(const FusedShape& s, const FusedPolicies& p, F& f) {
  if (!I::shape::matches(s.layers, s.widths)) return false;
  const auto with_bias = [&](auto bias) {
    using Layout = StaticLayout<typename I::shape, decltype(bias)::value>;
    if constexpr (Layout::kBias && !I::kWithBias) {
      return false;
    } else if constexpr (I::kPolicies == InstancePolicies::every) {
      with_fused_policies(p, [&](auto act, auto head, auto optimizer) { f(Layout{}, act, head, optimizer); });
      return true;
    } else if constexpr (I::kPolicies == InstancePolicies::every_optimizer) {
      if (!notes_units_and_loss(p)) return false;
      with_optimizer(p.optimizer.kind, [&](auto optimizer) { f(Layout{}, Sigmoid{}, SquaredError<Identity>{}, optimizer); });
      return true;
    } else {
      if (!notes_policies(p)) return false;
      f(Layout{}, Sigmoid{}, SquaredError<Identity>{}, Sgd{});
      return true;
    }
  };
  return s.bias ? with_bias(std::true_type{}) : with_bias(std::false_type{});
}
template <class... I, class F>
bool with_warp_instances(WarpInstanceList<I...>, const FusedShape& s, const FusedPolicies& p, F& f) {
  return (with_warp_instance<I>(s, p, f) || ...);
}

// Calls f(Layout{}, Act{}, Head{}, Optimizer{}) with the warp kernel's instance for the shape s and
// the policies p, and returns true; false (and no call) where there is none.
template <class F>
bool with_fused_warp_instance(const FusedShape& s, const FusedPolicies& p, F&& f) {
  return with_warp_instances(FusedWarpInstances{}, s, p, f);
}

// The warps per network W with which steps of `batch` samples of the network (s, p) run
// fused_block_steps, or 0 where they run another kernel (no instance): ⌈batch/32⌉ up to 256 samples
// (a warp, or one block), else a cluster of K = min(⌈batch/256⌉, 8) blocks of 8 warps, W = 8·K. The
// device launcher and the host twin both decide by this; a run's batch fixes it, so its results are
// fixed too.
inline int fused_block_warps(const FusedShape& s, const FusedPolicies& p, size_t batch) {
  if (batch < 1) return 0;
  if (!with_fused_warp_instance(s, p, [](auto, auto, auto, auto) {})) return 0;
  if (batch <= size_t(kFusedBlockMaxBatch)) return int((batch + kFusedWarp - 1) / kFusedWarp);
  const size_t blocks = (batch + kFusedBlockMaxBatch - 1) / kFusedBlockMaxBatch;
  return kFusedBlockMaxWarps * int(blocks < size_t(kFusedMaxBlocksPerNetwork) ? blocks : kFusedMaxBlocksPerNetwork);
}

}  // namespace sigtrain
