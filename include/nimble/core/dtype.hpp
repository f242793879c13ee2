#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace nimble {

enum class DType : uint8_t { f32, bf16, f16, s8, u8, s32 };
constexpr int kDTypeCount = 6;

size_t dtype_size(DType t);
const char* dtype_name(DType t);
DType dtype_from_name(std::string_view name);  // throws Error on unknown names

// bf16 is the top half of an fp32; conversion rounds to nearest even.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // keep NaN a NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
inline float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);

}  // namespace nimble
