// sigtrain predict / eval: a saved model applied to a data file.
#include <cstdio>
#include <memory>
#include <sstream>

#include "backends/backend.h"
#include "commands.h"
#include "data/data_files.h"
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
  bool header = false;                    // predict: a line of column names first
  std::vector<std::string> keep_columns;  // predict: columns copied to the output, not inputs
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

// What predict reads: the samples' inputs, and the columns it passes through (--keep-columns).
struct PredictInput {
  Dataset data;
  std::vector<std::string> kept_names;  // the kept columns' header names (or "column3")
  std::vector<std::string> kept_text;   // rows × kept columns, as in the file
};

PredictInput load_predict_input(const ModelDataOptions& o, const NetworkSpec& spec) {
  if (o.keep_columns.empty()) return {load_data(o.data, spec, /*targets_optional=*/true), {}, {}};
  if (o.data.file.empty()) throw UsageError("--keep-columns needs --data FILE (a built-in set has no columns to keep)");
  Table table = read_table(o.data.file, parse_data_format(o.data.format), o.keep_columns);
  // The columns left must be the model's inputs (or inputs and targets): with the kept ones chosen by a
  // flag, a mismatch is that flag's mistake (exit 2), not the file's.
  const int n0 = spec.inputs(), nL = spec.outputs();
  if (table.columns != n0 && table.columns != n0 + nL)
    throw UsageError("--keep-columns: " + table.path + " has " +
                     std::to_string(table.columns + int(table.kept_columns.size())) + " columns; without the " +
                     std::to_string(table.kept_columns.size()) + " kept, " + std::to_string(table.columns) +
                     " are left, but the model " + spec.to_string() + " needs " + std::to_string(n0) + " (inputs) or " +
                     std::to_string(n0 + nL) + " (inputs and targets)");
  PredictInput input{dataset_from_table(table, spec, /*targets_optional=*/true), std::move(table.kept_names),
                     std::move(table.kept_text)};
  return input;
}

// predict's header line: the kept columns' names, then "prediction" (one output) or "prediction1",
// "prediction2", … — never a number, so that a CSV reader takes the line for a header.
std::string predict_header(const std::vector<std::string>& kept_names, int outputs) {
  std::string line;
  for (const std::string& name : kept_names) line += name + ",";
  for (int k = 1; k <= outputs; ++k)
    line += "prediction" + (outputs == 1 ? "" : std::to_string(k)) + (k < outputs ? "," : "\n");
  return line;
}

int run_predict(const ModelDataOptions& o) {
  require_data(o);
  if (!o.out.empty()) check_writable("--out", o.out);
  const Model m = load_model(o.model);
  const Parameters& p = m.parameters;
  const PredictInput input = load_predict_input(o, p.spec);
  const Dataset& d = input.data;
  std::unique_ptr<Backend> backend = make_backend(o.backend, p.spec, m.setup);
  backend->set_parameters(p);
  const int nL = p.spec.outputs();
  std::vector<double> yhat(d.size * nL);
  predict_outputs(*backend, m.standardization, d.x.data(), d.size, yhat.data());

  // One row per sample: the kept fields as read, then the outputs, comma-separated, with enough digits
  // to round-trip a float.
  const size_t kept = input.kept_names.size();
  std::string text = o.header ? predict_header(input.kept_names, nL) : "";
  text.reserve(text.size() + d.size * nL * 16);
  for (size_t s = 0; s < d.size; ++s) {
    for (size_t k = 0; k < kept; ++k) text += input.kept_text[s * kept + k] + ",";
    for (int o_ = 0; o_ < nL; ++o_) text += format_number(yhat[s * nL + o_], 9) + (o_ + 1 < nL ? "," : "\n");
  }
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
  c->add_flag("--header", o->header,
              "write a header line first: the kept columns' names, then prediction (or prediction1, prediction2, …)");
  c->add_option("--keep-columns", o->keep_columns,
                "CSV columns to copy to each output row before the predictions, as they are (IDs; any text): "
                "numbers from 1 or, when the file has a header, names, e.g. 1,3 or id,date; the other columns "
                "are the inputs (and targets)")
      ->delimiter(',')
      ->check(not_empty());
  return [o] { return run_predict(*o); };
}

Run add_eval(CLI::App& app) {
  auto o = std::make_shared<ModelDataOptions>();
  CLI::App* c = app.add_subcommand("eval", "print the model's MSE on a data set: (1/N) Σ_s Σ_o (ŷ − y)²");
  add_model_options(*c, *o);
  return [o] { return run_eval(*o); };
}

}  // namespace sigtrain::cli
