#include "model/model_file.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "util/errors.h"
#include "util/file_util.h"

namespace sigtrain {

namespace {

using nlohmann::json;

constexpr const char* kFormatName = "sigtrain-model";
constexpr int kFormatVersion = 1;
constexpr const char* kHiddenActivation = "sigmoid";
constexpr const char* kOutputActivation = "linear";

// ---- Writing ---------------------------------------------------------------------------------------

// The shortest text that reads back as exactly `value` (std::to_chars), always with a '.' or an
// exponent: JSON readers take "-0" or "1" for integers, and an integer 0 would lose the sign of -0.0.
void append_number(std::string& out, double value) {
  if (!std::isfinite(value))
    throw InputError("the model has a non-finite parameter (" + std::to_string(value) +
                     "), which a JSON model file cannot hold");
  char buffer[32];  // the shortest form of a double needs at most 24 characters
  char* end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  out.append(buffer, end);
  if (std::none_of(buffer, end, [](char c) { return c == '.' || c == 'e'; })) out += ".0";
}

// "[a, b, c]" on one line.
void append_row(std::string& out, const double* values, int count) {
  out += '[';
  for (int k = 0; k < count; ++k) {
    if (k > 0) out += ", ";
    append_number(out, values[k]);
  }
  out += ']';
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

// "1 row", "3 rows".
std::string count_of(size_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

// Validates a parsed document against DESIGN.md §4; every error names the offending element as it is
// written in the file, with 0-based indices: weights[1][0][2].
class ModelReader {
 public:
  explicit ModelReader(const std::string& source) : source_(source) {}

  Model read(const json& document) const {
    if (!document.is_object()) fail("the top level is " + describe(document) + ", expected an object");
    check_fixed_string(document, "format", kFormatName, /*required=*/true);
    check_version(member(document, "version"));
    NetworkSpec spec;
    spec.widths = read_widths(member(document, "layers"));
    spec.bias = read_bias(member(document, "bias"));
    check_fixed_string(document, "hidden_activation", kHiddenActivation, /*required=*/false);
    check_fixed_string(document, "output_activation", kOutputActivation, /*required=*/false);

    // Everything is validated into these before Parameters is allocated, so that a file claiming huge
    // widths with few numbers fails with a shape error instead of exhausting memory.
    const int layer_count = spec.num_layers();
    std::vector<std::vector<double>> weights(layer_count + 1), biases(layer_count + 1);  // index l = 1 … L
    const std::string layers_reason = "(layers lists " + count_of(spec.widths.size(), "width") + ")";
    const json& weight_layers =
        array_of(member(document, "weights"), layer_count, "weights", "layer", layers_reason);
    for (int l = 1; l <= layer_count; ++l) {
      const std::string name = "weights[" + std::to_string(l - 1) + "]";
      const json& rows = array_of(weight_layers[l - 1], spec.widths[l], name, "row", units_reason(spec, l));
      const std::string inputs_reason =
          "(layer " + std::to_string(l) + " has " + count_of(spec.widths[l - 1], "input") + ")";
      for (int i = 0; i < spec.widths[l]; ++i)
        read_numbers(rows[i], spec.widths[l - 1], name + "[" + std::to_string(i) + "]", inputs_reason,
                     weights[l]);
    }
    if (spec.bias) {
      const json& bias_layers =
          array_of(member(document, "biases"), layer_count, "biases", "layer", layers_reason);
      for (int l = 1; l <= layer_count; ++l)
        read_numbers(bias_layers[l - 1], spec.widths[l], "biases[" + std::to_string(l - 1) + "]",
                     units_reason(spec, l), biases[l]);
    } else if (document.contains("biases")) {
      // Not an unknown key: silently dropping trained biases would change the model's outputs.
      fail("biases is present but bias is false");
    }

    Model m;
    m.parameters = Parameters(spec);
    Parameters& p = m.parameters;
    for (int l = 1; l <= layer_count; ++l) {
      std::copy(weights[l].begin(), weights[l].end(), p.W(l));
      if (spec.bias) std::copy(biases[l].begin(), biases[l].end(), p.b(l));
    }
    return m;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw InputError(located(source_, 0, 0, what)); }

  // How a value appears in messages: `the string "abc"`, `an array`, `2.5`, `null`.
  static std::string describe(const json& value) {
    switch (value.type()) {
      case json::value_t::object:
        return "an object";
      case json::value_t::array:
        return "an array";
      case json::value_t::string: {
        constexpr size_t kMaxShown = 40;
        std::string text = value.get<std::string>();
        if (text.size() > kMaxShown) {
          size_t cut = kMaxShown;
          while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
          text = text.substr(0, cut) + "...";
        }
        return "the string " + json(text).dump();  // dump() escapes quotes and newlines: one line
      }
      default:
        return value.dump();
    }
  }

  static std::string units_reason(const NetworkSpec& spec, int l) {
    return "(layer " + std::to_string(l) + " has " + count_of(spec.widths[l], "unit") + ")";
  }

  const json& member(const json& object, const char* key) const {
    const auto found = object.find(key);
    if (found == object.end()) fail(std::string(key) + " is missing");
    return *found;
  }

  // A key whose value this version of the format fixes: "format", and the activations (which may be
  // left out, as they cannot be anything else).
  void check_fixed_string(const json& document, const char* key, const char* expected, bool required) const {
    const auto found = document.find(key);
    if (found == document.end()) {
      if (required) fail(std::string(key) + " is missing, expected \"" + expected + "\"");
      return;
    }
    if (!found->is_string() || found->get<std::string>() != expected)
      fail(std::string(key) + " is " + describe(*found) + ", expected \"" + expected + "\"");
  }

  void check_version(const json& version) const {
    if (!version.is_number())
      fail("version is " + describe(version) + ", expected " + std::to_string(kFormatVersion));
    if (version != kFormatVersion)
      fail("unsupported model version " + version.dump() + " (this sigtrain reads version " +
           std::to_string(kFormatVersion) + ")");
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

  // `value` as an array of `expected` elements; `reason` says where that count comes from.
  const json& array_of(const json& value, size_t expected, const std::string& name, const std::string& noun,
                       const std::string& reason) const {
    if (!value.is_array())
      fail(name + " is " + describe(value) + ", expected an array of " + count_of(expected, noun) + " " +
           reason);
    if (value.size() != expected)
      fail(name + " has " + count_of(value.size(), noun) + ", expected " + std::to_string(expected) + " " +
           reason);
    return value;
  }

  // Appends the `expected` finite numbers of the array `row` to `out`.
  void read_numbers(const json& row, size_t expected, const std::string& name, const std::string& reason,
                    std::vector<double>& out) const {
    array_of(row, expected, name, "number", reason);
    for (size_t k = 0; k < expected; ++k) {
      const json& number = row[k];
      const std::string element = name + "[" + std::to_string(k) + "]";
      if (!number.is_number()) fail(element + " is " + describe(number) + ", expected a number");
      const double value = number.get<double>();
      // JSON has no inf or nan, and nlohmann rejects overflowing literals itself; kept so that the
      // promise "every parameter read is finite" does not rest on a library detail.
      if (!std::isfinite(value)) fail(element + " is not a finite number");
      out.push_back(value);
    }
  }

  const std::string& source_;
};

}  // namespace

std::string model_to_json(const Model& m) {
  const Parameters& p = m.parameters;
  const NetworkSpec& spec = p.spec;
  std::string out;
  out += "{\n";
  out += "  \"format\": \"" + std::string(kFormatName) + "\",\n";
  out += "  \"version\": " + std::to_string(kFormatVersion) + ",\n";
  out += "  \"layers\": [";
  for (size_t k = 0; k < spec.widths.size(); ++k) out += (k ? ", " : "") + std::to_string(spec.widths[k]);
  out += "],\n";
  out += std::string("  \"bias\": ") + (spec.bias ? "true" : "false") + ",\n";
  out += "  \"hidden_activation\": \"" + std::string(kHiddenActivation) + "\",\n";
  out += "  \"output_activation\": \"" + std::string(kOutputActivation) + "\",\n";

  // One weight row per line, the rows of a layer aligned under its opening bracket (numpy's style):
  // a 3-wide layer stays a small block, and a 1024-wide one is still one line per unit.
  //   [[p1, p2],
  //    [q1, q2]],
  out += "  \"weights\": [\n";
  for (int l = 1; l <= spec.num_layers(); ++l) {
    const int rows = spec.widths[l], columns = spec.widths[l - 1];
    out += "    [";
    for (int i = 0; i < rows; ++i) {
      if (i > 0) out += ",\n     ";
      append_row(out, p.W(l) + size_t(i) * columns, columns);
    }
    out += l < spec.num_layers() ? "],\n" : "]\n";
  }
  out += spec.bias ? "  ],\n" : "  ]\n";

  if (spec.bias) {
    out += "  \"biases\": [\n";
    for (int l = 1; l <= spec.num_layers(); ++l) {
      out += "    ";
      append_row(out, p.b(l), spec.widths[l]);
      out += l < spec.num_layers() ? ",\n" : "\n";
    }
    out += "  ]\n";
  }
  out += "}\n";
  return out;
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

void save_model(const Model& m, const std::string& path) { write_file_atomically(path, model_to_json(m)); }

Model load_model(const std::string& path) { return model_from_json(read_file(path), path); }

}  // namespace sigtrain
