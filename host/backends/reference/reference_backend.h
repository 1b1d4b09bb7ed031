// The reference backend: the fp64 functions of reference.h behind the Backend interface.
#pragma once

#include "backends/host_backend.h"

namespace sigtrain {

class ReferenceBackend : public HostBackend {
 public:
  explicit ReferenceBackend(const NetworkSpec& spec, const TrainingSetup& setup = {})
      : HostBackend(spec, setup), params_(spec) {}

  std::string name() const override { return "reference"; }
  void set_parameters(const Parameters& p) override;
  Parameters parameters() const override { return params_; }
  void set_optimizer_state(const OptimizerState& state) override;
  OptimizerState optimizer_state() const override { return state_; }
  void train_step(size_t first, size_t count, double lr) override;
  void predict_logits(const float* x, size_t count, double* z) override;
  double loss_and_gradients(const Batch& batch, Parameters& grad) override;

 private:
  Parameters params_;
  Parameters grad_;
  OptimizerState state_;
  std::vector<double> X_, Y_;  // the batch in fp64: n0 × B and nL × B
};

}  // namespace sigtrain
