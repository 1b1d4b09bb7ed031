// The fused kernel's launchers (kernels/fused_kernel.cu): fused_step.h's training and prediction on the
// device, for many networks of one shape at once (network r trained by blocks r·K … r·K + K − 1, a
// thread-block cluster). Host code calls them through this header, which needs no CUDA compiler; each
// enqueues on `stream`, returns at once, and returns the launch's error (cudaSuccess when it went).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "fused_step.h"
#include "fused_tiled.h"

namespace sigtrain::kernels {

// Every network's buffers, network r's at r times its size: P floats of θ, kSlots × P of optimizer
// state, one step count and kFusedLossSlots loss slots; block_states holds (K − 1) × kSlots × P floats
// per network for the blocks beyond the first of a cluster (K = fused_cluster_blocks(s, policies, batch),
// fused_tiled.h).
struct FusedBuffers {
  float* params;
  float* optimizer_states;
  float* block_states;
  uint64_t* steps;
  double* loss_slots;
};

// fused_train_steps for `networks` networks with the policies `policies`, network r at learning rate
// lrs[r] (device memory), over positions [first, end) of its epoch's order shuffles[r] (device memory). With grads (P floats per network), only the gradient of one step (fused_step.h).
// Where fused_block_warps(s, policies, batch) = W > 0, the shape-specialised kernel (fused_warp.h) runs
// the steps instead, W warps per network (a warp per network for batches up to 32, a block of W warps
// up to 256, a cluster of W/8 blocks beyond): it uses the same buffers but for block_states, which it
// leaves alone. Else, where
// fused_tiled_blocks(s, policies, batch) = K > 0, the tiled kernel (fused_tiled.h) runs them, K blocks
// of 32 samples per network.
cudaError_t launch_fused_train(const FusedShape& s, const FusedPolicies& policies, size_t networks,
                               const FusedBuffers& buffers, const float* X, const float* Y,
                               const EpochShuffle* shuffles, size_t first, size_t end, size_t batch, const float* lrs,
                               float* grads, cudaStream_t stream);

// Z_L (nL × count, column-major) of one network with parameters `params`, for count rows of X.
cudaError_t launch_fused_predict(const FusedShape& s, Activation hidden, const float* params, const float* X,
                                 size_t count, float* out, cudaStream_t stream);

// losses[r] = fused_loss_sum of network r's loss slots.
cudaError_t launch_fused_loss_sums(const double* loss_slots, size_t networks, double* losses, cudaStream_t stream);

}  // namespace sigtrain::kernels
