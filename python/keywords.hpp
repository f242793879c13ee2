#pragma once
// Python keyword arguments -> a workflow's Options struct. Each keyword is named exactly as the
// Options field it sets; a TeacherOptions member is flattened into keywords of its own
// (python_keyword() spells a field the Python way). Settings that are types in C++ are strings
// in Python (precision "auto", observer "minmax", method "channel", ...). An unknown keyword or a
// value of the wrong type raises TypeError, a value the field cannot take ValueError; both name
// the keyword.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nimble/core/error.hpp"
#include "nimble/core/shape.hpp"
#include "nimble/runtime/precision.hpp"

namespace nimble::python {

namespace py = pybind11;

// An Options field name (OptionError::field(), "teacher.alpha") as its Python keyword ("alpha").
std::string python_keyword(const std::string& field);

// ValueError "keyword: problem".
[[noreturn]] void raise_value_error(const std::string& keyword, const std::string& problem);

// Conversions of one keyword's value; `keyword` names it in errors.
void from_python(const std::string& keyword, py::handle value, std::string& out);  // str or os.PathLike
void from_python(const std::string& keyword, py::handle value, Shape& out);        // (C, H, W) or "CxHxW"
void from_python(const std::string& keyword, py::handle value, Precision& out);
void from_python(const std::string& keyword, py::handle value, std::vector<std::string>& out);  // str or list
void from_python(const std::string& keyword, py::handle value, std::vector<float>& out);        // list of numbers

template <class T>
requires std::is_arithmetic_v<T>
void from_python(const std::string& keyword, py::handle value, T& out) {
  try {
    out = py::cast<T>(value);
  } catch (const py::cast_error&) {
    throw py::type_error(keyword + ": expected " +
                         (std::is_same_v<T, bool> ? "a bool"
                          : std::is_integral_v<T> ? "an int"
                                                  : "a number") +
                         ", got " + std::string(py::str(py::type::of(value).attr("__name__"))));
  }
}

template <class T> void from_python(const std::string& keyword, py::handle value, std::optional<T>& out) {
  if (value.is_none()) {
    out.reset();
    return;
  }
  T v{};
  from_python(keyword, value, v);
  out = v;
}

// An enum given by name: `parse` (a *_from_name function) throws Error on names it does not know.
template <class E>
void enum_from_python(const std::string& keyword, py::handle value, E& out, E (*parse)(const std::string&)) {
  std::string name;
  from_python(keyword, value, name);
  try {
    out = parse(name);
  } catch (const Error& e) {
    raise_value_error(keyword, e.what());
  }
}

// The keywords one workflow function accepts.
template <class Options> class Keywords {
 public:
  using Setter = std::function<void(Options&, py::handle)>;

  explicit Keywords(std::string function) : function_(std::move(function)) {}

  Keywords& add(const std::string& keyword, Setter set) {
    setters_[keyword] = std::move(set);
    return *this;
  }
  // A field converted by its type.
  template <class T> Keywords& field(const std::string& keyword, T Options::*member) {
    return add(keyword, [keyword, member](Options& o, py::handle v) { from_python(keyword, v, o.*member); });
  }
  // A field whose enum type is given by name.
  template <class E> Keywords& named(const std::string& keyword, E Options::*member, E (*parse)(const std::string&)) {
    return add(keyword,
               [keyword, member, parse](Options& o, py::handle v) { enum_from_python(keyword, v, o.*member, parse); });
  }
  // The same keywords for a member struct (TeacherOptions inside TrainOptions).
  template <class Inner> Keywords& nested(const Keywords<Inner>& inner, Inner Options::*member) {
    for (const auto& entry : inner.setters())  // not a structured binding: clang 14 cannot capture it
      add(entry.first, [set = entry.second, member](Options& o, py::handle v) { set(o.*member, v); });
    return *this;
  }

  void apply(Options& o, const py::kwargs& kwargs) const {
    for (const auto& [key, value] : kwargs) {
      const std::string keyword = py::cast<std::string>(key);
      const auto it = setters_.find(keyword);
      if (it == setters_.end())
        throw py::type_error(function_ + "() got an unexpected keyword argument '" + keyword + "'");
      it->second(o, value);
    }
  }
  const std::map<std::string, Setter>& setters() const { return setters_; }

 private:
  std::string function_;
  std::map<std::string, Setter> setters_;
};

}  // namespace nimble::python
