#include "kernels/single_channel_conv.hpp"

#include <omp.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/simd16.hpp"

namespace nimble::kernels {
namespace {

// One image zero-padded so that every tap of every output pixel reads inside it.
struct PaddedImage {
  int64_t h, w;
  std::vector<float> data;

  explicit PaddedImage(const SingleChannelConvGeometry& g)
      : h(std::max(g.ih + g.ph, (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1)),
        w(std::max(g.iw + g.pw, (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1)),
        data(size_t(h * w), 0.0f) {}

  // image's values less `zero_point` (an int8 image's integers, exact in fp32).
  template <class S> void fill(const S* image, const SingleChannelConvGeometry& g, float zero_point = 0.0f) {
    for (int64_t y = 0; y < g.ih; ++y)
      std::transform(image + y * g.iw, image + (y + 1) * g.iw, data.data() + (y + g.ph) * w + g.pw,
                     [zero_point](S v) { return float(v) - zero_point; });
  }
  // Offsets of the taps from a pixel's top-left input position.
  std::vector<int64_t> tap_offsets(const SingleChannelConvGeometry& g) const {
    std::vector<int64_t> off;
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) off.push_back(ky * g.dh * w + kx * g.dw);
    return off;
  }
};

// GCC at -O2 keeps the small register arrays below in memory unless their loops are unrolled.
#define NIMBLE_UNROLL _Pragma("GCC unroll 32")

// How forward_rows stores 16 results: clamped to [lower, upper] (the activation) as fp32 or bf16,
// or then also quantized to u8 / s8 as nimble::quantize_value does (round half to even under the
// default MXCSR, zero point, saturation).
struct FloatStore {
  float lower, upper;
  template <class D> NIMBLE_AVX512 void operator()(D* p, __m512 v, __mmask16 m) const {
    simd16::store(p, _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(lower)), _mm512_set1_ps(upper)), m);
  }
};
struct Int8Store {
  float lower, upper, inv_scale;
  int32_t zero_point;
  template <class D> NIMBLE_AVX512 void operator()(D* p, __m512 v, __mmask16 m) const {
    static_assert(std::is_same_v<D, uint8_t> || std::is_same_v<D, int8_t>);
    const __m512 y = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(lower)), _mm512_set1_ps(upper));
    const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(y, _mm512_set1_ps(inv_scale))),
                                       _mm512_set1_epi32(zero_point));
    __m128i bytes = std::is_same_v<D, uint8_t> ? _mm512_cvtusepi32_epi8(_mm512_max_epi32(q, _mm512_setzero_si512()))
                                               : _mm512_cvtsepi32_epi8(q);
    _mm_mask_storeu_epi8(p, m, bytes);
  }
};

// Output rows [y0, y1) of image b, G consecutive groups of 16 output channels from c0 (each input
// value is broadcast once for all of them); KK taps with their weights in registers, four pixels
// at a time. Each tap's input is read through its own pointer, so that at stride 1 (SW = 1) the
// four pixels are constant displacements from it: indexing p[off[t] + i * stride] made the int8
// stem (16x28x28, AMD Zen 5) bound by address arithmetic, 4.3 us against 2.3 us.
template <int KK, int G, int SW, class D, class Store>
NIMBLE_AVX512 void forward_rows(const PaddedImage& img, const int64_t* off, const float* wt, const float* bias16,
                                D* dst, const ChannelBlocks& view, const SingleChannelConvGeometry& g, int64_t b,
                                int64_t y0, int64_t y1, int64_t c0, const Store& store) {
  __mmask16 m[G];
  __m512 w[KK][G], bias[G];
  NIMBLE_UNROLL for (int j = 0; j < G; ++j) {
    m[j] = simd16::lanes(g.oc - c0 - 16 * j);
    NIMBLE_UNROLL for (int t = 0; t < KK; ++t) w[t][j] = _mm512_loadu_ps(wt + (j * KK + t) * 16);
    bias[j] = _mm512_loadu_ps(bias16 + j * 16);
  }
  const int64_t sw = SW > 0 ? SW : g.sw;
  for (int64_t y = y0; y < y1; ++y) {
    const float* in = img.data.data() + y * g.sh * img.w;
    D* out[G];
    NIMBLE_UNROLL for (int j = 0; j < G; ++j) out[j] = dst + view.offset(b, c0 + 16 * j, y, 0);
    int64_t x = 0;
    for (; x + 4 <= g.ow; x += 4) {
      __m512 a[4][G];
      NIMBLE_UNROLL for (auto& row : a) NIMBLE_UNROLL for (int j = 0; j < G; ++j) row[j] = bias[j];
      const float* p = in + x * sw;
      NIMBLE_UNROLL for (int t = 0; t < KK; ++t) {
        const float* tap = p + off[t];
        NIMBLE_UNROLL for (int i = 0; i < 4; ++i) {
          const __m512 v = _mm512_set1_ps(tap[i * sw]);
          NIMBLE_UNROLL for (int j = 0; j < G; ++j) a[i][j] = _mm512_fmadd_ps(v, w[t][j], a[i][j]);
        }
      }
      NIMBLE_UNROLL for (int i = 0; i < 4; ++i) NIMBLE_UNROLL for (int j = 0; j < G; ++j)
          store(out[j] + (x + i) * view.block, a[i][j], m[j]);
    }
    for (; x < g.ow; ++x) {
      __m512 a[G];
      NIMBLE_UNROLL for (int j = 0; j < G; ++j) a[j] = bias[j];
      const float* p = in + x * g.sw;
      NIMBLE_UNROLL for (int t = 0; t < KK; ++t) {
        const __m512 v = _mm512_set1_ps(p[off[t]]);
        NIMBLE_UNROLL for (int j = 0; j < G; ++j) a[j] = _mm512_fmadd_ps(v, w[t][j], a[j]);
      }
      NIMBLE_UNROLL for (int j = 0; j < G; ++j) store(out[j] + x * view.block, a[j], m[j]);
    }
  }
}

// Rows [y0, y1) of image b, G groups of 16 channels from c0: adds their contribution to each
// group's KK weight-gradient vectors and bias-gradient vector in `acc` (KK + 1 vectors of 16 each).
template <int KK, int G, class D> NIMBLE_AVX512 void backward_rows(const PaddedImage& img, const int64_t* off,
                                                                   const D* diff_dst, const ChannelBlocks& view,
                                                                   const SingleChannelConvGeometry& g, int64_t b,
                                                                   int64_t y0, int64_t y1, int64_t c0, float* acc) {
  __mmask16 m[G];
  __m512 a[KK + 1][G];
  NIMBLE_UNROLL for (int j = 0; j < G; ++j) {
    m[j] = simd16::lanes(g.oc - c0 - 16 * j);
    NIMBLE_UNROLL for (int t = 0; t <= KK; ++t) a[t][j] = _mm512_loadu_ps(acc + (j * (KK + 1) + t) * 16);
  }
  for (int64_t y = y0; y < y1; ++y) {
    const float* in = img.data.data() + y * g.sh * img.w;
    const D* dy[G];
    NIMBLE_UNROLL for (int j = 0; j < G; ++j) dy[j] = diff_dst + view.offset(b, c0 + 16 * j, y, 0);
    for (int64_t x = 0; x < g.ow; ++x) {
      __m512 d[G];
      NIMBLE_UNROLL for (int j = 0; j < G; ++j) {
        d[j] = simd16::load(dy[j] + x * view.block, m[j]);
        a[KK][j] = _mm512_add_ps(a[KK][j], d[j]);
      }
      const float* p = in + x * g.sw;
      NIMBLE_UNROLL for (int t = 0; t < KK; ++t) {
        const __m512 v = _mm512_set1_ps(p[off[t]]);
        NIMBLE_UNROLL for (int j = 0; j < G; ++j) a[t][j] = _mm512_fmadd_ps(v, d[j], a[t][j]);
      }
    }
  }
  NIMBLE_UNROLL for (int j = 0; j < G; ++j) NIMBLE_UNROLL for (int t = 0; t <= KK; ++t)
      _mm512_storeu_ps(acc + (j * (KK + 1) + t) * 16, a[t][j]);
}

int64_t groups_of_16(int64_t c) { return (c + 15) / 16; }

// Inside a parallel region: this thread's share of the N x OH output rows, as (image, first row,
// end row) slices, with `img` holding that image padded. Rows rather than images are shared out
// so that a batch smaller than the thread count keeps every thread busy.
template <class S, class F>
void for_each_slice(PaddedImage& img, const S* src, const SingleChannelConvGeometry& g, F f, float zero_point = 0.0f) {
  const int64_t rows = g.n * g.oh, threads = omp_get_num_threads(), t = omp_get_thread_num();
  const int64_t r0 = rows * t / threads, r1 = rows * (t + 1) / threads;
  for (int64_t r = r0; r < r1;) {
    const int64_t b = r / g.oh, y0 = r % g.oh, y1 = std::min(g.oh, y0 + (r1 - r));
    img.fill(src + b * g.ih * g.iw, g, zero_point);
    f(b, y0, y1);
    r += y1 - y0;
  }
}

template <int KK, class S, class D, class Store>
void forward_all(const S* src, float src_zero_point, const float* weights, const float* bias, D* dst,
                 const ChannelBlocks& view, const SingleChannelConvGeometry& g, const Store& store) {
  const int64_t groups = groups_of_16(g.oc);
  // Weights transposed to (group, tap, 16 channels) and the bias to (group, 16), zero-padded.
  std::vector<float> wt(size_t(groups * KK * 16), 0.0f), b16(size_t(groups * 16), 0.0f);
  for (int64_t c = 0; c < g.oc; ++c) {
    for (int t = 0; t < KK; ++t) wt[size_t(((c / 16) * KK + t) * 16 + c % 16)] = weights[c * KK + t];
    if (bias) b16[size_t(c)] = bias[c];
  }
  const auto rows = [&] {
    PaddedImage img(g);
    const std::vector<int64_t> off = img.tap_offsets(g);
    for_each_slice(
        img, src, g,
        [&](int64_t b, int64_t y0, int64_t y1) {
          const auto run = [&](auto groups_at_once, auto stride, int64_t cg) {
            forward_rows<KK, groups_at_once(), stride()>(img, off.data(), wt.data() + cg * KK * 16,
                                                         b16.data() + cg * 16, dst, view, g, b, y0, y1, cg * 16, store);
          };
          const auto with_stride = [&](auto groups_at_once, int64_t cg) {
            if (g.sw == 1)
              run(groups_at_once, std::integral_constant<int, 1>{}, cg);
            else
              run(groups_at_once, std::integral_constant<int, 0>{}, cg);
          };
          int64_t cg = 0;
          for (; cg + 2 <= groups; cg += 2) with_stride(std::integral_constant<int, 2>{}, cg);
          if (cg < groups) with_stride(std::integral_constant<int, 1>{}, cg);
        },
        src_zero_point);
  };
  // A parallel region costs microseconds: a one-thread session (batch 1) calls the work directly.
  if (omp_get_max_threads() == 1) {
    rows();
  } else {
#pragma omp parallel
    rows();
  }
}

template <int KK, class D> void backward_all(const float* src, const D* diff_dst, const ChannelBlocks& view,
                                             const SingleChannelConvGeometry& g, float* diff_weights,
                                             float* diff_bias) {
  const int64_t groups = groups_of_16(g.oc), per_thread = groups * (KK + 1) * 16;
  const int threads = omp_get_max_threads();
  std::vector<float> partial(size_t(threads * per_thread), 0.0f);
#pragma omp parallel num_threads(threads)
  {
    PaddedImage img(g);
    const std::vector<int64_t> off = img.tap_offsets(g);
    float* mine = partial.data() + omp_get_thread_num() * per_thread;
    for_each_slice(img, src, g, [&](int64_t b, int64_t y0, int64_t y1) {
      int64_t cg = 0;
      for (; cg + 2 <= groups; cg += 2)
        backward_rows<KK, 2>(img, off.data(), diff_dst, view, g, b, y0, y1, cg * 16, mine + cg * (KK + 1) * 16);
      if (cg < groups)
        backward_rows<KK, 1>(img, off.data(), diff_dst, view, g, b, y0, y1, cg * 16, mine + cg * (KK + 1) * 16);
    });
  }
  for (int64_t c = 0; c < g.oc; ++c) {
    const int64_t base = (c / 16) * (KK + 1) * 16 + c % 16;
    for (int t = 0; t <= KK; ++t) {
      float s = 0.0f;
      for (int th = 0; th < threads; ++th) s += partial[size_t(th * per_thread + base + t * 16)];
      if (t < KK)
        diff_weights[c * KK + t] = s;
      else if (diff_bias)
        diff_bias[c] = s;
    }
  }
}

// Calls f with the tap count as a compile-time constant (square kernels up to 5x5).
template <class F> void with_taps(int64_t kk, F f) {
  switch (kk) {
    case 1:
      return f(std::integral_constant<int, 1>{});
    case 4:
      return f(std::integral_constant<int, 4>{});
    case 9:
      return f(std::integral_constant<int, 9>{});
    case 16:
      return f(std::integral_constant<int, 16>{});
    case 25:
      return f(std::integral_constant<int, 25>{});
  }
}

}  // namespace

bool single_channel_conv_supported(const SingleChannelConvGeometry& g) {
  const int64_t kk = g.kh * g.kw;
  return simd16::has_avx512() && g.kh == g.kw && (kk == 1 || kk == 4 || kk == 9 || kk == 16 || kk == 25);
}

void single_channel_conv_forward(const float* src, const float* weights, const float* bias, void* dst, bool dst_bf16,
                                 const ChannelBlocks& view, const SingleChannelConvGeometry& g, float lower,
                                 float upper) {
  const FloatStore store{lower, upper};
  with_taps(g.kh * g.kw, [&](auto kk) {
    if (dst_bf16)
      forward_all<kk()>(src, 0.0f, weights, bias, static_cast<uint16_t*>(dst), view, g, store);
    else
      forward_all<kk()>(src, 0.0f, weights, bias, static_cast<float*>(dst), view, g, store);
  });
}

void single_channel_qconv_forward(const void* src, const QParams& src_q, const float* weights, const float* bias,
                                  void* dst, const QParams& dst_q, const ChannelBlocks& view,
                                  const SingleChannelConvGeometry& g, float lower, float upper) {
  const Int8Store store{lower, upper, 1.0f / dst_q.scale, dst_q.zero_point};
  const auto zp = float(src_q.zero_point);
  with_taps(g.kh * g.kw, [&](auto kk) {
    auto to = [&](auto* in) {
      if (dst_q.dtype == DType::u8)
        forward_all<kk()>(in, zp, weights, bias, static_cast<uint8_t*>(dst), view, g, store);
      else
        forward_all<kk()>(in, zp, weights, bias, static_cast<int8_t*>(dst), view, g, store);
    };
    if (src_q.dtype == DType::u8)
      to(static_cast<const uint8_t*>(src));
    else
      to(static_cast<const int8_t*>(src));
  });
}

void single_channel_conv_backward_weights(const float* src, const void* diff_dst, bool diff_dst_bf16,
                                          const ChannelBlocks& view, const SingleChannelConvGeometry& g,
                                          float* diff_weights, float* diff_bias) {
  with_taps(g.kh * g.kw, [&](auto kk) {
    if (diff_dst_bf16)
      backward_all<kk()>(src, static_cast<const uint16_t*>(diff_dst), view, g, diff_weights, diff_bias);
    else
      backward_all<kk()>(src, static_cast<const float*>(diff_dst), view, g, diff_weights, diff_bias);
  });
}

}  // namespace nimble::kernels
