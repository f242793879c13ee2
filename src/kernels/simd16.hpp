#pragma once
// Sixteen fp32 lanes of AVX-512 for the hand-written training kernels, loading and storing fp32 or
// bf16 (uint16_t, rounded to nearest even like nimble::f32_to_bf16). Internal: only kernel .cpp
// files include it, and they call the NIMBLE_AVX512 functions only when has_avx512() says the CPU
// runs them; elsewhere a plain loop does the same work.
#include <immintrin.h>

#include <cstdint>
#include <cstdlib>

// avx512bf16 is in the target only for store()'s native conversion, which runs only where
// has_avx512_bf16 says the CPU has it; nothing else emits those instructions.
#define NIMBLE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// GCC 12 warns "__Y may be used uninitialized" (or "is used") inside its own avx512fintrin.h for
// masked moves and conversions; a known false positive in the intrinsic headers, not in our code.
#if !defined(__clang__)  // clang has no such warning (and clang-tidy parses this file)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"  // the same, as an error, for _mm512_cvtepi32_ps
#endif

namespace nimble::kernels::simd16 {

// NIMBLE_PLAIN_KERNELS=1 takes the plain loops anyway (tests check them on AVX-512 machines).
inline bool has_avx512() {
  static const bool cpu =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return cpu && !std::getenv("NIMBLE_PLAIN_KERNELS");
}

// AVX512-BF16 (Cooper Lake, Sapphire Rapids, AMD Zen 4): one instruction converts 16 floats.
inline const bool has_avx512_bf16 = __builtin_cpu_supports("avx512bf16");

// Lanes [0, n) of a group of 16 (all 16 when n >= 16): the mask for a channel group's tail.
inline __mmask16 lanes(int64_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }

// Loads leave masked-off lanes zero; stores leave their memory untouched.
NIMBLE_AVX512 inline __m512 load(const float* p, __mmask16 m = 0xffff) { return _mm512_maskz_loadu_ps(m, p); }
NIMBLE_AVX512 inline __m512 widen(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
NIMBLE_AVX512 inline __m256i load_raw(const uint16_t* p, __mmask16 m = 0xffff) {
  return _mm256_maskz_loadu_epi16(m, p);
}
NIMBLE_AVX512 inline __m512 load(const uint16_t* p, __mmask16 m = 0xffff) { return widen(load_raw(p, m)); }

NIMBLE_AVX512 inline void store(float* p, __m512 v, __mmask16 m = 0xffff) { _mm512_mask_storeu_ps(p, m, v); }
// fp32 -> bf16 in integer instructions, for AVX-512 CPUs without AVX512-BF16.
NIMBLE_AVX512 inline __m256i to_bf16_emulated(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);  // keep NaN a NaN
  r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
  return _mm512_cvtepi32_epi16(r);
}
// The same in one instruction; only where has_avx512_bf16.
NIMBLE_AVX512 inline __m256i to_bf16_native(__m512 v) { return reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)); }

// Both round to nearest even and keep NaN a NaN; the native one also flushes fp32 denormals (below
// 1.2e-38) to zero (tests/test_simd16.cpp). The native one is used where available: it made
// mobilenet_v2 0.5's bf16 batch-norms faster on AMD Zen 4 (docs/results.md, Kernel changes that
// made bf16 training pay).
NIMBLE_AVX512 inline void store(uint16_t* p, __m512 v, __mmask16 m = 0xffff) {
  _mm256_mask_storeu_epi16(p, m, has_avx512_bf16 ? to_bf16_native(v) : to_bf16_emulated(v));
}

}  // namespace nimble::kernels::simd16
