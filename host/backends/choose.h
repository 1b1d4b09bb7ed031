// Which backend, and on the GPU which kernel, a run gets: the one place that decides. make_backend,
// make_cuda_backend (through make_backend) and train_replicas all follow it.
#pragma once

#include <string>

#include "backends/backend.h"

namespace sigtrain {

enum class BackendKind { reference, cpu, cuda };
enum class CudaKernel { none, cublas, fused };  // none: not the cuda backend

struct BackendChoice {
  BackendKind backend = BackendKind::cpu;
  CudaKernel kernel = CudaKernel::none;
  std::string note;  // for stderr, once: why auto took the cpu where a GPU is present ("" otherwise)
};

// --backend `name` with the settings in `options`, for a network of `spec`:
//   auto       cuda where a CUDA device is usable and the run's steps are big enough for the GPU to
//              win (gpu_pays_off below), else cpu
//   cuda       cuda, or InputError ("--backend cuda: " and why not) where no device is usable
//   reference, cpu  themselves
// and on cuda, options.kernel: "fused" (UsageError when the network does not fit the fused kernel),
// "cublas", or "auto": fused where the network fits, neither TF32 nor a device data limit is asked
// for (the fused kernel has neither: they need the cuBLAS path, which has TF32 GEMMs and streams),
// and fused_pays_off. Many networks of one shape follow the same rule: on the fused kernel they train
// in the same launches (FusedNetworks), elsewhere one backend each. UsageError for an unknown name.
BackendChoice choose_backend(const std::string& name, const NetworkSpec& spec, const BackendOptions& options);
// The same decision for a machine where a device is usable or not (why_not: the reason it is not).
// device_present: a GPU is there but unusable (no code for it in this build): auto then says so in
// the choice's note.
BackendChoice choose_backend_for(const std::string& name, const NetworkSpec& spec, const BackendOptions& options,
                                 bool device_usable, const std::string& why_not = "", bool device_present = false);

// Whether this build can run on a GPU of compute capability major.minor: "" where it can (has_code:
// the runtime loaded one of the build's kernels on it), else why, in one line, naming the capability
// found and the ones built for (built_for: CMake's CUDA_ARCHITECTURES, comma-separated: "90",
// "90-real,100a"). The fused kernel's thread-block clusters need 9.0 or later.
std::string cuda_code_missing_reason(int major, int minor, bool has_code, const std::string& built_for);

// The rules auto follows, from the measurements of the device check (choose.cpp says which). Where
// options.batch is 0 (not known), both say yes: the GPU, and the fused kernel where it fits.
bool gpu_pays_off(const NetworkSpec& spec, const BackendOptions& options);
bool fused_pays_off(const NetworkSpec& spec, const BackendOptions& options);

}  // namespace sigtrain
