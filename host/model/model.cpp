#include "model/model.h"

#include <stdexcept>
#include <string>
#include <utility>

#include "model/choices.h"

namespace sigtrain {

std::vector<float> OptimizerState::to_float(size_t floats) const {
  std::vector<float> fp32(values.begin(), values.end());
  fp32.resize(floats, 0.0f);
  return fp32;
}

OptimizerState OptimizerState::from_float(uint64_t steps, const std::vector<float>& values) {
  OptimizerState state;
  state.steps = steps;
  state.values.assign(values.begin(), values.end());
  return state;
}

Model with_parameters(const Model& like, Parameters parameters, OptimizerState state) {
  Model m;
  m.setup = like.setup;
  m.standardization = like.standardization;
  m.parameters = std::move(parameters);
  m.optimizer_state = std::move(state);
  return m;
}

void check_optimizer_state(const OptimizerState& state, OptimizerKind kind, size_t P) {
  const size_t expected = size_t(optimizer_slots(kind)) * P;
  if (!state.values.empty() && state.values.size() != expected)
    throw std::invalid_argument("optimizer state of " + std::to_string(state.values.size()) + " values, but " +
                                name_of(kind) + " on " + std::to_string(P) + " parameters keeps " +
                                std::to_string(expected));
}

}  // namespace sigtrain
