// Standardisation (--standardize inputs|targets|both): each input and/or target column shifted by its
// mean and divided by its standard deviation, both fitted on the training split only. The network
// trains on standardised values; the model file keeps the statistics, and predict and eval undo them,
// so that a user sees outputs and errors in the data's own units.
//
//   x' = (x − mean_x) / scale_x          ŷ = ŷ' · scale_y + mean_y
//
// A column with no spread (scale 0, e.g. a constant input) gets scale 1, so it is only shifted.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace sigtrain {

enum class StandardizeWhat { none, inputs, targets, both };
StandardizeWhat parse_standardize(const std::string& name);  // throws UsageError
std::string name_of(StandardizeWhat what);

struct Standardization {
  // Empty when that side is not standardised; else one value per column.
  std::vector<double> input_mean, input_scale;    // n0 each
  std::vector<double> target_mean, target_scale;  // nL each

  bool inputs() const { return !input_mean.empty(); }
  bool targets() const { return !target_mean.empty(); }
  bool none() const { return !inputs() && !targets(); }
  StandardizeWhat what() const;

  // Fitted on `train` (mean and population standard deviation per column, in double). For a training
  // set held in parts (one per rank of a job), `train` is this rank's, and sum_over_parts(values, n)
  // sums n values over the parts, the same on every rank (the communicator's sum in rank order): the
  // column sums, then the sums of squared deviations from the common mean, are summed, giving the
  // figures of the whole set within rounding (summed in another order). Empty: `train` is the whole set.
  static Standardization fit(const Dataset& train, StandardizeWhat what,
                             const std::function<void(double*, size_t)>& sum_over_parts = {});

  // The data set with its inputs and targets standardised (a copy; targets only where it has them).
  Dataset apply(const Dataset& d) const;
  // x' for `count` samples of n0 inputs (column-major, as a Dataset's), into out (may be x's copy).
  void apply_inputs(const float* x, size_t count, std::vector<float>& out) const;
  // ŷ = ŷ'·scale + mean, in place, for `count` samples of nL outputs.
  void invert_targets(double* yhat, size_t count) const;
};

}  // namespace sigtrain
