// `import nimble`: the library's Model and workflows for Python (pybind11).
#include <pybind11/pybind11.h>

#include "keywords.hpp"
#include "model_binding.hpp"
#include "nimble/workflows/options.hpp"
#include "workflow_functions.hpp"

namespace py = pybind11;

PYBIND11_MODULE(nimble, m) {
  m.doc() = R"(nimble: make neural networks fast on the CPU you have.

Model.load(path) -> Model; model.run(images) -> logits.
train / distill / evaluate / benchmark / quantize / prune(**kwargs) -> dict: each runs the
workflow of the `nimble` command of that name and returns what its --json prints.

Keywords are the fields of the workflow's C++ Options struct (TrainOptions, QuantizeOptions, ...),
which are the command's flags with '_' for '-' (lr, weight_decay, finetune_epochs, ...). Settings
that are types in C++ are strings: precision "auto" | "fp32" | "bf16" | "fp16", observer
"minmax" | ..., method "magnitude" | "channel" | "nm", scope, criterion, teacher_form. Shapes are
(C, H, W) tuples. The teacher's fields are keywords of their own: teacher (the .nimble file),
teacher_form (--teacher-precision), temperature, alpha, hints (a list of
"teacher_layer:student_layer"), hint_weight, hint_lr, cache_teacher. quiet=True silences progress
(which goes to stderr). Unset optional fields take the command's defaults.

Errors: an unknown keyword or a value of the wrong type raises TypeError, a value the workflow
cannot take ValueError, both naming the keyword; other failures raise nimble.Error (a
RuntimeError).)";

  static py::exception<nimble::Error> error(m, "Error", PyExc_RuntimeError);
  // OptionError names an Options field: say it as the keyword that sets it.
  // pybind11 declares the translator as taking its exception_ptr by value.
  py::register_exception_translator([](std::exception_ptr p) {  // NOLINT(performance-unnecessary-value-param)
    try {
      if (p) std::rethrow_exception(p);
    } catch (const nimble::OptionError& e) {
      const std::string problem = nimble::spell_fields(e.problem(), nimble::python::python_keyword);
      PyErr_SetString(PyExc_ValueError, (nimble::python::python_keyword(e.field()) + ": " + problem).c_str());
    } catch (const nimble::Error& e) {
      error(e.what());
    }
  });

  nimble::python::add_model_class(m);
  nimble::python::add_workflow_functions(m);
}
