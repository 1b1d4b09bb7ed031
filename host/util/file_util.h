// Small file helpers shared by the readers and writers.
#pragma once

#include <string>

namespace sigtrain {

// The whole file as bytes; throws InputError "path: cannot open (reason)" on failure.
std::string read_file(const std::string& path);

// Writes `contents` to `path` atomically: a temporary file beside it (same directory, so rename is
// atomic), flushed and fsync'ed, then renamed over `path`. On failure the temporary is removed, an
// existing `path` is untouched, and InputError is thrown.
void write_file_atomically(const std::string& path, const std::string& contents);

}  // namespace sigtrain
