// sigtrain bench: the speed of every backend present over a grid of networks and batches.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>

#include "tools/bench.h"
#include "commands.h"
#include "util/errors.h"
#include "util/file_util.h"
#include "tools/plot.h"

namespace sigtrain::cli {

namespace {

struct BenchOptions {
  bool quick = false;
  std::string networks, batches, backends, json, markdown, note;
  std::string svg;  // bar chart of samples/s
  int repeats = 3;
  int replicas = 1;
  bool no_shuffle = false;
  bool kernel_only = false;
  double work = 0;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) items.push_back(item);
  return items;
}

// Every --networks entry must name a network; the error names --networks and its syntax
// (parse_network_name's own message speaks of --layers, whose comma syntax it borrows).
void check_networks(const std::vector<std::string>& networks) {
  for (const std::string& network : networks) try {
      parse_network_name(network);
    } catch (const UsageError&) {
      throw UsageError("--networks: '" + network + "' is not a network: widths from 1 to " + std::to_string(kMaxWidth) +
                       " joined by '-', e.g. 2-3-3-1");
    }
}

// Every --backends entry must be a runner this machine has; the error lists those it has (the cuda
// ones need a usable device, and says why there is none).
void check_runners(const std::vector<std::string>& labels) {
  const std::vector<BenchRunner> present = available_runners();
  std::string names;
  for (const BenchRunner& r : present) names += (names.empty() ? "" : ", ") + r.label;
  std::string why_not;
  const bool cuda = cuda_backend_available(&why_not);
  for (const std::string& label : labels) {
    const auto is_label = [&](const BenchRunner& r) { return r.label == label; };
    if (std::none_of(present.begin(), present.end(), is_label))
      throw UsageError("--backends: '" + label + "' is not a runner here; the runners are " + names +
                       (cuda ? "" : " (none of the cuda-* ones: " + why_not + ")"));
  }
}

int run_bench_command(const BenchOptions& o) {
  BenchConfig config = o.quick ? quick_bench_config() : BenchConfig{};
  if (!o.networks.empty()) config.networks = split_list(o.networks);
  check_networks(config.networks);  // usage errors before any work
  if (!o.batches.empty()) {
    config.batches.clear();
    for (const std::string& b : split_list(o.batches)) {
      const std::vector<double> v = parse_number_list("--batches", b);
      if (v[0] < 1 || v[0] != std::floor(v[0])) throw UsageError("--batches: '" + b + "' is not a batch size");
      config.batches.push_back(size_t(v[0]));
    }
  }
  if (!o.backends.empty()) config.runners = split_list(o.backends);
  check_runners(config.runners);
  if (o.repeats < 1) throw UsageError("--repeats must be at least 1");
  config.repeats = o.repeats;
  if (o.replicas < 1) throw UsageError("--replicas must be at least 1");
  config.replicas = o.replicas;
  config.shuffle = !o.no_shuffle;
  config.time_trainer = !o.kernel_only;
  if (o.work > 0) config.flops_per_repeat = o.work;
  if (!o.json.empty()) check_writable("--json", o.json);
  if (!o.markdown.empty()) check_writable("--markdown", o.markdown);
  if (!o.svg.empty()) check_writable("--svg", o.svg);
  config.on_case = [](const std::string& network, size_t batch, const std::string& runner) {
    std::fprintf(stderr, "bench: %s, batch %zu, %s\n", network.c_str(), batch, runner.c_str());
  };
  std::string why_not;
  if (!cuda_backend_available(&why_not)) std::fprintf(stderr, "bench: no cuda backend here: %s\n", why_not.c_str());

  const BenchReport report = run_bench(config);
  const std::string table = bench_markdown(report);
  std::fputs(table.c_str(), stdout);
  if (!o.json.empty()) write_file_atomically(o.json, bench_json(report, o.note, config.shuffle));
  if (!o.markdown.empty()) write_file_atomically(o.markdown, table);
  if (!o.svg.empty()) write_file_atomically(o.svg, bar_chart_svg(bench_chart(report.results)));
  return 0;
}

}  // namespace

Run add_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* c = app.add_subcommand("bench", "samples/s and µs per step of every backend present, over a grid");
  c->add_flag("--quick", o->quick, "a small grid (2-3-3-1, 2-64-64-1; batches 32, 256) that runs in under a minute");
  c->add_option("--networks", o->networks, "networks, e.g. 2-3-3-1,2-1024-1024-1 (default: the full grid)")
      ->check(not_empty());
  c->add_option("--batches", o->batches, "batch sizes, e.g. 32,256,4096")->check(not_empty());
  c->add_option("--backends", o->backends, "runners: reference, cpu-1, cpu-all, cuda-fused, cuda-graphs, cuda-nographs, cuda-graphs-tf32 (default: all present)")
      ->check(not_empty());
  c->add_option("--repeats", o->repeats, "timed repeats per case (median, min, max)")->capture_default_str();
  c->add_option("--replicas", o->replicas, "train this many networks at once per case (cpu-1, cpu-all, cuda-fused)")
      ->capture_default_str();
  c->add_flag("--no-shuffle", o->no_shuffle, "every epoch in file order (as FANN trains) instead of a new permutation");
  c->add_flag("--kernel-only", o->kernel_only,
              "the steps alone; skip the 'train samples/s' column (the trainer itself, as `sigtrain train` runs it)");
  c->add_option("--work", o->work, "FLOPs per repeat, per network with --replicas (default 1e9, --quick 1e8)");
  c->add_option("--json", o->json, "also write the results as JSON")->check(not_empty());
  c->add_option("--markdown", o->markdown, "also write the table to this file")->check(not_empty());
  c->add_option("--svg", o->svg, "also draw samples/s per case and backend as a bar chart (SVG)")->check(not_empty());
  c->add_option("--note", o->note, "a note stored in the JSON (e.g. the commit)");
  return [o] { return run_bench_command(*o); };
}

}  // namespace sigtrain::cli
