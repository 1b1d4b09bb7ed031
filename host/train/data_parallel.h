// One network trained by every rank of a job on its share of the data (--data-parallel), as a
// NetworkGroup of one network, so that the trainer's loop (train/trainer.h: epochs, schedule,
// validation, early stopping, the kept model) drives it unchanged.
//
// Each rank holds a part of the training set (train/data_shard.h: the job's set is the parts in rank
// order) and steps on its shard of every global batch of B = --batch samples, in the global epoch
// order of a single process. Two ways to combine the ranks:
//
// Gradients every step (average_every = 0). Rank r computes, at the common parameters θ, the sums
//   G_r = Σ_{s in its shard} ∇ℓ_s(θ)   and   F_r = Σ_{s in its shard} ℓ_s(θ)
// (the backend's loss_and_gradients gives the shard's means; times its count). The communicator sums
// them in rank order, ((G_0 + G_1) + G_2) + …, the same bits on every rank and in every run for a
// rank count, and every rank applies the optimizer (kernels/math/optimizer.h, through the fp64
// reference's optimizer_update) to θ with g = G / |batch|, exactly as a single process steps on the
// whole batch. The parameters and the optimizer's state are kept here in fp64, identical on every
// rank; the backend gets θ after every update. Per step: one sum of P + 2 doubles.
//
// Gradients every step, on the device (given a DeviceRankSum, mpi/device_rank_sum.h: NCCL, for a
// backend that steps_with_device_sums: the cuda backend's cuBLAS path). The same sums, G_r and F_r,
// never leave the GPU: the backend packs them, the DeviceRankSum adds them in rank order with the host
// sum's code (math/rank_sum.h), and the backend's own optimizer kernel steps its fp32 parameters with
// g = G / |batch| (Backend::data_parallel_step), identically on every rank. The parameters, the
// optimizer's state and the epoch's loss are the backend's; only the stop flag goes through the
// communicator each step (one double).
//
// Local SGD (average_every = K > 0): each rank steps its backend on its own shard of each global step
// (the backend's ordinary train_step: each shard's mean, at the rank's own parameters), and every K
// steps, and at the end of every epoch (so that validation and the kept model see one network), the
// parameters and the optimizer's state (momentum, Adam's moments; its step count too) are replaced by
// their mean over the ranks. Per K steps: one sum of P·(1 + slots) + 2 doubles.
//
// --verify-every N (verify_every): before every N-th step of the run, each rank compares its backend
// with the fp64 reference on its shard of the step, at the parameters the backend then holds (the
// common ones; local SGD's own between averages), and the ranks take the largest differences over all
// of them: every rank gets the same report (rank 0's observer prints it) and, past kVerifyTolerance,
// throws the same InputError.
//
// The trainer's stop flag (Ctrl-C) is agreed at each sum (an OR over the ranks, carried in the same
// sum), so every rank stops after the same step. Every rank must call everything here in the same
// order, as the trainer does.
#pragma once

#include <atomic>
#include <functional>
#include <vector>

#include "backends/backend.h"
#include "mpi/communicator.h"
#include "mpi/device_rank_sum.h"
#include "train/data_shard.h"
#include "train/network_group.h"
#include "train/trainer.h"

namespace sigtrain {

// Where this rank's `rows` lie among the job's: the rows of the ranks before it, in rank order, and
// the job's total (a collective: every rank calls it).
struct JobRows {
  RowBlock mine;
  size_t total = 0;
};
JobRows rows_in_job(Communicator& communicator, size_t rows);

class DataParallelGroup : public NetworkGroup {
 public:
  // `backend` computes on this rank's part; `stop` is this rank's own stop flag (null: none), and
  // agreed_stop() the one to give the trainer. With device_sum (gradients every step only, and a
  // backend that steps_with_device_sums; else invalid_argument), the sums stay on the device.
  DataParallelGroup(Backend& backend, Communicator& communicator, int average_every,
                    const std::atomic<bool>* stop = nullptr, DeviceRankSum* device_sum = nullptr);

  const std::atomic<bool>* agreed_stop() const { return &agreed_stop_; }
  // Seconds spent in the communicator's sums so far (the bench's communication time), and how many.
  // With measure_waiting, a barrier before each sum is timed apart (waiting_seconds: for the slowest
  // rank to arrive), so that the sum's own cost shows; it costs a barrier's latency per sum.
  double communication_seconds() const { return communication_seconds_; }
  double waiting_seconds() const { return waiting_seconds_; }
  long sums() const { return sums_; }
  void measure_waiting(bool on) { measure_waiting_ = on; }
  // --verify-every: every `every` steps of the run (0: never), report(step's report) on every rank.
  void verify_every(int every, std::function<void(const VerifyReport&)> report) {
    verify_every_ = every;
    report_ = std::move(report);
  }

  size_t size() const override { return 1; }
  void set_parameters(size_t r, const Parameters& p) override;
  Parameters parameters(size_t r) const override;
  void set_optimizer_state(size_t r, const OptimizerState& state) override;
  OptimizerState optimizer_state(size_t r) const override;
  void set_learning_rates(const std::vector<double>& lrs) override { lr_ = lrs.at(0); }
  // This rank's part of the training set; its place among the parts is found here (a collective).
  void set_training_data(const Dataset& train) override;
  void begin_epoch(const std::vector<EpochOrder>& orders) override;
  void train_steps(size_t first, size_t end, size_t batch) override;
  size_t steps_per_call(size_t) const override { return 1; }
  void epoch_loss_sums(double* sums) override;
  // With gradients every step the loss sum is known after each step (it came with the gradients);
  // local SGD's needs a sum of its own, taken at the end of the epoch only.
  bool loss_is_cheap_to_read() const override { return host_model(); }
  size_t rows_in_all_parts(const Dataset& part) override;
  Evaluation evaluate(size_t r, const Dataset& part) override;  // over every rank's part
  void evaluate_all(const Dataset& part, Evaluation* out) override { out[0] = evaluate(0, part); }

 private:
  // Gradients every step with the sums on the host: the model is kept here, in fp64.
  bool host_model() const { return average_every_ == 0 && !device_sum_; }
  void gather_step_rows(size_t step);  // the rows of this rank's shard of the step into x_, y_
  // The steps and the verification work on the rows gather_step_rows put in x_, y_.
  void gradient_step(size_t step, size_t global_count);
  void device_gradient_step(size_t step, size_t global_count);
  void local_step(size_t step);
  void verify(size_t step);  // the shard of `step` (in x_, y_) against the reference, over every rank (see above)
  void make_shard(size_t batch);
  // Local SGD: every rank's parameters and optimizer state replaced by their mean over the ranks (and,
  // where loss_sum is given, the ranks' epoch loss sums summed into it, in the same sum).
  void average_models(double* loss_sum);
  // sum_in_rank_order of `values`, whose last entry this puts this rank's stop flag in (OR-ed over the
  // ranks into agreed_stop_), timed.
  void sum(std::vector<double>& values);

  Backend& backend_;
  Communicator& comm_;
  const int average_every_;
  const std::atomic<bool>* stop_;
  DeviceRankSum* const device_sum_;
  std::atomic<bool> agreed_stop_{false};
  double lr_ = 0;
  const Dataset* part_ = nullptr;
  RowBlock mine_;
  size_t global_rows_ = 0;
  EpochShuffle order_;
  EpochShard shard_;
  size_t shard_batch_ = 0;  // the batch shard_ was made for (0: not made for this epoch yet)
  Dataset epoch_part_;  // local SGD: this rank's rows in the epoch's order (the backend's training set)
  // gradients every step: the common model, in fp64
  Parameters params_;
  OptimizerState state_;
  Parameters grad_;
  std::vector<float> x_, y_;
  std::vector<double> buffer_;
  double epoch_loss_ = 0;
  long steps_since_average_ = 0;
  double communication_seconds_ = 0, waiting_seconds_ = 0;
  bool measure_waiting_ = false;
  long sums_ = 0;
  int verify_every_ = 0;
  std::function<void(const VerifyReport&)> report_;
  long steps_done_ = 0;  // this run's steps so far (--verify-every counts them)
};

}  // namespace sigtrain
