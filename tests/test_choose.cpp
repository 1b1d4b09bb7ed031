// The choices of --backend auto and --kernel auto (host/backends/choose.h), on any machine: the rule
// is a pure function of the run and of whether a device is usable, so the CPU tests check it.
#include <gtest/gtest.h>

#include "backends/choose.h"
#include "util/errors.h"

namespace sigtrain {
namespace {

BackendOptions run_of(size_t batch, size_t networks = 1) {
  BackendOptions options;
  options.batch = batch;
  options.networks = networks;
  return options;
}

BackendChoice auto_with_a_device(const NetworkSpec& spec, const BackendOptions& options) {
  return choose_backend_for("auto", spec, options, /*device_usable=*/true);
}

// Catches auto taking a path the first device check measured as the slower one, on each case of
// issue 9's table: the notes' network one at a time at batch 8 (the default run: cpu 11× faster) and
// 256 (cpu 2.2×) stays on the CPU; at 4096, or 1,024 and 16,384 networks at once, it takes the fused
// kernel; 2-64-64-1 takes cuBLAS (6× the fused kernel there); 2-1024-1024-1 the GPU's cuBLAS.
TEST(ChooseBackend, AutoFollowsTheMeasuredFasterPath) {
  const NetworkSpec notes{{2, 3, 3, 1}, false}, medium{{2, 64, 64, 1}, false}, wide{{2, 1024, 1024, 1}, false};
  EXPECT_EQ(auto_with_a_device(notes, run_of(8)).backend, BackendKind::cpu);
  EXPECT_EQ(auto_with_a_device(notes, run_of(256)).backend, BackendKind::cpu);
  EXPECT_EQ(auto_with_a_device(notes, run_of(4096)).kernel, CudaKernel::fused);
  EXPECT_EQ(auto_with_a_device(notes, run_of(256, 1024)).kernel, CudaKernel::fused);
  EXPECT_EQ(auto_with_a_device(notes, run_of(32, 16384)).kernel, CudaKernel::fused);
  EXPECT_EQ(auto_with_a_device(medium, run_of(256)).kernel, CudaKernel::cublas);
  EXPECT_EQ(auto_with_a_device(wide, run_of(4096)).kernel, CudaKernel::cublas);
  // Many networks too wide for one fused step's budget still train in the same launches.
  EXPECT_EQ(auto_with_a_device(medium, run_of(256, 64)).kernel, CudaKernel::fused);
}

// Catches a run that names its backend or kernel being overruled by the cost model, and a choice
// without a known batch (the bench, the tests) that differs from "the GPU, fused where it fits".
TEST(ChooseBackend, NamedChoicesAndUnknownBatchesAreNotOverruled) {
  const NetworkSpec notes{{2, 3, 3, 1}, false}, medium{{2, 64, 64, 1}, false};
  EXPECT_EQ(choose_backend_for("cuda", notes, run_of(8), true).kernel, CudaKernel::fused);
  BackendOptions cublas = run_of(8);
  cublas.kernel = "cublas";
  EXPECT_EQ(choose_backend_for("cuda", notes, cublas, true).kernel, CudaKernel::cublas);
  BackendOptions fused = run_of(256);
  fused.kernel = "fused";
  EXPECT_EQ(choose_backend_for("cuda", medium, fused, true).kernel, CudaKernel::fused);
  EXPECT_EQ(choose_backend_for("cpu", medium, run_of(4096), true).backend, BackendKind::cpu);
  EXPECT_EQ(auto_with_a_device(notes, {}).kernel, CudaKernel::fused);
  EXPECT_EQ(auto_with_a_device(medium, {}).kernel, CudaKernel::fused);
}

// Catches auto failing where no device is usable, and cuda not saying why.
TEST(ChooseBackend, WithoutADeviceAutoIsCpuAndCudaSaysWhy) {
  const NetworkSpec wide{{2, 1024, 1024, 1}, false};
  EXPECT_EQ(choose_backend_for("auto", wide, run_of(4096), false, "no device").backend, BackendKind::cpu);
  try {
    choose_backend_for("cuda", wide, run_of(4096), false, "no CUDA device was found");
    FAIL() << "cuda without a device must throw";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "--backend cuda: no CUDA device was found");
  }
}

// Catches a GPU this build has no code for being taken by auto (every kernel launch would fail) or
// passed over in silence: auto takes the cpu and its note says why, where a device is present; where
// none is, auto stays quiet (the usual machine without a GPU); --backend cuda fails with the reason.
TEST(ChooseBackend, AGpuWithoutCodeForItSendsAutoToTheCpuWithANote) {
  const NetworkSpec wide{{2, 1024, 1024, 1}, false};
  const std::string reason = cuda_code_missing_reason(8, 0, false, "90");
  const BackendChoice present = choose_backend_for("auto", wide, run_of(4096), false, reason, /*device_present=*/true);
  EXPECT_EQ(present.backend, BackendKind::cpu);
  EXPECT_EQ(present.note, "--backend auto: " + reason + "; using the cpu");
  EXPECT_EQ(choose_backend_for("auto", wide, run_of(4096), false, "no CUDA device found").note, "");
  EXPECT_EQ(auto_with_a_device(wide, run_of(4096)).note, "");
  try {
    choose_backend_for("cuda", wide, run_of(4096), false, reason, true);
    FAIL() << "cuda on a GPU without code must throw";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "--backend cuda: " + reason);
  }
}

// Catches a wrong judgement of the runtime's answer, or a message that does not name the capability
// found and the ones built for (CMake's names: "90", "90-real", "100a", comma-separated), or that
// suggests a build that cannot work (below 9.0 the fused kernel's clusters do not exist).
TEST(ChooseBackend, AMissingCodeMessageNamesTheCapabilityAndTheBuild) {
  EXPECT_EQ(cuda_code_missing_reason(9, 0, true, "90"), "");
  EXPECT_EQ(cuda_code_missing_reason(8, 0, false, "90"),
            "the GPU is compute capability 8.0; this build has code for 9.0 (the cuda backend needs 9.0 or later: "
            "the fused kernel uses thread-block clusters)");
  EXPECT_EQ(cuda_code_missing_reason(10, 0, false, "90-real"),
            "the GPU is compute capability 10.0; this build has code for 9.0 (build with "
            "-DCMAKE_CUDA_ARCHITECTURES=100)");
  EXPECT_EQ(cuda_code_missing_reason(12, 0, false, "90,100a-real"),
            "the GPU is compute capability 12.0; this build has code for 9.0, 10.0a (build with "
            "-DCMAKE_CUDA_ARCHITECTURES=120)");
}

// Catches --batch or --replicas beyond the backends' limits getting past the one place that picks a
// backend for every path (single runs, replicas, the bench): refused before any backend is made.
TEST(ChooseBackend, RefusesSizesBeyondTheBackendLimits) {
  const NetworkSpec notes{{2, 3, 3, 1}, false};
  EXPECT_THROW(choose_backend_for("cpu", notes, run_of(kMaxBatch + 1), false), UsageError);
  EXPECT_THROW(choose_backend_for("auto", notes, run_of(8, kMaxNetworksAtOnce + 1), true), UsageError);
}

}  // namespace
}  // namespace sigtrain
