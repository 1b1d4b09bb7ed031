// The network: its widths n0 … nL, whether it has biases, and one flat buffer of parameters.
//
// Layers are numbered l = 1 … L as in DESIGN.md §1; W_l is n_l × n_{l-1}, stored row-major
// (out × in, PyTorch's nn.Linear.weight order), followed by b_l (n_l) when the network has biases.
// Every backend uses this same flat layout, so one SGD update can run over all layers at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "math/activation.h"

namespace sigtrain {

struct NetworkSpec {
  std::vector<int> widths;  // n0 (inputs), n1 … n_{L-1} (hidden), nL (outputs)
  bool bias = false;
  Activation hidden = Activation::sigmoid;  // of layers 1 … L−1: sigmoid (the notes'), tanh or relu
  Activation output = Activation::linear;   // of layer L: linear (the notes') or sigmoid

  int num_layers() const { return static_cast<int>(widths.size()) - 1; }  // L
  int inputs() const { return widths.front(); }
  int outputs() const { return widths.back(); }
  int max_width() const;

  // Offsets into the flat parameter buffer of W_l and b_l, l = 1 … L.
  size_t weight_offset(int l) const;
  size_t bias_offset(int l) const;  // only meaningful when bias is true
  size_t weight_count(int l) const { return size_t(widths[l]) * size_t(widths[l - 1]); }
  size_t parameter_count() const;

  // "2-3-3-1" (and " with bias", and the activations where they are not the notes' sigmoid and linear:
  // "2-8-1 with bias, tanh, sigmoid output")
  std::string to_string() const;
  bool operator==(const NetworkSpec& o) const {
    return widths == o.widths && bias == o.bias && hidden == o.hidden && output == o.output;
  }
  bool operator!=(const NetworkSpec& o) const { return !(*this == o); }
};

// Largest width accepted; beyond this a W_l alone would not fit in memory comfortably.
constexpr int kMaxWidth = 65536;

// Parses "2,3,3,1"; throws UsageError for fewer than two widths, a width of 0, or garbage.
NetworkSpec parse_widths(const std::string& text, bool bias);
// Throws UsageError if the widths are out of range.
void check_spec(const NetworkSpec& spec);

// Parameters of a network in the flat layout above, in fp64 (the model file's precision).
struct Parameters {
  NetworkSpec spec;
  std::vector<double> values;

  Parameters() = default;
  explicit Parameters(NetworkSpec s) : spec(std::move(s)), values(spec.parameter_count(), 0.0) {}

  double* W(int l) { return values.data() + spec.weight_offset(l); }
  const double* W(int l) const { return values.data() + spec.weight_offset(l); }
  double* b(int l) { return values.data() + spec.bias_offset(l); }
  const double* b(int l) const { return values.data() + spec.bias_offset(l); }
  // W_l[i][j]: the weight from input j of layer l to its unit i.
  double& W(int l, int i, int j) { return W(l)[size_t(i) * spec.widths[l - 1] + j]; }
  double W(int l, int i, int j) const { return W(l)[size_t(i) * spec.widths[l - 1] + j]; }

  bool all_finite() const;

  // The values in fp32, the precision the fast backends train in, and back (each float is exactly a
  // double, so a round trip from fp32 changes nothing).
  std::vector<float> to_float() const;
  static Parameters from_float(const NetworkSpec& spec, const float* values);

  // Throws std::invalid_argument unless these are parameters of `expected` (a backend's network).
  void check_spec(const NetworkSpec& expected) const;
};

// Glorot-uniform initialisation (Glorot & Bengio 2010): W_l ~ U(−a, a), a = sqrt(6 / (n_{l-1} + n_l));
// biases start at 0. Deterministic in `seed` on every platform.
Parameters glorot_uniform(const NetworkSpec& spec, uint64_t seed);

}  // namespace sigtrain
