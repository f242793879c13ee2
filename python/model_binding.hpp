#pragma once
#include <pybind11/pybind11.h>

namespace nimble::python {

// nimble.Model.
void add_model_class(pybind11::module_& m);

}  // namespace nimble::python
