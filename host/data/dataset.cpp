#include "data/dataset.h"

#include <algorithm>
#include <cmath>

#include "util/errors.h"
#include "util/rng.h"
#include "math/shuffle_key.h"

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
  if (!(fraction >= 0.0 && fraction < 1.0))
    throw UsageError("--val-split must be in [0, 1), got " + std::to_string(fraction));
  const size_t held_out = size_t(std::floor(fraction * double(d.size)));
  if (held_out >= d.size)
    throw UsageError("--val-split " + std::to_string(fraction) + " leaves no sample of " + d.name +
                     " to train on");
  const std::vector<uint32_t> order = epoch_permutation(d.size, kValidationSplitSeed);
  std::vector<size_t> validation_rows(order.begin(), order.begin() + held_out);
  std::vector<bool> is_validation(d.size, false);
  for (size_t r : validation_rows) is_validation[r] = true;
  std::sort(validation_rows.begin(), validation_rows.end());  // keep the file order
  std::vector<size_t> train_rows;
  train_rows.reserve(d.size - held_out);
  for (size_t r = 0; r < d.size; ++r)
    if (!is_validation[r]) train_rows.push_back(r);
  return {select_rows(d, train_rows), select_rows(d, validation_rows)};
}

const std::vector<uint32_t>& EpochPermutation::make(size_t n, uint64_t epoch_seed_value) {
  // The stable sort of the indices by their 64-bit keys — exactly Thrust's stable_sort_by_key on the
  // device — in linear time, because it runs every epoch: the keys are uniformly random, so bucket
  // ⌊key·n / 2⁶⁴⌋ (which grows with the key) holds about one of them; the indices enter their buckets
  // in increasing order, and one insertion-sort pass by key (stable) orders the few that share one.
  const auto bucket_of = [n](uint64_t key) { return size_t((unsigned __int128)key * n >> 64); };
  keys_.resize(n);
  start_.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    keys_[i] = shuffle_key(epoch_seed_value, i);
    ++start_[bucket_of(keys_[i]) + 1];
  }
  for (size_t b = 0; b < n; ++b) start_[b + 1] += start_[b];
  items_.resize(n);
  for (size_t i = 0; i < n; ++i) items_[start_[bucket_of(keys_[i])]++] = {keys_[i], uint32_t(i)};
  for (size_t j = 1; j < n; ++j)
    for (size_t k = j; k > 0 && items_[k - 1].key > items_[k].key; --k) std::swap(items_[k - 1], items_[k]);
  order_.resize(n);
  for (size_t i = 0; i < n; ++i) order_[i] = items_[i].index;
  return order_;
}

std::vector<uint32_t> epoch_permutation(size_t n, uint64_t epoch_seed_value) {
  EpochPermutation permutation;
  return permutation.make(n, epoch_seed_value);
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
