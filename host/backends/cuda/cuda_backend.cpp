#include "backends/cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <atomic>
#include <stdexcept>

#include "backends/cuda/cublas_backend.h"
#include "backends/cuda/fused_networks.h"
#include "step_kernels.h"

namespace sigtrain {

#ifndef SIGTRAIN_CUDA_ARCHITECTURES
#define SIGTRAIN_CUDA_ARCHITECTURES "unknown"  // host/CMakeLists.txt defines it for this file
#endif

namespace {

// Whether the current device runs this build's kernels; if not, why. The runtime is the judge
// (a kernel's attributes load only where the fatbinary has SASS for the device or PTX it can JIT);
// the message names what was found and what was built.
bool current_device_has_code(std::string* why_not) {
  int device = 0, major = 0, minor = 0;
  cudaError_t error = cudaGetDevice(&device);
  if (error == cudaSuccess) error = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  if (error == cudaSuccess) error = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  if (error == cudaSuccess) error = kernels::probe_kernel_image();
  cudaGetLastError();  // clear the error of a failed query
  const bool no_code = error == cudaErrorNoKernelImageForDevice || error == cudaErrorInvalidDeviceFunction;
  if (error == cudaSuccess || no_code) {
    const std::string missing = cuda_code_missing_reason(major, minor, !no_code, SIGTRAIN_CUDA_ARCHITECTURES);
    if (why_not) *why_not = missing;
    return missing.empty();
  }
  if (why_not) *why_not = std::string("no CUDA device usable: ") + cudaGetErrorString(error);
  return false;
}

// The device of this process (one of several ranks on the machine), or −1: the runtime's default.
std::atomic<int> g_process_device{-1};

void enter_process_device() {
  const int device = g_process_device.load();
  if (device >= 0 && cudaSetDevice(device) != cudaSuccess) cudaGetLastError();  // (its calls then fail, named)
}

}  // namespace

int cuda_devices() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the error of the failed query
    return 0;
  }
  return count;
}

void use_cuda_device_for_rank(int local_rank) {
  const int count = cuda_devices();
  if (count == 0) return;
  g_process_device.store(local_rank % count);
  enter_process_device();
}

bool cuda_device_usable(std::string* why_not, bool* device_present) {
  enter_process_device();
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (device_present) *device_present = error == cudaSuccess && count > 0;
  if (error == cudaSuccess && count > 0) return current_device_has_code(why_not);
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
