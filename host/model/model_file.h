// Model files: JSON, version 2 (README.md, "Model (JSON, version 2)"). Written:
//   {"format": "sigtrain-model", "version": 2, "layers": [2, 3, 3, 1], "bias": false,
//    "hidden_activation": "sigmoid", "output_activation": "linear", "loss": "mse",
//    "weights": [[[p1, p2], [q1, q2], [r1, r2]], [[s1, s2, s3], …], [[w1, w2, w3]]],
//    "biases": [[…], …],                                   ("biases" only when "bias" is true)
//    "standardization": {"inputs": {"mean": [n0 numbers], "scale": [n0 numbers]},
//                        "targets": {"mean": [nL numbers], "scale": [nL numbers]}},
//                                  (only when something is standardised; each side only when it is)
//    "optimizer": {"name": "adam", "momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 1e-08,
//                  "weight_decay": 0.0, "steps": 1234,
//                  "state": {"exp_avg": [P numbers], "exp_avg_sq": [P numbers]}}}
// weights[l-1][i][j] is W_l[i][j], the weight from input j of layer l to its unit i (PyTorch's
// nn.Linear.weight order). Numbers are written in the shortest form that reads back to the same double.
//
// "optimizer" holds all five settings whatever the optimizer (so a model says how it was trained), the
// steps taken (t) and the state, one flat array per slot in the flat parameter layout of network.h
// (W_1 row-major, b_1, W_2, …; P numbers, one line per weight row and per bias vector), named as
// PyTorch's optimizers name them: "momentum_buffer" for momentum and nesterov, "exp_avg" and
// "exp_avg_sq" for adam and adamw, none for sgd. A fresh optimizer (OptimizerState::values empty) is
// written as "state": {}; a state that was kept is written as it is, zeros included, so a model reads
// back exactly as it was written. Reading accepts both for every optimizer.
//
// Version 1 files (no loss, optimizer or standardization; the activations, if present, sigmoid and
// linear) still load, as the notes' setup: mse, plain sgd with default settings, a fresh optimizer at
// step 0 and no standardisation.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "model/model.h"
#include "model/network.h"

namespace sigtrain {

// Writes the model's JSON text to `out`, always version 2 (deterministic: the same model gives the same
// bytes), part by part as it is formed: a large model's text is never held whole. Throws InputError
// for a non-finite number (JSON has none; what came before it is already written),
// std::invalid_argument for a state or standardisation that does not fit the network (a caller's
// bug; checked before anything is written).
void write_model(std::ostream& out, const Model& m);
// A top-level member written after the model's own (a checkpoint's, train/checkpoint.h): its key, and
// what writes its value. The file is still a model file, whose readers ignore it.
struct ExtraMember {
  std::string key;
  std::function<void(std::ostream&)> write_value;
};
// The same for `like`'s setup and standardisation with these parameters and optimizer state (the Model
// with_parameters would make, model.h, without copying them), then `extra_members`.
void write_model(std::ostream& out, const Model& like, const Parameters& parameters, const OptimizerState& state,
                 const std::vector<ExtraMember>& extra_members);
// Writes a JSON object as a model file's objects are written, member by member: one member per line
// at `indent` + 2 spaces, the closing brace at `indent` ("{}" when it has none). member() writes up
// to the value (`"key": `), which the caller then writes to the stream it returns; close() ends it.
class JsonObjectWriter {
 public:
  JsonObjectWriter(std::ostream& out, std::string indent) : out_(out), indent_(std::move(indent)) {}
  std::ostream& member(const std::string& key);
  void close();

 private:
  std::ostream& out_;
  std::string indent_;
  size_t members_ = 0;
};

// write_model's text as a string.
std::string model_to_json(const Model& m);
// Parses and validates version 1 or 2; `source` names the file in messages. Throws InputError for
// malformed JSON (with line and column), a wrong format or version, unknown names, wrong shapes, settings
// out of range, a state that does not fit the optimizer, non-finite numbers, or weights, biases or state
// beyond the largest float (the fp32 backends hold them); each error names the
// element, with 0-based indices (weights[1][0][2], optimizer.state.exp_avg[7]). Unknown top-level keys
// are ignored.
Model model_from_json(const std::string& text, const std::string& source);

// Writes atomically (write_file_atomically, util/file_util.h): streamed to a temporary file in the same
// directory, flushed, then renamed over `path`. On any failure the temporary file is removed and an
// existing `path` is left untouched.
void save_model(const Model& m, const std::string& path);
Model load_model(const std::string& path);

}  // namespace sigtrain
