#include "data/array_data.h"

#include <cfloat>
#include <charconv>
#include <cmath>
#include <vector>

#include "util/errors.h"

namespace sigtrain {

namespace {

// The shortest text that reads back as v ("1e+39"); NaN and infinities as Python and NumPy write them
// ("NaN", "inf", "-inf": an array has no text of its own to echo, unlike a data file).
std::string shortest_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buffer[32];
  return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, v).ptr);
}

std::string count_of(size_t n, const std::string& noun) { return std::to_string(n) + " " + noun + (n == 1 ? "" : "s"); }

// a's values, one sample per row, into `out` (columns × rows, column-major: a sample's values together,
// as Dataset holds them), refusing what a data file's reader refuses: a value that is not finite, or one
// beyond the largest float (a smaller one rounds, as the reader's does).
template <typename T>
void copy_samples_of(const ArrayView& a, float* out) {
  const char* data = static_cast<const char*>(a.data);
  for (size_t r = 0; r < a.rows; ++r)
    for (size_t c = 0; c < a.columns; ++c) {
      const T v = *reinterpret_cast<const T*>(data + std::ptrdiff_t(r) * a.row_stride + std::ptrdiff_t(c) * a.column_stride);
      const double wide = double(v);
      if (!std::isfinite(wide) || std::fabs(wide) > double(FLT_MAX))
        throw InputError(a.name + "[" + std::to_string(r) + ", " + std::to_string(c) + "]: '" + shortest_text(wide) +
                         "' " + (std::isfinite(wide) ? "is out of range for float" : "is not a finite number"));
      *out++ = float(v);
    }
}

void copy_samples(const ArrayView& a, std::vector<float>& out) {
  out.resize(a.rows * a.columns);
  if (a.is_double)
    copy_samples_of<double>(a, out.data());
  else
    copy_samples_of<float>(a, out.data());
}

}  // namespace

Dataset dataset_from_arrays(const std::string& name, const ArrayView& x, const ArrayView* y, const NetworkSpec& spec) {
  const size_t n0 = size_t(spec.inputs()), nL = size_t(spec.outputs());
  if (x.rows == 0) throw InputError(x.name + ": no samples (0 rows)");
  if (x.columns != n0)
    throw InputError(x.name + ": " + count_of(x.columns, "column") + ", but the network " + spec.to_string() + " needs " +
                     count_of(n0, "input"));
  if (y) {
    if (y->rows != x.rows)
      throw InputError(y->name + ": " + count_of(y->rows, "row") + ", but " + x.name + " has " + count_of(x.rows, "row"));
    if (y->columns != nL)
      throw InputError(y->name + ": " + count_of(y->columns, "column") + ", but the network " + spec.to_string() +
                       " needs " + count_of(nL, "target"));
  }
  Dataset d;
  d.name = name;
  d.inputs = int(n0);
  d.outputs = y ? int(nL) : 0;
  d.size = x.rows;
  copy_samples(x, d.x);
  if (y) copy_samples(*y, d.y);
  return d;
}

}  // namespace sigtrain
