// Model files: JSON, version 1, exactly as DESIGN.md §4.
//   {"format": "sigtrain-model", "version": 1, "layers": [2, 3, 3, 1], "bias": false,
//    "hidden_activation": "sigmoid", "output_activation": "linear",
//    "weights": [[[p1, p2], [q1, q2], [r1, r2]], [[s1, s2, s3], …], [[w1, w2, w3]]],
//    "biases": [[…], …]}        ("biases" only when "bias" is true)
// weights[l-1][i][j] is W_l[i][j], the weight from input j of layer l to its unit i (PyTorch's
// nn.Linear.weight order). Numbers are written in the shortest form that reads back to the same double.
#pragma once

#include <string>

#include "model/model.h"
#include "model/network.h"

namespace sigtrain {

// The model as JSON text (deterministic: the same model gives the same bytes).
std::string model_to_json(const Model& m);
// Parses and validates; `source` names the file in messages. Throws InputError for malformed JSON
// (with line and column), a wrong format/version, wrong shapes, or non-finite numbers. Unknown keys
// are ignored.
Model model_from_json(const std::string& text, const std::string& source);

// Writes atomically: to a temporary file in the same directory, flushed, then renamed over `path`.
// On any failure the temporary file is removed and an existing `path` is left untouched.
void save_model(const Model& m, const std::string& path);
Model load_model(const std::string& path);

}  // namespace sigtrain
