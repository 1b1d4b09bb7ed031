// sigtrain predict / eval: a saved model applied to a data file.
#include <cstdio>
#include <memory>
#include <sstream>

#include "backends/backend.h"
#include "commands.h"
#include "util/errors.h"
#include "util/file_util.h"
#include "model/model_file.h"

namespace sigtrain::cli {

namespace {

struct ModelDataOptions {
  std::string model;
  DataOptions data;
  std::string out;
  std::string backend = "cpu";
};

void add_model_options(CLI::App& c, ModelDataOptions& o) {
  c.add_option("--model", o.model, "model file (JSON, sigtrain-model version 1 or 2)")->required()->check(not_empty());
  add_data_options(c, o.data, false);
  c.add_option("--backend", o.backend, "auto, reference, cpu or cuda")
      ->check(CLI::IsMember(backend_names()))
      ->capture_default_str();
}

void require_data(const ModelDataOptions& o) {
  if (o.data.file.empty() && o.data.synthetic.empty()) throw UsageError("--data FILE (or --synthetic NAME) is required");
}

int run_predict(const ModelDataOptions& o) {
  require_data(o);
  if (!o.out.empty()) check_writable("--out", o.out);
  const Model m = load_model(o.model);
  const Parameters& p = m.parameters;
  const Dataset d = load_data(o.data, p.spec, /*targets_optional=*/true);
  std::unique_ptr<Backend> backend = make_backend(o.backend, p.spec, m.setup);
  backend->set_parameters(p);
  const int nL = p.spec.outputs();
  std::vector<double> yhat(d.size * nL);
  predict_outputs(*backend, m.standardization, d.x.data(), d.size, yhat.data());

  // One row per sample, the outputs comma-separated, with enough digits to round-trip a float.
  std::string text;
  text.reserve(d.size * nL * 16);
  for (size_t s = 0; s < d.size; ++s)
    for (int o_ = 0; o_ < nL; ++o_) text += format_number(yhat[s * nL + o_], 9) + (o_ + 1 < nL ? "," : "\n");
  if (o.out.empty())
    std::fwrite(text.data(), 1, text.size(), stdout);
  else
    write_file_atomically(o.out, text);
  return 0;
}

int run_eval(const ModelDataOptions& o) {
  require_data(o);
  const Model m = load_model(o.model);
  const Parameters& p = m.parameters;
  const Dataset d = load_data(o.data, p.spec);
  std::unique_ptr<Backend> backend = make_backend(o.backend, p.spec, m.setup);
  backend->set_parameters(p);
  const Evaluation e = evaluate(d, p.spec, m.setup.loss,
                                [&](const float* x, size_t n, double* z) { backend->predict_logits(x, n, z); },
                                &m.standardization);
  std::printf("%s\n", format_number(m.setup.loss == Loss::mse ? e.mse : e.loss, 9).c_str());
  return 0;
}

}  // namespace

Run add_predict(CLI::App& app) {
  auto o = std::make_shared<ModelDataOptions>();
  CLI::App* c = app.add_subcommand("predict", "write the model's outputs, one row per sample");
  add_model_options(*c, *o);
  c->add_option("--out", o->out, "write the predictions to this CSV file (atomically) instead of stdout")->check(not_empty());
  return [o] { return run_predict(*o); };
}

Run add_eval(CLI::App& app) {
  auto o = std::make_shared<ModelDataOptions>();
  CLI::App* c = app.add_subcommand("eval", "print the model's MSE on a data set: (1/N) Σ_s Σ_o (ŷ − y)²");
  add_model_options(*c, *o);
  return [o] { return run_eval(*o); };
}

}  // namespace sigtrain::cli
