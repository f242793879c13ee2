#include "keywords.hpp"

#include <map>

namespace nimble::python {

std::string python_keyword(const std::string& field) {
  // A flattened teacher field keeps its own name, except where that alone would say too little.
  static const std::map<std::string, std::string> special = {{"teacher.teacher", "teacher"},
                                                             {"teacher.form", "teacher_form"},
                                                             {"teacher.cache", "cache_teacher"},
                                                             {"nm", "n"}};  // prune's N:M check covers both n and m
  if (auto it = special.find(field); it != special.end()) return it->second;
  return field.rfind("teacher.", 0) == 0 ? field.substr(8) : field;
}

void raise_value_error(const std::string& keyword, const std::string& problem) {
  throw py::value_error(keyword + ": " + problem);
}

void from_python(const std::string& keyword, py::handle value, std::string& out) {
  if (!py::isinstance<py::str>(value) && !py::hasattr(value, "__fspath__"))
    throw py::type_error(keyword + ": expected a str, got " +
                         std::string(py::str(py::type::of(value).attr("__name__"))));
  out = py::cast<std::string>(py::module_::import("os").attr("fspath")(value));
}

void from_python(const std::string& keyword, py::handle value, Shape& out) {
  try {
    if (py::isinstance<py::str>(value)) {
      out = Shape::parse(py::cast<std::string>(value));
    } else {
      const auto dims = py::cast<std::vector<int64_t>>(value);
      NIMBLE_CHECK(dims.size() == 3, "expected (channels, height, width)");
      out = Shape(dims);
    }
  } catch (const py::cast_error&) {
    throw py::type_error(keyword + ": expected (channels, height, width) or \"CxHxW\"");
  } catch (const Error& e) {
    raise_value_error(keyword, e.what());
  }
}

void from_python(const std::string& keyword, py::handle value, Precision& out) {
  enum_from_python(keyword, value, out, &precision_from_name);
}

void from_python(const std::string& keyword, py::handle value, std::vector<std::string>& out) {
  if (py::isinstance<py::str>(value)) {
    out = {py::cast<std::string>(value)};
    return;
  }
  try {
    out = py::cast<std::vector<std::string>>(value);
  } catch (const py::cast_error&) {
    throw py::type_error(keyword + ": expected a str or a list of str");
  }
}

void from_python(const std::string& keyword, py::handle value, std::vector<float>& out) {
  try {
    out = py::cast<std::vector<float>>(value);
  } catch (const py::cast_error&) {
    throw py::type_error(keyword + ": expected a list of numbers");
  }
}

}  // namespace nimble::python
