// The fully fused training kernel for small networks (kernels/fused_step.h on the device): a cluster
// of K blocks per network runs many optimizer steps with the parameters in shared memory. Many
// networks (replicas) of one shape train in the same launch, each with its own order, learning rate
// and optimizer state. The policies are template parameters: every combination is compiled
// (with_fused_policies turns the run's choice into the types), and each launch runs the one chosen.
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>

#include "fused_kernel.h"
#include "fused_tiled.h"
#include "fused_warp.h"

namespace sigtrain::kernels {

namespace {

// The cluster of blocks r·K … r·K + K − 1 trains network r (FusedBuffers). Launched with clusters of
// K blocks when K > 1 (launch_fused_train below). One block per SM at least, as for the warp kernel
// below: without it ptxas held some instances (AdamW; bce) to 48 registers around the call of the
// double pow of Adam's bias corrections and spilled up to 84 bytes; its workspace allows one block
// per SM for most shapes anyway.
template <class Act, class Head, class Optimizer>
__global__ void __launch_bounds__(kFusedThreads, 1)
    fused_train_kernel(const __grid_constant__ FusedShape s,  // read in place (no local copy: -Xptxas -v)
                       const __grid_constant__ OptimizerSettings settings, int blocks_per_network, FusedBuffers buffers,
                       const float* X, const float* Y, const EpochShuffle* shuffles, size_t first, size_t end, size_t batch, const float* lrs, float* grads) {
  extern __shared__ double workspace[];  // doubles: the per-thread loss terms need 8-byte alignment
  const size_t r = blockIdx.x / unsigned(blocks_per_network);
  const size_t state_floats = size_t(Optimizer::kSlots) * size_t(s.params);
  const FusedNetwork net{buffers.params + r * s.params, buffers.optimizer_states + r * state_floats,
                         buffers.block_states + r * size_t(blocks_per_network - 1) * state_floats, buffers.steps + r,
                         buffers.loss_slots + r * kFusedLossSlots};
  const EpochShuffle order = shuffles[r];  // in registers: every sample's row is computed from it
  fused_train_steps<Act, Head, Optimizer>(DeviceCluster{blocks_per_network, reinterpret_cast<float*>(workspace)}, s,
                                          net, X, Y, order, first, end, batch, lrs[r], settings,
                                          grads ? grads + r * s.params : nullptr);
}

// The shape-specialised kernel (fused_warp.h), W warps per network: with W = 1, warp v of block b
// trains network b·kFusedWarpNetworksPerBlock + v alone (no block barrier); with W > 1, block r's W
// warps train network r (one barrier per step, 2·W·P̄ floats of dynamic shared memory for the
// exchange of their sums). One block per SM at least: without it, ptxas held some instances (Adam
// with bce on 2-3-3-1) to 80 or 96 registers for occupancy and spilled 4 bytes; with it, none spills
// (-Xptxas -v). The bounds allow the largest block, 8 warps.
template <class Layout, class Act, class Head, class Optimizer>
__global__ void __launch_bounds__(kFusedBlockMaxWarps* kFusedWarp, 1)
    fused_warp_kernel(const __grid_constant__ OptimizerSettings settings, size_t networks, int warps_per_network,
                      FusedBuffers buffers, const float* X, const float* Y, const EpochShuffle* shuffles, size_t first,
                      size_t end, size_t batch, const float* lrs, float* grads) {
  extern __shared__ float partials[];
  const int warp = int(threadIdx.x / kFusedWarp);
  const int networks_per_block = int(blockDim.x / kFusedWarp) / warps_per_network;
  const size_t r = size_t(blockIdx.x) * unsigned(networks_per_block) + unsigned(warp / warps_per_network);
  if (r >= networks) return;  // the whole warp (W = 1 only): every shuffle still has all of its lanes
  constexpr size_t P = Layout::kParams, state_floats = size_t(Optimizer::kSlots) * P;
  const FusedNetwork net{buffers.params + r * P, buffers.optimizer_states + r * state_floats, nullptr,
                         buffers.steps + r, buffers.loss_slots + r * kFusedLossSlots};
  const EpochShuffle order = shuffles[r];  // in registers: every sample's row is computed from it
  fused_block_steps<Layout, Act, Head, Optimizer>(DeviceBlock{warps_per_network, warp % warps_per_network, partials},
                                                  net, X, Y, order, first, end, batch, lrs[r], settings,
                                                  grads ? grads + r * P : nullptr);
}

// The tiled kernel (fused_tiled.h): the cluster of blocks r·K … r·K + K − 1 trains network r, each
// block 32 samples of every step, with TiledWorkspace<Layout>::floats floats of dynamic shared memory.
// (No minimum of blocks per SM: ptxas then keeps it to 64 registers without spilling, where with one
// it took up to 255, unrolling the 64-long loops; more clusters of replicas fit an SM at 64.)
template <class Layout, class Act, class Head, class Optimizer>
__global__ void __launch_bounds__(kFusedThreads)
    fused_tiled_kernel(const __grid_constant__ OptimizerSettings settings, int blocks_per_network, FusedBuffers buffers,
                       const float* X, const float* Y, const EpochShuffle* shuffles, size_t first, size_t end,
                       size_t batch, const float* lrs, float* grads) {
  extern __shared__ double workspace[];  // doubles: the per-thread loss terms need 8-byte alignment
  const size_t r = blockIdx.x / unsigned(blocks_per_network);
  constexpr size_t P = Layout::kParams, state_floats = size_t(Optimizer::kSlots) * P;
  const FusedNetwork net{buffers.params + r * P, buffers.optimizer_states + r * state_floats,
                         buffers.block_states + r * size_t(blocks_per_network - 1) * state_floats, buffers.steps + r,
                         buffers.loss_slots + r * kFusedLossSlots};
  const EpochShuffle order = shuffles[r];
  fused_tiled_steps<Layout, Act, Head, Optimizer>(DeviceCluster{blocks_per_network, reinterpret_cast<float*>(workspace)},
                                                  net, X, Y, order, first, end, batch, lrs[r], settings,
                                                  grads ? grads + r * P : nullptr);
}

// Network r's loss: the sum of its slots in slot order (fused_loss_sum), one thread per network.
__global__ void sum_loss_slots_kernel(const double* loss_slots, size_t networks, double* losses) {
  const size_t r = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r < networks) losses[r] = fused_loss_sum(loss_slots + r * kFusedLossSlots);
}

// Block k predicts samples [k·per_block, …) of X with one network's parameters.
template <class Act>
__global__ void __launch_bounds__(kFusedThreads)
    fused_predict_kernel(const __grid_constant__ FusedShape s, const float* params, const float* X, size_t count,
                         size_t per_block, float* out) {
  extern __shared__ double workspace[];
  const size_t first = size_t(blockIdx.x) * per_block;
  const size_t n = std::min(per_block, count - first);
  fused_predict<Act>(DeviceCluster{1, reinterpret_cast<float*>(workspace)}, s, params, X, first, n,
                     out + first * s.widths[s.layers]);
}

size_t workspace_bytes(const FusedShape& s) { return size_t(s.ws_floats) * sizeof(float); }

// The devices on which one kernel has been given its largest workspace: a bit per device number
// below 64 (beyond that the attribute is set at every launch: correct, only slower). Setting a bit
// twice from two threads is harmless: both set the same attribute.
class DevicesDone {
 public:
  bool has(int device) const {
    return unsigned(device) < 64u && (bits_.load(std::memory_order_relaxed) >> device & 1u);
  }
  void add(int device) {
    if (unsigned(device) < 64u) bits_.fetch_or(uint64_t(1) << device, std::memory_order_relaxed);
  }

 private:
  std::atomic<uint64_t> bits_{0};
};

// Lets a kernel take the largest workspace any shape may have, on the current device. The attribute
// is per kernel and per device: set to one shape's size, it would refuse a larger shape trained at
// the same time; set on one device, it does not hold on another (a process may use several, one per
// thread). Set once per device (`done`), and again after a failure.
template <class Kernel>
cudaError_t allow_largest_workspace(Kernel kernel, DevicesDone& done) {
  int device = 0;
  if (const cudaError_t error = cudaGetDevice(&device); error != cudaSuccess) return error;
  if (done.has(device)) return cudaSuccess;
  const cudaError_t error =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(kFusedMaxWorkspaceBytes));
  if (error == cudaSuccess) done.add(device);
  return error;
}

// One instantiation's launch; its workspace attribute is set at its first launch on each device.
template <class Act, class Head, class Optimizer>
cudaError_t launch_train_instance(const cudaLaunchConfig_t& config, const FusedShape& s,
                                  const OptimizerSettings& settings, int K, const FusedBuffers& buffers, const float* X,
                                  const float* Y, const EpochShuffle* shuffles, size_t first, size_t end, size_t batch,
                                  const float* lrs, float* grads) {
  const auto kernel = fused_train_kernel<Act, Head, Optimizer>;
  static DevicesDone done;
  if (const cudaError_t attribute = allow_largest_workspace(kernel, done); attribute != cudaSuccess) return attribute;
  return cudaLaunchKernelEx(&config, kernel, s, settings, K, buffers, X, Y, shuffles, first, end, batch, lrs,
                            grads);
}

// The shape-specialised kernel for `networks` networks with W warps each: kFusedWarpNetworksPerBlock
// networks per block where W = 1, else a block of W warps per network.
template <class Layout, class Act, class Head, class Optimizer>
cudaError_t launch_warp_instance(const OptimizerSettings& settings, size_t networks, int W, const FusedBuffers& buffers,
                                 const float* X, const float* Y, const EpochShuffle* shuffles, size_t first, size_t end,
                                 size_t batch, const float* lrs, float* grads, cudaStream_t stream) {
  const int networks_per_block = W == 1 ? kFusedWarpNetworksPerBlock : 1;
  const size_t blocks = (networks + networks_per_block - 1) / networks_per_block;
  const size_t partials_bytes = W > 1 ? 2 * size_t(W) * Layout::kPadded * sizeof(float) : 0;
  fused_warp_kernel<Layout, Act, Head, Optimizer>
      <<<unsigned(blocks), unsigned(networks_per_block * W * kFusedWarp), partials_bytes, stream>>>(
          settings, networks, W, buffers, X, Y, shuffles, first, end, batch, lrs, grads);
  return cudaGetLastError();
}

// A launch of `networks` networks × K blocks in clusters of K (a cluster's blocks are resident together
// and reach each other's shared memory), `threads` threads and `smem` bytes each.
cudaLaunchConfig_t cluster_launch(size_t networks, int K, int threads, size_t smem, cudaStream_t stream,
                                  cudaLaunchAttribute& cluster) {
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(unsigned(uint64_t(networks) * uint64_t(K)));
  config.blockDim = dim3(unsigned(threads));
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cluster = cudaLaunchAttribute{};
  cluster.id = cudaLaunchAttributeClusterDimension;
  cluster.val.clusterDim.x = unsigned(K);
  cluster.val.clusterDim.y = 1;
  cluster.val.clusterDim.z = 1;
  config.attrs = &cluster;
  config.numAttrs = K > 1 ? 1 : 0;
  return config;
}

template <class Layout, class Act, class Head, class Optimizer>
cudaError_t launch_tiled_instance(const OptimizerSettings& settings, size_t networks, int K, const FusedBuffers& buffers,
                                  const float* X, const float* Y, const EpochShuffle* shuffles, size_t first,
                                  size_t end, size_t batch, const float* lrs, float* grads, cudaStream_t stream) {
  const auto kernel = fused_tiled_kernel<Layout, Act, Head, Optimizer>;
  static DevicesDone done;
  if (const cudaError_t attribute = allow_largest_workspace(kernel, done); attribute != cudaSuccess) return attribute;
  cudaLaunchAttribute cluster{};
  const cudaLaunchConfig_t config = cluster_launch(networks, K, kFusedThreads,
                                                   size_t(TiledWorkspace<Layout>::floats) * sizeof(float), stream, cluster);
  return cudaLaunchKernelEx(&config, kernel, settings, K, buffers, X, Y, shuffles, first, end, batch, lrs, grads);
}

template <class Act>
cudaError_t launch_predict_instance(const FusedShape& s, const float* params, const float* X, size_t count, float* out,
                                    cudaStream_t stream) {
  constexpr size_t kPerBlock = 1024;  // samples per block
  const auto kernel = fused_predict_kernel<Act>;
  static DevicesDone done;
  if (const cudaError_t attribute = allow_largest_workspace(kernel, done); attribute != cudaSuccess) return attribute;
  kernel<<<unsigned((count + kPerBlock - 1) / kPerBlock), s.threads, workspace_bytes(s), stream>>>(s, params, X, count,
                                                                                                   kPerBlock, out);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_fused_train(const FusedShape& s, const FusedPolicies& policies, size_t networks,
                               const FusedBuffers& buffers, const float* X, const float* Y,
                               const EpochShuffle* shuffles, size_t first, size_t end, size_t batch, const float* lrs,
                               float* grads, cudaStream_t stream) {
  // No steps, no launch: the kernel's blocks meet at a cluster barrier only between steps and at the end.
  if (end <= first || networks == 0) return cudaSuccess;
  // The shape-specialised kernel where it is compiled for the network and the batch fits 8 warps
  // (fused_warp.h).
  if (const int W = fused_block_warps(s, policies, batch); W > 0) {
    cudaError_t status = cudaSuccess;
    with_fused_warp_instance(s, policies, [&](auto layout, auto act, auto head, auto optimizer) {
      status = launch_warp_instance<decltype(layout), decltype(act), decltype(head), decltype(optimizer)>(
          policies.optimizer, networks, W, buffers, X, Y, shuffles, first, end, batch, lrs, grads, stream);
    });
    return status;
  }
  // Networks × K blocks, in clusters of K. A grid has at most 2³¹ − 1 blocks; the host refuses more
  // networks than fit (check_backend_limits), and the product is taken in 64 bits so that no wrapped
  // count is ever launched.
  const int K = fused_cluster_blocks(s, policies, batch);
  if (uint64_t(networks) * uint64_t(K) > uint64_t(INT_MAX)) return cudaErrorInvalidConfiguration;
  cudaError_t status = cudaSuccess;
  // The tiled kernel where it is compiled for the network and the batch is at most 256 (fused_tiled.h).
  if (fused_tiled_blocks(s, policies, batch) > 0) {
    with_fused_tiled_instance(s, policies, [&](auto layout, auto act, auto head, auto optimizer) {
      status = launch_tiled_instance<decltype(layout), decltype(act), decltype(head), decltype(optimizer)>(
          policies.optimizer, networks, K, buffers, X, Y, shuffles, first, end, batch, lrs, grads, stream);
    });
    return status;
  }
  cudaLaunchAttribute cluster{};
  const cudaLaunchConfig_t config = cluster_launch(networks, K, s.threads, workspace_bytes(s), stream, cluster);
  with_fused_policies(policies, [&](auto act, auto head, auto optimizer) {
    status = launch_train_instance<decltype(act), decltype(head), decltype(optimizer)>(
        config, s, policies.optimizer, K, buffers, X, Y, shuffles, first, end, batch, lrs, grads);
  });
  return status;
}

cudaError_t launch_fused_predict(const FusedShape& s, Activation hidden, const float* params, const float* X,
                                 size_t count, float* out, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  return with_activation(
      hidden, [&](auto act) { return launch_predict_instance<decltype(act)>(s, params, X, count, out, stream); });
}

cudaError_t launch_fused_loss_sums(const double* loss_slots, size_t networks, double* losses, cudaStream_t stream) {
  if (networks == 0) return cudaSuccess;
  sum_loss_slots_kernel<<<unsigned((networks + 127) / 128), 128, 0, stream>>>(loss_slots, networks, losses);
  return cudaGetLastError();
}

}  // namespace sigtrain::kernels
