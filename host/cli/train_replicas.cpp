// sigtrain train --replicas R / --sweep key=values: many networks at once over the same data, one line
// per network at the end, every model with --save-all, the best (by validation loss) with --save.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "model/model_file.h"
#include "run/console.h"
#include "run/train_run.h"
#include "train_options.h"
#include "util/errors.h"

namespace sigtrain::cli {

namespace {

std::string model_file_name(size_t r, const NetworkSettings& s) {
  return "net-" + std::to_string(r) + "-seed" + std::to_string(s.seed) + "-lr" + format_number(s.lr) + ".json";
}

}  // namespace

int run_train_replicas(const TrainOptions& o) {
  const TrainPlan plan = make_train_plan(o);  // also checks --init against the flags
  const TrainValidation& split = plan.split;
  const std::string loss = loss_label(plan);
  ReplicasPlan replicas = plan_replicas(o, plan, !o.init.empty());
  const std::vector<NetworkSettings>& settings = replicas.settings;
  ReplicaRun& run = replicas.run;
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
    std::printf("%s\n", replicas_header_line(o, plan, settings.size(), run.parallel, replicas.fused_kernel).c_str());
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
      save_model(replica_model(plan, x),
                 x.result.outcome == TrainOutcome::diverged ? last_finite_path(path) : path);
    }
  }
  if (!o.save.empty() && best >= 0) {
    save_model(replica_model(plan, results[size_t(best)]), o.save);
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
