// libFuzzer target: the CSV reader, and the table's split into a data set for a 2-input network, also
// with a kept (passed-through) first column.
#include "data/data_files.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigtrain;
  return fuzz::expect_value_or_input_error([&] {
    const Table t = read_csv(fuzz::file_with(data, size, ".csv"));
    dataset_from_table(t, NetworkSpec{{2, 3, 3, 1}, false}, /*targets_optional=*/true);
    // The same text with its first column passed through (predict --keep-columns 1): not an input.
    const Table kept = read_csv(fuzz::file_with(data, size, ".csv"), {"1"});
    dataset_from_table(kept, NetworkSpec{{1, 3, 1}, false}, /*targets_optional=*/true);
  });
}
