// libFuzzer target: the checkpoint reader (a model file with a "checkpoint" member, train --resume),
// every check it makes on the progress, the kept model and the run's settings.
#include <string>

#include "fuzz_target.h"
#include "train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigtrain;
  return fuzz::expect_value_or_input_error(
      [&] { checkpoint_from_json(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json"); });
}
