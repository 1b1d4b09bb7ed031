// The memory estimate (train/memory_estimate.h): what a run needs is computed from sizes alone, a run
// that needs more than there is fails with one line before it allocates (issue 11, defect 9), and
// replicas on the cuBLAS path share the free device memory they measured once (defect 2).
#include <gtest/gtest.h>
#include <malloc.h>

#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "child_process.h"
#include "data/dataset.h"
#include "train/memory_estimate.h"
#include "util/errors.h"
#include "util/file_util.h"

namespace sigtrain {
namespace {

constexpr double GiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kHugePage = 2.0 * 1024 * 1024;  // the cpu backend's packed training set's alignment

RunMemoryShape shape_of(const std::string& widths, size_t rows) {
  RunMemoryShape s;
  s.spec = parse_widths(widths, false);
  s.rows = rows;
  s.validation_rows = rows / 5;
  s.batch = 8;
  return s;
}

// Bytes glibc's heap holds now (small blocks and mmap'ed ones).
double heap_bytes() {
  const struct mallinfo2 m = mallinfo2();
  return double(m.uordblks) + double(m.hblkhd);
}

// Whether heap_bytes sees allocations (not under a sanitizer's allocator, which bypasses glibc's).
bool heap_is_measurable() {
  const double before = heap_bytes();
  std::vector<char> probe(1 << 20, 1);
  return heap_bytes() - before >= double(probe.size());
}

// Catches the cpu backend's own estimate drifting from what it allocates (a buffer added to the
// backend and not to estimated_bytes, or a size counted in the wrong unit): the heap grows by what
// the estimate says, within 5%, for a chunked and a layered network after a training step and a
// prediction of 3000 rows (the buffers reach their largest then). The packed training set is 2 MiB
// aligned: where the allocator maps it afresh it reserves up to one more 2 MiB page to align it
// (counted in use by mallinfo2, never touched), so up to kHugePage more may show.
TEST(MemoryEstimate, CpuBackendAllocatesWhatItsEstimateSays) {
  if (!heap_is_measurable()) GTEST_SKIP() << "the allocator does not report its use to mallinfo2 (sanitizer build)";
  for (const std::string widths : {"2,64,64,1", "2,400,300,1"}) {
    const NetworkSpec spec = parse_widths(widths, false);
    TrainingSetup setup;
    setup.optimizer.kind = OptimizerKind::adam;
    const Dataset data = random_dataset(2, 1, 3000, 5);
    const double before = heap_bytes();
    {
      CpuBackend backend(spec, setup, 2);
      backend.set_parameters(glorot_uniform(spec, 3));  // (its temporaries are gone before the measurement)
      backend.set_training_data(data);
      backend.begin_epoch({true, 1});
      backend.train_step(0, 32, 0.01);
      std::vector<double> z(data.size);
      backend.predict_logits(data.x.data(), data.size, z.data());
      const double used = heap_bytes() - before - double(z.size() * sizeof(double));
      const double estimated = CpuBackend::estimated_bytes(spec, 2, 32, data.size, 2, data.size);
      EXPECT_GE(used, 0.95 * estimated) << widths << ": allocated " << used << ", estimated " << estimated;
      EXPECT_LE(used, 1.05 * estimated + kHugePage) << widths << ": allocated " << used << ", estimated " << estimated;
    }
  }
}

// Catches a part of the run left out or counted once where the code holds it several times, on the
// issue's wide network: its fp64 parameters three times (the start, the kept model, an epoch's
// snapshot), the cpu backend's fp32 parameters and gradients, and, when it saves, one block of the
// model file's text: the text is streamed to the file as it is formed (model_file.cpp write_model),
// so saving holds kWriteBlockBytes of it whatever the model's size, not the ~22.4 bytes per number it
// held while the text was built whole (2 × 22.4 × P, 1.11 GB peak saving). 2-4000-4000-1 measured
// 549 MB peak training, and saving with the text streamed 523 MB (510 668 KiB; the same build's
// training without saving: 510 544 KiB; /usr/bin/time -v, see the README): the estimate stays within
// 1.3× of both.
TEST(MemoryEstimate, CountsEveryCopyOfTheParameters) {
  RunMemoryShape s = shape_of("2,4000,4000,1", 10000);
  const double P = double(s.spec.parameter_count());
  const MemoryNeeds training = estimate_memory(s);
  EXPECT_DOUBLE_EQ(training.parameters, 3 * 8 * P);
  EXPECT_GE(training.backend, 2 * 4 * P);
  EXPECT_EQ(training.model_text, 0);
  EXPECT_EQ(training.device, 0);
  EXPECT_NEAR(training.host() / 549e6, 1.0, 0.3);
  s.saves = true;
  const MemoryNeeds saving = estimate_memory(s);
  EXPECT_DOUBLE_EQ(saving.model_text, double(kWriteBlockBytes));
  EXPECT_NEAR(saving.host() / 523e6, 1.0, 0.3);
  // Adam keeps two state values per parameter beside it, wherever the parameters are copied.
  s.optimizer_slots = 2;
  EXPECT_DOUBLE_EQ(estimate_memory(s).parameters, 3 * 3 * 8 * P);
  // A checkpointed run keeps 3 models more (its last finished epoch, its kept model); a resumed one
  // also holds the checkpoint it read (2). Left out, a run near the limit would be killed, not refused.
  s.checkpoints = true;
  EXPECT_DOUBLE_EQ(estimate_memory(s).parameters, 6 * 3 * 8 * P);
  s.resumes = true;
  EXPECT_DOUBLE_EQ(estimate_memory(s).parameters, 8 * 3 * 8 * P);
}

// Catches the data copies left out: a set of N rows of 2 inputs and 1 target is held read and split
// (both while the plan is made), once more standardised, and the cpu backend packs its training rows.
// 10 M rows of sine measured 367 MB peak (/usr/bin/time -v): within 1.1× of the estimate.
TEST(MemoryEstimate, CountsTheDataSetAndItsCopies) {
  RunMemoryShape s = shape_of("2,3,3,1", 10000000);
  const double set = 12.0 * 1e7;
  MemoryNeeds n = estimate_memory(s);
  EXPECT_DOUBLE_EQ(n.data, 2 * set);
  EXPECT_GE(n.backend, 0.8 * set);  // the packed training rows
  EXPECT_NEAR(n.host() / 367e6, 1.0, 0.1);
  s.standardized = true;
  EXPECT_DOUBLE_EQ(estimate_memory(s).data, 3 * set);
  s.file_bytes = 1000;
  EXPECT_DOUBLE_EQ(estimate_memory(s).data, 3 * set + 1000);
}

// Catches replicas counted as one run: each network in training holds its own backend and copies,
// and each finished one its result until the end.
TEST(MemoryEstimate, ReplicasAddTheirBackendsAndResults) {
  RunMemoryShape s = shape_of("2,200,200,1", 1000);
  const double one = estimate_memory(s).parameters, model = 8.0 * double(s.spec.parameter_count());
  s.networks = 10;
  s.at_once = 4;
  EXPECT_DOUBLE_EQ(estimate_memory(s).parameters, 4 * one + model * 11);
  s.at_once = 100;  // never more at once than there are networks
  EXPECT_DOUBLE_EQ(estimate_memory(s).parameters, 10 * one + model * 11);
}

// Catches the device's need left at zero, or the cuBLAS path counting data it streams.
TEST(MemoryEstimate, DeviceNeedsTheBackendsBuffers) {
  RunMemoryShape s = shape_of("2,4000,4000,1", 1000000);
  const double P = double(s.spec.parameter_count());
  s.backend = EstimatedBackend::cuda_cublas;
  const double cublas = estimate_memory(s).device;
  EXPECT_GE(cublas, 2 * 4 * P + (32 << 20));
  EXPECT_LT(cublas, 2 * 4 * P + (32 << 20) + 5e6);  // batch 8: a little workspace, no data
  s.backend = EstimatedBackend::cuda_fused;
  s.spec = parse_widths("2,8,8,1", false);
  s.networks = 1000;
  EXPECT_GE(estimate_memory(s).device, 12.0 * 1e6);  // the data resident
}

// Catches a shortfall not reported, reported when it fits, or said in other words than the issue's.
TEST(MemoryEstimate, ShortfallIsOneLineWithBothAmounts) {
  MemoryNeeds n;
  n.data = 3 * GiB;
  n.parameters = 0.5 * GiB;
  EXPECT_EQ(memory_shortfall(n, {4 * GiB, -1}), "");
  EXPECT_EQ(memory_shortfall(n, {2 * GiB, -1}), "needs 3.5 GiB of memory, 2.0 GiB available (data 3.0 GiB, parameters 512 MiB)");
  EXPECT_EQ(memory_shortfall(n, {-1, -1}), "");  // nothing known: nothing checked
  n.device = 9 * GiB;
  EXPECT_EQ(memory_shortfall(n, {4 * GiB, 4 * GiB}), "needs 9.0 GiB of device memory, 4.0 GiB available");
  EXPECT_EQ(memory_shortfall(n, {4 * GiB, -1}), "");
}

// Catches the race of defect 2: replicas that start together must, together, fit in the free memory
// measured once: their buffers and the data each may keep, with the single run's 20% margin.
TEST(MemoryEstimate, ReplicasShareTheFreeDeviceMemory) {
  const size_t free_bytes = size_t(10 * GiB), buffers = size_t(1 * GiB);
  for (size_t at_once : {1, 2, 4, 7}) {
    const size_t each = replica_data_allowance(free_bytes, at_once, buffers);
    EXPECT_LE(double(at_once) * double(each + buffers), double(free_bytes)) << at_once << " replicas";
    EXPECT_NEAR(double(each), 0.8 * (double(free_bytes) - double(at_once * buffers)) / double(at_once), 16.0);
  }
  // Buffers that fit, no room left for data: at least 1 byte (0 would mean "size yourself"): it streams.
  EXPECT_EQ(replica_data_allowance(size_t(4 * GiB), 4, buffers), 1u);
  try {
    replica_data_allowance(size_t(3 * GiB), 4, buffers);
    ADD_FAILURE() << "4 replicas of 1 GiB in 3 GiB accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("needs 4.0 GiB of device memory, 3.0 GiB available", 0), 0u) << e.what();
  }
}

// Catches available_memory reading nothing on Linux (a misparsed /proc/meminfo).
TEST(MemoryEstimate, MeasuresTheHostsMemory) {
  const AvailableMemory a = available_memory(false);
  EXPECT_GT(a.host, 16e6);
  EXPECT_LT(a.device, 0);
}

// Catches the check not made before allocating: a network no machine holds (2-65536×12-1, 4.7e10
// parameters, over a TB) fails at once with the line and exit 1, not with an allocation failure.
TEST(MemoryEstimate, ATooLargeRunFailsBeforeAllocating) {
  std::string widths = "2";
  for (int k = 0; k < 12; ++k) widths += ",65536";
  widths += ",1";
  const testing::RunResult r = testing::run({"train", "--layers", widths, "--epochs", "1", "--backend", "cpu"});
  EXPECT_EQ(r.code, 1) << testing::describe(r);
  EXPECT_EQ(r.err.rfind("sigtrain: needs ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(" GiB of memory, "), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

// The command: 3e9 built-in samples need about 94 GiB; where that is more than there is, the
// run fails with the line (not killed by the kernel's OOM killer without a word).
TEST(MemoryEstimate, ThreeBillionSamplesFailWithTheLine) {
  RunMemoryShape s = shape_of("2,3,3,1", 3000000000);
  s.validation_rows = 600000000;
  if (estimate_memory(s).host() <= available_memory(false).host) GTEST_SKIP() << "this machine has the memory";
  const testing::RunResult r = testing::run({"train", "--samples", "3000000000", "--backend", "cpu"});
  EXPECT_EQ(r.code, 1) << testing::describe(r);
  EXPECT_EQ(r.err.rfind("sigtrain: needs ", 0), 0u) << r.err;
}

}  // namespace
}  // namespace sigtrain
