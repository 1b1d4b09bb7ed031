// End-to-end checks of what the program prints against numbers computed here, independently of the
// library that printed them: explain against the notes' formulas written out by hand (σ'(a) = σ(a)(1 − σ(a)),
// tanh' = 1 − tanh², relu' = [a > 0], bce's dℓ/dz = ŷ − y), gradcheck's verdict and its largest error,
// and the quick benchmark's difference from the reference. The program runs as test_cli.cpp runs it:
// the built binary (SIGTRAIN_BINARY) in a child process (child_process.h), its own scratch folder.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "backend_test_util.h"
#include "child_process.h"
#include "test_files.h"
#include "model/network.h"

namespace sigtrain {
namespace {

namespace fs = std::filesystem;

// ---- Running the program ---------------------------------------------------------------------------

using testing::run;
using testing::run_ok;
using testing::RunResult;

fs::path scratch_dir() { return testing::scratch_dir("cli_checks"); }
using testing::slurp;

// The number after "name = " where `name` starts a line or follows a space; a failure unless exactly once.
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
  return std::strtod(text.c_str() + found + key.size(), nullptr);
}

// explain prints 12 significant digits: 1e-9 leaves room for the last ones, and none for a wrong formula.
constexpr double kPrinted = 1e-9;

void expect_printed(const std::string& text, const std::string& name, double expected) {
  EXPECT_NEAR(named_value(text, name), expected, kPrinted * std::max(std::abs(expected), 1e-3)) << name;
}

double sigmoid_by_hand(double a) { return 1.0 / (1.0 + std::exp(-a)); }

// ---- explain against the notes' formulas -----------------------------------------------------------

// Catches explain (and the shared math it prints) with a wrong σ or σ' (e.g. σ(1 − σ) replaced by
// anything else), a path of df/dp1 left out, or a wrong output delta, on the notes' network 2-3-3-1:
// every quantity from the notes' own formulas, written out here with the notes' names.
TEST(CliExplainByHand, NotesNetworkFromTheNotesFormulas) {
  const RunResult r = run_ok({"explain", "--seed", "7", "--x", "0.5,-1", "--y", "0.3"});
  const Parameters P = glorot_uniform(NetworkSpec{{2, 3, 3, 1}, false}, 7);
  const double x[2] = {0.5, -1}, y = 0.3;
  double h[3], z[3];
  for (int i = 0; i < 3; ++i) h[i] = sigmoid_by_hand(P.W(1, i, 0) * x[0] + P.W(1, i, 1) * x[1]);  // h_i = σ(p_i·x)
  for (int k = 0; k < 3; ++k) z[k] = sigmoid_by_hand(P.W(2, k, 0) * h[0] + P.W(2, k, 1) * h[1] + P.W(2, k, 2) * h[2]);
  const double yhat = P.W(3, 0, 0) * z[0] + P.W(3, 0, 1) * z[1] + P.W(3, 0, 2) * z[2];  // ŷ = wᵀz
  const double f = (yhat - y) * (yhat - y);
  for (int i = 0; i < 3; ++i) {
    expect_printed(r.out, "h" + std::to_string(i + 1), h[i]);
    expect_printed(r.out, "z" + std::to_string(i + 1), z[i]);
  }
  // df/dw_k = 2(ŷ − y) z_k;  df/d(row k of W2)_j = 2(ŷ − y) w_k z_k(1 − z_k) h_j;
  // df/d(row i of W1)_j = Σ_k 2(ŷ − y) w_k z_k(1 − z_k) W2_ki · h_i(1 − h_i) x_j (the paths through z1, z2, z3).
  const char* rows2[] = {"s", "u", "v"};
  const char* rows1[] = {"p", "q", "r"};
  for (int k = 0; k < 3; ++k) {
    expect_printed(r.out, "df/dw" + std::to_string(k + 1), 2 * (yhat - y) * z[k]);
    const double dz = 2 * (yhat - y) * P.W(3, 0, k) * z[k] * (1 - z[k]);
    for (int j = 0; j < 3; ++j) expect_printed(r.out, std::string("df/d") + rows2[k] + std::to_string(j + 1), dz * h[j]);
  }
  for (int i = 0; i < 3; ++i) {
    double paths = 0;
    for (int k = 0; k < 3; ++k) paths += 2 * (yhat - y) * P.W(3, 0, k) * z[k] * (1 - z[k]) * P.W(2, k, i);
    for (int j = 0; j < 2; ++j)
      expect_printed(r.out, std::string("df/d") + rows1[i] + std::to_string(j + 1), paths * h[i] * (1 - h[i]) * x[j]);
  }
  bool found_f = false;  // "f = (ŷ − y)² = value"
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("f = ", 0) == 0) {
      found_f = true;
      EXPECT_NEAR(std::strtod(line.substr(line.rfind("= ") + 2).c_str(), nullptr), f, kPrinted * f);
    }
  EXPECT_TRUE(found_f) << r.out;
}

// One hidden layer by hand: A1 = g(W1 x + b1), z = W2 A1 + b2, ŷ = σ(z) (one output), with g and g'
// given as formulas of the pre-activation, and dℓ/dz of the head.
struct OneHiddenLayerByHand {
  std::function<double(double)> g, g_prime;
  std::function<double(double yhat, double y)> loss, dloss_dz;
};

// Catches explain with a wrong tanh' or relu', a wrong head (bce's value or σ(z) − y; mse's
// 2(ŷ − y)·ŷ(1 − ŷ) on a sigmoid output), or a lost bias gradient, on 2-4-1 with bias.
TEST(CliExplainByHand, OtherActivationsAndHeadsFromTheirFormulas) {
  const OneHiddenLayerByHand tanh_bce{
      [](double a) { return std::tanh(a); }, [](double a) { return 1 - std::tanh(a) * std::tanh(a); },
      [](double yhat, double y) { return -(y * std::log(yhat) + (1 - y) * std::log(1 - yhat)); },
      [](double yhat, double y) { return yhat - y; }};
  const OneHiddenLayerByHand relu_mse{
      [](double a) { return a > 0 ? a : 0.0; }, [](double a) { return a > 0 ? 1.0 : 0.0; },
      [](double yhat, double y) { return (yhat - y) * (yhat - y); },
      [](double yhat, double y) { return 2 * (yhat - y) * yhat * (1 - yhat); }};
  struct Case {
    Activation hidden;
    Loss loss;
    const OneHiddenLayerByHand* by_hand;
  };
  for (const Case& c : {Case{Activation::tanh, Loss::bce, &tanh_bce}, Case{Activation::relu, Loss::mse, &relu_mse}}) {
    SCOPED_TRACE(name_of(c.hidden));
    const RunResult r = run_ok({"explain", "--layers", "2,4,1", "--bias", "--activation", name_of(c.hidden), "--output",
                                "sigmoid", "--loss", name_of(c.loss), "--seed", "3", "--x", "0.7,-1.3", "--y", "0.25"});
    NetworkSpec spec{{2, 4, 1}, true};
    spec.hidden = c.hidden;
    spec.output = Activation::sigmoid;
    const Parameters P = glorot_uniform(spec, 3);
    const double x[2] = {0.7, -1.3}, y = 0.25;
    double pre[4], A1[4], z = P.b(2)[0];
    for (int i = 0; i < 4; ++i) {
      pre[i] = P.W(1, i, 0) * x[0] + P.W(1, i, 1) * x[1] + P.b(1)[i];
      A1[i] = c.by_hand->g(pre[i]);
      z += P.W(2, 0, i) * A1[i];
    }
    const double yhat = sigmoid_by_hand(z), dz = c.by_hand->dloss_dz(yhat, y);
    expect_printed(r.out, "z[1]", z);
    expect_printed(r.out, "ŷ[1]", yhat);
    expect_printed(r.out, "f", c.by_hand->loss(yhat, y));
    expect_printed(r.out, "df/db2[1]", dz);
    for (int i = 0; i < 4; ++i) {
      const std::string unit = "[" + std::to_string(i + 1) + "]";
      expect_printed(r.out, "A1" + unit, A1[i]);
      expect_printed(r.out, "df/dW2[1]" + unit, dz * A1[i]);
      const double delta = dz * P.W(2, 0, i) * c.by_hand->g_prime(pre[i]);  // Δ1_i = dℓ/dz · W2_i · g'(pre_i)
      expect_printed(r.out, "df/db1" + unit, delta);
      for (int j = 0; j < 2; ++j) expect_printed(r.out, "df/dW1" + unit + "[" + std::to_string(j + 1) + "]", delta * x[j]);
    }
  }
}

// ---- gradcheck's verdict ---------------------------------------------------------------------------

struct GradcheckOutput {
  std::vector<double> layers;  // "layer l: relative error E"
  double largest = std::nan("");
  bool pass = false, fail = false;
};

GradcheckOutput parse_gradcheck(const std::string& text) {
  GradcheckOutput g;
  const std::regex layer(R"(layer \d+: relative error (\S+))"), verdict(R"((PASS|FAIL): largest relative error (\S+))");
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, layer)) g.layers.push_back(std::strtod(m[1].str().c_str(), nullptr));
    if (std::regex_search(line, m, verdict)) {
      g.pass = m[1] == "PASS";
      g.fail = m[1] == "FAIL";
      g.largest = std::strtod(m[2].str().c_str(), nullptr);
    }
  }
  return g;
}

// Catches gradcheck reporting anything but the largest layer error (a min is 0 and always passes) and a
// verdict that is not "largest ≤ tolerance": a correct network passes with a largest error that is its
// layers' max (printed to 3 digits) and above 0; and where backprop and the finite differences truly
// disagree, it fails with exit 1. They disagree on relu's kink: with 2,000 samples through 50 relu units,
// some pre-activation lies within h = 1e-5 of 0, where the central difference straddles the kink.
TEST(CliGradcheckVerdict, ReportsTheLargestErrorAndFailsWhereGradientsDisagree) {
  const GradcheckOutput good = parse_gradcheck(run_ok({"gradcheck", "--layers", "3,5,2,4,2", "--bias"}).out);
  ASSERT_EQ(good.layers.size(), 4u);
  EXPECT_TRUE(good.pass);
  EXPECT_GT(good.largest, 0.0);
  EXPECT_EQ(good.largest, *std::max_element(good.layers.begin(), good.layers.end()));

  const RunResult kinked = run({"gradcheck", "--layers", "2,50,1", "--activation", "relu", "--batch", "2000", "--seed", "6"}, 120);
  EXPECT_EQ(kinked.code, 1) << kinked.out << kinked.err;
  const GradcheckOutput bad = parse_gradcheck(kinked.out);
  EXPECT_TRUE(bad.fail) << kinked.out;
  ASSERT_EQ(bad.layers.size(), 2u);
  EXPECT_GT(bad.largest, 1e-6) << kinked.out;
  EXPECT_EQ(bad.largest, *std::max_element(bad.layers.begin(), bad.layers.end()));
}

// ---- The quick benchmark ---------------------------------------------------------------------------

// TF32 rounds the products' inputs to 10 mantissa bits (u = 2⁻¹¹ ≈ 4.9e-4); over the quick grid's sums of
// up to 256 terms, with fp32 accumulation, about 20 u: the cuda-graphs-tf32 runner is held to 1e-2.
constexpr double kTf32Tolerance = 1e-2;

// Catches a benchmark that runs but computes its backends wrong (or stops checking them): `bench --quick`
// exits 0, writes its JSON and chart, and every case it ran on a fast backend carries its largest relative
// difference from the fp64 reference on one batch, within the one-step tolerance of the backend tests
// (TF32's for the TF32 runner). (Replaces the ctest BenchQuickSmoke, which checked the exit code only.)
TEST(CliBench, QuickRunsEveryBackendWithinTheReferenceTolerance) {
  const fs::path dir = scratch_dir();
  const fs::path json = dir / "bench-quick.json", svg = dir / "bench-quick.svg";
  const RunResult r = run({"bench", "--quick", "--json", json.string(), "--svg", svg.string()}, 300);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_FALSE(slurp(svg).empty());
  const nlohmann::json j = nlohmann::json::parse(slurp(json));
  int checked = 0;
  for (const nlohmann::json& row : j.at("results")) {
    const std::string backend = row.at("backend"), what = backend + "_" + row.at("network").get<std::string>() + "_B" +
                                                       std::to_string(row.at("batch").get<size_t>());
    if (row.contains("skipped") || backend == "reference") continue;
    ASSERT_TRUE(row.contains("max_relative_difference_vs_reference")) << what;
    const double difference = row.at("max_relative_difference_vs_reference");
    const double tolerance =
        backend.find("tf32") != std::string::npos ? kTf32Tolerance : testing::kOneStepTolerance;
    // As the GPU tests report theirs: the device check collects these lines (bench/device_check.sh).
    std::printf("sigtrain-diff: CliBench.Quick %s %.3g\n", what.c_str(), difference);
    EXPECT_GE(difference, 0.0) << what;
    EXPECT_LE(difference, tolerance) << what;
    ++checked;
  }
  EXPECT_GE(checked, 4) << "the quick grid has 4 cases, each on the cpu at least";
}

}  // namespace
}  // namespace sigtrain
