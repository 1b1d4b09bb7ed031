// NumPy arrays as the library's ArrayView (data/array_data.h), without copying them: float32 and
// float64 arrays of any layout (C, Fortran, strided) are read in place; other dtypes (integers, bools)
// are converted to float64 first, which is the one case with an extra copy.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "data/array_data.h"

namespace sigtrain::python {

// An array and the view of it: `held` keeps the array (or its float64 conversion) alive while the
// view is used.
struct HeldArray {
  pybind11::array held;
  ArrayView view;
};

// X: 2-D (samples × inputs). y: 1-D (one target per sample) or 2-D. Throws ValueError for other shapes.
HeldArray inputs_array(const pybind11::handle& x, const char* name = "X");
HeldArray targets_array(const pybind11::handle& y, const char* name = "y");

}  // namespace sigtrain::python
