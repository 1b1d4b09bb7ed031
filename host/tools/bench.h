// `sigtrain bench`: samples/s and µs per SGD step for every backend present, over a grid of networks
// and batch sizes, with the largest relative difference from the fp64 reference on one batch. Two
// figures per case: the steps alone (the kernel-only figure), and the trainer itself, as `sigtrain
// train` runs it (epoch orders, steps, the loss read back, validation, keeping the model).
// Speed is measured here, never asserted in tests (DESIGN.md §5).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "model/network.h"

namespace sigtrain {

// One way of running a backend, as a column of the table: "cpu-1" is the cpu backend on one thread.
struct BenchRunner {
  std::string label;    // reference, cpu-1, cpu-all, cuda-fused, cuda-graphs, cuda-nographs
  std::string backend;  // the --backend name
  BackendOptions options;
};

// The runners available on this machine (cuda ones only where a device is usable).
std::vector<BenchRunner> available_runners();

struct BenchConfig {
  std::vector<std::string> networks = {"2-3-3-1", "2-64-64-1", "784-256-256-10", "2-1024-1024-1"};
  std::vector<size_t> batches = {32, 256, 4096};
  std::vector<std::string> runners;  // labels to run; empty: all available
  double flops_per_repeat = 1e9;     // each repeat trains about this many FLOPs' worth of samples (per network)
  int repeats = 3;
  bool shuffle = true;  // false: every epoch in file order (as FANN trains), for like-for-like comparisons
  int replicas = 1;  // > 1: that many networks at once per case (cpu-1, cpu-all, cuda-fused); totals reported
  bool check_against_reference = true;
  // Also time the trainer itself on each case (what `sigtrain train` does with it: the train column);
  // false: the kernel-only figures alone (--kernel-only).
  bool time_trainer = true;
  // Called before each case, for progress on stderr.
  std::function<void(const std::string& network, size_t batch, const std::string& runner)> on_case;
};

// The grid of `sigtrain bench --quick`: small networks and batches, a tenth of the work, under a minute.
BenchConfig quick_bench_config();

struct BenchResult {
  std::string network;
  size_t batch = 0;
  std::string runner;
  std::string description;  // the backend's own description (threads, device)
  size_t samples_per_repeat = 0;
  size_t steps_per_repeat = 0;
  double samples_per_second_median = 0, samples_per_second_min = 0, samples_per_second_max = 0;
  double us_per_step_median = 0, us_per_step_min = 0, us_per_step_max = 0;
  // Through the trainer (the code `sigtrain train` runs): epochs over the repeat's samples that make
  // their order, step, read the loss back, validate on a quarter as many samples and keep the model;
  // samples trained (of every network) over the wall time of the trainer's call. 0: not measured.
  double train_samples_per_second = 0;
  int train_epochs = 0;
  size_t train_validation_samples = 0;
  double max_relative_difference = -1;  // gradients and loss vs the reference on one batch; −1: not checked
  double gflops = 0;                    // median samples/s × training FLOPs per sample
  std::string skipped;                  // why the case was not run, or empty
};

// Training FLOPs per sample: forward, and the two products of the backward pass, 2 each per weight.
double training_flops_per_sample(const NetworkSpec& spec);

// The machine's own SGEMM rate (OpenBLAS, 2048³, the median of 3), on one thread and as one
// single-threaded call per hardware thread at once (the way the cpu backend runs its tiles): the
// ceiling against which the cpu rows' GFLOP/s are read. Zero where OpenBLAS is missing.
struct SgemmRate {
  std::string library;
  double one_thread_gflops = 0;
  double all_threads_gflops = 0;
  int threads = 1;
};
SgemmRate measure_sgemm();

struct BenchReport {
  std::vector<BenchResult> results;
  SgemmRate sgemm;  // measured when a cpu runner ran
};

BenchReport run_bench(const BenchConfig& config);

// The results as a markdown table (with the cpu rows' fraction of SGEMM), and as JSON (with the
// machine and `note`).
std::string bench_markdown(const BenchReport& report);
std::string bench_json(const BenchReport& report, const std::string& note, bool shuffle = true);

// "2-3-3-1" → widths; throws UsageError.
NetworkSpec parse_network_name(const std::string& name);

}  // namespace sigtrain
