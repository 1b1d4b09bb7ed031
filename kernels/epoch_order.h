// The epoch's order on the device (kernels/epoch_order.cu), for both CUDA paths. Each launcher
// enqueues on `stream` and returns the first error of its calls (cudaSuccess when they went).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace sigtrain::kernels {

// order[i] = i (file order) or the stable sort of the indices by shuffle_key(seed, i)
// (math/shuffle_key.h), made with Thrust; the same permutation the host's epoch_permutation makes.
cudaError_t epoch_order(uint32_t* order, size_t n, bool shuffle, uint64_t seed, cudaStream_t stream);
// The orders of many networks at once, network r's (shuffled[r] 0 or 1, seeds[r]: host arrays) at
// orders + r·n; each the permutation epoch_order makes for it. Sorted as segments of one CUB
// segmented sort (a group of networks at a time, to bound the temporary memory), not a sort each.
cudaError_t epoch_orders(uint32_t* orders, size_t n, size_t networks, const uint8_t* shuffled, const uint64_t* seeds,
                         cudaStream_t stream);

}  // namespace sigtrain::kernels
