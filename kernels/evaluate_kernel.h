// The evaluation of many networks of one shape on one device-resident data set in one go
// (kernels/evaluate_kernel.cu): every network's loss and squared-error sums over every sample,
// from evaluation_terms (kernels/evaluate_terms.h). Host code calls it through this header, which
// needs no CUDA compiler; the launcher enqueues on `stream`, returns at once, and returns the
// launch's error (cudaSuccess when it went).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "evaluate_terms.h"
#include "fused_step.h"

namespace sigtrain::kernels {

// sums[r] = Σ_s evaluation_terms of network r (parameters at params + r·P) on sample s, for s in
// [0, count) of X (n_0 × count) and Y (n_L × count), r in [0, networks); all in device memory.
// One block sums one network's samples, each thread its own fixed subset in order and then a fixed
// tree over the block's threads (CUB's segmented reduction), so the sums are the same bits run to run.
// In CUB's two calls: with temp == nullptr, only temp_bytes is set (the scratch the launch needs);
// then with temp_bytes of device memory at temp, the launch.
cudaError_t launch_evaluate_networks(const FusedShape& s, Activation hidden, Loss loss, Activation output,
                                     size_t networks, const float* params, const float* X, const float* Y,
                                     size_t count, EvaluationTerms* sums, void* temp, size_t& temp_bytes,
                                     cudaStream_t stream);

}  // namespace sigtrain::kernels
