// sigtrain train --replicas R / --sweep key=values: many networks at once over the same data, one line
// per network at the end, every model with --save-all, the best (by validation loss) with --save.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

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

// The model a replica ends with: the run's network, loss, optimizer and standardisation, with its
// own parameters and optimizer state.
Model trained_model(const Model& start, const TrainResult& result) {
  Model m = start;
  m.parameters = result.parameters;
  m.optimizer_state = result.optimizer_state;
  return m;
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
                o.backend == "cpu" || !cuda_backend_available() ? (", " + std::to_string(run.parallel) + " at a time").c_str() : "",
                plan.data_name.c_str(), split.train.size, split.validation.size, o.batch, o.epochs,
                describe_setup(plan).c_str());
  begin_interruptible();
  const std::vector<ReplicaResult> results = train_replicas(run, settings, split.train, split.validation, &g_stop_requested);
  end_interruptible();
  if (terminal) std::fputs("\r\033[K", stderr);

  const int best = best_replica(results);
  bool interrupted = false;
  for (size_t r = 0; r < results.size(); ++r) {
    const ReplicaResult& x = results[r];
    interrupted = interrupted || x.result.outcome == TrainOutcome::interrupted;
    if (!o.quiet)
      std::printf("network %zu  %s  train_%s %s  val_%s %s%s%s\n", r, settings_text(x.settings).c_str(), loss.c_str(),
                  format_number(x.train_loss).c_str(), loss.c_str(), std::isnan(x.validation_loss) ? "-" : format_number(x.validation_loss).c_str(),
                  x.result.outcome == TrainOutcome::diverged ? "  diverged: " : "",
                  x.result.outcome == TrainOutcome::diverged ? x.result.message.c_str() : (int(r) == best ? "  best" : ""));
    if (!o.save_all.empty())
      save_model(trained_model(start, x.result), (std::filesystem::path(o.save_all) / model_file_name(r, x.settings)).string());
  }
  if (!o.save.empty() && best >= 0) {
    save_model(trained_model(start, results[size_t(best)].result), o.save);
    if (!o.quiet) std::printf("saved network %d (%s) to %s\n", best, settings_text(results[size_t(best)].settings).c_str(), o.save.c_str());
  }
  if (!o.save_all.empty() && !o.quiet) std::printf("saved every model to %s\n", o.save_all.c_str());
  if (interrupted) {
    std::fprintf(stderr, "sigtrain: interrupted; the models so far are saved where asked\n");
    return 130;
  }
  if (best < 0) throw InputError("every network diverged (try a smaller --lr)");
  return 0;
}

}  // namespace sigtrain::cli
