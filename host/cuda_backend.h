// The cuda backend's entry points (the class lives in kernels/cuda_backend.cu). This header needs no
// CUDA headers: host code includes it only where the build has CUDA (SIGTRAIN_HAVE_CUDA).
#pragma once

#include <memory>
#include <string>

#include "backend.h"

namespace sigtrain {

// True when a CUDA device can be used; otherwise why not, in one line.
bool cuda_device_usable(std::string* why_not);
std::unique_ptr<Backend> make_cuda_backend(const NetworkSpec& spec, const BackendOptions& options);

}  // namespace sigtrain
