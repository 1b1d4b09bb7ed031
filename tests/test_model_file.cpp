// Model files (host/model/model_file.h) and the file helpers under them: exact round trips of every
// setup, the written layout, version 1 files, one clear error per kind of broken file, and atomic saving.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <streambuf>

#include "model/choices.h"
#include "model/model_file.h"
#include "model/network.h"
#include "util/errors.h"
#include "util/file_util.h"
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

// A model with every part random: parameters, optimizer settings (in range), steps, a non-zero state
// (zeros would hide slots written or read in the wrong place) and the standardisation `what` asks for.
Model random_model(const NetworkSpec& spec, Loss loss, OptimizerKind kind, StandardizeWhat what, uint64_t seed) {
  Model m(random_parameters(spec, seed));
  Rng rng(seed ^ 0x9e3779b97f4a7c15u);
  m.setup.loss = loss;
  OptimizerSettings& s = m.setup.optimizer;
  s.kind = kind;
  s.momentum = rng.uniform();
  s.beta1 = rng.uniform();
  s.beta2 = rng.uniform();
  s.eps = std::pow(10.0, rng.uniform(-12, -2));
  s.weight_decay = rng.uniform(0, 0.1);
  m.optimizer_state.steps = rng.next() >> rng.below(64);  // from small counts to near 2^64
  m.optimizer_state.values.resize(size_t(optimizer_slots(kind)) * spec.parameter_count());
  for (double& v : m.optimizer_state.values) v = rng.uniform(-1, 1);
  const auto columns = [&](int n, std::vector<double>& mean, std::vector<double>& scale) {
    for (int k = 0; k < n; ++k) {
      mean.push_back(rng.uniform(-100, 100));
      scale.push_back(rng.uniform(1e-3, 50));
    }
  };
  if (what == StandardizeWhat::inputs || what == StandardizeWhat::both)
    columns(spec.inputs(), m.standardization.input_mean, m.standardization.input_scale);
  if (what == StandardizeWhat::targets || what == StandardizeWhat::both)
    columns(spec.outputs(), m.standardization.target_mean, m.standardization.target_scale);
  return m;
}

void expect_identical(const std::vector<double>& expected, const std::vector<double>& actual, const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  for (size_t k = 0; k < expected.size(); ++k)
    EXPECT_EQ(bits_of(expected[k]), bits_of(actual[k]))
        << what << "[" << k << "]: wrote " << expected[k] << ", read " << actual[k];
}

// Everything a model holds, bit for bit.
void expect_identical(const Model& expected, const Model& actual) {
  expect_identical(expected.parameters, actual.parameters);
  EXPECT_EQ(expected.setup.loss, actual.setup.loss);
  const OptimizerSettings &e = expected.setup.optimizer, &a = actual.setup.optimizer;
  EXPECT_EQ(e.kind, a.kind);
  expect_identical({e.momentum, e.beta1, e.beta2, e.eps, e.weight_decay},
                   {a.momentum, a.beta1, a.beta2, a.eps, a.weight_decay}, "optimizer settings");
  EXPECT_EQ(expected.optimizer_state.steps, actual.optimizer_state.steps);
  expect_identical(expected.optimizer_state.values, actual.optimizer_state.values, "optimizer state");
  const Standardization &es = expected.standardization, &as = actual.standardization;
  expect_identical(es.input_mean, as.input_mean, "input mean");
  expect_identical(es.input_scale, as.input_scale, "input scale");
  expect_identical(es.target_mean, as.target_mean, "target mean");
  expect_identical(es.target_scale, as.target_scale, "target scale");
}

// A valid 2-3-3-1 model with the notes' setup as a JSON document, for the error tests to break one thing
// at a time.
json valid_document(bool bias) {
  return json::parse(model_to_json(random_parameters(NetworkSpec{{2, 3, 3, 1}, bias}, 7)));
}

// The same network as version 1 wrote it.
json version1_document(bool bias) {
  json document = valid_document(bias);
  document["version"] = 1;
  for (const char* key : {"loss", "optimizer", "standardization"}) document.erase(key);
  return document;
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

// The heads a file may hold: every output with mse, and bce on its sigmoid output (check_head).
std::vector<std::pair<Activation, Loss>> allowed_heads() {
  std::vector<std::pair<Activation, Loss>> heads;
  for (const std::string& output : output_activation_names())
    for (const std::string& loss : loss_names()) {
      const Activation a = parse_output_activation(output, "output");
      const Loss l = parse_loss(loss, "loss");
      if (l != Loss::bce || a == Activation::sigmoid) heads.push_back({a, l});
    }
  return heads;
}

// Catches any part of a model (activations, loss, settings, steps, a state slot, a standardisation side)
// that is not written, is written under the wrong name or in the wrong place (slots swapped, a slot read
// into the other's half), or loses digits; for every optimizer, head and standardisation.
TEST(ModelFile, RoundTripOfEverySetupIsExact) {
  const std::vector<NetworkSpec> shapes = {{{2, 3, 3, 1}, false}, {{3, 4, 2}, true}};
  uint64_t seed = 100;
  int models = 0;
  for (NetworkSpec spec : shapes)
    for (const std::string& hidden : hidden_activation_names())
      for (const auto& [output, loss] : allowed_heads())
        for (const std::string& optimizer : optimizer_names())
          for (StandardizeWhat what :
               {StandardizeWhat::none, StandardizeWhat::inputs, StandardizeWhat::targets, StandardizeWhat::both}) {
            spec.hidden = parse_hidden_activation(hidden, "hidden");
            spec.output = output;
            const Model written = random_model(spec, loss, parse_optimizer(optimizer, "optimizer"), what, seed++);
            SCOPED_TRACE(spec.to_string() + ", " + name_of(loss) + ", " + optimizer + ", standardised " +
                         name_of(what));
            const std::string text = model_to_json(written);
            const Model read = model_from_json(text, "model.json");
            expect_identical(written, read);
            EXPECT_EQ(text, model_to_json(read)) << "write -> read -> write must give the same bytes";
            ++models;
          }
  EXPECT_EQ(models, 2 * 3 * 3 * 5 * 4);
}

// Catches a fresh optimizer written as something that reads back as kept state (or the reverse), a reader
// that refuses zeros written out in full (what PyTorch's zero-initialised buffers look like), and a
// step count beyond 2^53 or 2^63 read through a double or a signed integer.
TEST(ModelFile, FreshAndZeroStatesAndExtremeSteps) {
  Model m = random_model(NetworkSpec{{2, 3, 1}, true}, Loss::mse, OptimizerKind::adamw, StandardizeWhat::none, 5);
  m.optimizer_state.values.clear();
  m.optimizer_state.steps = std::numeric_limits<uint64_t>::max();
  const std::string text = model_to_json(m);
  EXPECT_NE(text.find("\"state\": {}"), std::string::npos) << text;
  EXPECT_NE(text.find("\"steps\": 18446744073709551615,"), std::string::npos) << text;
  expect_identical(m, model_from_json(text, "model.json"));

  const size_t P = m.parameters.spec.parameter_count();
  json document = json::parse(text);
  document["optimizer"]["state"] = {{"exp_avg", std::vector<double>(P, 0.0)},
                                    {"exp_avg_sq", std::vector<double>(P, 0.0)}};
  const Model zeros = model_from_json(document.dump(), "model.json");
  EXPECT_EQ(zeros.optimizer_state.values, std::vector<double>(2 * P, 0.0));
  EXPECT_EQ(zeros.optimizer_state.steps, std::numeric_limits<uint64_t>::max());
}

// Catches a version 1 file (every model written before version 2) refused, or read with anything but
// the notes' setup: sigmoid and linear, mse, sgd with PyTorch's defaults, step 0, no standardisation;
// and version 2's keys read from a version 1 file, where they are unknown keys.
TEST(ModelFile, Version1FilesLoadWithTheNotesSetup) {
  const Parameters p = random_parameters(NetworkSpec{{2, 3, 3, 1}, true}, 7);
  json document = version1_document(true);
  document["loss"] = "bce";
  document["optimizer"] = {{"name", "adam"}, {"steps", 9}};
  document["standardization"] = "both";
  for (bool activations : {true, false}) {
    if (!activations) {
      document.erase("hidden_activation");
      document.erase("output_activation");
    }
    const Model read = model_from_json(document.dump(2), "model.json");
    expect_identical(Model(p), read);  // the notes' setup, fresh optimizer, no standardisation
    EXPECT_EQ(read.parameters.spec.hidden, Activation::sigmoid);
    EXPECT_EQ(read.parameters.spec.output, Activation::linear);
    EXPECT_EQ(read.setup.loss, Loss::mse);
    EXPECT_EQ(read.setup.optimizer.kind, OptimizerKind::sgd);
    EXPECT_EQ(read.setup.optimizer.momentum, 0.9);
    EXPECT_EQ(read.setup.optimizer.beta2, 0.999);
    EXPECT_EQ(read.setup.optimizer.eps, 1e-8);
    EXPECT_EQ(read.setup.optimizer.weight_decay, 0.0);
    EXPECT_EQ(read.optimizer_state.steps, 0u);
    EXPECT_TRUE(read.optimizer_state.values.empty());
    EXPECT_TRUE(read.standardization.none());
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
  // Parameters must fit in a float (the fp32 backends hold them), so those beyond go to the
  // standardisation's means, which are held in doubles; the parameters take every value that fits.
  const size_t n = tricky.size();
  Model written{Parameters(NetworkSpec{{1, int(n)}, false})};
  for (size_t k = 0; k < n; ++k) written.parameters.values[k] = std::fabs(tricky[k]) <= FLT_MAX ? tricky[k] : 0.5;
  written.standardization.target_mean = tricky;
  written.standardization.target_scale.assign(n, 1.0);
  const std::string text = model_to_json(written);
  const Model read = model_from_json(text, "model.json");
  expect_identical(written.parameters, read.parameters);
  ASSERT_EQ(read.standardization.target_mean.size(), n);
  for (size_t k = 0; k < n; ++k)
    EXPECT_EQ(bits_of(tricky[k]), bits_of(read.standardization.target_mean[k])) << "mean " << k << ": " << tricky[k];
  EXPECT_NE(text.find("-0.0"), std::string::npos) << text;
  EXPECT_NE(text.find("[1.0]"), std::string::npos) << "integer values keep a decimal point:\n" << text;
}

// Catches a writer whose bytes depend on anything but the model (the CLI promises identical files), e.g.
// on the order of a hash map's keys or on uninitialised memory.
TEST(ModelFile, SameModelGivesSameBytes) {
  const NetworkSpec spec{{4, 6, 2}, true, Activation::tanh, Activation::sigmoid};
  const auto text = [&](uint64_t seed) {
    return model_to_json(random_model(spec, Loss::bce, OptimizerKind::adam, StandardizeWhat::inputs, seed));
  };
  EXPECT_EQ(text(3), text(3));
  EXPECT_NE(text(3), text(4));
}

// ---- Layout ----------------------------------------------------------------------------------------

// Catches renamed or missing keys and weights written in × out instead of PyTorch's out × in.
TEST(ModelFile, KeysFollowTheDesignLayout) {
  const Parameters p = random_parameters(NetworkSpec{{2, 3, 3, 1}, false}, 5);
  const json document = json::parse(model_to_json(p));
  std::vector<std::string> keys;
  for (const auto& item : document.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"bias", "format", "hidden_activation", "layers", "loss", "optimizer",
                                            "output_activation", "version", "weights"}));
  EXPECT_EQ(document["format"], "sigtrain-model");
  EXPECT_EQ(document["version"], 2);
  EXPECT_TRUE(document["version"].is_number_integer());
  EXPECT_EQ(document["layers"], json({2, 3, 3, 1}));
  EXPECT_EQ(document["bias"], false);
  EXPECT_EQ(document["hidden_activation"], "sigmoid");
  EXPECT_EQ(document["output_activation"], "linear");
  EXPECT_EQ(document["loss"], "mse");
  EXPECT_EQ(document["optimizer"], json::parse(R"({"name": "sgd", "momentum": 0.9, "beta1": 0.9, "beta2": 0.999,
                                                  "eps": 1e-8, "weight_decay": 0.0, "steps": 0, "state": {}})"));
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

// Catches state slots under other names than PyTorch's, in another order than slot-major, or not in the
// flat parameter layout; and standardisation sides swapped or mean and scale mixed up.
TEST(ModelFile, StateAndStandardizationFollowTheLayout) {
  const NetworkSpec spec{{2, 3, 1}, true};
  const size_t P = spec.parameter_count();
  for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::momentum, OptimizerKind::nesterov, OptimizerKind::adam,
                             OptimizerKind::adamw}) {
    const Model m = random_model(spec, Loss::mse, kind, StandardizeWhat::both, 8);
    SCOPED_TRACE(name_of(kind));
    const json document = json::parse(model_to_json(m));
    const json& optimizer = document["optimizer"];
    EXPECT_EQ(optimizer["name"], name_of(kind));
    EXPECT_EQ(optimizer["beta2"].get<double>(), m.setup.optimizer.beta2);
    EXPECT_EQ(optimizer["weight_decay"].get<double>(), m.setup.optimizer.weight_decay);
    EXPECT_EQ(optimizer["steps"].get<uint64_t>(), m.optimizer_state.steps);
    const std::vector<std::vector<std::string>> slots_of = {
        {}, {"momentum_buffer"}, {"momentum_buffer"}, {"exp_avg", "exp_avg_sq"}, {"exp_avg", "exp_avg_sq"}};
    const std::vector<std::string>& slots = slots_of[size_t(kind)];
    ASSERT_EQ(optimizer["state"].size(), slots.size());
    for (size_t k = 0; k < slots.size(); ++k) {
      const std::vector<double> slot(m.optimizer_state.values.begin() + long(k * P),
                                     m.optimizer_state.values.begin() + long((k + 1) * P));
      EXPECT_EQ(optimizer["state"][slots[k]].get<std::vector<double>>(), slot) << slots[k];
    }
    const json& standardization = document["standardization"];
    EXPECT_EQ(standardization["inputs"]["mean"].get<std::vector<double>>(), m.standardization.input_mean);
    EXPECT_EQ(standardization["inputs"]["scale"].get<std::vector<double>>(), m.standardization.input_scale);
    EXPECT_EQ(standardization["targets"]["mean"].get<std::vector<double>>(), m.standardization.target_mean);
    EXPECT_EQ(standardization["targets"]["scale"].get<std::vector<double>>(), m.standardization.target_scale);
  }
  // Only the sides that are standardised, and no key at all when neither is.
  const json inputs_only =
      json::parse(model_to_json(random_model(spec, Loss::mse, OptimizerKind::sgd, StandardizeWhat::inputs, 9)));
  EXPECT_FALSE(inputs_only["standardization"].contains("targets"));
  EXPECT_TRUE(inputs_only["standardization"].contains("inputs"));
  EXPECT_FALSE(json::parse(model_to_json(random_model(spec, Loss::mse, OptimizerKind::sgd, StandardizeWhat::none, 9)))
                   .contains("standardization"));
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
            "  \"version\": 2,\n"
            "  \"layers\": [2, 2, 1],\n"
            "  \"bias\": true,\n"
            "  \"hidden_activation\": \"sigmoid\",\n"
            "  \"output_activation\": \"linear\",\n"
            "  \"loss\": \"mse\",\n"
            "  \"weights\": [\n"
            "    [[0.5, -0.25],\n"
            "     [0.1, 1.0]],\n"
            "    [[-3e-20, 0.3333333333333333]]\n"
            "  ],\n"
            "  \"biases\": [\n"
            "    [-0.0, 2.0],\n"
            "    [1e+300]\n"
            "  ],\n"
            "  \"optimizer\": {\n"
            "    \"name\": \"sgd\",\n"
            "    \"momentum\": 0.9,\n"
            "    \"beta1\": 0.9,\n"
            "    \"beta2\": 0.999,\n"
            "    \"eps\": 1e-08,\n"
            "    \"weight_decay\": 0.0,\n"
            "    \"steps\": 0,\n"
            "    \"state\": {}\n"
            "  }\n"
            "}\n");

  // The rest of version 2: one line per weight row and per bias vector in a state slot, the flat
  // layout's order (W_1's rows, b_1, W_2, b_2).
  Model m(p);
  m.parameters.spec.hidden = Activation::relu;
  m.parameters.spec.output = Activation::sigmoid;
  m.setup.loss = Loss::bce;
  m.setup.optimizer.kind = OptimizerKind::adam;
  m.setup.optimizer.weight_decay = 0.01;
  m.optimizer_state.steps = 42;
  for (int k = 0; k < 18; ++k) m.optimizer_state.values.push_back(k % 9 + 0.5 * (k / 9));
  m.standardization.input_mean = {1.5, -2.0};
  m.standardization.input_scale = {0.25, 3.0};
  const std::string text = model_to_json(m);
  EXPECT_EQ(text.substr(text.find("  \"hidden_activation\"")),
            "  \"hidden_activation\": \"relu\",\n"
            "  \"output_activation\": \"sigmoid\",\n"
            "  \"loss\": \"bce\",\n"
            "  \"weights\": [\n"
            "    [[0.5, -0.25],\n"
            "     [0.1, 1.0]],\n"
            "    [[-3e-20, 0.3333333333333333]]\n"
            "  ],\n"
            "  \"biases\": [\n"
            "    [-0.0, 2.0],\n"
            "    [1e+300]\n"
            "  ],\n"
            "  \"standardization\": {\n"
            "    \"inputs\": {\n"
            "      \"mean\": [1.5, -2.0],\n"
            "      \"scale\": [0.25, 3.0]\n"
            "    }\n"
            "  },\n"
            "  \"optimizer\": {\n"
            "    \"name\": \"adam\",\n"
            "    \"momentum\": 0.9,\n"
            "    \"beta1\": 0.9,\n"
            "    \"beta2\": 0.999,\n"
            "    \"eps\": 1e-08,\n"
            "    \"weight_decay\": 0.01,\n"
            "    \"steps\": 42,\n"
            "    \"state\": {\n"
            "      \"exp_avg\": [\n"
            "        0.0, 1.0,\n"
            "        2.0, 3.0,\n"
            "        4.0, 5.0,\n"
            "        6.0, 7.0,\n"
            "        8.0\n"
            "      ],\n"
            "      \"exp_avg_sq\": [\n"
            "        0.5, 1.5,\n"
            "        2.5, 3.5,\n"
            "        4.5, 5.5,\n"
            "        6.5, 7.5,\n"
            "        8.5\n"
            "      ]\n"
            "    }\n"
            "  }\n"
            "}\n");
}

// Catches a layout that puts a whole wide layer on one line (unreadable) or one number per line.
TEST(ModelFile, WideLayersGetOneLinePerRow) {
  const NetworkSpec spec{{1024, 8, 1}, false};
  const Model m = random_model(spec, Loss::mse, OptimizerKind::momentum, StandardizeWhat::none, 9);
  const std::string text = model_to_json(m);
  // "{", 7 keys, "weights": [, 8 + 1 rows, "  ],", "optimizer": {, 7 keys, "state": {,
  // "momentum_buffer": [, 8 + 1 rows, "      ]", "    }", "  }", "}".
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1 + 7 + 1 + 9 + 1 + 1 + 7 + 1 + 1 + 9 + 1 + 1 + 1 + 1);
  expect_identical(m, model_from_json(text, "model.json"));
}

// Catches NaN or infinity written as "nan"/"inf", which no JSON reader (this one included) accepts.
TEST(ModelFile, NonFiniteParametersAreNotWritten) {
  Parameters p = random_parameters(NetworkSpec{{2, 2}, false}, 1);
  p.W(1, 1, 0) = std::nan("");
  EXPECT_THROW(model_to_json(p), InputError);
  p.W(1, 1, 0) = -std::numeric_limits<double>::infinity();
  EXPECT_THROW(model_to_json(p), InputError);
}

// The same for the rest of the model (a diverged Adam has an infinite exp_avg_sq before its parameters
// turn non-finite), with the element named so that the user knows which part overflowed.
TEST(ModelFile, NonFiniteStateOrStandardizationIsNotWritten) {
  Model m = random_model(NetworkSpec{{2, 2}, false}, Loss::mse, OptimizerKind::adam, StandardizeWhat::both, 1);
  m.optimizer_state.values.back() = std::numeric_limits<double>::infinity();
  try {
    model_to_json(m);
    ADD_FAILURE() << "model_to_json wrote an infinite state";
  } catch (const InputError& error) {
    EXPECT_EQ(std::string(error.what()),
              "the model has a non-finite number in optimizer.state.exp_avg_sq (inf), which a JSON model file "
              "cannot hold");
  }
  m.optimizer_state.values.back() = 1.0;
  m.standardization.target_scale[0] = std::nan("");
  EXPECT_THROW(model_to_json(m), InputError);
}

// Catches a writer that writes a state or a standardisation of the wrong size (a caller's bug) into a
// file that would then fail to load.
TEST(ModelFile, InconsistentModelsAreNotWritten) {
  Model m = random_model(NetworkSpec{{2, 3, 1}, true}, Loss::mse, OptimizerKind::momentum, StandardizeWhat::both, 2);
  m.optimizer_state.values.pop_back();
  EXPECT_THROW(model_to_json(m), std::invalid_argument);
  m = random_model(NetworkSpec{{2, 3, 1}, true}, Loss::mse, OptimizerKind::momentum, StandardizeWhat::both, 2);
  m.standardization.input_scale.pop_back();
  EXPECT_THROW(model_to_json(m), std::invalid_argument);
  m.standardization.input_mean.pop_back();
  EXPECT_THROW(model_to_json(m), std::invalid_argument);
}

// ---- Streaming -------------------------------------------------------------------------------------

// A stream buffer that keeps nothing but the length of the longest piece put into it at once and the
// total.
class PieceMeter : public std::streambuf {
 public:
  size_t longest = 0, total = 0;

 protected:
  std::streamsize xsputn(const char*, std::streamsize count) override {
    longest = std::max(longest, size_t(count));
    total += size_t(count);
    return count;
  }
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    longest = std::max<size_t>(longest, 1);
    ++total;
    return c;
  }
};

// Catches the text (the file's, or a weight array's) being built whole before it goes to the stream:
// saving a model would then hold ~22 bytes per number beside it (issue 11, defect 9: 2-4000-4000-1
// peaked at 1.09 GB saving, 0.51 GB without). The pieces are a number, a separator, a key or an
// indentation, whatever the model's size; here a 6 MB text.
TEST(ModelFileStreaming, WritesTheTextInPiecesOfAFewBytes) {
  const Model m =
      random_model(NetworkSpec{{2, 300, 300, 1}, true}, Loss::mse, OptimizerKind::adam, StandardizeWhat::both, 5);
  PieceMeter meter;
  std::ostream out(&meter);
  write_model(out, m);
  EXPECT_EQ(meter.total, model_to_json(m).size());
  EXPECT_GT(meter.total, size_t(5e6));
  EXPECT_LE(meter.longest, 64u) << "a piece of " << meter.longest << " bytes";
}

// Catches the parts version (a checkpoint's: `like`'s setup with other parameters and state) writing
// `like`'s own parameters or state, or the extra members anywhere but last: it must give the bytes of
// the Model with_parameters makes, with the extra members appended to the top-level object.
TEST(ModelFileStreaming, APartsModelIsTheModelOfThoseParts) {
  const NetworkSpec spec{{2, 4, 3, 1}, true};
  const Model like = random_model(spec, Loss::mse, OptimizerKind::nesterov, StandardizeWhat::inputs, 11);
  const Model other = random_model(spec, Loss::mse, OptimizerKind::nesterov, StandardizeWhat::none, 12);
  std::ostringstream written;
  write_model(written, like, other.parameters, other.optimizer_state,
              {{"first", [](std::ostream& out) { out << "1"; }}, {"second", [](std::ostream& out) { out << "[2]"; }}});
  std::string expected = model_to_json(with_parameters(like, other.parameters, other.optimizer_state));
  ASSERT_EQ(expected.substr(expected.size() - 3), "\n}\n");
  expected.replace(expected.size() - 3, 3, ",\n  \"first\": 1,\n  \"second\": [2]\n}\n");
  EXPECT_EQ(written.str(), expected);
}

// ---- Lenient reading -------------------------------------------------------------------------------

// Catches a reader that rejects top-level keys it does not know (they are ignored, in both versions).
TEST(ModelFile, UnknownKeysAreIgnored) {
  const Model m =
      random_model(NetworkSpec{{2, 3, 1}, true}, Loss::mse, OptimizerKind::nesterov, StandardizeWhat::targets, 12);
  json document = json::parse(model_to_json(m));
  document["comment"] = "trained on Tuesday";
  document["history"] = {{"epochs", 40}, {"loss", {0.5, 0.25}}};
  expect_identical(m, model_from_json(document.dump(2), "model.json"));
  json version1 = version1_document(false);
  version1["comment"] = nullptr;
  EXPECT_NO_THROW(model_from_json(version1.dump(), "model.json"));
}

// Catches a version 1 reader that requires the activation keys, which can only have one value each there.
TEST(ModelFile, Version1ActivationsMayBeLeftOut) {
  json document = version1_document(false);
  document.erase("hidden_activation");
  document.erase("output_activation");
  expect_identical(random_parameters(NetworkSpec{{2, 3, 3, 1}, false}, 7),
                   model_from_json(document.dump(), "model.json").parameters);
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
  // Line 10: "{", seven keys, "weights": [, then the first row.
  EXPECT_TRUE(std::regex_search(message, std::regex("^model\\.json:10:[0-9]+: .*1e400"))) << message;
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

// Catches a future format version being misread as version 1 or 2.
TEST(ModelFileErrors, UnsupportedVersion) {
  json document = valid_document(false);
  document["version"] = 3;
  EXPECT_EQ(document_error(document), "model.json: unsupported model version 3 (this sigtrain reads versions 1 and 2)");
  document["version"] = 0;
  EXPECT_EQ(document_error(document), "model.json: unsupported model version 0 (this sigtrain reads versions 1 and 2)");
  document["version"] = "1";
  EXPECT_EQ(document_error(document), "model.json: version is the string \"1\", expected 1 or 2");
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

// Catches a version 1 file with another activation being accepted (version 1 has only the notes').
TEST(ModelFileErrors, OtherActivationsInVersion1) {
  json document = version1_document(false);
  document["hidden_activation"] = "relu";
  EXPECT_EQ(document_error(document), "model.json: hidden_activation is the string \"relu\", expected \"sigmoid\"");
  document["hidden_activation"] = "sigmoid";
  document["output_activation"] = "sigmoid";
  EXPECT_EQ(document_error(document), "model.json: output_activation is the string \"sigmoid\", expected \"linear\"");
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
  EXPECT_EQ(document_error(document), "model.json: weights[0] has 3 rows, expected 65536 (layer 1 has 65536 units)");
}

// ---- Errors: version 2's parts ---------------------------------------------------------------------

// A valid version 2 document with every part present: 2-3-3-1 with bias (P = 25), relu hidden layers,
// a sigmoid output, mse, adam with a kept state, both sides standardised.
json valid_version2_document() {
  NetworkSpec spec{{2, 3, 3, 1}, true, Activation::relu, Activation::sigmoid};
  return json::parse(model_to_json(random_model(spec, Loss::mse, OptimizerKind::adam, StandardizeWhat::both, 31)));
}

// One way to break a valid version 2 file, and the one line it must give (after "model.json: ").
struct BadVersion2File {
  const char* name;
  std::function<void(json&)> do_break;
  std::string expected;
};

void PrintTo(const BadVersion2File& c, std::ostream* os) { *os << c.name; }

class ModelFileVersion2Errors : public ::testing::TestWithParam<BadVersion2File> {};

// Catches, row by row (the comment above each), a broken part of a version 2 file accepted (a wrong
// model trained or predicted with) or reported without the element at fault.
TEST_P(ModelFileVersion2Errors, GiveOneLineNamingTheElement) {
  json document = valid_version2_document();
  GetParam().do_break(document);
  EXPECT_EQ(document_error(document), "model.json: " + GetParam().expected);
}

const BadVersion2File kBadVersion2Files[] = {
    // A hidden activation the kernels do not have, or one only the output may use.
    {"UnknownHiddenActivation", [](json& d) { d["hidden_activation"] = "swish"; },
     "hidden_activation is the string \"swish\", expected one of sigmoid, tanh, relu"},
    {"LinearHiddenActivation", [](json& d) { d["hidden_activation"] = "linear"; },
     "hidden_activation is the string \"linear\", expected one of sigmoid, tanh, relu"},
    {"OutputActivationNotAString", [](json& d) { d["output_activation"] = 1; },
     "output_activation is 1, expected one of linear, sigmoid"},
    {"TanhOutputActivation", [](json& d) { d["output_activation"] = "tanh"; },
     "output_activation is the string \"tanh\", expected one of linear, sigmoid"},
    // Version 2 always writes them: a missing one is a damaged file, not the notes' default.
    {"MissingHiddenActivation", [](json& d) { d.erase("hidden_activation"); }, "hidden_activation is missing"},
    {"MissingLoss", [](json& d) { d.erase("loss"); }, "loss is missing"},
    {"UnknownLoss", [](json& d) { d["loss"] = "mae"; }, "loss is the string \"mae\", expected one of mse, bce"},
    // check_head's rule: cross-entropy on a linear output is not defined.
    {"BceWithLinearOutput",
     [](json& d) {
       d["loss"] = "bce";
       d["output_activation"] = "linear";
     },
     "loss \"bce\" needs output_activation \"sigmoid\" (binary cross-entropy takes probabilities), and "
     "output_activation is \"linear\""},
    {"MissingOptimizer", [](json& d) { d.erase("optimizer"); }, "optimizer is missing"},
    {"OptimizerNotAnObject", [](json& d) { d["optimizer"] = "adam"; },
     "optimizer is the string \"adam\", expected an object"},
    {"UnknownOptimizer", [](json& d) { d["optimizer"]["name"] = "rmsprop"; },
     "optimizer.name is the string \"rmsprop\", expected one of sgd, momentum, nesterov, adam, adamw"},
    {"MissingOptimizerName", [](json& d) { d["optimizer"].erase("name"); }, "optimizer.name is missing"},
    // Every setting is written, so a missing one is not silently PyTorch's default.
    {"MissingBeta1", [](json& d) { d["optimizer"].erase("beta1"); }, "optimizer.beta1 is missing"},
    {"MomentumNotANumber", [](json& d) { d["optimizer"]["momentum"] = "0.9"; },
     "optimizer.momentum is the string \"0.9\", expected a number"},
    // check_optimizer_settings's ranges, each setting on its own.
    {"MomentumOfOne", [](json& d) { d["optimizer"]["momentum"] = 1.0; },
     "optimizer.momentum must be in [0, 1), got 1.000000"},
    {"NegativeBeta1", [](json& d) { d["optimizer"]["beta1"] = -0.5; },
     "optimizer.beta1 must be in [0, 1), got -0.500000"},
    {"Beta2OfOne", [](json& d) { d["optimizer"]["beta2"] = 1; }, "optimizer.beta2 must be in [0, 1), got 1.000000"},
    {"ZeroEps", [](json& d) { d["optimizer"]["eps"] = 0.0; }, "optimizer.eps must be a finite number above 0"},
    {"NegativeWeightDecay", [](json& d) { d["optimizer"]["weight_decay"] = -1e-3; },
     "optimizer.weight_decay must be a finite number, 0 or more"},
    // The step count t enters β^t: it must be a whole number ≥ 0 that fits uint64.
    {"MissingSteps", [](json& d) { d["optimizer"].erase("steps"); }, "optimizer.steps is missing"},
    {"NegativeSteps", [](json& d) { d["optimizer"]["steps"] = -1; },
     "optimizer.steps is -1, expected a whole number from 0 to 18446744073709551615"},
    {"FractionalSteps", [](json& d) { d["optimizer"]["steps"] = 2.5; },
     "optimizer.steps is 2.5, expected a whole number from 0 to 18446744073709551615"},
    {"StepsBeyondUint64", [](json& d) { d["optimizer"]["steps"] = 1.8446744073709552e19; },
     "optimizer.steps is 1.8446744073709552e+19, expected a whole number from 0 to 18446744073709551615"},
    {"MissingState", [](json& d) { d["optimizer"].erase("state"); }, "optimizer.state is missing"},
    {"StateNotAnObject", [](json& d) { d["optimizer"]["state"] = json::array(); },
     "optimizer.state is an array, expected an object"},
    // Half a state: adam cannot continue with its second moments at zero and its first ones kept.
    {"MissingStateSlot", [](json& d) { d["optimizer"]["state"].erase("exp_avg_sq"); },
     "optimizer.state.exp_avg_sq is missing (adam keeps exp_avg and exp_avg_sq)"},
    {"UnknownStateSlot", [](json& d) { d["optimizer"]["state"]["step"] = 3; },
     "optimizer.state has \"step\", which is not a state of adam (adam keeps exp_avg and exp_avg_sq)"},
    // A state that belongs to another optimizer than the one named.
    {"AdamStateForMomentum", [](json& d) { d["optimizer"]["name"] = "momentum"; },
     "optimizer.state has \"exp_avg\", which is not a state of momentum (momentum keeps momentum_buffer)"},
    {"AdamStateForSgd", [](json& d) { d["optimizer"]["name"] = "sgd"; },
     "optimizer.state has \"exp_avg\", which is not a state of sgd (sgd keeps none)"},
    {"ShortStateSlot", [](json& d) { d["optimizer"]["state"]["exp_avg"].erase(24); },
     "optimizer.state.exp_avg has 24 numbers, expected 25 (the network has 25 parameters)"},
    {"LongStateSlot", [](json& d) { d["optimizer"]["state"]["exp_avg_sq"].push_back(0.5); },
     "optimizer.state.exp_avg_sq has 26 numbers, expected 25 (the network has 25 parameters)"},
    {"StateSlotNotAnArray", [](json& d) { d["optimizer"]["state"]["exp_avg"] = 0.0; },
     "optimizer.state.exp_avg is 0.0, expected an array of 25 numbers (the network has 25 parameters)"},
    {"StateValueNotANumber", [](json& d) { d["optimizer"]["state"]["exp_avg_sq"][7] = nullptr; },
     "optimizer.state.exp_avg_sq[7] is null, expected a number"},
    {"StandardizationNotAnObject", [](json& d) { d["standardization"] = "both"; },
     "standardization is the string \"both\", expected an object"},
    {"StandardizationSideNotAnObject", [](json& d) { d["standardization"]["targets"] = json::array(); },
     "standardization.targets is an array, expected an object"},
    {"MissingScale", [](json& d) { d["standardization"]["inputs"].erase("scale"); },
     "standardization.inputs.scale is missing"},
    {"InputMeanOfTheWrongLength", [](json& d) { d["standardization"]["inputs"]["mean"].push_back(1.0); },
     "standardization.inputs.mean has 3 numbers, expected 2 (the network has 2 inputs)"},
    {"TargetScaleOfTheWrongLength", [](json& d) { d["standardization"]["targets"]["scale"] = json::array(); },
     "standardization.targets.scale has 0 numbers, expected 1 (the network has 1 output)"},
    {"MeanNotANumber", [](json& d) { d["standardization"]["targets"]["mean"][0] = "7"; },
     "standardization.targets.mean[0] is the string \"7\", expected a number"},
    // Parameters and optimizer state go to fp32 backends: a number beyond the largest float would start
    // training from infinities (issue 11, defect 10: a weight of 1e300 loaded and training diverged).
    {"WeightBeyondFloat", [](json& d) { d["weights"][1][0][2] = 1e300; },
     "weights[1][0][2] is 1e+300, which does not fit in a float (the largest is 3.4028234663852886e+38)"},
    {"BiasBeyondFloat", [](json& d) { d["biases"][0][1] = -1e39; },
     "biases[0][1] is -1e+39, which does not fit in a float (the largest is 3.4028234663852886e+38)"},
    {"StateBeyondFloat", [](json& d) { d["optimizer"]["state"]["exp_avg_sq"][3] = 3.5e38; },
     "optimizer.state.exp_avg_sq[3] is 3.5e+38, which does not fit in a float (the largest is "
     "3.4028234663852886e+38)"},
    // A scale divides: 0 gives infinities, a negative one flips the inputs.
    {"ZeroScale", [](json& d) { d["standardization"]["inputs"]["scale"][1] = 0.0; },
     "standardization.inputs.scale[1] is 0.0, expected a number above 0"},
    {"NegativeScale", [](json& d) { d["standardization"]["targets"]["scale"][0] = -2.5; },
     "standardization.targets.scale[0] is -2.5, expected a number above 0"},
};

INSTANTIATE_TEST_SUITE_P(BadFiles, ModelFileVersion2Errors, ::testing::ValuesIn(kBadVersion2Files),
                         [](const ::testing::TestParamInfo<BadVersion2File>& info) { return info.param.name; });

// Catches a state or standardisation that must be complete being refused when it is legitimately empty:
// a fresh optimizer's "state": {}, and an empty "standardization" (nothing standardised).
TEST(ModelFile, EmptyStateAndStandardizationObjectsAreAccepted) {
  json document = valid_version2_document();
  document["optimizer"]["state"] = json::object();
  document["standardization"] = json::object();
  const Model read = model_from_json(document.dump(), "model.json");
  EXPECT_TRUE(read.optimizer_state.values.empty());
  EXPECT_TRUE(read.standardization.none());
  EXPECT_EQ(read.setup.optimizer.kind, OptimizerKind::adam);
}

// Catches the float range check of weights and optimizer state set one step too tight: the largest
// float itself, and the smallest subnormal (which a float holds), load unchanged.
TEST(ModelFile, TheLargestAndSmallestFloatsLoad) {
  json document = valid_version2_document();
  document["weights"][0][1][0] = double(FLT_MAX);
  document["biases"][1][2] = -double(FLT_MAX);
  document["optimizer"]["state"]["exp_avg"][5] = double(std::numeric_limits<float>::denorm_min());
  const Model read = model_from_json(document.dump(), "model.json");
  EXPECT_EQ(read.parameters.W(1, 1, 0), double(FLT_MAX));
  EXPECT_EQ(read.parameters.b(2)[2], -double(FLT_MAX));
  EXPECT_EQ(read.optimizer_state.values[5], double(std::numeric_limits<float>::denorm_min()));
}

// Catches an overflowing number in the state (JSON has no infinity) read as infinity instead of refused
// with its position.
TEST(ModelFileErrors, OverflowingStateNumberIsRejectedWithItsPosition) {
  std::string text = model_to_json(
      random_model(NetworkSpec{{2, 1}, false}, Loss::mse, OptimizerKind::momentum, StandardizeWhat::none, 3));
  const size_t slot = text.find("\"momentum_buffer\": [\n") + std::strlen("\"momentum_buffer\": [\n");
  const size_t first = text.find_first_not_of(' ', slot);
  text.replace(first, text.find(',', first) - first, "-1e999");
  const long line = 1 + std::count(text.begin(), text.begin() + long(first), '\n');
  const std::string message = load_error(text);
  EXPECT_TRUE(std::regex_search(message, std::regex("^model\\.json:" + std::to_string(line) + ":[0-9]+: .*1e999")))
      << message;
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

// Catches a save that fails part-way (a non-finite number met after megabytes of streamed text)
// renaming its partial file over the model it was to replace, or leaving its temporary.
TEST(ModelFileSave, ASaveThatFailsPartWayLeavesTheExistingFileUntouched) {
  const fs::path dir = scratch_dir();
  const fs::path path = dir / "model.json";
  write_plain(path, "the previous model");
  Model m =
      random_model(NetworkSpec{{2, 300, 300, 1}, false}, Loss::mse, OptimizerKind::adam, StandardizeWhat::none, 3);
  m.optimizer_state.values.back() = std::nan("");  // the last number written
  EXPECT_THROW(save_model(m, path.string()), InputError);
  EXPECT_EQ(read_file(path.string()), "the previous model");
  EXPECT_EQ(file_names(dir), std::vector<std::string>{"model.json"}) << "the temporary must be removed";
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
