// libFuzzer target: the model file reader (JSON text to a Model, every check it makes).
#include <string>

#include "fuzz_target.h"
#include "model/model_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigtrain;
  return fuzz::expect_value_or_input_error(
      [&] { model_from_json(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json"); });
}
