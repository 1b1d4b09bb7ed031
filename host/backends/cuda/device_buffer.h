// The CUDA resources of the host-side classes, each with one owner: device memory (DeviceBuffer),
// page-locked host memory (PinnedBuffer), and the runtime's and cuBLAS's handles (CudaStream,
// CudaEvent, CudaGraph, CudaGraphExec, CublasHandle). Each frees what it holds exactly once, when it is
// destroyed or replaced, also when an exception leaves a constructor half done; none throws then.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include "backends/cuda/cuda_check.h"

namespace sigtrain {

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { release(); }

  // `count` values, uninitialised, in place of the old ones (0: none). Running out of device memory
  // throws CudaError naming `what` and the size asked for; the buffer is then empty.
  void allocate(size_t count, const char* what) {
    release();
    if (count == 0) return;
    T* data = nullptr;
    const cudaError_t error = cudaMalloc(reinterpret_cast<void**>(&data), count * sizeof(T));
    if (error == cudaErrorMemoryAllocation) throw_out_of_device_memory(count * sizeof(T), what);
    CUDA_CHECK(error);
    data_ = data;
    count_ = count;
  }
  // Grows to at least `count` values (the contents are lost when it grows).
  void reserve(size_t count, const char* what) {
    if (count > count_) allocate(count, what);
  }

  T* get() const { return data_; }
  size_t size() const { return count_; }

 private:
  void release() {
    if (data_) cudaFree(data_);  // no throwing: this may run while an error is on its way out
    data_ = nullptr;
    count_ = 0;
  }

  T* data_ = nullptr;
  size_t count_ = 0;
};

// Page-locked host memory, so that copies from it run asynchronously and overlap compute.
class PinnedBuffer {
 public:
  // `count` floats (at least one) in place of the old ones; empty again when the allocation throws.
  void allocate(size_t count) {
    data_.reset();
    float* data = nullptr;
    CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&data), std::max<size_t>(count, 1) * sizeof(float)));
    data_.reset(data);
  }
  float* get() const { return data_.get(); }

 private:
  struct FreeHost {
    void operator()(float* p) const { cudaFreeHost(p); }
  };
  std::unique_ptr<float, FreeHost> data_;
};

// An owned handle of the CUDA runtime or cuBLAS (they are all pointers), destroyed by `Destroy`.
template <auto Destroy>
struct HandleDestroyer {
  template <class Pointer>
  void operator()(Pointer handle) const {
    Destroy(handle);  // no throwing: this may run while an error is on its way out
  }
};
template <class Handle, auto Destroy>
using UniqueHandle = std::unique_ptr<std::remove_pointer_t<Handle>, HandleDestroyer<Destroy>>;

// A stream is waited for before it is destroyed: work still queued on it may use the memory its
// owner frees next.
inline cudaError_t wait_and_destroy_stream(cudaStream_t stream) {
  cudaStreamSynchronize(stream);
  return cudaStreamDestroy(stream);
}

using CudaStream = UniqueHandle<cudaStream_t, wait_and_destroy_stream>;
using CudaEvent = UniqueHandle<cudaEvent_t, cudaEventDestroy>;
using CudaGraph = UniqueHandle<cudaGraph_t, cudaGraphDestroy>;
using CudaGraphExec = UniqueHandle<cudaGraphExec_t, cudaGraphExecDestroy>;
using CublasHandle = UniqueHandle<cublasHandle_t, cublasDestroy>;

// A stream that does not synchronise with the legacy default stream.
inline CudaStream make_cuda_stream() {
  cudaStream_t stream = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  return CudaStream(stream);
}

// An event for ordering only (no timing).
inline CudaEvent make_cuda_event() {
  cudaEvent_t event = nullptr;
  CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  return CudaEvent(event);
}

inline CublasHandle make_cublas_handle() {
  cublasHandle_t handle = nullptr;
  CUBLAS_CHECK(cublasCreate(&handle));
  return CublasHandle(handle);
}

}  // namespace sigtrain
