#pragma once
#include <pybind11/pybind11.h>

namespace nimble::python {

// nimble.train, distill, evaluate, benchmark, quantize and prune.
void add_workflow_functions(pybind11::module_& m);

}  // namespace nimble::python
