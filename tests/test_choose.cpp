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

}  // namespace
}  // namespace sigtrain
