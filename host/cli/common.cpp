#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "commands.h"
#include "data/data_files.h"
#include "util/errors.h"
#include "util/file_util.h"

namespace sigtrain::cli {

void add_data_options(CLI::App& command, DataOptions& options, bool synthetic_default_sine) {
  command
      .add_option("--data", options.file,
                  "data file: CSV (.csv) or FANN (.data), or - for standard input; inputs first, then targets")
      ->check(not_empty());
  command
      .add_option("--format", options.format,
                  "data format: auto (by extension; for standard input, FANN when the first line is three whole "
                  "numbers, else CSV), csv or fann")
      ->capture_default_str();
  command
      .add_option("--synthetic", options.synthetic,
                  std::string("built-in data set: sine or xor") +
                      (synthetic_default_sine ? " (sine when neither --data nor --synthetic is given)" : ""))
      ->check(not_empty());
  command.add_option("--samples", options.samples, "size of the built-in data set")->capture_default_str();
  command.add_option("--data-seed", options.data_seed, "seed of the built-in data set")
      ->check(seed_value())
      ->capture_default_str();
}

Dataset load_data(const DataOptions& options, const NetworkSpec& spec, bool targets_optional) {
  if (!options.file.empty() && !options.synthetic.empty())
    throw UsageError("give either --data or --synthetic, not both");
  if (!options.file.empty()) {
    const Table table = read_table(options.file, parse_data_format(options.format));
    return dataset_from_table(table, spec, targets_optional);
  }
  if (options.samples < 1) throw UsageError("--samples must be at least 1, got " + std::to_string(options.samples));
  const std::string name = options.synthetic.empty() ? "sine" : options.synthetic;
  Dataset d = synthetic_dataset(name, size_t(options.samples), options.data_seed);
  if (d.inputs != spec.inputs() || d.outputs != spec.outputs())
    throw UsageError("the built-in set '" + name + "' has " + std::to_string(d.inputs) + " inputs and " +
                     std::to_string(d.outputs) + " output, but the network " + spec.to_string() + " has " +
                     std::to_string(spec.inputs()) + " and " + std::to_string(spec.outputs()));
  return d;
}

std::vector<double> parse_number_list(const std::string& flag, const std::string& text) {
  std::vector<double> values;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string field = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(field, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != field.size() || !std::isfinite(v))
      throw UsageError(flag + ": '" + field + "' is not a finite number (expected e.g. " + flag + " 0.5,-1)");
    values.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return values;
}

void check_writable(const std::string& flag, const std::string& path) {
  const std::string why = why_not_writable(path);
  if (!why.empty()) throw UsageError(flag + " " + why);
}

namespace {

// A folder's path without a trailing '/' ("models/" and "models" alike), so that its parent is the
// folder above it and messages name it as written.
std::filesystem::path as_folder(const std::string& folder) {
  std::filesystem::path path = std::filesystem::path(folder).lexically_normal();
  if (!path.has_filename() && path.has_relative_path()) path = path.parent_path();
  return path;
}

}  // namespace

void check_folder_writable(const std::string& flag, const std::string& folder) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path path = as_folder(folder);
  const std::string name = path.string();
  if (fs::exists(path, error)) {
    if (!fs::is_directory(path, error)) throw UsageError(flag + " " + name + ": is not a folder");
    if (access(name.c_str(), W_OK) != 0) throw UsageError(flag + " " + name + ": the folder is not writable");
    return;
  }
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (!fs::is_directory(parent, error))
    throw UsageError(flag + " " + name + ": cannot create it, the folder " + parent.string() + " does not exist");
  if (access(parent.c_str(), W_OK) != 0)
    throw UsageError(flag + " " + name + ": cannot create it, the folder " + parent.string() + " is not writable");
}

void make_folder(const std::string& folder) {
  std::error_code error;
  const std::filesystem::path path = as_folder(folder);
  std::filesystem::create_directory(path, error);  // false without an error when it already exists
  if (error) throw InputError(path.string() + ": cannot create the folder: " + error.message());
}

std::string last_finite_path(const std::string& path) {
  std::filesystem::path p(path);
  return p.replace_filename(p.stem().string() + ".last-finite" + p.extension().string()).string();
}

CLI::Validator not_empty() {
  return CLI::Validator([](std::string& value) { return value.empty() ? std::string("needs a value, not an empty string") : ""; },
                        "", "NOT_EMPTY");
}

CLI::Validator seed_value() {
  return CLI::Validator(
      [](std::string& value) {
        uint64_t seed = 0;
        const char* end = value.data() + value.size();
        const auto [stop, error] = std::from_chars(value.data(), end, seed);  // no sign, no overflow
        if (value.empty() || error != std::errc() || stop != end)
          return "'" + value + "' is not a seed: give a whole number from 0 to " +
                 std::to_string(std::numeric_limits<uint64_t>::max());
        return std::string();
      },
      "", "SEED");
}

}  // namespace sigtrain::cli
