#include "run_files.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "model/model_file.h"
#include "mpi/rank_errors.h"
#include "tools/plot.h"
#include "util/errors.h"
#include "util/file_util.h"
#include "util/format.h"

namespace sigtrain::cli {

std::ofstream open_run_log(const std::string& path, const std::string& loss, const std::string& resumed_from,
                           const Checkpoint* resume) {
  std::ofstream log;
  if (path.empty()) return log;
  std::error_code no_size;
  const bool continuing = resume && std::filesystem::file_size(path, no_size) > 0 && !no_size;
  log.open(path, continuing ? std::ios::app : std::ios::trunc);
  if (!log) throw InputError(path + ": cannot write the log");
  if (continuing)
    log << "# resumed from " << resumed_from << " after epoch " << resume->progress.epochs_done << "\n";
  else
    log << "epoch,train_" << loss << ",val_" << loss << ",samples_per_second,elapsed_seconds,lr\n";
  return log;
}

std::function<void(const EpochReport&)> epoch_log_writer(std::ofstream& log) {
  if (!log.is_open()) return {};
  return [&log](const EpochReport& r) {
    log << r.epoch << ',' << format_number(r.train_loss, 9) << ','
        << (std::isnan(r.validation_loss) ? "" : format_number(r.validation_loss, 9)) << ','
        << format_number(r.samples_per_second, 6) << ',' << format_number(r.elapsed_seconds, 6) << ','
        << format_number(r.lr, 9) << '\n';
    log.flush();
  };
}

CheckpointingObserver::CheckpointingObserver(int epochs, std::string loss, bool quiet,
                                             std::function<void(const EpochReport&)> log, std::string path,
                                             const Model& like, RunSettings run)
    : ConsoleObserver(epochs, std::move(loss), quiet, std::move(log)),
      path_(std::move(path)),
      like_(like),
      run_(std::move(run)) {}

void CheckpointingObserver::on_progress(const TrainProgress& progress) {
  if (path_.empty()) return;
  save_checkpoint(path_, like_, progress, run_);
  written_epoch_ = progress.epochs_done;
}

std::string CheckpointingObserver::resume_hint() const {
  if (written_epoch_ < 0) return "";
  return "; checkpoint " + path_ + " (after epoch " + std::to_string(written_epoch_) + ") resumes it with --resume";
}

void finish_log_and_plot(std::ofstream& log, const std::string& plot, const TrainPlan& plan, const TrainResult& result) {
  if (log.is_open() && (result.outcome == TrainOutcome::interrupted || result.outcome == TrainOutcome::diverged))
    log << "# " << result.message << "\n";
  const std::string kept = kept_model_line(plan, result);
  if (!kept.empty() && log.is_open()) log << "# " << kept << "\n";
  if (!plot.empty())
    write_file_atomically(plot, line_chart_svg(training_curves_chart(
                                    result.epochs, "sigtrain train: " + plan.start.parameters.spec.to_string() + " on " +
                                                       plan.data_name)));
}

int finish_single_run(const TrainOptions& o, const TrainPlan& plan, const TrainResult& result, const Model& trained,
                      const std::vector<std::string>& end_lines, std::ofstream& log,
                      const CheckpointingObserver& observer, Communicator& ranks) {
  const bool writes = ranks.rank() == 0;
  const bool diverged = result.outcome == TrainOutcome::diverged;
  const std::string save_to = o.save.empty() ? "" : diverged ? last_finite_path(o.save) : o.save;
  if (writes) {
    if (!save_to.empty()) save_model(trained, save_to);
    finish_log_and_plot(log, o.plot, plan, result);
    // Then the kept epoch, the validation loss in the data's units and why the run stopped early.
    if (!o.quiet)
      for (const std::string& line : end_lines) std::printf("%s\n", line.c_str());
  }
  switch (result.outcome) {
    case TrainOutcome::completed:
    case TrainOutcome::stopped_early:
      if (writes && !o.quiet && !o.save.empty()) std::printf("saved %s\n", o.save.c_str());
      return 0;
    case TrainOutcome::interrupted:
      if (writes)
        std::fprintf(stderr, "sigtrain: %s%s%s%s\n", result.message.c_str(), stopping_signal_text().c_str(),
                     o.save.empty() ? "" : ("; saved the model to " + o.save).c_str(), observer.resume_hint().c_str());
      return interrupted_exit_code();
    case TrainOutcome::diverged:
      fail_on_every_rank(ranks, result.message +
                                    (o.save.empty() ? "" : "; saved it to " + save_to + ", " + o.save + " left as it was"));
  }
  return 1;
}

}  // namespace sigtrain::cli
