// Numbers in the program's text (epoch lines, messages): "%.*g" without locale surprises.
#pragma once

#include <string>

namespace sigtrain {

std::string format_number(double v, int digits = 6);

}  // namespace sigtrain
