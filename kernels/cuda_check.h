// Every CUDA runtime and cuBLAS call is checked; a failure throws CudaError (exit 1) whose one-line
// message names the file, the line, the call and the error (DESIGN.md §6).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "util/errors.h"

namespace sigtrain {

struct CudaError : InputError {
  using InputError::InputError;
};

[[noreturn]] void throw_cuda_error(const char* file, int line, const char* call, cudaError_t error);
[[noreturn]] void throw_cublas_error(const char* file, int line, const char* call, cublasStatus_t status);

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

// A kernel launch reports configuration errors through cudaGetLastError.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
