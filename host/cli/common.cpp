#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "data/data_files.h"
#include "util/errors.h"

namespace sigtrain::cli {

void add_data_options(CLI::App& command, DataOptions& options, bool synthetic_default_sine) {
  command.add_option("--data", options.file, "data file: CSV (.csv) or FANN (.data); inputs first, then targets");
  command.add_option("--format", options.format, "data file format: auto (by extension), csv or fann")
      ->capture_default_str();
  command.add_option("--synthetic", options.synthetic,
                     std::string("built-in data set: sine or xor") +
                         (synthetic_default_sine ? " (sine when neither --data nor --synthetic is given)" : ""));
  command.add_option("--samples", options.samples, "size of the built-in data set")->capture_default_str();
  command.add_option("--data-seed", options.data_seed, "seed of the built-in data set")->capture_default_str();
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
  namespace fs = std::filesystem;
  const fs::path target(path);
  std::error_code error;
  if (fs::is_directory(target, error)) throw UsageError(flag + " " + path + ": is a directory");
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(folder, error)) throw UsageError(flag + " " + path + ": the folder " + folder.string() + " does not exist");
  if (access(folder.c_str(), W_OK) != 0) throw UsageError(flag + " " + path + ": the folder " + folder.string() + " is not writable");
}

std::string format_number(double v, int digits) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

}  // namespace sigtrain::cli
