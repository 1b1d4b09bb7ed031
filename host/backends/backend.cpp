#include "backends/backend.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "backends/choose.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/reference/reference_backend.h"
#include "model/choices.h"
#include "util/errors.h"

#ifdef SIGTRAIN_HAVE_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace sigtrain {

void Backend::train_steps(size_t first, size_t end, size_t batch, double lr) {
  for (size_t step = first; step < end; step += batch) train_step(step, std::min(batch, end - step), lr);
}

void Backend::data_parallel_step(const Batch&, size_t, double, DeviceRankSum&) {
  throw std::logic_error("the " + name() + " backend keeps no sums on a device (steps_with_device_sums)");
}

Backend::Backend(const NetworkSpec& spec, const TrainingSetup& setup) : spec_(spec), setup_(setup) {
  check_head(setup.loss, spec.output);
}

namespace {

// Z_L and Ŷ for `count` samples whose inputs x are in the data's units: the inputs standardised (into
// `scratch`), Z_L from predict_logits, Ŷ its output activation with the targets' standardisation undone.
// yhat may be z itself.
void logits_and_outputs(const PredictLogits& predict_logits, Activation output, const Standardization* standardization,
                        const float* x, size_t count, int outputs, std::vector<float>& scratch, double* z,
                        double* yhat) {
  if (standardization && standardization->inputs()) {
    standardization->apply_inputs(x, count, scratch);
    x = scratch.data();
  }
  predict_logits(x, count, z);
  with_activation(output, [&](auto out) {
    for (size_t k = 0; k < count * size_t(outputs); ++k) yhat[k] = out.forward(z[k]);
  });
  if (standardization && standardization->targets()) standardization->invert_targets(yhat, count);
}

}  // namespace

void predict_outputs(Backend& backend, const Standardization& standardization, const float* x, size_t count,
                     double* yhat) {
  std::vector<float> scratch;
  logits_and_outputs([&](const float* in, size_t n, double* z) { backend.predict_logits(in, n, z); },
                     backend.spec().output, &standardization, x, count, backend.spec().outputs(), scratch, yhat, yhat);
}

Evaluation evaluate(const Dataset& d, const NetworkSpec& spec, Loss loss, const PredictLogits& predict_logits,
                    const Standardization* standardization) {
  Evaluation e;
  if (d.size == 0) return e;
  // In chunks, so that a large data set never needs a second full-size copy of its predictions.
  constexpr size_t kChunk = 65536;
  const int nL = d.outputs;
  // With standardised targets the logits are not in the targets' units: the loss is then the MSE.
  const bool loss_from_logits = !(standardization && standardization->targets());
  std::vector<double> z(std::min(d.size, kChunk) * nL), yhat(z.size());
  std::vector<float> scratch;
  double loss_sum = 0.0, squared_sum = 0.0;
  with_head(loss, spec.output, [&](auto head) {
    for (size_t start = 0; start < d.size; start += kChunk) {
      const size_t count = std::min(kChunk, d.size - start);
      logits_and_outputs(predict_logits, spec.output, standardization, d.x_of(start), count, nL, scratch, z.data(),
                         yhat.data());
      const float* y = d.y_of(start);
      for (size_t k = 0; k < count * nL; ++k) {
        const double residual = yhat[k] - double(y[k]);
        squared_sum += residual * residual;
        loss_sum += loss_from_logits ? head.value(z[k], double(y[k])) : residual * residual;
      }
    }
  });
  e.loss = loss_sum / double(d.size);
  e.mse = squared_sum / double(d.size);
  return e;
}

Evaluation Backend::evaluate(const Dataset& d) {
  return sigtrain::evaluate(d, spec_, setup_.loss,
                            [this](const float* x, size_t count, double* z) { predict_logits(x, count, z); });
}

void check_backend_limits(const RunSizes& sizes) {
  if (sizes.batch > kMaxBatch)
    throw UsageError("--batch " + std::to_string(sizes.batch) + " is larger than the " + std::to_string(kMaxBatch) +
                     " samples a step can take");
  if (sizes.networks > kMaxNetworksAtOnce)
    throw UsageError(std::to_string(sizes.networks) + " networks at once: at most " +
                     std::to_string(kMaxNetworksAtOnce) + " train together (--replicas, --sweep)");
  if (sizes.training_rows > kMaxTrainingRows)
    throw InputError("the training set has " + std::to_string(sizes.training_rows) + " rows; at most " +
                     std::to_string(kMaxTrainingRows) +
                     " can be trained on (an epoch's order numbers rows in 32 bits)");
}

const std::vector<std::string>& backend_names() {
  static const std::vector<std::string> names = {"auto", "reference", "cpu", "cuda"};
  return names;
}

bool cuda_backend_available(std::string* why_not, bool* device_present) {
#ifdef SIGTRAIN_HAVE_CUDA
  return cuda_device_usable(why_not, device_present);
#else
  if (why_not) *why_not = "this sigtrain was built without CUDA (nvcc was not found at build time)";
  if (device_present) *device_present = false;
  return false;
#endif
}

void use_cuda_device_of_rank(int local_rank) {
#ifdef SIGTRAIN_HAVE_CUDA
  use_cuda_device_for_rank(local_rank);
#else
  (void)local_rank;
#endif
}

int cuda_device_count() {
#ifdef SIGTRAIN_HAVE_CUDA
  return cuda_devices();
#else
  return 0;
#endif
}

namespace {

// A choice's note goes to stderr once per process, however many backends a run makes (replicas).
void print_note_once(const std::string& note) {
  static std::atomic<bool> printed{false};
  if (!note.empty() && !printed.exchange(true)) std::fprintf(stderr, "sigtrain: %s\n", note.c_str());
}

}  // namespace

std::unique_ptr<Backend> make_backend(const std::string& name, const NetworkSpec& spec, const TrainingSetup& setup,
                                      const BackendOptions& options) {
  const BackendChoice choice = choose_backend(name, spec, options);
  print_note_once(choice.note);
  switch (choice.backend) {
    case BackendKind::reference:
      return std::make_unique<ReferenceBackend>(spec, setup);
    case BackendKind::cpu: {
      const int threads =
          options.threads > 0 ? options.threads : int(std::max(1u, std::thread::hardware_concurrency()));
      return std::make_unique<CpuBackend>(spec, setup, threads);
    }
    case BackendKind::cuda:
#ifdef SIGTRAIN_HAVE_CUDA
      return make_cuda_backend(spec, setup, options, choice.kernel);
#else
      break;  // choose_backend picks cuda only where the build has it
#endif
  }
  throw std::logic_error("make_backend: no backend for '" + name + "'");
}

}  // namespace sigtrain
