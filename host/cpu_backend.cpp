#include "cpu_backend.h"

#include <stdexcept>

#include "activation.h"

namespace sigtrain {

namespace {

// Σ_b a[b]·c[b] with eight independent partial sums, added pairwise at the end: the compiler can keep
// them in one vector register, and the rounding error grows more slowly with B than one running sum.
float dot(const float* a, const float* c, size_t n) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t b = 0;
  for (; b + 8 <= n; b += 8)
    for (int k = 0; k < 8; ++k) part[k] += a[b + k] * c[b + k];
  for (; b < n; ++b) part[b % 8] += a[b] * c[b];
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

float sum(const float* a, size_t n) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t b = 0;
  for (; b + 8 <= n; b += 8)
    for (int k = 0; k < 8; ++k) part[k] += a[b + k];
  for (; b < n; ++b) part[b % 8] += a[b];
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

}  // namespace

CpuBackend::CpuBackend(const NetworkSpec& spec, int threads)
    : spec_(spec), threads_(threads), params_(spec.parameter_count()), grads_(spec.parameter_count()) {}

std::string CpuBackend::description() const {
  return "cpu (fp32, " + std::to_string(threads_) + (threads_ == 1 ? " thread)" : " threads)");
}

void CpuBackend::set_parameters(const Parameters& p) {
  if (p.spec != spec_) throw std::invalid_argument("parameters of " + p.spec.to_string() + " given to a " + spec_.to_string() + " backend");
  for (size_t k = 0; k < params_.size(); ++k) params_[k] = float(p.values[k]);
}

Parameters CpuBackend::parameters() const {
  Parameters p(spec_);
  for (size_t k = 0; k < params_.size(); ++k) p.values[k] = params_[k];
  return p;
}

void CpuBackend::reserve(size_t batch) {
  if (batch <= capacity_) return;
  capacity_ = batch;
  A_.resize(spec_.widths.size());
  for (size_t l = 0; l < A_.size(); ++l) A_[l].assign(size_t(spec_.widths[l]) * capacity_, 0.0f);
  Y_.assign(size_t(spec_.outputs()) * capacity_, 0.0f);
  delta_.assign(size_t(spec_.max_width()) * capacity_, 0.0f);
  delta_in_.assign(delta_.size(), 0.0f);
}

void CpuBackend::load_sample(size_t b, const float* x, const float* y) {
  for (int j = 0; j < spec_.inputs(); ++j) A_[0][j * capacity_ + b] = x[j];
  if (y)
    for (int o = 0; o < spec_.outputs(); ++o) Y_[o * capacity_ + b] = y[o];
}

void CpuBackend::forward(size_t B) {
  const int L = spec_.num_layers();
  for (int l = 1; l <= L; ++l) {
    const int n_in = spec_.widths[l - 1], n_out = spec_.widths[l];
    const float* W = params_.data() + spec_.weight_offset(l);
    const float* bias = spec_.bias ? params_.data() + spec_.bias_offset(l) : nullptr;
    for (int i = 0; i < n_out; ++i) {
      // Row i of Z_l = W_l A_{l-1} + b_l, accumulated input by input over the whole batch.
      float* z = A_[l].data() + i * capacity_;
      const float b_i = bias ? bias[i] : 0.0f;
      for (size_t b = 0; b < B; ++b) z[b] = b_i;
      for (int j = 0; j < n_in; ++j) {
        const float w = W[i * n_in + j];
        const float* a = A_[l - 1].data() + j * capacity_;
        for (size_t b = 0; b < B; ++b) z[b] += w * a[b];
      }
      if (l < L)
        for (size_t b = 0; b < B; ++b) z[b] = sigmoid(z[b]);  // A_l = σ(Z_l); the output stays linear
    }
  }
}

float CpuBackend::loss_sum_and_output_delta(size_t B) {
  const int L = spec_.num_layers();
  const float inv_B = 1.0f / float(B);
  float total = 0.0f;
  for (int o = 0; o < spec_.outputs(); ++o) {
    const float* yhat = A_[L].data() + o * capacity_;
    const float* y = Y_.data() + o * capacity_;
    float* delta = delta_.data() + o * capacity_;
    for (size_t b = 0; b < B; ++b) delta[b] = yhat[b] - y[b];
    total += dot(delta, delta, B);
    for (size_t b = 0; b < B; ++b) delta[b] = squared_error_grad(yhat[b], y[b]) * inv_B;  // Δ_L = (2/B)(Ŷ − Y)
  }
  return total;
}

void CpuBackend::backward(size_t B) {
  for (int l = spec_.num_layers(); l >= 1; --l) {
    const int n_in = spec_.widths[l - 1], n_out = spec_.widths[l];
    const float* W = params_.data() + spec_.weight_offset(l);
    float* dW = grads_.data() + spec_.weight_offset(l);
    for (int i = 0; i < n_out; ++i) {
      const float* delta_i = delta_.data() + i * capacity_;
      for (int j = 0; j < n_in; ++j) dW[i * n_in + j] = dot(delta_i, A_[l - 1].data() + j * capacity_, B);  // Δ A_inᵀ
      if (spec_.bias) grads_[spec_.bias_offset(l) + i] = sum(delta_i, B);                                     // Δ 1
    }
    if (l == 1) break;  // no Δ_0: the inputs are data
    for (int j = 0; j < n_in; ++j) {
      // Row j of Δ_{l-1} = (W_lᵀ Δ_l) ⊙ A_{l-1} ⊙ (1 − A_{l-1}).
      float* d = delta_in_.data() + j * capacity_;
      for (size_t b = 0; b < B; ++b) d[b] = 0.0f;
      for (int i = 0; i < n_out; ++i) {
        const float w = W[i * n_in + j];
        const float* delta_i = delta_.data() + i * capacity_;
        for (size_t b = 0; b < B; ++b) d[b] += w * delta_i[b];
      }
      const float* a = A_[l - 1].data() + j * capacity_;
      for (size_t b = 0; b < B; ++b) d[b] *= sigmoid_grad_from_output(a[b]);
    }
    delta_.swap(delta_in_);
  }
}

void CpuBackend::train_step(size_t first, size_t count, double lr) {
  const Dataset& d = train();
  reserve(count);
  for (size_t b = 0; b < count; ++b) {
    const size_t row = row_at(first + b);
    load_sample(b, d.x_of(row), d.y_of(row));
  }
  forward(count);
  epoch_loss_sum_ += loss_sum_and_output_delta(count);
  backward(count);
  const float step = float(lr);
  for (size_t k = 0; k < params_.size(); ++k) params_[k] -= step * grads_[k];  // θ ← θ − lr·dθ
}

void CpuBackend::predict(const float* x, size_t count, double* yhat) {
  const size_t chunk = std::max<size_t>(capacity_, std::min<size_t>(count, 4096));
  reserve(chunk);
  const int n0 = spec_.inputs(), nL = spec_.outputs(), L = spec_.num_layers();
  for (size_t start = 0; start < count; start += chunk) {
    const size_t B = std::min(chunk, count - start);
    for (size_t b = 0; b < B; ++b) load_sample(b, x + (start + b) * n0, nullptr);
    forward(B);
    for (size_t b = 0; b < B; ++b)
      for (int o = 0; o < nL; ++o) yhat[(start + b) * nL + o] = A_[L][o * capacity_ + b];
  }
}

double CpuBackend::loss_and_gradients(const Batch& batch, Parameters& grad) {
  reserve(batch.count);
  const int n0 = spec_.inputs(), nL = spec_.outputs();
  for (size_t b = 0; b < batch.count; ++b) load_sample(b, batch.x + b * n0, batch.y + b * nL);
  forward(batch.count);
  const float loss_sum = loss_sum_and_output_delta(batch.count);
  backward(batch.count);
  grad = Parameters(spec_);
  for (size_t k = 0; k < grads_.size(); ++k) grad.values[k] = grads_[k];
  return double(loss_sum) / double(batch.count);
}

}  // namespace sigtrain
