// The hand-written kernels' fp32 -> bf16 store: the integer conversion rounds as the scalar
// nimble::f32_to_bf16 (to nearest even, NaN kept), and the native AVX512-BF16 one gives the same
// bits apart from fp32 denormals, which it flushes to zero.
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
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                      native ? simd16::to_bf16_native(v) : simd16::to_bf16_emulated(v));
}

std::vector<uint16_t> convert(const std::vector<float>& in, bool native) {
  std::vector<uint16_t> out(in.size());
  for (size_t i = 0; i < in.size(); i += 16) convert16(in.data() + i, out.data() + i, native);
  return out;
}

// Normal values across the exponent range, zeros, infinities, the largest float and both kinds
// of rounding tie; a multiple of 16.
std::vector<float> normal_values() {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v{0.0f,
                       -0.0f,
                       1.0f,
                       -1.5f,
                       inf,
                       -inf,
                       std::numeric_limits<float>::max(),
                       std::numeric_limits<float>::min(),  // smallest normal
                       from_bits(0x3f808000),              // halfway, even below: rounds down
                       from_bits(0x3f818000),              // halfway, odd below: rounds up
                       from_bits(0x3f808001),
                       from_bits(0x7f7fffff),
                       3.14159f,
                       1e-30f,
                       6.0e4f,
                       -2.5e-3f};
  for (uint32_t i = 0; i < 4096; ++i) v.push_back(from_bits(0x00800000u + i * 0x0007f3a1u));
  while (v.size() % 16) v.push_back(1.0f);
  return v;
}
// A NaN in lane 0, fp32 denormals in lanes 1 and 2.
std::vector<float> odd_values() {
  std::vector<float> v(16, std::nanf(""));
  v[1] = from_bits(0x00400000);  // 5.9e-39
  v[2] = from_bits(0x80000001);  // -1.4e-45
  return v;
}

// The integer conversion (AVX-512 CPUs without AVX512-BF16) rounds as nimble::f32_to_bf16.
TEST(Simd16, EmulatedBf16ConversionMatchesScalarRounding) {
  if (!simd16::has_avx512()) GTEST_SKIP() << "no AVX-512 here: the vector kernels never run";
  const std::vector<float> normal = normal_values();
  const std::vector<uint16_t> emulated = convert(normal, false);
  for (size_t i = 0; i < normal.size(); ++i) ASSERT_EQ(emulated[i], f32_to_bf16(normal[i])) << "value " << normal[i];
  const std::vector<uint16_t> e = convert(odd_values(), false);
  EXPECT_TRUE(std::isnan(bf16_to_f32(e[0])));
  EXPECT_EQ(e[1], 0x0040);  // denormals kept
  EXPECT_EQ(e[2], 0x8000);  // rounded to -0
}

// The native instruction gives the same bits, except that it flushes denormals to zero.
TEST(Simd16, NativeBf16ConversionMatchesTheEmulatedOne) {
  if (!simd16::has_avx512() || !simd16::has_avx512_bf16)
    GTEST_SKIP() << "no AVX512-BF16 here: the native path never runs";
  const std::vector<float> normal = normal_values();
  const std::vector<uint16_t> native = convert(normal, true), emulated = convert(normal, false);
  for (size_t i = 0; i < normal.size(); ++i) ASSERT_EQ(native[i], emulated[i]) << "value " << normal[i];
  const std::vector<uint16_t> n = convert(odd_values(), true);
  EXPECT_TRUE(std::isnan(bf16_to_f32(n[0])));
  EXPECT_EQ(n[1], 0x0000);
  EXPECT_EQ(n[2], 0x8000);
}

}  // namespace
}  // namespace nimble::kernels
