// A network's parameters and its optimizer's state between the host (fp64, Parameters and
// OptimizerState) and device memory (fp32), the same way for every host-side CUDA class (the cuBLAS
// path's one network, FusedNetworks' network r). Each copy waits for the stream: the caller may reuse
// or read the host values at once.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "model/model.h"
#include "model/network.h"

namespace sigtrain {

// θ (spec.parameter_count() floats at `device`), checked against `spec`.
inline void upload_parameters(const Parameters& p, const NetworkSpec& spec, float* device, cudaStream_t stream) {
  p.check_spec(spec);
  const std::vector<float> values = p.to_float();
  CUDA_CHECK(cudaMemcpyAsync(device, values.data(), values.size() * sizeof(float), cudaMemcpyHostToDevice, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

inline Parameters download_parameters(const NetworkSpec& spec, const float* device, cudaStream_t stream) {
  std::vector<float> values(spec.parameter_count());
  CUDA_CHECK(cudaMemcpyAsync(values.data(), device, values.size() * sizeof(float), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return Parameters::from_float(spec, values.data());
}

// The state's `floats` values at `values` (none for plain SGD) and its step count t at `steps`;
// checked against `kind` on P parameters.
inline void upload_optimizer_state(const OptimizerState& state, OptimizerKind kind, size_t P, float* values,
                                   size_t floats, uint64_t* steps, cudaStream_t stream) {
  check_optimizer_state(state, kind, P);
  const std::vector<float> fp32 = state.to_float(floats);
  if (!fp32.empty())
    CUDA_CHECK(cudaMemcpyAsync(values, fp32.data(), fp32.size() * sizeof(float), cudaMemcpyHostToDevice, stream));
  CUDA_CHECK(cudaMemcpyAsync(steps, &state.steps, sizeof(uint64_t), cudaMemcpyHostToDevice, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

inline OptimizerState download_optimizer_state(const float* values, size_t floats, const uint64_t* steps,
                                               cudaStream_t stream) {
  std::vector<float> fp32(floats);
  uint64_t t = 0;
  if (!fp32.empty())
    CUDA_CHECK(cudaMemcpyAsync(fp32.data(), values, floats * sizeof(float), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaMemcpyAsync(&t, steps, sizeof(uint64_t), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return OptimizerState::from_float(t, fp32);
}

}  // namespace sigtrain
