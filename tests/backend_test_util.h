// Helpers shared by the tests that compare a fast backend with the fp64 reference.
#pragma once

#include <vector>

#include "backend.h"
#include "dataset.h"
#include "network.h"
#include "rng.h"

namespace sigtrain::testing {

// Random data for `spec`: inputs uniform in [-2, 2], targets in [-1, 1] (never zeros).
inline Dataset random_dataset(const NetworkSpec& spec, size_t n, uint64_t seed) {
  Dataset d;
  d.name = "random";
  d.inputs = spec.inputs();
  d.outputs = spec.outputs();
  d.size = n;
  Rng rng(seed);
  d.x.resize(n * d.inputs);
  d.y.resize(n * d.outputs);
  for (float& v : d.x) v = float(rng.uniform(-2, 2));
  for (float& v : d.y) v = float(rng.uniform(-1, 1));
  return d;
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

}  // namespace sigtrain::testing
