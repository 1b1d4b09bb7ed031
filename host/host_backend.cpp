#include "host_backend.h"

#include <stdexcept>

namespace sigtrain {

void HostBackend::begin_epoch(const EpochOrder& order) {
  if (order.shuffle)
    order_ = epoch_permutation(train().size, order.seed);
  else
    order_.clear();
  epoch_loss_sum_ = 0.0;
}

const Dataset& HostBackend::train() const {
  if (!train_) throw std::logic_error("set_training_data must be called before training");
  return *train_;
}

}  // namespace sigtrain
