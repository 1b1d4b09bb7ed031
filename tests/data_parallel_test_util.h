// Data-parallel training (train/data_parallel.h) against the single-process run, for the unit tests
// (one rank, tests/test_data_shard.cpp) and the MPI tests under mpirun (tests/mpi/test_data_parallel.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "backend_test_util.h"
#include "mpi/communicator.h"
#include "train/data_parallel.h"
#include "train/data_shard.h"
#include "train/trainer.h"

namespace sigtrain::testing {

// One case: a network with biases and two hidden layers, random data of 1,000 rows (never zeros),
// batch 48 (21 steps an epoch, the last one partial: 16 samples), 5 epochs: 105 steps, at a step
// schedule, so every rank's shards, the partial batch and the changing rate are all exercised.
struct DataParallelCase {
  std::string backend = "cpu";
  OptimizerKind optimizer = OptimizerKind::sgd;
  int average_every = 0;
};

inline void PrintTo(const DataParallelCase& c, std::ostream* os) {
  *os << c.backend << ", " << name_of(c.optimizer) << ", average every " << c.average_every;
}

inline NetworkSpec data_parallel_spec() {
  NetworkSpec spec = parse_widths("4,9,7,2", true);
  spec.hidden = Activation::tanh;
  return spec;
}

inline TrainingSetup data_parallel_setup(const DataParallelCase& c) {
  TrainingSetup setup;
  setup.optimizer.kind = c.optimizer;
  return setup;
}

inline TrainConfig data_parallel_config(const DataParallelCase& c) {
  TrainConfig config;
  config.epochs = 5;
  config.batch = 48;
  config.lr = c.optimizer == OptimizerKind::adam ? 0.003 : 0.05;
  config.schedule.kind = ScheduleKind::step;
  config.schedule.step_every = 2;
  config.seed = 7;
  return config;
}

constexpr size_t kDataParallelRows = 1000;

inline Dataset data_parallel_data() { return random_dataset(data_parallel_spec(), kDataParallelRows, 11); }

// The single process: the whole set, the ordinary trainer.
inline TrainResult train_whole(const DataParallelCase& c, const Dataset& whole, const Dataset& validation = {}) {
  const NetworkSpec spec = data_parallel_spec();
  auto backend = make_backend(c.backend, spec, data_parallel_setup(c));
  TrainObserver quiet;
  return train(*backend, random_parameters(spec, 3), whole, validation, data_parallel_config(c), quiet);
}

// This rank's part of the data-parallel run over `comm`'s ranks.
inline TrainResult train_part(const DataParallelCase& c, Communicator& comm, const Dataset& part,
                              const Dataset& validation = {}) {
  const NetworkSpec spec = data_parallel_spec();
  auto backend = make_backend(c.backend, spec, data_parallel_setup(c));
  DataParallelGroup group(*backend, comm, c.average_every);
  const TrainConfig config = data_parallel_config(c);
  TrainObserver quiet;
  return std::move(train_group(group, {random_parameters(spec, 3)}, {{config.seed, config.lr}}, part, validation,
                               config, quiet)[0]);
}

// Rows [block.first, block.first + block.count) of d.
inline Dataset rows_of(const Dataset& d, RowBlock block) {
  std::vector<size_t> rows;
  for (size_t k = 0; k < block.count; ++k) rows.push_back(block.first + k);
  return select_rows(d, rows);
}

// The largest relative difference of the parameters, max|a − b| / max|b|.
inline double parameters_difference(const TrainResult& a, const TrainResult& b) {
  return relative_difference(a.parameters.values.data(), b.parameters.values.data(), b.parameters.values.size());
}

// fp32 after ~100 steps: the cpu backend's own tolerance against the fp64 reference is 4e-5
// (kHundredStepsTolerance); the issue asks data-parallel to equal the single process within 1e-5.
constexpr double kDataParallelTolerance = 1e-5;

}  // namespace sigtrain::testing
