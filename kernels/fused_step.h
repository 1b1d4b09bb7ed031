// The fully fused training of a small network (every width ≤ 64): a group of K thread blocks (a
// thread-block cluster on the GPU; K = 1 for batches one block takes at once) runs many optimizer
// steps with the parameters in each block's shared memory, never returning to the host between them.
//
// The algorithm is written once, as a template over the group that runs it: DeviceCluster on the GPU
// (the blocks of a CUDA cluster, __syncthreads between phases, warp shuffles for sums, the cluster's
// barrier and distributed shared memory to add the blocks' gradients), HostCluster on the CPU (the
// same phases, each block's and thread's work run in turn; the warp sums in the same butterfly order).
// Within a phase every thread writes its own block's places and reads only what earlier phases wrote,
// so the host twin computes exactly what the cluster computes, and the CPU tests check this very code
// against the fp64 reference (tests/test_fused.cpp). The policies (kernels/math/: the hidden
// activation, the head — loss and output activation —, the optimizer) are template parameters too, so
// each instantiation is as lean as the notes' network needs; with_fused_policies makes them types.
//
// One step over a batch of B samples (DESIGN.md §1), in passes of up to `chunk` samples, pass p taken
// by block p mod K; three phases, so three barriers a step when one block takes the batch at once:
//   samples    thread t, sample t of the pass alone: forward through every layer (the output layer
//              keeps its logits z), Δ_L = Head::delta(z, y)/B and its loss term, then
//              Δ_{l-1} = (W_lᵀ Δ_l) ⊙ f'(a_{l-1}) down to Δ_1. A thread reads and writes only its own
//              rows of a_l and Δ_l, so no barrier is needed between layers.
//   gradients  G lanes of a warp per entry of θ (every layer's dW_l and db_l at once; G = 1 … 32, as
//              many as the block has threads for, so that every thread has work): lane k sums samples
//              k, k + G, … of Δ_l[t][i] · a_{l-1}[t][j] in order, then a butterfly of shuffles adds the
//              G lanes — a fixed order, so the result is deterministic
//   update     every block adds the K blocks' dθ in block order and takes the optimizer's step
//              (math/optimizer.h) on its own copy of θ and of the optimizer state, so the K copies
//              stay identical; the thread that owns entry e updates θ_e and its state
// Rows of a_l and Δ_l in the workspace are padded to an odd number of floats: the G lanes of an entry
// read one value from each of G consecutive rows, which an odd stride puts in G different banks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "math/epoch_shuffle.h"
#include "math/loss.h"
#include "math/optimizer.h"
#include "math/sample_math.h"

// The phase templates below are __host__ __device__ but call the host-only HostCluster or the
// device-only DeviceCluster: SIGTRAIN_HD_TEMPLATE (math/static_shape.h) tells nvcc that each
// instantiation runs on one side only.
#include "math/static_shape.h"

namespace sigtrain {

constexpr int kFusedMaxLayers = 4;    // weight layers L
constexpr int kFusedMaxWidth = 64;    // every width
constexpr int kFusedThreads = 256;    // threads of a block
constexpr int kFusedWarp = 32;
constexpr size_t kFusedMaxWorkspaceBytes = 200 * 1024;  // shared memory one block may use (Hopper: 227 KB)
constexpr int kFusedMaxBlocksPerNetwork = 8;             // the portable thread-block cluster size

// One network's layout in the block's workspace (shared memory), in floats. Made on the host by
// make_fused_shape (host/backends/cuda/fused_host.h); passed to the kernel by value.
struct FusedShape {
  int layers = 0;                           // L
  int widths[kFusedMaxLayers + 1] = {};     // n_0 … n_L
  int bias = 0;
  int params = 0;                           // P, the flat layout of network.h
  int weight_offset[kFusedMaxLayers + 1] = {};  // of W_l, l = 1 … L
  int bias_offset[kFusedMaxLayers + 1] = {};
  int threads = kFusedThreads;
  int chunk = 0;                            // samples per pass (≤ threads)
  int lanes_per_entry = kFusedWarp;         // G: the lanes that sum one entry of dθ (a power of 2, ≤ 32)
  // Workspace offsets, in floats.
  int ws_params = 0, ws_grads = 0;          // θ and dθ: P each
  int row[kFusedMaxLayers + 1] = {};        // floats per row of a_l and Δ_l: n_l, made odd
  int ws_acts[kFusedMaxLayers + 1] = {};    // a_l for the pass: chunk rows, l = 0 … L
  int ws_delta[kFusedMaxLayers + 1] = {};   // Δ_l for the pass: chunk rows, l = 1 … L (Δ_L over a_L = ŷ)
  int ws_loss = 0;                          // one double per thread (8-byte aligned)
  int ws_floats = 0;                        // total
};

// Blocks per network for batches of `batch`: one per pass of `chunk` samples, at most
// kFusedMaxBlocksPerNetwork. A run's batch size fixes it, so its results are fixed too.
SIGTRAIN_HD int fused_blocks_per_network(size_t batch, int chunk) {
  const size_t passes = (batch + size_t(chunk) - 1) / size_t(chunk);
  return int(passes < size_t(kFusedMaxBlocksPerNetwork) ? passes : size_t(kFusedMaxBlocksPerNetwork));
}

// The group that runs a phase: every (virtual) thread t of every block `rank` runs body(rank, t), then
// all of the group's threads wait (one phase). lane_units(units, G, partial, store) gives each unit to
// G consecutive lanes of a warp of each block, which compute partial(rank, unit, lane) for lane = 0 …
// G − 1; the G partials are added in a butterfly and store(rank, unit, total) runs once. Units go to
// the T / G lane groups in rounds, unit = round · (T / G) + group. sync_blocks() waits for every block
// of the group; workspace(rank) is that block's shared memory.
struct HostCluster {
  int blocks;
  int threads;
  float* const* workspaces;  // one per block

  int ranks() const { return blocks; }
  float* workspace(int rank) const { return workspaces[rank]; }
  void sync_blocks() const {}  // the phases already run block after block
  template <class Body>
  void phase(Body&& body) const {
    for (int rank = 0; rank < blocks; ++rank)
      for (int t = 0; t < threads; ++t) body(rank, t);
  }
  template <class Partial, class Store>
  void lane_units(int units, int G, Partial&& partial, Store&& store) const {
    for (int rank = 0; rank < blocks; ++rank)
      for (int u = 0; u < units; ++u) {
        float lanes[kFusedWarp];
        for (int lane = 0; lane < G; ++lane) lanes[lane] = partial(rank, u, lane);
        // The butterfly of __shfl_xor_sync: after the round of `offset`, lane k holds v[k] + v[k ^ offset].
        for (int offset = G / 2; offset > 0; offset /= 2) {
          float next[kFusedWarp];
          for (int lane = 0; lane < G; ++lane) next[lane] = lanes[lane] + lanes[lane ^ offset];
          for (int lane = 0; lane < G; ++lane) lanes[lane] = next[lane];
        }
        store(rank, u, lanes[0]);
      }
  }
};

#if defined(__CUDACC__)
// One CUDA block of a cluster of `blocks` (launched with that cluster size when blocks > 1).
struct DeviceCluster {
  int blocks;
  float* local;  // this block's shared memory

  __device__ int ranks() const { return blocks; }
  // The sm_90 cluster intrinsics (what cooperative_groups::this_cluster() wraps; the wrappers cost a
  // stack frame here).
  __device__ int rank() const { return blocks > 1 ? int(__clusterRelativeBlockRank()) : 0; }
  __device__ float* workspace(int r) const {
    return r == rank() ? local : static_cast<float*>(__cluster_map_shared_rank(local, unsigned(r)));
  }
  __device__ void sync_blocks() const {
    if (blocks > 1) {  // the cluster's barrier, with release/acquire ordering of shared memory
      __cluster_barrier_arrive();
      __cluster_barrier_wait();
    }
  }
  template <class Body>
  __device__ void phase(Body&& body) const {
    body(rank(), int(threadIdx.x));
    __syncthreads();
  }
  template <class Partial, class Store>
  __device__ void lane_units(int units, int G, Partial&& partial, Store&& store) const {
    const int r = rank(), group = int(threadIdx.x) / G, lane = int(threadIdx.x) % G, groups = int(blockDim.x) / G;
    // Every lane runs every round (a unit past the end adds zeros), so each shuffle has the whole warp.
    for (int first = 0; first < units; first += groups) {
      const int u = first + group;
      float v = u < units ? partial(r, u, lane) : 0.0f;
      for (int offset = G / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
      if (u < units && lane == 0) store(r, u, v);
    }
    __syncthreads();
  }
};
#endif

// Where a block's pass of a step lies: samples [start, start + count) of the batch (count may be 0).
struct FusedPass {
  int start;
  int count;
};
SIGTRAIN_HD FusedPass fused_pass(int group, int rank, int blocks, int chunk, int batch) {
  const int start = (group * blocks + rank) * chunk;
  const int left = batch - start;
  return {start, left <= 0 ? 0 : (left < chunk ? left : chunk)};
}

// Where row t of a_l (and of Δ_l) lies in a workspace.
SIGTRAIN_HD float* fused_act(const FusedShape& s, float* ws, int l, int t) { return ws + s.ws_acts[l] + t * s.row[l]; }
SIGTRAIN_HD float* fused_delta(const FusedShape& s, float* ws, int l, int t) {
  return ws + s.ws_delta[l] + t * s.row[l];
}

// The forward pass of sample x (row `row` of X) as row t of the pass, with the parameters θ of the
// workspace: hidden layers a_l = Act::forward(z_l), and the logits z_L in row t of a_L.
template <class Act>
SIGTRAIN_HD void fused_forward_sample(const FusedShape& s, float* ws, const float* X, size_t row, int t) {
  const float* theta = ws + s.ws_params;
  const int n0 = s.widths[0];
  float* a0 = fused_act(s, ws, 0, t);
  for (int j = 0; j < n0; ++j) a0[j] = X[row * n0 + j];
  for (int l = 1; l <= s.layers; ++l)
    dense_forward_sample<Act>(theta + s.weight_offset[l], s.bias ? theta + s.bias_offset[l] : nullptr,
                              fused_act(s, ws, l - 1, t), fused_act(s, ws, l, t), s.widths[l - 1], s.widths[l],
                              l < s.layers);
}

// Which gradient entry the flat parameter index e is: layer l, row i, column j (j = −1: the bias b_l[i]).
struct FusedEntry {
  int l, i, j;
};
SIGTRAIN_HD FusedEntry fused_entry(const FusedShape& s, int e) {
  int l = 1;
  while (l < s.layers && e >= s.weight_offset[l + 1]) ++l;
  const int n_in = s.widths[l - 1], k = e - s.weight_offset[l];
  return k < s.widths[l] * n_in ? FusedEntry{l, k / n_in, k % n_in} : FusedEntry{l, k - s.widths[l] * n_in, -1};
}

// The loss terms of a network: one running sum per thread slot of each of its blocks (slot k·T + t
// for thread t of block k), kept between launches, so that each slot adds its samples' loss terms in
// step order however the steps are cut into launches. The epoch's loss is their sum in slot order.
constexpr int kFusedLossSlots = kFusedMaxBlocksPerNetwork * kFusedThreads;
SIGTRAIN_HD double fused_loss_sum(const double* loss_slots) {
  double total = 0.0;
  for (int k = 0; k < kFusedLossSlots; ++k) total += loss_slots[k];
  return total;
}

// One network's buffers in global memory for fused_train_steps.
struct FusedNetwork {
  float* params;           // θ: P floats (network.h's flat layout)
  float* optimizer_state;  // Optimizer::kSlots × P floats, slot-major (math/optimizer.h): block 0's copy,
                           // the one the host reads and writes (null for plain SGD, which keeps none)
  float* block_states;     // blocks 1 … K − 1's copies, (K − 1) × kSlots × P floats: each block updates
                           // its own (as it does its own θ), refreshed from block 0's at every call's start
  uint64_t* steps;         // t: the optimizer steps taken so far
  double* loss_slots;      // kFusedLossSlots
};

// ---- The phases every cluster kernel shares (this runtime-shaped one and fused_tiled.h's) ----------

// Where a block's workspace holds θ, its dθ and its threads' running loss terms (doubles), in floats.
struct ClusterPlaces {
  int params, grads, loss;
};

// Block `rank`'s copy of the optimizer state: block 0's is the network's own, the others' in
// net.block_states.
SIGTRAIN_HD float* cluster_state(const FusedNetwork& net, int rank, int state_floats) {
  return rank == 0 ? net.optimizer_state : net.block_states + size_t(rank - 1) * size_t(state_floats);
}

// A call's start: every block's θ, the other blocks' copies of the optimizer state (block 0 changes its
// own only after the first barrier between blocks, in the first update), and each thread's loss slot.
SIGTRAIN_HD_TEMPLATE
template <class Cluster>
SIGTRAIN_HD void cluster_load_network(const Cluster& cluster, ClusterPlaces at, const FusedNetwork& net, int P,
                                      int state_floats, int threads) {
  cluster.phase([&](int rank, int t) {
    float* ws = cluster.workspace(rank);
    for (int e = t; e < P; e += threads) ws[at.params + e] = net.params[e];
    if (rank > 0)
      for (int e = t; e < state_floats; e += threads) cluster_state(net, rank, state_floats)[e] = net.optimizer_state[e];
    reinterpret_cast<double*>(ws + at.loss)[t] = net.loss_slots[rank * threads + t];
  });
}

// A step's end, after the cluster's barrier that completes every block's dθ: each block adds the K
// blocks' dθ in block order and takes the optimizer's step (math/optimizer.h) on its own copy of θ and
// of the optimizer state, so the K copies stay identical; the thread that owns entry e updates θ_e
// and its state. With grads_global, the last step's dθ goes there instead (block 0) and nothing is
// updated. Then the second barrier: no block writes the next step's dθ while another still reads it.
SIGTRAIN_HD_TEMPLATE
template <class Optimizer, class Cluster>
SIGTRAIN_HD void cluster_update(const Cluster& cluster, ClusterPlaces at, const FusedNetwork& net, int P,
                                int threads, OptimizerStep<float> scalars, float* grads_global, bool last_step) {
  const int K = cluster.ranks();
  cluster.phase([&](int rank, int t) {
    float* theta = cluster.workspace(rank) + at.params;
    float* state = cluster_state(net, rank, Optimizer::kSlots * P);  // null for plain SGD; unread for gradients
    for (int e = t; e < P; e += threads) {
      float total = 0.0f;
      for (int k = 0; k < K; ++k) total += cluster.workspace(k)[at.grads + e];
      if (grads_global) {
        if (last_step && rank == 0) grads_global[e] = total;
      } else {
        Optimizer::update(theta[e], total, Optimizer::kSlots ? state + e : nullptr, size_t(P), scalars);
      }
    }
  });
  cluster.sync_blocks();
}

// A call's end: each block its threads' loss slots; block 0 θ and t (the K copies are identical).
SIGTRAIN_HD_TEMPLATE
template <class Cluster>
SIGTRAIN_HD void cluster_store_network(const Cluster& cluster, ClusterPlaces at, const FusedNetwork& net, int P,
                                       int threads, uint64_t steps_taken) {
  cluster.phase([&](int rank, int t) {
    net.loss_slots[rank * threads + t] = reinterpret_cast<const double*>(cluster.workspace(rank) + at.loss)[t];
    if (rank != 0) return;
    for (int e = t; e < P; e += threads) net.params[e] = cluster.workspace(0)[at.params + e];
    if (t == 0) *net.steps = steps_taken;
  });
}

// Optimizer steps of `batch` samples over positions [first, end) of the epoch's order (row
// order.row(position); math/epoch_shuffle.h: computed, not loaded) (the last step may be
// partial), at learning rate lr, starting from and ending in the network's buffers (θ, the optimizer's
// state and step count). Adds each sample's loss term Σ_o ℓ(z, y) to the loss slot of the thread
// that took it. With grads_global, the steps only compute the gradient: the last step's dθ is written
// there, and θ, block 0's optimizer state and the step count stay as they are (the buffers are those
// of training all the same: the other blocks' copies of the state are filled, and not read).
SIGTRAIN_HD_TEMPLATE
template <class Act, class Head, class Optimizer, class Cluster>
SIGTRAIN_HD void fused_train_steps(const Cluster& cluster, const FusedShape& s, const FusedNetwork& net, const float* X,
                                   const float* Y, const EpochShuffle& order, size_t first, size_t end, size_t batch,
                                   float lr, const OptimizerSettings& settings, float* grads_global) {
  const int L = s.layers, T = s.threads, P = s.params, nL = s.widths[L], K = cluster.ranks();
  const ClusterPlaces at{s.ws_params, s.ws_grads, s.ws_loss};
  // Per thread, the running sum of its samples' loss terms, in shared memory for the call.
  const auto loss_terms = [&](int rank) { return reinterpret_cast<double*>(cluster.workspace(rank) + s.ws_loss); };
  // Read before the first barrier between blocks; block 0 writes it back only after the last.
  uint64_t steps_taken = *net.steps;
  cluster_load_network(cluster, at, net, P, Optimizer::kSlots * P, T);
  for (size_t step = first; step < end; step += batch) {
    // An int: the host keeps batches within kMaxBatch = 2³⁰ (check_backend_limits, backends/backend.h).
    const int B = int(end - step < batch ? end - step : batch);
    const float inv_B = 1.0f / float(B);
    for (int group = 0; group * K * s.chunk < B; ++group) {
      cluster.phase([&](int rank, int t) {  // one sample, forward and backward (DESIGN.md §1)
        const FusedPass pass = fused_pass(group, rank, K, s.chunk, B);
        if (t >= pass.count) return;
        float* ws = cluster.workspace(rank);
        const size_t position = step + size_t(pass.start + t);
        const size_t row = order.row(position);
        fused_forward_sample<Act>(s, ws, X, row, t);
        loss_terms(rank)[t] +=  // Δ_L = Head::delta(z, y)/B, written over z
            output_delta_sample<Head>(fused_act(s, ws, L, t), Y + row * nL, fused_delta(s, ws, L, t), nL, inv_B);
        for (int l = L; l > 1; --l)  // Δ_{l-1} = (W_lᵀ Δ_l) ⊙ f'(a_{l-1})
          dense_backward_sample<Act>(ws + s.ws_params + s.weight_offset[l], fused_delta(s, ws, l, t),
                                     fused_act(s, ws, l - 1, t), fused_delta(s, ws, l - 1, t), s.widths[l - 1],
                                     s.widths[l]);
      });
      // dW_l += Δ_l a_{l-1}ᵀ and db_l += Δ_l 1 over this pass, every layer at once: G lanes per entry.
      cluster.lane_units(
          P, s.lanes_per_entry,
          [&](int rank, int e, int lane) {
            float* ws = cluster.workspace(rank);
            const FusedEntry g = fused_entry(s, e);
            return gradient_partial(fused_delta(s, ws, g.l, 0), s.row[g.l], fused_act(s, ws, g.l - 1, 0),
                                    s.row[g.l - 1], g.i, g.j, lane, s.lanes_per_entry,
                                    fused_pass(group, rank, K, s.chunk, B).count);
          },
          [&](int rank, int e, float total) {  // the first pass of the step starts the sums
            float& grad = cluster.workspace(rank)[s.ws_grads + e];
            grad = group == 0 ? total : grad + total;
          });
    }
    cluster.sync_blocks();  // every block's part of dθ is complete
    const bool last_step = step + batch >= end;
    if (!grads_global) ++steps_taken;
    // The step's scalars (PyTorch's bias corrections), from t and lr in double, the same in every thread.
    const OptimizerStep<float> scalars = optimizer_step<float>(settings, double(lr), steps_taken);
    cluster_update<Optimizer>(cluster, at, net, P, T, scalars, grads_global, last_step);
  }
  cluster_store_network(cluster, at, net, P, T, steps_taken);
}

// Z_L (the logits) for `count` samples starting at row `first` of X (no order), in passes, by one block
// (a cluster of one); out: nL × count, column-major.
SIGTRAIN_HD_TEMPLATE
template <class Act, class Cluster>
SIGTRAIN_HD void fused_predict(const Cluster& cluster, const FusedShape& s, const float* params_global, const float* X,
                               size_t first, size_t count, float* out) {
  const int T = s.threads, P = s.params, L = s.layers, nL = s.widths[L];
  cluster.phase([&](int rank, int t) {
    for (int e = t; e < P; e += T) cluster.workspace(rank)[s.ws_params + e] = params_global[e];
  });
  for (size_t pass = 0; pass < count; pass += size_t(s.chunk)) {
    const int n = int(count - pass < size_t(s.chunk) ? count - pass : size_t(s.chunk));
    cluster.phase([&](int rank, int t) {
      if (t >= n) return;
      float* ws = cluster.workspace(rank);
      fused_forward_sample<Act>(s, ws, X, first + pass + size_t(t), t);
      const float* z = fused_act(s, ws, L, t);
      for (int o = 0; o < nL; ++o) out[(pass + t) * nL + o] = z[o];
    });
  }
}

// The policies of a fused run as data (what the command line chose), and the one place where they
// become the types fused_train_steps is instantiated with: f(Act{}, Head{}, Optimizer{}).
struct FusedPolicies {
  Activation hidden = Activation::sigmoid;
  Activation output = Activation::linear;
  Loss loss = Loss::mse;
  OptimizerSettings optimizer;
};
template <class F>
void with_fused_policies(const FusedPolicies& p, F&& f) {
  with_activation(p.hidden, [&](auto act) {
    with_head(p.loss, p.output, [&](auto head) {
      with_optimizer(p.optimizer.kind, [&](auto optimizer) { f(act, head, optimizer); });
    });
  });
}

}  // namespace sigtrain
