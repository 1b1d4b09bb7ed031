// The cpu backend: fp32 on the host, the same math as the reference (DESIGN.md §1), laid out for
// speed. Activations are kept unit-major, A_l as n_l rows of B contiguous samples (row-major n_l × B,
// leading dimension = the batch capacity), so every inner loop runs over the samples of the batch and
// vectorises. All buffers are allocated when the batch capacity grows, never per step.
#pragma once

#include <vector>

#include "host_backend.h"

namespace sigtrain {

class CpuBackend : public HostBackend {
 public:
  CpuBackend(const NetworkSpec& spec, int threads);

  std::string name() const override { return "cpu"; }
  std::string description() const override;
  void set_parameters(const Parameters& p) override;
  Parameters parameters() const override;
  void train_step(size_t first, size_t count, double lr) override;
  void predict(const float* x, size_t count, double* yhat) override;
  double loss_and_gradients(const Batch& batch, Parameters& grad) override;

 private:
  void reserve(size_t batch);
  // Loads sample b of the batch (its n0 inputs and nL targets, or null) into column b.
  void load_sample(size_t b, const float* x, const float* y);
  void forward(size_t B);
  // Loss summed over the batch (Σ_b Σ_o (Ŷ − Y)²); leaves Δ_L = (2/B)(Ŷ − Y) in delta_.
  float loss_sum_and_output_delta(size_t B);
  void backward(size_t B);  // fills grads_

  NetworkSpec spec_;
  int threads_;
  size_t capacity_ = 0;  // the largest batch the buffers hold: every row below has this stride
  std::vector<float> params_, grads_;     // flat layout of network.h
  std::vector<std::vector<float>> A_;     // A_[l]: n_l × capacity; A_[L] is Ŷ
  std::vector<float> Y_;                  // nL × capacity
  std::vector<float> delta_, delta_in_;   // Δ_l and Δ_{l-1}: max width × capacity each
};

}  // namespace sigtrain
