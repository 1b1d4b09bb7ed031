// sigtrain train --replicas R / --sweep key=values: many networks at once over the same data, one line
// per network at the end, every model with --save-all, the best (by validation loss) with --save.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "backends/choose.h"
#include "util/errors.h"
#include "model/model_file.h"
#include "train/replicas.h"
#include "train_options.h"

namespace sigtrain::cli {

namespace {

std::string settings_text(const NetworkSettings& s) { return "seed " + std::to_string(s.seed) + ", lr " + format_number(s.lr); }

std::string model_file_name(size_t r, const NetworkSettings& s) {
  return "net-" + std::to_string(r) + "-seed" + std::to_string(s.seed) + "-lr" + format_number(s.lr) + ".json";
}

// A loss for the network lines: "-" where there is none (no finished epoch, no validation set).
std::string loss_text(double loss) { return std::isnan(loss) ? "-" : format_number(loss); }

// One network's line at the end: its settings, then its losses and how it ended. A network that never
// ran shows no losses, so that it does not read like one that diverged.
std::string network_line(size_t r, const ReplicaResult& x, const std::string& loss, bool best) {
  std::string line = "network " + std::to_string(r) + "  " + settings_text(x.settings) + "  ";
  if (!x.ran) return line + x.result.message;
  line += "train_" + loss + " " + loss_text(x.train_loss) + "  val_" + loss + " " + loss_text(x.validation_loss);
  // Interrupted in an epoch, the figures are the last finished epoch's (ReplicaResult): say which.
  const std::vector<EpochReport>& epochs = x.result.epochs;
  const bool in_epoch = !epochs.empty() && x.result.kept_epoch > epochs.back().epoch;
  switch (x.result.outcome) {
    case TrainOutcome::diverged: return line + "  diverged: " + x.result.message;
    case TrainOutcome::interrupted:
      return line + "  " + x.result.message +
             (in_epoch ? " (figures of epoch " + std::to_string(epochs.back().epoch) + ")" : "") + (best ? "  best" : "");
    default: return line + (best ? "  best" : "");
  }
}

// The model a replica ends with: the run's network, loss, optimizer and standardisation, with its
// own parameters and optimizer state.
Model trained_model(const Model& start, const TrainResult& result) {
  return with_parameters(start, result.parameters, result.optimizer_state);
}

}  // namespace

int run_train_replicas(const TrainOptions& o) {
  const TrainPlan plan = make_train_plan(o);  // also checks --init against the flags
  const Model& start = plan.start;
  const NetworkSpec& spec = start.parameters.spec;
  const TrainValidation& split = plan.split;
  const std::vector<NetworkSettings> settings = expand_sweeps(o.sweeps, o.replicas, o.seed, plan.config.lr);
  const std::string loss = loss_label(plan);

  ReplicaRun run;
  run.backend = o.backend;
  run.setup = start.setup;
  run.options = backend_options(o);
  run.options.threads = 1;  // on the host: threads over networks, one each
  run.options.networks = settings.size();  // auto chooses for all of them at once
  // The backend is chosen (and a missing device reported) before anything is printed, as a single run does.
  const BackendChoice choice = choose_backend(o.backend, spec, run.options);
  run.parallel = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  run.config = plan.config;  // its seed and lr are each replica's own
  run.initial = [&](const NetworkSettings& s) { return o.init.empty() ? glorot_uniform(spec, s.seed) : start.parameters; };
  run.initial_state = start.optimizer_state;
  const bool terminal = !o.quiet && isatty(STDERR_FILENO);
  size_t done = 0;
  run.on_done = [&](size_t, const ReplicaResult&) {
    if (terminal) std::fprintf(stderr, "\r%zu/%zu networks trained", ++done, settings.size());
  };
  run.on_progress = [&](int epoch, size_t samples, size_t total) {
    if (terminal)
      std::fprintf(stderr, "\r%zu networks: epoch %d/%d, %3.0f%%", settings.size(), epoch, o.epochs,
                   100.0 * double(samples) / double(std::max<size_t>(total, 1)));
  };

  if (!o.quiet)
    std::printf("sigtrain train: %zu networks %s; backend %s%s; data %s (%zu training, %zu validation samples); "
                "batch %lld, %d epochs%s\n",
                settings.size(), spec.to_string().c_str(), o.backend.c_str(),
                choice.kernel != CudaKernel::fused ? (", " + std::to_string(run.parallel) + " at a time").c_str() : "",
                plan.data_name.c_str(), split.train.size, split.validation.size, o.batch, o.epochs,
                describe_setup(plan).c_str());
  std::fflush(stdout);  // the lines come only at the end of a run that may be long: show this one now
  begin_interruptible();
  const std::vector<ReplicaResult> results = train_replicas(run, settings, split.train, split.validation, &g_stop_requested);
  end_interruptible();
  if (terminal) std::fputs("\r\033[K", stderr);

  const int best = best_replica(results);
  size_t not_run = 0;
  for (size_t r = 0; r < results.size(); ++r) {
    const ReplicaResult& x = results[r];
    if (!o.quiet) std::printf("%s\n", network_line(r, x, loss, int(r) == best).c_str());
    if (!x.ran) ++not_run;
  }
  if (!o.save_all.empty() && not_run < results.size()) {
    make_folder(o.save_all);
    // A network that never ran has no model; one that diverged has its last finite model, named so.
    for (size_t r = 0; r < results.size(); ++r) {
      const ReplicaResult& x = results[r];
      if (!x.ran) continue;
      const std::string path = (std::filesystem::path(o.save_all) / model_file_name(r, x.settings)).string();
      save_model(trained_model(start, x.result),
                 x.result.outcome == TrainOutcome::diverged ? last_finite_path(path) : path);
    }
  }
  if (!o.save.empty() && best >= 0) {
    save_model(trained_model(start, results[size_t(best)].result), o.save);
    if (!o.quiet) std::printf("saved network %d (%s) to %s\n", best, settings_text(results[size_t(best)].settings).c_str(), o.save.c_str());
  }
  if (!o.save_all.empty() && !o.quiet && not_run < results.size())
    std::printf("saved %s to %s\n", not_run == 0 ? "every model" : "the models of the networks that ran", o.save_all.c_str());
  const bool interrupted = std::any_of(results.begin(), results.end(),
                                       [](const ReplicaResult& x) { return x.result.outcome == TrainOutcome::interrupted; });
  if (interrupted) {
    std::fprintf(stderr, "sigtrain: interrupted%s%s; the models so far are saved where asked\n",
                 stopping_signal_text().c_str(),
                 not_run == 0 ? "" : ("; " + std::to_string(not_run) + " of " + std::to_string(results.size()) +
                                      " networks did not run").c_str());
    return interrupted_exit_code();
  }
  if (best < 0) throw InputError("every network diverged (try a smaller --lr)");
  return 0;
}

}  // namespace sigtrain::cli
