#include "model/model_file.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "model/choices.h"
#include "util/errors.h"
#include "util/file_util.h"

namespace sigtrain {

namespace {

using nlohmann::json;

constexpr const char* kFormatName = "sigtrain-model";
constexpr int kVersionWritten = 2;
// What version 1 fixed (its files may leave them out): the notes' activations.
constexpr Activation kVersion1Hidden = Activation::sigmoid;
constexpr Activation kVersion1Output = Activation::linear;

// OptimizerSettings' values by their names in the file, in the order they are written.
struct SettingKey {
  const char* key;
  double OptimizerSettings::*member;
};
constexpr SettingKey kSettingKeys[] = {{"momentum", &OptimizerSettings::momentum},
                                       {"beta1", &OptimizerSettings::beta1},
                                       {"beta2", &OptimizerSettings::beta2},
                                       {"eps", &OptimizerSettings::eps},
                                       {"weight_decay", &OptimizerSettings::weight_decay}};

// The names of the state slots of `kind`, slot 0 first: PyTorch's (torch.optim's per-parameter state).
std::vector<std::string> state_slot_names(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::momentum:
    case OptimizerKind::nesterov:
      return {"momentum_buffer"};
    case OptimizerKind::adam:
    case OptimizerKind::adamw:
      return {"exp_avg", "exp_avg_sq"};
    case OptimizerKind::sgd:
    default:
      return {};
  }
}

// "a, b" then last_separator before the last name ("a, b and c"); "none" for no names.
std::string listed(const std::vector<std::string>& names, const char* last_separator) {
  if (names.empty()) return "none";
  std::string text;
  for (size_t k = 0; k < names.size(); ++k)
    text += (k == 0 ? "" : k + 1 < names.size() ? ", " : last_separator) + names[k];
  return text;
}

// "1 row", "3 rows".
std::string count_of(size_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

// ---- Writing ---------------------------------------------------------------------------------------
// Each part is written to the stream as it is formed: a large model's text (~22 bytes per number) is
// never held whole, so saving needs no more memory than the stream's buffer (util/file_util.h).

// The shortest text that reads back as exactly `value` (std::to_chars), always with a '.' or an
// exponent: JSON readers take "-0" or "1" for integers, and an integer 0 would lose the sign of -0.0.
// `what` names the element for the error.
void write_number(std::ostream& out, double value, const std::string& what) {
  if (!std::isfinite(value))
    throw InputError("the model has a non-finite number in " + what + " (" + std::to_string(value) +
                     "), which a JSON model file cannot hold");
  char buffer[32];  // the shortest form of a double needs at most 24 characters, and ".0" 2 more
  char* end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  if (std::none_of(buffer, end, [](char c) { return c == '.' || c == 'e'; })) end = std::copy_n(".0", 2, end);
  out.write(buffer, end - buffer);
}

// "a, b, c".
void write_numbers(std::ostream& out, const double* values, size_t count, const std::string& what) {
  for (size_t k = 0; k < count; ++k) {
    if (k > 0) out << ", ";
    write_number(out, values[k], what);
  }
}

// "[a, b, c]" on one line.
void write_row(std::ostream& out, const double* values, size_t count, const std::string& what) {
  out << '[';
  write_numbers(out, values, count, what);
  out << ']';
}

std::string quoted(const std::string& name) { return "\"" + name + "\""; }  // names need no escaping

// What a model file holds, by reference: a Model's parts, or `like`'s setup and standardisation with
// other parameters and state (a checkpoint's, without copying them into a Model).
struct ModelParts {
  const TrainingSetup& setup;
  const Standardization& standardization;
  const Parameters& parameters;
  const OptimizerState& optimizer_state;
};

// One weight row per line, the rows of a layer aligned under its opening bracket (numpy's style):
// a 3-wide layer stays a small block, and a 1024-wide one is still one line per unit.
//   [[p1, p2],
//    [q1, q2]],
void write_weights(std::ostream& out, const Parameters& p) {
  const NetworkSpec& spec = p.spec;
  out << "[\n";
  for (int l = 1; l <= spec.num_layers(); ++l) {
    const int rows = spec.widths[l], columns = spec.widths[l - 1];
    out << "    [";
    for (int i = 0; i < rows; ++i) {
      if (i > 0) out << ",\n     ";
      write_row(out, p.W(l) + size_t(i) * columns, columns, "weights");
    }
    out << (l < spec.num_layers() ? "],\n" : "]\n");
  }
  out << "  ]";
}

void write_biases(std::ostream& out, const Parameters& p) {
  out << "[\n";
  for (int l = 1; l <= p.spec.num_layers(); ++l) {
    out << "    ";
    write_row(out, p.b(l), p.spec.widths[l], "biases");
    out << (l < p.spec.num_layers() ? ",\n" : "\n");
  }
  out << "  ]";
}

// P numbers in the flat parameter layout as one array, one line per weight row and per bias vector (the
// lines of "weights" and "biases", in the buffer's order), closing at `indent`.
void write_flat_array(std::ostream& out, const double* values, const NetworkSpec& spec, const std::string& indent,
                      const std::string& what) {
  out << '[';
  const char* separator = "\n";
  const auto line = [&](size_t offset, size_t count) {
    out << separator << indent << "  ";
    write_numbers(out, values + offset, count, what);
    separator = ",\n";
  };
  for (int l = 1; l <= spec.num_layers(); ++l) {
    for (int i = 0; i < spec.widths[l]; ++i)
      line(spec.weight_offset(l) + size_t(i) * spec.widths[l - 1], size_t(spec.widths[l - 1]));
    if (spec.bias) line(spec.bias_offset(l), size_t(spec.widths[l]));
  }
  out << '\n' << indent << ']';
}

// {"mean": […], "scale": […]} of one side, at `indent`.
void write_mean_and_scale(std::ostream& out, const std::vector<double>& mean, const std::vector<double>& scale,
                          const std::string& name, const std::string& indent) {
  JsonObjectWriter object(out, indent);
  write_row(object.member("mean"), mean.data(), mean.size(), name + ".mean");
  write_row(object.member("scale"), scale.data(), scale.size(), name + ".scale");
  object.close();
}

void write_standardization(std::ostream& out, const Standardization& s) {
  JsonObjectWriter object(out, "  ");
  if (s.inputs())
    write_mean_and_scale(object.member("inputs"), s.input_mean, s.input_scale, "standardization.inputs", "    ");
  if (s.targets())
    write_mean_and_scale(object.member("targets"), s.target_mean, s.target_scale, "standardization.targets", "    ");
  object.close();
}

void write_optimizer(std::ostream& out, const ModelParts& m) {
  const OptimizerSettings& settings = m.setup.optimizer;
  JsonObjectWriter object(out, "  ");
  object.member("name") << quoted(name_of(settings.kind));
  for (const SettingKey& setting : kSettingKeys)
    write_number(object.member(setting.key), settings.*setting.member, std::string("optimizer.") + setting.key);
  object.member("steps") << std::to_string(m.optimizer_state.steps);

  JsonObjectWriter state(object.member("state"), "    ");
  const std::vector<double>& values = m.optimizer_state.values;
  if (!values.empty()) {  // empty: a fresh optimizer, written as {}
    const NetworkSpec& spec = m.parameters.spec;
    const std::vector<std::string> slots = state_slot_names(settings.kind);
    for (size_t k = 0; k < slots.size(); ++k)
      write_flat_array(state.member(slots[k]), values.data() + k * spec.parameter_count(), spec, "      ",
                       "optimizer.state." + slots[k]);
  }
  state.close();
  object.close();
}

// A Model whose parts disagree is a bug in the caller, not something to write into a file.
void check_writable(const ModelParts& m) {
  const NetworkSpec& spec = m.parameters.spec;
  check_optimizer_state(m.optimizer_state, m.setup.optimizer.kind, spec.parameter_count());
  const Standardization& s = m.standardization;
  if (s.input_mean.size() != s.input_scale.size() || s.target_mean.size() != s.target_scale.size() ||
      (s.inputs() && s.input_mean.size() != size_t(spec.inputs())) ||
      (s.targets() && s.target_mean.size() != size_t(spec.outputs())))
    throw std::invalid_argument("standardisation of " + std::to_string(s.input_mean.size()) + " inputs and " +
                                std::to_string(s.target_mean.size()) + " targets for the network " + spec.to_string());
}

// ---- Reading ---------------------------------------------------------------------------------------

// Finds where the text stops being JSON. nlohmann's DOM parser reports a position for syntax errors
// but not for a number too large for a double (it throws out_of_range without one); its SAX interface
// gets the position for both, so a failed parse is re-run through this to place the error.
class JsonErrorLocator : public json::json_sax_t {
 public:
  bool found = false;
  size_t byte = 0;  // 1-based index of the last character read when the error was seen
  std::string message;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(size_t position, const std::string&, const json::exception& error) override {
    found = true;
    byte = position;
    message = error.what();
    return false;
  }
};

// nlohmann's messages read "[json.exception.parse_error.101] parse error at line 2, column 13: syntax
// error …"; keep only the part after the location, which is reported in the compiler-like prefix.
std::string strip_nlohmann_prefix(std::string message) {
  const size_t bracket = message.find("] ");
  if (message.compare(0, 1, "[") == 0 && bracket != std::string::npos) message.erase(0, bracket + 2);
  const size_t colon = message.find(": ");
  if (message.compare(0, 11, "parse error") == 0 && colon != std::string::npos) message.erase(0, colon + 2);
  std::replace(message.begin(), message.end(), '\n', ' ');  // errors are one line (DESIGN.md §3)
  return message;
}

[[noreturn]] void throw_json_error(const std::string& text, const std::string& source,
                                   const json::exception& error) {
  JsonErrorLocator locator;
  json::sax_parse(text, &locator);
  if (!locator.found)
    throw InputError(located(source, 0, 0, "cannot parse JSON: " + strip_nlohmann_prefix(error.what())));
  // Line and column (1-based, column in bytes) of the character at `byte`; at the end of the input that
  // is one past the last character.
  const size_t offset = std::min(std::max<size_t>(locator.byte, 1) - 1, text.size());
  const long line = 1 + long(std::count(text.begin(), text.begin() + long(offset), '\n'));
  const size_t line_start = offset == 0 ? 0 : text.find_last_of('\n', offset - 1) + 1;  // npos + 1 == 0
  const long column = long(offset - line_start) + 1;
  throw InputError(
      located(source, line, column, "cannot parse JSON: " + strip_nlohmann_prefix(locator.message)));
}

// Validates a parsed document (version 1 or 2); every error names the offending element as it is
// written in the file, with 0-based indices: weights[1][0][2], optimizer.state.exp_avg[7].
class ModelReader {
 public:
  explicit ModelReader(const std::string& source) : source_(source) {}

  Model read(const json& document) const {
    if (!document.is_object()) fail("the top level is " + describe(document) + ", expected an object");
    check_format(document);
    const int version = read_version(member(document, "version"));
    Model m;
    NetworkSpec spec;
    spec.widths = read_widths(member(document, "layers"));
    spec.bias = read_bias(member(document, "bias"));
    if (version == 1) {
      check_version1_activation(document, "hidden_activation", kVersion1Hidden);
      check_version1_activation(document, "output_activation", kVersion1Output);
    } else {
      spec.hidden = read_choice(member(document, "hidden_activation"), "hidden_activation", hidden_activation_names(),
                                parse_hidden_activation);
      spec.output = read_choice(member(document, "output_activation"), "output_activation", output_activation_names(),
                                parse_output_activation);
      m.setup.loss = read_choice(member(document, "loss"), "loss", loss_names(), parse_loss);
      check_head_of(m.setup.loss, spec.output);
    }
    m.parameters = read_parameters(document, spec);
    if (version >= 2) {
      m.standardization = read_standardization(document, spec);
      read_optimizer(member(document, "optimizer"), spec.parameter_count(), m.setup.optimizer, m.optimizer_state);
    }
    return m;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw InputError(located(source_, 0, 0, what)); }

  // `text` in quotes, escaped (one line) and cut to a readable length.
  static std::string quoted_text(std::string text) {
    constexpr size_t kMaxShown = 40;
    if (text.size() > kMaxShown) {
      size_t cut = kMaxShown;
      while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
      text = text.substr(0, cut) + "...";
    }
    return json(text).dump();  // dump() escapes quotes and newlines
  }

  // How a value appears in messages: `the string "abc"`, `an array`, `2.5`, `null`.
  static std::string describe(const json& value) {
    switch (value.type()) {
      case json::value_t::object:
        return "an object";
      case json::value_t::array:
        return "an array";
      case json::value_t::string:
        return "the string " + quoted_text(value.get<std::string>());
      default:
        return value.dump();
    }
  }

  static std::string units_reason(const NetworkSpec& spec, int l) {
    return "(layer " + std::to_string(l) + " has " + count_of(spec.widths[l], "unit") + ")";
  }

  // object[key]; `object_name` is the object's path in messages ("optimizer"), empty for the top level.
  const json& member(const json& object, const std::string& key, const std::string& object_name = "") const {
    const auto found = object.find(key);
    if (found == object.end()) fail(path(object_name, key) + " is missing");
    return *found;
  }

  static std::string path(const std::string& object_name, const std::string& key) {
    return object_name.empty() ? key : object_name + "." + key;
  }

  const json& object(const json& value, const std::string& name) const {
    if (!value.is_object()) fail(name + " is " + describe(value) + ", expected an object");
    return value;
  }

  void check_format(const json& document) const {
    const std::string expected = quoted(kFormatName);
    const auto found = document.find("format");
    if (found == document.end()) fail("format is missing, expected " + expected);
    if (!found->is_string() || found->get<std::string>() != kFormatName)
      fail("format is " + describe(*found) + ", expected " + expected);
  }

  int read_version(const json& version) const {
    if (!version.is_number()) fail("version is " + describe(version) + ", expected 1 or 2");
    for (int known : {1, 2})
      if (version == known) return known;
    fail("unsupported model version " + version.dump() + " (this sigtrain reads versions 1 and 2)");
  }

  // Version 1 fixed the activations: a file may leave them out, or name the only value they could have.
  void check_version1_activation(const json& document, const char* key, Activation fixed) const {
    const auto found = document.find(key);
    if (found != document.end() && !(found->is_string() && found->get<std::string>() == name_of(fixed)))
      fail(std::string(key) + " is " + describe(*found) + ", expected " + quoted(name_of(fixed)));
  }

  // One of `names`, parsed by `parse` (choices.h).
  template <class Enum>
  Enum read_choice(const json& value, const std::string& name, const std::vector<std::string>& names,
                   Enum (*parse)(const std::string&, const std::string&)) const {
    if (!value.is_string() || std::find(names.begin(), names.end(), value.get<std::string>()) == names.end())
      fail(name + " is " + describe(value) + ", expected one of " + listed(names, ", "));
    return parse(value.get<std::string>(), name);
  }

  // check_head's rule (bce takes a sigmoid output), said in the file's words.
  void check_head_of(Loss loss, Activation output) const {
    try {
      check_head(loss, output);
    } catch (const UsageError&) {
      fail("loss " + quoted(name_of(loss)) +
           " needs output_activation \"sigmoid\" (binary cross-entropy takes "
           "probabilities), and output_activation is " +
           quoted(name_of(output)));
    }
  }

  std::vector<int> read_widths(const json& layers) const {
    if (!layers.is_array()) fail("layers is " + describe(layers) + ", expected an array of widths");
    if (layers.size() < 2)
      fail("layers has " + count_of(layers.size(), "width") + ", expected at least 2 (inputs and outputs)");
    std::vector<int> widths;
    for (size_t k = 0; k < layers.size(); ++k) {
      const json& width = layers[k];
      // get<long long>() of an unsigned above LLONG_MAX wraps negative, which the range check rejects.
      if (!width.is_number_integer() || width.get<long long>() < 1 || width.get<long long>() > kMaxWidth)
        fail("layers[" + std::to_string(k) + "] is " + describe(width) +
             ", expected a whole number from 1 to " + std::to_string(kMaxWidth));
      widths.push_back(width.get<int>());
    }
    return widths;
  }

  bool read_bias(const json& bias) const {
    if (!bias.is_boolean()) fail("bias is " + describe(bias) + ", expected true or false");
    return bias.get<bool>();
  }

  Parameters read_parameters(const json& document, const NetworkSpec& spec) const {
    // Everything is validated into these before Parameters is allocated, so that a file claiming huge
    // widths with few numbers fails with a shape error instead of exhausting memory.
    const int layer_count = spec.num_layers();
    std::vector<std::vector<double>> weights(layer_count + 1), biases(layer_count + 1);  // index l = 1 … L
    const std::string layers_reason = "(layers lists " + count_of(spec.widths.size(), "width") + ")";
    const json& weight_layers = array_of(member(document, "weights"), layer_count, "weights", "layer", layers_reason);
    for (int l = 1; l <= layer_count; ++l) {
      const std::string name = "weights[" + std::to_string(l - 1) + "]";
      const json& rows = array_of(weight_layers[l - 1], spec.widths[l], name, "row", units_reason(spec, l));
      const std::string inputs_reason =
          "(layer " + std::to_string(l) + " has " + count_of(spec.widths[l - 1], "input") + ")";
      for (int i = 0; i < spec.widths[l]; ++i)
        read_floats(rows[i], spec.widths[l - 1], name + "[" + std::to_string(i) + "]", inputs_reason, weights[l]);
    }
    if (spec.bias) {
      const json& bias_layers = array_of(member(document, "biases"), layer_count, "biases", "layer", layers_reason);
      for (int l = 1; l <= layer_count; ++l)
        read_floats(bias_layers[l - 1], spec.widths[l], "biases[" + std::to_string(l - 1) + "]", units_reason(spec, l),
                    biases[l]);
    } else if (document.contains("biases")) {
      // Not an unknown key: silently dropping trained biases would change the model's outputs.
      fail("biases is present but bias is false");
    }

    Parameters p(spec);
    for (int l = 1; l <= layer_count; ++l) {
      std::copy(weights[l].begin(), weights[l].end(), p.W(l));
      if (spec.bias) std::copy(biases[l].begin(), biases[l].end(), p.b(l));
    }
    return p;
  }

  // "standardization" (absent: none) with "inputs" and "targets" each optional.
  Standardization read_standardization(const json& document, const NetworkSpec& spec) const {
    Standardization s;
    const auto found = document.find("standardization");
    if (found == document.end()) return s;
    const json& sides = object(*found, "standardization");
    read_mean_and_scale(sides, "inputs", count_of(spec.inputs(), "input"), spec.inputs(), s.input_mean, s.input_scale);
    read_mean_and_scale(sides, "targets", count_of(spec.outputs(), "output"), spec.outputs(), s.target_mean,
                        s.target_scale);
    return s;
  }

  // One side's means and scales, `columns` each; a scale divides (x − mean) / scale, so it must be > 0.
  void read_mean_and_scale(const json& sides, const char* side, const std::string& columns_text, size_t columns,
                           std::vector<double>& mean, std::vector<double>& scale) const {
    const auto found = sides.find(side);
    if (found == sides.end()) return;
    const std::string name = path("standardization", side);
    const json& value = object(*found, name);
    const std::string reason = "(the network has " + columns_text + ")";
    read_numbers(member(value, "mean", name), columns, name + ".mean", reason, mean);
    read_numbers(member(value, "scale", name), columns, name + ".scale", reason, scale);
    for (size_t k = 0; k < columns; ++k)
      if (!(scale[k] > 0.0))
        fail(name + ".scale[" + std::to_string(k) + "] is " + json(scale[k]).dump() + ", expected a number above 0");
  }

  void read_optimizer(const json& value, size_t P, OptimizerSettings& settings, OptimizerState& state) const {
    const json& optimizer = object(value, "optimizer");
    settings.kind =
        read_choice(member(optimizer, "name", "optimizer"), "optimizer.name", optimizer_names(), parse_optimizer);
    for (const SettingKey& setting : kSettingKeys)
      settings.*setting.member = read_setting(member(optimizer, setting.key, "optimizer"), setting);
    state.steps = read_steps(member(optimizer, "steps", "optimizer"));
    state.values = read_state(object(member(optimizer, "state", "optimizer"), "optimizer.state"), settings.kind, P);
  }

  // A number in check_optimizer_settings's range for `setting`: its message for that setting alone (the
  // others at their defaults), with the flag (--beta2) replaced by the element (optimizer.beta2).
  double read_setting(const json& value, const SettingKey& setting) const {
    const std::string name = path("optimizer", setting.key);
    const double number = read_number(value, name);
    OptimizerSettings alone;
    alone.*setting.member = number;
    try {
      check_optimizer_settings(alone);
    } catch (const UsageError& error) {
      const std::string message = error.what();
      fail(name + message.substr(std::min(message.find(' '), message.size())));
    }
    return number;
  }

  uint64_t read_steps(const json& steps) const {
    // Non-negative integer literals parse as unsigned; negative ones as signed, fractions and literals
    // beyond 2^64 − 1 as floats.
    if (!steps.is_number_unsigned())
      fail("optimizer.steps is " + describe(steps) + ", expected a whole number from 0 to " +
           std::to_string(std::numeric_limits<uint64_t>::max()));
    return steps.get<uint64_t>();
  }

  // The slots of `kind`, each P numbers, slot-major as OptimizerState keeps them; {} for a fresh optimizer.
  std::vector<double> read_state(const json& state, OptimizerKind kind, size_t P) const {
    const std::string name = "optimizer.state";
    const std::vector<std::string> slots = state_slot_names(kind);
    const std::string kept = "(" + name_of(kind) + " keeps " + listed(slots, " and ") + ")";
    // Not ignored like unknown keys elsewhere: a slot of another optimizer means a state that does not
    // belong to this one.
    for (const auto& item : state.items())
      if (std::find(slots.begin(), slots.end(), item.key()) == slots.end())
        fail(name + " has " + quoted_text(item.key()) + ", which is not a state of " + name_of(kind) + " " + kept);
    std::vector<double> values;
    if (state.empty()) return values;
    const std::string reason = "(the network has " + count_of(P, "parameter") + ")";
    for (const std::string& slot : slots) {
      const std::string slot_name = path(name, slot);
      if (!state.contains(slot)) fail(slot_name + " is missing " + kept);
      read_floats(state[slot], P, slot_name, reason, values);
    }
    return values;
  }

  // `value` as an array of `expected` elements; `reason` says where that count comes from.
  const json& array_of(const json& value, size_t expected, const std::string& name, const std::string& noun,
                       const std::string& reason) const {
    if (!value.is_array())
      fail(name + " is " + describe(value) + ", expected an array of " + count_of(expected, noun) + " " +
           reason);
    if (value.size() != expected)
      fail(name + " has " + count_of(value.size(), noun) + ", expected " + std::to_string(expected) + " " + reason);
    return value;
  }

  double read_number(const json& number, const std::string& name) const {
    if (!number.is_number()) fail(name + " is " + describe(number) + ", expected a number");
    const double value = number.get<double>();
    // JSON has no inf or nan, and nlohmann rejects overflowing literals itself; kept so that the
    // promise "every number read is finite" does not rest on a library detail.
    if (!std::isfinite(value)) fail(name + " is not a finite number");
    return value;
  }

  // Appends the `expected` finite numbers of the array `row` to `out`.
  void read_numbers(const json& row, size_t expected, const std::string& name, const std::string& reason,
                    std::vector<double>& out) const {
    array_of(row, expected, name, "number", reason);
    for (size_t k = 0; k < expected; ++k) out.push_back(read_number(row[k], name + "[" + std::to_string(k) + "]"));
  }

  // read_numbers for what the fp32 backends hold (parameters and optimizer state): each number must also
  // fit in a float, or the network would start from infinities (a weight of 1e300 loaded, and training
  // diverged at once). Data files are held to the same rule (data_files.h).
  void read_floats(const json& row, size_t expected, const std::string& name, const std::string& reason,
                   std::vector<double>& out) const {
    const size_t first = out.size();
    read_numbers(row, expected, name, reason, out);
    constexpr double kLargestFloat = std::numeric_limits<float>::max();
    for (size_t k = 0; k < expected; ++k)
      if (std::fabs(out[first + k]) > kLargestFloat)
        fail(name + "[" + std::to_string(k) + "] is " + json(out[first + k]).dump() +
             ", which does not fit in a float (the largest is " + json(kLargestFloat).dump() + ")");
  }

  const std::string& source_;
};

}  // namespace

std::ostream& JsonObjectWriter::member(const std::string& key) {
  out_ << (members_++ == 0 ? "{\n" : ",\n") << indent_ << "  " << quoted(key) << ": ";
  return out_;
}

void JsonObjectWriter::close() {
  if (members_ == 0)
    out_ << "{}";
  else
    out_ << '\n' << indent_ << '}';
}

void write_model(std::ostream& out, const Model& like, const Parameters& parameters, const OptimizerState& state,
                 const std::vector<ExtraMember>& extra_members) {
  const ModelParts m{like.setup, like.standardization, parameters, state};
  check_writable(m);  // before anything is written
  const NetworkSpec& spec = m.parameters.spec;
  JsonObjectWriter object(out, "");
  object.member("format") << quoted(kFormatName);
  object.member("version") << std::to_string(kVersionWritten);
  std::ostream& layers = object.member("layers");
  layers << '[';
  for (size_t k = 0; k < spec.widths.size(); ++k) layers << (k ? ", " : "") << std::to_string(spec.widths[k]);
  layers << ']';
  object.member("bias") << (spec.bias ? "true" : "false");
  object.member("hidden_activation") << quoted(name_of(spec.hidden));
  object.member("output_activation") << quoted(name_of(spec.output));
  object.member("loss") << quoted(name_of(m.setup.loss));
  write_weights(object.member("weights"), m.parameters);
  if (spec.bias) write_biases(object.member("biases"), m.parameters);
  if (!m.standardization.none()) write_standardization(object.member("standardization"), m.standardization);
  write_optimizer(object.member("optimizer"), m);
  for (const ExtraMember& extra : extra_members) extra.write_value(object.member(extra.key));
  object.close();
  out << '\n';
}

void write_model(std::ostream& out, const Model& m) { write_model(out, m, m.parameters, m.optimizer_state, {}); }

std::string model_to_json(const Model& m) {
  std::ostringstream text;
  write_model(text, m);
  return text.str();
}

Model model_from_json(const std::string& text, const std::string& source) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::exception& error) {
    throw_json_error(text, source, error);
  }
  return ModelReader(source).read(document);
}

void save_model(const Model& m, const std::string& path) {
  write_file_atomically(path, [&m](std::ostream& out) { write_model(out, m); });
}

Model load_model(const std::string& path) { return model_from_json(read_file(path), path); }

}  // namespace sigtrain
