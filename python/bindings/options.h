// The Python options dictionary as the library's RunOptions: each key is a `sigtrain train` flag's name
// with '-' as '_' (run/run_options.h), each value what the flag would take.
#pragma once

#include <pybind11/pybind11.h>

#include "run/run_options.h"

namespace sigtrain::python {

// Values: str, int, float, bool, or a list/tuple (layers as [2, 3, 3, 1]; sweep as a list of sweeps);
// None leaves the option at its default. An unknown key or a value of the wrong type throws the
// library's UsageError (the module turns it into ValueError).
RunOptions run_options_from(const pybind11::dict& options);

}  // namespace sigtrain::python
