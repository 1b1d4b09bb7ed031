#include "tools/gradcheck.h"

#include <algorithm>

#include "data/dataset.h"
#include "backends/reference/reference.h"
#include "util/rng.h"
#include "train/trainer.h"  // layer_relative_difference

namespace sigtrain {

Parameters finite_difference_gradient(const Parameters& p, Loss loss, const double* X, const double* Y, int B,
                                      double h) {
  Parameters grad(p.spec);
  Parameters shifted = p;
  for (size_t k = 0; k < p.values.size(); ++k) {
    shifted.values[k] = p.values[k] + h;
    const double up = reference::loss(shifted, loss, X, Y, B);
    shifted.values[k] = p.values[k] - h;
    const double down = reference::loss(shifted, loss, X, Y, B);
    shifted.values[k] = p.values[k];
    grad.values[k] = (up - down) / (2.0 * h);
  }
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

GradcheckResult gradcheck(const NetworkSpec& spec, Loss loss, uint64_t seed, int B) {
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
  GradcheckResult result;
  result.loss = reference::loss_and_gradients(p, loss, X.data(), Y.data(), B, backprop);
  const Parameters numeric = finite_difference_gradient(p, loss, X.data(), Y.data(), B);
  for (int l = 1; l <= spec.num_layers(); ++l) {
    GradcheckLayer layer{l, layer_relative_difference(backprop, numeric, l)};
    result.worst = std::max(result.worst, layer.relative_error);
    result.layers.push_back(layer);
  }
  return result;
}

}  // namespace sigtrain
