#include "data/dataset.h"

#include <algorithm>
#include <cmath>

#include "data/epoch_order.h"
#include "util/errors.h"
#include "util/rng.h"

namespace sigtrain {

Dataset select_rows(const Dataset& d, const std::vector<size_t>& rows) {
  Dataset out;
  out.name = d.name;
  out.inputs = d.inputs;
  out.outputs = d.outputs;
  out.size = rows.size();
  out.x.reserve(rows.size() * size_t(d.inputs));
  out.y.reserve(rows.size() * size_t(d.outputs));
  for (size_t r : rows) {
    out.x.insert(out.x.end(), d.x_of(r), d.x_of(r) + d.inputs);
    if (d.outputs > 0) out.y.insert(out.y.end(), d.y_of(r), d.y_of(r) + d.outputs);
  }
  return out;
}

// The validation set is fixed by the data alone, not by --seed: a constant seed for its permutation.
constexpr uint64_t kValidationSplitSeed = 0x5EED'0F'7A11DA7Eull;

TrainValidation split_validation(const Dataset& d, double fraction) {
  return split_validation_part(d, fraction, 0, d.size);
}

TrainValidation split_validation_part(const Dataset& d, double fraction, size_t first_row, size_t total_rows) {
  if (!(fraction >= 0.0 && fraction < 1.0))
    throw UsageError("--val-split must be in [0, 1), got " + std::to_string(fraction));
  const size_t held_out = size_t(std::floor(fraction * double(total_rows)));
  if (held_out >= total_rows)
    throw UsageError("--val-split " + std::to_string(fraction) + " leaves no sample of " + d.name +
                     " to train on");
  // The first held_out positions of the permutation, a run at a time; the rows among them that are
  // this part's are its validation rows.
  const EpochShuffle order = make_epoch_shuffle(total_rows, true, kValidationSplitSeed);
  std::vector<bool> is_validation(d.size, false);
  std::vector<uint32_t> rows(std::min<size_t>(held_out, size_t(1) << 16));
  for (size_t first = 0; first < held_out; first += rows.size()) {
    const size_t count = std::min(rows.size(), held_out - first);
    epoch_rows(order, first, count, rows.data());
    for (size_t k = 0; k < count; ++k)
      if (rows[k] - first_row < d.size) is_validation[rows[k] - first_row] = true;  // (unsigned: below wraps)
  }
  std::vector<size_t> train_rows, validation_rows;  // in file order
  for (size_t r = 0; r < d.size; ++r) (is_validation[r] ? validation_rows : train_rows).push_back(r);
  return {select_rows(d, train_rows), select_rows(d, validation_rows)};
}

const std::vector<std::string>& synthetic_names() {
  static const std::vector<std::string> names = {"sine", "xor"};
  return names;
}

Dataset synthetic_dataset(const std::string& name, size_t samples, uint64_t seed) {
  if (samples == 0) throw UsageError("--samples must be at least 1");
  Dataset d;
  d.name = name;
  d.inputs = 2;
  d.outputs = 1;
  d.size = samples;
  d.x.resize(2 * samples);
  d.y.resize(samples);
  Rng rng(seed);
  if (name == "sine") {
    for (size_t s = 0; s < samples; ++s) {
      const double x1 = rng.uniform(-2.0, 2.0), x2 = rng.uniform(-2.0, 2.0);
      d.x[2 * s] = float(x1);
      d.x[2 * s + 1] = float(x2);
      // The target is computed from the stored (float) inputs, so the data are self-consistent.
      d.y[s] = float(std::sin(double(d.x[2 * s])) * std::cos(double(d.x[2 * s + 1])));
    }
  } else if (name == "xor") {
    for (size_t s = 0; s < samples; ++s) {
      const int x1 = int(rng.below(2)), x2 = int(rng.below(2));
      d.x[2 * s] = float(x1);
      d.x[2 * s + 1] = float(x2);
      d.y[s] = float(x1 ^ x2);
    }
  } else {
    throw UsageError("unknown synthetic data set '" + name + "' (known: sine, xor)");
  }
  return d;
}

Dataset random_dataset(int inputs, int outputs, size_t samples, uint64_t seed) {
  Dataset d;
  d.name = "random";
  d.inputs = inputs;
  d.outputs = outputs;
  d.size = samples;
  d.x.resize(samples * size_t(inputs));
  d.y.resize(samples * size_t(outputs));
  draw_random_samples(seed, d.x, d.y);
  return d;
}

namespace {
template <typename T>
void draw(uint64_t seed, std::vector<T>& X, std::vector<T>& Y) {
  Rng rng(seed);
  for (T& v : X) v = T(rng.uniform(-2, 2));
  for (T& v : Y) v = T(rng.uniform(-1, 1));
}
}  // namespace

void draw_random_samples(uint64_t seed, std::vector<float>& X, std::vector<float>& Y) { draw(seed, X, Y); }
void draw_random_samples(uint64_t seed, std::vector<double>& X, std::vector<double>& Y) { draw(seed, X, Y); }

}  // namespace sigtrain
