// What the fused kernels' launchers share (device code's side: included by kernels/fused_*.cu only):
// the workspace attribute set once per kernel and device, a cluster launch's configuration, and the
// launchers of the shape-specialised and tiled kernels that launch_fused_train (fused_kernel.cu) calls.
#pragma once

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdint>

#include "fused_kernel.h"
#include "fused_tiled.h"
#include "fused_warp.h"

namespace sigtrain::kernels {

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
inline cudaError_t allow_largest_workspace(Kernel kernel, DevicesDone& done) {
  int device = 0;
  if (const cudaError_t error = cudaGetDevice(&device); error != cudaSuccess) return error;
  if (done.has(device)) return cudaSuccess;
  const cudaError_t error =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(kFusedMaxWorkspaceBytes));
  if (error == cudaSuccess) done.add(device);
  return error;
}

// A launch of `networks` networks × K blocks in clusters of K (a cluster's blocks are resident together
// and reach each other's shared memory), `threads` threads and `smem` bytes each.
inline cudaLaunchConfig_t cluster_launch(size_t networks, int K, int threads, size_t smem, cudaStream_t stream,
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

// The shape-specialised kernel (fused_warp.h) for `networks` networks of W warps each
// (fused_warp_kernel.cu), and the tiled kernel (fused_tiled.h) for `networks` clusters of K blocks
// (fused_tiled_kernel.cu): launch_fused_train's contract, for the shapes and batches they take.
cudaError_t launch_fused_warp(const FusedShape& s, const FusedPolicies& policies, size_t networks, int W,
                              const FusedBuffers& buffers, const float* X, const float* Y, const EpochShuffle* shuffles,
                              size_t first, size_t end, size_t batch, const float* lrs, float* grads, cudaStream_t stream);
cudaError_t launch_fused_tiled(const FusedShape& s, const FusedPolicies& policies, size_t networks, int K,
                               const FusedBuffers& buffers, const float* X, const float* Y, const EpochShuffle* shuffles,
                               size_t first, size_t end, size_t batch, const float* lrs, float* grads, cudaStream_t stream);

}  // namespace sigtrain::kernels
