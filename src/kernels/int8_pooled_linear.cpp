#include "kernels/int8_pooled_linear.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "graph/ops/quant_common.hpp"
#include "kernels/simd16.hpp"

namespace nimble::kernels {
namespace {

// mean[ch] = the channel's values summed over the image's pixels, divided by their count and
// rounded half to even (as nearbyint(float(sum) / hw): the sum of int8 values over fewer than 2^16
// pixels is exact in fp32), less the zero point. Up to 64 channels per walk over the pixels, in
// independent registers.
template <int NB, class S> NIMBLE_AVX512 void means_of_blocks(const S* image, int64_t hw, int64_t c, int64_t c0,
                                                              int32_t zero_point, int32_t* mean) {
  __mmask16 m[NB];
  __m512i sum[NB];
  // Unrolled, or GCC -O2 keeps these register arrays in memory.
#pragma GCC unroll 4
  for (int j = 0; j < NB; ++j) m[j] = simd16::lanes(c - c0 - 16 * j), sum[j] = _mm512_setzero_si512();
  const S* row = image + c0;
  for (int64_t px = 0; px < hw; ++px, row += c)
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) {
      const __m128i bytes = _mm_maskz_loadu_epi8(m[j], row + 16 * j);
      sum[j] =
          _mm512_add_epi32(sum[j], std::is_signed_v<S> ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes));
    }
  const __m512 count = _mm512_set1_ps(float(hw));
#pragma GCC unroll 4
  for (int j = 0; j < NB; ++j) {
    const __m512i q = _mm512_cvtps_epi32(_mm512_div_ps(_mm512_cvtepi32_ps(sum[j]), count));  // MXCSR: half to even
    _mm512_mask_storeu_epi32(mean + c0 + 16 * j, m[j], _mm512_sub_epi32(q, _mm512_set1_epi32(zero_point)));
  }
}

template <class S> NIMBLE_AVX512 void means_avx512(const S* image, const PooledLinear& p, int32_t* mean) {
  for (int64_t c0 = 0; c0 < p.c; c0 += 64) {
    switch (std::min<int64_t>(4, (p.c - c0 + 15) / 16)) {
      case 4:
        means_of_blocks<4>(image, p.hw, p.c, c0, p.src_zero_point, mean);
        break;
      case 3:
        means_of_blocks<3>(image, p.hw, p.c, c0, p.src_zero_point, mean);
        break;
      case 2:
        means_of_blocks<2>(image, p.hw, p.c, c0, p.src_zero_point, mean);
        break;
      default:
        means_of_blocks<1>(image, p.hw, p.c, c0, p.src_zero_point, mean);
    }
  }
}

template <class S> void means(const S* image, const PooledLinear& p, int32_t* sum, int32_t* mean) {
  if (p.avx512) return means_avx512(image, p, mean);
  std::fill(sum, sum + p.c, 0);
  for (int64_t px = 0; px < p.hw; ++px)
    for (int64_t ch = 0; ch < p.c; ++ch) sum[ch] += image[px * p.c + ch];
  for (int64_t ch = 0; ch < p.c; ++ch)
    mean[ch] = int32_t(std::nearbyint(float(sum[ch]) / float(p.hw))) - p.src_zero_point;
}

// sum_ch mean[ch] * w[ch], exact in int32.
NIMBLE_AVX512 int32_t dot_avx512(const int32_t* mean, const int8_t* w, int64_t c) {
  __m512i acc = _mm512_setzero_si512();
  for (int64_t c0 = 0; c0 < c; c0 += 16) {
    const __mmask16 m = simd16::lanes(c - c0);
    const __m512i wv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, w + c0));
    acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(_mm512_maskz_loadu_epi32(m, mean + c0), wv));
  }
  return _mm512_reduce_add_epi32(acc);
}

int32_t dot(const int32_t* mean, const int8_t* w, int64_t c, bool avx512) {
  if (avx512) return dot_avx512(mean, w, c);
  int32_t acc = 0;
  for (int64_t ch = 0; ch < c; ++ch) acc += mean[ch] * int32_t(w[ch]);
  return acc;
}

template <class S> void run(const S* src, void* dst, const PooledLinear& p) {
  int32_t* sum = p.scratch;
  int32_t* mean = p.scratch + p.c;
  const bool plain_f32 = p.activation == "none" && p.dst.dtype == DType::f32;
  for (int64_t b = 0; b < p.n; ++b) {
    means(src + b * p.hw * p.c, p, sum, mean);
    for (int64_t oc = 0; oc < p.o; ++oc) {
      const int32_t acc = dot(mean, p.weights + oc * p.c, p.c, p.avx512);
      const float bias = p.bias ? p.bias[oc] : 0.0f;
      const int64_t at = b * p.o + oc;
      // The final logits take requantize's arithmetic without its activation's string compare.
      const float y =
          plain_f32 ? p.scales[oc] * float(acc) + bias : ops::requantize(acc, p.scales[oc], bias, p.activation, p.dst);
      if (p.dst.dtype == DType::u8)
        static_cast<uint8_t*>(dst)[at] = uint8_t(y);
      else if (p.dst.dtype == DType::s8)
        static_cast<int8_t*>(dst)[at] = int8_t(y);
      else
        static_cast<float*>(dst)[at] = y;
    }
  }
}

}  // namespace

void pooled_linear(const uint8_t* src, void* dst, const PooledLinear& p) { run(src, dst, p); }
void pooled_linear(const int8_t* src, void* dst, const PooledLinear& p) { run(src, dst, p); }

}  // namespace nimble::kernels
