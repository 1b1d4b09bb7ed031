// The epoch's order on the device with Thrust: the same permutation as the host's epoch_permutation
// (host/data/dataset.cpp), because both sort the indices stably by the same shuffle_key.
#include <thrust/execution_policy.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/transform.h>

#include <algorithm>
#include <cub/device/device_segmented_sort.cuh>

#include "epoch_order.h"
#include "math/shuffle_key.h"

// Returns the error of a CUDA call that failed (the caller's check names the launcher that did).
#define SIGTRAIN_RETURN_IF_FAILED(call)                           \
  do {                                                            \
    const cudaError_t sigtrain_status_ = (call);                  \
    if (sigtrain_status_ != cudaSuccess) return sigtrain_status_; \
  } while (0)

namespace sigtrain::kernels {

namespace {

struct ShuffleKeyOf {
  uint64_t seed;
  __host__ __device__ uint64_t operator()(uint64_t index) const { return shuffle_key(seed, index); }
};

// Entry k of a group of networks' orders: network r = k / n, sample i = k mod n.
struct GroupKeyOf {
  const uint64_t* seeds;    // device, one per network of the group
  const uint8_t* shuffled;  // device, likewise
  uint64_t n;
  __device__ uint64_t operator()(uint64_t k) const {
    const uint64_t r = k / n, i = k % n;
    return shuffled[r] ? shuffle_key(seeds[r], i) : i;  // file order: the indices' own order
  }
};
struct IndexInSegment {
  uint64_t n;
  __device__ uint32_t operator()(uint64_t k) const { return uint32_t(k % n); }
};
struct SegmentStart {
  int64_t n;
  __host__ __device__ int64_t operator()(int64_t r) const { return r * n; }
};

template <typename T>
cudaError_t stream_alloc(T*& p, size_t count, cudaStream_t stream) {
  return cudaMallocAsync(reinterpret_cast<void**>(&p), std::max<size_t>(count, 1) * sizeof(T), stream);
}

}  // namespace

cudaError_t epoch_order(uint32_t* order, size_t n, bool shuffle, uint64_t seed, cudaStream_t stream) {
  const auto policy = thrust::cuda::par.on(stream);
  thrust::sequence(policy, order, order + n);
  if (!shuffle) return cudaSuccess;  // Thrust throws on a failure of its own
  // Keys are made here and freed again: sorting is once per epoch, the allocation is not on the hot path.
  uint64_t* keys = nullptr;
  SIGTRAIN_RETURN_IF_FAILED(stream_alloc(keys, n, stream));
  thrust::transform(policy, thrust::counting_iterator<uint64_t>(0), thrust::counting_iterator<uint64_t>(n), keys,
                    ShuffleKeyOf{seed});
  thrust::stable_sort_by_key(policy, keys, keys + n, order);
  return cudaFreeAsync(keys, stream);
}

cudaError_t epoch_orders(uint32_t* orders, size_t n, size_t networks, const uint8_t* shuffled, const uint64_t* seeds,
                         cudaStream_t stream) {
  if (n == 0 || networks == 0) return cudaSuccess;
  if (networks == 1) return epoch_order(orders, n, shuffled[0], seeds[0], stream);
  const auto policy = thrust::cuda::par.on(stream);
  // About 16 M entries a group: 20 bytes each of keys and values in flight.
  const size_t group = std::max<size_t>(1, (size_t(1) << 24) / n);
  const size_t most = std::min(group, networks) * n;
  uint64_t *keys = nullptr, *keys_sorted = nullptr, *group_seeds = nullptr;
  uint32_t* indices = nullptr;
  uint8_t* group_shuffled = nullptr;
  SIGTRAIN_RETURN_IF_FAILED(stream_alloc(keys, most, stream));
  SIGTRAIN_RETURN_IF_FAILED(stream_alloc(keys_sorted, most, stream));
  SIGTRAIN_RETURN_IF_FAILED(stream_alloc(indices, most, stream));
  SIGTRAIN_RETURN_IF_FAILED(stream_alloc(group_seeds, group, stream));
  SIGTRAIN_RETURN_IF_FAILED(stream_alloc(group_shuffled, group, stream));
  unsigned char* temp = nullptr;
  size_t temp_bytes = 0;
  for (size_t first = 0; first < networks; first += group) {
    const size_t count = std::min(group, networks - first), items = count * n;
    SIGTRAIN_RETURN_IF_FAILED(
        cudaMemcpyAsync(group_seeds, seeds + first, count * sizeof(uint64_t), cudaMemcpyHostToDevice, stream));
    SIGTRAIN_RETURN_IF_FAILED(cudaMemcpyAsync(group_shuffled, shuffled + first, count, cudaMemcpyHostToDevice, stream));
    thrust::transform(policy, thrust::counting_iterator<uint64_t>(0), thrust::counting_iterator<uint64_t>(items), keys,
                      GroupKeyOf{group_seeds, group_shuffled, n});
    thrust::transform(policy, thrust::counting_iterator<uint64_t>(0), thrust::counting_iterator<uint64_t>(items), indices,
                      IndexInSegment{n});
    const auto starts = thrust::make_transform_iterator(thrust::counting_iterator<int64_t>(0), SegmentStart{int64_t(n)});
    uint32_t* out = orders + first * n;
    size_t needed = 0;
    SIGTRAIN_RETURN_IF_FAILED(cub::DeviceSegmentedSort::StableSortPairs(
        nullptr, needed, keys, keys_sorted, indices, out, int64_t(items), int64_t(count), starts, starts + 1, stream));
    if (needed > temp_bytes) {
      if (temp) SIGTRAIN_RETURN_IF_FAILED(cudaFreeAsync(temp, stream));
      SIGTRAIN_RETURN_IF_FAILED(stream_alloc(temp, needed, stream));
      temp_bytes = needed;
    }
    SIGTRAIN_RETURN_IF_FAILED(cub::DeviceSegmentedSort::StableSortPairs(
        temp, temp_bytes, keys, keys_sorted, indices, out, int64_t(items), int64_t(count), starts, starts + 1, stream));
  }
  for (void* p : {static_cast<void*>(temp), static_cast<void*>(keys), static_cast<void*>(keys_sorted),
                  static_cast<void*>(indices), static_cast<void*>(group_seeds), static_cast<void*>(group_shuffled)})
    if (p) SIGTRAIN_RETURN_IF_FAILED(cudaFreeAsync(p, stream));
  return cudaSuccess;
}

}  // namespace sigtrain::kernels
