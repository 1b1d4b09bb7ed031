#include "tools/explain.h"

#include <cstdio>

#include "backends/reference/reference.h"
#include "model/choices.h"

namespace sigtrain {

namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.12g", v);
  return buf;
}

std::string vector_text(const double* v, int n) {
  std::string s = "(";
  for (int k = 0; k < n; ++k) s += (k ? ", " : "") + number(v[k]);
  return s + ")";
}

bool is_notes_network(const NetworkSpec& spec, Loss loss) {
  return spec.widths == std::vector<int>{2, 3, 3, 1} && !spec.bias && spec.hidden == Activation::sigmoid &&
         spec.output == Activation::linear && loss == Loss::mse;
}

// "σ", "tanh", "relu" as the formulas write them.
std::string function_name(Activation a) { return a == Activation::sigmoid ? "σ" : name_of(a); }

// Items of one output line, three spaces apart.
std::string line(const std::vector<std::string>& items) {
  std::string s;
  for (size_t k = 0; k < items.size(); ++k) s += (k ? "   " : "") + items[k];
  return s + "\n";
}

// The notes' network: W1 rows are p, q, r; W2 rows are s, u, v; W3 is wᵀ.
std::string explain_notes(const Parameters& p, const reference::Activations& act, double y, double f,
                          const Parameters& g) {
  const std::string first_rows[] = {"p", "q", "r"};
  const std::string second_rows[] = {"s", "u", "v"};
  const double* h = act.A[1].data();
  const double* z = act.A[2].data();
  const double yhat = act.A[3][0];
  std::vector<std::string> items;
  std::string s = "the notes' network: h = σ(W1 x), W1 = [p; q; r];  z = σ(W2 h), W2 = [s; u; v];  ŷ = wᵀz;  f = (ŷ − y)²\n";
  s += line({"x = " + vector_text(act.A[0].data(), 2), "y = " + number(y)});
  for (int i = 0; i < 3; ++i) items.push_back(first_rows[i] + " = " + vector_text(p.W(1) + 2 * i, 2));
  s += line(items);
  items.clear();
  for (int i = 0; i < 3; ++i) items.push_back(second_rows[i] + " = " + vector_text(p.W(2) + 3 * i, 3));
  s += line(items);
  s += "w = " + vector_text(p.W(3), 3) + "\n\nforward\n";
  s += line({"h1 = " + number(h[0]), "h2 = " + number(h[1]), "h3 = " + number(h[2])});
  s += line({"z1 = " + number(z[0]), "z2 = " + number(z[1]), "z3 = " + number(z[2])});
  s += "ŷ = wᵀz = " + number(yhat) + "\nf = (ŷ − y)² = " + number(f) + "\n\n";
  s += "gradients (backpropagation; df/dp1 sums the paths through z1, z2 and z3)\n";
  s += line({"df/dw1 = " + number(g.W(3)[0]), "df/dw2 = " + number(g.W(3)[1]), "df/dw3 = " + number(g.W(3)[2])});
  for (int i = 0; i < 3; ++i) {  // df/ds_k, df/du_k, df/dv_k: row i of dW2
    items.clear();
    for (int k = 0; k < 3; ++k) items.push_back("df/d" + second_rows[i] + std::to_string(k + 1) + " = " + number(g.W(2, i, k)));
    s += line(items);
  }
  for (int i = 0; i < 3; ++i) {  // df/dp_k, df/dq_k, df/dr_k: row i of dW1
    items.clear();
    for (int k = 0; k < 2; ++k) items.push_back("df/d" + first_rows[i] + std::to_string(k + 1) + " = " + number(g.W(1, i, k)));
    s += line(items);
  }
  return s;
}

std::string explain_general(const Parameters& p, Loss loss, const reference::Activations& act,
                            const std::vector<double>& y, double f, const Parameters& g) {
  const NetworkSpec& spec = p.spec;
  const int L = spec.num_layers();
  const std::string Ls = std::to_string(L);
  const std::string logit = "W_" + Ls + " A_" + std::to_string(L - 1) + (spec.bias ? " + b_" + Ls : "");
  const std::string output = spec.output == Activation::linear ? "ŷ = z = " + logit : "ŷ = σ(z), z = " + logit;
  const std::string loss_text =
      loss == Loss::bce ? "loss f: Σ_o −[y_o log ŷ_o + (1 − y_o) log(1 − ŷ_o)] (bce)" : "loss f: Σ_o (ŷ_o − y_o)²";
  std::string s = "network " + spec.to_string() + ": A_l = " + function_name(spec.hidden) + "(W_l A_{l-1}" +
                  (spec.bias ? " + b_l" : "") + ") for l < " + Ls + ", " + output + ", " + loss_text + "\n";
  s += "x = " + vector_text(act.A[0].data(), spec.inputs()) + "   y = " + vector_text(y.data(), spec.outputs()) + "\n\nforward\n";
  for (int l = 1; l < L; ++l)
    for (int i = 0; i < spec.widths[l]; ++i)
      s += "A" + std::to_string(l) + "[" + std::to_string(i + 1) + "] = " + number(act.A[l][i]) + "\n";
  // The output layer: its logit z where the output is not linear, and ŷ.
  for (int i = 0; i < spec.widths[L]; ++i) {
    const std::string index = "[" + std::to_string(i + 1) + "]";
    const double z = act.A[L][i];
    if (spec.output != Activation::linear) s += "z" + index + " = " + number(z) + "\n";
    s += "ŷ" + index + " = " + number(with_activation(spec.output, [&](auto out) { return out.forward(z); })) + "\n";
  }
  s += "f = " + number(f) + "\n\ngradients (backpropagation)\n";
  for (int l = L; l >= 1; --l)
    for (int i = 0; i < spec.widths[l]; ++i) {
      for (int j = 0; j < spec.widths[l - 1]; ++j)
        s += "df/dW" + std::to_string(l) + "[" + std::to_string(i + 1) + "][" + std::to_string(j + 1) +
             "] = " + number(g.W(l, i, j)) + "\n";
      if (spec.bias) s += "df/db" + std::to_string(l) + "[" + std::to_string(i + 1) + "] = " + number(g.b(l)[i]) + "\n";
    }
  return s;
}

}  // namespace

std::string explain(const Parameters& p, Loss loss, const std::vector<double>& x, const std::vector<double>& y) {
  // One data point: B = 1, so the loss of §1 is exactly the notes' f.
  Parameters g;
  const double f = reference::loss_and_gradients(p, loss, x.data(), y.data(), 1, g);
  const reference::Activations act = reference::forward(p, x.data(), 1);
  return is_notes_network(p.spec, loss) ? explain_notes(p, act, y[0], f, g) : explain_general(p, loss, act, y, f, g);
}

}  // namespace sigtrain
