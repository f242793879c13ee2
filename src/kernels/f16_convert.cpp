#include "kernels/f16_convert.hpp"

#include <cpuid.h>
#include <immintrin.h>

#include "nimble/core/dtype.hpp"

namespace nimble::kernels {

namespace {

constexpr int64_t kChunk = 1 << 14;  // elements per OpenMP task: large enough to amortise

bool has_f16c() {
  // F16C is CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports does not know "f16c").
  static const bool yes = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __builtin_cpu_supports("avx2") && __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
  }();
  return yes;
}

// 8 at a time with F16C (round to nearest even, as IEEE conversion and oneDNN do); scalar tail.
__attribute__((target("avx2,f16c"))) void to_f16_f16c(const float* s, uint16_t* d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(s + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) d[i] = nimble::f32_to_f16(s[i]);
}

__attribute__((target("avx2,f16c"))) void to_f32_f16c(const uint16_t* s, float* d, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
  for (; i < n; ++i) d[i] = nimble::f16_to_f32(s[i]);
}

__attribute__((target("avx2,f16c"))) void accumulate_f16c(uint16_t* d, const uint16_t* s, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 a = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + i)));
    __m256 b = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i),
                     _mm256_cvtps_ph(_mm256_add_ps(a, b), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) d[i] = nimble::f32_to_f16(nimble::f16_to_f32(d[i]) + nimble::f16_to_f32(s[i]));
}

template <class Fn> void chunked(int64_t n, Fn fn) {
#pragma omp parallel for schedule(static)
  for (int64_t begin = 0; begin < n; begin += kChunk) fn(begin, std::min(kChunk, n - begin));
}

}  // namespace

void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
  chunked(n, [&](int64_t b, int64_t len) {
    if (has_f16c()) return to_f16_f16c(src + b, dst + b, len);
    for (int64_t i = b; i < b + len; ++i) dst[i] = nimble::f32_to_f16(src[i]);
  });
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  chunked(n, [&](int64_t b, int64_t len) {
    if (has_f16c()) return to_f32_f16c(src + b, dst + b, len);
    for (int64_t i = b; i < b + len; ++i) dst[i] = nimble::f16_to_f32(src[i]);
  });
}

void f16_accumulate(uint16_t* dst, const uint16_t* src, int64_t n) {
  chunked(n, [&](int64_t b, int64_t len) {
    if (has_f16c()) return accumulate_f16c(dst + b, src + b, len);
    for (int64_t i = b; i < b + len; ++i)
      dst[i] = nimble::f32_to_f16(nimble::f16_to_f32(dst[i]) + nimble::f16_to_f32(src[i]));
  });
}

}  // namespace nimble::kernels
