// sigtrain train --replicas R / --sweep key=values: many networks at once over the same data, one line
// per network at the end, every model with --save-all, the best (by validation loss) with --save.
// Under mpirun the networks are dealt over the ranks (run/replicas_over_ranks.h): each rank reads the
// data and trains its share; rank 0 gathers the results, prints and writes everything. Each phase ends
// with the ranks agreeing on failures (mpi/rank_errors.h), so that a rank that fails ends the job on
// every rank with one line, and nothing is saved.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "backends/backend.h"
#include "model/model_file.h"
#include "mpi/communicator.h"
#include "mpi/rank_errors.h"
#include "run/console.h"
#include "run/replicas_over_ranks.h"
#include "run/train_run.h"
#include "train_options.h"
#include "util/errors.h"
#include "util/file_util.h"

namespace sigtrain::cli {

namespace {

std::string model_file_name(size_t r, const NetworkSettings& s) {
  return "net-" + std::to_string(r) + "-seed" + std::to_string(s.seed) + "-lr" + format_number(s.lr) + ".json";
}

// The networks whose models are written: every one that ran with --save-all, the best with --save.
std::vector<size_t> models_to_write(const TrainOptions& o, const std::vector<ReplicaResult>& results, int best) {
  std::vector<size_t> wanted;
  for (size_t r = 0; r < results.size(); ++r)
    if ((!o.save_all.empty() && results[r].ran) || (!o.save.empty() && int(r) == best)) wanted.push_back(r);
  return wanted;
}

}  // namespace

int run_train_replicas(const TrainOptions& o) {
  Communicator& ranks = world();
  const bool rank0 = ranks.rank() == 0;
  // Every rank plans the run and reads the data itself (also checks --init against the flags).
  std::optional<TrainPlan> planned;
  ReplicasPlan replicas;
  on_every_rank(ranks, [&] {
    planned.emplace(make_train_plan(o));
    replicas = plan_replicas(o, *planned, !o.init.empty());
  });
  const TrainPlan& plan = *planned;
  const TrainValidation& split = plan.split;
  const std::string loss = loss_label(plan);
  const std::vector<NetworkSettings>& settings = replicas.settings;
  ReplicaRun& run = replicas.run;
  // This rank's share. With --threads 0 (every hardware thread), the ranks on one machine share its
  // cores. (run.options.networks stays the whole run's count: the backend chosen is the single
  // process's, and so are the bits.)
  const std::vector<size_t> share = networks_of_rank(settings.size(), ranks.rank(), ranks.size());
  std::vector<NetworkSettings> my_settings;
  for (size_t index : share) my_settings.push_back(settings[index]);
  if (o.threads <= 0) run.parallel = std::max(1, run.parallel / ranks.local_size());
  if (ranks.size() > 1) use_cuda_device_of_rank(ranks.local_rank());

  const bool terminal = rank0 && !o.quiet && isatty(STDERR_FILENO);
  size_t done = 0;
  run.on_done = [&](size_t, const ReplicaResult&) {
    if (terminal) std::fprintf(stderr, "\r%zu/%zu networks trained", ++done, my_settings.size());
  };
  run.on_progress = [&](int epoch, size_t samples, size_t total) {
    if (terminal)
      std::fprintf(stderr, "\r%zu networks: epoch %d/%d, %3.0f%%", my_settings.size(), epoch, o.epochs,
                   100.0 * double(samples) / double(std::max<size_t>(total, 1)));
  };

  if (!o.quiet && rank0) {
    std::printf("%s\n", replicas_header_line(o, plan, settings.size(), run.parallel, replicas.fused_kernel).c_str());
    if (ranks.size() > 1)
      std::printf("over %d MPI ranks: rank r trains networks r, r + %d, … (%zu on rank 0)\n", ranks.size(),
                  ranks.size(), share.size());
  }
  std::fflush(stdout);  // the lines come only at the end of a run that may be long: show this one now
  begin_interruptible();
  std::vector<ReplicaResult> trained;
  on_every_rank(ranks, [&] { trained = train_replicas(run, my_settings, split.train, split.validation, &g_stop_requested); });
  end_interruptible();
  if (terminal) std::fputs("\r\033[K", stderr);
  // Every network's figures on every rank (so that every rank ends with the same exit status); the
  // models only where they are written, on rank 0.
  const std::vector<ReplicaResult> results = gather_replica_results(ranks, settings, std::move(trained));
  const int best = best_replica(results);
  std::map<size_t, std::string> texts;
  if (ranks.size() > 1)
    on_every_rank(ranks, [&] { texts = gather_model_texts(ranks, plan, results, models_to_write(o, results, best)); });
  // A model as the single process writes it (save_model), or as its rank made its text: the same bytes.
  const auto write_network = [&](size_t r, const std::string& path) {
    if (ranks.size() == 1)
      save_model(replica_model(plan, results[r]), path);
    else
      write_file_atomically(path, texts.at(r));
  };

  size_t not_run = 0;
  for (size_t r = 0; r < results.size(); ++r) {
    const ReplicaResult& x = results[r];
    if (!o.quiet && rank0) std::printf("%s\n", network_line(r, x, loss, int(r) == best).c_str());
    if (!x.ran) ++not_run;
  }
  on_every_rank(ranks, [&] {  // rank 0 writes; a failure there ends every rank the same way
    if (!rank0) return;
    if (!o.save_all.empty() && not_run < results.size()) {
      make_folder(o.save_all);
      // A network that never ran has no model; one that diverged has its last finite model, named so.
      for (size_t r = 0; r < results.size(); ++r) {
        const ReplicaResult& x = results[r];
        if (!x.ran) continue;
        const std::string path = (std::filesystem::path(o.save_all) / model_file_name(r, x.settings)).string();
        write_network(r, x.result.outcome == TrainOutcome::diverged ? last_finite_path(path) : path);
      }
    }
    if (!o.save.empty() && best >= 0) {
      write_network(size_t(best), o.save);
      if (!o.quiet) std::printf("saved network %d (%s) to %s\n", best, settings_text(results[size_t(best)].settings).c_str(), o.save.c_str());
    }
    if (!o.save_all.empty() && !o.quiet && not_run < results.size())
      std::printf("saved %s to %s\n", not_run == 0 ? "every model" : "the models of the networks that ran", o.save_all.c_str());
  });
  const bool interrupted = std::any_of(results.begin(), results.end(),
                                       [](const ReplicaResult& x) { return x.result.outcome == TrainOutcome::interrupted; });
  if (interrupted) {
    // The signal rank 0 had (mpirun passes it on to every rank, but a rank may have finished first).
    const int exit_code = std::stoi(ranks.broadcast(std::to_string(interrupted_exit_code())));
    if (rank0)
      std::fprintf(stderr, "sigtrain: interrupted%s%s; the models so far are saved where asked\n",
                   stopping_signal_text().c_str(),
                   not_run == 0 ? "" : ("; " + std::to_string(not_run) + " of " + std::to_string(results.size()) +
                                        " networks did not run").c_str());
    return exit_code;
  }
  if (best < 0) fail_on_every_rank(ranks, "every network diverged (try a smaller --lr)");
  return 0;
}

}  // namespace sigtrain::cli
