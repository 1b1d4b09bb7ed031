// One validation sample's share of a network's Evaluation (host/backends/backend.h), as __host__
// __device__ code: the device evaluation of many networks at once (kernels/evaluate_kernel.cu) sums
// these terms per network, and the CPU tests check them against the host path (sigtrain::evaluate).
//
// The forward pass is fused_predict's (fused_step.h): dense_forward_sample in fp32 with the network's
// flat parameters (network.h's layout, FusedShape's offsets), so the logits z are the same floats the
// fused kernel's prediction gives; the terms are then taken in fp64, as the host path takes them:
//   loss     Σ_o Head::value(z_o, y_o)                      (Head: the run's loss and output activation)
//   squared  Σ_o (Head::Output::forward(z_o) − y_o)²
// Evaluation's figures are each sum over the samples divided by N.
#pragma once

#include "fused_step.h"
#include "math/loss.h"
#include "math/sample_math.h"

namespace sigtrain {

// A sample's terms, or (added up) a network's sums over a data set.
struct EvaluationTerms {
  double loss = 0.0;
  double squared = 0.0;
};

SIGTRAIN_HD EvaluationTerms operator+(const EvaluationTerms& a, const EvaluationTerms& b) {
  return {a.loss + b.loss, a.squared + b.squared};
}

// The terms of the sample with inputs x (n_0 floats) and targets y (n_L floats) for the network with
// parameters `params` (P floats) of shape s.
template <class Act, class Head>
SIGTRAIN_HD EvaluationTerms evaluation_terms(const FusedShape& s, const float* params, const float* x, const float* y) {
  // a_{l-1} and a_l of the sample, alternating between the two rows.
  float rows[2][kFusedMaxWidth];
  for (int j = 0; j < s.widths[0]; ++j) rows[0][j] = x[j];
  for (int l = 1; l <= s.layers; ++l)
    dense_forward_sample<Act>(params + s.weight_offset[l], s.bias ? params + s.bias_offset[l] : nullptr,
                              rows[(l - 1) & 1], rows[l & 1], s.widths[l - 1], s.widths[l], l < s.layers);
  const float* z = rows[s.layers & 1];
  EvaluationTerms terms;
  for (int o = 0; o < s.widths[s.layers]; ++o) {
    const double zo = double(z[o]), yo = double(y[o]);
    const double residual = Head::Output::forward(zo) - yo;
    terms.loss += Head::value(zo, yo);
    terms.squared += residual * residual;
  }
  return terms;
}

// Calls f(Act{}, Head{}) for the hidden activation and the head (loss, output activation).
template <class F>
void with_evaluation_policies(Activation hidden, Loss loss, Activation output, F&& f) {
  with_activation(hidden, [&](auto act) { with_head(loss, output, [&](auto head) { f(act, head); }); });
}

}  // namespace sigtrain
