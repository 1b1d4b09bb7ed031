#include "tools/gradcheck.h"

#include <algorithm>
#include <numeric>
#include <unordered_set>

#include "data/dataset.h"
#include "backends/reference/reference.h"
#include "util/rng.h"
#include "train/trainer.h"  // relative_difference

namespace sigtrain {

namespace {

// (Loss(θ + h e_k) − Loss(θ − h e_k)) / 2h; `shifted` holds θ and is left as it was.
double central_difference(Parameters& shifted, size_t k, Loss loss, const double* X, const double* Y, int B,
                          double h) {
  const double theta = shifted.values[k];
  shifted.values[k] = theta + h;
  const double up = reference::loss(shifted, loss, X, Y, B);
  shifted.values[k] = theta - h;
  const double down = reference::loss(shifted, loss, X, Y, B);
  shifted.values[k] = theta;
  return (up - down) / (2.0 * h);
}

// Parameters of layer l (W_l and b_l, adjacent in the flat layout): [begin, end).
size_t layer_begin(const NetworkSpec& spec, int l) { return spec.weight_offset(l); }
size_t layer_end(const NetworkSpec& spec, int l) { return spec.weight_offset(l + 1); }

// `count` distinct numbers below n, at random (Floyd's algorithm: count draws, whatever n).
std::vector<size_t> sample_below(size_t n, size_t count, Rng& rng) {
  std::unordered_set<size_t> chosen;
  for (size_t j = n - count; j < n; ++j) {
    const size_t t = size_t(rng.below(j + 1));
    chosen.insert(chosen.count(t) ? j : t);
  }
  std::vector<size_t> sorted(chosen.begin(), chosen.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

}  // namespace

Parameters finite_difference_gradient(const Parameters& p, Loss loss, const double* X, const double* Y, int B,
                                      double h) {
  Parameters grad(p.spec);
  Parameters shifted = p;
  for (size_t k = 0; k < p.values.size(); ++k) grad.values[k] = central_difference(shifted, k, loss, X, Y, B, h);
  return grad;
}

void random_batch(const NetworkSpec& spec, Loss loss, uint64_t seed, int B, std::vector<double>& X,
                  std::vector<double>& Y) {
  X.resize(size_t(spec.inputs()) * B);
  Y.resize(size_t(spec.outputs()) * B);
  draw_random_samples(seed ^ 0xBA7C4ull, X, Y);  // a different stream from the initialisation's
  if (loss == Loss::bce)
    for (double& y : Y) y = (y + 1.0) / 2.0;
}

size_t default_gradcheck_entries(const NetworkSpec& spec, int B) {
  const double P = double(spec.parameter_count());
  const double per_entry = 2.0 * P * double(std::max(B, 1));  // two forward passes
  const double fitting = kGradcheckDefaultWork / per_entry;
  if (fitting >= P) return 0;
  return std::max(kGradcheckMinEntries, size_t(fitting));
}

std::vector<size_t> gradcheck_entries(const NetworkSpec& spec, size_t entries, uint64_t seed) {
  const size_t P = spec.parameter_count();
  std::vector<size_t> all;
  if (entries == 0 || entries >= P) {
    all.resize(P);
    std::iota(all.begin(), all.end(), size_t(0));
    return all;
  }
  // Shares by water-filling: the layers in increasing size, each taking min(its size, an even share of
  // what is left).
  const int L = spec.num_layers();
  std::vector<int> by_size(L);
  std::iota(by_size.begin(), by_size.end(), 1);
  const auto size_of = [&](int l) { return layer_end(spec, l) - layer_begin(spec, l); };
  std::stable_sort(by_size.begin(), by_size.end(), [&](int a, int b) { return size_of(a) < size_of(b); });
  std::vector<size_t> share(L + 1);
  size_t left = entries;
  for (int k = 0; k < L; ++k) {
    const int l = by_size[k];
    share[l] = std::min(size_of(l), left / size_t(L - k));
    left -= share[l];
  }
  Rng rng(seed ^ 0x6C5A3E11ull);  // a stream of its own, apart from the network's and the batch's
  for (int l = 1; l <= L; ++l)
    for (size_t k : sample_below(size_of(l), share[l], rng)) all.push_back(layer_begin(spec, l) + k);
  return all;
}

GradcheckResult compare_with_finite_differences(const Parameters& p, const Parameters& backprop, Loss loss,
                                                const double* X, const double* Y, int B,
                                                const std::vector<size_t>& entries,
                                                const GradcheckProgress& progress) {
  const NetworkSpec& spec = p.spec;
  Parameters shifted = p;
  GradcheckResult result;
  size_t next = 0;  // entries are sorted, so each layer's are consecutive
  for (int l = 1; l <= spec.num_layers(); ++l) {
    std::vector<double> exact, numeric;
    for (; next < entries.size() && entries[next] < layer_end(spec, l); ++next) {
      exact.push_back(backprop.values[entries[next]]);
      numeric.push_back(central_difference(shifted, entries[next], loss, X, Y, B, kFiniteDifferenceStep));
      if (progress) progress(next + 1, entries.size());
    }
    GradcheckLayer layer{l, relative_difference(exact.data(), numeric.data(), exact.size()), exact.size(),
                         layer_end(spec, l) - layer_begin(spec, l)};
    result.worst = std::max(result.worst, layer.relative_error);
    result.entries_checked += layer.entries_checked;
    result.layers.push_back(layer);
  }
  return result;
}

GradcheckResult gradcheck(const NetworkSpec& spec, Loss loss, uint64_t seed, int B, size_t entries,
                          const GradcheckProgress& progress) {
  Parameters p = glorot_uniform(spec, seed);
  if (spec.bias) {
    // Glorot starts biases at 0; random biases exercise the bias gradients properly.
    Rng rng(seed ^ 0xB1A5ull);
    for (int l = 1; l <= spec.num_layers(); ++l)
      for (int i = 0; i < spec.widths[l]; ++i) p.b(l)[i] = rng.uniform(-0.5, 0.5);
  }
  std::vector<double> X, Y;
  random_batch(spec, loss, seed, B, X, Y);
  Parameters backprop;
  const double f = reference::loss_and_gradients(p, loss, X.data(), Y.data(), B, backprop);
  GradcheckResult result = compare_with_finite_differences(p, backprop, loss, X.data(), Y.data(), B,
                                                           gradcheck_entries(spec, entries, seed), progress);
  result.loss = f;
  return result;
}

}  // namespace sigtrain
