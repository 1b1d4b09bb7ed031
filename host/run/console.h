// What a training run prints on stdout: the first line, one line per epoch (and a progress bar on a
// terminal), and the lines after the epochs. `sigtrain train` and the Python module's verbose runs
// print through these, so that both show the same lines.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "run/train_plan.h"
#include "train/replicas.h"
#include "train/trainer.h"

namespace sigtrain {

// "sigtrain train: backend …; network …; data … (N training, M validation samples); batch …, lr …, …"
// `rows`: the training and validation samples to name, where they are not the plan's own (a
// data-parallel run names the whole job's, every rank's part).
struct SampleCounts {
  size_t training = 0, validation = 0;
};
std::string run_header_line(const RunOptions& o, const TrainPlan& plan, const std::string& backend_text,
                            const SampleCounts* rows = nullptr);
// The first line of a run of many networks (--replicas / --sweep).
std::string replicas_header_line(const RunOptions& o, const TrainPlan& plan, size_t networks, int parallel,
                                 bool fused_kernel);

// Where a run's lines go, one whole line at a time (without its newline): the program's stdout, or
// the Python module's sys.stdout (a notebook shows what Python prints, not what C writes to fd 1).
using PrintLine = std::function<void(const std::string& line)>;
// Writes the line and a newline to stdout, and flushes (the lines of a long run show as they come).
void print_to_stdout(const std::string& line);

// Prints the epoch lines through `print` (stdout when empty) and, printing to a terminal's stdout, a
// progress bar; also hands every epoch to `on_epoch_also` where set (the program's --log). Prints
// nothing when quiet.
class ConsoleObserver : public TrainObserver {
 public:
  ConsoleObserver(int epochs, std::string loss, bool quiet, std::function<void(const EpochReport&)> on_epoch_also = {},
                  PrintLine print = {});

  void on_epoch(const EpochReport& r) override;
  void on_step(int epoch, size_t done, size_t total) override;
  void on_verify(const VerifyReport& r) override;

 private:
  int width() const { return int(std::to_string(epochs_).size()); }

  int epochs_;
  std::string loss_;
  bool quiet_, bar_;
  std::function<void(const EpochReport&)> on_epoch_also_;
  PrintLine print_;
  long steps_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

// "kept epoch 7 (val_mse 0.0021)": which epoch's model a run with keep best or patience ends with;
// empty for a run that simply keeps its last.
std::string kept_model_line(const TrainPlan& plan, const TrainResult& result);
// "val_mse in the data's units: …": with standardised targets the epoch lines are in standardised units;
// the kept model's validation MSE in the data's own, as eval would print it. Empty where that does not
// apply. Sets `backend`'s parameters to the trained model's.
std::string data_units_line(const TrainPlan& plan, const TrainResult& result, Backend& backend, const Model& trained);

// The lines after the epoch lines, each where it applies: kept_model_line, data_units_line, and why
// the run stopped early.
std::vector<std::string> run_end_lines(const TrainPlan& plan, const TrainResult& result, Backend& backend,
                                       const Model& trained);

// One network's line at the end of a run of many: its settings, then its losses and how it ended.
std::string network_line(size_t r, const ReplicaResult& x, const std::string& loss, bool best);
// "seed 3, lr 0.2"
std::string settings_text(const NetworkSettings& s);

}  // namespace sigtrain
