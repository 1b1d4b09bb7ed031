#include "arrays.h"

#include <string>

namespace py = pybind11;

namespace sigtrain::python {

namespace {

// float32/float64 as they are; anything else numeric through a float64 copy (forcecast).
py::array as_float_array(const py::handle& object, const char* name) {
  if (py::isinstance<py::array_t<float>>(object) || py::isinstance<py::array_t<double>>(object))
    return py::reinterpret_borrow<py::array>(object);
  py::array converted;
  try {
    converted = py::array_t<double, py::array::forcecast>::ensure(object);
  } catch (const py::error_already_set&) {
  }
  if (!converted) throw py::value_error(std::string(name) + ": not an array of numbers");
  return converted;
}

HeldArray view_of(py::array a, const char* name, bool one_d_is_column) {
  HeldArray h;
  h.view.name = name;
  h.view.data = a.data();
  // float64 (as_float_array passes float32 or float64 only). Asked as an isinstance: dtype().is() is false
  // for an unpickled float64 array, and itemsize() reads NumPy 1's descriptor (0 under NumPy 2 with
  // pybind11 2.10) — both measured to read doubles as floats.
  h.view.is_double = py::isinstance<py::array_t<double>>(a);
  if (a.ndim() == 2) {
    h.view.rows = size_t(a.shape(0));
    h.view.columns = size_t(a.shape(1));
    h.view.row_stride = a.strides(0);
    h.view.column_stride = a.strides(1);
  } else if (a.ndim() == 1 && one_d_is_column) {
    h.view.rows = size_t(a.shape(0));
    h.view.columns = 1;
    h.view.row_stride = a.strides(0);
    h.view.column_stride = 0;
  } else {
    throw py::value_error(std::string(name) + ": expected a " + (one_d_is_column ? "1-D or 2-D" : "2-D") +
                          " array, got " + std::to_string(a.ndim()) + "-D");
  }
  h.held = std::move(a);
  return h;
}

}  // namespace

HeldArray inputs_array(const py::handle& x, const char* name) { return view_of(as_float_array(x, name), name, false); }
HeldArray targets_array(const py::handle& y, const char* name) { return view_of(as_float_array(y, name), name, true); }

}  // namespace sigtrain::python
