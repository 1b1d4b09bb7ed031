// The fp32 cpu backend against the fp64 reference (DESIGN.md §5): forward, loss and gradients within
// kOneStepTolerance (4e-6) relative for one step, parameters (and optimizer state) within
// kHundredStepsTolerance (4e-5) after 100 steps (backend_test_util.h says why those), on random
// data and networks, for every policy (activation, head, optimizer) on each of the backend's paths:
// chunked, per sample (batch 1), layered with and without BLAS, and every kernel variant.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backend_test_util.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_blas.h"
#include "backends/cpu/cpu_kernels.h"
#include "backends/reference/reference_backend.h"
#include "train/trainer.h"
#include "util/rng.h"

namespace sigtrain {
namespace {

using testing::random_dataset;
using testing::random_parameters;

using Case = testing::BackendCase;

class CpuVsReference : public ::testing::TestWithParam<Case> {};

// Catches a wrong formula or indexing in the cpu backend: the forward pass (unit-major layout, bias,
// the logits of the output layer), the batched loss of the head, and any layer's gradient (Δ·Aᵀ, Wᵀ·Δ,
// the activation's f', the head's dℓ/dz / B, the bias row sums).
TEST_P(CpuVsReference, OneStepForwardLossAndGradients) {
  CpuBackend cpu(testing::case_spec(GetParam()), testing::case_setup(GetParam()), 1);
  testing::expect_agreement(testing::one_step_agreement(cpu, GetParam(), 11), testing::kOneStepTolerance, false);
}

// Catches drift or a wrong update (lr, sign, a missed layer, a partial batch not averaged over its own
// size, the optimizer's formula, its state or its step count t) over 100 shuffled steps.
TEST_P(CpuVsReference, HundredStepsOfSgdAgree) {
  CpuBackend cpu(testing::case_spec(GetParam()), testing::case_setup(GetParam()), 1);
  testing::expect_agreement(testing::hundred_steps_agreement(cpu, GetParam(), 31), testing::kHundredStepsTolerance, true);
}

INSTANTIATE_TEST_SUITE_P(Networks, CpuVsReference,
                         ::testing::Values(Case{{2, 3, 3, 1}, false, 1}, Case{{2, 3, 3, 1}, false, 31},
                                           Case{{2, 3, 3, 1}, true, 256}, Case{{5, 17, 4}, true, 31},
                                           Case{{3, 64, 64, 2}, false, 100}, Case{{8, 1, 8, 3}, true, 7},
                                           Case{{1, 1}, true, 9}, Case{{20, 300, 1}, true, 64},
                                           // batch 1 goes sample by sample (run_per_sample), small and layered
                                           Case{{5, 17, 4}, true, 1}, Case{{20, 300, 300, 2}, false, 1}),
                         testing::backend_case_name);

// The cases of `networks` with every policy (testing::policy_cases), those `keep` accepts.
template <class Keep>
std::vector<Case> policy_cases_of(const std::vector<Case>& networks, Keep keep) {
  std::vector<Case> cases;
  for (const Case& network : networks)
    for (const Case& c : testing::policy_cases(network))
      if (keep(c)) cases.push_back(c);
  return cases;
}
bool any_case(const Case&) { return true; }
// The cases whose optimizer keeps state (momentum, nesterov, adam, adamw): between them every hidden
// activation and head, for the slow layered network.
bool stateful_optimizer(const Case& c) { return c.optimizer != OptimizerKind::sgd; }

// Every policy on the chunked way (2-3-3-1 with padding in the last vector; 3-17-4 with bias, a full chunk
// of 256) and sample by sample (batch 1); the policies with an optimizer state on the layered way (over
// 65536 parameters, products through BLAS where it is installed). Sample by sample on the notes' small
// network: tanh with momentum at batch 1 is chaotic on wider ones (5-17-4 with bias: two fp64 runs from
// parameters 1e-7 apart end 3e-2 apart after these 100 steps), so no fp32 backend could agree there.
INSTANTIATE_TEST_SUITE_P(Policies, CpuVsReference,
                         ::testing::ValuesIn(policy_cases_of(
                             {Case{{2, 3, 3, 1}, false, 31}, Case{{3, 17, 4}, true, 256}, Case{{2, 3, 3, 1}, false, 1}},
                             any_case)),
                         testing::backend_case_name);
INSTANTIATE_TEST_SUITE_P(LayeredPolicies, CpuVsReference,
                         ::testing::ValuesIn(policy_cases_of({Case{{4, 300, 300, 2}, true, 40}}, stateful_optimizer)),
                         testing::backend_case_name);

// Catches hidden state or uninitialised memory: the same run twice gives the same bits.
TEST(CpuBackend, SameRunTwiceGivesIdenticalParameters) {
  const NetworkSpec spec{{2, 3, 3, 1}, false};
  const Dataset d = random_dataset(spec, 1000, 5);
  TrainConfig config;
  config.epochs = 3;
  config.batch = 17;
  config.lr = 0.3;
  TrainObserver quiet;
  CpuBackend a(spec, TrainingSetup{}, 1), b(spec, TrainingSetup{}, 1);
  const TrainResult first = train(a, glorot_uniform(spec, 9), d, Dataset{}, config, quiet);
  const TrainResult second = train(b, glorot_uniform(spec, 9), d, Dataset{}, config, quiet);
  EXPECT_EQ(first.parameters.values, second.parameters.values);
  config.seed = 2;  // and the seed matters: another order gives another model
  CpuBackend c(spec, TrainingSetup{}, 1);
  const TrainResult third = train(c, glorot_uniform(spec, 9), d, Dataset{}, config, quiet);
  EXPECT_NE(first.parameters.values, third.parameters.values);
}

// Catches buffers sized for the first batch only: a larger batch after a smaller one must still agree.
TEST(CpuBackend, GrowingBatchesReuseNothingStale) {
  const NetworkSpec spec{{4, 9, 2}, true};
  const Parameters p = random_parameters(spec, 3);
  CpuBackend cpu(spec, TrainingSetup{}, 1);
  ReferenceBackend reference(spec);
  cpu.set_parameters(p);
  reference.set_parameters(p);
  for (size_t n : {3u, 50u, 7u, 129u}) {
    const Dataset d = random_dataset(spec, n, n);
    Parameters fast, exact;
    cpu.loss_and_gradients({d.x.data(), d.y.data(), n}, fast);
    reference.loss_and_gradients({d.x.data(), d.y.data(), n}, exact);
    EXPECT_LE(relative_difference(fast.values.data(), exact.values.data(), fast.values.size()), testing::kOneStepTolerance) << n;
  }
}

// ---- The vectorised kernels (cpu_kernels.h), every variant this processor runs ------------------------

// Largest relative difference of loss, outputs and each layer's gradient from the reference on one batch.
double worst_difference_from_reference(CpuBackend& cpu, const NetworkSpec& spec, size_t batch, uint64_t seed) {
  return testing::one_step_agreement(cpu, {spec.widths, spec.bias, batch}, seed).worst();
}

std::string variant_names() {
  std::string s;
  for (const CpuKernels* k : supported_cpu_kernels()) s += std::string(s.empty() ? "" : ", ") + k->name;
  return s;
}

double sigmoid_fp64(float x) { return 1.0 / (1.0 + std::exp(-double(x))); }

// f(x) by the variant's vector activation, for every x.
std::vector<float> activate(const CpuKernels& k, Activation f, const std::vector<float>& x) {
  std::vector<float> y(x.size());
  k.activation(f, x.data(), y.data(), x.size());
  return y;
}

// |y − exact| in units of the last place of `exact` in fp32 (subnormal results: of the smallest float).
double ulps(float y, double exact) {
  // ilogb(0) is INT_MIN, and INT_MIN − 23 would overflow (UBSan): 0's ulp is the smallest float's.
  const double ulp = exact == 0.0 ? std::ldexp(1.0, -149)
                                  : std::max(std::ldexp(1.0, std::ilogb(exact) - 23), std::ldexp(1.0, -149));
  return std::abs(double(y) - exact) / ulp;
}

// Inputs for σ: random ones where it curves and where it saturates, and the edges of the clamp, of the
// float range and of fp32's σ (σ rounds to 1 above about 16.6).
std::vector<float> sigmoid_inputs() {
  std::vector<float> x;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> near(-20.0f, 20.0f), far(-120.0f, 120.0f);
  for (int k = 0; k < 50000; ++k) x.push_back(near(rng));
  for (int k = 0; k < 50000; ++k) x.push_back(far(rng));
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> edges = {0.0f,  1e-30f, 1e-10f, 1e-3f,   0.5f,    1.0f,         16.0f, 16.6f,
                                    17.0f, 80.0f,  86.9f,  87.0f,   87.1f,   88.0f,        88.8f, 89.0f,
                                    100.f, 1e4f,   1e30f,  FLT_MAX, FLT_MIN, FLT_TRUE_MIN, inf};
  for (float v : edges) {
    x.push_back(v);
    x.push_back(-v);
  }
  return x;
}

// Catches an inaccurate vector σ in any variant (exp's range reduction, its polynomial, the 2^n built in
// the exponent, the reciprocal, the clamp at ±87): within 4 ulp of fp64 σ for x ≥ −87 (σ ≥ 1.6e-38, a
// normal float), and between 0 and σ(−87) below, where the kernels clamp.
TEST(CpuKernels, SigmoidMatchesFp64OnRandomAndExtremeInputs) {
  const std::vector<float> x = sigmoid_inputs();
  const double floor_value = sigmoid_fp64(-87.0f) * (1 + 1e-6);
  for (const CpuKernels* k : supported_cpu_kernels()) {
    const std::vector<float> y = activate(*k, Activation::sigmoid, x);
    double worst_ulps = 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double exact = sigmoid_fp64(x[i]);
      if (x[i] >= -87.0f) {
        worst_ulps = std::max(worst_ulps, ulps(y[i], exact));
      } else {
        EXPECT_TRUE(y[i] >= 0.0f && double(y[i]) <= floor_value) << k->name << " σ(" << x[i] << ") = " << y[i];
      }
    }
    EXPECT_LE(worst_ulps, 4.0) << k->name;
    EXPECT_EQ(y[x.size() - 2], 1.0f) << k->name << ": σ(+inf), as σ of every x above 17 in fp32";
  }
}

// Catches an inaccurate vector tanh in any variant: the polynomial near 0 (where 2σ(2x) − 1 would be off by
// an ulp of 1, millions of ulps of a small tanh), the branch at |x| = 0.625, 1 − 2σ(−2|x|) beyond it, the
// sign, and saturation: within 2 ulp of fp64 tanh everywhere (1.4 measured), exactly ±1 far out, ±0 at ±0.
TEST(CpuKernels, TanhMatchesFp64OnRandomAndExtremeInputs) {
  std::vector<float> x = sigmoid_inputs();
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> small(-1.0f, 1.0f);
  for (int k = 0; k < 50000; ++k) x.push_back(small(rng));  // around the branch point and 0
  for (float v : {0.625f, std::nextafter(0.625f, 0.0f), 0.3f, 43.0f, 44.0f, 1e-5f})
    for (float sign : {1.0f, -1.0f}) x.push_back(sign * v);
  for (const CpuKernels* k : supported_cpu_kernels()) {
    const std::vector<float> y = activate(*k, Activation::tanh, x);
    double worst_ulps = 0.0;
    for (size_t i = 0; i < x.size(); ++i) worst_ulps = std::max(worst_ulps, ulps(y[i], std::tanh(double(x[i]))));
    EXPECT_LE(worst_ulps, 2.0) << k->name;
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> edges = {inf, -inf, 0.0f, -0.0f, 1e30f, -1e30f};
    const std::vector<float> t = activate(*k, Activation::tanh, edges);
    EXPECT_EQ(t[0], 1.0f) << k->name;
    EXPECT_EQ(t[1], -1.0f) << k->name;
    EXPECT_TRUE(t[2] == 0.0f && !std::signbit(t[2])) << k->name;
    EXPECT_TRUE(t[3] == 0.0f && std::signbit(t[3])) << k->name;
    EXPECT_EQ(t[4], 1.0f) << k->name;
    EXPECT_EQ(t[5], -1.0f) << k->name;
  }
}

// Catches a vector relu that differs from activation.h's x < 0 ? 0 : x on any input (a min for a max, a
// compare with the wrong operand order): exactly equal, −0 included.
TEST(CpuKernels, ReluIsExactlyTheScalarRelu) {
  const std::vector<float> x = sigmoid_inputs();
  for (const CpuKernels* k : supported_cpu_kernels()) {
    const std::vector<float> y = activate(*k, Activation::relu, x);
    for (size_t i = 0; i < x.size(); ++i) {
      const float exact = relu_of(x[i]);
      EXPECT_TRUE(y[i] == exact && std::signbit(y[i]) == std::signbit(exact)) << k->name << " relu(" << x[i] << ")";
    }
  }
}

// Catches an activation that reads or writes past the end, or computes a lane differently from its
// neighbours: every length from 0 to 40 gives the same values as the whole array.
TEST(CpuKernels, ActivationsOfAnyLengthMatchTheWholeArray) {
  const std::vector<float> x = sigmoid_inputs();
  for (const CpuKernels* k : supported_cpu_kernels())
    for (Activation f : {Activation::sigmoid, Activation::tanh, Activation::relu}) {
      const std::vector<float> whole = activate(*k, f, x);
      for (size_t n = 0; n <= 40; ++n) {
        std::vector<float> part(n + 1, -7.0f);
        k->activation(f, x.data() + 3, part.data(), n);
        for (size_t i = 0; i < n; ++i)
          EXPECT_EQ(part[i], whole[i + 3]) << k->name << " " << name_of(f) << " n=" << n << " i=" << i;
        EXPECT_EQ(part[n], -7.0f) << k->name << " " << name_of(f) << ": wrote past n=" << n;
      }
    }
}

// Catches a clamp or max that turns NaN into a number (σ's clamp, tanh's branch, a relu as max(x, 0) on
// the wrong operand order): a diverged network must report a NaN, which stops training.
TEST(CpuKernels, ActivationOfNanIsNan) {
  const std::vector<float> x(19, std::numeric_limits<float>::quiet_NaN());
  for (const CpuKernels* k : supported_cpu_kernels())
    for (Activation f : {Activation::sigmoid, Activation::tanh, Activation::relu})
      for (float v : activate(*k, f, x)) EXPECT_TRUE(std::isnan(v)) << k->name << " " << name_of(f);
}

// Catches a variant (AVX-512, AVX2, generic) whose products, epilogues, padding or sums go wrong, on the
// chunked way (small networks) and the layered way (wide ones), with and without BLAS.
TEST(CpuKernels, EveryVariantAgreesWithTheReference) {
  const std::vector<testing::BackendCase> cases = {
      {{2, 3, 3, 1}, false, 37},
      {{5, 17, 4}, true, 100},
      {{3, 64, 64, 2}, false, 300},
      {{1, 9, 1}, true, 513},
      {{16, 300, 300, 4}, true, 130}};  // the last has over 65536 parameters: layered
  for (const CpuKernels* k : supported_cpu_kernels())
    for (const testing::BackendCase& c : cases)
      for (bool blas : {false, true}) {
        const NetworkSpec spec{c.widths, c.bias};
        CpuBackend cpu(spec, TrainingSetup{}, 2, *k, blas);
        EXPECT_LE(worst_difference_from_reference(cpu, spec, c.batch, 40), testing::kOneStepTolerance)
            << k->name << " " << spec.to_string() << " B=" << c.batch << (cpu.uses_blas() ? " with BLAS" : "");
      }
}

// Catches a kernel variant that mishandles a policy: the vector tanh, relu and their f' in the products'
// epilogues (forward, backward) and in the elementwise halves after BLAS (bias_activation,
// times_activation_grad), each head's value and Δ (bce's scalar terms), and the optimizers: every policy
// for one step and 100 steps on the chunked way, and for one step on the layered way with and without BLAS.
// Catches a fault of the chunks that train in registers (cpu_kernels.h's static_chunk) in any variant:
// a layer's weights or bias read at the wrong offset of the compile-time layout, a padding column that
// reaches the gradient or the loss (B 5 and 37: most of the last vector empty), the lanes' sums, a
// chunk's gradient not overwritten: every compiled shape with and without biases, one step and 100
// steps against the reference. (Every policy on the notes' network: the test below.) Checks first that
// those networks take that path, and that one of the same width range outside the list does not.
TEST(CpuKernels, EveryVariantTrainsTheCompiledShapesInRegisters) {
  EXPECT_FALSE(CpuBackend(NetworkSpec{{2, 8, 8, 1}, false}, TrainingSetup{}, 1).trains_in_registers());
  EXPECT_FALSE(CpuBackend(NetworkSpec{{3, 3, 3, 1}, false}, TrainingSetup{}, 1).trains_in_registers());
  for (const CpuKernels* k : supported_cpu_kernels())
    for (const std::vector<int>& widths : {std::vector<int>{2, 3, 3, 1}, {2, 4, 1}, {2, 8, 1}, {2, 4, 4, 1}})
      for (bool bias : {false, true})
        for (size_t batch : {5u, 37u}) {
          const Case c{widths, bias, batch};
          CpuBackend one(testing::case_spec(c), testing::case_setup(c), 1, *k, false);
          ASSERT_TRUE(one.trains_in_registers()) << testing::backend_case_text(c);
          EXPECT_LE(testing::one_step_agreement(one, c, 83).worst(), testing::kOneStepTolerance)
              << k->name << " " << testing::backend_case_text(c);
          CpuBackend hundred(testing::case_spec(c), testing::case_setup(c), 1, *k, false);
          EXPECT_LE(testing::hundred_steps_agreement(hundred, c, 84).worst(), testing::kHundredStepsTolerance)
              << k->name << " " << testing::backend_case_text(c);
        }
}

TEST(CpuKernels, EveryVariantAgreesWithTheReferenceOnEveryPolicy) {
  for (const CpuKernels* k : supported_cpu_kernels()) {
    for (const Case& c : testing::policy_cases({{2, 3, 3, 1}, false, 31})) {
      CpuBackend one(testing::case_spec(c), testing::case_setup(c), 1, *k, false);
      EXPECT_LE(testing::one_step_agreement(one, c, 80).worst(), testing::kOneStepTolerance)
          << k->name << " " << testing::backend_case_text(c);
      CpuBackend hundred(testing::case_spec(c), testing::case_setup(c), 1, *k, false);
      EXPECT_LE(testing::hundred_steps_agreement(hundred, c, 81).worst(), testing::kHundredStepsTolerance)
          << k->name << " " << testing::backend_case_text(c);
    }
    for (const Case& c : testing::policy_cases({{4, 300, 300, 2}, true, 40}))
      for (bool blas : {false, true}) {
        CpuBackend cpu(testing::case_spec(c), testing::case_setup(c), 2, *k, blas);
        EXPECT_TRUE(cpu.layered());
        EXPECT_LE(testing::one_step_agreement(cpu, c, 82).worst(), testing::kOneStepTolerance)
            << k->name << " " << testing::backend_case_text(c) << (cpu.uses_blas() ? " with BLAS" : "");
      }
  }
}

// Catches padding columns leaking into a sum or a loss: batches around every vector width (4, 8, 16)
// and around the chunk size (256) agree with the reference, in every variant; also with bce on a relu
// network, whose loss term and Δ at the padding's logits (ℓ(0, 0) = log 2, σ(0) − 0 = ½) are not 0.
TEST(CpuKernels, BatchesOfAnySizeAgreeWithTheReference) {
  const Case notes{{3, 5, 2}, true, 0};
  const Case bce = testing::with_policies(notes, Activation::relu, Activation::sigmoid, Loss::bce, OptimizerKind::sgd);
  for (const CpuKernels* k : supported_cpu_kernels())
    for (const Case& policies : {notes, bce})
      for (size_t batch : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 255, 256, 257, 511, 513}) {
        Case c = policies;
        c.batch = batch;
        CpuBackend cpu(testing::case_spec(c), testing::case_setup(c), 1, *k, false);
        EXPECT_LE(testing::one_step_agreement(cpu, c, batch).worst(), testing::kOneStepTolerance)
            << k->name << " " << testing::backend_case_text(c);
      }
}

// ---- Wide networks: layer by layer, BLAS ---------------------------------------------------------------

// Catches a wrong transpose, stride or tile in the cblas_sgemm calls of the three products of §1, or BLAS
// not being used where it should be (it is loaded at run time: skipped, with the reason, where it is not).
TEST(CpuBackend, BlasPathAgreesWithTheReferenceOnAWideNetwork) {
  if (!cpu_blas_available()) GTEST_SKIP() << "no BLAS: " << cpu_blas_name();
  const NetworkSpec spec{{16, 300, 300, 4}, true};
  CpuBackend cpu(spec, TrainingSetup{}, 2);
  ASSERT_TRUE(cpu.layered());
  ASSERT_TRUE(cpu.uses_blas()) << cpu_blas_name();
  for (size_t batch : {64, 200, 700})
    EXPECT_LE(worst_difference_from_reference(cpu, spec, batch, 50 + batch), testing::kOneStepTolerance) << "B=" << batch;
}

// Catches the layered way's whole-batch buffers sized for the first batch only (the chunked way is
// covered by GrowingBatchesReuseNothingStale).
TEST(CpuBackend, LayeredGrowingBatchesReuseNothingStale) {
  const NetworkSpec spec{{16, 300, 300, 4}, true};
  CpuBackend cpu(spec, TrainingSetup{}, 2);
  ASSERT_TRUE(cpu.layered());
  for (size_t batch : {3, 130, 7, 600})
    EXPECT_LE(worst_difference_from_reference(cpu, spec, batch, batch), testing::kOneStepTolerance) << batch;
}

// ---- Threads -----------------------------------------------------------------------------------------------

TrainResult train_with_threads(const Case& c, int threads, bool blas) {
  const NetworkSpec spec = testing::case_spec(c);
  const Dataset d = testing::random_dataset(spec, c.loss, 3 * c.batch + c.batch / 3, 61);  // 3 full batches, 1 partial
  TrainConfig config;
  config.epochs = 2;
  config.batch = c.batch;
  config.lr = 0.05;
  TrainObserver quiet;
  CpuBackend cpu(spec, testing::case_setup(c), threads, cpu_kernels(), blas);
  return train(cpu, random_parameters(spec, 62), d, Dataset{}, config, quiet);
}

// Catches results that depend on the number of threads (chunk partials added in another order, a tile cut
// by the thread count, a race on a shared buffer, an update block that reads another's optimizer state):
// 1, 2 and 3 threads train to exactly the same bits, on the chunked way and the layered way, with and
// without BLAS, with the notes' policies and with others.
TEST(CpuBackend, AnyThreadCountGivesIdenticalBits) {
  struct Setting {
    Case c;
    bool blas;
  };
  using A = Activation;
  const std::vector<Setting> settings = {
      {{{2, 3, 3, 1}, false, 4096}, false},
      {{{2, 64, 64, 1}, true, 1000}, false},
      {{{16, 300, 300, 4}, true, 1000}, false},
      {{{16, 300, 300, 4}, true, 1000}, true},
      {testing::with_policies({{2, 3, 3, 1}, false, 4096}, A::tanh, A::sigmoid, Loss::bce, OptimizerKind::adam), false},
      {testing::with_policies({{16, 300, 300, 4}, true, 1000}, A::relu, A::sigmoid, Loss::mse, OptimizerKind::nesterov),
       true}};
  for (const Setting& s : settings) {
    const std::string name = testing::backend_case_text(s.c) + (s.blas ? ", BLAS" : "");
    const TrainResult one = train_with_threads(s.c, 1, s.blas);
    ASSERT_EQ(one.outcome, TrainOutcome::completed) << name;
    for (int threads : {2, 3}) {
      const TrainResult many = train_with_threads(s.c, threads, s.blas);
      EXPECT_EQ(many.parameters.values, one.parameters.values) << name << ", " << threads << " threads";
      EXPECT_EQ(many.optimizer_state.values, one.optimizer_state.values) << name << ", " << threads << " threads";
      for (size_t e = 0; e < one.epochs.size(); ++e) EXPECT_EQ(many.epochs[e].train_loss, one.epochs[e].train_loss);
    }
  }
}

// Catches an optimizer state that is not taken as given (set_optimizer_state ignoring the values or the
// step count t, which sets adam's bias corrections, or reading them in another layout than slot-major):
// one adam step from a given state, on the chunked and the layered way, against the reference from the
// same state; and the state read back is the reference's.
TEST(CpuBackend, ResumesFromAGivenOptimizerState) {
  for (const Case& network : {Case{{3, 5, 2}, true, 20}, Case{{4, 300, 300, 2}, true, 40}}) {
    const Case c =
        testing::with_policies(network, Activation::tanh, Activation::linear, Loss::mse, OptimizerKind::adam);
    const NetworkSpec spec = testing::case_spec(c);
    const size_t P = spec.parameter_count();
    OptimizerState state;
    state.steps = 7;
    Rng rng(90);
    for (size_t k = 0; k < P; ++k) state.values.push_back(rng.uniform(-0.1, 0.1));  // m
    for (size_t k = 0; k < P; ++k) state.values.push_back(rng.uniform(0.0, 0.01));  // v ≥ 0
    const Parameters p = random_parameters(spec, 91);
    const Dataset d = testing::random_dataset(spec, c.loss, c.batch, 92);
    CpuBackend cpu(spec, testing::case_setup(c), 1);
    ReferenceBackend reference(spec, testing::case_setup(c));
    for (Backend* b : std::initializer_list<Backend*>{&cpu, &reference}) {
      b->set_parameters(p);
      b->set_optimizer_state(state);
      b->set_training_data(d);
      b->begin_epoch(EpochOrder{false, 0});
      b->train_step(0, c.batch, 0.01);
    }
    const std::string name = testing::backend_case_text(c);
    for (int l = 1; l <= spec.num_layers(); ++l)
      EXPECT_LE(layer_relative_difference(cpu.parameters(), reference.parameters(), l), testing::kOneStepTolerance) << name << " layer " << l;
    const OptimizerState fast = cpu.optimizer_state(), exact = reference.optimizer_state();
    EXPECT_EQ(fast.steps, 8u) << name;
    ASSERT_EQ(fast.values.size(), exact.values.size()) << name;
    EXPECT_LE(relative_difference(fast.values.data(), exact.values.data(), P), testing::kOneStepTolerance) << name << " m";
    EXPECT_LE(relative_difference(fast.values.data() + P, exact.values.data() + P, P), testing::kOneStepTolerance) << name << " v";
  }
}

// Catches a NaN weight that the kernels turn into a finite loss (σ's clamp, tanh's branch, a relu or max
// that drops NaN, a head's loss term): the trainer relies on a NaN loss to stop a diverged run. Each hidden
// activation and head, on the chunked and the layered way (with BLAS where installed).
TEST(CpuBackend, NanParameterGivesNanLoss) {
  using A = Activation;
  const std::vector<Case> policies = {
      Case{{}, false, 0}, testing::with_policies({{}, false, 0}, A::tanh, A::sigmoid, Loss::mse, OptimizerKind::sgd),
      testing::with_policies({{}, false, 0}, A::relu, A::sigmoid, Loss::bce, OptimizerKind::sgd)};
  for (const Case& network : {Case{{2, 3, 3, 1}, false, 40}, Case{{16, 300, 300, 4}, true, 40}})
    for (const Case& policy : policies)
      for (const CpuKernels* k : supported_cpu_kernels()) {
        const Case c = testing::with_policies(network, policy.hidden, policy.output, policy.loss, policy.optimizer);
        const NetworkSpec spec = testing::case_spec(c);
        Parameters p = random_parameters(spec, 71);
        p.W(1, 0, 0) = std::numeric_limits<double>::quiet_NaN();
        const Dataset d = testing::random_dataset(spec, c.loss, c.batch, 72);
        CpuBackend cpu(spec, testing::case_setup(c), 1, *k, true);
        cpu.set_parameters(p);
        Parameters grad;
        EXPECT_TRUE(std::isnan(cpu.loss_and_gradients({d.x.data(), d.y.data(), d.size}, grad)))
            << k->name << " " << testing::backend_case_text(c);
      }
}

// ---- Predictions ------------------------------------------------------------------------------------------

uint64_t bits_of(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// Checks, bit for bit, that the logits of a row do not depend on the rows predicted with it (issue 11,
// defect 11: the cpu backend gave 0.248262703 for a row in a 1-row file and 0.248262525 in a 3-row file).
// Each row in `checked` is predicted alone, then inside files of each of `sizes` rows (rows [start,
// start + size) of d, the start varied so that the row sits at different positions in vectors, chunks and
// tiles).
void expect_rows_predict_as_alone(Backend& b, const Dataset& d, const std::vector<size_t>& sizes,
                                  const std::vector<size_t>& checked, const std::string& name) {
  const size_t n0 = size_t(d.inputs), nL = size_t(d.outputs);
  std::vector<std::vector<double>> alone(d.size);
  for (size_t r : checked) {
    alone[r].resize(nL);
    b.predict_logits(d.x_of(r), 1, alone[r].data());
  }
  for (size_t size : sizes) {
    const size_t start = size * 5 % 7;
    ASSERT_LE(start + size, d.size) << name;
    std::vector<double> z(size * nL);
    b.predict_logits(d.x.data() + start * n0, size, z.data());
    int mismatches = 0;
    for (size_t r : checked) {
      if (r < start || r >= start + size) continue;
      for (size_t o = 0; o < nL; ++o)
        if (bits_of(z[(r - start) * nL + o]) != bits_of(alone[r][o]) && ++mismatches <= 3)
          ADD_FAILURE() << name << ": row " << r << " output " << o << " in a file of " << size << " rows gives "
                        << std::setprecision(17) << z[(r - start) * nL + o] << ", alone " << alone[r][o];
    }
  }
}

// Catches, for every way through the cpu backend (chunked; layered with and without BLAS) with every
// kernel variant and 1 or 3 threads, a row's prediction changed by its neighbours: a path for tiny
// counts with other arithmetic (one sample at a time), BLAS chosen by the number of samples, or a
// product whose bits depend on the tile or vector a row falls in.
TEST(CpuBackend, PredictionOfARowDoesNotDependOnTheOtherRows) {
  using A = Activation;
  struct Setting {
    Case c;
    bool blas;
    size_t checked_stride;  // check every row of the small networks, every 41st of the wide one
  };
  const std::vector<Setting> settings = {
      {{{2, 3, 3, 1}, true, 0}, false, 1},
      {testing::with_policies({{5, 17, 4}, true, 0}, A::tanh, A::sigmoid, Loss::bce, OptimizerKind::sgd), false, 1},
      {testing::with_policies({{16, 300, 300, 4}, true, 0}, A::relu, A::linear, Loss::mse, OptimizerKind::sgd), false,
       41},
      {{{16, 300, 300, 4}, true, 0}, true, 41}};
  for (const Setting& s : settings) {
    const NetworkSpec spec = testing::case_spec(s.c);
    const bool small = spec.parameter_count() < 1000;
    // 4097 rows: more than the 4096 that predict_logits takes at a time, leaving a last piece of 1 row.
    std::vector<size_t> sizes = {1, 2, 3, 15, 16, 17, 100, 1000};
    if (small) sizes.push_back(4097);
    const Dataset d = testing::random_dataset(spec, sizes.back() + 7, 81);
    std::vector<size_t> checked;
    for (size_t r = 0; r < d.size; r += s.checked_stride) checked.push_back(r);
    const Parameters p = random_parameters(spec, 82);
    for (const CpuKernels* k : supported_cpu_kernels())
      for (int threads : {1, 3}) {
        CpuBackend cpu(spec, testing::case_setup(s.c), threads, *k, s.blas);
        if (s.blas && !cpu.uses_blas()) continue;  // no OpenBLAS here: the case without BLAS covers the rest
        cpu.set_parameters(p);
        expect_rows_predict_as_alone(cpu, d, sizes, checked,
                                     testing::backend_case_text(s.c) + (s.blas ? ", BLAS, " : ", ") + k->name + ", " +
                                         std::to_string(threads) + " threads");
      }
  }
}

// The same for the fp64 reference, which every fast backend is compared with.
TEST(ReferenceBackend, PredictionOfARowDoesNotDependOnTheOtherRows) {
  const NetworkSpec spec{{5, 17, 4}, true, Activation::tanh, Activation::linear};
  const Dataset d = testing::random_dataset(spec, 1007, 83);
  std::vector<size_t> checked(d.size);
  for (size_t r = 0; r < d.size; ++r) checked[r] = r;
  ReferenceBackend reference(spec, TrainingSetup{});
  reference.set_parameters(random_parameters(spec, 84));
  expect_rows_predict_as_alone(reference, d, {1, 2, 3, 15, 16, 17, 100, 1000}, checked, "reference");
}

// Catches the dispatch choosing a variant this processor lacks, or none: the backend's variant is among
// the supported ones, and the generic one is always there.
TEST(CpuKernels, DispatchChoosesASupportedVariant) {
  const std::vector<const CpuKernels*> variants = supported_cpu_kernels();
  ASSERT_FALSE(variants.empty());
  EXPECT_STREQ(variants.back()->name, "generic");
  EXPECT_NE(std::find(variants.begin(), variants.end(), &cpu_kernels()), variants.end()) << variant_names();
}

}  // namespace
}  // namespace sigtrain
