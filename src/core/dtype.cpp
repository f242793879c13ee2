#include "nimble/core/dtype.hpp"

#include <immintrin.h>
#include <cstring>

#include "nimble/core/error.hpp"

namespace nimble {

namespace {
struct DTypeInfo {
  const char* name;
  size_t size;
};
constexpr DTypeInfo kInfo[] = {{"f32", 4}, {"bf16", 2}, {"f16", 2}, {"s8", 1}, {"u8", 1}, {"s32", 4}};
static_assert(sizeof(kInfo) / sizeof(kInfo[0]) == kDTypeCount, "one row per DType");
}  // namespace

size_t dtype_size(DType t) { return kInfo[int(t)].size; }
const char* dtype_name(DType t) { return kInfo[int(t)].name; }

DType dtype_from_name(std::string_view name) {
  for (int i = 0; i < kDTypeCount; ++i)
    if (name == kInfo[i].name) return DType(i);
  throw Error("unknown dtype '" + std::string(name) + "' (expected f32, bf16, f16, s8, u8 or s32)");
}

#if defined(__FLT16_MANT_DIG__)  // the compiler has _Float16 here (GCC 12; clang only from 15)
uint16_t f32_to_f16(float f) {
  _Float16 h = static_cast<_Float16>(f);
  uint16_t u;
  std::memcpy(&u, &h, 2);
  return u;
}

float f16_to_f32(uint16_t u) {
  _Float16 h;
  std::memcpy(&h, &u, 2);
  return static_cast<float>(h);
}
#else  // the same IEEE round-to-nearest-even conversions with F16C, which every AVX2 CPU has
__attribute__((target("f16c"))) uint16_t f32_to_f16(float f) { return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT); }
__attribute__((target("f16c"))) float f16_to_f32(uint16_t u) { return _cvtsh_ss(u); }
#endif

}  // namespace nimble
