// The cuda backend against the fp64 reference (DESIGN.md §5), on both kernels and with every policy,
// and its own promises: graphs replay exactly what plain launches do (whatever the learning rate),
// runs repeat bit for bit, streamed data trains exactly like resident data, and the kernels handle
// sizes that are not multiples of the block size. Every test skips with
// the reason where no CUDA device is usable (or the build has no CUDA); --backend cuda on such a
// machine must fail with one clear error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <tuple>
#include <utility>

#include "backend_test_util.h"
#include "backends/choose.h"
#include "backends/cuda/fused_host.h"
#include "backends/reference/reference_backend.h"
#include "train/replicas.h"
#include "train/trainer.h"
#include "util/errors.h"

#ifdef SIGTRAIN_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "backends/cuda/cublas_backend.h"
#include "math/activation.h"
#include "math/loss.h"
#include "step_kernels.h"
#endif

namespace sigtrain {
namespace {

using testing::random_dataset;
using testing::random_parameters;

// The cuBLAS path unless a test asks for the fused kernel.
std::unique_ptr<Backend> cuda(const NetworkSpec& spec, BackendOptions options = {}) {
  if (options.kernel == "auto") options.kernel = "cublas";
  return make_backend("cuda", spec, TrainingSetup{}, options);
}

BackendOptions with_kernel(const std::string& kernel) {
  BackendOptions options;
  options.kernel = kernel;
  return options;
}

// The device check (bench/device_check.sh) collects these lines from the test log: the largest
// GPU-vs-reference differences seen.
void report_difference(const std::string& what, double value) {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  std::printf("sigtrain-diff: %s.%s %s %.3g\n", test->test_suite_name(), test->name(), what.c_str(), value);
}

// Catches --backend cuda crashing, or silently falling back, where no device is usable.
TEST(CudaBackend, WithoutADeviceFailsWithOneClearError) {
  std::string why_not;
  if (cuda_backend_available(&why_not)) GTEST_SKIP() << "a CUDA device is present";
  try {
    make_backend("cuda", NetworkSpec{{2, 3, 3, 1}, false});
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--backend cuda"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  EXPECT_EQ(make_backend("auto", NetworkSpec{{2, 3, 3, 1}, false})->name(), "cpu");  // auto falls back
}

using Case = testing::BackendCase;

// A network and batch with the kernel to run it on ("cublas" or "fused").
using KernelCase = std::tuple<Case, std::string>;

// Every network and batch on the cuBLAS path, and those the fused kernel takes on it too, then every
// policy (policy_cases) on a layered network and on one the fused kernel gives a cluster of three
// blocks (B 700); for 100 steps, without the networks whose 100 fp64 reference steps take minutes
// (one step covers them). Where a device is present no case skips, so the device check can demand
// that none does.
std::vector<KernelCase> kernel_cases(bool hundred_steps) {
  std::vector<Case> networks = {Case{{1, 1}, true, 1},
                                Case{{2, 3, 3, 1}, false, 1},
                                Case{{2, 3, 3, 1}, false, 31},
                                Case{{2, 3, 3, 1}, true, 256},
                                Case{{3, 17, 2}, true, 4099},
                                Case{{5, 64, 64, 3}, false, 256},
                                Case{{2, 8, 8, 8, 2}, true, 300},
                                Case{{2, 300, 1}, true, 4099},
                                Case{{4, 1024, 2}, true, 31},
                                Case{{2, 1024, 1024, 1}, false, 256}};
  for (const Case& c : {Case{{2, 8, 8, 8, 2}, true, 300}, Case{{3, 17, 4}, true, 700}})
    for (const Case& p : testing::policy_cases(c)) networks.push_back(p);
  std::vector<KernelCase> cases;
  for (const Case& c : networks) {
    const NetworkSpec spec = testing::case_spec(c);
    if (hundred_steps && double(spec.parameter_count()) * double(c.batch) * 100 > 2e9) continue;
    cases.emplace_back(c, "cublas");
    FusedShape shape;
    if (make_fused_shape(spec, shape)) cases.emplace_back(c, "fused");
  }
  return cases;
}

class CudaVsReference : public ::testing::TestWithParam<KernelCase> {
 protected:
  // The case's network and policies on the case's kernel.
  std::unique_ptr<Backend> gpu() {
    const Case& c = std::get<0>(GetParam());
    return make_backend("cuda", testing::case_spec(c), testing::case_setup(c), with_kernel(std::get<1>(GetParam())));
  }
};
class CudaVsReferenceOverSteps : public CudaVsReference {};

// Reports and checks an agreement: the device check collects the reported figures.
void report_and_expect(const testing::Agreement& a, double tolerance, bool hundred_steps) {
  const std::string prefix = hundred_steps ? "parameters_after_100_steps_" : "";
  if (!hundred_steps) report_difference("forward", a.forward);
  report_difference(hundred_steps ? "epoch_train_mse" : "loss", a.loss);
  for (size_t l = 0; l < a.layers.size(); ++l)
    report_difference(prefix + (hundred_steps ? "layer_" : "gradient_layer_") + std::to_string(l + 1), a.layers[l]);
  testing::expect_agreement(a, tolerance, hundred_steps);
}

// Catches a wrong GEMM shape or transpose flag, a wrong elementwise kernel (bias, f, f', the head's
// delta on the logits, row sums) or policy, or a launch that misses the tail of a size that is not a
// multiple of the block: forward (the logits), loss and every layer's gradient within
// kOneStepTolerance of the reference.
TEST_P(CudaVsReference, OneStepForwardLossAndGradients) {
  SKIP_WITHOUT_CUDA();
  report_and_expect(testing::one_step_agreement(*gpu(), std::get<0>(GetParam()), 41), testing::kOneStepTolerance, false);
}

// Catches drift, a wrong optimizer update or state (on the device, per block of a cluster), a step
// count or learning rate the device does not follow (the schedule changes it between epochs), a device
// permutation that differs from the host's, or a partial last batch averaged over the wrong size: 100
// shuffled steps within kHundredStepsTolerance of the reference, the optimizer's state too.
TEST_P(CudaVsReferenceOverSteps, HundredSteps) {
  SKIP_WITHOUT_CUDA();
  report_and_expect(testing::hundred_steps_agreement(*gpu(), std::get<0>(GetParam()), 51), testing::kHundredStepsTolerance, true);
}

std::string kernel_case_name(const ::testing::TestParamInfo<KernelCase>& info) {
  return std::get<1>(info.param) + "_" +
         testing::backend_case_name(::testing::TestParamInfo<Case>(std::get<0>(info.param), info.index));
}

INSTANTIATE_TEST_SUITE_P(Networks, CudaVsReference, ::testing::ValuesIn(kernel_cases(false)), kernel_case_name);
INSTANTIATE_TEST_SUITE_P(Networks, CudaVsReferenceOverSteps, ::testing::ValuesIn(kernel_cases(true)),
                         kernel_case_name);

TrainResult train_on(Backend& gpu, const Dataset& d, size_t batch, const Schedule& schedule = {}) {
  TrainConfig config;
  config.epochs = 3;
  config.batch = batch;
  config.lr = 0.05;
  config.schedule = schedule;
  config.seed = 61;
  TrainObserver quiet;
  return train(gpu, random_parameters(gpu.spec(), 62), d, Dataset{}, config, quiet);
}

TrainResult train_on_gpu(const NetworkSpec& spec, BackendOptions options, const Dataset& d, size_t batch) {
  return train_on(*cuda(spec, options), d, batch);
}

// Catches a captured graph that differs from the plain launches (stale pointers, a position not
// advanced, the partial last batch replaying the full batch's graph): identical bits.
TEST(CudaBackend, GraphReplayEqualsPlainLaunches) {
  SKIP_WITHOUT_CUDA();
  const NetworkSpec spec{{3, 17, 9, 2}, true};
  const Dataset d = random_dataset(spec, 1000, 63);  // batch 64: 15 full batches and one of 40
  BackendOptions graphs, plain;
  plain.cuda_graphs = false;
  const TrainResult a = train_on_gpu(spec, graphs, d, 64), b = train_on_gpu(spec, plain, d, 64);
  EXPECT_EQ(a.parameters.values, b.parameters.values);
  for (size_t e = 0; e < a.epochs.size(); ++e) EXPECT_EQ(a.epochs[e].train_loss, b.epochs[e].train_loss);
}

#ifdef SIGTRAIN_HAVE_CUDA
// Catches a learning rate baked into the captured graph (a schedule would replay the first rate, or
// capture a graph per rate): with the rate halved every epoch, the run captures two graphs only (the
// full batch and the partial last one) and ends in the bits of plain launches, with Adam's step
// count and bias corrections followed on the device too.
TEST(CudaBackend, ScheduledLearningRatesReuseTheCapturedGraphs) {
  SKIP_WITHOUT_CUDA();
  const NetworkSpec spec{{3, 17, 9, 2}, true};
  const Dataset d = random_dataset(spec, 1000, 63);  // batch 64: 15 full batches and one of 40
  TrainingSetup adam;
  adam.optimizer.kind = OptimizerKind::adam;
  Schedule halving;
  halving.kind = ScheduleKind::step;
  halving.step_every = 1;
  BackendOptions graphs = with_kernel("cublas"), plain = with_kernel("cublas");
  plain.cuda_graphs = false;
  auto captured = make_backend("cuda", spec, adam, graphs), launched = make_backend("cuda", spec, adam, plain);
  const TrainResult a = train_on(*captured, d, 64, halving), b = train_on(*launched, d, 64, halving);
  EXPECT_EQ(a.parameters.values, b.parameters.values);
  EXPECT_EQ(a.optimizer_state.values, b.optimizer_state.values);
  EXPECT_EQ(a.optimizer_state.steps, 3u * 16u);
  const auto* cublas = dynamic_cast<const CublasBackend*>(captured.get());
  ASSERT_NE(cublas, nullptr);
  EXPECT_EQ(cublas->graph_captures(), 2u);
}
#endif

// Catches float atomics or any other run-to-run nondeterminism: two runs give the same bits.
TEST(CudaBackend, RunToRunBitIdentity) {
  SKIP_WITHOUT_CUDA();
  const NetworkSpec spec{{2, 64, 64, 1}, true};
  const Dataset d = random_dataset(spec, 5000, 64);
  const TrainResult a = train_on_gpu(spec, {}, d, 256), b = train_on_gpu(spec, {}, d, 256);
  EXPECT_EQ(a.parameters.values, b.parameters.values);
}

// Catches streamed chunks that lose, repeat or reorder samples, or race with the steps reading them:
// a data set forced to stream trains to exactly the same bits as a resident one.
TEST(CudaBackend, StreamedDataTrainsExactlyLikeResidentData) {
  SKIP_WITHOUT_CUDA();
  const NetworkSpec spec{{4, 16, 2}, false};
  const Dataset d = random_dataset(spec, 3001, 65);
  BackendOptions streamed;
  streamed.device_data_limit = 4096;  // bytes: chunks of a couple of hundred rows
  auto probe = cuda(spec, streamed);
  probe->set_training_data(d);
  ASSERT_NE(probe->description().find("streaming data"), std::string::npos) << "the limit must make it stream";
  const TrainResult a = train_on_gpu(spec, {}, d, 32), b = train_on_gpu(spec, streamed, d, 32);
  EXPECT_EQ(a.parameters.values, b.parameters.values);
  for (size_t e = 0; e < a.epochs.size(); ++e) EXPECT_EQ(a.epochs[e].train_loss, b.epochs[e].train_loss);
}

// Catches a backend whose batch capacity claims buffers a failed allocation never made (the next,
// smaller batch then skipped its allocation and copied into null or too-small buffers): after a batch
// of 2³⁰ samples runs out of device memory (64 inputs: 256 GiB for the inputs alone), both kernels
// still give the reference's loss and gradients on an ordinary batch.
TEST(CudaBackend, AFailedBatchAllocationLeavesTheBackendUsable) {
  SKIP_WITHOUT_CUDA();
  const Case c{{64, 8, 1}, true, 33};
  for (const std::string kernel : {"cublas", "fused"}) {
    SCOPED_TRACE(kernel);
    auto gpu = make_backend("cuda", testing::case_spec(c), testing::case_setup(c), with_kernel(kernel));
    gpu->set_parameters(random_parameters(testing::case_spec(c), 5));
    const float nothing = 0.0f;  // never read: the allocation fails first
    Parameters grad;
    EXPECT_THROW(gpu->loss_and_gradients({&nothing, &nothing, kMaxBatch}, grad), InputError);  // CudaError
    report_and_expect(testing::one_step_agreement(*gpu, c, 43), testing::kOneStepTolerance, false);
  }
}

// Catches --tf32 being ignored or on by default (it must be opt-in and said).
TEST(CudaBackend, Tf32IsOptInAndSaid) {
  SKIP_WITHOUT_CUDA();
  const NetworkSpec spec{{2, 3, 1}, false};
  BackendOptions tf32;
  tf32.tf32 = true;
  EXPECT_EQ(cuda(spec)->description().find("TF32"), std::string::npos);
  EXPECT_NE(cuda(spec, tf32)->description().find("TF32"), std::string::npos);
}

// Catches --verify-every comparing the wrong batch for the cuda backend (it reads the device order).
TEST(CudaBackend, VerifyEveryAgreesWithTheReference) {
  SKIP_WITHOUT_CUDA();
  const NetworkSpec spec{{2, 16, 16, 1}, true};
  const Dataset d = random_dataset(spec, 300, 66);
  TrainConfig config;
  config.epochs = 2;
  config.batch = 32;
  config.lr = 0.1;
  config.verify_every = 4;
  struct Collect : TrainObserver {
    int reports = 0;
    void on_verify(const VerifyReport& r) override {
      ++reports;
      EXPECT_LE(r.gradient_difference, 1e-5);
    }
  } observer;
  auto gpu = cuda(spec);
  train(*gpu, random_parameters(spec, 67), d, Dataset{}, config, observer);
  EXPECT_EQ(observer.reports, 5);  // steps 0, 4, 8, 12, 16 of 20
}

// Catches --kernel auto taking the wrong path: fused where every width is at most 64, else cuBLAS.
TEST(CudaBackend, AutoPicksTheFusedKernelForSmallNetworks) {
  SKIP_WITHOUT_CUDA();
  EXPECT_NE(make_backend("cuda", NetworkSpec{{2, 3, 3, 1}, false})->description().find("fused"), std::string::npos);
  EXPECT_NE(make_backend("cuda", NetworkSpec{{2, 64, 1}, true})->description().find("fused"), std::string::npos);
  EXPECT_EQ(make_backend("cuda", NetworkSpec{{2, 65, 1}, false})->description().find("fused"), std::string::npos);
  EXPECT_THROW(make_backend("cuda", NetworkSpec{{2, 65, 1}, false}, TrainingSetup{}, with_kernel("fused")), UsageError);
}

// Catches the one place that chooses the backend taking another rule than make_backend's: names it
// does not know are a usage error, reference and cpu are themselves, and without a device auto is
// the cpu backend and cuda an error (on any machine: with a device, auto is cuda).
TEST(ChooseBackend, NamesAndTheFallbackWithoutADevice) {
  const NetworkSpec spec{{2, 3, 3, 1}, false};
  EXPECT_THROW(choose_backend("gpu", spec, {}), UsageError);
  EXPECT_EQ(choose_backend("reference", spec, {}).backend, BackendKind::reference);
  EXPECT_EQ(choose_backend("cpu", spec, {}).kernel, CudaKernel::none);
  if (cuda_backend_available()) {
    EXPECT_EQ(choose_backend("auto", spec, {}).backend, BackendKind::cuda);
  } else {
    EXPECT_EQ(choose_backend("auto", spec, {}).backend, BackendKind::cpu);
    EXPECT_THROW(choose_backend("cuda", spec, {}), InputError);
  }
}

// Catches a kernel rule that differs from the documented one: auto takes the fused kernel where the
// network fits and neither TF32 nor a device data limit (streaming) is asked for; fused where it does
// not fit is a usage error; cublas is always cuBLAS.
TEST(ChooseBackend, FusedWhereItFitsAndNothingAsksForCublas) {
  SKIP_WITHOUT_CUDA();
  const NetworkSpec small{{2, 3, 3, 1}, false}, wide{{2, 65, 1}, false};
  BackendOptions tf32, streamed;
  tf32.tf32 = true;
  streamed.device_data_limit = 4096;
  EXPECT_EQ(choose_backend("auto", small, {}).kernel, CudaKernel::fused);
  EXPECT_EQ(choose_backend("cuda", small, tf32).kernel, CudaKernel::cublas);
  EXPECT_EQ(choose_backend("cuda", small, streamed).kernel, CudaKernel::cublas);
  EXPECT_EQ(choose_backend("cuda", small, with_kernel("cublas")).kernel, CudaKernel::cublas);
  EXPECT_EQ(choose_backend("cuda", wide, {}).kernel, CudaKernel::cublas);
  EXPECT_THROW(choose_backend("cuda", wide, with_kernel("fused")), UsageError);
}

// Catches nondeterminism in the fused kernel (its warp sums and loss terms have a fixed order).
TEST(CudaBackend, FusedRunToRunBitIdentity) {
  SKIP_WITHOUT_CUDA();
  const NetworkSpec spec{{2, 16, 16, 1}, true};
  const Dataset d = random_dataset(spec, 5000, 68);
  const TrainResult a = train_on_gpu(spec, with_kernel("fused"), d, 300), b = train_on_gpu(spec, with_kernel("fused"), d, 300);
  EXPECT_EQ(a.parameters.values, b.parameters.values);
  for (size_t e = 0; e < a.epochs.size(); ++e) EXPECT_EQ(a.epochs[e].train_loss, b.epochs[e].train_loss);
}

// Catches replicas that share state on the GPU, or differ from the single fused run with their
// settings: one launch trains every replica, and replica r equals its single run bit for bit.
// Catches replicas that share state on the GPU (parameters, optimizer state, step count), or differ
// from the single fused run with their settings: one launch trains every replica, and replica r
// equals its single run bit for bit; with the notes' SGD, and with momentum on tanh (the batch of 300
// gives each replica a cluster of two blocks, each with its copy of the state).
TEST(CudaBackend, FusedReplicasEqualSingleRuns) {
  SKIP_WITHOUT_CUDA();
  NetworkSpec tanh_spec{{2, 3, 3, 1}, false};
  tanh_spec.hidden = Activation::tanh;
  TrainingSetup momentum;
  momentum.optimizer.kind = OptimizerKind::momentum;
  const std::tuple<NetworkSpec, TrainingSetup, size_t> runs[] = {
      {NetworkSpec{{2, 3, 3, 1}, false}, TrainingSetup{}, 64}, {tanh_spec, momentum, 300}};
  for (const auto& [spec, setup, batch] : runs) {
    const Dataset train = random_dataset(spec, 2000, 69), validation = random_dataset(spec, 300, 70);
    ReplicaRun run;
    run.backend = "cuda";
    run.setup = setup;
    run.config.epochs = 3;
    run.config.batch = batch;
    run.initial = [&](const NetworkSettings& s) { return glorot_uniform(spec, s.seed); };
    const std::vector<NetworkSettings> settings = expand_sweeps({"lr=0.1,0.5", "seed=1-8"}, 1, 0, 0);
    const std::vector<ReplicaResult> results = train_replicas(run, settings, train, validation);
    ASSERT_EQ(results.size(), 16u);
    for (size_t r : {0u, 5u, 15u}) {
      TrainConfig single = run.config;
      single.seed = settings[r].seed;
      single.lr = settings[r].lr;
      TrainObserver quiet;
      auto gpu = make_backend("cuda", spec, setup, with_kernel("fused"));
      const TrainResult alone =
          sigtrain::train(*gpu, glorot_uniform(spec, settings[r].seed), train, validation, single, quiet);
      EXPECT_EQ(results[r].result.parameters.values, alone.parameters.values) << "replica " << r;
      EXPECT_EQ(results[r].result.optimizer_state.values, alone.optimizer_state.values) << "replica " << r;
      // The replicas' validation is summed on the device (FusedNetworks::evaluate_all), the single
      // run's on the host: the same fp64 terms in another order (tests/test_group_evaluation.cpp).
      EXPECT_NEAR(results[r].validation_loss, alone.epochs.back().validation_loss,
                  1e-12 * std::abs(alone.epochs.back().validation_loss))
          << "replica " << r;
    }
  }
}

#ifdef SIGTRAIN_HAVE_CUDA

// Device memory for one kernel test.
struct DeviceFloats {
  explicit DeviceFloats(const std::vector<float>& host) : size(host.size()) {
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&data), size * sizeof(float)), cudaSuccess);
    cudaMemcpy(data, host.data(), size * sizeof(float), cudaMemcpyHostToDevice);
  }
  ~DeviceFloats() { cudaFree(data); }
  std::vector<float> read() const {
    std::vector<float> host(size);
    cudaMemcpy(host.data(), data, size * sizeof(float), cudaMemcpyDeviceToHost);
    return host;
  }
  float* data = nullptr;
  size_t size;
};

std::vector<float> random_floats(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = float(rng.uniform(-3, 3));
  return v;
}

// Catches a launch configuration that drops or overruns the last partial block, or an activation the
// launcher dispatches wrongly: every element of sizes around multiples of the block size goes through
// bias + f and f' exactly once, for every activation.
TEST(CudaKernels, ElementwiseKernelsCoverSizesThatAreNotMultiplesOfTheBlock) {
  SKIP_WITHOUT_CUDA();
  for (Activation f : {Activation::sigmoid, Activation::tanh, Activation::relu, Activation::linear})
    for (size_t B : {1u, 85u, 86u, 255u, 257u, 4099u}) {
      const int n = 3;  // n × B values: 3, 255, 258, 765, 771, 12297
      const std::vector<float> z = random_floats(n * B, B), bias = random_floats(n, B + 1);
      DeviceFloats Z(z), b(bias);
      ASSERT_EQ(kernels::bias_activation(f, Z.data, b.data, n, B, nullptr), cudaSuccess);
      const std::vector<float> a = Z.read();
      const std::vector<float> upstream = random_floats(n * B, B + 2);
      DeviceFloats dA(upstream), delta(std::vector<float>(n * B, 7.0f));
      ASSERT_EQ(kernels::activation_backward(f, dA.data, Z.data, delta.data, n * B, nullptr), cudaSuccess);
      const std::vector<float> d = delta.read();
      with_activation(f, [&](auto act) {
        for (size_t t = 0; t < z.size(); ++t) {
          EXPECT_NEAR(a[t], act.forward(double(z[t]) + bias[t % n]), 1e-6) << B << " " << t;
          EXPECT_FLOAT_EQ(d[t], upstream[t] * act.grad_from_output(a[t]));
        }
      });
    }
}

// Catches reductions that lose the tail of a partial block or depend on timing: the loss partials,
// their fp64 total and the bias row sums against host sums, for sizes around the block size.
TEST(CudaKernels, ReductionsCoverSizesThatAreNotMultiplesOfTheBlock) {
  SKIP_WITHOUT_CUDA();
  for (size_t B : {1u, 255u, 257u, 1000u, 4099u}) {
    const int n = 2;
    const std::vector<float> z = random_floats(n * B, 3 * B), y = random_floats(n * B, 3 * B + 1);
    const int blocks = kernels::loss_blocks(n, B);
    DeviceFloats Z(z), Y(y), delta(std::vector<float>(n * B));
    DeviceFloats partials{std::vector<float>(blocks)}, db{std::vector<float>(n)};
    double* total = nullptr;
    ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&total), sizeof(double)), cudaSuccess);
    cudaMemset(total, 0, sizeof(double));
    ASSERT_EQ(kernels::output_loss_delta(Loss::mse, Activation::linear, Z.data, nullptr, Y.data, delta.data,
                                         partials.data, n, B, nullptr),
              cudaSuccess);
    ASSERT_EQ(kernels::accumulate_loss(partials.data, blocks, total, nullptr), cudaSuccess);
    ASSERT_EQ(kernels::row_sums(delta.data, n, B, db.data, nullptr), cudaSuccess);
    double device_total = 0;
    cudaMemcpy(&device_total, total, sizeof(double), cudaMemcpyDeviceToHost);
    cudaFree(total);
    double host_total = 0, row[2] = {0, 0};
    const std::vector<float> d = delta.read();
    for (size_t t = 0; t < z.size(); ++t) {
      host_total += double(z[t] - y[t]) * double(z[t] - y[t]);
      EXPECT_FLOAT_EQ(d[t], 2.0f * (z[t] - y[t]) / float(B));
      row[t % n] += d[t];
    }
    EXPECT_NEAR(device_total, host_total, 1e-5 * host_total) << B;
    const std::vector<float> sums = db.read();
    for (int i = 0; i < n; ++i) EXPECT_NEAR(sums[i], row[i], 1e-5 * (1 + std::abs(row[i]))) << B;
  }
}

#endif  // SIGTRAIN_HAVE_CUDA

}  // namespace
}  // namespace sigtrain
