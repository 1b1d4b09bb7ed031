#include "model/choices.h"

#include <cmath>

#include "util/errors.h"

namespace sigtrain {

namespace {

template <class Enum>
struct Named {
  Enum value;
  const char* name;
};

constexpr Named<Activation> kActivations[] = {
    {Activation::sigmoid, "sigmoid"}, {Activation::tanh, "tanh"}, {Activation::relu, "relu"}, {Activation::linear, "linear"}};
constexpr Named<Loss> kLosses[] = {{Loss::mse, "mse"}, {Loss::bce, "bce"}};
constexpr Named<OptimizerKind> kOptimizers[] = {{OptimizerKind::sgd, "sgd"},
                                                {OptimizerKind::momentum, "momentum"},
                                                {OptimizerKind::nesterov, "nesterov"},
                                                {OptimizerKind::adam, "adam"},
                                                {OptimizerKind::adamw, "adamw"}};

template <class Enum, size_t N>
std::string find_name(const Named<Enum> (&table)[N], Enum value) {
  for (const Named<Enum>& entry : table)
    if (entry.value == value) return entry.name;
  return "?";
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (size_t k = 0; k < names.size(); ++k) s += (k ? ", " : "") + names[k];
  return s;
}

// The entry of `table` called `name`, if it is one of `allowed`.
template <class Enum, size_t N>
Enum parse_named(const Named<Enum> (&table)[N], const std::vector<std::string>& allowed, const std::string& name,
                 const std::string& what) {
  for (const std::string& candidate : allowed)
    if (candidate == name)
      for (const Named<Enum>& entry : table)
        if (name == entry.name) return entry.value;
  throw UsageError(what + ": '" + name + "' is not one of " + joined(allowed));
}

}  // namespace

std::string name_of(Activation a) { return find_name(kActivations, a); }
std::string name_of(Loss loss) { return find_name(kLosses, loss); }
std::string name_of(OptimizerKind k) { return find_name(kOptimizers, k); }

const std::vector<std::string>& hidden_activation_names() {
  static const std::vector<std::string> names = {"sigmoid", "tanh", "relu"};
  return names;
}
const std::vector<std::string>& output_activation_names() {
  static const std::vector<std::string> names = {"linear", "sigmoid"};
  return names;
}
const std::vector<std::string>& loss_names() {
  static const std::vector<std::string> names = {"mse", "bce"};
  return names;
}
const std::vector<std::string>& optimizer_names() {
  static const std::vector<std::string> names = {"sgd", "momentum", "nesterov", "adam", "adamw"};
  return names;
}

Activation parse_hidden_activation(const std::string& name, const std::string& what) {
  return parse_named(kActivations, hidden_activation_names(), name, what);
}
Activation parse_output_activation(const std::string& name, const std::string& what) {
  return parse_named(kActivations, output_activation_names(), name, what);
}
Loss parse_loss(const std::string& name, const std::string& what) { return parse_named(kLosses, loss_names(), name, what); }
OptimizerKind parse_optimizer(const std::string& name, const std::string& what) {
  return parse_named(kOptimizers, optimizer_names(), name, what);
}

void check_head(Loss loss, Activation output) {
  if (loss == Loss::bce && output != Activation::sigmoid)
    throw UsageError("--loss bce needs a sigmoid output (--output sigmoid): binary cross-entropy is defined on "
                     "probabilities, and the output is " + name_of(output));
}

void check_optimizer_settings(const OptimizerSettings& s) {
  const auto in_unit = [](double v) { return v >= 0.0 && v < 1.0; };
  if (!in_unit(s.momentum)) throw UsageError("--momentum must be in [0, 1), got " + std::to_string(s.momentum));
  if (!in_unit(s.beta1)) throw UsageError("--beta1 must be in [0, 1), got " + std::to_string(s.beta1));
  if (!in_unit(s.beta2)) throw UsageError("--beta2 must be in [0, 1), got " + std::to_string(s.beta2));
  if (!(s.eps > 0.0) || !std::isfinite(s.eps)) throw UsageError("--eps must be a finite number above 0");
  if (!(s.weight_decay >= 0.0) || !std::isfinite(s.weight_decay))
    throw UsageError("--weight-decay must be a finite number, 0 or more");
}

}  // namespace sigtrain
