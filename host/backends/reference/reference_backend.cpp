#include "backends/reference/reference_backend.h"

#include <stdexcept>

#include "backends/reference/reference.h"

namespace sigtrain {

void ReferenceBackend::set_parameters(const Parameters& p) {
  p.check_spec(spec());
  params_ = p;
}

void ReferenceBackend::set_optimizer_state(const OptimizerState& state) {
  check_optimizer_state(state, setup().optimizer.kind, params_.values.size());
  state_ = state;
}

void ReferenceBackend::train_step(size_t first, size_t count, double lr) {
  const Dataset& d = train();
  const int n0 = d.inputs, nL = d.outputs;
  X_.resize(count * n0);
  Y_.resize(count * nL);
  for (size_t b = 0; b < count; ++b) {
    const size_t row = row_at(first + b);
    for (int j = 0; j < n0; ++j) X_[b * n0 + j] = d.x_of(row)[j];
    for (int o = 0; o < nL; ++o) Y_[b * nL + o] = d.y_of(row)[o];
  }
  const double f = reference::loss_and_gradients(params_, setup().loss, X_.data(), Y_.data(), count, grad_);
  epoch_loss_sum_ += f * double(count);  // f is the batch mean; the epoch sum is over samples
  reference::optimizer_update(setup().optimizer, lr, state_, params_.values.data(), grad_.values.data(),
                              params_.values.size());
}

void ReferenceBackend::predict_logits(const float* x, size_t count, double* z) {
  const std::vector<double> X(x, x + count * spec().inputs());
  const reference::Activations act = reference::forward(params_, X.data(), count);
  std::copy(act.A.back().begin(), act.A.back().end(), z);
}

double ReferenceBackend::loss_and_gradients(const Batch& batch, Parameters& grad) {
  const std::vector<double> X(batch.x, batch.x + batch.count * spec().inputs());
  const std::vector<double> Y(batch.y, batch.y + batch.count * spec().outputs());
  return reference::loss_and_gradients(params_, setup().loss, X.data(), Y.data(), batch.count, grad);
}

}  // namespace sigtrain
