#pragma once
// What every workflow call (evaluate, benchmark, train, quantize, prune) shares: the error for an
// invalid option, which names the field so each front end (CLI flag, Python keyword) can name its
// own spelling, and where progress lines go.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nimble/core/error.hpp"

namespace nimble {

// `text` with every "{field}" replaced by spell(field): how a front end names another field in a
// problem (the CLI as a flag, Python as a keyword).
std::string spell_fields(const std::string& text, const std::function<std::string(const std::string&)>& spell);

// An Options field with a value the workflow cannot run with. field() is the field's name as
// declared in the Options struct (snake_case; nested as "teacher.alpha"); problem() may name other
// fields as "{field}". what() reads "field: problem" with the plain names.
class OptionError : public Error {
 public:
  OptionError(std::string field, std::string problem)
      : Error(field + ": " + spell_fields(problem, [](const std::string& f) { return f; })),
        field_(std::move(field)),
        problem_(std::move(problem)) {}
  const std::string& field() const { return field_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string field_, problem_;
};

// Progress and status lines of a workflow (never its result). Null: silent.
using Log = std::function<void(const std::string&)>;
void log_to_stderr(const std::string& line);

// Throws OptionError(out_field) when `out` is the same file as one of `inputs` (field, path; empty
// paths skipped), through links and relative spellings alike, unless `force`: a command must not
// replace what it reads without being told to ({force}).
void check_output_is_not_an_input(const std::string& out_field, const std::string& out,
                                  const std::vector<std::pair<std::string, std::string>>& inputs, bool force);

// The data directory `nimble` reads when none is given: Debian's dataset-fashion-mnist.
inline constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";

}  // namespace nimble
