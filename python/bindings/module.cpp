// sigtrain._core: the library's runs, prediction and evaluation on NumPy arrays (pybind11). A run goes
// through the same plan, checks, trainer and model file as `sigtrain train` (host/run/); this file
// only converts between Python and the library.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arrays.h"
#include "backends/backend.h"
#include "interrupt.h"
#include "model/model_file.h"
#include "options.h"
#include "run/console.h"
#include "run/train_plan.h"
#include "run/train_run.h"
#include "util/errors.h"

namespace py = pybind11;
using namespace pybind11::literals;

namespace sigtrain::python {

namespace {

// The name the data get in the library's messages and the first line ("data arrays (…)").
constexpr char kDataName[] = "arrays";

const char* outcome_name(TrainOutcome outcome) {
  switch (outcome) {
    case TrainOutcome::completed: return "completed";
    case TrainOutcome::stopped_early: return "stopped_early";
    case TrainOutcome::interrupted: return "interrupted";
    case TrainOutcome::diverged: return "diverged";
  }
  return "completed";
}

py::list epochs_of(const TrainResult& result) {
  py::list epochs;
  for (const EpochReport& r : result.epochs) {
    py::dict e;
    e["epoch"] = r.epoch;
    e["train_loss"] = r.train_loss;
    e["validation_loss"] = r.validation_loss;
    e["lr"] = r.lr;
    e["samples_per_second"] = r.samples_per_second;
    e["elapsed_seconds"] = r.elapsed_seconds;
    epochs.append(e);
  }
  return epochs;
}

py::dict result_dict(const TrainResult& result, const std::string& model_json) {
  py::dict d;
  d["model"] = model_json;
  d["epochs"] = epochs_of(result);
  d["outcome"] = outcome_name(result.outcome);
  d["kept_epoch"] = result.kept_epoch;
  d["kept_validation_loss"] = result.kept_validation_loss;
  d["message"] = result.message;
  return d;
}

bool in_main_thread() {
  py::module_ threading = py::module_::import("threading");
  return threading.attr("current_thread")().is(threading.attr("main_thread")());
}

// A verbose run's lines go to Python's sys.stdout, not to C's stdout: a notebook, pytest's capsys or a
// redirect_stdout sees what Python prints, and the lines stay in order with the caller's own prints.
// Called from the training thread with the GIL released, it takes the GIL for each line (a line per
// epoch). A line sys.stdout refuses (closed, a broken pipe) is dropped: the run and its model matter
// more than the report of an epoch, which the result's "epochs" holds anyway.
void print_to_python(const std::string& line) {
  py::gil_scoped_acquire locked;
  try {
    py::object out = py::module_::import("sys").attr("stdout");
    out.attr("write")(line + "\n");
    out.attr("flush")();
  } catch (py::error_already_set& error) {
    error.discard_as_unraisable("sigtrain: printing a verbose line");
  }
}

// The plan of a run over X and y: the arrays are copied once, into the Dataset (fp32), after the
// network is known, with the checks a data file gets; then split and standardised as the CLI does.
TrainPlan plan_run(const RunOptions& o, const py::handle& X, const py::handle& y, const Model* init) {
  check_run_options(o);
  const HeldArray x = inputs_array(X);
  const HeldArray targets = targets_array(y);
  PlanInputs inputs;
  inputs.load_data = [&](const NetworkSpec& spec) { return dataset_from_arrays(kDataName, x.view, &targets.view, spec); };
  inputs.rows_before_loading = x.view.rows;
  inputs.init = init;
  inputs.init_name = "init_model";
  return make_train_plan(o, inputs);
}

// KeyboardInterrupt carrying the run's result (its model is the one at the stop) as `.result`.
[[noreturn]] void raise_interrupted(const std::string& message, py::object result) {
  py::object error = py::module_::import("builtins").attr("KeyboardInterrupt")(message);
  error.attr("result") = std::move(result);
  PyErr_SetObject(PyExc_KeyboardInterrupt, error.ptr());
  throw py::error_already_set();
}

// _core.DivergedError (ValueError and FloatingPointError); held for the process's life, never released
// (a py::object would be destroyed after the interpreter is gone).
py::handle g_diverged_error;

[[noreturn]] void raise_diverged(const std::string& message, py::object result) {
  py::object error = g_diverged_error(message);
  error.attr("result") = std::move(result);
  PyErr_SetObject(g_diverged_error.ptr(), error.ptr());
  throw py::error_already_set();
}

py::dict train(const py::handle& X, const py::handle& y, const py::dict& options, bool verbose,
               const std::optional<std::string>& init_model) {
  const RunOptions o = run_options_from(options);
  if (o.many()) throw UsageError("replicas and sweep train many networks: call train_many");
  // A warm start: the run goes on from this model as `--init` makes it (the same checks against the
  // options, its optimizer state and standardisation kept).
  // The library's part of the call, what `sigtrain train` does too (the plan with the data's one copy,
  // the backend, training, the model's text): the rest is the cost of calling from Python
  // (bench/python/call_overhead.py).
  const auto started = std::chrono::steady_clock::now();
  std::unique_ptr<Model> init;
  if (init_model) init = std::make_unique<Model>(model_from_json(*init_model, "init_model"));
  const TrainPlan plan = plan_run(o, X, y, init.get());
  const InterruptScope interrupt(in_main_thread());
  std::unique_ptr<SingleRunResult> ran;
  std::string model_json;
  {
    py::gil_scoped_release unlocked;
    RunBackend made = make_run_backend(o, plan);
    if (verbose) print_to_python(run_header_line(o, plan, made.description));
    ConsoleObserver observer(o.epochs, loss_label(plan), !verbose, {}, print_to_python);
    ran = std::make_unique<SingleRunResult>(
        train_single(*made.backend, plan, plan.config, observer, interrupt.stop_flag()));
    if (verbose)
      for (const std::string& line : run_end_lines(plan, ran->result, *made.backend, ran->trained))
        print_to_python(line);
    model_json = model_to_json(ran->trained);
  }
  const double library_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  py::dict result = result_dict(ran->result, model_json);
  result["library_seconds"] = library_seconds;
  if (ran->result.outcome == TrainOutcome::interrupted) raise_interrupted(ran->result.message, result);
  if (ran->result.outcome == TrainOutcome::diverged) raise_diverged(ran->result.message, result);
  return result;
}

py::list train_many(const py::handle& X, const py::handle& y, const py::dict& options, int replicas,
                    const std::vector<std::string>& sweeps, bool verbose) {
  RunOptions o = run_options_from(options);
  if (replicas != 1) set_run_option(o, "replicas", std::to_string(replicas));
  for (const std::string& sweep : sweeps) set_run_option(o, "sweep", sweep);
  const TrainPlan plan = plan_run(o, X, y, nullptr);
  const InterruptScope interrupt(in_main_thread());
  std::vector<ReplicaResult> results;
  std::vector<std::string> models;
  {
    py::gil_scoped_release unlocked;
    const ReplicasPlan many = plan_replicas(o, plan, /*from_init=*/false);
    if (verbose)
      print_to_python(replicas_header_line(o, plan, many.settings.size(), many.run.parallel, many.fused_kernel));
    results = train_replicas(many.run, many.settings, plan.split.train, plan.split.validation, interrupt.stop_flag());
    const int best = best_replica(results);
    for (size_t r = 0; r < results.size(); ++r) {
      if (verbose) print_to_python(network_line(r, results[r], loss_label(plan), int(r) == best));
      models.push_back(results[r].ran ? model_to_json(replica_model(plan, results[r])) : std::string());
    }
  }
  py::list list;
  bool interrupted = false;
  for (size_t r = 0; r < results.size(); ++r) {
    const ReplicaResult& x = results[r];
    py::dict d = result_dict(x.result, models[r]);
    if (!x.ran) d["model"] = py::none();
    d["ran"] = x.ran;
    d["seed"] = x.settings.seed;
    d["lr"] = x.settings.lr;
    d["train_loss"] = x.train_loss;
    d["validation_loss"] = x.validation_loss;
    interrupted = interrupted || x.result.outcome == TrainOutcome::interrupted;
    list.append(d);
  }
  if (interrupted) raise_interrupted("interrupted", list);
  if (best_replica(results) < 0) raise_diverged("every network diverged (try a smaller lr)", list);
  return list;
}

// The model's outputs for X, in the data's units (as `sigtrain predict`), written straight into the
// returned array.
py::array_t<double> predict(const std::string& model_json, const py::handle& X, const std::string& backend_name) {
  const Model m = model_from_json(model_json, "model");
  const Parameters& p = m.parameters;
  const HeldArray x = inputs_array(X);
  const Dataset d = dataset_from_arrays(kDataName, x.view, nullptr, p.spec);
  const size_t outputs = size_t(p.spec.outputs());
  py::array_t<double> yhat({d.size, outputs});
  double* out = yhat.mutable_data();
  {
    py::gil_scoped_release unlocked;
    std::unique_ptr<Backend> backend = make_backend(backend_name, p.spec, m.setup);
    backend->set_parameters(p);
    predict_outputs(*backend, m.standardization, d.x.data(), d.size, out);
  }
  return yhat;
}

// As `sigtrain eval`: the MSE for an mse model, the loss (bce) otherwise, in the data's units.
double evaluate_model(const std::string& model_json, const py::handle& X, const py::handle& y,
                      const std::string& backend_name) {
  const Model m = model_from_json(model_json, "model");
  const Parameters& p = m.parameters;
  const HeldArray x = inputs_array(X);
  const HeldArray targets = targets_array(y);
  const Dataset d = dataset_from_arrays(kDataName, x.view, &targets.view, p.spec);
  py::gil_scoped_release unlocked;
  std::unique_ptr<Backend> backend = make_backend(backend_name, p.spec, m.setup);
  backend->set_parameters(p);
  const Evaluation e = evaluate(d, p.spec, m.setup.loss,
                                [&](const float* xs, size_t n, double* z) { backend->predict_logits(xs, n, z); },
                                &m.standardization);
  return m.setup.loss == Loss::mse ? e.mse : e.loss;
}

}  // namespace

}  // namespace sigtrain::python

PYBIND11_MODULE(_core, m) {
  using namespace sigtrain;
  using namespace sigtrain::python;
  m.doc() = "sigtrain's C++ library: train, train_many, predict, evaluate (see the package sigtrain)";
  m.attr("__version__") = SIGTRAIN_VERSION;
  m.attr("cuda_built") =
#ifdef SIGTRAIN_HAVE_CUDA
      true;
#else
      false;
#endif
  m.attr("option_names") = run_option_names();

  // The library's errors carry one line meant for the user: ValueError with that line.
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const UsageError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const InputError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  py::object builtins = py::module_::import("builtins");
  g_diverged_error = builtins.attr("type")("DivergedError",
                                           py::make_tuple(builtins.attr("ValueError"), builtins.attr("FloatingPointError")),
                                           py::dict("__module__"_a = "sigtrain._core"))
                         .release();
  m.attr("DivergedError") = g_diverged_error;

  m.def("train", &sigtrain::python::train, py::arg("X"), py::arg("y"), py::arg("options") = py::dict(), py::arg("verbose") = false,
        py::arg("init_model") = py::none(),
        "Trains one network as `sigtrain train` would on these arrays (from init_model's text, as --init, "
        "where given); returns {model, epochs, outcome, kept_epoch, kept_validation_loss, message, "
        "library_seconds (the library's part of the call)}.");
  m.def("train_many", &sigtrain::python::train_many, py::arg("X"), py::arg("y"), py::arg("options") = py::dict(), py::arg("replicas") = 1,
        py::arg("sweeps") = std::vector<std::string>{}, py::arg("verbose") = false,
        "Trains many networks as --replicas/--sweep; one result per network, with its seed and lr.");
  m.def("predict", &sigtrain::python::predict, py::arg("model_json"), py::arg("X"), py::arg("backend") = "cpu",
        "The model's outputs (n, k) in the data's units, as `sigtrain predict`.");
  // Model files through the library's own reader and writer (one format, one atomic save: a temporary
  // beside the target renamed over it, a link's target written, the mode kept, a read-only file refused).
  m.def("model_text", [](const std::string& text) { return model_to_json(model_from_json(text, "model")); },
        py::arg("model_json"), "The model file's text as the library writes it (checked as `--init` reads it).");
  m.def("save_model", [](const std::string& text, const std::string& path) {
          const Model model = model_from_json(text, "model");
          py::gil_scoped_release unlocked;
          save_model(model, path);
        },
        py::arg("model_json"), py::arg("path"), "Writes the model file as `sigtrain train --save` does.");
  m.def("evaluate", &sigtrain::python::evaluate_model, py::arg("model_json"), py::arg("X"), py::arg("y"), py::arg("backend") = "cpu",
        "The model's MSE (its loss for bce) on X, y, as `sigtrain eval`.");
}
