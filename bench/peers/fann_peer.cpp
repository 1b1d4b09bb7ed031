// The FANN peer of bench/run_peers.sh: trains the same networks as `sigtrain bench` on the same kind of
// random data with libfloatfann (fp32, like sigtrain's fast backends) and prints one JSON line per
// network and mode:
//   {"peer":"fann","mode":"incremental","network":"2-3-3-1","batch":1,"samples_per_second":…, …}
//
// What is matched to sigtrain (DESIGN.md §1):
//   - hidden layers FANN_SIGMOID with steepness 0.5: FANN's sigmoid is 1/(1 + exp(-2·s·x)), so s = 0.5
//     gives σ(x) = 1/(1 + e^{-x});
//   - the output FANN_LINEAR with steepness 1: FANN's linear unit is s·x;
//   - the error function FANN_ERRORFUNC_LINEAR (plain difference; FANN's default is a tanh-shaped one);
//   - inputs uniform in [-2, 2], targets uniform in [-1, 1], a fixed seed; a small learning rate;
//   - the work per repeat: about --work FLOPs, counted as sigtrain bench counts them, 6 per weight and
//     sample (forward, and the two products of the backward pass).
// What cannot be matched: FANN gives every unit a bias (a bias neuron per layer); the JSON says so.
//
// Modes:
//   incremental  FANN_TRAIN_INCREMENTAL: one update per sample, i.e. batch 1 (FANN's fastest path).
//   batch        FANN_TRAIN_BATCH: one update per epoch, over the whole data set (full batch); the
//                "batch" reported is the data set's size.
// Timing: one warm-up epoch on a tenth of the data, then --repeats timed calls of fann_train_epoch over
// all of it; the median, min and max of samples/s are reported. FANN trains on one thread.
#include <floatfann.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Options {
  std::vector<std::string> networks = {"2-3-3-1"};
  std::vector<std::string> modes = {"incremental", "batch"};
  double work = 1e9;  // FLOPs per repeat, as `sigtrain bench --work`
  int repeats = 3;
  unsigned seed = 7;
  float learning_rate = 1e-4f;  // small, so that a long run stays finite; the work does not depend on it
};

const char* const kUsage =
    "usage: fann_peer [--networks 2-3-3-1,2-64-64-1] [--modes incremental,batch] [--work 1e9]\n"
    "                 [--repeats 3] [--seed 7] [--lr 1e-4]\n"
    "FANN beside sigtrain: one JSON line per network and mode (see bench/README.md)\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "fann_peer: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> items;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, separator))
    if (!item.empty()) items.push_back(item);
  return items;
}

double parse_number(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v)) usage_error(flag + ": '" + text + "' is not a number");
  return v;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--networks") {
      o.networks = split(value, ',');
    } else if (flag == "--modes") {
      o.modes = split(value, ',');
      for (const std::string& m : o.modes)
        if (m != "incremental" && m != "batch") usage_error("--modes: '" + m + "' is neither incremental nor batch");
    } else if (flag == "--work") {
      o.work = parse_number(flag, value);
      if (!(o.work > 0)) usage_error("--work must be above 0");
    } else if (flag == "--repeats") {
      o.repeats = int(parse_number(flag, value));
      if (o.repeats < 1) usage_error("--repeats must be at least 1");
    } else if (flag == "--seed") {
      o.seed = unsigned(parse_number(flag, value));
    } else if (flag == "--lr") {
      o.learning_rate = float(parse_number(flag, value));
    } else {
      usage_error("unknown flag " + flag);
    }
  }
  return o;
}

// "2-3-3-1" → {2, 3, 3, 1}
std::vector<unsigned> parse_widths(const std::string& network) {
  std::vector<unsigned> widths;
  for (const std::string& w : split(network, '-')) {
    const double v = parse_number("--networks", w);
    if (v < 1 || v > 65536 || v != std::floor(v)) usage_error("--networks: '" + network + "' has a bad width");
    widths.push_back(unsigned(v));
  }
  if (widths.size() < 2) usage_error("--networks: '" + network + "' needs at least two widths");
  return widths;
}

// sigtrain bench's count (host/bench.cpp training_flops_per_sample): 6 FLOPs per weight, biases not
// counted, so that both programs train the same number of samples for the same --work.
double training_flops_per_sample(const std::vector<unsigned>& widths) {
  double weights = 0;
  for (size_t l = 1; l < widths.size(); ++l) weights += double(widths[l - 1]) * double(widths[l]);
  return 6.0 * weights;
}

// Random data as sigtrain bench makes it: inputs uniform in [-2, 2], targets uniform in [-1, 1].
fann_train_data* random_data(unsigned samples, unsigned inputs, unsigned outputs, unsigned seed) {
  fann_train_data* data = fann_create_train(samples, inputs, outputs);
  if (!data) {
    std::fprintf(stderr, "fann_peer: cannot allocate %u samples\n", samples);
    std::exit(1);
  }
  std::mt19937 generator(seed);
  const auto uniform = [&](float lo, float hi) { return lo + (hi - lo) * float(generator() >> 8) * 0x1p-24f; };
  for (unsigned s = 0; s < samples; ++s) {
    for (unsigned i = 0; i < inputs; ++i) data->input[s][i] = uniform(-2, 2);
    for (unsigned o = 0; o < outputs; ++o) data->output[s][o] = uniform(-1, 1);
  }
  return data;
}

fann* make_network(const std::vector<unsigned>& widths, fann_train_enum algorithm, const Options& o) {
  fann* ann = fann_create_standard_array(unsigned(widths.size()), widths.data());
  if (!ann) {
    std::fprintf(stderr, "fann_peer: cannot create the network\n");
    std::exit(1);
  }
  fann_set_activation_function_hidden(ann, FANN_SIGMOID);
  fann_set_activation_steepness_hidden(ann, 0.5f);  // σ(x) = 1/(1 + exp(-2·0.5·x))
  fann_set_activation_function_output(ann, FANN_LINEAR);
  fann_set_activation_steepness_output(ann, 1.0f);  // ŷ = 1·(W z)
  fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
  fann_set_training_algorithm(ann, algorithm);
  fann_set_learning_rate(ann, o.learning_rate);
  fann_set_learning_momentum(ann, 0.0f);  // plain SGD, as sigtrain
  // fann_create_* seeds rand() from the clock; a fixed seed makes the initial weights repeatable.
  std::srand(o.seed);
  fann_randomize_weights(ann, -0.5f, 0.5f);
  return ann;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void run_case(const std::string& network, const std::string& mode, const Options& o) {
  const std::vector<unsigned> widths = parse_widths(network);
  const unsigned samples = unsigned(std::max(1.0, std::ceil(o.work / training_flops_per_sample(widths))));
  std::fprintf(stderr, "fann_peer: %s, %s, %u samples per repeat\n", network.c_str(), mode.c_str(), samples);

  fann_train_data* data = random_data(samples, widths.front(), widths.back(), o.seed);
  fann* ann = make_network(widths, mode == "incremental" ? FANN_TRAIN_INCREMENTAL : FANN_TRAIN_BATCH, o);

  // Warm-up: caches, page faults of the network's buffers, the CPU's clock.
  fann_train_data* warmup = fann_subset_train_data(data, 0, std::max(1u, samples / 10));
  fann_train_epoch(ann, warmup);
  fann_destroy_train(warmup);

  std::vector<double> samples_per_second;
  float mse = 0;
  for (int r = 0; r < o.repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    mse = fann_train_epoch(ann, data);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    samples_per_second.push_back(double(samples) / seconds);
  }
  const auto [slowest, fastest] = std::minmax_element(samples_per_second.begin(), samples_per_second.end());
  std::printf(
      "{\"peer\":\"fann\",\"mode\":\"%s\",\"network\":\"%s\",\"batch\":%u,\"threads\":1,\"samples_per_repeat\":%u,"
      "\"repeats\":%d,\"samples_per_second\":%.6g,\"samples_per_second_min\":%.6g,\"samples_per_second_max\":%.6g,"
      "\"bias\":true,\"last_mse\":%.6g,\"note\":\"%s\"}\n",
      mode.c_str(), network.c_str(), mode == "incremental" ? 1u : samples, samples, o.repeats,
      median(samples_per_second), *slowest, *fastest, double(mse),
      mode == "incremental" ? "one update per sample; FANN gives every unit a bias"
                            : "full batch: one update per pass over the data; FANN gives every unit a bias");
  std::fflush(stdout);
  fann_destroy(ann);
  fann_destroy_train(data);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  for (const std::string& network : o.networks) parse_widths(network);  // usage errors before any work
  for (const std::string& network : o.networks)
    for (const std::string& mode : o.modes) run_case(network, mode, o);
  return 0;
}
