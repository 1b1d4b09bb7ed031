#include "tools/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "backends/cpu/cpu_blas.h"
#include "data/dataset.h"
#include "util/rng.h"
#include "backends/cuda/fused_host.h"
#include "math/epoch_shuffle.h"
#ifdef SIGTRAIN_HAVE_CUDA
#include "backends/cuda/fused_networks.h"
#endif
#include "util/errors.h"
#include "backends/reference/reference_backend.h"
#include "train/replicas.h"
#include "train/trainer.h"

namespace sigtrain {

std::vector<BenchRunner> available_runners() {
  std::vector<BenchRunner> runners;
  runners.push_back({"reference", "reference", {}});
  BackendOptions one_thread;
  one_thread.threads = 1;
  runners.push_back({"cpu-1", "cpu", one_thread});
  if (std::thread::hardware_concurrency() > 1) {
    BackendOptions all_threads;
    all_threads.threads = 0;
    runners.push_back({"cpu-all", "cpu", all_threads});
  }
  if (cuda_backend_available()) {
    BackendOptions fused, graphs, no_graphs, tf32;
    fused.kernel = "fused";
    graphs.kernel = no_graphs.kernel = tf32.kernel = "cublas";
    no_graphs.cuda_graphs = false;
    tf32.tf32 = true;
    runners.push_back({"cuda-fused", "cuda", fused});
    runners.push_back({"cuda-graphs", "cuda", graphs});
    runners.push_back({"cuda-nographs", "cuda", no_graphs});
    runners.push_back({"cuda-graphs-tf32", "cuda", tf32});  // cuBLAS on TF32 tensor cores (--tf32)
  }
  return runners;
}

BenchConfig quick_bench_config() {
  BenchConfig c;
  c.networks = {"2-3-3-1", "2-64-64-1"};
  c.batches = {32, 256};
  c.flops_per_repeat = 1e8;
  return c;
}

NetworkSpec parse_network_name(const std::string& name) {
  std::string widths = name;
  std::replace(widths.begin(), widths.end(), '-', ',');
  return parse_widths(widths, false);
}

double training_flops_per_sample(const NetworkSpec& spec) {
  double weights = 0;
  for (int l = 1; l <= spec.num_layers(); ++l) weights += double(spec.weight_count(l));
  return 6.0 * weights;
}

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

void summarise(BenchResult& r, const std::vector<double>& samples_per_second, const std::vector<double>& us_per_step) {
  r.samples_per_second_median = median(samples_per_second);
  r.samples_per_second_min = *std::min_element(samples_per_second.begin(), samples_per_second.end());
  r.samples_per_second_max = *std::max_element(samples_per_second.begin(), samples_per_second.end());
  r.us_per_step_median = median(us_per_step);
  r.us_per_step_min = *std::min_element(us_per_step.begin(), us_per_step.end());
  r.us_per_step_max = *std::max_element(us_per_step.begin(), us_per_step.end());
}

// Largest relative difference of the loss and each layer's gradient from the reference on one batch.
double difference_from_reference(Backend& backend, const Parameters& p, const Dataset& d, size_t batch) {
  const size_t count = std::min<size_t>(batch, 256);  // the fp64 reference is slow on wide networks
  backend.set_parameters(p);
  return compare_with_reference(backend, {d.x.data(), d.y.data(), count}).worst();
}

// R networks at once: on the GPU in the fused kernel's shared launches, on the host with threads over
// networks (cpu-1: one after the other; cpu-all: all threads). Reports the total samples/s.
void time_replicas(const BenchConfig& config, const NetworkSpec& spec, size_t batch, const BenchRunner& runner,
                   const Dataset& data, BenchResult& r, std::vector<double>& seconds) {
  const size_t R = size_t(config.replicas);
  const double lr = 1e-4;
#ifdef SIGTRAIN_HAVE_CUDA
  if (runner.backend == "cuda") {
    FusedNetworks networks(spec, TrainingSetup{}, R);
    for (size_t k = 0; k < R; ++k) networks.set_parameters(k, glorot_uniform(spec, k + 1));
    networks.set_training_data(data);
    networks.set_learning_rates(std::vector<double>(R, lr));
    r.description = "cuda fused kernel, " + std::to_string(R) + " networks per launch";
    for (int repeat = -1; repeat < config.repeats; ++repeat) {  // repeat −1 warms up
      std::vector<EpochOrder> orders(R);
      for (size_t k = 0; k < R; ++k) orders[k] = {config.shuffle, epoch_seed(k + 1, uint64_t(repeat + 1))};
      networks.begin_epoch(orders);
      std::vector<double> sums(R);
      networks.epoch_loss_sums(sums.data());  // the orders are made before the clock starts
      const auto start = Clock::now();
      networks.train_steps(0, r.samples_per_repeat, batch);
      networks.epoch_loss_sums(sums.data());
      if (repeat >= 0) seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    return;
  }
#endif
  const int threads = runner.options.threads > 0 ? runner.options.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::unique_ptr<Backend>> backends(R);
  BackendOptions one_thread = runner.options;
  one_thread.threads = 1;
  for (size_t k = 0; k < R; ++k) {
    backends[k] = make_backend(runner.backend, spec, TrainingSetup{}, one_thread);
    backends[k]->set_parameters(glorot_uniform(spec, k + 1));
    backends[k]->set_training_data(data);
  }
  r.description = backends[0]->description() + ", " + std::to_string(R) + " networks on " + std::to_string(threads) + " threads";
  for (int repeat = -1; repeat < config.repeats; ++repeat) {
    for (size_t k = 0; k < R; ++k) backends[k]->begin_epoch({config.shuffle, epoch_seed(k + 1, uint64_t(repeat + 1))});
    const auto start = Clock::now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (long k = 0; k < long(R); ++k) backends[size_t(k)]->train_steps(0, r.samples_per_repeat, batch, lr);
    if (repeat >= 0) seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
}

// The first `steps` steps of an epoch, given to the backend as the trainer gives them: as many per call
// as it likes (the fused kernel runs them in few launches, the others one at a time).
void run_steps(Backend& backend, size_t steps, size_t batch, double lr) {
  const size_t per_call = std::max<size_t>(1, backend.steps_per_call(batch));
  for (size_t s = 0; s < steps; s += per_call)
    backend.train_steps(s * batch, std::min(steps, s + per_call) * batch, batch, lr);
}

// The train column: the trainer itself on the case, as `sigtrain train` (one network) or `sigtrain
// train --replicas R` runs it, over `train` with a validation set a quarter its size (train's default
// --val-split 0.2): every epoch makes its order, steps, reads the loss back, validates and keeps the
// model. An untimed epoch first (the cuBLAS path captures its graphs in a backend's first epoch); then
// samples trained, of every network, over the wall time of one call of `repeats` epochs (at least 2,
// so that an epoch's order follows another's). One network's backend is made outside the timed call;
// the replicas' backends are made inside it, by train_replicas, as `train --replicas` has them made.
void time_trainer(const BenchConfig& config, const NetworkSpec& spec, size_t batch, const BenchRunner& runner,
                  const Dataset& train_set, BenchResult& r) {
  const Dataset validation = random_dataset(spec.inputs(), spec.outputs(), std::max<size_t>(1, train_set.size / 4), 8);
  TrainConfig train_config;
  train_config.batch = batch;
  train_config.lr = 1e-4;  // as the kernel-only figure's: finite over a long run
  train_config.shuffle = config.shuffle;
  const int epochs = std::max(2, config.repeats);
  double seconds = 0;
  if (config.replicas > 1) {
    ReplicaRun run;
    run.backend = runner.backend;
    run.options = runner.options;
    run.options.threads = 1;  // threads over networks, one each, as `train --replicas` has them
    run.parallel =
        runner.options.threads > 0 ? runner.options.threads : int(std::max(1u, std::thread::hardware_concurrency()));
    run.initial = [&](const NetworkSettings& s) { return glorot_uniform(spec, s.seed); };
    const std::vector<NetworkSettings> settings = expand_sweeps({}, config.replicas, 1, train_config.lr);
    const auto run_epochs = [&](int n) {
      run.config = train_config;
      run.config.epochs = n;
      const auto start = Clock::now();
      train_replicas(run, settings, train_set, validation);
      return std::chrono::duration<double>(Clock::now() - start).count();
    };
    run_epochs(1);
    seconds = run_epochs(epochs);
  } else {
    std::unique_ptr<Backend> backend = make_backend(runner.backend, spec, TrainingSetup{}, runner.options);
    const Parameters initial = glorot_uniform(spec, 1);
    const auto run_epochs = [&](int n) {
      TrainConfig c = train_config;
      c.epochs = n;
      TrainObserver quiet;
      const auto start = Clock::now();
      train(*backend, initial, train_set, validation, c, quiet);
      return std::chrono::duration<double>(Clock::now() - start).count();
    };
    run_epochs(1);
    seconds = run_epochs(epochs);
  }
  r.train_epochs = epochs;
  r.train_validation_samples = validation.size;
  r.train_samples_per_second = double(train_set.size) * double(epochs) * double(config.replicas) / seconds;
}

BenchResult run_case(const BenchConfig& config, const NetworkSpec& spec, const std::string& network, size_t batch,
                     const BenchRunner& runner) {
  BenchResult r;
  r.network = network;
  r.batch = batch;
  r.runner = runner.label;
  const double flops = training_flops_per_sample(spec);
  // The same samples for every backend of a case, except the reference, which gets a hundredth.
  const double budget = config.flops_per_repeat / (runner.label == "reference" ? 100.0 : 1.0);
  const size_t steps = std::max<size_t>(1, size_t(std::ceil(budget / flops / double(batch))));
  if (runner.label == "reference" && double(batch) * flops > 50 * budget) {
    r.skipped = "one step is over 50× the reference's budget";
    return r;
  }
  if (runner.options.kernel == "fused") {
    FusedShape shape;
    std::string why_not;
    if (!make_fused_shape(spec, shape, &why_not)) {
      r.skipped = why_not;
      return r;
    }
  }
  if (config.replicas > 1 && runner.label != "cpu-1" && runner.label != "cpu-all" && runner.label != "cuda-fused") {
    r.skipped = "runs one network at a time";
    return r;
  }
  r.steps_per_repeat = steps;
  r.samples_per_repeat = steps * batch;
  if (config.replicas > 1) {
    // Each network trains the samples of a repeat; the figures are totals over all networks.
    const Dataset data = random_dataset(spec.inputs(), spec.outputs(), r.samples_per_repeat, 7);
    std::vector<double> seconds;
    time_replicas(config, spec, batch, runner, data, r, seconds);
    std::vector<double> samples_per_second, us_per_step;
    for (double t : seconds) {
      samples_per_second.push_back(double(r.samples_per_repeat) * config.replicas / t);
      us_per_step.push_back(t * 1e6 / double(steps));
    }
    r.network = network + " ×" + std::to_string(config.replicas);
    summarise(r, samples_per_second, us_per_step);
    r.gflops = r.samples_per_second_median * flops / 1e9;
    if (config.time_trainer) time_trainer(config, spec, batch, runner, data, r);
    return r;
  }

  const Dataset data = random_dataset(spec.inputs(), spec.outputs(), r.samples_per_repeat, 7);
  const Parameters initial = glorot_uniform(spec, 1);
  std::unique_ptr<Backend> backend = make_backend(runner.backend, spec, TrainingSetup{}, runner.options);
  r.description = backend->description();
  if (config.check_against_reference && runner.label != "reference")
    r.max_relative_difference = difference_from_reference(*backend, initial, data, batch);

  backend->set_parameters(initial);
  backend->set_training_data(data);
  // A small learning rate keeps a long run finite; the work per step does not depend on it.
  const double lr = 1e-4;
  const size_t warmup_steps = std::max<size_t>(2, steps / 10);
  backend->begin_epoch({config.shuffle, 1});
  run_steps(*backend, std::min(warmup_steps, steps), batch, lr);
  backend->epoch_loss_sum();  // waits for the device

  std::vector<double> samples_per_second, us_per_step;
  for (int repeat = 0; repeat < config.repeats; ++repeat) {
    backend->begin_epoch({config.shuffle, uint64_t(repeat + 2)});
    backend->epoch_loss_sum();  // the epoch's permutation is made before the clock starts
    const auto start = Clock::now();
    run_steps(*backend, steps, batch, lr);
    backend->epoch_loss_sum();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    samples_per_second.push_back(double(r.samples_per_repeat) / seconds);
    us_per_step.push_back(seconds * 1e6 / double(steps));
  }
  summarise(r, samples_per_second, us_per_step);
  r.gflops = r.samples_per_second_median * flops / 1e9;
  if (config.time_trainer) time_trainer(config, spec, batch, runner, data, r);
  return r;
}

std::string format(const char* pattern, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, pattern, v);
  return buf;
}

// 1234567 → "1.23 M"
std::string si(double v) {
  const char* units[] = {"", " k", " M", " G", " T"};
  int u = 0;
  while (std::abs(v) >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return format("%.3g", v) + units[u];
}

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

}  // namespace

SgemmRate measure_sgemm() {
  SgemmRate rate;
  rate.threads = int(std::max(1u, std::thread::hardware_concurrency()));
  if (!cpu_blas_available()) return rate;
  rate.library = cpu_blas_name();
  constexpr int n = 2048;
  const double flops = 2.0 * n * n * n;
  std::vector<std::vector<float>> a(size_t(rate.threads)), c(size_t(rate.threads));
  for (int t = 0; t < rate.threads; ++t) {
    Rng rng(uint64_t(t) + 1);
    a[size_t(t)].resize(size_t(n) * n);
    c[size_t(t)].resize(size_t(n) * n);
    for (float& v : a[size_t(t)]) v = float(rng.uniform(-1, 1));
  }
  const auto time_calls = [&](int calls) {
    std::vector<double> seconds;
    for (int repeat = 0; repeat < 4; ++repeat) {  // the first warms up
      const auto start = Clock::now();
#pragma omp parallel for num_threads(calls)
      for (int t = 0; t < calls; ++t)
        cpu_sgemm(false, false, n, n, n, a[size_t(t)].data(), n, a[size_t(t)].data(), n, c[size_t(t)].data(), n);
      if (repeat > 0) seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    return flops * calls / median(seconds) / 1e9;
  };
  rate.one_thread_gflops = time_calls(1);
  rate.all_threads_gflops = rate.threads > 1 ? time_calls(rate.threads) : rate.one_thread_gflops;
  return rate;
}

BenchReport run_bench(const BenchConfig& config) {
  std::vector<BenchRunner> runners = available_runners();
  if (!config.runners.empty()) {
    std::vector<BenchRunner> chosen;
    for (const std::string& label : config.runners) {
      auto found = std::find_if(runners.begin(), runners.end(), [&](const BenchRunner& r) { return r.label == label; });
      if (found != runners.end()) chosen.push_back(*found);
    }
    runners = chosen;
  }
  BenchReport report;
  for (const std::string& network : config.networks) {
    const NetworkSpec spec = parse_network_name(network);
    for (size_t batch : config.batches)
      for (const BenchRunner& runner : runners) {
        if (config.on_case) config.on_case(network, batch, runner.label);
        report.results.push_back(run_case(config, spec, network, batch, runner));
      }
  }
  if (std::any_of(runners.begin(), runners.end(), [](const BenchRunner& r) { return r.backend == "cpu"; }))
    report.sgemm = measure_sgemm();
  return report;
}

namespace {

// A cpu row's GFLOP/s as a fraction of the machine's SGEMM with as many threads; −1 where unknown.
double sgemm_fraction(const BenchResult& r, const SgemmRate& sgemm) {
  if (r.runner == "cpu-1" && sgemm.one_thread_gflops > 0) return r.gflops / sgemm.one_thread_gflops;
  if (r.runner == "cpu-all" && sgemm.all_threads_gflops > 0) return r.gflops / sgemm.all_threads_gflops;
  return -1;
}

}  // namespace

std::string bench_markdown(const BenchReport& report) {
  std::string s =
      "| network | batch | backend | samples/s (median) | min … max | train samples/s | µs/step (median) | min … max | "
      "GFLOP/s | of SGEMM | rel. diff vs fp64 |\n"
      "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const BenchResult& r : report.results) {
    s += "| " + r.network + " | " + std::to_string(r.batch) + " | " + r.runner + " | ";
    if (!r.skipped.empty()) {
      s += "skipped: " + r.skipped + " | | | | | | | |\n";
      continue;
    }
    const double fraction = sgemm_fraction(r, report.sgemm);
    s += si(r.samples_per_second_median) + " | " + si(r.samples_per_second_min) + " … " + si(r.samples_per_second_max) +
         " | " + (r.train_samples_per_second > 0 ? si(r.train_samples_per_second) : std::string("—")) + " | " +
         format("%.4g", r.us_per_step_median) + " | " + format("%.4g", r.us_per_step_min) + " … " +
         format("%.4g", r.us_per_step_max) + " | " + format("%.3g", r.gflops) + " | " +
         (fraction < 0 ? std::string("—") : format("%.0f%%", 100 * fraction)) + " | " +
         (r.max_relative_difference < 0 ? std::string("—") : format("%.2g", r.max_relative_difference)) + " |\n";
  }
  if (report.sgemm.one_thread_gflops > 0)
    s += "\nMachine SGEMM (" + report.sgemm.library + ", 2048³, median of 3): " +
         format("%.4g", report.sgemm.one_thread_gflops) + " GFLOP/s on 1 thread, " +
         format("%.4g", report.sgemm.all_threads_gflops) + " GFLOP/s as " + std::to_string(report.sgemm.threads) +
         " concurrent single-thread calls. GFLOP/s counts 6 FLOPs per weight and sample.\n";
  if (std::any_of(report.results.begin(), report.results.end(),
                  [](const BenchResult& r) { return r.train_samples_per_second > 0; }))
    s += "\nsamples/s: the steps alone (the epoch's order made before the clock starts). train samples/s: the trainer, "
         "as `sigtrain train` runs it (epoch orders, steps, the loss read back, validation on a quarter as many "
         "samples, keeping the model), over the wall time of its call.\n";
  return s;
}

std::string bench_json(const BenchReport& report, const std::string& note, bool shuffle) {
  nlohmann::json j;
  j["format"] = "sigtrain-bench";
  j["version"] = 1;
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  j["date"] = date;
  j["note"] = note;
  j["machine"] = {{"cpu", cpu_model()}, {"hardware_threads", std::thread::hardware_concurrency()}};
  if (report.sgemm.one_thread_gflops > 0)
    j["machine"]["sgemm"] = {{"library", report.sgemm.library}, {"gflops_one_thread", report.sgemm.one_thread_gflops},
                             {"gflops_all_threads", report.sgemm.all_threads_gflops}, {"threads", report.sgemm.threads}};
  j["results"] = nlohmann::json::array();
  for (const BenchResult& r : report.results) {
    nlohmann::json row = {{"network", r.network}, {"batch", r.batch}, {"backend", r.runner},
                          {"order", shuffle ? "shuffled" : "file"}};
    if (!r.skipped.empty()) {
      row["skipped"] = r.skipped;
    } else {
      row["description"] = r.description;
      row["samples_per_repeat"] = r.samples_per_repeat;
      row["steps_per_repeat"] = r.steps_per_repeat;
      row["samples_per_second"] = {{"median", r.samples_per_second_median}, {"min", r.samples_per_second_min}, {"max", r.samples_per_second_max}};
      row["us_per_step"] = {{"median", r.us_per_step_median}, {"min", r.us_per_step_min}, {"max", r.us_per_step_max}};
      if (r.train_samples_per_second > 0) {
        row["train_samples_per_second"] = r.train_samples_per_second;
        row["train_epochs"] = r.train_epochs;
        row["train_validation_samples"] = r.train_validation_samples;
      }
      row["gflops"] = r.gflops;
      if (sgemm_fraction(r, report.sgemm) >= 0) row["fraction_of_sgemm"] = sgemm_fraction(r, report.sgemm);
      if (r.max_relative_difference >= 0) row["max_relative_difference_vs_reference"] = r.max_relative_difference;
    }
    j["results"].push_back(row);
  }
  return j.dump(2) + "\n";
}

}  // namespace sigtrain
