// The hand-written kernels' fp32 -> bf16 store: the native AVX512-BF16 conversion and the
// integer one give the same bits (round to nearest even, NaN kept), apart from fp32 denormals,
// which the native one flushes to zero.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/simd16.hpp"
#include "nimble/core/dtype.hpp"

namespace nimble::kernels {
namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Vector values stay inside functions compiled for AVX-512 (passing them across targets changes
// the calling convention).
NIMBLE_AVX512 void convert16(const float* in, uint16_t* out, bool native) {
  const __m512 v = simd16::load(in);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), native ? simd16::to_bf16_native(v) : simd16::to_bf16_emulated(v));
}

std::vector<uint16_t> convert(const std::vector<float>& in, bool native) {
  std::vector<uint16_t> out(in.size());
  for (size_t i = 0; i < in.size(); i += 16) convert16(in.data() + i, out.data() + i, native);
  return out;
}

TEST(Simd16, NativeAndEmulatedBf16ConversionsAgree) {
  if (!simd16::has_avx512() || !simd16::has_avx512_bf16) GTEST_SKIP() << "no AVX512-BF16 here";
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> normal{0.0f, -0.0f, 1.0f, -1.5f, inf, -inf, std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::min(),  // smallest normal
                            from_bits(0x3f808000),              // halfway, even below: rounds down
                            from_bits(0x3f818000),              // halfway, odd below: rounds up
                            from_bits(0x3f808001), from_bits(0x7f7fffff), 3.14159f, 1e-30f, 6.0e4f, -2.5e-3f};
  for (uint32_t i = 0; i < 4096; ++i) normal.push_back(from_bits(0x00800000u + i * 0x0007f3a1u));  // normals across exponents
  while (normal.size() % 16) normal.push_back(1.0f);
  const std::vector<uint16_t> native = convert(normal, true), emulated = convert(normal, false);
  for (size_t i = 0; i < normal.size(); ++i) {
    ASSERT_EQ(native[i], emulated[i]) << "value " << normal[i];
    ASSERT_EQ(emulated[i], f32_to_bf16(normal[i])) << "value " << normal[i];
  }

  std::vector<float> odd(16, std::nanf(""));
  odd[1] = from_bits(0x00400000);  // denormal 5.9e-39
  odd[2] = from_bits(0x80000001);  // -1.4e-45
  const std::vector<uint16_t> n = convert(odd, true), e = convert(odd, false);
  EXPECT_TRUE(std::isnan(bf16_to_f32(n[0])) && std::isnan(bf16_to_f32(e[0])));
  EXPECT_EQ(n[1], 0x0000);
  EXPECT_EQ(n[2], 0x8000);
  EXPECT_EQ(e[1], 0x0040);  // the emulated conversion keeps the denormal
}

}  // namespace
}  // namespace nimble::kernels
