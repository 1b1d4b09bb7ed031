// What the fuzz targets share: the bytes in a file the reader opens (the readers take paths), and the
// rule that a reader either returns or throws InputError — anything else (a crash, a sanitizer's
// report, another exception) is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "util/errors.h"

namespace sigtrain::fuzz {

// A file of `size` bytes at `data`, kept for the process (one per target, rewritten for every input).
inline const std::string& file_with(const uint8_t* data, size_t size, const char* suffix) {
  static const std::string path = "/tmp/sigtrain-fuzz-" + std::to_string(getpid()) + suffix;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

// Runs read(); an InputError is a fine answer to bad input.
template <class Read>
int expect_value_or_input_error(Read&& read) {
  try {
    read();
  } catch (const InputError&) {
  }
  return 0;
}

}  // namespace sigtrain::fuzz
