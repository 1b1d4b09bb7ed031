// The shape-specialised kernel (fused_warp.h) and its launcher, in a file of its own so that its many
// instances compile beside the other fused kernels (fused_kernel.cu).
#include <climits>

#include "fused_launch.h"

namespace sigtrain::kernels {

namespace {

// The shape-specialised kernel (fused_warp.h), W warps per network: with W = 1, warp v of block b
// trains network b·kFusedWarpNetworksPerBlock + v alone (no block barrier); with 1 < W ≤ 8, block r's
// W warps train network r (one barrier per step, 2·W·P̄ floats of dynamic shared memory for the
// exchange of their sums); with W = 8·K, cluster r's K blocks of 8 warps train network r (one cluster
// barrier per step, 2·8·P̄ floats a block). One block per SM at least: without it, ptxas held some
// instances (Adam with bce on 2-3-3-1) to 80 or 96 registers for occupancy and spilled 4 bytes; with
// it, none spills (-Xptxas -v). The bounds allow the largest block, 8 warps.
template <class Layout, class Act, class Head, class Optimizer>
__global__ void __launch_bounds__(kFusedBlockMaxWarps* kFusedWarp, 1)
    fused_warp_kernel(const __grid_constant__ OptimizerSettings settings, size_t networks, int warps_per_network,
                      FusedBuffers buffers, const float* X, const float* Y, const EpochShuffle* shuffles, size_t first,
                      size_t end, size_t batch, const float* lrs, float* grads) {
  extern __shared__ float partials[];
  const int W = warps_per_network, block_warps = int(blockDim.x / kFusedWarp), warp = int(threadIdx.x / kFusedWarp);
  size_t r;  // the network
  int w;     // this thread's warp among the network's W
  if (W <= block_warps) {
    r = size_t(blockIdx.x) * unsigned(block_warps / W) + unsigned(warp / W);
    w = warp % W;
  } else {  // a cluster of W / 8 blocks (one network's), warp w in block w / 8 of it
    r = size_t(blockIdx.x) / unsigned(W / block_warps);
    w = int(__clusterRelativeBlockRank()) * block_warps + warp;
  }
  if (r >= networks) return;  // the whole warp (W = 1 only): every shuffle still has all of its lanes
  constexpr size_t P = Layout::kParams, state_floats = size_t(Optimizer::kSlots) * P;
  const FusedNetwork net{buffers.params + r * P, buffers.optimizer_states + r * state_floats, nullptr,
                         buffers.steps + r, buffers.loss_slots + r * kFusedLossSlots};
  const EpochShuffle order = shuffles[r];  // in registers: every sample's row is computed from it
  fused_block_steps<Layout, Act, Head, Optimizer>(DeviceBlock{W, w, partials}, net, X, Y, order, first, end, batch,
                                                  lrs[r], settings, grads ? grads + r * P : nullptr);
}

// The shape-specialised kernel for `networks` networks with W warps each: kFusedWarpNetworksPerBlock
// networks per block where W = 1, a block of W warps per network up to 8, else clusters of W / 8
// blocks of 8 warps.
template <class Layout, class Act, class Head, class Optimizer>
cudaError_t launch_warp_instance(const OptimizerSettings& settings, size_t networks, int W, const FusedBuffers& buffers,
                                 const float* X, const float* Y, const EpochShuffle* shuffles, size_t first, size_t end,
                                 size_t batch, const float* lrs, float* grads, cudaStream_t stream) {
  const auto kernel = fused_warp_kernel<Layout, Act, Head, Optimizer>;
  if (W > kFusedBlockMaxWarps) {
    const int K = W / kFusedBlockMaxWarps;
    // A grid has at most 2³¹ − 1 blocks (the product in 64 bits: no wrapped count is launched).
    if (uint64_t(networks) * uint64_t(K) > uint64_t(INT_MAX)) return cudaErrorInvalidConfiguration;
    cudaLaunchAttribute cluster{};
    const cudaLaunchConfig_t config =
        cluster_launch(networks, K, kFusedBlockMaxWarps * kFusedWarp,
                       2 * size_t(kFusedBlockMaxWarps) * padded_params<Layout> * sizeof(float), stream, cluster);
    return cudaLaunchKernelEx(&config, kernel, settings, networks, W, buffers, X, Y, shuffles, first, end, batch, lrs,
                              grads);
  }
  const int networks_per_block = W == 1 ? kFusedWarpNetworksPerBlock : 1;
  const size_t blocks = (networks + networks_per_block - 1) / networks_per_block;
  const size_t partials_bytes = W > 1 ? 2 * size_t(W) * padded_params<Layout> * sizeof(float) : 0;
  kernel<<<unsigned(blocks), unsigned(networks_per_block * W * kFusedWarp), partials_bytes, stream>>>(
      settings, networks, W, buffers, X, Y, shuffles, first, end, batch, lrs, grads);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_fused_warp(const FusedShape& s, const FusedPolicies& policies, size_t networks, int W,
                              const FusedBuffers& buffers, const float* X, const float* Y, const EpochShuffle* shuffles,
                              size_t first, size_t end, size_t batch, const float* lrs, float* grads, cudaStream_t stream) {
  cudaError_t status = cudaSuccess;
  with_fused_warp_instance(s, policies, [&](auto layout, auto act, auto head, auto optimizer) {
    status = launch_warp_instance<decltype(layout), decltype(act), decltype(head), decltype(optimizer)>(
        policies.optimizer, networks, W, buffers, X, Y, shuffles, first, end, batch, lrs, grads, stream);
  });
  return status;
}

}  // namespace sigtrain::kernels
