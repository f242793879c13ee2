#include "nimble/core/error.hpp"

#include <cstdio>
#include <cstdlib>

namespace nimble {

void assert_fail(const char* cond, const char* file, int line, const std::string& msg) {
  std::fprintf(stderr, "nimble: internal error at %s:%d: %s %s\n", file, line, cond, msg.c_str());
  std::abort();
}

}  // namespace nimble
