// The tiled kernel (fused_tiled.h) and its launcher, in a file of its own so that it compiles beside
// the other fused kernels (fused_kernel.cu).
#include "fused_launch.h"

namespace sigtrain::kernels {

namespace {

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

}  // namespace

cudaError_t launch_fused_tiled(const FusedShape& s, const FusedPolicies& policies, size_t networks, int K,
                               const FusedBuffers& buffers, const float* X, const float* Y, const EpochShuffle* shuffles,
                               size_t first, size_t end, size_t batch, const float* lrs, float* grads, cudaStream_t stream) {
  cudaError_t status = cudaSuccess;
  with_fused_tiled_instance(s, policies, [&](auto layout, auto act, auto head, auto optimizer) {
    status = launch_tiled_instance<decltype(layout), decltype(act), decltype(head), decltype(optimizer)>(
        policies.optimizer, networks, K, buffers, X, Y, shuffles, first, end, batch, lrs, grads, stream);
  });
  return status;
}

}  // namespace sigtrain::kernels
