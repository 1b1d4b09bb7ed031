// The two kinds of failure the program reports, and their exit codes (DESIGN.md §3):
// UsageError (exit 2) for bad flags and arguments, InputError (exit 1) for bad data, model files and
// runtime failures. Each carries one line of text; where a file is involved the text starts with
// "file:line:column: ", like a compiler's.
#pragma once

#include <stdexcept>
#include <string>

namespace sigtrain {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "path:line:column: what" (line and column 1-based; 0 leaves them out).
std::string located(const std::string& path, long line, long column, const std::string& what);

}  // namespace sigtrain
