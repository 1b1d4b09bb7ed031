// The fully fused training kernel for small networks (kernels/fused_step.h on the device): a cluster
// of K blocks per network runs many optimizer steps with the parameters in shared memory. Many
// networks (replicas) of one shape train in the same launch, each with its own order, learning rate
// and optimizer state. The policies are template parameters: every combination is compiled
// (with_fused_policies turns the run's choice into the types), and each launch runs the one chosen.
// The shape-specialised and the tiled kernels are in their own files (fused_warp_kernel.cu,
// fused_tiled_kernel.cu), so that the three compile side by side; launch_fused_train picks.
#include <algorithm>
#include <climits>
#include <cstdint>

#include "fused_kernel.h"
#include "fused_launch.h"

namespace sigtrain::kernels {

namespace {

// The cluster of blocks r·K … r·K + K − 1 trains network r (FusedBuffers). Launched with clusters of
// K blocks when K > 1 (launch_fused_train below). One block per SM at least, as for the warp kernel
// (fused_warp_kernel.cu): without it ptxas held some instances (AdamW; bce) to 48 registers around the call of the
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
  if (const int W = fused_block_warps(s, policies, batch); W > 0)
    return launch_fused_warp(s, policies, networks, W, buffers, X, Y, shuffles, first, end, batch, lrs, grads, stream);
  // Networks × K blocks, in clusters of K. A grid has at most 2³¹ − 1 blocks; the host refuses more
  // networks than fit (check_backend_limits), and the product is taken in 64 bits so that no wrapped
  // count is ever launched.
  const int K = fused_cluster_blocks(s, policies, batch);
  if (uint64_t(networks) * uint64_t(K) > uint64_t(INT_MAX)) return cudaErrorInvalidConfiguration;
  // The tiled kernel where it is compiled for the network and the batch is at most 256 (fused_tiled.h).
  if (fused_tiled_blocks(s, policies, batch) > 0)
    return launch_fused_tiled(s, policies, networks, K, buffers, X, Y, shuffles, first, end, batch, lrs, grads, stream);
  cudaError_t status = cudaSuccess;
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
