#include "data/standardize.h"

#include <cmath>

#include "util/errors.h"

namespace sigtrain {

namespace {

// Mean and population standard deviation of each of `columns` columns of a column-major n × N block
// (a Dataset's x or y), in double; a column with no spread gets scale 1. sum_over_parts (may be empty:
// the block is the whole set) sums the column sums, and then the squared deviations, over the parts
// of a set held in parts; N is then the whole set's.
void fit_columns(const std::vector<float>& values, int columns, size_t N, std::vector<double>& mean,
                 std::vector<double>& scale, const std::function<void(double*, size_t)>& sum_over_parts = {}) {
  const size_t n = values.size() / size_t(columns);  // this part's rows (N without parts)
  mean.assign(size_t(columns), 0.0);
  scale.assign(size_t(columns), 0.0);
  for (size_t s = 0; s < n; ++s)
    for (int c = 0; c < columns; ++c) mean[c] += values[s * columns + c];
  if (sum_over_parts) sum_over_parts(mean.data(), mean.size());
  for (int c = 0; c < columns; ++c) mean[c] /= double(N);
  for (size_t s = 0; s < n; ++s)
    for (int c = 0; c < columns; ++c) {
      const double d = values[s * columns + c] - mean[c];
      scale[c] += d * d;
    }
  if (sum_over_parts) sum_over_parts(scale.data(), scale.size());
  for (int c = 0; c < columns; ++c) {
    scale[c] = std::sqrt(scale[c] / double(N));
    if (!(scale[c] > 0.0) || !std::isfinite(scale[c])) scale[c] = 1.0;
  }
}

void standardize_columns(const float* in, size_t N, const std::vector<double>& mean, const std::vector<double>& scale,
                         float* out) {
  const size_t columns = mean.size();
  for (size_t s = 0; s < N; ++s)
    for (size_t c = 0; c < columns; ++c) out[s * columns + c] = float((in[s * columns + c] - mean[c]) / scale[c]);
}

}  // namespace

StandardizeWhat parse_standardize(const std::string& name) {
  if (name == "none") return StandardizeWhat::none;
  if (name == "inputs") return StandardizeWhat::inputs;
  if (name == "targets") return StandardizeWhat::targets;
  if (name == "both") return StandardizeWhat::both;
  throw UsageError("--standardize: '" + name + "' is not one of none, inputs, targets, both");
}

std::string name_of(StandardizeWhat what) {
  switch (what) {
    case StandardizeWhat::inputs:
      return "inputs";
    case StandardizeWhat::targets:
      return "targets";
    case StandardizeWhat::both:
      return "both";
    case StandardizeWhat::none:
    default:
      return "none";
  }
}

StandardizeWhat Standardization::what() const {
  if (inputs() && targets()) return StandardizeWhat::both;
  if (inputs()) return StandardizeWhat::inputs;
  if (targets()) return StandardizeWhat::targets;
  return StandardizeWhat::none;
}

Standardization Standardization::fit(const Dataset& train, StandardizeWhat what,
                                     const std::function<void(double*, size_t)>& sum_over_parts) {
  Standardization s;
  if (what == StandardizeWhat::none) return s;
  double rows = double(train.size);
  if (sum_over_parts) sum_over_parts(&rows, 1);
  const size_t N = size_t(rows);
  if (N == 0) throw UsageError("--standardize needs training data to fit on");
  if (what == StandardizeWhat::inputs || what == StandardizeWhat::both)
    fit_columns(train.x, train.inputs, N, s.input_mean, s.input_scale, sum_over_parts);
  if (what == StandardizeWhat::targets || what == StandardizeWhat::both)
    fit_columns(train.y, train.outputs, N, s.target_mean, s.target_scale, sum_over_parts);
  return s;
}

Dataset Standardization::apply(const Dataset& d) const {
  Dataset out = d;
  if (inputs()) standardize_columns(d.x.data(), d.size, input_mean, input_scale, out.x.data());
  if (targets() && d.outputs > 0) standardize_columns(d.y.data(), d.size, target_mean, target_scale, out.y.data());
  return out;
}

void Standardization::apply_inputs(const float* x, size_t count, std::vector<float>& out) const {
  out.resize(count * input_mean.size());
  standardize_columns(x, count, input_mean, input_scale, out.data());
}

void Standardization::invert_targets(double* yhat, size_t count) const {
  const size_t columns = target_mean.size();
  for (size_t s = 0; s < count; ++s)
    for (size_t c = 0; c < columns; ++c) yhat[s * columns + c] = yhat[s * columns + c] * target_scale[c] + target_mean[c];
}

}  // namespace sigtrain
