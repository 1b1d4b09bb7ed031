// Data-parallel training over the ranks of an mpirun job (ctest's Mpi.DataParallel.np1/2/3): every
// rank trains its part (train/data_parallel.h) and also the single process's run on the whole set,
// which it can make itself, and compares. Every rank runs every test in the same order, so the
// collectives meet (a test that failed on one rank only would hang until ctest's timeout).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "../data_parallel_test_util.h"
#include "data/data_files.h"
#include "data/standardize.h"

namespace sigtrain {
namespace {

using testing::DataParallelCase;
using testing::kDataParallelTolerance;

std::string bytes_of(const std::vector<double>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
}

// The same bits on every rank (the ranks must hold one network).
void expect_same_on_every_rank(const TrainResult& mine) {
  const std::vector<std::string> all = world().all_gather(bytes_of(mine.parameters.values) + bytes_of(mine.optimizer_state.values));
  for (size_t r = 1; r < all.size(); ++r) EXPECT_EQ(all[r], all[0]) << "rank " << r << "'s network differs from rank 0's";
}

class DataParallel : public ::testing::TestWithParam<DataParallelCase> {};

// Catches gradients summed in an order that varies, shards that drop or repeat samples across ranks,
// ranks that drift apart: within 1e-5 of the single process after 105 steps, on every rank the same
// bits, and the same bits again in a second run. The NCCL cases (the cuBLAS path with NCCL's sums on
// the GPUs; skipped without a GPU per rank) also catch slices summed out of rank order or put back in
// the wrong place, a gradient not averaged over the global batch, a loss or step count not carried.
TEST_P(DataParallel, EqualsTheSingleProcessRunAndRepeatsBitForBit) {
  const DataParallelCase c = GetParam();
  Communicator& comm = world();
  std::string why_not;
  if (!testing::case_runs_here(c, comm, &why_not)) GTEST_SKIP() << why_not;
  const Dataset whole = testing::data_parallel_data();
  const Dataset part = testing::rows_of(whole, block_of_rank(whole.size, comm.rank(), comm.size()));
  const Dataset validation = testing::rows_of(random_dataset(4, 2, 101, 12), block_of_rank(101, comm.rank(), comm.size()));
  const TrainResult single = testing::train_whole(c, whole, random_dataset(4, 2, 101, 12));
  const TrainResult first = testing::train_part(c, comm, part, validation);
  const TrainResult second = testing::train_part(c, comm, part, validation);
  ASSERT_EQ(first.epochs.size(), single.epochs.size());
  if (c.average_every == 0 || comm.size() == 1) {
    EXPECT_LE(testing::parameters_difference(first, single), kDataParallelTolerance) << comm.size() << " ranks";
    EXPECT_EQ(first.optimizer_state.steps, single.optimizer_state.steps);
    for (size_t e = 0; e < single.epochs.size(); ++e)
      EXPECT_NEAR(first.epochs[e].validation_loss, single.epochs[e].validation_loss,
                  kDataParallelTolerance * single.epochs[e].validation_loss);
  } else {
    // Local SGD is another algorithm: it must still learn (its validation loss falls as the single
    // process's does, to within a tenth of it).
    EXPECT_LT(first.epochs.back().validation_loss, first.epochs.front().validation_loss);
    EXPECT_NEAR(first.epochs.back().validation_loss, single.epochs.back().validation_loss,
                0.1 * single.epochs.back().validation_loss);
  }
  EXPECT_EQ(first.parameters.values, second.parameters.values) << "two runs differ";
  EXPECT_EQ(first.optimizer_state.values, second.optimizer_state.values);
  expect_same_on_every_rank(first);
}

std::vector<DataParallelCase> cases() {
  std::vector<DataParallelCase> all;
  for (const char* backend : {"cpu", "reference"})
    for (OptimizerKind optimizer : {OptimizerKind::sgd, OptimizerKind::adam})
      for (int average_every : {0, 4}) all.push_back({backend, optimizer, average_every, ""});
  for (OptimizerKind optimizer : {OptimizerKind::sgd, OptimizerKind::adam}) all.push_back({"cuda", optimizer, 0, "nccl"});
  return all;
}

INSTANTIATE_TEST_SUITE_P(Cases, DataParallel, ::testing::ValuesIn(cases()), testing::data_parallel_case_name);

// The group's branch for sums kept on the device, run on the host by a stand-in (data_parallel_test_util.h)
// whose arithmetic is the host branch's: the same bits as the host branch, every epoch's losses too.
TEST(DataParallelDeviceSums, TheBranchGivesTheHostBranchsBits) {
  Communicator& comm = world();
  const Dataset whole = testing::data_parallel_data();
  const Dataset part = testing::rows_of(whole, block_of_rank(whole.size, comm.rank(), comm.size()));
  const Dataset validation = testing::rows_of(random_dataset(4, 2, 101, 12), block_of_rank(101, comm.rank(), comm.size()));
  testing::expect_device_branch_gives_host_branchs_bits(comm, part, validation);
}

// --verify-every over the ranks: every rank's shard compared, one report and one verdict for all.
TEST(DataParallelVerify, ReportsTheSameOnEveryRankAndStopsAWrongBackendOnEveryRank) {
  Communicator& comm = world();
  const Dataset whole = testing::data_parallel_data();
  testing::expect_verify_every_over_ranks(comm, testing::rows_of(whole, block_of_rank(whole.size, comm.rank(), comm.size())));
}

// A folder every rank sees (one machine): made by rank 0, named by the rank count.
std::filesystem::path shared_folder(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(SIGTRAIN_TEST_TMPDIR) / "mpi" /
                                    (name + ".np" + std::to_string(world().size()));
  if (world().rank() == 0) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  world().barrier();
  return dir;
}

std::string csv_of(const Dataset& d, size_t first, size_t end) {
  std::string text;
  for (size_t s = first; s < end; ++s) {
    for (int j = 0; j < d.inputs; ++j) text += std::to_string(d.x_of(s)[j]) + ",";
    for (int o = 0; o < d.outputs; ++o) text += std::to_string(d.y_of(s)[o]) + (o + 1 < d.outputs ? "," : "\n");
  }
  return text;
}

// Catches parts read wrongly or placed wrongly among the ranks, a validation split that depends on
// the parts, a standardisation fitted on one part: the {rank} files (cut at other rows than the byte
// ranges) and the byte ranges of the whole file give the single process's model on the whole file.
TEST(DataParallelFiles, RankFilesAndByteRangesGiveTheWholeFilesModel) {
  Communicator& comm = world();
  const std::filesystem::path dir = shared_folder("files");
  const Dataset data = testing::data_parallel_data();
  const std::string whole_path = (dir / "whole.csv").string();
  if (comm.rank() == 0) std::ofstream(whole_path) << "x1,x2,x3,x4,y1,y2\n" << csv_of(data, 0, data.size);
  // rank r's file: uneven cuts (rank 0's is the largest), not the byte ranges'
  const size_t R = size_t(comm.size()), r = size_t(comm.rank());
  const size_t first = r == 0 ? 0 : data.size / 2 + (r - 1) * (data.size / 2) / (R - 1);
  const size_t end = r + 1 == R ? data.size : R == 1 ? data.size : data.size / 2 + r * (data.size / 2) / (R - 1);
  std::ofstream(dir / ("part" + std::to_string(r) + ".csv")) << csv_of(data, first, end);
  comm.barrier();

  const NetworkSpec spec = testing::data_parallel_spec();
  const auto sum = [&comm](double* v, size_t n) { comm.sum_in_rank_order(v, n); };
  // A part as the program plans it: the split of the whole set, standardisation fitted on every part.
  const auto plan_of = [&](const Dataset& part) {
    const JobRows job = rows_in_job(comm, part.size);
    TrainValidation split = split_validation_part(part, 0.2, job.mine.first, job.total);
    const Standardization s = Standardization::fit(split.train, StandardizeWhat::both, sum);
    return TrainValidation{s.apply(split.train), s.apply(split.validation)};
  };
  const Dataset whole = dataset_from_table(read_table(whole_path), spec);
  const TrainValidation whole_split = split_validation(whole, 0.2);
  const Standardization whole_standardization = Standardization::fit(whole_split.train, StandardizeWhat::both);
  const DataParallelCase c{"reference", OptimizerKind::adam, 0, ""};
  const TrainResult single = testing::train_whole(c, whole_standardization.apply(whole_split.train),
                                                  whole_standardization.apply(whole_split.validation));

  const Dataset by_bytes = dataset_from_table(
      read_table_rows_in(whole_path, DataFormat::csv, byte_range_of_rank(std::filesystem::file_size(whole_path), comm.rank(), comm.size())), spec);
  const Dataset by_file = dataset_from_table(read_table((dir / ("part" + std::to_string(r) + ".csv")).string()), spec);
  for (const Dataset* part : {&by_bytes, &by_file}) {
    const TrainValidation split = plan_of(*part);
    const TrainResult parallel = testing::train_part(c, comm, split.train, split.validation);
    EXPECT_LE(testing::parameters_difference(parallel, single), kDataParallelTolerance)
        << (part == &by_bytes ? "byte ranges" : "{rank} files");
    ASSERT_EQ(parallel.epochs.size(), single.epochs.size());
    EXPECT_NEAR(parallel.epochs.back().validation_loss, single.epochs.back().validation_loss,
                kDataParallelTolerance * single.epochs.back().validation_loss);
    expect_same_on_every_rank(parallel);
  }
}

// Catches a validation split that depends on the rank count: the ranks' validation rows, gathered in
// rank order, are the single process's, whichever way the file is cut.
TEST(DataParallelFiles, TheValidationSplitIsTheSingleProcesssOnEveryRankCount) {
  Communicator& comm = world();
  const Dataset data = random_dataset(3, 1, 997, 21);
  const TrainValidation expected = split_validation(data, 0.3);
  const RowBlock mine = block_of_rank(data.size, comm.rank(), comm.size());
  const TrainValidation split = split_validation_part(testing::rows_of(data, mine), 0.3, mine.first, data.size);
  std::vector<float> gathered;
  for (const std::string& bytes : comm.all_gather(std::string(reinterpret_cast<const char*>(split.validation.x.data()),
                                                              split.validation.x.size() * sizeof(float)))) {
    const size_t n = bytes.size() / sizeof(float);
    const size_t at = gathered.size();
    gathered.resize(at + n);
    std::memcpy(gathered.data() + at, bytes.data(), bytes.size());
  }
  EXPECT_EQ(gathered, expected.validation.x);
}

}  // namespace
}  // namespace sigtrain
