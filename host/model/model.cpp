#include "model/model.h"

#include <stdexcept>
#include <string>

#include "model/choices.h"

namespace sigtrain {

void check_optimizer_state(const OptimizerState& state, OptimizerKind kind, size_t P) {
  const size_t expected = size_t(optimizer_slots(kind)) * P;
  if (!state.values.empty() && state.values.size() != expected)
    throw std::invalid_argument("optimizer state of " + std::to_string(state.values.size()) + " values, but " +
                                name_of(kind) + " on " + std::to_string(P) + " parameters keeps " +
                                std::to_string(expected));
}

}  // namespace sigtrain
