#include "train/memory_estimate.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "util/errors.h"
#include "util/file_util.h"

#ifdef SIGTRAIN_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace sigtrain {

namespace {

constexpr double kFloat = sizeof(float), kDouble = sizeof(double);
// The cuBLAS path's fixed device buffers: the workspace given to cuBLAS (cublas_backend.cpp).
constexpr double kCublasWorkspaceBytes = 32 << 20;
// The evaluation's chunk of predictions (backend.cpp evaluate): z and ŷ in fp64.
constexpr double kEvaluationChunk = 65536;

// Floats one sample column of a batch takes in the backends' workspaces: A_0 … A_L, Y, Δ_l, Δ_{l-1}
// (the cpu backend's layout, and the cuBLAS path's A_, Y_batch_, delta_, dA_).
double column_floats(const NetworkSpec& spec) { return double(CpuBackend::workspace_floats_per_column(spec)); }

// The reference backend's buffers (reference.h): parameters, gradient and state in fp64, the batch's
// activations and deltas in fp64.
double reference_bytes(const RunMemoryShape& s) {
  const double P = double(s.spec.parameter_count());
  return kDouble * P * double(2 + s.optimizer_slots) + kDouble * column_floats(s.spec) * double(s.batch);
}

// One cuBLAS backend's device buffers beside the training data: parameters, gradients, state, the
// cuBLAS workspace, a batch's activations and deltas.
double cublas_device_bytes(const RunMemoryShape& s) {
  const double P = double(s.spec.parameter_count());
  return kFloat * P * double(2 + s.optimizer_slots) + kCublasWorkspaceBytes +
         kFloat * column_floats(s.spec) * double(s.batch);
}

// "1.5 GiB", "312 MiB", "20 KiB".
std::string amount(double bytes, double unit, const char* name, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f %s", decimals, bytes / unit, name);
  return text;
}

// The largest parts of the host's need, for the message: "data 33.5 GiB, parameters 14.8 GiB".
std::string host_parts(const MemoryNeeds& n) {
  std::vector<std::pair<double, std::string>> parts = {
      {n.data, "data"}, {n.parameters, "parameters"}, {n.backend, "backend buffers"}, {n.model_text, "model file text"}};
  std::sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string text;
  for (const auto& [bytes, name] : parts)
    if (bytes >= 0.1 * n.host()) text += (text.empty() ? "" : ", ") + name + " " + format_bytes(bytes);
  return text;
}

// A "key value kB" line of /proc/meminfo, in bytes; < 0 when absent.
double meminfo_bytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string name, unit;
  double value = 0;
  while (in >> name >> value) {
    std::getline(in, unit);
    if (name == key + ":") return value * 1024.0;
  }
  return -1;
}

// A number from a cgroup file ("max" or absent: < 0).
double cgroup_number(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return -1;
  try {
    return std::stod(text);
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace

std::string format_bytes(double bytes) {
  constexpr double KiB = 1024.0, MiB = KiB * 1024, GiB = MiB * 1024;
  if (bytes >= GiB) return amount(bytes, GiB, "GiB", 1);
  if (bytes >= MiB) return amount(bytes, MiB, "MiB", 0);
  return amount(bytes, KiB, "KiB", 0);
}

MemoryNeeds estimate_memory(const RunMemoryShape& s) {
  MemoryNeeds n;
  const double P = double(s.spec.parameter_count()), slots = double(s.optimizer_slots);
  const double networks = double(std::max<size_t>(s.networks, 1));
  const double at_once = std::min(networks, double(std::max<size_t>(s.at_once, 1)));
  const bool fused = s.backend == EstimatedBackend::cuda_fused;
  const size_t training_rows = s.rows - std::min(s.rows, s.validation_rows);

  // The data: the file's text while it is read, the set, its training and validation parts (both live
  // while the plan is made), and a standardised copy of them.
  const double set = kFloat * double(s.rows) * double(s.spec.inputs() + s.spec.outputs());
  n.data = double(s.file_bytes) + set * (s.standardized ? 3 : 2);

  // The parameters and optimizer state in fp64: per network in training, the model it starts from, the
  // one it keeps (last finite or best) and each epoch's snapshot (trainer.cpp); a single run's start is
  // its own. Replicas add the model the run starts from and each finished network's result. The fused
  // kernel trains every network at once.
  const double model = kDouble * P * (1 + slots);
  const double in_training = fused ? networks : at_once;
  n.parameters = model * 3 * in_training + (networks > 1 ? model * (1 + networks) : 0);
  // A checkpointed run (single runs only) also keeps its last finished epoch's parameters and state and
  // its kept model: 3 models more measured (2-2000-2000-1, adam: 604 MB peak against 295 MB without);
  // a resumed one holds the checkpoint it read, 2 models, through the run.
  n.parameters += model * ((s.checkpoints ? 3 : 0) + (s.resumes ? 2 : 0));

  // The backend's buffers, per network in training (host replicas: one backend each).
  const size_t prediction = s.validation_rows > 0 ? s.validation_rows : s.batch;
  switch (s.backend) {
    case EstimatedBackend::cpu:
      n.backend = at_once * CpuBackend::estimated_bytes(s.spec, s.optimizer_slots, s.batch, prediction, s.threads,
                                                        training_rows);
      break;
    case EstimatedBackend::reference:
      n.backend = at_once * reference_bytes(s);
      break;
    case EstimatedBackend::cuda_cublas:
      n.device = at_once * cublas_device_bytes(s);  // the data streams where it does not fit
      break;
    case EstimatedBackend::cuda_fused:
      n.device = kFloat * P * (1 + slots) * networks + set;  // the training and validation sets resident
      break;
  }
  n.backend += kDouble * 2 * kEvaluationChunk * double(s.spec.outputs());
  // The model file's text: streamed to the file as it is formed (model_file.cpp write_model), so a save
  // holds one block of it, whatever the model's size (util/file_util.h).
  if (s.saves) n.model_text = double(kWriteBlockBytes);
  return n;
}

std::string memory_shortfall(const MemoryNeeds& needs, const AvailableMemory& available) {
  if (available.host >= 0 && needs.host() > available.host)
    return "needs " + format_bytes(needs.host()) + " of memory, " + format_bytes(available.host) + " available (" +
           host_parts(needs) + ")";
  if (available.device >= 0 && needs.device > available.device)
    return "needs " + format_bytes(needs.device) + " of device memory, " + format_bytes(available.device) +
           " available";
  return "";
}

AvailableMemory available_memory(bool device) {
  AvailableMemory a;
  a.host = meminfo_bytes("MemAvailable");
  if (a.host < 0) {
    const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) a.host = double(pages) * double(page);
  }
  const double limit = cgroup_number("/sys/fs/cgroup/memory.max");
  const double used = cgroup_number("/sys/fs/cgroup/memory.current");
  if (limit >= 0 && used >= 0 && (a.host < 0 || limit - used < a.host)) a.host = std::max(0.0, limit - used);
#ifdef SIGTRAIN_HAVE_CUDA
  size_t free_bytes = 0, total_bytes = 0;
  if (device && cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) a.device = double(free_bytes);
  cudaGetLastError();  // a failed query is not the next CUDA call's error
#else
  (void)device;
#endif
  return a;
}

size_t replica_data_allowance(size_t free_device_bytes, size_t at_once, size_t buffers_per_replica) {
  const size_t replicas = std::max<size_t>(at_once, 1);
  const double buffers = double(buffers_per_replica) * double(replicas);
  if (buffers > double(free_device_bytes))
    throw InputError("needs " + format_bytes(buffers) + " of device memory, " + format_bytes(double(free_device_bytes)) +
                     " available (" + std::to_string(replicas) + " replicas at once on the cuBLAS path; give fewer --threads)");
  const size_t share = (free_device_bytes - size_t(buffers)) / replicas;
  return std::max<size_t>(share / 10 * 8, 1);
}

}  // namespace sigtrain
