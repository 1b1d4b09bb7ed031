#include "options.h"

#include <string>

namespace py = pybind11;

namespace sigtrain::python {

namespace {

// A value as its flag's text: floats by repr (the shortest text that reads back as the same double).
std::string flag_text(const py::handle& value) {
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>() ? "true" : "false";
  // (repr of a plain float: NumPy 2's float64 is a float_ whose repr is "np.float64(0.1)")
  if (py::isinstance<py::float_>(value)) return py::repr(py::float_(value.cast<double>())).cast<std::string>();
  const std::string text = py::str(value).cast<std::string>();
  if (text == "True" || text == "False") return text == "True" ? "true" : "false";  // numpy.bool_
  return text;
}

}  // namespace

RunOptions run_options_from(const py::dict& options) {
  RunOptions o;
  for (const auto& [key, value] : options) {
    const std::string name = py::str(key).cast<std::string>();
    if (value.is_none()) continue;
    const bool sequence = py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value);
    if (sequence && name == "sweep") {
      for (const py::handle& sweep : value) set_run_option(o, name, flag_text(sweep));
    } else if (sequence) {
      std::string joined;  // layers [2, 3, 3, 1] → "2,3,3,1"
      for (const py::handle& item : value) joined += (joined.empty() ? "" : ",") + flag_text(item);
      set_run_option(o, name, joined);
    } else {
      set_run_option(o, name, flag_text(value));
    }
  }
  return o;
}

}  // namespace sigtrain::python
