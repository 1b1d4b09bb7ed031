// The epoch's order on the device with Thrust: the same permutation as the host's epoch_permutation
// (host/dataset.cpp), because both sort the indices stably by the same shuffle_key.
#include <thrust/execution_policy.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/transform.h>

#include "cuda_check.h"
#include "shuffle_key.h"
#include "sigmoid_kernels.h"

namespace sigtrain::kernels {

namespace {

struct ShuffleKeyOf {
  uint64_t seed;
  __host__ __device__ uint64_t operator()(uint64_t index) const { return shuffle_key(seed, index); }
};

}  // namespace

void epoch_order(uint32_t* order, size_t n, bool shuffle, uint64_t seed, cudaStream_t stream) {
  const auto policy = thrust::cuda::par.on(stream);
  thrust::sequence(policy, order, order + n);
  if (!shuffle) return;
  // Keys are made here and freed again: sorting is once per epoch, the allocation is not on the hot path.
  uint64_t* keys = nullptr;
  CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&keys), n * sizeof(uint64_t), stream));
  thrust::transform(policy, thrust::counting_iterator<uint64_t>(0), thrust::counting_iterator<uint64_t>(n), keys,
                    ShuffleKeyOf{seed});
  thrust::stable_sort_by_key(policy, keys, keys + n, order);
  CUDA_CHECK(cudaFreeAsync(keys, stream));
}

}  // namespace sigtrain::kernels
