// Helpers shared by the tests that compare a fast backend with the fp64 reference.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backend.h"
#include "dataset.h"
#include "network.h"
#include "rng.h"

namespace sigtrain::testing {

inline Dataset random_dataset(const NetworkSpec& spec, size_t n, uint64_t seed) {
  return sigtrain::random_dataset(spec.inputs(), spec.outputs(), n, seed);
}

// Glorot weights plus random biases in [-0.5, 0.5] (Glorot's zero biases would hide bias bugs).
inline Parameters random_parameters(const NetworkSpec& spec, uint64_t seed) {
  Parameters p = glorot_uniform(spec, seed);
  if (spec.bias) {
    Rng rng(seed + 1000);
    for (int l = 1; l <= spec.num_layers(); ++l)
      for (int i = 0; i < spec.widths[l]; ++i) p.b(l)[i] = rng.uniform(-0.5, 0.5);
  }
  return p;
}

// A network and a batch size to compare a backend with the reference on.
struct BackendCase {
  std::vector<int> widths;
  bool bias;
  size_t batch;
};

// "2_3_3_1_nobias_B31": readable names for parameterised tests.
inline std::string backend_case_name(const ::testing::TestParamInfo<BackendCase>& info) {
  std::string s;
  for (int w : info.param.widths) s += std::to_string(w) + "_";
  return s + (info.param.bias ? "bias_" : "nobias_") + "B" + std::to_string(info.param.batch);
}

}  // namespace sigtrain::testing
