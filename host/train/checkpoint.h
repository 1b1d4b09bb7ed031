// Checkpoints (`train --checkpoint FILE`, `train --resume FILE`): where a run stands at the end of an
// epoch (a TrainProgress, train/trainer.h), and what run it is, so that it can go on from there and
// end byte for byte as it would have ended without the stop. A checkpoint is a model file
// (model/model_file.h) of the network after the epochs done, with its optimizer state, and one more
// top-level member that model readers ignore (so `predict --model` and `train --init` read it too):
//   "checkpoint": {"format": "sigtrain-checkpoint", "version": 1, "epochs_done": 12, "steps": 3000,
//                  "stopped_early": "…",                      (only when --patience stopped the run)
//                  "kept": {"epoch": 9, "validation_loss": 0.0021, "best_validation": 0.0021,
//                           "epochs_without_improvement": 3,
//                           "model": {…a model file's object…}},  (only when epoch is not epochs_done)
//                  "run": {"network": "2-3-3-1", "loss": "mse", …}}
// "kept" is the model the run would end with (with --keep best, the best epoch's) and early stopping's
// state; a loss of null is none (NaN) or, for best_validation, +infinity. "run" is RunSettings, every
// value a string. Numbers are written in the shortest form that reads back to the same double.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "model/model.h"
#include "train/trainer.h"

namespace sigtrain {

// What a run is, as far as going on with it goes: every setting the model bytes depend on, as text
// ("lr" → "0.2"), in a fixed order. A resume must agree on all of them.
using RunSettings = std::vector<std::pair<std::string, std::string>>;

// The settings of a run of `start` (its network, loss, optimizer, standardisation) with `config` on
// `train` and `validation` (as trained on: split and standardised) on the backend named `backend`
// (the others' rounding differs, so only the same backend goes on bit for bit).
RunSettings run_settings(const Model& start, const TrainConfig& config, double validation_split, const Dataset& train,
                         const Dataset& validation, const std::string& backend);

// FNV-1a (64 bits) of a data set's shape and the bytes of its values: the data's identity in a checkpoint.
uint64_t data_fingerprint(const Dataset& d);

struct Checkpoint {
  TrainProgress progress;
  RunSettings run;
};

// The checkpoint as text: `like`'s setup and standardisation with the progress's parameters and state.
std::string checkpoint_to_json(const Model& like, const TrainProgress& progress, const RunSettings& run);
// Writes it atomically (util/file_util.h: a temporary file renamed over `path`), so that a kill at any
// moment leaves either the previous checkpoint or the new one.
void save_checkpoint(const std::string& path, const Model& like, const TrainProgress& progress, const RunSettings& run);
// Reads one; throws InputError naming the element for a file that is not a checkpoint or is malformed.
Checkpoint checkpoint_from_json(const std::string& text, const std::string& source);
Checkpoint load_checkpoint(const std::string& path);

// Throws UsageError, one line, naming the first setting in which `now` differs from the run the
// checkpoint at `path` was made by.
void check_same_run(const std::string& path, const RunSettings& checkpoint, const RunSettings& now);

}  // namespace sigtrain
