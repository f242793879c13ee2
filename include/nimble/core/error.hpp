#pragma once
// Three kinds of failure (DESIGN.md): NIMBLE_ASSERT for broken internal invariants,
// nimble::Error for bad input at the API boundary, dnnl::error rethrown as Error at the kernel boundary.
#include <stdexcept>
#include <string>

namespace nimble {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

[[noreturn]] void assert_fail(const char* cond, const char* file, int line, const std::string& msg);

}  // namespace nimble

#define NIMBLE_ASSERT(cond, ...)                                                             \
  do {                                                                                       \
    if (!(cond)) ::nimble::assert_fail(#cond, __FILE__, __LINE__, std::string{__VA_ARGS__}); \
  } while (0)

// Throws nimble::Error with `msg` when `cond` is false: for inputs a user can get wrong.
#define NIMBLE_CHECK(cond, msg)              \
  do {                                       \
    if (!(cond)) throw ::nimble::Error(msg); \
  } while (0)
