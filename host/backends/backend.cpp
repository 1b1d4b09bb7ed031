#include "backends/backend.h"

#include <algorithm>
#include <thread>

#include "backends/cpu/cpu_backend.h"
#include "util/errors.h"
#include "backends/reference/reference_backend.h"

#ifdef SIGTRAIN_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace sigtrain {

void Backend::train_steps(size_t first, size_t end, size_t batch, double lr) {
  for (size_t step = first; step < end; step += batch) train_step(step, std::min(batch, end - step), lr);
}

double mean_squared_error(const Dataset& d, const std::function<void(const float*, size_t, double*)>& predict) {
  if (d.size == 0) return 0.0;
  // In chunks, so that a large data set never needs a second full-size copy of its predictions.
  constexpr size_t kChunk = 65536;
  const int nL = d.outputs;
  std::vector<double> yhat(std::min(d.size, kChunk) * nL);
  double total = 0.0;
  for (size_t start = 0; start < d.size; start += kChunk) {
    const size_t count = std::min(kChunk, d.size - start);
    predict(d.x_of(start), count, yhat.data());
    const float* y = d.y_of(start);
    for (size_t k = 0; k < count * nL; ++k) total += (yhat[k] - y[k]) * (yhat[k] - y[k]);
  }
  return total / double(d.size);
}

double Backend::mean_squared_error(const Dataset& d) {
  return sigtrain::mean_squared_error(d, [this](const float* x, size_t count, double* yhat) { predict(x, count, yhat); });
}

const std::vector<std::string>& backend_names() {
  static const std::vector<std::string> names = {"auto", "reference", "cpu", "cuda"};
  return names;
}

bool cuda_backend_available(std::string* why_not) {
#ifdef SIGTRAIN_HAVE_CUDA
  return cuda_device_usable(why_not);
#else
  if (why_not) *why_not = "this sigtrain was built without CUDA (nvcc was not found at build time)";
  return false;
#endif
}

std::unique_ptr<Backend> make_backend(const std::string& name, const NetworkSpec& spec, const BackendOptions& options) {
  const int threads = options.threads > 0 ? options.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  if (name == "reference") return std::make_unique<ReferenceBackend>(spec);
  if (name == "cpu") return std::make_unique<CpuBackend>(spec, threads);
  if (name == "cuda" || name == "auto") {
    std::string why_not;
    if (cuda_backend_available(&why_not)) {
#ifdef SIGTRAIN_HAVE_CUDA
      return make_cuda_backend(spec, options);
#endif
    }
    if (name == "auto") return std::make_unique<CpuBackend>(spec, threads);
    throw InputError("--backend cuda: " + why_not);
  }
  throw UsageError("unknown backend '" + name + "' (known: auto, reference, cpu, cuda)");
}

}  // namespace sigtrain
