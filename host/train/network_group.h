// Networks of one shape trained together, in lockstep, over the same training set: each with its own
// parameters, optimizer state, learning rate and epoch order, all stepped by the same call (one
// network spec and one TrainingSetup for all). The trainer drives a group
// (host/train/trainer.h). One Backend is a group of one; BackendGroup steps several backends in turn; the
// fused kernel trains a whole group of replicas in each of its launches (FusedNetworks,
// host/backends/cuda/fused_networks.h).
#pragma once

#include <vector>

#include "backends/backend.h"

namespace sigtrain {

class NetworkGroup {
 public:
  virtual ~NetworkGroup() = default;

  virtual size_t size() const = 0;  // R, the networks
  virtual void set_parameters(size_t r, const Parameters& p) = 0;
  virtual Parameters parameters(size_t r) const = 0;
  virtual void set_optimizer_state(size_t r, const OptimizerState& state) = 0;
  virtual OptimizerState optimizer_state(size_t r) const = 0;
  // One per network, for the steps that follow (the trainer sets them every epoch, from the schedule).
  virtual void set_learning_rates(const std::vector<double>& lrs) = 0;
  // As Backend's: the training set (kept for the run), each network's epoch order, and steps of
  // `batch` over positions [first, end) of every network's order (the last step possibly smaller).
  virtual void set_training_data(const Dataset& train) = 0;
  virtual void begin_epoch(const std::vector<EpochOrder>& orders) = 0;  // one per network
  virtual void train_steps(size_t first, size_t end, size_t batch) = 0;
  virtual size_t steps_per_call(size_t batch) const = 0;
  // Backend::epoch_loss_sum of each network, into sums[0 … R) (the trainer reads them after every
  // step where that is cheap, so no allocation here). As there, it returns only once every step given
  // so far has finished: the trainer reads its clock for the epoch's time after this.
  virtual void epoch_loss_sums(double* sums) = 0;
  virtual bool loss_is_cheap_to_read() const = 0;
  virtual Evaluation evaluate(size_t r, const Dataset& d) = 0;  // Backend::evaluate of network r
  // evaluate(r, d) of every network into out[0 … R), the trainer's validation of an epoch in one call.
  // Here network after network; a group on a device overrides it with one pass over all of them
  // (FusedNetworks: figures within rounding of evaluate's, summed in another order).
  virtual void evaluate_all(const Dataset& d, Evaluation* out);
  // parameters(r) and optimizer_state(r) of every network, into parameters[0 … R) and states[0 … R):
  // the trainer's copy of the models after an epoch, in one call. Here network after network; a group
  // on a device overrides it with one copy of each buffer for all networks (FusedNetworks).
  virtual void snapshot(std::vector<Parameters>& parameters, std::vector<OptimizerState>& states) const;
  // The rows of the data set `part` is a part of: part.size here; a group whose data are split over the
  // ranks of a job (train/data_parallel.h) counts every rank's part (a collective). The trainer's epoch
  // covers that many positions, and validates where the validation set has any row on any rank.
  virtual size_t rows_in_all_parts(const Dataset& part) { return part.size; }
};

// Backends, each one network of the group, stepped one after another at each call.
class BackendGroup : public NetworkGroup {
 public:
  explicit BackendGroup(std::vector<Backend*> backends) : backends_(std::move(backends)), lrs_(backends_.size()) {}

  size_t size() const override { return backends_.size(); }
  void set_parameters(size_t r, const Parameters& p) override { backends_[r]->set_parameters(p); }
  Parameters parameters(size_t r) const override { return backends_[r]->parameters(); }
  void set_optimizer_state(size_t r, const OptimizerState& state) override { backends_[r]->set_optimizer_state(state); }
  OptimizerState optimizer_state(size_t r) const override { return backends_[r]->optimizer_state(); }
  void set_learning_rates(const std::vector<double>& lrs) override { lrs_ = lrs; }
  void set_training_data(const Dataset& train) override;
  void begin_epoch(const std::vector<EpochOrder>& orders) override;
  void train_steps(size_t first, size_t end, size_t batch) override;
  size_t steps_per_call(size_t batch) const override;
  void epoch_loss_sums(double* sums) override;
  bool loss_is_cheap_to_read() const override;
  Evaluation evaluate(size_t r, const Dataset& d) override { return backends_[r]->evaluate(d); }

 private:
  std::vector<Backend*> backends_;
  std::vector<double> lrs_;
};

}  // namespace sigtrain
