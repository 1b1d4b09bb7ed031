#include "backends/choose.h"

#include <algorithm>
#include <cctype>

#include "backends/cuda/fused_host.h"
#include "util/errors.h"

namespace sigtrain {

namespace {

// The rules of auto, fitted to the first device check (H200 beside its host's 16 cores, commit
// 607bec7: bench/results/device-2026-11-30-h200/ and issue 9's table). A step's work is
// W = 6 · P · B · networks FLOPs (forward, backward and gradient: about 2P each per sample).
//
// cpu or cuda: per step, cpu-all took 3.3 µs at W = 27.6 k (2-3-3-1, B = 256) and 17.6 µs at 442 k
// (B = 4096); the fused kernel 7.2 µs and 15.0 µs. Power laws through those points (cpu ∝ W^0.60,
// gpu ∝ W^0.26) cross at W ≈ 2.8e5: below it the CPU wins (2.2× at B = 256; 11× on the default run,
// batch 8: 0.044 s against 0.48 s), above it the GPU (1.17× at B = 4096; far more for wide networks
// and for many networks at once).
constexpr double kGpuMinFlopsPerStep = 2.8e5;
// fused or cuBLAS (one network): the fused step took 7.2 µs at P = 18 (2-3-3-1) and 243 µs at
// P = 4,288 (2-64-64-1), the cuBLAS path 40–46 µs at either (launch-bound). The fused time grows as
// P^0.64 between them, so the two cross at P ≈ 256: fused up to that, cuBLAS above. Many networks
// at once always take the fused kernel where they fit: it trains them all in the same launches.
constexpr int kFusedMaxParameters = 256;

double flops_per_step(const NetworkSpec& spec, const BackendOptions& options) {
  return 6.0 * double(spec.parameter_count()) * double(options.batch) * double(options.networks);
}

CudaKernel choose_cuda_kernel(const NetworkSpec& spec, const BackendOptions& options) {
  FusedShape shape;
  std::string why_not;
  const bool fits = make_fused_shape(spec, shape, &why_not);
  if (options.kernel == "fused") {
    if (!fits) throw UsageError("--kernel fused: " + why_not);
    return CudaKernel::fused;
  }
  const bool plain = !options.tf32 && options.device_data_limit == 0;
  return options.kernel == "auto" && fits && plain && fused_pays_off(spec, options) ? CudaKernel::fused
                                                                                     : CudaKernel::cublas;
}

}  // namespace

bool gpu_pays_off(const NetworkSpec& spec, const BackendOptions& options) {
  return options.batch == 0 || flops_per_step(spec, options) >= kGpuMinFlopsPerStep;
}

bool fused_pays_off(const NetworkSpec& spec, const BackendOptions& options) {
  return options.batch == 0 || options.networks > 1 || spec.parameter_count() <= kFusedMaxParameters;
}

BackendChoice choose_backend_for(const std::string& name, const NetworkSpec& spec, const BackendOptions& options,
                                 bool device_usable, const std::string& why_not, bool device_present) {
  check_backend_limits({0, options.batch, options.networks});
  if (name == "reference") return {BackendKind::reference, CudaKernel::none, ""};
  if (name == "cpu") return {BackendKind::cpu, CudaKernel::none, ""};
  if (name != "cuda" && name != "auto")
    throw UsageError("unknown backend '" + name + "' (known: auto, reference, cpu, cuda)");
  if (name == "auto" && !device_usable)
    return {BackendKind::cpu, CudaKernel::none, device_present ? "--backend auto: " + why_not + "; using the cpu" : ""};
  if (name == "auto" && !gpu_pays_off(spec, options)) return {BackendKind::cpu, CudaKernel::none, ""};
  if (!device_usable) throw InputError("--backend cuda: " + why_not);
  return {BackendKind::cuda, choose_cuda_kernel(spec, options), ""};
}

BackendChoice choose_backend(const std::string& name, const NetworkSpec& spec, const BackendOptions& options) {
  std::string why_not;
  bool device_present = false;
  const bool device_usable = (name == "cuda" || name == "auto") && cuda_backend_available(&why_not, &device_present);
  return choose_backend_for(name, spec, options, device_usable, why_not, device_present);
}

namespace {

// "90" → "9.0", "100a-real" → "10.0a" (CMake's architecture names: digits, a suffix, -real/-virtual);
// names without digits ("native", "all") as they are.
std::string capability_of_architecture(const std::string& architecture) {
  const std::string name = architecture.substr(0, architecture.find('-'));
  size_t digits = 0;
  while (digits < name.size() && std::isdigit(static_cast<unsigned char>(name[digits]))) ++digits;
  if (digits < 2) return name;
  return name.substr(0, digits - 1) + "." + name.substr(digits - 1);
}

std::string capabilities_of(const std::string& built_for) {
  std::string list;
  size_t start = 0;
  while (start <= built_for.size()) {
    const size_t comma = std::min(built_for.find(',', start), built_for.size());
    if (comma > start)
      list += (list.empty() ? "" : ", ") + capability_of_architecture(built_for.substr(start, comma - start));
    start = comma + 1;
  }
  return list.empty() ? "no GPU" : list;
}

}  // namespace

std::string cuda_code_missing_reason(int major, int minor, bool has_code, const std::string& built_for) {
  if (has_code) return "";
  const std::string found = std::to_string(major) + "." + std::to_string(minor);
  const std::string how = major >= 9
                              ? "build with -DCMAKE_CUDA_ARCHITECTURES=" + std::to_string(major * 10 + minor)
                              : "the cuda backend needs 9.0 or later: the fused kernel uses thread-block clusters";
  return "the GPU is compute capability " + found + "; this build has code for " + capabilities_of(built_for) + " (" +
         how + ")";
}

}  // namespace sigtrain
