#include "model/network.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "model/choices.h"
#include "util/errors.h"
#include "util/rng.h"

namespace sigtrain {

std::string located(const std::string& path, long line, long column, const std::string& what) {
  std::string s = path;
  if (line > 0) s += ":" + std::to_string(line);
  if (line > 0 && column > 0) s += ":" + std::to_string(column);
  return s + ": " + what;
}

int NetworkSpec::max_width() const { return *std::max_element(widths.begin(), widths.end()); }

size_t NetworkSpec::weight_offset(int l) const {
  size_t offset = 0;
  for (int k = 1; k < l; ++k) offset += weight_count(k) + (bias ? size_t(widths[k]) : 0);
  return offset;
}

size_t NetworkSpec::bias_offset(int l) const { return weight_offset(l) + weight_count(l); }

size_t NetworkSpec::parameter_count() const { return weight_offset(num_layers() + 1); }

std::string NetworkSpec::to_string() const {
  std::string s;
  for (size_t i = 0; i < widths.size(); ++i) s += (i ? "-" : "") + std::to_string(widths[i]);
  s += bias ? " with bias" : "";
  if (hidden != Activation::sigmoid) s += std::string(bias ? ", " : " ") + name_of(hidden);
  if (output != Activation::linear) s += (s.find(' ') != std::string::npos ? ", " : " ") + name_of(output) + " output";
  return s;
}

void check_spec(const NetworkSpec& spec) {
  if (spec.widths.size() < 2)
    throw UsageError("--layers needs at least two widths (inputs and outputs), got " +
                     std::to_string(spec.widths.size()));
  for (int w : spec.widths)
    if (w < 1 || w > kMaxWidth)
      throw UsageError("--layers: every width must be between 1 and " + std::to_string(kMaxWidth) +
                       ", got " + std::to_string(w));
}

NetworkSpec parse_widths(const std::string& text, bool bias) {
  NetworkSpec spec;
  spec.bias = bias;
  std::stringstream in(text);
  std::string field;
  while (std::getline(in, field, ',')) {
    size_t used = 0;
    long value = 0;
    try {
      value = std::stol(field, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != field.size())
      throw UsageError("--layers: '" + field + "' is not a whole number (expected e.g. 2,3,3,1)");
    if (value < 1 || value > kMaxWidth)
      throw UsageError("--layers: every width must be between 1 and " + std::to_string(kMaxWidth) +
                       ", got " + field);
    spec.widths.push_back(int(value));
  }
  if (!text.empty() && text.back() == ',') throw UsageError("--layers: trailing comma in '" + text + "'");
  check_spec(spec);
  return spec;
}

bool Parameters::all_finite() const {
  return std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

std::vector<float> Parameters::to_float() const { return std::vector<float>(values.begin(), values.end()); }

Parameters Parameters::from_float(const NetworkSpec& spec, const float* values) {
  Parameters p(spec);
  std::copy(values, values + p.values.size(), p.values.begin());
  return p;
}

void Parameters::check_spec(const NetworkSpec& expected) const {
  if (spec != expected)
    throw std::invalid_argument("parameters of " + spec.to_string() + " given to a " + expected.to_string() + " backend");
}

Parameters glorot_uniform(const NetworkSpec& spec, uint64_t seed) {
  Parameters p(spec);
  Rng rng(seed);
  for (int l = 1; l <= spec.num_layers(); ++l) {
    const double a = std::sqrt(6.0 / double(spec.widths[l - 1] + spec.widths[l]));
    double* W = p.W(l);
    for (size_t k = 0; k < spec.weight_count(l); ++k) W[k] = rng.uniform(-a, a);
  }
  return p;
}

}  // namespace sigtrain
