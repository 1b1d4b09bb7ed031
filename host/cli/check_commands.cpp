// sigtrain gradcheck / explain: the math itself, checked and shown.
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

  NetworkSpec spec() const {
    NetworkSpec s = parse_widths(layers, bias);
    s.hidden = parse_hidden_activation(activation, "--activation");
    s.output = parse_output_activation(output, "--output");
    check_head(parse_loss(loss, "--loss"), s.output);
    return s;
  }
};

void add_network_options(CLI::App& c, NetworkOptions& o) {
  c.add_option("--layers", o.layers, "widths n0,n1,…,nL")->capture_default_str();
  c.add_flag("--bias", o.bias, "give every layer a bias");
  c.add_option("--activation", o.activation, "hidden layers' activation: sigmoid, tanh or relu")
      ->check(CLI::IsMember(hidden_activation_names()))
      ->capture_default_str();
  c.add_option("--output", o.output, "output activation: linear or sigmoid")
      ->check(CLI::IsMember(output_activation_names()))
      ->capture_default_str();
  c.add_option("--loss", o.loss, "mse, or bce (binary cross-entropy; needs --output sigmoid)")
      ->check(CLI::IsMember(loss_names()))
      ->capture_default_str();
  c.add_option("--seed", o.seed, "seed of the random network (and batch)")->capture_default_str();
}

struct GradcheckOptions {
  NetworkOptions network;
  int batch = 4;
};

int run_gradcheck(const GradcheckOptions& o) {
  if (o.batch < 1) throw UsageError("--batch must be at least 1, got " + std::to_string(o.batch));
  const NetworkSpec spec = o.network.spec();
  const Loss loss = parse_loss(o.network.loss, "--loss");
  const GradcheckResult r = gradcheck(spec, loss, o.network.seed, o.batch);
  std::printf("gradcheck %s, %s loss, batch %d, seed %llu: backprop vs central finite differences (fp64)\n",
              spec.to_string().c_str(), name_of(loss).c_str(), o.batch, (unsigned long long)o.network.seed);
  for (const GradcheckLayer& layer : r.layers)
    std::printf("  layer %d: relative error %s\n", layer.layer, format_number(layer.relative_error, 3).c_str());
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
  return [o] { return run_gradcheck(*o); };
}

Run add_explain(CLI::App& app) {
  auto o = std::make_shared<ExplainOptions>();
  CLI::App* c = app.add_subcommand("explain", "one data point through the network, every quantity by the notes' names");
  add_network_options(*c, o->network);
  c->add_option("--model", o->model, "model file (default: a Glorot network from --layers and --seed)");
  c->add_option("--x", o->x, "the inputs, e.g. 0.5,-1 (write --x=-1,2 when the first is negative)")->required();
  c->add_option("--y", o->y, "the target(s), e.g. 0.3")->required();
  return [o] { return run_explain(*o); };
}

}  // namespace sigtrain::cli
