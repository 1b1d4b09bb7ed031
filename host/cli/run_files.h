// The files a run of one network writes as it goes, shared by the single run (train_command.cpp) and
// the data-parallel run (train_data_parallel.cpp): the --log (README "Files": a CSV row per epoch,
// read while it grows), the --checkpoint (train/checkpoint.h) and, at the end, the --plot.
#pragma once

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "mpi/communicator.h"
#include "run/console.h"
#include "run/train_plan.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "train_options.h"

namespace sigtrain::cli {

// The log, written in place, not atomically as the models are: it is read while it grows (tail -f, a
// plot), and a killed run's log is the record of its epochs. A fresh run starts it with its header; a
// resumed run (`resumed_from` and `resume` given) goes on in the log of the run it continues, after a
// line that says from which epoch (rows the stopped run wrote after its checkpoint stay, above it).
// Throws InputError when it cannot be written. An empty path: no log (the stream stays closed).
std::ofstream open_run_log(const std::string& path, const std::string& loss, const std::string& resumed_from = "",
                           const Checkpoint* resume = nullptr);
// The log's row writer for the observer (each row flushed whole); empty for a closed log.
std::function<void(const EpochReport&)> epoch_log_writer(std::ofstream& log);

// ConsoleObserver that also writes the run's checkpoint to `path` whenever the trainer reports its
// progress: every --checkpoint-every epochs, and when stopped (an empty path: none, as on the ranks
// of a data-parallel job other than rank 0, which writes the job's one checkpoint).
class CheckpointingObserver : public ConsoleObserver {
 public:
  CheckpointingObserver(int epochs, std::string loss, bool quiet, std::function<void(const EpochReport&)> log,
                        std::string path, const Model& like, RunSettings run);

  void on_progress(const TrainProgress& progress) override;
  // The epochs done in the last checkpoint written (-1: none yet).
  int written_epoch() const { return written_epoch_; }
  // "; checkpoint F (after epoch N) resumes it with --resume" for an interrupted run's line, or "".
  std::string resume_hint() const;

 private:
  std::string path_;
  const Model& like_;
  RunSettings run_;
  int written_epoch_ = -1;
};

// The end of the log and the plot, however training ended (an interrupted or diverged run shows the
// epochs it finished): why it ended early and the kept epoch's line (where that is not simply the last
// one) in the log (`log` may be closed), and --plot's chart (where `plot` is not empty).
void finish_log_and_plot(std::ofstream& log, const std::string& plot, const TrainPlan& plan, const TrainResult& result);

// The end of a single network's run, however it ended: saves the model (a diverged run's last finite
// one beside --save, which keeps what it held: last_finite_path), ends the log and the plot, prints
// `end_lines` (run_end_lines's, or a data-parallel run's), and returns the exit status: 0, or 130/143
// for an interrupted run (its line on stderr names the saved model and the checkpoint to resume from);
// a diverged run throws (fail_on_every_rank: in a job every rank holds the one network, diverged alike).
// Only rank 0 of `ranks` (a data-parallel job's; one process: itself) writes files and prints.
int finish_single_run(const TrainOptions& o, const TrainPlan& plan, const TrainResult& result, const Model& trained,
                      const std::vector<std::string>& end_lines, std::ofstream& log,
                      const CheckpointingObserver& observer, Communicator& ranks);

}  // namespace sigtrain::cli
