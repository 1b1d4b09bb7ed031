// End-to-end tests of the sigtrain program (DESIGN.md §3 "The command line", §4 "Files"): each test runs
// the built binary (SIGTRAIN_BINARY) in a child process with its own scratch folder, captures stdout,
// stderr and the exit status separately, and checks the output against the library (the fp64 reference
// and the model file reader) where there is a number to check.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "test_files.h"
#include "util/errors.h"
#include "model/model_file.h"
#include "model/network.h"
#include "backends/backend.h"
#include "backends/reference/reference.h"

namespace sigtrain {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---- Running the program ---------------------------------------------------------------------------

using testing::Child;
using testing::command_line;
using testing::describe;
using testing::run;
using testing::run_ok;
using testing::RunResult;

// ---- Files -----------------------------------------------------------------------------------------

fs::path scratch_dir() { return testing::scratch_dir("cli"); }
using testing::slurp;

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::vector<std::string> file_names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(sep, start);
    fields.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return fields;
    start = at + 1;
  }
}

// The whole string as a number, or a test failure.
double number(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  EXPECT_TRUE(!text.empty() && end == text.c_str() + text.size()) << "not a number: '" << text << "'";
  return v;
}

// Largest |a − b| over largest |b| (the project's relative difference; b is the reference).
double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0, scale = 0;
  for (size_t k = 0; k < std::min(a.size(), b.size()); ++k) {
    diff = std::max(diff, std::abs(a[k] - b[k]));
    scale = std::max(scale, std::abs(b[k]));
  }
  return diff == 0 ? 0 : diff / scale;
}

// A small data set whose every value is a multiple of 1/1024, so it is exact in float and in the CSV
// text, and the test can feed the reference exactly what the program read.
struct Data {
  int inputs = 0, outputs = 0;
  size_t rows = 0;
  std::vector<double> x, y;  // row-major: sample s at [s*inputs …], [s*outputs …]

  static Data make(size_t rows, int inputs, int outputs, uint64_t seed) {
    Data d;
    d.rows = rows;
    d.inputs = inputs;
    d.outputs = outputs;
    uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    const auto next = [&] {  // in [-2, 2), a multiple of 1/1024
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      return double(int64_t(state >> 52) - 2048) / 1024.0;
    };
    for (size_t s = 0; s < rows; ++s) {
      double sum = 0;
      for (int j = 0; j < inputs; ++j) {
        d.x.push_back(next());
        sum += d.x.back();
      }
      for (int o = 0; o < outputs; ++o) d.y.push_back(std::round(1024 * std::sin(sum + o)) / 1024.0);
    }
    return d;
  }

  std::string csv(bool with_targets, bool header = false) const {
    std::string text;
    if (header) {
      for (int j = 0; j < inputs; ++j) text += (j ? ",x" : "x") + std::to_string(j + 1);
      if (with_targets)
        for (int o = 0; o < outputs; ++o) text += ",y" + std::to_string(o + 1);
      text += "\n";
    }
    for (size_t s = 0; s < rows; ++s) {
      for (int j = 0; j < inputs; ++j) text += (j ? "," : "") + exact(x[s * inputs + j]);
      if (with_targets)
        for (int o = 0; o < outputs; ++o) text += "," + exact(y[s * outputs + o]);
      text += "\n";
    }
    return text;
  }

  // FANN's .data: "count inputs outputs", then a line of inputs and a line of outputs per sample.
  std::string fann() const {
    std::string text = std::to_string(rows) + " " + std::to_string(inputs) + " " + std::to_string(outputs) + "\n";
    for (size_t s = 0; s < rows; ++s) {
      for (int j = 0; j < inputs; ++j) text += (j ? " " : "") + exact(x[s * inputs + j]);
      text += "\n";
      for (int o = 0; o < outputs; ++o) text += (o ? " " : "") + exact(y[s * outputs + o]);
      text += "\n";
    }
    return text;
  }

  static std::string exact(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
  }
};

// The reference's outputs for every sample, row-major (sample s's nL values together).
std::vector<double> reference_outputs(const Parameters& p, const Data& d) {
  const reference::Activations act = reference::forward(p, d.x.data(), int(d.rows));
  return act.A.back();
}

Parameters load_or_fail(const fs::path& path) {
  try {
    return load_model(path.string()).parameters;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cannot load " << path << ": " << e.what();
    return Parameters();
  }
}

// ---- Checking a failed run -------------------------------------------------------------------------

// The contents a failing run must leave alone.
const std::string kPrecious = "precious: must survive a failed run\n";

// Runs a command that must fail: exit code `code` (not a signal), exactly one line on stderr that
// contains every `needles` entry (and matches `pattern` when one is given), the pre-existing file
// `guard` unchanged, and no file created or removed in `dir` (no leftover temporary files).
void expect_failure(const std::vector<std::string>& args, int code, const std::vector<std::string>& needles,
                    const fs::path& dir, const fs::path& guard, const std::string& pattern = "") {
  SCOPED_TRACE(command_line(args));
  const std::vector<std::string> before = file_names(dir);
  const RunResult r = run(args);
  EXPECT_EQ(r.signal, 0) << "the program crashed\n" << describe(r);
  EXPECT_EQ(r.code, code) << describe(r);
  ASSERT_FALSE(r.err.empty()) << "no error message\n" << describe(r);
  EXPECT_EQ(r.err.back(), '\n') << describe(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "the error must be exactly one line\n" << describe(r);
  EXPECT_GT(r.err.size(), 12u) << describe(r);
  for (const std::string& needle : needles) {
    EXPECT_NE(r.err.find(needle), std::string::npos) << "the message should contain '" << needle << "'\n"
                                                     << describe(r);
  }
  if (!pattern.empty()) {
    EXPECT_TRUE(std::regex_search(r.err, std::regex(pattern))) << "the message should match /" << pattern << "/\n"
                                                               << describe(r);
  }
  EXPECT_EQ(slurp(guard), kPrecious) << guard << " was changed by a failed run";
  EXPECT_EQ(file_names(dir), before) << "a failed run created or removed files";
}

// A test's folder with a pre-existing file `guard.json` (the --save / --out target of failing runs) and
// a valid 2-3-3-1 model `model.json` to feed commands that need one.
struct BadInputFixture {
  fs::path dir = scratch_dir();
  std::string guard = (dir / "guard.json").string();
  std::string model = (dir / "model.json").string();

  BadInputFixture() {
    write_text(guard, kPrecious);
    run_ok({"train", "--samples", "50", "--epochs", "1", "--quiet", "--save", model});
  }

  std::string file(const std::string& name, const std::string& contents) const {
    const std::string path = (dir / name).string();
    write_text(path, contents);
    return path;
  }
  // Train on `data` with the default network, saving over the guard.
  std::vector<std::string> train_on(const std::string& data) const {
    return {"train", "--data", data, "--epochs", "1", "--save", guard};
  }
};

std::string escape_regex(const std::string& text) {
  return std::regex_replace(text, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
}

// ---- train -----------------------------------------------------------------------------------------

// Catches a missing or misplaced header line, a missing or extra epoch line, and epoch numbering errors.
TEST(CliTrain, PrintsBackendLineThenOneLinePerEpoch) {
  const RunResult r = run_ok({"train", "--epochs", "3", "--samples", "200"});
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0].rfind("sigtrain train: backend ", 0), 0u) << lines[0];
  for (int k = 1; k <= 3; ++k) {
    EXPECT_TRUE(std::regex_search(lines[k], std::regex("^epoch " + std::to_string(k) + "/3 .*train_mse [0-9]")))
        << lines[k];
  }
}

// Catches --quiet still printing the header, epoch lines or the "saved" line.
TEST(CliTrain, QuietPrintsNothing) {
  const fs::path dir = scratch_dir();
  const RunResult r =
      run_ok({"train", "--epochs", "2", "--samples", "200", "--quiet", "--save", (dir / "m.json").string()});
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(fs::exists(dir / "m.json"));
}

// Catches --save writing nothing, an unreadable file, the wrong network, or non-finite weights.
TEST(CliTrain, SaveWritesAValidModel) {
  const fs::path dir = scratch_dir();
  const fs::path m = dir / "m.json";
  const RunResult r =
      run_ok({"train", "--epochs", "2", "--samples", "200", "--layers", "2,4,1", "--bias", "--save", m.string()});
  EXPECT_NE(r.out.find("saved " + m.string()), std::string::npos) << r.out;
  const Parameters p = load_or_fail(m);
  EXPECT_EQ(p.spec, (NetworkSpec{{2, 4, 1}, true}));
  EXPECT_TRUE(p.all_finite());
  EXPECT_EQ(file_names(dir), std::vector<std::string>{"m.json"}) << "no temporary file may be left behind";
}

// Catches a missing or wrong header, a missing or extra row, unnumbered rows, non-numeric figures, and
// a learning-rate column that is not the schedule's (step: 0.4 for epochs 1-2, 0.2 for 3-4).
TEST(CliTrain, LogWritesHeaderAndOneRowPerEpoch) {
  const fs::path dir = scratch_dir();
  const fs::path log = dir / "log.csv";
  run_ok({"train", "--epochs", "4", "--samples", "200", "--quiet", "--log", log.string(), "--lr", "0.4", "--schedule",
          "step", "--step-every", "2"});
  const std::vector<std::string> lines = lines_of(slurp(log));
  ASSERT_EQ(lines.size(), 5u) << slurp(log);
  EXPECT_EQ(lines[0], "epoch,train_mse,val_mse,samples_per_second,elapsed_seconds,lr");
  for (int k = 1; k <= 4; ++k) {
    const std::vector<std::string> fields = split(lines[k], ',');
    ASSERT_EQ(fields.size(), 6u) << lines[k];
    EXPECT_EQ(fields[0], std::to_string(k));
    for (int f = 1; f < 6; ++f) {
      const double v = number(fields[f]);
      EXPECT_TRUE(std::isfinite(v) && v >= 0) << lines[k];
    }
    EXPECT_EQ(number(fields[5]), k <= 2 ? 0.4 : 0.2) << lines[k];
  }
}

// Every line of a --log file after its header is a whole row: epoch 1, 2, … in order, six fields.
void expect_whole_rows(const std::vector<std::string>& rows) {
  for (size_t k = 1; k < rows.size(); ++k) {
    const std::vector<std::string> fields = split(rows[k], ',');
    EXPECT_EQ(fields.size(), 6u) << rows[k];
    EXPECT_EQ(fields[0], std::to_string(k)) << rows[k];
  }
}

// Catches a --log written only at the end (to a temporary renamed into place, or rows left in a
// buffer), which a user could not follow with tail -f and which a killed run would lose: while the run
// goes on, every epoch already printed has its whole row in the log, and after kill -9 the rows are
// still there and whole. Also catches an interrupted run's log that does not end by saying so.
TEST(CliTrain, LogIsWrittenAsTheRunGoesAndSurvivesItsEnd) {
  const fs::path dir = scratch_dir();
  const fs::path log = dir / "log.csv";
  const std::vector<std::string> args = {"train", "--epochs", "100000", "--samples", "4000", "--log", log.string()};
  {
    Child child(args);
    ASSERT_TRUE(child.read_until(" 3/100000 ", 30)) << child.out();
    const size_t printed = lines_of(child.out()).size() - 1;  // the epoch lines after the header line
    const std::vector<std::string> rows = lines_of(slurp(log));
    EXPECT_GE(rows.size(), 1 + printed) << "rows missing from the log of a running train";
    ASSERT_EQ(kill(child.pid(), SIGKILL), 0);
    child.finish(30);
    const std::string text = slurp(log);
    EXPECT_EQ(text.back(), '\n');
    ASSERT_GE(lines_of(text).size(), 4u) << text;
    expect_whole_rows(lines_of(text));
  }
  Child child(args);
  ASSERT_TRUE(child.read_until(" 2/100000 ", 30)) << child.out();
  ASSERT_EQ(kill(child.pid(), SIGINT), 0);
  child.finish(30);
  std::vector<std::string> rows = lines_of(slurp(log));
  ASSERT_GE(rows.size(), 4u) << slurp(log);
  EXPECT_EQ(rows.back(), "# interrupted in epoch " + std::to_string(rows.size() - 1)) << slurp(log);
  rows.pop_back();
  expect_whole_rows(rows);
}

// Catches nondeterminism (unseeded randomness, thread races, uninitialised memory) and a --seed that is
// ignored.
TEST(CliTrain, SameSeedSameBytesDifferentSeedDifferentBytes) {
  const fs::path dir = scratch_dir();
  const auto train_with = [&](const std::string& seed, const std::string& name) {
    run_ok({"train", "--epochs", "3", "--samples", "500", "--seed", seed, "--quiet", "--save", (dir / name).string()});
    return slurp(dir / name);
  };
  const std::string a = train_with("7", "a.json"), b = train_with("7", "b.json"), c = train_with("8", "c.json");
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b) << "the same flags and seed must give the same model file, byte for byte";
  EXPECT_NE(a, c) << "a different --seed must give a different model";
}

// Catches --no-shuffle taking batches in any order but the file's (batch k = rows kB … kB+B−1), a last
// partial batch not averaged over its own size, and an SGD step that differs from DESIGN.md §1.
TEST(CliTrain, NoShuffleTakesBatchesInFileOrder) {
  const fs::path dir = scratch_dir();
  const Data data = Data::make(10, 2, 1, 3);
  const fs::path csv = dir / "d.csv";
  write_text(csv, data.csv(true));
  const std::vector<std::string> common = {"train",       "--data", csv.string(), "--backend", "reference",
                                           "--val-split", "0",      "--batch",    "4",         "--lr",
                                           "0.5",         "--seed", "3",          "--quiet"};
  const auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = common;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  run_ok(with({"--epochs", "0", "--save", (dir / "init.json").string()}));
  run_ok(with({"--epochs", "2", "--no-shuffle", "--save", (dir / "ns.json").string()}));
  run_ok(with({"--epochs", "2", "--save", (dir / "sh.json").string()}));

  // The same SGD in the test, with the reference, batches in file order: 4, 4, then 2 rows.
  Parameters expected = load_or_fail(dir / "init.json");
  for (int epoch = 0; epoch < 2; ++epoch)
    for (size_t first = 0; first < data.rows; first += 4) {
      const size_t count = std::min<size_t>(4, data.rows - first);
      Parameters grad;
      reference::loss_and_gradients(expected, Loss::mse, data.x.data() + first * 2, data.y.data() + first, int(count), grad);
      for (size_t k = 0; k < expected.values.size(); ++k) expected.values[k] -= 0.5 * grad.values[k];  // θ ← θ − lr·dθ
    }
  const Parameters no_shuffle = load_or_fail(dir / "ns.json");
  const Parameters shuffled = load_or_fail(dir / "sh.json");
  EXPECT_LE(relative_difference(no_shuffle.values, expected.values), 1e-12);
  EXPECT_GT(relative_difference(shuffled.values, expected.values), 1e-9)
      << "without --no-shuffle the order must change";
  // Same run with --quiet off names the file order in its first line.
  const RunResult loud = run_ok({"train", "--data", csv.string(), "--no-shuffle", "--epochs", "1", "--val-split", "0"});
  EXPECT_NE(lines_of(loud.out).at(0).find("file order"), std::string::npos) << loud.out;
}

// Catches a FANN reader (chosen by the .data extension) that reads the samples differently from the
// CSV reader: the same data in both formats must train to the same model, byte for byte.
TEST(CliTrain, FannAndCsvOfTheSameDataTrainTheSame) {
  const fs::path dir = scratch_dir();
  const Data data = Data::make(30, 2, 2, 5);
  write_text(dir / "d.csv", data.csv(true, /*header=*/true));
  write_text(dir / "d.data", data.fann());
  for (const std::string name : {"d.csv", "d.data"})
    run_ok({"train", "--data", (dir / name).string(), "--layers", "2,3,2", "--epochs", "2", "--batch", "4", "--quiet",
            "--save", (dir / (name + ".json")).string()});
  EXPECT_EQ(slurp(dir / "d.csv.json"), slurp(dir / "d.data.json"));
}

// Catches --init being ignored, or continuing from a model differently from an uninterrupted run, and
// --layers not being taken from the model when it is not given (2,5,1 is not the default 2,3,3,1).
TEST(CliTrain, InitContinuesFromSavedModel) {
  const fs::path dir = scratch_dir();
  const std::vector<std::string> common = {"train",        "--samples", "200", "--backend", "reference",
                                           "--no-shuffle", "--seed",    "4",   "--quiet"};
  const auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = common;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  run_ok(with({"--layers", "2,5,1", "--epochs", "2", "--save", (dir / "two.json").string()}));
  run_ok(with({"--layers", "2,5,1", "--epochs", "1", "--save", (dir / "one.json").string()}));
  run_ok(with({"--init", (dir / "one.json").string(), "--epochs", "1", "--save", (dir / "cont.json").string()}));
  EXPECT_EQ(load_or_fail(dir / "cont.json").spec, (NetworkSpec{{2, 5, 1}, false}));
  EXPECT_EQ(slurp(dir / "cont.json"), slurp(dir / "two.json"))
      << "one epoch, then one more from --init, must equal two epochs in one run";
  // Giving the model's own widths is accepted too.
  run_ok(with({"--init", (dir / "one.json").string(), "--layers", "2,5,1", "--epochs", "1", "--save",
               (dir / "cont2.json").string()}));
  EXPECT_EQ(slurp(dir / "cont2.json"), slurp(dir / "two.json"));
}

// Catches --init that restarts the optimizer or forgets its settings: with adam (its moments and step
// count) and with momentum, one epoch and then one more from --init (no optimizer flags the second
// time: the model's optimizer, hyperparameters and state go on) equal two epochs in one run, byte for byte.
TEST(CliTrain, InitContinuesTheOptimizerAndItsState) {
  const fs::path dir = scratch_dir();
  for (const std::vector<std::string>& optimizer :
       {std::vector<std::string>{"--optimizer", "adam", "--lr", "0.01", "--beta1", "0.8", "--weight-decay", "0.01"},
        std::vector<std::string>{"--optimizer", "momentum", "--momentum", "0.7", "--lr", "0.1"}}) {
    SCOPED_TRACE(optimizer[1]);
    const auto args = [&](std::vector<std::string> extra, bool with_optimizer) {
      std::vector<std::string> a = {"train",     "--samples", "200", "--backend", "reference", "--no-shuffle", "--quiet",
                                    "--layers", "2,5,1",     "--activation", "tanh"};
      if (with_optimizer) a.insert(a.end(), optimizer.begin(), optimizer.end());
      a.insert(a.end(), extra.begin(), extra.end());
      return a;
    };
    run_ok(args({"--epochs", "2", "--save", (dir / "two.json").string()}, true));
    run_ok(args({"--epochs", "1", "--save", (dir / "one.json").string()}, true));
    run_ok({"train", "--samples", "200", "--backend", "reference", "--no-shuffle", "--quiet", "--lr", optimizer.back(),
            "--init", (dir / "one.json").string(), "--epochs", "1", "--save", (dir / "cont.json").string()});
    EXPECT_EQ(slurp(dir / "cont.json"), slurp(dir / "two.json"));
    EXPECT_NE(slurp(dir / "two.json").find("\"" + optimizer[1] + "\""), std::string::npos);
  }
}

// Catches adam starting at the SGD family's 0.2 when no --lr is given (PyTorch's 0.001 is its default),
// and --lr not overriding that default.
TEST(CliTrain, AdamDefaultsToItsOwnLearningRate) {
  const RunResult adam = run_ok({"train", "--samples", "100", "--epochs", "1", "--optimizer", "adam"});
  EXPECT_NE(adam.out.find("lr 0.001,"), std::string::npos) << adam.out;
  const RunResult given = run_ok({"train", "--samples", "100", "--epochs", "1", "--optimizer", "adamw", "--lr", "0.05"});
  EXPECT_NE(given.out.find("lr 0.05,"), std::string::npos) << given.out;
  const RunResult sgd = run_ok({"train", "--samples", "100", "--epochs", "1", "--optimizer", "nesterov"});
  EXPECT_NE(sgd.out.find("lr 0.2,"), std::string::npos) << sgd.out;
}

std::vector<double> parse_rows(const std::string& text, size_t rows, size_t width);  // (with predict's tests)

// Catches standardisation fitted on the wrong data, not stored in the model, or not undone by predict
// and eval: inputs ×1000 and targets ×100 + 50, trained with --standardize both; the model file holds
// the training part's means and scales, predict's rows are the reference's outputs on standardised
// inputs taken back to the data's units, and eval's MSE is theirs against the targets.
TEST(CliTrain, StandardizedModelsPredictInTheDataUnits) {
  const fs::path dir = scratch_dir();
  Data data = Data::make(60, 2, 1, 21);
  for (double& x : data.x) x *= 1024;
  for (double& y : data.y) y = y * 128 + 64;
  write_text(dir / "scaled.csv", data.csv(true));
  const std::string model = (dir / "m.json").string();
  const RunResult r = run_ok({"train", "--data", (dir / "scaled.csv").string(), "--layers", "2,4,1", "--bias", "--epochs",
                              "5", "--standardize", "both", "--backend", "reference", "--save", model});
  EXPECT_NE(r.out.find("standardised inputs and targets"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("val_mse in the data's units"), std::string::npos) << r.out;
  const Model m = load_model(model);
  ASSERT_TRUE(m.standardization.inputs() && m.standardization.targets());
  // The statistics are the training part's (the first 48 rows: the split keeps file order, and holds
  // out 12 by a seeded choice, so compare with all 60 rows only loosely: the mean of x1 is near).
  EXPECT_GT(m.standardization.input_scale[0], 300.0);
  EXPECT_GT(m.standardization.target_scale[0], 10.0);
  const RunResult predicted = run_ok({"predict", "--model", model, "--data", (dir / "scaled.csv").string(), "--backend", "reference"});
  const std::vector<double> rows = parse_rows(predicted.out, data.rows, 1);
  double squared = 0;
  for (size_t s = 0; s < data.rows; ++s) {
    double x[2];
    for (int j = 0; j < 2; ++j)
      x[j] = double(float((float(data.x[s * 2 + j]) - m.standardization.input_mean[j]) / m.standardization.input_scale[j]));
    const double yhat = reference::predict(m.parameters, x, 1)[0] * m.standardization.target_scale[0] +
                        m.standardization.target_mean[0];
    EXPECT_NEAR(rows[s], yhat, 1e-6 * std::abs(yhat)) << s;
    squared += (yhat - data.y[s]) * (yhat - data.y[s]);
  }
  const RunResult evaluated = run_ok({"eval", "--model", model, "--data", (dir / "scaled.csv").string(), "--backend", "reference"});
  EXPECT_NEAR(number(lines_of(evaluated.out).at(0)), squared / double(data.rows), 1e-6 * squared / double(data.rows));
}

// Catches --patience that does not stop, a kept model that is not the best epoch's, and a log or output
// that does not say which epoch was kept: a learning rate too large for the data makes the validation
// loss rise after a few epochs.
TEST(CliTrain, PatienceStopsAndKeepsTheBestEpoch) {
  const fs::path dir = scratch_dir();
  const fs::path log = dir / "log.csv";
  const RunResult r = run_ok({"train", "--synthetic", "xor", "--samples", "400", "--epochs", "300", "--lr", "1",
                              "--patience", "5", "--log", log.string(), "--save", (dir / "m.json").string()});
  std::vector<std::string> rows = lines_of(slurp(log));
  ASSERT_GE(rows.size(), 3u);
  ASSERT_EQ(rows.back().rfind("# kept epoch ", 0), 0u) << rows.back();
  const int kept = std::stoi(rows.back().substr(13));
  rows.pop_back();
  const int epochs = int(rows.size()) - 1;
  EXPECT_LT(epochs, 300) << "patience 5 should stop this run early";
  EXPECT_EQ(epochs, kept + 5) << "it stops 5 epochs after the last improvement";
  double best = INFINITY;
  int best_epoch = 0;
  for (int e = 1; e <= epochs; ++e) {
    const double v = number(split(rows[size_t(e)], ',')[2]);
    if (v < best) best = v, best_epoch = e;
  }
  EXPECT_EQ(kept, best_epoch);
  EXPECT_NE(r.out.find("kept epoch " + std::to_string(kept)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stopped early after epoch " + std::to_string(epochs)), std::string::npos) << r.out;
}

// Catches --init accepting a model whose widths disagree with --layers (or crashing on it), and a failed
// run touching the --save file.
TEST(CliTrain, InitWithMismatchedLayersFails) {
  BadInputFixture f;
  expect_failure(
      {"train", "--init", f.model, "--layers", "2,4,1", "--epochs", "1", "--samples", "50", "--save", f.guard}, 1,
      {f.model, "2,4,1"}, f.dir, f.guard);
}

// Catches a backend that cannot be chosen by name, a header that names the wrong one, and a cpu (fp32)
// backend that trains a different model from the fp64 reference on the same flags.
TEST(CliTrain, ReferenceAndCpuBackendsBothWork) {
  const fs::path dir = scratch_dir();
  std::vector<Parameters> models;
  for (const std::string backend : {"reference", "cpu"}) {
    const fs::path m = dir / (backend + ".json");
    const RunResult r =
        run_ok({"train", "--backend", backend, "--epochs", "2", "--samples", "200", "--save", m.string()});
    EXPECT_EQ(lines_of(r.out).at(0).rfind("sigtrain train: backend " + backend, 0), 0u) << r.out;
    EXPECT_EQ(lines_of(r.out).size(), 4u) << r.out;  // header, 2 epochs, "saved"
    models.push_back(load_or_fail(m));
  }
  ASSERT_EQ(models[0].spec, models[1].spec);
  // 40 sgd steps (2 epochs of 160 samples at batch 8) on 2-3-3-1: each step's rounding about 2·√8·u
  // (sums of at most 8 terms, u = 2⁻²⁴), growing like √40 over the steps: 2e-6; up to 5 times that as
  // training amplifies it (the 100-step cases measure 9e-6 against their 2e-6). Measured: 7.6e-8.
  constexpr double kTwoEpochsTolerance = 1e-5;
  EXPECT_LE(relative_difference(models[1].values, models[0].values), kTwoEpochsTolerance)
      << "cpu (fp32) and reference (fp64) must train nearly the same model";
}

// Catches --epochs 0 being refused, not saving, or saving something other than the seeded initial model.
TEST(CliTrain, ZeroEpochsSavesTheInitialModel) {
  const fs::path dir = scratch_dir();
  const fs::path m = dir / "m.json";
  run_ok({"train", "--epochs", "0", "--samples", "50", "--seed", "9", "--layers", "2,3,3,1", "--quiet", "--save",
          m.string()});
  const Parameters saved = load_or_fail(m);
  const Parameters initial = glorot_uniform(NetworkSpec{{2, 3, 3, 1}, false}, 9);
  ASSERT_EQ(saved.spec, initial.spec);
  EXPECT_EQ(saved.values, initial.values);
}

// Catches defaults (network, lr, batch, epochs, seed) that no longer train the documented run: the
// default model must fit the sine set, on its training samples and on fresh ones.
TEST(CliTrain, DefaultRunReachesLowMse) {
  const fs::path dir = scratch_dir();
  const fs::path m = dir / "m.json";
  const RunResult train = run_ok({"train", "--quiet", "--save", m.string()});
  EXPECT_EQ(train.out, "");
  for (const auto& extra : {std::vector<std::string>{}, std::vector<std::string>{"--data-seed", "99"}}) {
    std::vector<std::string> args = {"eval", "--model", m.string(), "--synthetic", "sine"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = run_ok(args);
    const std::vector<std::string> lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 1u) << r.out;
    const double mse = number(lines[0]);
    EXPECT_LT(mse, 0.01) << command_line(args);
    EXPECT_GT(mse, 0.0);
  }
}

// Catches --help failing (a non-zero exit) or not documenting the flags of the DESIGN.md §3 contract.
TEST(CliTrain, HelpListsTheFlags) {
  const RunResult r = run_ok({"train", "--help"});
  for (const char* flag : {"--data", "--synthetic", "--samples", "--layers", "--bias", "--epochs", "--batch", "--lr",
                           "--seed", "--no-shuffle", "--val-split", "--backend", "--init", "--save", "--log",
                           "--threads", "--verify-every", "--quiet"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag << " is not in:\n" << r.out;
}

// ---- Ctrl-C and divergence ---------------------------------------------------------------------------

// Sends `signal_number` to a long training run once it trains, and checks that it stops after the step
// in progress: one line on stderr that says so, exit code `code`, and a whole, finite model at --save.
void expect_signal_stops_and_saves(int signal_number, int code, const std::string& said) {
  const fs::path dir = scratch_dir();
  const fs::path m = dir / "m.json";
  Child child({"train", "--epochs", "100000", "--samples", "20000", "--save", m.string()});
  // The handler is in place once training runs: wait for the first epoch line (the header comes first).
  ASSERT_TRUE(child.read_until("\nepoch ", 30)) << "no epoch line within 30 s; stdout so far:\n" << child.out();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(kill(child.pid(), signal_number), 0);
  const RunResult r = child.finish(30);
  EXPECT_FALSE(r.timed_out) << "training did not stop within 30 s of signal " << signal_number;
  EXPECT_EQ(r.signal, 0) << describe(r);
  EXPECT_EQ(r.code, code) << describe(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << describe(r);
  EXPECT_NE(r.err.find(said), std::string::npos) << describe(r);
  const Parameters p = load_or_fail(m);
  EXPECT_EQ(p.spec, (NetworkSpec{{2, 3, 3, 1}, false}));
  EXPECT_TRUE(p.all_finite());
  EXPECT_EQ(file_names(dir), std::vector<std::string>{"m.json"});
}

// Catches Ctrl-C killing the program (no model saved), a wrong exit code, or a half-written model file.
TEST(CliInterrupt, CtrlCSavesTheModelAndExits130) { expect_signal_stops_and_saves(SIGINT, 130, "interrupted"); }

// Catches SIGTERM (what kill, timeout and job schedulers send) killing the program with no model saved
// (its default action), or being taken for Ctrl-C: exit 130 instead of the shell's 128 + 15, or a line
// that does not name it (a log must tell a scheduler's stop from a user's).
TEST(CliInterrupt, SigtermSavesTheModelAndExits143) { expect_signal_stops_and_saves(SIGTERM, 143, "(SIGTERM)"); }

// Catches a second signal that does not end the program at once (the handler left in place: the run
// would finish its step, save, and exit 130): a user's second Ctrl-C, or a scheduler's SIGTERM after a
// Ctrl-C, must not wait for a step. The steps here take seconds (the fp64 reference on a wide network
// and a big batch), so the first signal's step is still running when the second one comes.
TEST(CliInterrupt, SecondSignalEndsTheProgramAtOnce) {
  Child child({"train", "--backend", "reference", "--layers", "2,600,600,1", "--batch", "1000", "--samples", "1500",
               "--val-split", "0", "--epochs", "1000"});
  // (the header line comes at once, before the first step: a pipe does not hold it back)
  ASSERT_TRUE(child.read_until("2-600-600-1", 2)) << "no header line within 2 s; stdout so far:\n" << child.out();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the handler is in place, the first step runs
  ASSERT_EQ(kill(child.pid(), SIGINT), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(kill(child.pid(), SIGTERM), 0);
  const auto sent = std::chrono::steady_clock::now();
  const RunResult r = child.finish(60);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  EXPECT_EQ(r.signal, SIGTERM) << "the second signal did not end the program (" << seconds << " s)\n" << describe(r);
}

// Catches a diverging run that exits 0, says nothing useful, writes NaN/Inf weights, replaces the
// good model already at --save (a failed run must leave it alone), or saves anything but the last
// finite model beside it: with lr 1e30 the loss is infinite in epoch 1, so the last finite model is
// the initial one, byte for byte what --epochs 0 saves.
TEST(CliDivergence, HugeLearningRateFailsAndKeepsLastGoodModel) {
  const fs::path dir = scratch_dir();
  const fs::path m = dir / "m.json", last = dir / "m.last-finite.json", start = dir / "start.json";
  run_ok({"train", "--epochs", "2", "--samples", "200", "--quiet", "--save", m.string()});
  run_ok({"train", "--epochs", "0", "--samples", "200", "--quiet", "--save", start.string()});
  const std::string good = slurp(m);
  const std::vector<std::string> args = {"train",     "--lr", "1e30",   "--epochs", "5",
                                         "--samples", "200",  "--save", m.string()};
  const RunResult r = run(args);
  EXPECT_EQ(r.signal, 0) << describe(r);
  EXPECT_EQ(r.code, 1) << describe(r);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << describe(r);
  EXPECT_TRUE(std::regex_search(r.err, std::regex("NaN|nan|infinite|Inf"))) << describe(r);
  EXPECT_NE(r.err.find(last.string()), std::string::npos) << "the message must say where the model went\n" << describe(r);
  EXPECT_EQ(slurp(m), good) << "a failed run replaced the model at --save";
  const Parameters p = load_or_fail(last);
  EXPECT_EQ(p.spec, (NetworkSpec{{2, 3, 3, 1}, false}));
  EXPECT_TRUE(p.all_finite()) << slurp(last);
  EXPECT_EQ(slurp(last), slurp(start)) << "the last finite model is the initial one";
  EXPECT_EQ(file_names(dir), (std::vector<std::string>{"m.json", "m.last-finite.json", "start.json"}));
}

// ---- predict and eval ------------------------------------------------------------------------------

// A 2-4-2 model with biases trained on a small 2-in 2-out data set, and that data set.
struct ModelAndData {
  fs::path dir = scratch_dir();
  Data data = Data::make(25, 2, 2, 11);
  fs::path model = dir / "m.json";
  Parameters params;

  ModelAndData() {
    write_text(dir / "train.csv", Data::make(40, 2, 2, 12).csv(true));
    run_ok({"train", "--data", (dir / "train.csv").string(), "--layers", "2,4,2", "--bias", "--epochs", "3", "--batch",
            "4", "--quiet", "--save", model.string()});
    params = load_or_fail(model);
  }
};

// Every value of predict's output, row by row, checking that each row has `width` fields.
std::vector<double> parse_rows(const std::string& text, size_t rows, size_t width) {
  const std::vector<std::string> lines = lines_of(text);
  EXPECT_EQ(lines.size(), rows) << text;
  std::vector<double> values;
  for (const std::string& line : lines) {
    const std::vector<std::string> fields = split(line, ',');
    EXPECT_EQ(fields.size(), width) << line;
    for (const std::string& f : fields) values.push_back(number(f));
  }
  return values;
}

// Catches predictions that differ from the reference forward pass (layer order, weight transposition,
// biases), missing/extra rows or columns, a header row taken for data, and targets fed in as inputs.
TEST(CliPredict, OneRowPerSampleMatchingTheReference) {
  ModelAndData f;
  ASSERT_EQ(f.params.spec, (NetworkSpec{{2, 4, 2}, true}));
  write_text(f.dir / "inputs.csv", f.data.csv(false, /*header=*/true));
  write_text(f.dir / "full.csv", f.data.csv(true));
  const std::vector<double> expected = reference_outputs(f.params, f.data);

  for (const std::string name : {"inputs.csv", "full.csv"}) {
    SCOPED_TRACE(name);
    const RunResult r = run_ok({"predict", "--model", f.model.string(), "--data", (f.dir / name).string()});
    const std::vector<double> got = parse_rows(r.out, f.data.rows, 2);
    EXPECT_LE(relative_difference(got, expected), 1e-6);
  }
  // The reference backend, printed with 9 digits, agrees to the printing precision.
  const RunResult r = run_ok(
      {"predict", "--model", f.model.string(), "--data", (f.dir / "full.csv").string(), "--backend", "reference"});
  const std::vector<double> got = parse_rows(r.out, f.data.rows, 2);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t k = 0; k < got.size(); ++k) EXPECT_NEAR(got[k], expected[k], 1e-8 * std::abs(expected[k]) + 1e-300);
}

// Catches --out being ignored, printing to stdout as well, or writing something other than stdout's rows.
TEST(CliPredict, OutWritesTheSameRowsToAFile) {
  ModelAndData f;
  write_text(f.dir / "full.csv", f.data.csv(true));
  const RunResult to_stdout = run_ok({"predict", "--model", f.model.string(), "--data", (f.dir / "full.csv").string()});
  const fs::path out = f.dir / "p.csv";
  write_text(out, "old contents, to be replaced\n");
  const RunResult to_file =
      run_ok({"predict", "--model", f.model.string(), "--data", (f.dir / "full.csv").string(), "--out", out.string()});
  EXPECT_EQ(to_file.out, "");
  EXPECT_EQ(slurp(out), to_stdout.out);
  const std::vector<double> got = parse_rows(slurp(out), f.data.rows, 2);
  EXPECT_LE(relative_difference(got, reference_outputs(f.params, f.data)), 1e-6);
}

// Catches an MSE that is not §1's (1/N) Σ_s Σ_o (ŷ − y)² (e.g. averaged over outputs too, or a sum),
// or computed on the wrong columns.
TEST(CliEval, PrintsTheMseOfTheReference) {
  ModelAndData f;
  write_text(f.dir / "full.csv", f.data.csv(true, /*header=*/true));
  const std::vector<double> yhat = reference_outputs(f.params, f.data);
  double sum = 0;
  for (size_t k = 0; k < yhat.size(); ++k) sum += (yhat[k] - f.data.y[k]) * (yhat[k] - f.data.y[k]);
  const double expected = sum / double(f.data.rows);
  for (const std::string backend : {"cpu", "reference"}) {
    const RunResult r =
        run_ok({"eval", "--model", f.model.string(), "--data", (f.dir / "full.csv").string(), "--backend", backend});
    const std::vector<std::string> lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 1u) << r.out;
    EXPECT_NEAR(number(lines[0]), expected, 1e-6 * expected) << backend;
  }
}

// ---- Standard input (--data -) ---------------------------------------------------------------------

// Catches --data - not reading standard input (a file named "-"), reading it differently from the same
// file (CSV and FANN, the format chosen from the first line as there is no extension), or reading it
// more than once: train saves the same bytes, predict prints the same rows and eval the same MSE.
TEST(CliStdin, DataDashReadsStandardInputAsTheSameFile) {
  ModelAndData f;
  const std::string csv = f.data.csv(true, /*header=*/true), fann = f.data.fann();
  write_text(f.dir / "data.csv", csv);
  write_text(f.dir / "data.data", fann);
  const std::vector<std::string> train = {"train", "--layers", "2,4,2", "--bias",  "--epochs",
                                          "3",     "--batch",  "4",     "--quiet", "--save"};
  for (const auto& [file, text] : {std::pair{f.dir / "data.csv", csv}, std::pair{f.dir / "data.data", fann}}) {
    SCOPED_TRACE(file.extension().string());
    std::vector<std::string> from_file = train, from_stdin = train;
    from_file.insert(from_file.end(), {(f.dir / "file.json").string(), "--data", file.string()});
    from_stdin.insert(from_stdin.end(), {(f.dir / "stdin.json").string(), "--data", "-"});
    run_ok(from_file);
    run_ok(from_stdin, 60, text);
    EXPECT_EQ(slurp(f.dir / "stdin.json"), slurp(f.dir / "file.json"));
    const RunResult predicted_from_file = run_ok({"predict", "--model", f.model.string(), "--data", file.string()});
    EXPECT_EQ(run_ok({"predict", "--model", f.model.string(), "--data", "-"}, 60, text).out, predicted_from_file.out);
    EXPECT_LE(
        relative_difference(parse_rows(predicted_from_file.out, f.data.rows, 2), reference_outputs(f.params, f.data)),
        1e-6);
    EXPECT_EQ(run_ok({"eval", "--model", f.model.string(), "--data", "-"}, 60, text).out,
              run_ok({"eval", "--model", f.model.string(), "--data", file.string()}).out);
  }
}

// Catches an error in data from standard input that names a file "-" (or no source), loses the line
// and column, or exits with the wrong code.
TEST(CliStdin, ErrorsNameStandardInputAndTheLine) {
  ModelAndData f;
  const std::vector<std::string> args = {"predict", "--model", f.model.string(), "--data", "-"};
  const RunResult bad_field = run(args, 60, "0.5,1\n0.25,oops\n");
  EXPECT_EQ(bad_field.code, 1) << describe(bad_field);
  EXPECT_EQ(bad_field.err, "sigtrain: standard input:2:6: 'oops' is not a number\n");
  const RunResult empty = run(args, 60, "");
  EXPECT_EQ(empty.code, 1) << describe(empty);
  EXPECT_EQ(empty.err, "sigtrain: standard input: no data (it is empty)\n");
}

// ---- predict: header and kept columns --------------------------------------------------------------

// `data`'s inputs with an ID column before them and a text column between them, as a CSV file with a
// header "id,x1,note,x2": IDs and notes that a number reader would change ("007", "-0.50", "1e3") or
// refuse ("a b").
std::string csv_with_ids(const Data& data) {
  const char* const ids[] = {"007", "-0.50", "1e3", "a b", "r\xC3\xA9sum\xC3\xA9"};
  std::string text = "id,x1,note,x2\n";
  for (size_t s = 0; s < data.rows; ++s)
    text += std::string(ids[s % 5]) + std::to_string(s) + "," + Data::exact(data.x[2 * s]) + ",note " +
            std::to_string(s) + "," + Data::exact(data.x[2 * s + 1]) + "\n";
  return text;
}

// Catches kept columns fed to the network as inputs (or the wrong columns left), kept fields rewritten
// (parsed and printed again), out of order or misaligned with their rows, a header line missing or
// naming the wrong columns, or --keep-columns by name and by number choosing different columns.
TEST(CliPredict, HeaderAndKeptColumnsBesideTheReferencePredictions) {
  ModelAndData f;
  const std::string data = (f.dir / "ids.csv").string();
  write_text(data, csv_with_ids(f.data));
  const std::vector<double> expected = reference_outputs(f.params, f.data);
  const std::vector<std::string> input_lines = lines_of(csv_with_ids(f.data));
  const RunResult by_name =
      run_ok({"predict", "--model", f.model.string(), "--data", data, "--keep-columns", "note,id", "--header"});
  const std::vector<std::string> lines = lines_of(by_name.out);
  ASSERT_EQ(lines.size(), f.data.rows + 1) << by_name.out;
  EXPECT_EQ(lines[0], "note,id,prediction1,prediction2");
  std::vector<double> predictions;
  for (size_t s = 0; s < f.data.rows; ++s) {
    const std::vector<std::string> in = split(input_lines[s + 1], ','), out = split(lines[s + 1], ',');
    ASSERT_EQ(out.size(), 4u) << lines[s + 1];
    EXPECT_EQ(out[0], in[2]);  // byte for byte
    EXPECT_EQ(out[1], in[0]);
    predictions.push_back(number(out[2]));
    predictions.push_back(number(out[3]));
  }
  EXPECT_LE(relative_difference(predictions, expected), 1e-6);
  // The same columns by number, and through standard input, print the same.
  EXPECT_EQ(run_ok({"predict", "--model", f.model.string(), "--data", data, "--keep-columns", "3,1", "--header"}).out,
            by_name.out);
  EXPECT_EQ(run_ok({"predict", "--model", f.model.string(), "--data", "-", "--keep-columns", "note,id", "--header"}, 60,
                   csv_with_ids(f.data))
                .out,
            by_name.out);
  // Without kept columns, --header names only the outputs; without --header the rows are as before.
  write_text(f.dir / "inputs.csv", f.data.csv(false));
  const RunResult plain = run_ok({"predict", "--model", f.model.string(), "--data", (f.dir / "inputs.csv").string()});
  EXPECT_EQ(run_ok({"predict", "--model", f.model.string(), "--data", (f.dir / "inputs.csv").string(), "--header"}).out,
            "prediction1,prediction2\n" + plain.out);
}

// Catches --keep-columns out of range, unknown, on data without columns, or leaving a number of input
// columns the model does not take, being accepted or reported as anything but one line and exit 2
// (a mistake in the flags) with --out left alone.
TEST(CliPredict, BadKeptColumnsAreUsageErrors) {
  BadInputFixture f;  // a 2-3-3-1 model
  const std::string named = f.file("named.csv", "id,x1,x2\n7,0.5,1\n"), plain = f.file("plain.csv", "7,0.5,1,2,3\n");
  const auto predict = [&](const std::string& data, const std::string& keep) {
    return std::vector<std::string>{"predict",        "--model", f.model, "--data", data,
                                    "--keep-columns", keep,      "--out", f.guard};
  };
  expect_failure(predict(named, "4"), 2, {"--keep-columns", "column 4 is out of range", named, "3 columns"}, f.dir,
                 f.guard);
  expect_failure(predict(named, "0"), 2, {"column 0 is out of range"}, f.dir, f.guard);
  expect_failure(predict(named, "ID"), 2, {"no column named 'ID'"}, f.dir, f.guard);
  expect_failure(predict(plain, "id"), 2, {"no header"}, f.dir, f.guard);
  expect_failure(predict(plain, "1"), 2, {"--keep-columns", "4 are left", "2-3-3-1", "needs 2 (inputs) or 3"}, f.dir,
                 f.guard);
  expect_failure(predict(f.file("a.data", "1 2 1\n1 2\n3\n"), "1"), 2, {"FANN"}, f.dir, f.guard);
  expect_failure({"predict", "--model", f.model, "--synthetic", "sine", "--keep-columns", "1", "--out", f.guard}, 2,
                 {"--keep-columns needs --data"}, f.dir, f.guard);
}

// ---- explain and gradcheck -------------------------------------------------------------------------

// The number after "name = " where `name` starts a line or follows a space; a failure unless exactly one.
double named_value(const std::string& text, const std::string& name) {
  const std::string key = name + " = ";
  size_t found = std::string::npos;
  int count = 0;
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1))
    if (at == 0 || text[at - 1] == ' ' || text[at - 1] == '\n') {
      found = at;
      ++count;
    }
  EXPECT_EQ(count, 1) << "'" << key << "' should appear once in:\n" << text;
  if (found == std::string::npos) return std::nan("");
  const char* start = text.c_str() + found + key.size();
  char* end = nullptr;
  const double v = std::strtod(start, &end);
  EXPECT_NE(end, start) << "no number after '" << key << "'";
  return v;
}

void expect_close(double got, double expected, double rel, const std::string& what) {
  EXPECT_NEAR(got, expected, rel * std::abs(expected)) << what;
}

// Catches a quantity of the notes missing or misnamed, and any value (forward or gradient) that differs
// from the fp64 reference; df/dp1 in particular must sum the paths through z1, z2 and z3.
TEST(CliExplain, NotesNetworkByTheNotesNames) {
  const fs::path dir = scratch_dir();
  const fs::path m = dir / "m.json";
  run_ok({"train", "--epochs", "2", "--samples", "200", "--quiet", "--save", m.string()});
  const RunResult r = run_ok({"explain", "--model", m.string(), "--x", "0.5,-1", "--y", "0.3"});
  const Parameters p = load_or_fail(m);
  const double x[2] = {0.5, -1}, y[1] = {0.3};
  Parameters g;
  const double f = reference::loss_and_gradients(p, Loss::mse, x, y, 1, g);
  const reference::Activations act = reference::forward(p, x, 1);

  for (int i = 0; i < 3; ++i) {
    const std::string k = std::to_string(i + 1);
    expect_close(named_value(r.out, "h" + k), act.A[1][i], 1e-9, "h" + k);
    expect_close(named_value(r.out, "z" + k), act.A[2][i], 1e-9, "z" + k);
    expect_close(named_value(r.out, "df/dw" + k), g.W(3, 0, i), 1e-9, "df/dw" + k);
  }
  const char* second[] = {"s", "u", "v"};
  const char* first[] = {"p", "q", "r"};
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 3; ++k) {
      const std::string name = std::string("df/d") + second[i] + std::to_string(k + 1);
      expect_close(named_value(r.out, name), g.W(2, i, k), 1e-9, name);
    }
    for (int k = 0; k < 2; ++k) {
      const std::string name = std::string("df/d") + first[i] + std::to_string(k + 1);
      expect_close(named_value(r.out, name), g.W(1, i, k), 1e-9, name);
    }
  }
  // f is printed on the line "f = (ŷ − y)² = value".
  bool found_f = false;
  for (const std::string& line : lines_of(r.out))
    if (line.rfind("f = ", 0) == 0) {
      found_f = true;
      expect_close(number(line.substr(line.rfind("= ") + 2)), f, 1e-9, "f");
    }
  EXPECT_TRUE(found_f) << r.out;
}

// Catches a general network being shown with the notes' names (or not at all), wrong indices, or values
// that differ from the reference.
TEST(CliExplain, OtherNetworksByLayerAndIndex) {
  const RunResult r = run_ok({"explain", "--layers", "3,4,2", "--seed", "5", "--x", "0.5,-1,2", "--y", "0.3,0.1"});
  EXPECT_EQ(r.out.find("df/dp1"), std::string::npos) << r.out;
  const Parameters p = glorot_uniform(NetworkSpec{{3, 4, 2}, false}, 5);
  const double x[3] = {0.5, -1, 2}, y[2] = {0.3, 0.1};
  Parameters g;
  reference::loss_and_gradients(p, Loss::mse, x, y, 1, g);
  const reference::Activations act = reference::forward(p, x, 1);
  for (int i = 0; i < 4; ++i) {
    const std::string a = "A1[" + std::to_string(i + 1) + "]";
    expect_close(named_value(r.out, a), act.A[1][i], 1e-9, a);
  }
  for (int l = 1; l <= 2; ++l)
    for (int i = 0; i < p.spec.widths[l]; ++i)
      for (int j = 0; j < p.spec.widths[l - 1]; ++j) {
        const std::string name =
            "df/dW" + std::to_string(l) + "[" + std::to_string(i + 1) + "][" + std::to_string(j + 1) + "]";
        expect_close(named_value(r.out, name), g.W(l, i, j), 1e-9, name);
      }
}

// Catches explain showing the wrong output or loss for other activations and heads: with tanh hidden
// units, a sigmoid output and bce, the logit z, ŷ = σ(z), f (the bce of one point) and the gradients
// equal the reference's, and the notes' own network with a non-default part is shown by layer.
TEST(CliExplain, OtherActivationsShowTheLogitAndTheLoss) {
  const RunResult r = run_ok({"explain", "--layers", "2,3,1", "--activation", "tanh", "--output", "sigmoid", "--loss",
                              "bce", "--seed", "4", "--x", "0.5,-1", "--y", "1"});
  EXPECT_NE(r.out.find("tanh"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bce"), std::string::npos) << r.out;
  NetworkSpec spec{{2, 3, 1}, false};
  spec.hidden = Activation::tanh;
  spec.output = Activation::sigmoid;
  const Parameters p = glorot_uniform(spec, 4);
  const double x[2] = {0.5, -1}, y[1] = {1};
  Parameters g;
  const double f = reference::loss_and_gradients(p, Loss::bce, x, y, 1, g);
  const reference::Activations act = reference::forward(p, x, 1);
  const double z = act.A[2][0];
  expect_close(named_value(r.out, "z[1]"), z, 1e-9, "z");
  expect_close(named_value(r.out, "ŷ[1]"), 1 / (1 + std::exp(-z)), 1e-9, "ŷ");
  expect_close(named_value(r.out, "f"), f, 1e-9, "f");
  expect_close(named_value(r.out, "A1[2]"), std::tanh(p.W(1, 1, 0) * 0.5 - p.W(1, 1, 1)), 1e-9, "A1[2]");
  expect_close(named_value(r.out, "df/dW2[1][3]"), g.W(2, 0, 2), 1e-9, "df/dW2[1][3]");
  const RunResult notes = run_ok({"explain", "--activation", "relu", "--x", "0.5,-1", "--y", "0.3"});
  EXPECT_EQ(notes.out.find("df/dp1"), std::string::npos) << "relu is not the notes' network:\n" << notes.out;
}

// Catches gradcheck failing (or not saying PASS) on the notes' network.
TEST(CliGradcheck, PassesOnTheNotesNetwork) {
  const RunResult r = run_ok({"gradcheck", "--layers", "2,3,3,1"});
  EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
}

// Catches gradcheck failing with biases or several outputs.
// Catches a combination of activation, output and loss that `gradcheck` cannot check or gets wrong.
TEST(CliGradcheck, PassesForEveryActivationAndLoss) {
  for (const std::string activation : {"sigmoid", "tanh", "relu"})
    for (const std::vector<std::string>& head : {std::vector<std::string>{"--output", "linear", "--loss", "mse"},
                                                std::vector<std::string>{"--output", "sigmoid", "--loss", "mse"},
                                                std::vector<std::string>{"--output", "sigmoid", "--loss", "bce"}}) {
      std::vector<std::string> args = {"gradcheck", "--layers", "3,5,2", "--bias", "--activation", activation};
      args.insert(args.end(), head.begin(), head.end());
      const RunResult r = run_ok(args);
      EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
      EXPECT_NE(r.out.find(head[3] + " loss"), std::string::npos) << r.out;
    }
}

TEST(CliGradcheck, PassesWithBiasAndSeveralOutputs) {
  const RunResult r = run_ok({"gradcheck", "--layers", "3,5,2", "--bias"});
  EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
}

// Catches --entries ignored or miscounted (issue 11, defect 8: big networks ran for minutes checking
// every entry): 30 entries of 2-50-50-1 are 10 per layer, said in the header and on each layer; a small
// network is still checked whole by default, with no progress lines; fewer entries than layers is refused.
TEST(CliGradcheck, EntriesSamplesThatManyAndSaysSo) {
  const RunResult sampled = run_ok({"gradcheck", "--layers", "2,50,50,1", "--bias", "--entries", "30"});
  EXPECT_NE(sampled.out.find("30 of 2751 entries sampled"), std::string::npos) << sampled.out;
  for (const char* layer : {"(10 of 150 entries)", "(10 of 2550 entries)", "(10 of 51 entries)"})
    EXPECT_NE(sampled.out.find(layer), std::string::npos) << layer << "\n" << sampled.out;
  EXPECT_NE(sampled.out.find("PASS"), std::string::npos) << sampled.out;

  const RunResult whole = run_ok({"gradcheck", "--layers", "2,50,50,1", "--bias"});
  EXPECT_EQ(whole.out.find("sampled"), std::string::npos) << whole.out;
  EXPECT_EQ(whole.out.find(" of "), std::string::npos) << whole.out;
  EXPECT_EQ(whole.err, "") << "no progress lines for a check of a second";

  const RunResult refused = run({"gradcheck", "--layers", "2,50,50,1", "--entries", "2"});
  EXPECT_EQ(refused.code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("--entries"), std::string::npos) << refused.err;
}

// ---- Bad input: data files -------------------------------------------------------------------------

// Catches a missing data file crashing or being reported without its name.
TEST(CliBadInput, MissingDataFile) {
  BadInputFixture f;
  const std::string missing = (f.dir / "missing.csv").string();
  expect_failure(f.train_on(missing), 1, {missing}, f.dir, f.guard);
}

// Catches an empty file being taken as zero samples (and training on nothing) or crashing.
TEST(CliBadInput, EmptyFile) {
  BadInputFixture f;
  const std::string path = f.file("empty.csv", "");
  expect_failure(f.train_on(path), 1, {path}, f.dir, f.guard);
}

// Catches a header-only file being accepted as an empty data set.
TEST(CliBadInput, HeaderOnlyFile) {
  BadInputFixture f;
  const std::string path = f.file("header.csv", "x1,x2,y\n");
  expect_failure(f.train_on(path), 1, {path}, f.dir, f.guard);
}

// Catches a non-numeric field read as 0 (atof), or reported without its line and column.
TEST(CliBadInput, NonNumericField) {
  BadInputFixture f;
  const std::string path = f.file("text.csv", "1,2,3\n4,x,6\n");
  expect_failure(f.train_on(path), 1, {path + ":2:3"}, f.dir, f.guard);
}

// Catches a short row being padded or read across the line break.
TEST(CliBadInput, RaggedRow) {
  BadInputFixture f;
  const std::string path = f.file("ragged.csv", "1,2,3\n4,5\n7,8,9\n");
  expect_failure(f.train_on(path), 1, {path + ":2"}, f.dir, f.guard);
}

// Catches a trailing comma being silently dropped (or read as a 0 column).
TEST(CliBadInput, TrailingComma) {
  BadInputFixture f;
  const std::string path = f.file("trailing.csv", "1,2,3,\n4,5,6,\n");
  expect_failure(f.train_on(path), 1, {path}, f.dir, f.guard, escape_regex(path) + ":1:[0-9]+");
}

// Catches a file with a column too many being split at the wrong place instead of refused.
TEST(CliBadInput, ColumnCountDoesNotMatchLayers) {
  BadInputFixture f;
  const std::string path = f.file("wide.csv", "1,2,3,4\n5,6,7,8\n");
  expect_failure(f.train_on(path), 1, {path}, f.dir, f.guard);
}

// Catches NaN accepted as data (it would poison every weight).
TEST(CliBadInput, NaNField) {
  BadInputFixture f;
  const std::string path = f.file("nan.csv", "1,2,3\n1,nan,3\n");
  expect_failure(f.train_on(path), 1, {path + ":2:3"}, f.dir, f.guard);
}

// Catches infinity accepted as data.
TEST(CliBadInput, InfField) {
  BadInputFixture f;
  const std::string path = f.file("inf.csv", "1,2,3\ninf,2,3\n");
  expect_failure(f.train_on(path), 1, {path + ":2:1"}, f.dir, f.guard);
}

// Catches a number that overflows float being read as infinity.
TEST(CliBadInput, OverflowingNumber) {
  BadInputFixture f;
  const std::string path = f.file("big.csv", "1,2,3\n1,1e39,3\n");
  expect_failure(f.train_on(path), 1, {path + ":2:3"}, f.dir, f.guard);
}

// Catches binary garbage crashing the reader or producing nonsense data.
TEST(CliBadInput, BinaryGarbage) {
  BadInputFixture f;
  std::string garbage;
  uint32_t state = 12345;
  for (int k = 0; k < 300; ++k) {
    state = state * 1664525u + 1013904223u;
    garbage += char(state >> 24);
  }
  garbage[5] = '\0';
  const std::string path = f.file("garbage.csv", garbage);
  expect_failure(f.train_on(path), 1, {path}, f.dir, f.guard);
}

// Catches a FANN header's sample count not being checked against the body, either way.
TEST(CliBadInput, FannCountDisagreesWithBody) {
  BadInputFixture f;
  const std::string fewer = f.file("fewer.data", "3 2 1\n1 2\n3\n4 5\n6\n");
  expect_failure(f.train_on(fewer), 1, {fewer + ":"}, f.dir, f.guard);
  const std::string more = f.file("more.data", "1 2 1\n1 2\n3\n4 5\n6\n");
  expect_failure(f.train_on(more), 1, {more + ":"}, f.dir, f.guard);
}

// Catches a failing predict replacing or truncating an existing --out file.
TEST(CliBadInput, PredictBadDataLeavesOutAlone) {
  BadInputFixture f;
  const std::string path = f.file("text.csv", "1,2\n4,x\n");
  expect_failure({"predict", "--model", f.model, "--data", path, "--out", f.guard}, 1, {path + ":2:3"}, f.dir, f.guard);
}

// ---- Bad input: model files ------------------------------------------------------------------------

// Catches a truncated model file being half-loaded, or reported without file, line and column.
TEST(CliBadInput, TruncatedModel) {
  BadInputFixture f;
  const std::string text = slurp(f.model);
  const std::string path = f.file("truncated.json", text.substr(0, text.size() / 2));
  const std::string located = escape_regex(path) + ":[0-9]+:[0-9]+";
  expect_failure({"train", "--init", path, "--epochs", "1", "--samples", "50", "--save", f.guard}, 1, {path}, f.dir,
                 f.guard, located);
  expect_failure({"eval", "--model", path, "--synthetic", "sine", "--samples", "50"}, 1, {path}, f.dir, f.guard,
                 located);
  write_text(f.dir / "x.csv", "1,2\n");
  expect_failure({"predict", "--model", path, "--data", (f.dir / "x.csv").string(), "--out", f.guard}, 1, {path}, f.dir,
                 f.guard, located);
}

// Catches malformed JSON crashing the loader or being reported without a line and column.
TEST(CliBadInput, MalformedModelJson) {
  BadInputFixture f;
  const std::string path =
      f.file("bad.json", "{\"format\": \"sigtrain-model\",\n \"version\": 1, \"layers\": [2,3,3,1], oops}\n");
  expect_failure({"eval", "--model", path, "--synthetic", "sine", "--samples", "50"}, 1, {path}, f.dir, f.guard,
                 escape_regex(path) + ":2:[0-9]+");
}

// Catches a model whose weights do not have the shape its "layers" say being used anyway.
TEST(CliBadInput, WrongShapedModel) {
  BadInputFixture f;
  const std::string path =
      f.file("shape.json",
             "{\"format\": \"sigtrain-model\", \"version\": 1, \"layers\": [2, 3, 1], \"bias\": false,"
             " \"hidden_activation\": \"sigmoid\", \"output_activation\": \"linear\","
             " \"weights\": [[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.6, 0.7]]]}\n");
  expect_failure({"eval", "--model", path, "--synthetic", "sine", "--samples", "50"}, 1, {path}, f.dir, f.guard);
  expect_failure({"train", "--init", path, "--epochs", "1", "--samples", "50", "--save", f.guard}, 1, {path}, f.dir,
                 f.guard);
}

// Catches eval running a model on data with the wrong number of columns (reading past the rows).
TEST(CliBadInput, ModelWidthsDoNotMatchData) {
  BadInputFixture f;
  const std::string path = f.file("three_in.csv", "1,2,3,4\n5,6,7,8\n");
  expect_failure({"eval", "--model", f.model, "--data", path}, 1, {path}, f.dir, f.guard);
}

// ---- Bad input: flags ------------------------------------------------------------------------------

// Catches flags out of range being accepted (training on nonsense, dividing by zero, looping forever) or
// reported as data errors; each must be a one-line usage error (exit 2) naming the flag.
TEST(CliBadInput, FlagsOutOfRange) {
  BadInputFixture f;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--batch", "0"}, "--batch"},
      {{"--lr", "0"}, "--lr"},
      {{"--lr", "-1"}, "--lr"},
      {{"--lr", "nan"}, "--lr"},
      {{"--layers", "2,0,1"}, "--layers"},
      {{"--layers", "2"}, "--layers"},
      {{"--epochs", "-1"}, "--epochs"},
      {{"--val-split", "1"}, "--val-split"},
      {{"--val-split", "-0.1"}, "--val-split"},
      {{"--frobnicate"}, "--frobnicate"},
      {{"--backend", "nonsense"}, "nonsense"},
      {{"--optimizer", "lbfgs"}, "lbfgs"},
      {{"--activation", "swish"}, "swish"},
      {{"--output", "tanh"}, "tanh"},
      {{"--loss", "hinge"}, "hinge"},
      {{"--schedule", "cyclic"}, "cyclic"},
      {{"--standardize", "all"}, "all"},
      {{"--keep", "first"}, "first"},
      {{"--momentum", "1"}, "--momentum"},
      {{"--beta2", "-0.1"}, "--beta2"},
      {{"--eps", "0"}, "--eps"},
      {{"--weight-decay", "-1"}, "--weight-decay"},
      {{"--step-every", "0"}, "--step-every"},
      {{"--gamma", "1.5"}, "--gamma"},
      {{"--warmup", "-2"}, "--warmup"},
      {{"--patience", "-1"}, "--patience"},
      {{"--min-delta", "-0.1"}, "--min-delta"},
      // bad combinations: bce on a linear output, bce with standardised targets, early stopping with
      // nothing to watch
      {{"--loss", "bce"}, "--output sigmoid"},
      {{"--loss", "bce", "--output", "sigmoid", "--standardize", "both"}, "--standardize"},
      {{"--patience", "5", "--val-split", "0"}, "--val-split"},
      {{"--keep", "best", "--val-split", "0"}, "--val-split"},
  };
  for (const auto& [flags, needle] : cases) {
    std::vector<std::string> args = {"train", "--samples", "50", "--epochs", "1", "--save", f.guard};
    if (flags[0] == "--epochs") args = {"train", "--samples", "50", "--save", f.guard};
    args.insert(args.end(), flags.begin(), flags.end());
    expect_failure(args, 2, {needle}, f.dir, f.guard);
  }
}

// Catches bce's targets outside [0, 1] being trained on: a data error (exit 1) naming the sample.
TEST(CliBadInput, BceTargetsOutsideZeroOne) {
  BadInputFixture f;
  const std::string data = f.file("signs.csv", "0.5,1,0\n1,0.25,-1\n");
  expect_failure({"train", "--data", data, "--layers", "2,3,1", "--output", "sigmoid", "--loss", "bce", "--save", f.guard},
                 1, {"signs.csv", "[0, 1]", "sample 2"}, f.dir, f.guard);
}

// Catches --init that silently drops what its model is: another hidden activation or output.
TEST(CliBadInput, InitAgainstOtherActivations) {
  BadInputFixture f;
  expect_failure({"train", "--samples", "50", "--init", f.model, "--activation", "tanh", "--save", f.guard}, 1,
                 {"sigmoid hidden layers", "--activation says tanh"}, f.dir, f.guard);
  expect_failure({"train", "--samples", "50", "--init", f.model, "--standardize", "inputs", "--save", f.guard}, 2,
                 {"--standardize"}, f.dir, f.guard);
}

// Catches a missing subcommand or a missing required flag being anything but a one-line usage error.
TEST(CliBadInput, MissingSubcommandOrRequiredFlag) {
  BadInputFixture f;
  expect_failure({}, 2, {}, f.dir, f.guard);
  expect_failure({"predict", "--data", "x.csv", "--out", f.guard}, 2, {"--model"}, f.dir, f.guard);
  expect_failure({"explain", "--x", "0.5,-1"}, 2, {"--y"}, f.dir, f.guard);
}

// ---- Many networks at once -------------------------------------------------------------------------

// Catches replicas that differ from the single run with their settings, a --save that is not the best
// by validation MSE, or --save-all missing models: the sweep's model for (seed 4, lr 0.3) is byte for
// byte the single run's, and --save holds the network the output marks best.
TEST(CliReplicas, SweepModelsEqualSingleRunsAndSaveIsTheBest) {
  const fs::path dir = scratch_dir();
  const std::vector<std::string> common = {"train", "--epochs", "4", "--samples", "2000", "--backend", "cpu"};
  std::vector<std::string> sweep = common;
  for (const std::string& a : std::vector<std::string>{"--sweep", "lr=0.1,0.3", "--sweep", "seed=3-5", "--threads", "2",
                                                      "--save-all", dir.string(), "--save", (dir / "best.json").string()})
    sweep.push_back(a);
  const RunResult r = run_ok(sweep);
  const std::vector<std::string> lines = lines_of(r.out);
  int network_lines = 0, best_index = -1;
  for (const std::string& line : lines)
    if (line.rfind("network ", 0) == 0) {
      if (line.find("  best") != std::string::npos) best_index = network_lines;
      ++network_lines;
    }
  EXPECT_EQ(network_lines, 6) << r.out;
  ASSERT_GE(best_index, 0) << r.out;
  std::vector<std::string> single = common;
  for (const std::string& a :
       std::vector<std::string>{"--seed", "4", "--lr", "0.3", "--quiet", "--save", (dir / "single.json").string()})
    single.push_back(a);
  run_ok(single);
  EXPECT_EQ(slurp(dir / "net-4-seed4-lr0.3.json"), slurp(dir / "single.json"));
  // The best model is one of the saved ones: the one on the line marked best.
  int matches = 0;
  for (const std::string& name : file_names(dir))
    if (name.rfind("net-" + std::to_string(best_index) + "-", 0) == 0) {
      EXPECT_EQ(slurp(dir / name), slurp(dir / "best.json"));
      ++matches;
    }
  EXPECT_EQ(matches, 1);
}

// Catches malformed sweeps or flags that do not go with replicas being accepted (usage errors, exit 2).
TEST(CliReplicas, BadSweepsAreUsageErrors) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"train", "--sweep", "momentum=0.9"}, {"train", "--sweep", "lr=0.1,x"},
        {"train", "--sweep", "seed=1-3", "--replicas", "2"}, {"train", "--replicas", "0"},
        {"train", "--replicas", "2", "--log", "x.csv"}, {"train", "--save-all", "/tmp"},
        {"train", "--replicas", "2", "--save-all", "/nonexistent/folder"}}) {
    const RunResult r = run(args);
    EXPECT_EQ(r.code, 2) << command_line(args) << "\n" << describe(r);
    EXPECT_EQ(lines_of(r.err).size(), 1u) << command_line(args) << "\n" << r.err;
  }
}

// Catches --data-parallel and --average-every taken where they cannot work (a second network, standard
// input) or --average-every without --data-parallel quietly ignored.
TEST(CliDataParallel, BadFlagsAreUsageErrors) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"train", "--average-every", "4"}, {"train", "--average-every", "0"},
        {"train", "--data-parallel", "--average-every", "-1"}, {"train", "--data-parallel", "--replicas", "2"},
        {"train", "--data-parallel", "--data", "-"}}) {
    const RunResult r = run(args);
    EXPECT_EQ(r.code, 2) << command_line(args) << "\n" << describe(r);
    EXPECT_EQ(lines_of(r.err).size(), 1u) << command_line(args) << "\n" << r.err;
  }
}

// Catches the program's data-parallel path planning another run than the plain one (another split,
// standardisation, start or schedule) or saving another model: with one rank (no mpirun) its model is
// the plain run's within 1e-5, with a validation split, standardisation, adam and early stopping.
TEST(CliDataParallel, OneRankSavesThePlainRunsModel) {
  const fs::path dir = scratch_dir();
  const std::vector<std::string> flags = {"train", "--synthetic", "sine", "--samples", "1500", "--layers", "2,9,1",
                                          "--bias", "--epochs", "6", "--batch", "40", "--optimizer", "adam",
                                          "--lr", "0.01", "--standardize", "both", "--patience", "3",
                                          "--backend", "cpu", "--quiet"};
  std::vector<std::string> plain = flags, parallel = flags;
  plain.insert(plain.end(), {"--save", (dir / "plain.json").string()});
  parallel.insert(parallel.end(), {"--data-parallel", "--save", (dir / "parallel.json").string()});
  run_ok(plain);
  run_ok(parallel);
  const Model a = load_model((dir / "parallel.json").string()), b = load_model((dir / "plain.json").string());
  EXPECT_LE(relative_difference(a.parameters.values, b.parameters.values), 1e-5);
  EXPECT_EQ(a.standardization.input_mean, b.standardization.input_mean);
  EXPECT_EQ(a.standardization.target_scale, b.standardization.target_scale);
  EXPECT_EQ(a.optimizer_state.steps, b.optimizer_state.steps);
}

// Catches --verify-every refused or ignored with --data-parallel: at one rank the program prints the
// same verify lines as the plain run (steps 0, 7, 14, …; the differences within the tolerance).
TEST(CliDataParallel, VerifyEveryPrintsThePlainRunsLines) {
  const std::vector<std::string> flags = {"train", "--synthetic", "sine", "--samples", "500", "--layers", "2,5,1",
                                          "--epochs", "2", "--batch", "40", "--backend", "cpu", "--verify-every", "7"};
  std::vector<std::string> parallel = flags;
  parallel.push_back("--data-parallel");
  const auto verify_lines = [](const std::string& out) {
    std::vector<std::string> lines;
    for (const std::string& line : lines_of(out))
      if (line.rfind("verify step", 0) == 0) lines.push_back(line);
    return lines;
  };
  const std::vector<std::string> plain_lines = verify_lines(run_ok(flags).out);
  const std::vector<std::string> parallel_lines = verify_lines(run_ok(parallel).out);
  ASSERT_FALSE(plain_lines.empty());
  ASSERT_EQ(parallel_lines.size(), plain_lines.size());
  for (size_t k = 0; k < plain_lines.size(); ++k)
    EXPECT_EQ(parallel_lines[k].substr(0, parallel_lines[k].find(':')), plain_lines[k].substr(0, plain_lines[k].find(':')));
}

// Catches explain and train disagreeing on the default network: explain without --model shows the
// network that train (same --seed default) starts from.
TEST(CliExplain, DefaultNetworkIsTrainsStartingPoint) {
  const fs::path dir = scratch_dir();
  run_ok({"train", "--epochs", "0", "--quiet", "--save", (dir / "start.json").string()});
  const RunResult by_default = run_ok({"explain", "--x", "0.5,-1", "--y", "0.3"});
  const RunResult from_model = run_ok({"explain", "--model", (dir / "start.json").string(), "--x", "0.5,-1", "--y", "0.3"});
  EXPECT_EQ(by_default.out, from_model.out);
}

// ---- Saving: the target's mode, links, read-only files, new folders ---------------------------------

// Catches saving by rename resetting the target's mode (a 0600 model becoming 0644).
TEST(CliSave, KeepsTheTargetsMode) {
  const fs::path dir = scratch_dir();
  const fs::path m = dir / "m.json";
  write_text(m, kPrecious);
  fs::permissions(m, fs::perms::owner_read | fs::perms::owner_write);
  run_ok({"train", "--epochs", "1", "--samples", "50", "--quiet", "--save", m.string()});
  EXPECT_EQ(fs::status(m).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(load_or_fail(m).all_finite());
}

// Catches saving through a symbolic link replacing the link with a file (the file it points to then
// keeps the old model): the link stays, and its target holds what a direct save writes.
TEST(CliSave, WritesThroughASymlinkToItsTarget) {
  const fs::path dir = scratch_dir();
  fs::create_directory(dir / "real");
  const fs::path target = dir / "real" / "m.json", link = dir / "link.json", direct = dir / "direct.json";
  write_text(target, kPrecious);
  fs::create_symlink(fs::path("real") / "m.json", link);  // relative: taken from the link's folder
  const std::vector<std::string> args = {"train", "--epochs", "1", "--samples", "50", "--quiet", "--save"};
  std::vector<std::string> via_link = args, plain = args;
  via_link.push_back(link.string());
  plain.push_back(direct.string());
  run_ok(via_link);
  run_ok(plain);
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link), fs::path("real") / "m.json");
  EXPECT_EQ(slurp(target), slurp(direct));
  EXPECT_EQ(file_names(dir / "real"), std::vector<std::string>{"m.json"}) << "a temporary file was left behind";
}

// Catches a read-only target (no write bit for anyone: chmod 444) being silently replaced. The check
// looks at the mode bits, not only access(), which grants root everything (these tests may run as
// root). Both train (before training) and predict refuse it, as a usage error naming the file.
TEST(CliSave, RefusesAReadOnlyTarget) {
  BadInputFixture f;
  fs::permissions(f.guard, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  expect_failure({"train", "--samples", "50", "--epochs", "1", "--save", f.guard}, 2, {"--save", f.guard, "read-only"},
                 f.dir, f.guard);
  const std::string data = f.file("in.csv", "0.5,-1\n");
  expect_failure({"predict", "--model", f.model, "--data", data, "--out", f.guard}, 2, {"--out", "read-only"}, f.dir,
                 f.guard);
}

// Catches --save-all into a folder that does not exist yet failing (the README's own sweep example
// does that), and errors naming an invented path ("models//model.json") instead of the real folder.
TEST(CliReplicas, SaveAllCreatesAFreshFolderAndNamesRealPaths) {
  const fs::path dir = scratch_dir();
  const std::string models = (dir / "models").string() + "/";
  run_ok({"train", "--replicas", "2", "--epochs", "1", "--samples", "50", "--backend", "cpu", "--quiet", "--save-all",
          models});
  EXPECT_EQ(file_names(dir / "models"), (std::vector<std::string>{"net-0-seed2-lr0.2.json", "net-1-seed3-lr0.2.json"}));
  const std::string missing = (dir / "missing" / "models").string();
  const RunResult r = run({"train", "--replicas", "2", "--epochs", "1", "--save-all", missing + "/"});
  EXPECT_EQ(r.code, 2) << describe(r);
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find((dir / "missing").string() + " does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("//"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "missing"));
}

// Catches values that mean nothing being taken for "not given" or wrapped around: empty file names,
// negative or too large seeds; names the program does not know (a runner, a network, a command); and
// explain's network flags silently ignored next to --model. Each one line, exit 2, nothing written.
TEST(CliBadInput, EmptyValuesBadSeedsAndUnknownNames) {
  BadInputFixture f;
  const std::string data = f.file("in.csv", "0.5,-1\n");
  const std::vector<std::string> explain = {"explain", "--model", f.model, "--x", "0.5,-1", "--y", "0.3"};
  const auto with = [](std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
      {{"train", "--epochs", "1", "--save", ""}, {"--save", "empty"}},
      {{"train", "--epochs", "1", "--log", "", "--save", f.guard}, {"--log", "empty"}},
      {{"train", "--epochs", "1", "--save-all", "", "--replicas", "2"}, {"--save-all", "empty"}},
      {{"predict", "--model", f.model, "--data", data, "--out", ""}, {"--out", "empty"}},
      {{"predict", "--model", f.model, "--data", ""}, {"--data", "empty"}},
      {{"train", "--epochs", "1", "--seed", "-1", "--save", f.guard}, {"--seed", "'-1'"}},
      {{"train", "--epochs", "1", "--seed", "99999999999999999999", "--save", f.guard}, {"--seed", "99999999999999999999"}},
      {{"train", "--epochs", "1", "--data-seed", "-3", "--save", f.guard}, {"--data-seed", "'-3'"}},
      {{"gradcheck", "--seed", "-1"}, {"--seed"}},
      {{"bench", "--quick", "--backends", "bogus", "--json", f.guard}, {"--backends", "'bogus'", "reference", "cpu-1"}},
      {{"bench", "--quick", "--networks", "2x3", "--json", f.guard}, {"--networks", "'2x3'", "2-3-3-1"}},
      {{"foo"}, {"unknown command 'foo'", "train", "predict", "bench"}},
      {with(explain, {"--layers", "2,3,1"}), {"--layers", "--model"}},
      {with(explain, {"--seed", "5"}), {"--seed", "--model"}},
      {with(explain, {"--loss", "bce"}), {"--loss", "--model"}},
  };
  for (const auto& [args, needles] : cases) expect_failure(args, 2, needles, f.dir, f.guard);
  // --networks is blamed, not --layers, whose syntax the network names borrow.
  const RunResult r = run({"bench", "--quick", "--networks", "2x3"});
  EXPECT_EQ(r.err.find("--layers"), std::string::npos) << r.err;
  // The largest seed is still one.
  run_ok({"train", "--epochs", "0", "--quiet", "--seed", "18446744073709551615"});
}

// Catches Ctrl-C during --replicas listing the networks that never started like diverged ones
// ("train_mse nan  val_mse -") and writing their untrained models. One thread: network 0 trains
// (100000 epochs, far longer than the test waits), networks 1 and 2 wait their turn and never start.
TEST(CliInterrupt, CtrlCDuringReplicasSaysWhichNetworksDidNotRun) {
  const fs::path dir = scratch_dir();
  const fs::path models = dir / "models";
  Child child({"train", "--replicas", "3", "--epochs", "100000", "--samples", "20000", "--backend", "cpu", "--threads",
               "1", "--save-all", models.string()});
  ASSERT_TRUE(child.read_until("3 networks", 30)) << "no header line within 30 s; stdout so far:\n" << child.out();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // network 0 is training by now
  ASSERT_EQ(kill(child.pid(), SIGINT), 0);
  const RunResult r = child.finish(30);
  EXPECT_FALSE(r.timed_out) << "training did not stop within 30 s of SIGINT";
  EXPECT_EQ(r.signal, 0) << describe(r);
  EXPECT_EQ(r.code, 130) << describe(r);
  EXPECT_EQ(lines_of(r.err).size(), 1u) << describe(r);
  EXPECT_NE(r.err.find("2 of 3 networks did not run"), std::string::npos) << describe(r);
  EXPECT_EQ(r.out.find("nan"), std::string::npos) << describe(r);
  std::vector<std::string> network_lines;
  for (const std::string& line : lines_of(r.out))
    if (line.rfind("network ", 0) == 0) network_lines.push_back(line);
  ASSERT_EQ(network_lines.size(), 3u) << r.out;
  EXPECT_NE(network_lines[0].find("interrupted in epoch"), std::string::npos) << r.out;
  for (size_t k = 1; k < 3; ++k) {
    EXPECT_NE(network_lines[k].find("did not run"), std::string::npos) << network_lines[k];
    EXPECT_EQ(network_lines[k].find("train_mse"), std::string::npos) << network_lines[k];
  }
  EXPECT_EQ(file_names(models), std::vector<std::string>{"net-0-seed2-lr0.2.json"});
  EXPECT_TRUE(load_or_fail(models / "net-0-seed2-lr0.2.json").all_finite());
}

// Catches the replicas mode printing its header before finding that --backend cuda has no device (the
// single run fails before printing anything): nothing on stdout, the single run's one-line error.
TEST(CliReplicas, CudaWithoutADeviceFailsBeforePrinting) {
  std::string why_not;
  if (cuda_backend_available(&why_not)) GTEST_SKIP() << "a CUDA device is present";
  const RunResult single = run({"train", "--backend", "cuda", "--epochs", "1"});
  const RunResult many = run({"train", "--backend", "cuda", "--replicas", "2", "--epochs", "1"});
  EXPECT_EQ(single.code, 1) << describe(single);
  EXPECT_EQ(many.code, 1) << describe(many);
  EXPECT_EQ(many.out, "") << describe(many);
  EXPECT_EQ(many.err, single.err);
  EXPECT_EQ(lines_of(many.err).size(), 1u) << describe(many);
}

}  // namespace
}  // namespace sigtrain
