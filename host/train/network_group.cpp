#include "train/network_group.h"

#include <algorithm>

namespace sigtrain {

void NetworkGroup::evaluate_all(const Dataset& d, Evaluation* out) {
  for (size_t r = 0; r < size(); ++r) out[r] = evaluate(r, d);
}

void NetworkGroup::snapshot(std::vector<Parameters>& parameters, std::vector<OptimizerState>& states) const {
  parameters.resize(size());
  states.resize(size());
  for (size_t r = 0; r < size(); ++r) {
    parameters[r] = this->parameters(r);
    states[r] = optimizer_state(r);
  }
}

void BackendGroup::set_training_data(const Dataset& train) {
  for (Backend* b : backends_) b->set_training_data(train);
}

void BackendGroup::begin_epoch(const std::vector<EpochOrder>& orders) {
  for (size_t r = 0; r < backends_.size(); ++r) backends_[r]->begin_epoch(orders[r]);
}

void BackendGroup::train_steps(size_t first, size_t end, size_t batch) {
  for (size_t r = 0; r < backends_.size(); ++r) backends_[r]->train_steps(first, end, batch, lrs_[r]);
}

size_t BackendGroup::steps_per_call(size_t batch) const {
  // Backends of one kind like the same number; with several kinds, the fewest (every call still
  // gives each backend whole steps).
  size_t steps = 0;
  for (const Backend* b : backends_) steps = steps == 0 ? b->steps_per_call(batch) : std::min(steps, b->steps_per_call(batch));
  return std::max<size_t>(steps, 1);
}

void BackendGroup::epoch_loss_sums(double* sums) {
  for (size_t r = 0; r < backends_.size(); ++r) sums[r] = backends_[r]->epoch_loss_sum();
}

bool BackendGroup::loss_is_cheap_to_read() const {
  return std::all_of(backends_.begin(), backends_.end(), [](const Backend* b) { return b->loss_is_cheap_to_read(); });
}

}  // namespace sigtrain
