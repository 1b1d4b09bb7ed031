// The flags of `sigtrain train`, shared by the single run (train_command.cpp) and the replicas mode
// (train_replicas.cpp), and the plan both make of them (train_plan.cpp, with the library's run/).
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "commands.h"
#include "run/run_options.h"
#include "run/train_plan.h"

namespace sigtrain::cli {

// `sigtrain train`'s flags: the run's (run/run_options.h; `given` filled from the flags given), and
// the program's own: where the data come from, and the files it reads and writes.
struct TrainOptions : RunOptions {
  DataOptions data;
  std::string init, save, log;
  std::string plot;  // SVG of the train and validation loss per epoch
  std::string save_all;
  // --checkpoint FILE every --checkpoint-every epochs, and --resume FILE (train/checkpoint.h).
  std::string checkpoint, resume;
  int checkpoint_every = 1;
  bool quiet = false;
  // One network over the ranks of an MPI job (train_data_parallel.cpp, train/data_parallel.h): the
  // gradients summed every step, or with average_every K > 0 the models averaged every K steps.
  bool data_parallel = false;
  int average_every = 0;
};

// Usage errors in the flags, before any work: the run's (check_run_options) and the files'.
void check_options(const TrainOptions& o);
// The run's plan (run/train_plan.h) with the data and the --init model the flags name.
TrainPlan make_train_plan(const TrainOptions& o);

// Ctrl-C or SIGTERM while training: the first one sets g_stop_requested (the run stops after the step
// in progress and saves); the handler then steps aside, so a second one ends the program at once.
extern std::atomic<bool> g_stop_requested;
void begin_interruptible();
void end_interruptible();
// 128 + the signal that stopped the run: 130 for Ctrl-C, 143 for SIGTERM (the shell's convention).
int interrupted_exit_code();
// " (SIGTERM)" when that signal stopped the run, for its message; empty for Ctrl-C.
std::string stopping_signal_text();

// --data-parallel / --average-every: one network over the ranks of an MPI job (train_data_parallel.cpp).
bool wants_data_parallel(const TrainOptions& o);
int run_train_data_parallel(const TrainOptions& o);

// --replicas R / --sweep: many networks at once (train_replicas.cpp).
int run_train_replicas(const TrainOptions& o);

}  // namespace sigtrain::cli
