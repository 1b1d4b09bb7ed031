// Data-parallel training (train/data_parallel.h) against the single-process run, for the unit tests
// (one rank, tests/test_data_shard.cpp) and the MPI tests under mpirun (tests/mpi/test_data_parallel.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend_test_util.h"
#include "backends/reference/reference.h"
#include "mpi/communicator.h"
#include "mpi/device_rank_sum.h"
#include "train/data_parallel.h"
#include "train/data_shard.h"
#include "train/trainer.h"
#include "util/errors.h"

namespace sigtrain::testing {

// One case: a network with biases and two hidden layers, random data of 1,000 rows (never zeros),
// batch 48 (21 steps an epoch, the last one partial: 16 samples), 5 epochs: 105 steps, at a step
// schedule, so every rank's shards, the partial batch and the changing rate are all exercised.
// device_sums: "" the host's MPI sums; "stand-in" the device branch on the host (DeviceSumsStandIn
// below); "nccl" the cuda backend's cuBLAS path with NCCL's sums on the GPU.
struct DataParallelCase {
  std::string backend = "cpu";
  OptimizerKind optimizer = OptimizerKind::sgd;
  int average_every = 0;
  std::string device_sums;
};

inline void PrintTo(const DataParallelCase& c, std::ostream* os) {
  *os << c.backend << ", " << name_of(c.optimizer) << ", average every " << c.average_every
      << (c.device_sums.empty() ? "" : ", device sums: " + c.device_sums);
}

// A case's name in the parameterised suites: backend_optimizer[_local_sgd][_nccl].
inline std::string data_parallel_case_name(const ::testing::TestParamInfo<DataParallelCase>& info) {
  const DataParallelCase& c = info.param;
  return c.backend + "_" + name_of(c.optimizer) + (c.average_every ? "_local_sgd" : "") +
         (c.device_sums == "nccl" ? "_nccl" : c.device_sums == "stand-in" ? "_stand_in" : "");
}

// Whether a case can run here, and if so each rank's GPU made current for a cuda case; else why not.
// An NCCL case (the cuBLAS path with NCCL's sums on the GPUs) needs a build with NCCL, a usable GPU and
// one for every rank on the machine (nccl_fits_ranks): the same answer on every rank, so that all skip.
inline bool case_runs_here(const DataParallelCase& c, Communicator& comm, std::string* why_not) {
  if (c.device_sums == "nccl") {
    if (!cuda_backend_available(why_not)) return false;
    if (!nccl_fits_ranks(comm)) {
      *why_not = built_with_nccl() ? "fewer GPUs than ranks on this machine" : "built without NCCL";
      return false;
    }
  }
  if (c.backend == "cuda") use_cuda_device_of_rank(comm.local_rank());
  return true;
}

// A backend that keeps its sums "on a device" (Backend::data_parallel_step), on the host: a wrapped
// backend computes the shard's gradient, "device memory" is host memory, the DeviceRankSum is the
// communicator's sum, and the step's arithmetic is the host branch's (sums in fp64, the reference's
// optimizer on fp64 parameters). So DataParallelGroup's device branch must give the host branch's
// bits exactly: what it would catch is the branch itself (an epoch loss not reset or not the job's,
// parameters or optimizer state read from the wrong place, a step's sum skipped or repeated).
class DeviceSumsStandIn : public Backend {
 public:
  explicit DeviceSumsStandIn(std::unique_ptr<Backend> inner) : Backend(inner->spec(), inner->setup()), inner_(std::move(inner)) {}
  std::string name() const override { return inner_->name() + " (device sums stand-in)"; }
  void set_parameters(const Parameters& p) override {
    params_ = p;
    inner_->set_parameters(p);
  }
  Parameters parameters() const override { return params_; }
  void set_optimizer_state(const OptimizerState& state) override { state_ = state; }
  OptimizerState optimizer_state() const override { return state_; }
  void set_training_data(const Dataset&) override { throw std::logic_error("the stand-in trains on given batches only"); }
  void begin_epoch(const EpochOrder&) override { epoch_loss_ = 0; }
  void train_step(size_t, size_t, double) override { throw std::logic_error("the stand-in trains on given batches only"); }
  double epoch_loss_sum() override { return epoch_loss_; }
  void predict_logits(const float* x, size_t count, double* z) override { inner_->predict_logits(x, count, z); }
  // The device branch asks for data_parallel_step only: a group that took the host branch (or asked
  // for host gradients beside the device step) fails here.
  double loss_and_gradients(const Batch&, Parameters&) override {
    throw std::logic_error("the device-sums branch asked for host gradients");
  }
  bool steps_with_device_sums() const override { return true; }
  void data_parallel_step(const Batch& batch, size_t global_count, double lr, DeviceRankSum& sum) override {
    const size_t P = params_.values.size();
    std::vector<double> sums(P + 1, 0.0);  // [G_r, F_r]
    if (batch.count > 0) {
      const double mean_loss = inner_->loss_and_gradients(batch, grad_);
      for (size_t k = 0; k < P; ++k) sums[k] = grad_.values[k] * double(batch.count);
      sums[P] = mean_loss * double(batch.count);
    }
    sum.sum_in_rank_order(sums.data(), sums.size(), nullptr);
    for (size_t k = 0; k < P; ++k) sums[k] /= double(global_count);
    reference::optimizer_update(setup().optimizer, lr, state_, params_.values.data(), sums.data(), P);
    inner_->set_parameters(params_);
    epoch_loss_ += sums[P];
  }

 private:
  std::unique_ptr<Backend> inner_;
  Parameters params_, grad_;
  OptimizerState state_;
  double epoch_loss_ = 0;
};

// The communicator's sum, as a DeviceRankSum of host memory (for DeviceSumsStandIn).
class HostRankSum : public DeviceRankSum {
 public:
  explicit HostRankSum(Communicator& comm) : comm_(comm) {}
  void sum_in_rank_order(double* values, size_t n, void*) override { comm_.sum_in_rank_order(values, n); }
  std::string name() const override { return "the communicator's sum"; }

 private:
  Communicator& comm_;
};

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
// The case's backend (cuda: its cuBLAS path, the one that keeps sums on the device).
inline std::unique_ptr<Backend> data_parallel_backend(const DataParallelCase& c) {
  BackendOptions options;
  if (c.backend == "cuda") options.kernel = "cublas";
  return make_backend(c.backend, data_parallel_spec(), data_parallel_setup(c), options);
}

inline TrainResult train_whole(const DataParallelCase& c, const Dataset& whole, const Dataset& validation = {}) {
  const NetworkSpec spec = data_parallel_spec();
  auto backend = data_parallel_backend(c);
  TrainObserver quiet;
  return train(*backend, random_parameters(spec, 3), whole, validation, data_parallel_config(c), quiet);
}

// This rank's part of the data-parallel run over `comm`'s ranks.
inline TrainResult train_part(const DataParallelCase& c, Communicator& comm, const Dataset& part,
                              const Dataset& validation = {}) {
  const NetworkSpec spec = data_parallel_spec();
  auto backend = data_parallel_backend(c);
  std::unique_ptr<DeviceRankSum> device_sum;
  if (c.device_sums == "stand-in") {
    backend = std::make_unique<DeviceSumsStandIn>(std::move(backend));
    device_sum = std::make_unique<HostRankSum>(comm);
  } else if (c.device_sums == "nccl") {
    device_sum = make_nccl_rank_sum(comm);
  }
  DataParallelGroup group(*backend, comm, c.average_every, nullptr, device_sum.get());
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

// DataParallelGroup's branch for sums kept on the device, run by DeviceSumsStandIn, against the host
// branch on the same part: the same bits, every epoch's losses too (sgd and adam).
inline void expect_device_branch_gives_host_branchs_bits(Communicator& comm, const Dataset& part,
                                                         const Dataset& validation) {
  for (OptimizerKind optimizer : {OptimizerKind::sgd, OptimizerKind::adam}) {
    const TrainResult host = train_part({"cpu", optimizer, 0, ""}, comm, part, validation);
    const TrainResult device = train_part({"cpu", optimizer, 0, "stand-in"}, comm, part, validation);
    EXPECT_EQ(device.parameters.values, host.parameters.values) << name_of(optimizer);
    EXPECT_EQ(device.optimizer_state.values, host.optimizer_state.values);
    EXPECT_EQ(device.optimizer_state.steps, host.optimizer_state.steps);
    ASSERT_EQ(device.epochs.size(), host.epochs.size());
    for (size_t e = 0; e < host.epochs.size(); ++e) {
      EXPECT_EQ(device.epochs[e].train_loss, host.epochs[e].train_loss) << "epoch " << e + 1;
      EXPECT_EQ(device.epochs[e].validation_loss, host.epochs[e].validation_loss) << "epoch " << e + 1;
    }
  }
}


// A cpu backend whose gradients are off by 0.1% (loss_and_gradients scales them by 1.001): what
// --verify-every must catch.
class ScaledGradientsBackend : public Backend {
 public:
  explicit ScaledGradientsBackend(std::unique_ptr<Backend> inner)
      : Backend(inner->spec(), inner->setup()), inner_(std::move(inner)) {}
  std::string name() const override { return "scaled-gradients"; }
  void set_parameters(const Parameters& p) override { inner_->set_parameters(p); }
  Parameters parameters() const override { return inner_->parameters(); }
  void set_optimizer_state(const OptimizerState& state) override { inner_->set_optimizer_state(state); }
  OptimizerState optimizer_state() const override { return inner_->optimizer_state(); }
  void set_training_data(const Dataset& train) override { inner_->set_training_data(train); }
  void begin_epoch(const EpochOrder& order) override { inner_->begin_epoch(order); }
  void train_step(size_t first, size_t count, double lr) override { inner_->train_step(first, count, lr); }
  double epoch_loss_sum() override { return inner_->epoch_loss_sum(); }
  void predict_logits(const float* x, size_t count, double* z) override { inner_->predict_logits(x, count, z); }
  double loss_and_gradients(const Batch& batch, Parameters& grad) override {
    const double loss = inner_->loss_and_gradients(batch, grad);
    for (double& g : grad.values) g *= 1.001;
    return loss;
  }

 private:
  std::unique_ptr<Backend> inner_;
};

// --verify-every 5 over `comm`'s ranks (gradients every step and local SGD): with the cpu backend every
// 5th step of the 105 is reported (21 reports), within the tolerance, the same report on every rank;
// with gradients off by 0.1% the run stops at step 0 with the InputError naming it, on every rank.
// Catches a verification that checks nothing, checks only rank 0's shard, lets the ranks disagree
// (one throwing while the others wait: a hang, which ctest's timeout ends), or counts steps wrongly.
inline void expect_verify_every_over_ranks(Communicator& comm, const Dataset& part) {
  const NetworkSpec spec = data_parallel_spec();
  for (int average_every : {0, 4}) {
    const DataParallelCase c{"cpu", OptimizerKind::sgd, average_every, ""};
    TrainObserver quiet;
    auto backend = data_parallel_backend(c);
    DataParallelGroup group(*backend, comm, average_every);
    std::vector<VerifyReport> reports;
    group.verify_every(5, [&](const VerifyReport& r) { reports.push_back(r); });
    const TrainConfig config = data_parallel_config(c);
    train_group(group, {random_parameters(spec, 3)}, {{config.seed, config.lr}}, part, Dataset{}, config, quiet);
    ASSERT_EQ(reports.size(), 21u) << "average every " << average_every;
    std::string mine;
    for (size_t k = 0; k < reports.size(); ++k) {
      EXPECT_EQ(reports[k].step, long(5 * k));
      EXPECT_LE(reports[k].gradient_difference, kVerifyTolerance);
      EXPECT_GT(reports[k].gradient_difference, 0.0);  // (fp32 against fp64: never exactly 0)
      for (const double d : {reports[k].gradient_difference, reports[k].loss_difference})
        mine.append(reinterpret_cast<const char*>(&d), sizeof d);  // the bits, not a rounded text
    }
    for (const std::string& theirs : comm.all_gather(mine)) EXPECT_EQ(theirs, mine) << "the ranks' reports differ";

    auto wrong = std::make_unique<ScaledGradientsBackend>(data_parallel_backend(c));
    DataParallelGroup wrong_group(*wrong, comm, average_every);
    wrong_group.verify_every(5, nullptr);
    try {
      train_group(wrong_group, {random_parameters(spec, 3)}, {{config.seed, config.lr}}, part, Dataset{}, config, quiet);
      ADD_FAILURE() << "gradients off by 0.1% passed --verify-every";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("at step 0 the scaled-gradients backend differs"), std::string::npos) << e.what();
    }
  }
}

}  // namespace sigtrain::testing
