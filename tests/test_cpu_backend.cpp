// The fp32 cpu backend against the fp64 reference (DESIGN.md §5): forward, loss and gradients within
// 1e-5 relative for one step, parameters within 1e-4 after 100 SGD steps, on random data and networks.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <random>

#include "backend_test_util.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/cpu_blas.h"
#include "backends/cpu/cpu_kernels.h"
#include "backends/reference/reference_backend.h"
#include "train/trainer.h"

namespace sigtrain {
namespace {

using testing::random_dataset;
using testing::random_parameters;

using Case = testing::BackendCase;

class CpuVsReference : public ::testing::TestWithParam<Case> {};

// Catches a wrong formula or indexing in the cpu backend: the forward pass (unit-major layout, bias,
// linear output), the batched loss, and any layer's gradient (Δ·Aᵀ, Wᵀ·Δ, σ', 2/B, the bias row sums).
TEST_P(CpuVsReference, OneStepForwardLossAndGradients) {
  CpuBackend cpu(testing::case_spec(GetParam()), testing::case_setup(GetParam()), 1);
  testing::expect_agreement(testing::one_step_agreement(cpu, GetParam(), 11), 1e-5, false);
}

// Catches drift or a wrong update (lr, sign, a missed layer, a partial batch not averaged over its own
// size) over 100 steps of shuffled SGD.
TEST_P(CpuVsReference, HundredStepsOfSgdAgree) {
  CpuBackend cpu(testing::case_spec(GetParam()), testing::case_setup(GetParam()), 1);
  testing::expect_agreement(testing::hundred_steps_agreement(cpu, GetParam(), 31), 1e-4, true);
}

INSTANTIATE_TEST_SUITE_P(Networks, CpuVsReference,
                         ::testing::Values(Case{{2, 3, 3, 1}, false, 1}, Case{{2, 3, 3, 1}, false, 31},
                                           Case{{2, 3, 3, 1}, true, 256}, Case{{5, 17, 4}, true, 31},
                                           Case{{3, 64, 64, 2}, false, 100}, Case{{8, 1, 8, 3}, true, 7},
                                           Case{{1, 1}, true, 9}, Case{{20, 300, 1}, true, 64},
                                           // batch 1 goes sample by sample (run_per_sample), small and layered
                                           Case{{5, 17, 4}, true, 1}, Case{{20, 300, 300, 2}, false, 1}),
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
    EXPECT_LE(relative_difference(fast.values.data(), exact.values.data(), fast.values.size()), 1e-5) << n;
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
    std::vector<float> y(x.size());
    k->sigmoid(x.data(), y.data(), x.size());
    double worst_ulps = 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double exact = sigmoid_fp64(x[i]);
      if (x[i] >= -87.0f) {
        const double ulp = std::ldexp(1.0, std::ilogb(exact) - 23);
        worst_ulps = std::max(worst_ulps, std::abs(double(y[i]) - exact) / ulp);
      } else {
        EXPECT_TRUE(y[i] >= 0.0f && double(y[i]) <= floor_value) << k->name << " σ(" << x[i] << ") = " << y[i];
      }
    }
    EXPECT_LE(worst_ulps, 4.0) << k->name;
    EXPECT_EQ(y[x.size() - 2], 1.0f) << k->name << ": σ(+inf), as σ of every x above 17 in fp32";
  }
}

// Catches a σ that reads or writes past the end, or computes a lane differently from its neighbours: every
// length from 0 to 40 gives the same values as the whole array.
TEST(CpuKernels, SigmoidOfAnyLengthMatchesTheWholeArray) {
  const std::vector<float> x = sigmoid_inputs();
  for (const CpuKernels* k : supported_cpu_kernels()) {
    std::vector<float> whole(x.size());
    k->sigmoid(x.data(), whole.data(), x.size());
    for (size_t n = 0; n <= 40; ++n) {
      std::vector<float> part(n + 1, -7.0f);
      k->sigmoid(x.data() + 3, part.data(), n);
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(part[i], whole[i + 3]) << k->name << " n=" << n << " i=" << i;
      EXPECT_EQ(part[n], -7.0f) << k->name << ": wrote past n=" << n;
    }
  }
}

// Catches a clamp that turns NaN into a number: a diverged network must report a NaN, which stops training.
TEST(CpuKernels, SigmoidOfNanIsNan) {
  const std::vector<float> x(19, std::numeric_limits<float>::quiet_NaN());
  for (const CpuKernels* k : supported_cpu_kernels()) {
    std::vector<float> y(x.size());
    k->sigmoid(x.data(), y.data(), x.size());
    for (float v : y) EXPECT_TRUE(std::isnan(v)) << k->name;
  }
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
        EXPECT_LE(worst_difference_from_reference(cpu, spec, c.batch, 40), 1e-5)
            << k->name << " " << spec.to_string() << " B=" << c.batch << (cpu.uses_blas() ? " with BLAS" : "");
      }
}

// Catches padding columns leaking into a sum or a loss: batches around every vector width (4, 8, 16)
// and around the chunk size (256) agree with the reference, in every variant.
TEST(CpuKernels, BatchesOfAnySizeAgreeWithTheReference) {
  const NetworkSpec spec{{3, 5, 2}, true};
  for (const CpuKernels* k : supported_cpu_kernels())
    for (size_t batch : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 255, 256, 257, 511, 513}) {
      CpuBackend cpu(spec, TrainingSetup{}, 1, *k, false);
      EXPECT_LE(worst_difference_from_reference(cpu, spec, batch, batch), 1e-5) << k->name << " B=" << batch;
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
    EXPECT_LE(worst_difference_from_reference(cpu, spec, batch, 50 + batch), 1e-5) << "B=" << batch;
}

// Catches the layered way's whole-batch buffers sized for the first batch only (the chunked way is
// covered by GrowingBatchesReuseNothingStale).
TEST(CpuBackend, LayeredGrowingBatchesReuseNothingStale) {
  const NetworkSpec spec{{16, 300, 300, 4}, true};
  CpuBackend cpu(spec, TrainingSetup{}, 2);
  ASSERT_TRUE(cpu.layered());
  for (size_t batch : {3, 130, 7, 600})
    EXPECT_LE(worst_difference_from_reference(cpu, spec, batch, batch), 1e-5) << batch;
}

// ---- Threads -----------------------------------------------------------------------------------------------

TrainResult train_with_threads(const NetworkSpec& spec, size_t batch, int threads, bool blas) {
  const Dataset d = random_dataset(spec, 3 * batch + batch / 3, 61);  // three full batches and a partial one
  TrainConfig config;
  config.epochs = 2;
  config.batch = batch;
  config.lr = 0.05;
  TrainObserver quiet;
  CpuBackend cpu(spec, TrainingSetup{}, threads, cpu_kernels(), blas);
  return train(cpu, random_parameters(spec, 62), d, Dataset{}, config, quiet);
}

// Catches results that depend on the number of threads (chunk partials added in another order, a tile cut
// by the thread count, a race on a shared buffer): 1, 2 and 3 threads train to exactly the same bits, on
// the chunked way and the layered way, with and without BLAS.
TEST(CpuBackend, AnyThreadCountGivesIdenticalBits) {
  struct Setting {
    NetworkSpec spec;
    size_t batch;
    bool blas;
  };
  const std::vector<Setting> settings = {{{{2, 3, 3, 1}, false}, 4096, false},
                                         {{{2, 64, 64, 1}, true}, 1000, false},
                                         {{{16, 300, 300, 4}, true}, 1000, false},
                                         {{{16, 300, 300, 4}, true}, 1000, true}};
  for (const Setting& s : settings) {
    const TrainResult one = train_with_threads(s.spec, s.batch, 1, s.blas);
    ASSERT_EQ(one.outcome, TrainOutcome::completed);
    for (int threads : {2, 3}) {
      const TrainResult many = train_with_threads(s.spec, s.batch, threads, s.blas);
      EXPECT_EQ(many.parameters.values, one.parameters.values)
          << s.spec.to_string() << ", " << threads << " threads" << (s.blas ? ", BLAS" : "");
      for (size_t e = 0; e < one.epochs.size(); ++e) EXPECT_EQ(many.epochs[e].train_loss, one.epochs[e].train_loss);
    }
  }
}

// Catches a NaN weight that the kernels turn into a finite loss (σ's clamp, a max or min that drops NaN):
// the trainer relies on a NaN loss to stop a diverged run.
TEST(CpuBackend, NanParameterGivesNanLoss) {
  for (const NetworkSpec& spec : {NetworkSpec{{2, 3, 3, 1}, false}, NetworkSpec{{16, 300, 300, 4}, true}})
    for (const CpuKernels* k : supported_cpu_kernels()) {
      Parameters p = random_parameters(spec, 71);
      p.W(1, 0, 0) = std::numeric_limits<double>::quiet_NaN();
      const Dataset d = random_dataset(spec, 40, 72);
      CpuBackend cpu(spec, TrainingSetup{}, 1, *k, true);
      cpu.set_parameters(p);
      Parameters grad;
      EXPECT_TRUE(std::isnan(cpu.loss_and_gradients({d.x.data(), d.y.data(), d.size}, grad)))
          << k->name << " " << spec.to_string();
    }
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
