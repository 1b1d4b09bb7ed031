#include "math/rank_sum.h"
#include "rank_sum.h"
#include "step_kernels.h"  // kBlockSize, blocks_for

namespace sigtrain::kernels {

namespace {

__global__ void gradient_sums_kernel(const float* grads, size_t P, size_t count, const double* loss_sum, double* sums) {
  const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < P) sums[k] = count ? double(grads[k]) * double(count) : 0.0;
  if (k == P) sums[P] = count ? *loss_sum : 0.0;
}

__global__ void sum_over_ranks_kernel(const double* received, int ranks, size_t count, double* summed) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) summed[i] = sum_over_ranks_in_order(received, ranks, count, i);
}

__global__ void mean_gradient_kernel(const double* sums, size_t P, size_t global_count, float* grads,
                                     double* epoch_loss) {
  const size_t k = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < P) grads[k] = float(sums[k] / double(global_count));
  if (k == P) *epoch_loss += sums[P];
}

}  // namespace

cudaError_t gradient_sums_of_shard(const float* grads, size_t P, size_t count, const double* loss_sum, double* sums,
                                   cudaStream_t stream) {
  gradient_sums_kernel<<<blocks_for(P + 1), kBlockSize, 0, stream>>>(grads, P, count, loss_sum, sums);
  return cudaGetLastError();
}

cudaError_t sum_over_ranks(const double* received, int ranks, size_t count, double* summed, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  sum_over_ranks_kernel<<<blocks_for(count), kBlockSize, 0, stream>>>(received, ranks, count, summed);
  return cudaGetLastError();
}

cudaError_t mean_gradient_of_job(const double* sums, size_t P, size_t global_count, float* grads, double* epoch_loss,
                                 cudaStream_t stream) {
  mean_gradient_kernel<<<blocks_for(P + 1), kBlockSize, 0, stream>>>(sums, P, global_count, grads, epoch_loss);
  return cudaGetLastError();
}

}  // namespace sigtrain::kernels
