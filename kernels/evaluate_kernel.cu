// Every network's evaluation sums in one launch: CUB's segmented reduction, one block per network
// (segment r is the pairs (r, s) of network r with every sample s), over a Thrust transform iterator
// that computes the term of pair k = r·N + s as the reduction loads it (evaluation_terms), so the
// per-pair terms are never stored.
//
// Why one block per network rather than thrust::reduce_by_key over keys k / N: reduce_by_key is a
// scan whose running sum crosses tile boundaries through CUB's decoupled look-back, which adds the
// preceding tiles' partial sums in whatever grouping their publication order gives — so a network
// whose samples span tiles could get a different fp64 sum from run to run. The segmented reduction
// has no such step: each thread adds a fixed subset of its segment in order, then the block adds the
// threads in a fixed tree (CUB documents it as run-to-run deterministic on a device).
#include <cub/device/device_segmented_reduce.cuh>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>

#include "evaluate_kernel.h"

namespace sigtrain::kernels {

namespace {

// The terms of pair k = r·count + s: network r on sample s.
template <class Act, class Head>
struct PairTerms {
  FusedShape s;
  const float* params;
  const float* X;
  const float* Y;
  size_t count;
  __device__ EvaluationTerms operator()(size_t k) const {
    const size_t r = k / count, sample = k % count;
    return evaluation_terms<Act, Head>(s, params + r * size_t(s.params), X + sample * size_t(s.widths[0]),
                                       Y + sample * size_t(s.widths[s.layers]));
  }
};

// Where network r's pairs begin (and network r − 1's end): r·count.
struct SegmentOffset {
  size_t count;
  __host__ __device__ size_t operator()(size_t r) const { return r * count; }
};

struct AddTerms {
  __host__ __device__ EvaluationTerms operator()(const EvaluationTerms& a, const EvaluationTerms& b) const {
    return a + b;
  }
};

template <class Act, class Head>
cudaError_t reduce_instance(const FusedShape& s, size_t networks, const float* params, const float* X, const float* Y,
                            size_t count, EvaluationTerms* sums, void* temp, size_t& temp_bytes, cudaStream_t stream) {
  const thrust::counting_iterator<size_t> pairs(0);
  const auto terms = thrust::make_transform_iterator(pairs, PairTerms<Act, Head>{s, params, X, Y, count});
  const auto offsets = thrust::make_transform_iterator(pairs, SegmentOffset{count});
  return cub::DeviceSegmentedReduce::Reduce(temp, temp_bytes, terms, sums, int64_t(networks), offsets, offsets + 1,
                                            AddTerms{}, EvaluationTerms{}, stream);
}

}  // namespace

cudaError_t launch_evaluate_networks(const FusedShape& s, Activation hidden, Loss loss, Activation output,
                                     size_t networks, const float* params, const float* X, const float* Y,
                                     size_t count, EvaluationTerms* sums, void* temp, size_t& temp_bytes,
                                     cudaStream_t stream) {
  cudaError_t status = cudaSuccess;
  with_evaluation_policies(hidden, loss, output, [&](auto act, auto head) {
    status = reduce_instance<decltype(act), decltype(head)>(s, networks, params, X, Y, count, sums, temp, temp_bytes,
                                                            stream);
  });
  return status;
}

}  // namespace sigtrain::kernels
