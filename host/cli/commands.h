// The subcommands of `sigtrain` (DESIGN.md §3). Each add_* registers its flags on `app` and returns
// the function that runs it after parsing; that function returns the exit code (0, 1 or 2) or throws
// UsageError / InputError, which main turns into one line on stderr and exit code 2 / 1.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "data/dataset.h"
#include "model/network.h"
#include "util/format.h"

namespace sigtrain::cli {

using Run = std::function<int()>;

Run add_train(CLI::App& app);
Run add_predict(CLI::App& app);
Run add_eval(CLI::App& app);
Run add_gradcheck(CLI::App& app);
Run add_explain(CLI::App& app);
Run add_bench(CLI::App& app);

// Where a command's data come from: --data FILE [--format F], or --synthetic NAME [--samples N].
struct DataOptions {
  std::string file;
  std::string format = "auto";
  std::string synthetic;
  long long samples = 10000;
  uint64_t data_seed = 2024;
};
void add_data_options(CLI::App& command, DataOptions& options, bool synthetic_default_sine);
// Loads the data for `spec`: its columns must be the network's inputs and outputs (or inputs only when
// `targets_optional`). Throws InputError / UsageError.
Dataset load_data(const DataOptions& options, const NetworkSpec& spec, bool targets_optional = false);

// A comma-separated list of numbers (--x 0.5,-1), for flags whose values may start with '-'.
std::vector<double> parse_number_list(const std::string& flag, const std::string& text);

// Throws UsageError unless `path` can be written (util/file_util.h why_not_writable: its folder exists
// and is writable, it is not a folder or a read-only file), so that a long run does not fail only at
// the end, when it saves.
void check_writable(const std::string& flag, const std::string& path);
// The same for a folder that files are saved into (--save-all): it is a writable folder, or it does
// not exist yet and its parent is one (make_folder creates it when there is something to save).
void check_folder_writable(const std::string& flag, const std::string& folder);
// Creates `folder` where it does not exist yet (one level, as check_folder_writable allowed); throws
// InputError naming it otherwise.
void make_folder(const std::string& folder);

// Where a failed run puts the last model whose loss was finite, beside the `--save` target it leaves
// alone: "m.json" → "m.last-finite.json".
std::string last_finite_path(const std::string& path);

// Validators for flags, each failing as "--flag: why" (a usage error): a file name or other string
// that must not be empty (`--save ""` would otherwise mean "do not save"), and a seed (a whole number
// in [0, 2^64): "-1" would otherwise wrap around to 2^64 − 1).
CLI::Validator not_empty();
CLI::Validator seed_value();

}  // namespace sigtrain::cli
