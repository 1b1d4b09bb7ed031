#include "backends/choose.h"

#include "backends/cuda/fused_host.h"
#include "util/errors.h"

namespace sigtrain {

namespace {

CudaKernel choose_cuda_kernel(const NetworkSpec& spec, const BackendOptions& options) {
  FusedShape shape;
  std::string why_not;
  const bool fits = make_fused_shape(spec, shape, &why_not);
  if (options.kernel == "fused") {
    if (!fits) throw UsageError("--kernel fused: " + why_not);
    return CudaKernel::fused;
  }
  const bool plain = !options.tf32 && options.device_data_limit == 0;
  return options.kernel == "auto" && fits && plain ? CudaKernel::fused : CudaKernel::cublas;
}

}  // namespace

BackendChoice choose_backend(const std::string& name, const NetworkSpec& spec, const BackendOptions& options) {
  if (name == "reference") return {BackendKind::reference, CudaKernel::none};
  if (name == "cpu") return {BackendKind::cpu, CudaKernel::none};
  if (name != "cuda" && name != "auto")
    throw UsageError("unknown backend '" + name + "' (known: auto, reference, cpu, cuda)");
  std::string why_not;
  if (cuda_backend_available(&why_not)) return {BackendKind::cuda, choose_cuda_kernel(spec, options)};
  if (name == "auto") return {BackendKind::cpu, CudaKernel::none};
  throw InputError("--backend cuda: " + why_not);
}

}  // namespace sigtrain
