// A model: what `train` saves and `predict`, `eval` and `train --init` load (host/model/model_file.h).
// The network and its parameters, the loss it was trained with, the optimizer with its state (so a run
// can continue where it stopped), and the standardisation of its inputs and targets.
#pragma once

#include <cstdint>
#include <vector>

#include "data/standardize.h"
#include "math/loss.h"
#include "math/optimizer.h"
#include "model/network.h"

namespace sigtrain {

// An optimizer's state: the steps taken so far (t) and optimizer_slots(kind) values per parameter,
// slot-major (slot k of parameter e at values[k·P + e]: momentum's b; adam's m then v). Empty values
// mean zeros (a fresh optimizer).
struct OptimizerState {
  uint64_t steps = 0;
  std::vector<double> values;

  // The values in fp32, the precision the fast backends keep them in: `floats` of them (zeros for a
  // fresh optimizer), and back (each float is exactly a double, so a round trip changes nothing).
  std::vector<float> to_float(size_t floats) const;
  static OptimizerState from_float(uint64_t steps, const std::vector<float>& values);
};

// How a network is trained, beside its shape: the loss and the optimizer (kernels/math/).
struct TrainingSetup {
  Loss loss = Loss::mse;
  OptimizerSettings optimizer;
};

struct Model {
  Model() = default;
  // The parameters with the notes' setup (mse, sgd), a fresh optimizer and no standardisation.
  Model(Parameters p) : parameters(std::move(p)) {}

  Parameters parameters;
  TrainingSetup setup;
  OptimizerState optimizer_state;
  Standardization standardization;
};

// `like`'s setup and standardisation with these parameters and optimizer state (moved in: copying
// `like` whole would copy its parameters too, a wide network's largest buffer).
Model with_parameters(const Model& like, Parameters parameters, OptimizerState state);

// Throws std::invalid_argument unless `state` fits `kind` and a network of P parameters.
void check_optimizer_state(const OptimizerState& state, OptimizerKind kind, size_t P);

}  // namespace sigtrain
