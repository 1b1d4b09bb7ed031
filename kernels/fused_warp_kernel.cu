// The shape-specialised kernel (fused_warp.h) and its launcher, in a file of its own so that its many
// instances compile beside the other fused kernels (fused_kernel.cu).
#include "fused_launch.h"

namespace sigtrain::kernels {

namespace {

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
