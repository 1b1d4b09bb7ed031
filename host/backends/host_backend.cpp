#include "backends/host_backend.h"

#include <stdexcept>

namespace sigtrain {

void HostBackend::set_training_data(const Dataset& train) {
  check_backend_limits({train.size, 0, 0});
  train_ = &train;
}

void HostBackend::begin_epoch(const EpochOrder& order) {
  shuffle_ = make_epoch_shuffle(train().size, order.shuffle, order.seed);
  epoch_loss_sum_ = 0.0;
}

const Dataset& HostBackend::train() const {
  if (!train_) throw std::logic_error("set_training_data must be called before training");
  return *train_;
}

}  // namespace sigtrain
