#include "kernels/depthwise_backward_weights.hpp"

#include <algorithm>

#include "kernels/simd16.hpp"

namespace nimble::kernels {

void depthwise_conv_backward_weights(float* diff_weights, float* diff_bias, const float* src, const float* diff_dst,
                                     const DepthwiseGeometry& g) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < g.c; ++c) {
    float* gw = diff_weights + c * g.kh * g.kw;
    for (int64_t k = 0; k < g.kh * g.kw; ++k) gw[k] = 0.0f;
    float gb = 0.0f;
    for (int64_t n = 0; n < g.n; ++n) {
      const float* x = src + (n * g.c + c) * g.ih * g.iw;
      const float* dy = diff_dst + (n * g.c + c) * g.oh * g.ow;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const float d = dy[oy * g.ow + ox];
          gb += d;
          for (int64_t ky = 0; ky < g.kh; ++ky) {
            const int64_t iy = oy * g.sh - g.ph + ky * g.dh;
            if (iy < 0 || iy >= g.ih) continue;
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              const int64_t ix = ox * g.sw - g.pw + kx * g.dw;
              if (ix >= 0 && ix < g.iw) gw[ky * g.kw + kx] += d * x[iy * g.iw + ix];
            }
          }
        }
    }
    if (diff_bias) diff_bias[c] = gb;
  }
}

namespace {

// Channels [c0, c0 + 16): the weight-gradient vectors of kernel rows [ky0, ky0 + R) (R x K of
// them, plus the bias-gradient vector when ky0 == 0) in registers over the whole batch, stored to
// out[(K * K + 1) * 16]. A 7x7 kernel's 49 accumulators do not fit AVX-512's 32 registers: it
// takes two passes over the data, rows 0-3 then 4-6.
template <int K, int R, class T>
NIMBLE_AVX512 void channel_group_rows(const T* x, const ChannelBlocks& xv, const T* dy, const ChannelBlocks& dv,
                                      const DepthwiseGeometry& g, int64_t c0, int ky0, float* out) {
  const __mmask16 m = simd16::lanes(g.c - c0);
  __m512 a[R * K + 1];
  _Pragma("GCC unroll 32") for (int t = 0; t <= R * K; ++t) a[t] = _mm512_setzero_ps();
  const int64_t x_row = xv.w * xv.block, dy_row = dv.w * dv.block;
  for (int64_t b = 0; b < g.n; ++b) {
    const T* xb = x + xv.offset(b, c0, 0, 0);
    const T* dyb = dy + dv.offset(b, c0, 0, 0);
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const __m512 d = simd16::load(dyb + oy * dy_row + ox * dv.block, m);
        if (ky0 == 0) a[R * K] = _mm512_add_ps(a[R * K], d);
        _Pragma("GCC unroll 8") for (int r = 0; r < R; ++r) {
          const int64_t iy = oy * g.sh - g.ph + (ky0 + r) * g.dh;
          if (ky0 + r >= K || iy < 0 || iy >= g.ih) continue;
          _Pragma("GCC unroll 8") for (int kx = 0; kx < K; ++kx) {
            const int64_t ix = ox * g.sw - g.pw + kx * g.dw;
            if (ix < 0 || ix >= g.iw) continue;
            a[r * K + kx] = _mm512_fmadd_ps(simd16::load(xb + iy * x_row + ix * xv.block, m), d, a[r * K + kx]);
          }
        }
      }
  }
  const int rows = std::min(R, K - ky0);
  for (int t = 0; t < rows * K; ++t) _mm512_storeu_ps(out + (ky0 * K + t) * 16, a[t]);
  if (ky0 == 0) _mm512_storeu_ps(out + K * K * 16, a[R * K]);
}

// Kernel rows accumulated per pass over the data: all of them up to 5x5, 4 of 7 (29 accumulators).
constexpr int rows_per_pass(int k) { return k <= 5 ? k : 4; }

template <int K, class T> void all_groups(float* diff_weights, float* diff_bias, const T* x, const ChannelBlocks& xv,
                                          const T* dy, const ChannelBlocks& dv, const DepthwiseGeometry& g) {
  constexpr int R = rows_per_pass(K);
  const int64_t groups = (g.c + 15) / 16;
#pragma omp parallel for schedule(static)
  for (int64_t cg = 0; cg < groups; ++cg) {
    float sums[(K * K + 1) * 16];
    for (int ky0 = 0; ky0 < K; ky0 += R) channel_group_rows<K, R>(x, xv, dy, dv, g, cg * 16, ky0, sums);
    for (int64_t c = cg * 16; c < std::min(g.c, cg * 16 + 16); ++c) {
      for (int t = 0; t < K * K; ++t) diff_weights[c * K * K + t] = sums[t * 16 + c % 16];
      if (diff_bias) diff_bias[c] = sums[K * K * 16 + c % 16];
    }
  }
}

template <class T> void dispatch(float* diff_weights, float* diff_bias, const T* x, const ChannelBlocks& xv,
                                 const T* dy, const ChannelBlocks& dv, const DepthwiseGeometry& g) {
  switch (g.kh) {
    case 1:
      return all_groups<1>(diff_weights, diff_bias, x, xv, dy, dv, g);
    case 2:
      return all_groups<2>(diff_weights, diff_bias, x, xv, dy, dv, g);
    case 3:
      return all_groups<3>(diff_weights, diff_bias, x, xv, dy, dv, g);
    case 4:
      return all_groups<4>(diff_weights, diff_bias, x, xv, dy, dv, g);
    case 5:
      return all_groups<5>(diff_weights, diff_bias, x, xv, dy, dv, g);
    case 7:
      return all_groups<7>(diff_weights, diff_bias, x, xv, dy, dv, g);
  }
}

}  // namespace

bool depthwise_backward_weights_vectorized(const DepthwiseGeometry& g) {
  return simd16::has_avx512() && g.kh == g.kw && ((g.kh >= 1 && g.kh <= 5) || g.kh == 7);
}

void depthwise_conv_backward_weights(float* diff_weights, float* diff_bias, const void* src,
                                     const ChannelBlocks& src_view, const void* diff_dst,
                                     const ChannelBlocks& diff_dst_view, bool bf16, const DepthwiseGeometry& g) {
  if (bf16)
    dispatch(diff_weights, diff_bias, static_cast<const uint16_t*>(src), src_view,
             static_cast<const uint16_t*>(diff_dst), diff_dst_view, g);
  else
    dispatch(diff_weights, diff_bias, static_cast<const float*>(src), src_view, static_cast<const float*>(diff_dst),
             diff_dst_view, g);
}

}  // namespace nimble::kernels
