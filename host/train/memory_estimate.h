// What a run will need in memory, estimated from its sizes alone before anything large is allocated,
// against the memory there is: a run too large for the machine fails at once with one line ("needs
// 48.3 GiB of memory, 21.7 GiB available") instead of being killed later without a word.
//
// estimate_memory and memory_shortfall are pure (sizes in, bytes out) and unit-tested
// (tests/test_memory_estimate.cpp); available_memory reads the machine. The estimate follows the
// buffers the code allocates, named part by part below; measured against the peak resident set size
// (/usr/bin/time -v) it is within a factor of 1.3 either way (README: numbers in the report of issue 11).
#pragma once

#include <cstddef>
#include <string>

#include "model/network.h"

namespace sigtrain {

enum class EstimatedBackend { reference, cpu, cuda_cublas, cuda_fused };

// The sizes of a run that decide its memory.
struct RunMemoryShape {
  NetworkSpec spec;
  size_t optimizer_slots = 0;   // state values per parameter (sgd 0, momentum 1, adam 2)
  size_t rows = 0;              // rows of the data set, training and validation together
  size_t validation_rows = 0;   // of them held out
  size_t file_bytes = 0;        // the data file's size: the readers hold its text whole (0: built-in data)
  bool standardized = false;    // standardisation makes one more copy of the data
  bool saves = false;           // a model file is written (its text is built in memory)
  bool checkpoints = false;     // --checkpoint: the trainer keeps where the run stands (train/checkpoint.h)
  bool resumes = false;         // --resume: the checkpoint read, held through the run
  size_t batch = 1;
  int threads = 1;              // the cpu backend's threads
  size_t networks = 1;          // networks trained (--replicas, --sweep)
  size_t at_once = 1;           // of them in memory at the same time (host replicas: threads over networks)
  EstimatedBackend backend = EstimatedBackend::cpu;
};

// Bytes, by part. Host: the data (read, split, standardised, the cpu backend's packed copy), the
// parameters and optimizer state in fp64 (the model a run starts from, the one it keeps, each epoch's
// snapshot, and the finished results of replicas), the backend's own buffers (fp32 parameters,
// gradients, state, the batch's activations), and the model file's text. Device: the cuda backend's
// buffers (the training data only where it must be resident: the cuBLAS path streams what does not fit).
struct MemoryNeeds {
  double data = 0, parameters = 0, backend = 0, model_text = 0;
  double device = 0;
  double host() const { return data + parameters + backend + model_text; }
};
MemoryNeeds estimate_memory(const RunMemoryShape& shape);

// The memory there is, in bytes; device < 0: no device to check.
struct AvailableMemory {
  double host = 0;
  double device = -1;
};
// Host: MemAvailable of /proc/meminfo, or less where the cgroup's memory.max minus memory.current is less
// (a container's limit); sysconf's available pages where /proc/meminfo cannot be read; < 0 when nothing
// says. Device (with `device` and a CUDA build): cudaMemGetInfo's free bytes.
AvailableMemory available_memory(bool device);

// "" when `needs` fits in `available`; otherwise the line to fail with:
// "needs 48.3 GiB of memory, 21.7 GiB available (data 33.5 GiB, parameters 14.8 GiB)" (host first,
// then the device's "needs 9.1 GiB of device memory, 4.0 GiB available"). Unknown amounts (< 0) are
// not checked.
std::string memory_shortfall(const MemoryNeeds& needs, const AvailableMemory& available);

// "1.5 GiB", "312 MiB": an amount for a message.
std::string format_bytes(double bytes);

// Replicas on the cuBLAS path, each with its own device copy of the training data: how many bytes of
// data each may keep resident (BackendOptions::device_data_limit), decided once from the free device
// memory measured before any starts, so that replicas starting together cannot each size themselves
// from the same free memory and together run out. The free memory less every replica's own buffers,
// shared equally, 80% of it (the single run's margin, cublas_backend.cpp); at least 1 byte (0 would mean
// "by free memory"): a replica that cannot keep its data streams it. Throws InputError ("needs X of
// device memory, Y available") when the buffers alone do not fit.
size_t replica_data_allowance(size_t free_device_bytes, size_t at_once, size_t buffers_per_replica);

}  // namespace sigtrain
