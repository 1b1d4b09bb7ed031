// The names of the choices a run is made of (activations, losses, optimizers), as the command line
// and the model file write them, and their checks. The choices themselves are kernels/math/'s policies.
#pragma once

#include <string>
#include <vector>

#include "math/activation.h"
#include "math/loss.h"
#include "math/optimizer.h"

namespace sigtrain {

std::string name_of(Activation a);     // "sigmoid", "tanh", "relu", "linear"
std::string name_of(Loss loss);        // "mse", "bce"
std::string name_of(OptimizerKind k);  // "sgd", "momentum", "nesterov", "adam", "adamw"

// Parse a name; throw UsageError naming `what` (a flag or a model file's key) and the names it takes.
Activation parse_hidden_activation(const std::string& name, const std::string& what);  // sigmoid, tanh, relu
Activation parse_output_activation(const std::string& name, const std::string& what);  // linear, sigmoid
Loss parse_loss(const std::string& name, const std::string& what);
OptimizerKind parse_optimizer(const std::string& name, const std::string& what);

const std::vector<std::string>& hidden_activation_names();
const std::vector<std::string>& output_activation_names();
const std::vector<std::string>& loss_names();
const std::vector<std::string>& optimizer_names();

// What the loss and the output activation need of each other: bce takes a sigmoid output. Throws
// UsageError otherwise.
void check_head(Loss loss, Activation output);

// Throws UsageError for settings out of range (momentum and betas in [0, 1), eps > 0, weight decay ≥ 0).
void check_optimizer_settings(const OptimizerSettings& s);

}  // namespace sigtrain
