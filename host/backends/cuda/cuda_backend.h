// The cuda backend's entry points (host/backends/cuda/*.cpp, built where CUDA is): the cuBLAS path
// (cublas_backend.h) and the fused kernel (fused_networks.h). This header needs no CUDA headers: host
// code includes it only where the build has CUDA (SIGTRAIN_HAVE_CUDA).
#pragma once

#include <memory>
#include <string>

#include "backends/backend.h"
#include "backends/choose.h"

namespace sigtrain {

// True when a CUDA device can be used; otherwise why not, in one line, and whether a device is
// present all the same (one this build has no code for: cuda_code_missing_reason, choose.h).
// (It first makes the process's device, where use_cuda_device_for_rank set one, this thread's.)
bool cuda_device_usable(std::string* why_not, bool* device_present = nullptr);
// use_cuda_device_of_rank (backend.h) where CUDA is built.
void use_cuda_device_for_rank(int local_rank);
// cuda_device_count (backend.h) where CUDA is built.
int cuda_devices();
// The current device's name ("" where it cannot be read), for the backends' descriptions.
std::string cuda_device_name();

// The cuda backend on `kernel` (cublas or fused), as choose_backend chose it.
std::unique_ptr<Backend> make_cuda_backend(const NetworkSpec& spec, const TrainingSetup& setup,
                                           const BackendOptions& options, CudaKernel kernel);

}  // namespace sigtrain
