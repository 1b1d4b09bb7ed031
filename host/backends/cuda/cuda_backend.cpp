#include "backends/cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <stdexcept>

#include "backends/cuda/cublas_backend.h"
#include "backends/cuda/fused_networks.h"

namespace sigtrain {

bool cuda_device_usable(std::string* why_not) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error == cudaSuccess && count > 0) return true;
  cudaGetLastError();  // clear the error of the failed query
  if (why_not) {
    if (error == cudaSuccess || error == cudaErrorNoDevice)
      *why_not = "no CUDA device found";
    else if (error == cudaErrorInsufficientDriver)
      *why_not = "no CUDA device usable: no NVIDIA driver, or one too old for this CUDA runtime";
    else
      *why_not = std::string("no CUDA device usable: ") + cudaGetErrorString(error);
  }
  return false;
}

std::string cuda_device_name() {
  int device = 0;
  cudaDeviceProp properties{};
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&properties, device) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return properties.name;
}

std::unique_ptr<Backend> make_cuda_backend(const NetworkSpec& spec, const TrainingSetup& setup,
                                           const BackendOptions& options, CudaKernel kernel) {
  switch (kernel) {
    case CudaKernel::fused:
      return std::make_unique<FusedCudaBackend>(spec, setup);
    case CudaKernel::cublas:
      return std::make_unique<CublasBackend>(spec, setup, options);
    case CudaKernel::none:
      break;
  }
  throw std::logic_error("make_cuda_backend needs a kernel (choose_backend)");
}

}  // namespace sigtrain
