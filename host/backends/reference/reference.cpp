#include "backends/reference/reference.h"

#include "math/activation.h"
#include "math/loss.h"
#include "math/optimizer.h"

namespace sigtrain::reference {

void linear_forward(double* Z, const double* A_in, const double* W, const double* b, size_t n_in, size_t n_out,
                    size_t B) {
  for (size_t s = 0; s < B; ++s)
    for (size_t i = 0; i < n_out; ++i) {
      double z = b ? b[i] : 0.0;
      for (size_t j = 0; j < n_in; ++j) z += W[i * n_in + j] * A_in[s * n_in + j];
      Z[s * n_out + i] = z;
    }
}

void linear_backward(double* dA_in, double* dW, double* db, const double* delta, const double* A_in, const double* W,
                     size_t n_in, size_t n_out, size_t B) {
  for (size_t i = 0; i < n_out; ++i)
    for (size_t j = 0; j < n_in; ++j) {
      double sum = 0.0;
      for (size_t s = 0; s < B; ++s) sum += delta[s * n_out + i] * A_in[s * n_in + j];
      dW[i * n_in + j] = sum;  // dW = Δ A_inᵀ
    }
  if (db)
    for (size_t i = 0; i < n_out; ++i) {
      double sum = 0.0;
      for (size_t s = 0; s < B; ++s) sum += delta[s * n_out + i];
      db[i] = sum;  // db = Δ 1
    }
  if (dA_in)
    for (size_t s = 0; s < B; ++s)
      for (size_t j = 0; j < n_in; ++j) {
        double sum = 0.0;
        for (size_t i = 0; i < n_out; ++i) sum += W[i * n_in + j] * delta[s * n_out + i];
        dA_in[s * n_in + j] = sum;  // dA_in = Wᵀ Δ: every unit i that input j feeds contributes
      }
}

void activation_forward(Activation f, double* A, const double* Z, size_t n) {
  with_activation(f, [&](auto act) {
    for (size_t k = 0; k < n; ++k) A[k] = act.forward(Z[k]);  // A = f(Z)
  });
}

void activation_backward(Activation f, double* delta, const double* dA, const double* A, size_t n) {
  with_activation(f, [&](auto act) {
    for (size_t k = 0; k < n; ++k) delta[k] = dA[k] * act.grad_from_output(A[k]);  // Δ = dA ⊙ f'(Z)
  });
}

double loss_forward(Loss loss, Activation output, const double* Z, const double* Y, int n_out, size_t B) {
  return with_head(loss, output, [&](auto head) {
    double sum = 0.0;
    for (size_t k = 0; k < size_t(n_out) * B; ++k) sum += head.value(Z[k], Y[k]);  // Σ_b Σ_o ℓ
    return sum / double(B);
  });
}

void loss_backward(Loss loss, Activation output, double* delta, const double* Z, const double* Y, int n_out, size_t B) {
  with_head(loss, output, [&](auto head) {
    for (size_t k = 0; k < size_t(n_out) * B; ++k) delta[k] = head.delta(Z[k], Y[k]) / double(B);  // Δ_L = (1/B) dℓ/dZ
  });
}

void optimizer_update(const OptimizerSettings& settings, double lr, OptimizerState& state, double* params,
                      const double* grads, size_t n) {
  const size_t slots = size_t(optimizer_slots(settings.kind));
  if (state.values.size() != slots * n) state.values.assign(slots * n, 0.0);
  state.steps += 1;
  const OptimizerStep<double> step = optimizer_step<double>(settings, lr, state.steps);
  with_optimizer(settings.kind, [&](auto optimizer) {
    for (size_t k = 0; k < n; ++k) optimizer.update(params[k], grads[k], state.values.data() + k, n, step);
  });
}

Activations forward(const Parameters& p, const double* X, size_t B) {
  const NetworkSpec& spec = p.spec;
  const int L = spec.num_layers();
  Activations act;
  act.B = B;
  act.A.resize(L + 1);
  act.A[0].assign(X, X + size_t(spec.widths[0]) * B);
  for (int l = 1; l <= L; ++l) {
    const int n_in = spec.widths[l - 1], n_out = spec.widths[l];
    std::vector<double>& A = act.A[l];
    A.resize(size_t(n_out) * B);
    linear_forward(A.data(), act.A[l - 1].data(), p.W(l), spec.bias ? p.b(l) : nullptr, n_in, n_out, B);
    if (l < L) activation_forward(spec.hidden, A.data(), A.data(), A.size());  // the output stays Z_L
  }
  return act;
}

std::vector<double> predict(const Parameters& p, const double* X, size_t B) {
  Activations act = forward(p, X, B);
  std::vector<double>& Z = act.A.back();
  activation_forward(p.spec.output, Z.data(), Z.data(), Z.size());  // Ŷ = output activation of Z_L
  return Z;
}

double loss(const Parameters& p, Loss loss, const double* X, const double* Y, size_t B) {
  const Activations act = forward(p, X, B);
  return loss_forward(loss, p.spec.output, act.A.back().data(), Y, p.spec.outputs(), B);
}

double loss_and_gradients(const Parameters& p, Loss loss, const double* X, const double* Y, size_t B,
                          Parameters& grad) {
  const NetworkSpec& spec = p.spec;
  const int L = spec.num_layers();
  grad = Parameters(spec);
  const Activations act = forward(p, X, B);
  const double f = loss_forward(loss, spec.output, act.A[L].data(), Y, spec.outputs(), B);

  // Δ_L = (1/B) dℓ/dZ_L (the notes' (2/B)(Ŷ − Y)), then for l = L … 1: dW_l = Δ_l A_{l-1}ᵀ,
  // db_l = Δ_l 1, Δ_{l-1} = (W_lᵀ Δ_l) ⊙ f'(A_{l-1}) (the notes' A_{l-1} ⊙ (1 − A_{l-1}) for σ).
  std::vector<double> delta(size_t(spec.outputs()) * B);
  loss_backward(loss, spec.output, delta.data(), act.A[L].data(), Y, spec.outputs(), B);
  for (int l = L; l >= 1; --l) {
    const int n_in = spec.widths[l - 1], n_out = spec.widths[l];
    std::vector<double> dA_in(l > 1 ? size_t(n_in) * B : 0);
    linear_backward(l > 1 ? dA_in.data() : nullptr, grad.W(l), spec.bias ? grad.b(l) : nullptr, delta.data(),
                    act.A[l - 1].data(), p.W(l), n_in, n_out, B);
    if (l > 1) {
      delta.resize(dA_in.size());
      activation_backward(spec.hidden, delta.data(), dA_in.data(), act.A[l - 1].data(), dA_in.size());
    }
  }
  return f;
}

}  // namespace sigtrain::reference
