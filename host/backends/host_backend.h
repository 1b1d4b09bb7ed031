// What the two host backends (reference, cpu) share: the training set they read rows from, the
// epoch's order, and the running loss sum.
#pragma once

#include <vector>

#include "backends/backend.h"

namespace sigtrain {

class HostBackend : public Backend {
 public:
  using Backend::Backend;
  void set_training_data(const Dataset& train) override { train_ = &train; }
  void begin_epoch(const EpochOrder& order) override;
  double epoch_loss_sum() override { return epoch_loss_sum_; }

 protected:
  // Row of the training set taken at position `position` of this epoch's order.
  size_t row_at(size_t position) const { return shuffled_ ? permutation_.order()[position] : position; }
  const Dataset& train() const;
  // This epoch's order (empty: file order).
  const std::vector<uint32_t>& epoch_order() const {
    static const std::vector<uint32_t> file_order;  // empty: the rows in sequence
    return shuffled_ ? permutation_.order() : file_order;
  }

  double epoch_loss_sum_ = 0.0;

 private:
  const Dataset* train_ = nullptr;
  EpochPermutation permutation_;  // this epoch's order when shuffled_
  bool shuffled_ = false;
};

}  // namespace sigtrain
