// libFuzzer target: the FANN .data reader, and the table's split into a data set.
#include "data/data_files.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigtrain;
  return fuzz::expect_value_or_input_error([&] {
    const Table t = read_fann(fuzz::file_with(data, size, ".data"));
    dataset_from_table(t, NetworkSpec{{2, 3, 3, 1}, false}, /*targets_optional=*/true);
  });
}
