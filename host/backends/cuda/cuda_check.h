// Every CUDA runtime and cuBLAS call, and every launcher of kernels/ (which return the launch's
// cudaError_t), is checked; a failure throws CudaError (exit 1) whose one-line message names the file,
// the line, the call and the error (DESIGN.md §6).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>

#include "util/errors.h"

namespace sigtrain {

struct CudaError : InputError {
  using InputError::InputError;
};

[[noreturn]] void throw_cuda_error(const char* file, int line, const char* call, cudaError_t error);
[[noreturn]] void throw_cublas_error(const char* file, int line, const char* call, cublasStatus_t status);
// "out of device memory: asked for 12 MiB for the activations (3 MiB free of 80 GiB)"; clears the error.
[[noreturn]] void throw_out_of_device_memory(size_t bytes, const char* what);

}  // namespace sigtrain

#define CUDA_CHECK(call)                                                                    \
  do {                                                                                      \
    const cudaError_t sigtrain_cuda_status_ = (call);                                       \
    if (sigtrain_cuda_status_ != cudaSuccess)                                               \
      ::sigtrain::throw_cuda_error(__FILE__, __LINE__, #call, sigtrain_cuda_status_);        \
  } while (0)

#define CUBLAS_CHECK(call)                                                                  \
  do {                                                                                      \
    const cublasStatus_t sigtrain_cublas_status_ = (call);                                  \
    if (sigtrain_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                   \
      ::sigtrain::throw_cublas_error(__FILE__, __LINE__, #call, sigtrain_cublas_status_);    \
  } while (0)
