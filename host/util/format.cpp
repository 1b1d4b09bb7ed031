#include "util/format.h"

#include <cstdio>

namespace sigtrain {

std::string format_number(double v, int digits) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

}  // namespace sigtrain
