// The device side of a data-parallel step whose sums stay on the GPU (train/data_parallel.h with
// NCCL; host/backends/cuda/nccl_rank_sum.cpp moves the slices): this rank's gradient and loss sums
// packed for the sum over the ranks, the rank-order sum of the slices it received (math/rank_sum.h,
// the host's MPI sum's code), and the job's mean gradient unpacked for the optimizer. Every launcher
// enqueues on `stream` and returns the launch's error.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

namespace sigtrain::kernels {

// sums[k] = double(grads[k]) · count for k < P (the shard's mean gradient times its size: G_r) and
// sums[P] = *loss_sum (F_r, the shard's loss sum); count 0 (an empty shard): zeros.
cudaError_t gradient_sums_of_shard(const float* grads, size_t P, size_t count, const double* loss_sum, double* sums,
                                   cudaStream_t stream);
// summed[i] = sum_over_ranks_in_order(received, ranks, count, i) for i < count: rank k's copy of the
// slice at received + k·count.
cudaError_t sum_over_ranks(const double* received, int ranks, size_t count, double* summed, cudaStream_t stream);
// grads[k] = float(sums[k] / global_count) for k < P (g = G / |batch|) and *epoch_loss += sums[P].
cudaError_t mean_gradient_of_job(const double* sums, size_t P, size_t global_count, float* grads, double* epoch_loss,
                                 cudaStream_t stream);

}  // namespace sigtrain::kernels
