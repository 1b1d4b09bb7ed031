// sigtrain gradcheck / explain: the math itself, checked and shown.
#include <chrono>
#include <cstdio>
#include <memory>

#include "commands.h"
#include "model/choices.h"
#include "util/errors.h"
#include "tools/explain.h"
#include "tools/gradcheck.h"
#include "model/model_file.h"

namespace sigtrain::cli {

namespace {

struct NetworkOptions {
  std::string layers = "2,3,3,1";
  bool bias = false;
  std::string activation = "sigmoid", output = "linear", loss = "mse";
  uint64_t seed = 2;  // as train's, so that explain shows the network train starts from
  std::vector<const CLI::Option*> flags;  // the flags above, to tell which were given

  NetworkSpec spec() const {
    NetworkSpec s = parse_widths(layers, bias);
    s.hidden = parse_hidden_activation(activation, "--activation");
    s.output = parse_output_activation(output, "--output");
    check_head(parse_loss(loss, "--loss"), s.output);
    return s;
  }
};

void add_network_options(CLI::App& c, NetworkOptions& o) {
  o.flags.push_back(c.add_option("--layers", o.layers, "widths n0,n1,…,nL")->capture_default_str());
  o.flags.push_back(c.add_flag("--bias", o.bias, "give every layer a bias"));
  o.flags.push_back(c.add_option("--activation", o.activation, "hidden layers' activation: sigmoid, tanh or relu")
                        ->check(CLI::IsMember(hidden_activation_names()))
                        ->capture_default_str());
  o.flags.push_back(c.add_option("--output", o.output, "output activation: linear or sigmoid")
                        ->check(CLI::IsMember(output_activation_names()))
                        ->capture_default_str());
  o.flags.push_back(c.add_option("--loss", o.loss, "mse, or bce (binary cross-entropy; needs --output sigmoid)")
                        ->check(CLI::IsMember(loss_names()))
                        ->capture_default_str());
  o.flags.push_back(c.add_option("--seed", o.seed, "seed of the random network (and batch)")
                        ->check(seed_value())
                        ->capture_default_str());
}

struct GradcheckOptions {
  NetworkOptions network;
  int batch = 4;
  long long entries = 0;  // 0: every entry
  const CLI::Option* entries_flag = nullptr;  // not given: default_gradcheck_entries
};

// Progress on stderr while a check takes long: a first line after kFirstReport, then one every
// kEveryReport (stdout keeps only the result).
class GradcheckProgressReport {
 public:
  void operator()(size_t done, size_t total) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (elapsed < next_report_ || done == total) return;
    next_report_ = elapsed + kEveryReport;
    std::fprintf(stderr, "gradcheck: %zu of %zu entries checked (%.0f%%), %.0f s\n", done, total,
                 100.0 * double(done) / double(total), elapsed);
  }

 private:
  static constexpr double kFirstReport = 2.0, kEveryReport = 10.0;  // seconds
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double next_report_ = kFirstReport;
};

int run_gradcheck(const GradcheckOptions& o) {
  if (o.batch < 1) throw UsageError("--batch must be at least 1, got " + std::to_string(o.batch));
  const NetworkSpec spec = o.network.spec();
  const Loss loss = parse_loss(o.network.loss, "--loss");
  const bool given = o.entries_flag->count() > 0;
  // Fewer entries than layers would leave a layer unchecked.
  if (given && (o.entries < 0 || (o.entries > 0 && o.entries < spec.num_layers())))
    throw UsageError("--entries must be 0 (every entry) or at least the number of layers (" +
                     std::to_string(spec.num_layers()) + "), got " + std::to_string(o.entries));
  const size_t entries = given ? size_t(o.entries) : default_gradcheck_entries(spec, o.batch);
  const GradcheckResult r =
      gradcheck(spec, loss, o.network.seed, o.batch, entries, GradcheckProgressReport());
  const size_t P = spec.parameter_count();
  std::printf("gradcheck %s, %s loss, batch %d, seed %llu: backprop vs central finite differences (fp64)",
              spec.to_string().c_str(), name_of(loss).c_str(), o.batch, (unsigned long long)o.network.seed);
  if (r.entries_checked < P)
    std::printf(", %zu of %zu entries sampled (--entries 0: all)", r.entries_checked, P);
  std::printf("\n");
  for (const GradcheckLayer& layer : r.layers) {
    std::printf("  layer %d: relative error %s", layer.layer, format_number(layer.relative_error, 3).c_str());
    if (layer.entries_checked < layer.entries) std::printf(" (%zu of %zu entries)", layer.entries_checked, layer.entries);
    std::printf("\n");
  }
  const bool pass = r.worst <= kGradcheckTolerance;
  std::printf("%s: largest relative error %s (tolerance %s)\n", pass ? "PASS" : "FAIL",
              format_number(r.worst, 3).c_str(), format_number(kGradcheckTolerance, 3).c_str());
  return pass ? 0 : 1;
}

struct ExplainOptions {
  NetworkOptions network;
  std::string model, x, y;
};

int run_explain(const ExplainOptions& o) {
  Loss loss = parse_loss(o.network.loss, "--loss");
  // A model file is the whole network: a flag that would describe another one is a mistake, not a default.
  if (!o.model.empty())
    for (const CLI::Option* flag : o.network.flags)
      if (flag->count() > 0)
        throw UsageError(flag->get_name() + " does not go with --model: the model file sets the network (leave " +
                         flag->get_name() + " out)");
  Parameters p;
  if (o.model.empty()) {
    p = glorot_uniform(o.network.spec(), o.network.seed);
  } else {
    const Model model = load_model(o.model);
    p = model.parameters;
    loss = model.setup.loss;
  }
  const std::vector<double> x = parse_number_list("--x", o.x), y = parse_number_list("--y", o.y);
  if (int(x.size()) != p.spec.inputs())
    throw UsageError("--x has " + std::to_string(x.size()) + " values, the network " + p.spec.to_string() + " has " +
                     std::to_string(p.spec.inputs()) + " inputs");
  if (int(y.size()) != p.spec.outputs())
    throw UsageError("--y has " + std::to_string(y.size()) + " values, the network " + p.spec.to_string() + " has " +
                     std::to_string(p.spec.outputs()) + " outputs");
  std::fputs(explain(p, loss, x, y).c_str(), stdout);
  return 0;
}

}  // namespace

Run add_gradcheck(CLI::App& app) {
  auto o = std::make_shared<GradcheckOptions>();
  CLI::App* c = app.add_subcommand("gradcheck", "compare backprop with central finite differences (fp64)");
  add_network_options(*c, o->network);
  c->add_option("--batch", o->batch, "samples in the random batch")->capture_default_str();
  o->entries_flag = c->add_option("--entries", o->entries,
                "parameters to check, sampled evenly over the layers; 0: every one (default: every one when that "
                "takes up to ~2e10 multiply-adds, a few seconds, else as many as fit, at least 100)");
  return [o] { return run_gradcheck(*o); };
}

Run add_explain(CLI::App& app) {
  auto o = std::make_shared<ExplainOptions>();
  CLI::App* c = app.add_subcommand("explain", "one data point through the network, every quantity by the notes' names");
  add_network_options(*c, o->network);
  c->add_option("--model", o->model, "model file (default: a Glorot network from --layers and --seed)")->check(not_empty());
  c->add_option("--x", o->x, "the inputs, e.g. 0.5,-1 (write --x=-1,2 when the first is negative)")->required();
  c->add_option("--y", o->y, "the target(s), e.g. 0.3")->required();
  return [o] { return run_explain(*o); };
}

}  // namespace sigtrain::cli
