// `sigtrain explain`: one data point through the network, every quantity of the notes by its name.
#pragma once

#include <string>
#include <vector>

#include "math/loss.h"
#include "model/network.h"

namespace sigtrain {

// For the notes' network (2-3-3-1, no bias): h, z, ŷ, the loss f = (ŷ − y)² and every gradient as
// df/dw1 …, df/ds1 …, df/du1 …, df/dv1 …, df/dp1 …, df/dq1 …, df/dr1 … (W1 = [p; q; r], W2 = [s; u; v],
// W3 = wᵀ). For other networks the same quantities by layer and index (A1[1], df/dW1[1][2], …).
// Other activations and losses are named in the header line, with the output layer's logit z and ŷ.
// All values come from the reference (fp64) forward and backward pass.
std::string explain(const Parameters& p, Loss loss, const std::vector<double>& x, const std::vector<double>& y);

}  // namespace sigtrain
