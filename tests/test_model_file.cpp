// Model files (DESIGN.md §4) and the file helpers under them: exact round trips, the written layout,
// one clear error per kind of broken file, and atomic saving.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>

#include "util/errors.h"
#include "util/file_util.h"
#include "model/model_file.h"
#include "model/network.h"
#include "util/rng.h"

namespace sigtrain {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Glorot weights plus random biases (glorot_uniform leaves biases at 0, which would hide a bias mix-up).
Parameters random_parameters(const NetworkSpec& spec, uint64_t seed) {
  Parameters p = glorot_uniform(spec, seed);
  if (spec.bias) {
    Rng rng(seed ^ 0x5bd1e995u);
    for (int l = 1; l <= spec.num_layers(); ++l)
      for (int i = 0; i < spec.widths[l]; ++i) p.b(l)[i] = rng.uniform(-1, 1);
  }
  return p;
}

uint64_t bits_of(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// Bit for bit, so that -0.0 vs 0.0 and the last ulp both count.
void expect_identical(const Parameters& expected, const Parameters& actual) {
  ASSERT_EQ(expected.spec, actual.spec);
  ASSERT_EQ(expected.values.size(), actual.values.size());
  for (size_t k = 0; k < expected.values.size(); ++k)
    EXPECT_EQ(bits_of(expected.values[k]), bits_of(actual.values[k]))
        << "parameter " << k << ": wrote " << expected.values[k] << ", read " << actual.values[k];
}

// A valid 2-3-3-1 model as a JSON document, for the error tests to break one thing at a time.
json valid_document(bool bias) {
  return json::parse(model_to_json(random_parameters(NetworkSpec{{2, 3, 3, 1}, bias}, 7)));
}

// The InputError message model_from_json gives for `text`, or a test failure if it accepts it.
std::string load_error(const std::string& text) {
  try {
    model_from_json(text, "model.json");
  } catch (const InputError& error) {
    EXPECT_EQ(std::string(error.what()).find('\n'), std::string::npos) << "errors are one line";
    return error.what();
  }
  ADD_FAILURE() << "model_from_json accepted:\n" << text;
  return "";
}

// The same for a document, written compactly.
std::string document_error(const json& document) { return load_error(document.dump()); }

// An empty folder of its own for the current test.
fs::path scratch_dir() {
  const fs::path dir = fs::path(SIGTRAIN_TEST_TMPDIR) / "model_file" /
                       ::testing::UnitTest::GetInstance()->current_test_info()->name();
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<std::string> file_names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void write_plain(const fs::path& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

// ---- Round trips -----------------------------------------------------------------------------------

// Catches any number printed with too few digits, and a writer or reader that mixes up layers or order.
TEST(ModelFile, RoundTripIsBitExactForRandomNetworks) {
  const std::vector<std::vector<int>> shapes = {{2, 3, 3, 1}, {5, 17, 1, 4}, {1, 1}, {3, 8, 2}};
  uint64_t seed = 11;
  for (const auto& widths : shapes)
    for (bool bias : {false, true}) {
      const Parameters written = random_parameters(NetworkSpec{widths, bias}, seed++);
      SCOPED_TRACE(written.spec.to_string());
      const std::string text = model_to_json(written);
      const Parameters read = model_from_json(text, "model.json").parameters;
      expect_identical(written, read);
      EXPECT_EQ(text, model_to_json(read)) << "write -> read -> write must give the same bytes";
    }
}

// Catches values that lose their sign (-0.0 written as "-0", an integer), denormals or extremes that
// overflow or flush to zero, and integer-valued doubles read back as integers.
TEST(ModelFile, TrickyDoublesRoundTrip) {
  const std::vector<double> tricky = {
      1e-300,
      -0.0,
      0.0,
      0.1,
      0.1 + 0.2,
      1.0 / 3.0,
      -2.0 / 3.0,
      std::numeric_limits<double>::denorm_min(),
      -4.9406564584124654e-324 * 1234,
      DBL_MIN,
      DBL_MIN * (1 - DBL_EPSILON),  // the largest denormal
      DBL_MAX,
      -1.7976931348623157e308,
      1.0,
      -3.0,
      9007199254740992.0,  // 2^53: printed without a decimal point by to_chars
      1e22,
      1e23,
      123456789012345678.0};
  Parameters written(NetworkSpec{{1, int(tricky.size())}, false});
  written.values = tricky;
  const std::string text = model_to_json(written);
  expect_identical(written, model_from_json(text, "model.json").parameters);
  EXPECT_NE(text.find("-0.0"), std::string::npos) << text;
  EXPECT_NE(text.find("[1.0]"), std::string::npos) << "integer values keep a decimal point:\n" << text;
}

// Catches a writer whose bytes depend on anything but the parameters (the CLI promises identical files).
TEST(ModelFile, SameParametersGiveSameBytes) {
  const NetworkSpec spec{{4, 6, 2}, true};
  EXPECT_EQ(model_to_json(random_parameters(spec, 3)), model_to_json(random_parameters(spec, 3)));
  EXPECT_NE(model_to_json(random_parameters(spec, 3)), model_to_json(random_parameters(spec, 4)));
}

// ---- Layout ----------------------------------------------------------------------------------------

// Catches renamed or missing keys and weights written in × out instead of PyTorch's out × in.
TEST(ModelFile, KeysFollowTheDesignLayout) {
  const Parameters p = random_parameters(NetworkSpec{{2, 3, 3, 1}, false}, 5);
  const json document = json::parse(model_to_json(p));
  std::vector<std::string> keys;
  for (const auto& item : document.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"bias", "format", "hidden_activation", "layers",
                                            "output_activation", "version", "weights"}));
  EXPECT_EQ(document["format"], "sigtrain-model");
  EXPECT_EQ(document["version"], 1);
  EXPECT_TRUE(document["version"].is_number_integer());
  EXPECT_EQ(document["layers"], json({2, 3, 3, 1}));
  EXPECT_EQ(document["bias"], false);
  EXPECT_EQ(document["hidden_activation"], "sigmoid");
  EXPECT_EQ(document["output_activation"], "linear");
  ASSERT_EQ(document["weights"].size(), 3u);
  for (int l = 1; l <= 3; ++l) {
    const json& W = document["weights"][l - 1];
    ASSERT_EQ(W.size(), size_t(p.spec.widths[l]));
    for (int i = 0; i < p.spec.widths[l]; ++i) {
      ASSERT_EQ(W[i].size(), size_t(p.spec.widths[l - 1]));
      for (int j = 0; j < p.spec.widths[l - 1]; ++j) EXPECT_EQ(W[i][j].get<double>(), p.W(l, i, j));
    }
  }
}

// Catches biases written for the wrong layer, or in the wrong place of the flat buffer.
TEST(ModelFile, BiasesAreWrittenPerLayer) {
  const Parameters p = random_parameters(NetworkSpec{{2, 3, 3, 1}, true}, 6);
  const json document = json::parse(model_to_json(p));
  EXPECT_EQ(document["bias"], true);
  ASSERT_EQ(document["biases"].size(), 3u);
  for (int l = 1; l <= 3; ++l) {
    ASSERT_EQ(document["biases"][l - 1].size(), size_t(p.spec.widths[l]));
    for (int i = 0; i < p.spec.widths[l]; ++i)
      EXPECT_EQ(document["biases"][l - 1][i].get<double>(), p.b(l)[i]);
  }
}

// Catches any change to the byte layout: key order, indentation, number format, the final newline.
TEST(ModelFile, GoldenTextOfASmallModel) {
  Parameters p(NetworkSpec{{2, 2, 1}, true});
  p.W(1, 0, 0) = 0.5;
  p.W(1, 0, 1) = -0.25;
  p.W(1, 1, 0) = 0.1;
  p.W(1, 1, 1) = 1.0;
  p.W(2, 0, 0) = -3e-20;
  p.W(2, 0, 1) = 1.0 / 3.0;
  p.b(1)[0] = -0.0;
  p.b(1)[1] = 2.0;
  p.b(2)[0] = 1e300;
  EXPECT_EQ(model_to_json(p),
            "{\n"
            "  \"format\": \"sigtrain-model\",\n"
            "  \"version\": 1,\n"
            "  \"layers\": [2, 2, 1],\n"
            "  \"bias\": true,\n"
            "  \"hidden_activation\": \"sigmoid\",\n"
            "  \"output_activation\": \"linear\",\n"
            "  \"weights\": [\n"
            "    [[0.5, -0.25],\n"
            "     [0.1, 1.0]],\n"
            "    [[-3e-20, 0.3333333333333333]]\n"
            "  ],\n"
            "  \"biases\": [\n"
            "    [-0.0, 2.0],\n"
            "    [1e+300]\n"
            "  ]\n"
            "}\n");
}

// Catches a layout that puts a whole wide layer on one line (unreadable) or one number per line.
TEST(ModelFile, WideLayersGetOneLinePerRow) {
  const Parameters p = random_parameters(NetworkSpec{{1024, 8, 1}, false}, 9);
  const std::string text = model_to_json(p);
  // "{", 6 keys, "weights": [, 8 + 1 rows, "  ]", "}".
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1 + 6 + 1 + 9 + 1 + 1);
  expect_identical(p, model_from_json(text, "model.json").parameters);
}

// Catches NaN or infinity written as "nan"/"inf", which no JSON reader (this one included) accepts.
TEST(ModelFile, NonFiniteParametersAreNotWritten) {
  Parameters p = random_parameters(NetworkSpec{{2, 2}, false}, 1);
  p.W(1, 1, 0) = std::nan("");
  EXPECT_THROW(model_to_json(p), InputError);
  p.W(1, 1, 0) = -std::numeric_limits<double>::infinity();
  EXPECT_THROW(model_to_json(p), InputError);
}

// ---- Lenient reading -------------------------------------------------------------------------------

// Catches a reader that rejects keys it does not know (DESIGN.md §4: they are ignored).
TEST(ModelFile, UnknownKeysAreIgnored) {
  const Parameters p = random_parameters(NetworkSpec{{2, 3, 1}, true}, 12);
  json document = json::parse(model_to_json(p));
  document["comment"] = "trained on Tuesday";
  document["history"] = {{"epochs", 40}, {"loss", {0.5, 0.25}}};
  document["optimizer"] = nullptr;
  expect_identical(p, model_from_json(document.dump(2), "model.json").parameters);
}

// Catches a reader that requires the activation keys, which can only have one value each.
TEST(ModelFile, ActivationsMayBeLeftOut) {
  const Parameters p = random_parameters(NetworkSpec{{3, 2, 2}, false}, 13);
  json document = json::parse(model_to_json(p));
  document.erase("hidden_activation");
  document.erase("output_activation");
  expect_identical(p, model_from_json(document.dump(), "model.json").parameters);
}

// Catches integer literals (e.g. a hand-written 0 or 1) being refused where numbers are expected.
TEST(ModelFile, IntegerLiteralsAreAcceptedAsWeights) {
  const Parameters read = model_from_json(
      R"({"format": "sigtrain-model", "version": 1, "layers": [2, 1], "bias": false,
          "weights": [[[1, -2]]]})",
      "model.json").parameters;
  EXPECT_EQ(read.values, (std::vector<double>{1.0, -2.0}));
}

// ---- Errors: malformed JSON ------------------------------------------------------------------------

// Catches a truncated file (an interrupted copy) reported without its position, or accepted.
TEST(ModelFileErrors, TruncatedFileNamesLineAndColumn) {
  const std::string text = model_to_json(random_parameters(NetworkSpec{{2, 3, 3, 1}, true}, 2));
  const std::string half = text.substr(0, text.size() / 2);
  const std::string message = load_error(half);
  // The error is at the end of the input, so on its last line.
  const long last_line = 1 + std::count(half.begin(), half.end(), '\n');
  EXPECT_TRUE(std::regex_search(
      message, std::regex("^model\\.json:" + std::to_string(last_line) + ":[0-9]+: cannot parse JSON: ")))
      << message;
}

// Catches an off-by-one in the line/column computed from nlohmann's byte offset.
TEST(ModelFileErrors, MalformedJsonPointsAtTheOffendingCharacter) {
  const std::string message = load_error("{\n  \"format\": ,\n}\n");
  EXPECT_EQ(message.rfind("model.json:2:13: cannot parse JSON: ", 0), 0u) << message;
  EXPECT_NE(message.find("unexpected ','"), std::string::npos) << message;
}

// Catches an overflowing literal read as infinity: nlohmann refuses it without a position of its own.
TEST(ModelFileErrors, OverflowingNumberIsRejectedWithItsPosition) {
  std::string text = model_to_json(random_parameters(NetworkSpec{{2, 3, 1}, false}, 4));
  const size_t first_weight = text.find("[[") + 2;
  text.replace(first_weight, text.find(',', first_weight) - first_weight, "1e400");
  const std::string message = load_error(text);
  // Line 9: "{", six keys, "weights": [, then the first row.
  EXPECT_TRUE(std::regex_search(message, std::regex("^model\\.json:9:[0-9]+: .*1e400"))) << message;
  EXPECT_NE(load_error(std::string("[") + "-1e400" + "]").find("-1e400"), std::string::npos);
}

// Catches an empty file accepted as an empty model or reported without a position.
TEST(ModelFileErrors, EmptyText) {
  EXPECT_EQ(load_error("").rfind("model.json:1:1: cannot parse JSON", 0), 0u);
}

// Catches trailing garbage after a valid document being ignored.
TEST(ModelFileErrors, TrailingGarbage) {
  EXPECT_NE(
      load_error(model_to_json(random_parameters(NetworkSpec{{1, 1}, false}, 1)) + "}").find("model.json:"),
      std::string::npos);
}

// ---- Errors: wrong contents ------------------------------------------------------------------------

// Catches a reader that indexes into a non-object and crashes (nlohmann type_error) instead.
TEST(ModelFileErrors, TopLevelNotAnObject) {
  EXPECT_EQ(load_error("[1, 2]"), "model.json: the top level is an array, expected an object");
}

// Catches some other JSON file being read as a model.
TEST(ModelFileErrors, WrongFormatString) {
  json document = valid_document(false);
  document["format"] = "keras-model";
  EXPECT_EQ(document_error(document),
            "model.json: format is the string \"keras-model\", expected \"sigtrain-model\"");
  document.erase("format");
  EXPECT_EQ(document_error(document), "model.json: format is missing, expected \"sigtrain-model\"");
}

// Catches a future format version being misread as version 1.
TEST(ModelFileErrors, UnsupportedVersion) {
  json document = valid_document(false);
  document["version"] = 2;
  EXPECT_EQ(document_error(document),
            "model.json: unsupported model version 2 (this sigtrain reads version 1)");
  document["version"] = "1";
  EXPECT_EQ(document_error(document), "model.json: version is the string \"1\", expected 1");
}

// Catches a zero width reaching NetworkSpec (empty layers, division by zero in Glorot's bound).
TEST(ModelFileErrors, LayersWithAZero) {
  json document = valid_document(false);
  document["layers"][2] = 0;
  EXPECT_EQ(document_error(document), "model.json: layers[2] is 0, expected a whole number from 1 to 65536");
  document["layers"][2] = 2.5;
  EXPECT_NE(document_error(document).find("layers[2] is 2.5"), std::string::npos);
  document["layers"][2] = 65537;
  EXPECT_NE(document_error(document).find("layers[2] is 65537"), std::string::npos);
}

// Catches a network without outputs being accepted.
TEST(ModelFileErrors, TooFewLayers) {
  json document = valid_document(false);
  document["layers"] = {2};
  EXPECT_EQ(document_error(document),
            "model.json: layers has 1 width, expected at least 2 (inputs and outputs)");
}

// Catches a missing or non-boolean "bias" defaulting silently.
TEST(ModelFileErrors, BiasMustBeTrueOrFalse) {
  json document = valid_document(false);
  document["bias"] = 0;
  EXPECT_EQ(document_error(document), "model.json: bias is 0, expected true or false");
  document.erase("bias");
  EXPECT_EQ(document_error(document), "model.json: bias is missing");
}

// Catches another activation being accepted and then computed as a sigmoid.
TEST(ModelFileErrors, OtherActivations) {
  json document = valid_document(false);
  document["hidden_activation"] = "relu";
  EXPECT_EQ(document_error(document),
            "model.json: hidden_activation is the string \"relu\", expected \"sigmoid\"");
}

// Catches a weight matrix with too few rows (units) being read past its end.
TEST(ModelFileErrors, WrongRowCount) {
  json document = valid_document(false);
  document["weights"][1].erase(2);
  EXPECT_EQ(document_error(document), "model.json: weights[1] has 2 rows, expected 3 (layer 2 has 3 units)");
}

// Catches a weight row with the wrong number of inputs being read past its end.
TEST(ModelFileErrors, WrongColumnCount) {
  json document = valid_document(false);
  document["weights"][0][2].erase(1);
  EXPECT_EQ(document_error(document),
            "model.json: weights[0][2] has 1 number, expected 2 (layer 1 has 2 inputs)");
}

// Catches a weights array whose layer count disagrees with "layers".
TEST(ModelFileErrors, WrongLayerCount) {
  json document = valid_document(false);
  document["weights"].erase(2);
  EXPECT_EQ(document_error(document), "model.json: weights has 2 layers, expected 3 (layers lists 4 widths)");
}

// Catches a model without weights being loaded as all zeros.
TEST(ModelFileErrors, MissingWeights) {
  json document = valid_document(false);
  document.erase("weights");
  EXPECT_EQ(document_error(document), "model.json: weights is missing");
}

// Catches a bias network loaded with biases silently left at zero.
TEST(ModelFileErrors, BiasesMissingWhenBiasIsTrue) {
  json document = valid_document(true);
  document.erase("biases");
  EXPECT_EQ(document_error(document), "model.json: biases is missing");
}

// Catches a bias vector of the wrong length being read past its end.
TEST(ModelFileErrors, WrongBiasLength) {
  json document = valid_document(true);
  document["biases"][1].push_back(0.5);
  EXPECT_EQ(document_error(document),
            "model.json: biases[1] has 4 numbers, expected 3 (layer 2 has 3 units)");
}

// Catches trained biases being dropped silently when "bias" says false.
TEST(ModelFileErrors, BiasesPresentWhenBiasIsFalse) {
  json document = valid_document(true);
  document["bias"] = false;
  EXPECT_EQ(document_error(document), "model.json: biases is present but bias is false");
}

// Catches a non-number reaching get<double>() (an uncaught nlohmann type_error, exit code 3 not 1).
TEST(ModelFileErrors, StringWhereANumberBelongs) {
  json document = valid_document(false);
  document["weights"][0][2][1] = "0.5";
  EXPECT_EQ(document_error(document),
            "model.json: weights[0][2][1] is the string \"0.5\", expected a number");
  document["weights"][0][2][1] = nullptr;
  EXPECT_EQ(document_error(document), "model.json: weights[0][2][1] is null, expected a number");
  document["weights"][0][2] = 1.5;
  EXPECT_EQ(document_error(document),
            "model.json: weights[0][2] is 1.5, expected an array of 2 numbers (layer 1 has 2 inputs)");
}

// Catches huge widths with few numbers allocating the full parameter buffer before the shape check.
TEST(ModelFileErrors, HugeWidthsFailOnShapeNotMemory) {
  json document = valid_document(false);
  document["layers"] = {65536, 65536, 65536, 65536};
  EXPECT_EQ(document_error(document),
            "model.json: weights[0] has 3 rows, expected 65536 (layer 1 has 65536 units)");
}

// ---- Files -----------------------------------------------------------------------------------------

// Catches save/load losing anything on the way through the disk, or leaving temporaries behind.
TEST(ModelFileSave, SaveReplacesAnExistingFile) {
  const fs::path dir = scratch_dir();
  const fs::path path = dir / "model.json";
  write_plain(path, "an older, longer file that must be replaced completely, not overwritten in place\n");
  const Parameters p = random_parameters(NetworkSpec{{3, 5, 2}, true}, 21);
  save_model(p, path.string());
  EXPECT_EQ(read_file(path.string()), model_to_json(p));
  expect_identical(p, load_model(path.string()).parameters);
  EXPECT_EQ(file_names(dir), std::vector<std::string>{"model.json"}) << "no *.tmp.* files may be left";
  // mkstemp makes 0600 files; a model is meant to be readable by others like any output.
  EXPECT_EQ(fs::status(path).permissions(),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
}

// Catches a save into a missing directory crashing, creating the directory, or leaving a temporary.
TEST(ModelFileSave, SaveIntoMissingDirectoryThrowsAndLeavesNothing) {
  const fs::path dir = scratch_dir();
  const std::string path = (dir / "no_such_dir" / "model.json").string();
  try {
    save_model(random_parameters(NetworkSpec{{2, 1}, false}, 1), path);
    ADD_FAILURE() << "save_model succeeded";
  } catch (const InputError& error) {
    EXPECT_EQ(std::string(error.what()), path + ": cannot write: No such file or directory");
  }
  EXPECT_TRUE(file_names(dir).empty());
}

// Catches the failure path of rename(): the temporary must go and the existing target must stay.
TEST(ModelFileSave, SaveOverADirectoryFailsAndLeavesItAlone) {
  const fs::path dir = scratch_dir();
  const fs::path target = dir / "model.json";
  fs::create_directories(target / "inside");
  EXPECT_THROW(save_model(random_parameters(NetworkSpec{{2, 1}, false}, 1), target.string()), InputError);
  EXPECT_TRUE(fs::is_directory(target / "inside"));
  EXPECT_EQ(file_names(dir), std::vector<std::string>{"model.json"}) << "the temporary must be removed";
}

// Catches a failed save that truncates or replaces the file it was meant to replace.
TEST(ModelFileSave, FailedSaveLeavesTheExistingFileUntouched) {
  if (::geteuid() == 0) GTEST_SKIP() << "root may write into read-only directories; see the two tests above";
  const fs::path dir = scratch_dir();
  const fs::path path = dir / "model.json";
  write_plain(path, "the previous model");
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THROW(save_model(random_parameters(NetworkSpec{{2, 1}, false}, 1), path.string()), InputError);
  fs::permissions(dir, fs::perms::owner_all);
  EXPECT_EQ(read_file(path.string()), "the previous model");
  EXPECT_EQ(file_names(dir), std::vector<std::string>{"model.json"});
}

// Catches load errors that do not name the file they come from.
TEST(ModelFileSave, LoadErrorsNameTheFile) {
  const fs::path dir = scratch_dir();
  const std::string path = (dir / "broken.json").string();
  write_plain(path, "{\"format\": \"sigtrain-model\",\n \"version\": 1,\n \"layers\": [2, 1");
  EXPECT_THROW(
      {
        try {
          load_model(path);
        } catch (const InputError& error) {
          EXPECT_EQ(std::string(error.what()).rfind(path + ":3:", 0), 0u) << error.what();
          throw;
        }
      },
      InputError);
  EXPECT_THROW(load_model((dir / "missing.json").string()), InputError);
}

// Catches text-mode or C-string handling that alters or truncates bytes (NUL, CR, non-ASCII).
TEST(FileUtil, BinaryContentsRoundTrip) {
  const fs::path path = scratch_dir() / "bytes.bin";
  std::string contents("a\0b\r\n\xff\xfe end", 11);
  for (int k = 0; k < 200000; ++k) contents += char(k * 7);  // more than one read() buffer
  write_file_atomically(path.string(), contents);
  EXPECT_EQ(read_file(path.string()), contents);
  write_file_atomically(path.string(), "");
  EXPECT_EQ(read_file(path.string()), "");
}

// Catches read_file returning "" (an empty model, a confusing parse error) for a missing file.
TEST(FileUtil, ReadingAMissingFileNamesPathAndReason) {
  const std::string path = (scratch_dir() / "absent.json").string();
  try {
    read_file(path);
    ADD_FAILURE() << "read_file succeeded";
  } catch (const InputError& error) {
    EXPECT_EQ(std::string(error.what()), path + ": cannot open: No such file or directory");
  }
}

// Catches a directory being read as an empty file (open() succeeds on directories).
TEST(FileUtil, ReadingADirectoryFails) {
  const std::string path = scratch_dir().string();
  try {
    read_file(path);
    ADD_FAILURE() << "read_file succeeded";
  } catch (const InputError& error) {
    EXPECT_EQ(std::string(error.what()), path + ": cannot open: Is a directory");
  }
}

}  // namespace
}  // namespace sigtrain
