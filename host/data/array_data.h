// Data given in memory (the Python module's NumPy arrays) into a Dataset, with the checks a data
// file's values get (data_files.h): finite numbers that fit in a float, columns that fit the network,
// at least one sample. The values are converted to float as they are copied, once, into the Dataset.
#pragma once

#include <cstddef>
#include <string>

#include "data/dataset.h"
#include "model/network.h"

namespace sigtrain {

// A 2-D array of float or double of any layout: element (r, c) is at byte offset
// r * row_stride + c * column_stride from data (C order, Fortran order, or a strided slice alike).
struct ArrayView {
  std::string name;  // in messages: "X", "y"
  const void* data = nullptr;
  bool is_double = false;
  size_t rows = 0, columns = 0;
  std::ptrdiff_t row_stride = 0, column_stride = 0;  // in bytes
};

// A Dataset named `name` for `spec`: x's columns are the inputs, y's (where given) the targets, one
// sample per row. Without y (a nullptr) the Dataset has no targets (prediction). Throws InputError
// naming the array and element for a value that is NaN, infinite or beyond a float, and for shapes that
// do not fit the network or each other or hold no sample.
Dataset dataset_from_arrays(const std::string& name, const ArrayView& x, const ArrayView* y, const NetworkSpec& spec);

}  // namespace sigtrain
