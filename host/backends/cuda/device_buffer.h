// Device memory with one owner: every host-side CUDA class keeps its device arrays in these.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
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
  // throws CudaError naming `what` and the size asked for.
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

}  // namespace sigtrain
