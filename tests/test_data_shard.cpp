// The pure parts of data-parallel training (no MPI; the runs over ranks are tests/mpi/): the shard of
// a global batch, the rows a byte range owns, the validation split of a set in parts, and the
// data-parallel group with one rank against the ordinary trainer.
#include <gtest/gtest.h>

#include <fstream>
#include <numeric>

#include "data/data_files.h"
#include "data/epoch_order.h"
#include "data_parallel_test_util.h"
#include "mpi/communicator.h"
#include "test_files.h"

namespace sigtrain {
namespace {

using testing::kDataParallelTolerance;

// Catches a shard that drops, repeats or reorders a sample of a step, or takes rows another rank holds:
// merged by position, the ranks' shards of every step are exactly the single process's batch.
TEST(DataShard, TheRanksShardsOfEachStepAreTheSingleProcesssBatch) {
  for (size_t n : {1u, 7u, 100u, 1001u})
    for (size_t batch : {1u, 7u, 64u})
      for (int ranks = 1; ranks <= 4; ++ranks) {
        const EpochShuffle order = make_epoch_shuffle(n, true, epoch_seed(5, 2));
        const std::vector<uint32_t> single = epoch_permutation(n, order.n > 1 ? epoch_seed(5, 2) : 0);
        std::vector<EpochShard> shards;
        std::vector<RowBlock> blocks;
        for (int r = 0; r < ranks; ++r) {
          blocks.push_back(block_of_rank(n, r, ranks));
          shards.push_back(epoch_shard(order, batch, blocks.back()));
        }
        const size_t steps = (n + batch - 1) / batch;
        for (int r = 0; r < ranks; ++r) ASSERT_EQ(shards[r].steps(), steps);
        for (size_t i = 0; i < steps; ++i) {
          std::vector<uint32_t> batch_rows(single.begin() + long(i * batch),
                                           single.begin() + long(std::min(n, (i + 1) * batch)));
          std::vector<uint32_t> from_shards;
          for (int r = 0; r < ranks; ++r)
            for (size_t k = shards[r].step_starts[i]; k < shards[r].step_starts[i + 1]; ++k)
              from_shards.push_back(uint32_t(shards[r].rows[k] + blocks[r].first));
          // each rank's shard keeps the order's order; together they are the batch's rows
          std::vector<uint32_t> sorted_batch = batch_rows, sorted_shards = from_shards;
          std::sort(sorted_batch.begin(), sorted_batch.end());
          std::sort(sorted_shards.begin(), sorted_shards.end());
          ASSERT_EQ(sorted_shards, sorted_batch) << "n " << n << " batch " << batch << " ranks " << ranks << " step " << i;
          for (int r = 0; r < ranks; ++r) {
            std::vector<uint32_t> expected;
            for (uint32_t row : batch_rows)
              if (blocks[r].holds(row)) expected.push_back(uint32_t(row - blocks[r].first));
            EXPECT_TRUE(std::equal(expected.begin(), expected.end(), shards[r].rows.begin() + long(shards[r].step_starts[i])));
          }
        }
      }
}

TEST(DataShard, BlocksOfRanksPartitionTheRows) {
  for (size_t n : {0u, 1u, 5u, 1000u})
    for (int ranks = 1; ranks <= 7; ++ranks) {
      size_t next = 0;
      for (int r = 0; r < ranks; ++r) {
        const RowBlock b = block_of_rank(n, r, ranks);
        EXPECT_EQ(b.first, next);
        EXPECT_LE(b.count, n / size_t(ranks) + 1);  // equal shares
        next += b.count;
      }
      EXPECT_EQ(next, n);
    }
}

// A CSV file with what a reader must not mistake for rows at a range's edge: a header, comments, blank
// lines, CRLF line ends, a last line without its newline; and a FANN file.
std::string awkward_csv(size_t rows) {
  std::string text = "x1, x2 ,y\r\n# a comment\n\n";
  Rng rng(4);
  for (size_t r = 0; r < rows; ++r) {
    text += std::to_string(rng.uniform(-3, 3)) + "," + std::to_string(rng.uniform(-3, 3)) + ", " +
            std::to_string(rng.uniform(-1, 1)) + (r % 5 == 0 ? "\r\n" : "\n");
    if (r % 17 == 3) text += "# between rows\n";
    if (r % 23 == 5) text += "\n";
  }
  text.pop_back();
  return text;
}

std::string fann_of(const Table& t) {
  std::string text = std::to_string(t.rows) + " 2 1\n";
  for (size_t r = 0; r < t.rows; ++r)
    text += std::to_string(t.values[r * 3]) + " " + std::to_string(t.values[r * 3 + 1]) + "\n\n" +
            std::to_string(t.values[r * 3 + 2]) + "\n";
  return text;
}

// Catches a row read by two ranks or by none at a range's edge (a line split by the edge, a header or
// comment taken for a row): the parts in rank order are the whole file's rows, for any rank count.
TEST(ByteRanges, EveryRowIsReadByExactlyOneRankInFileOrder) {
  const auto dir = testing::scratch_dir("byte_ranges");
  const std::string csv = (dir / "d.csv").string(), fann = (dir / "d.data").string();
  std::ofstream(csv, std::ios::binary) << awkward_csv(97);
  const Table whole = read_table(csv);
  ASSERT_EQ(whole.rows, 97u);
  std::ofstream(fann, std::ios::binary) << fann_of(whole);
  const size_t csv_bytes = std::filesystem::file_size(csv), fann_bytes = std::filesystem::file_size(fann);
  for (const auto& [path, bytes] : {std::pair{csv, csv_bytes}, std::pair{fann, fann_bytes}})
    for (int ranks : {1, 2, 3, 5, 8, 150}) {  // (150: more ranks than rows, most parts empty)
      std::vector<float> values;
      size_t rows = 0;
      for (int r = 0; r < ranks; ++r) {
        const Table part = read_table_rows_in(path, DataFormat::automatic, byte_range_of_rank(bytes, r, ranks));
        rows += part.rows;
        values.insert(values.end(), part.values.begin(), part.values.end());
      }
      EXPECT_EQ(rows, whole.rows) << path << " over " << ranks << " ranks";
      EXPECT_EQ(values.size(), whole.values.size());
      EXPECT_TRUE(std::equal(values.begin(), values.end(), whole.values.begin(), whole.values.end()))
          << path << " over " << ranks << " ranks";
    }
}

TEST(ByteRanges, RangesOfRanksPartitionTheBytes) {
  for (size_t bytes : {1u, 10u, 12345u})
    for (int ranks = 1; ranks <= 9; ++ranks) {
      size_t next = 0;
      for (int r = 0; r < ranks; ++r) {
        const ByteRange b = byte_range_of_rank(bytes, r, ranks);
        EXPECT_EQ(b.begin, next);
        next = b.end;
      }
      EXPECT_EQ(next, bytes);
    }
}

// Catches a split made by position within a part (it would hold out other rows for every rank count):
// the parts' validation and training rows, in rank order, are those of the whole set's split.
TEST(ValidationSplit, PartsHoldOutTheRowsTheWholeSetDoes) {
  const Dataset whole = random_dataset(3, 1, 1001, 9);
  const TrainValidation expected = split_validation(whole, 0.25);
  for (const std::vector<size_t>& cuts : {std::vector<size_t>{0, 1001}, {0, 500, 1001}, {0, 1, 2, 1001}, {0, 300, 301, 1001}}) {
    std::vector<float> train_x, validation_x;
    for (size_t k = 0; k + 1 < cuts.size(); ++k) {
      const Dataset part = testing::rows_of(whole, {cuts[k], cuts[k + 1] - cuts[k]});
      const TrainValidation split = split_validation_part(part, 0.25, cuts[k], whole.size);
      train_x.insert(train_x.end(), split.train.x.begin(), split.train.x.end());
      validation_x.insert(validation_x.end(), split.validation.x.begin(), split.validation.x.end());
    }
    EXPECT_EQ(train_x, expected.train.x) << cuts.size() - 1 << " parts";
    EXPECT_EQ(validation_x, expected.validation.x) << cuts.size() - 1 << " parts";
  }
}

// Catches a mistake in the data-parallel step itself (gradient sums not divided by the global count, a
// shard off by one, the optimizer's state or the learning rate's schedule not followed): with one rank
// the data-parallel group must train as the ordinary trainer does, within fp32 rounding, after 105 steps,
// and a second run gives the same bits. The NCCL cases run the cuBLAS path with NCCL's sums on the GPU
// (skipped without one: the device check runs them).
class DataParallelOneRank : public ::testing::TestWithParam<testing::DataParallelCase> {};

TEST_P(DataParallelOneRank, EqualsTheSingleProcessRun) {
  const testing::DataParallelCase c = GetParam();
  std::string why_not;
  if (!testing::case_runs_here(c, world(), &why_not)) GTEST_SKIP() << why_not;
  const Dataset data = testing::data_parallel_data();
  const Dataset validation = random_dataset(4, 2, 101, 12);
  const TrainResult single = testing::train_whole(c, data, validation);
  const TrainResult parallel = testing::train_part(c, world(), data, validation);
  const TrainResult again = testing::train_part(c, world(), data, validation);
  EXPECT_EQ(again.parameters.values, parallel.parameters.values) << "two runs differ";
  EXPECT_EQ(again.optimizer_state.values, parallel.optimizer_state.values);
  ASSERT_EQ(parallel.epochs.size(), single.epochs.size());
  EXPECT_LE(testing::parameters_difference(parallel, single), kDataParallelTolerance);
  EXPECT_EQ(parallel.optimizer_state.steps, single.optimizer_state.steps);
  for (size_t e = 0; e < single.epochs.size(); ++e) {
    EXPECT_NEAR(parallel.epochs[e].train_loss, single.epochs[e].train_loss, 1e-5 * single.epochs[e].train_loss);
    EXPECT_NEAR(parallel.epochs[e].validation_loss, single.epochs[e].validation_loss, 1e-5 * single.epochs[e].validation_loss);
  }
  // and training moved the parameters (a step that did nothing would otherwise pass)
  EXPECT_GT(relative_difference(single.parameters.values.data(),
                                testing::random_parameters(testing::data_parallel_spec(), 3).values.data(),
                                single.parameters.values.size()),
            1e-2);
}

// The group's branch for sums kept on the device (a stand-in on the host) against the host branch.
TEST(DataParallelOneRankDeviceSums, TheBranchGivesTheHostBranchsBits) {
  testing::expect_device_branch_gives_host_branchs_bits(world(), testing::data_parallel_data(), random_dataset(4, 2, 101, 12));
}

TEST(DataParallelOneRank, VerifyEveryReportsAndStopsAWrongBackend) {
  testing::expect_verify_every_over_ranks(world(), testing::data_parallel_data());
}

std::vector<testing::DataParallelCase> one_rank_cases() {
  std::vector<testing::DataParallelCase> cases;
  for (const char* backend : {"cpu", "reference"})
    for (OptimizerKind optimizer : {OptimizerKind::sgd, OptimizerKind::adam})
      for (int average_every : {0, 3}) cases.push_back({backend, optimizer, average_every, ""});
  for (OptimizerKind optimizer : {OptimizerKind::sgd, OptimizerKind::adam}) cases.push_back({"cuda", optimizer, 0, "nccl"});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Cases, DataParallelOneRank, ::testing::ValuesIn(one_rank_cases()),
                         testing::data_parallel_case_name);

}  // namespace
}  // namespace sigtrain
