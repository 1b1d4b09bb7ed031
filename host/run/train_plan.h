// From a run's options (run_options.h) and its data to a TrainPlan: the network, loss, optimizer and
// standardisation (from the options, or a starting model's where an option is not given), the data
// split and standardised, and the loop's settings. The program (`sigtrain train`) and the Python
// module plan their runs here, so that the same options and data make the same run.
#pragma once

#include <functional>
#include <string>

#include "backends/backend.h"
#include "data/dataset.h"
#include "model/model.h"
#include "run/run_options.h"
#include "train/trainer.h"

namespace sigtrain {

// What a run is made of.
struct TrainPlan {
  Model start;            // the network and its parameters (Glorot from the seed, or the starting model's), the
                          // loss, the optimizer with its state (the starting model's when it is the same
                          // optimizer), the standardisation
  std::string data_name;  // where the data came from
  TrainValidation split;  // standardised as start.standardization says (fitted on the training part)
  Dataset raw_validation; // the validation part in the data's own units (for the final figure)
  TrainConfig config;     // epochs, batch, lr and schedule, seed, order, early stopping, keep
  bool continued_state = false;  // whether the optimizer goes on from the starting model's state
};

// Data that are one rank's part of a set held in parts (data-parallel training, train/data_parallel.h):
// the part's first row in the whole set, the whole set's rows, and a sum over the parts (the
// communicator's sum in rank order).
struct DataPart {
  size_t first_row = 0;
  size_t total_rows = 0;
  std::function<void(double*, size_t)> sum_over_parts;
};

// Where the run's data and starting model come from, and what the memory estimate
// (train/memory_estimate.h) needs to know before the data are there.
struct PlanInputs {
  // Makes the data set for the network (reads a file, draws a built-in set, or takes arrays in memory),
  // checking that its columns fit it. Called once, after the network is known.
  std::function<Dataset(const NetworkSpec&)> load_data;
  size_t rows_before_loading = 0;  // the rows where known before load_data (a built-in set, arrays)
  size_t file_bytes = 0;           // otherwise a data file's size, counted instead
  // Where the data loaded are a part (DataPart above), which: the split and the standardisation are then
  // those of the whole set. Empty: the data are whole.
  std::function<DataPart(const Dataset& part)> part_of;
  const Model* init = nullptr;     // a model to start from (--init), named init_name in messages
  std::string init_name;
  bool saves = false, checkpoints = false, resumes = false;  // files the run writes or reads (memory)
};

// Usage errors in the options, before any work.
void check_run_options(const RunOptions& o);
// Throws UsageError / InputError for what does not fit together (the starting model against the
// options, bce with targets outside [0, 1], not enough memory, …).
TrainPlan make_train_plan(const RunOptions& o, const PlanInputs& inputs);
BackendOptions backend_options(const RunOptions& o);
// bce's targets are probabilities: throws InputError (exit 1) unless every one is in [0, 1].
void check_probability_targets(const Dataset& d);
// The settings beyond the notes' defaults, for the first line of output: "; adam (…), cosine schedule, …"
// (empty for a run with every default).
std::string describe_setup(const TrainPlan& plan);
// "mse" or "bce": the name the epoch lines and the log give the loss.
std::string loss_label(const TrainPlan& plan);

}  // namespace sigtrain
