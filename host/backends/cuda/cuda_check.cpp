#include "backends/cuda/cuda_check.h"

#include <string>

namespace sigtrain {

namespace {

std::string mebibytes(size_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

}  // namespace

void throw_cuda_error(const char* file, int line, const char* call, cudaError_t error) {
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " + cudaGetErrorName(error) +
                  " (" + cudaGetErrorString(error) + ")");
}

void throw_cublas_error(const char* file, int line, const char* call, cublasStatus_t status) {
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + call +
                  " failed: " + cublasGetStatusName(status) + " (" + cublasGetStatusString(status) + ")");
}

void throw_out_of_device_memory(size_t bytes, const char* what) {
  cudaGetLastError();  // the failed allocation's error is reported here, not by the next check
  size_t free_bytes = 0, total_bytes = 0;
  cudaMemGetInfo(&free_bytes, &total_bytes);
  throw CudaError("out of device memory: asked for " + mebibytes(bytes) + " for " + what + " (" +
                  mebibytes(free_bytes) + " free of " + mebibytes(total_bytes) + ")");
}

}  // namespace sigtrain
