// Files for the tests that write them (the CLI tests, the saving tests): a scratch folder per test and
// a whole file's bytes.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace sigtrain::testing {

// An empty folder of its own for the current test under SIGTRAIN_TEST_TMPDIR/area (tests may run in
// parallel under ctest).
inline std::filesystem::path scratch_dir(const std::string& area) {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir = std::filesystem::path(SIGTRAIN_TEST_TMPDIR) / area /
                                    (std::string(info->test_suite_name()) + "." + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace sigtrain::testing
