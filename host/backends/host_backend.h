// What the two host backends (reference, cpu) share: the training set they read rows from, the
// epoch's order, and the running loss sum.
#pragma once

#include "backends/backend.h"
#include "math/epoch_shuffle.h"

namespace sigtrain {

class HostBackend : public Backend {
 public:
  using Backend::Backend;
  void set_training_data(const Dataset& train) override;
  void begin_epoch(const EpochOrder& order) override;
  double epoch_loss_sum() override { return epoch_loss_sum_; }

 protected:
  // Row of the training set taken at position `position` of this epoch's order.
  size_t row_at(size_t position) const { return shuffle_.row(position); }
  const Dataset& train() const;
  // This epoch's order (kernels/math/epoch_shuffle.h).
  const EpochShuffle& epoch_shuffle() const { return shuffle_; }

  double epoch_loss_sum_ = 0.0;

 private:
  const Dataset* train_ = nullptr;
  EpochShuffle shuffle_;  // this epoch's order
};

}  // namespace sigtrain
