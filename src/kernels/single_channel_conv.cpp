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

  // image's values less `zero_point` (an int8 image's integers, exact in fp32). Int8 rows are
  // widened 16 at a time: the plain loop was a sixth of the int8 stem's time.
  template <class S>
  NIMBLE_AVX512 void fill(const S* image, const SingleChannelConvGeometry& g, float zero_point = 0.0f) {
    for (int64_t y = 0; y < g.ih; ++y) {
      const S* row = image + y * g.iw;
      float* to = data.data() + (y + g.ph) * w + g.pw;
      if constexpr (sizeof(S) == 1) {
        const __m512 zp = _mm512_set1_ps(zero_point);
        for (int64_t x = 0; x < g.iw; x += 16) {
          const __mmask16 m = simd16::lanes(g.iw - x);
          const __m128i bytes = _mm_maskz_loadu_epi8(m, row + x);
          const __m512i wide = std::is_signed_v<S> ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
          _mm512_mask_storeu_ps(to + x, m, _mm512_sub_ps(_mm512_cvtepi32_ps(wide), zp));
        }
      } else {
        std::transform(row, row + g.iw, to, [zero_point](S v) { return float(v) - zero_point; });
      }
    }
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
  // The clamped value's integer before saturation.
  NIMBLE_AVX512 __m512i integers(__m512 v) const {
    const __m512 y = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(lower)), _mm512_set1_ps(upper));
    return _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(y, _mm512_set1_ps(inv_scale))),
                            _mm512_set1_epi32(zero_point));
  }
  template <class D> NIMBLE_AVX512 void operator()(D* p, __m512 v, __mmask16 m) const {
    static_assert(std::is_same_v<D, uint8_t> || std::is_same_v<D, int8_t>);
    const __m512i q = integers(v);
    __m128i bytes = std::is_same_v<D, uint8_t> ? _mm512_cvtusepi32_epi8(_mm512_max_epi32(q, _mm512_setzero_si512()))
                                               : _mm512_cvtsepi32_epi8(q);
    _mm_mask_storeu_epi8(p, m, bytes);
  }
  // Four whole groups of 16 results that are 64 contiguous bytes (four pixels of a 16-channel
  // output), saturated by two packs and stored at once: one store rather than four masked
  // narrowing ones, which bounded the int8 stem. Same values as four calls of the above.
  template <class D> NIMBLE_AVX512 void four(D* p, const __m512 (&v)[4]) const {
    __m512i q[4];
    NIMBLE_UNROLL for (int i = 0; i < 4; ++i) q[i] = integers(v[i]);
    // packs interleave the four inputs by 128-bit lane: byte lane L holds pixels 0-3's lane L.
    const __m512i words01 = _mm512_packs_epi32(q[0], q[1]), words23 = _mm512_packs_epi32(q[2], q[3]);
    const __m512i bytes =
        std::is_same_v<D, uint8_t> ? _mm512_packus_epi16(words01, words23) : _mm512_packs_epi16(words01, words23);
    // Lane L, dword k (k = pixel) holds channels 4L..4L+3 of pixel k: gather dwords back per pixel.
    const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    _mm512_storeu_si512(p, _mm512_permutexvar_epi32(order, bytes));
  }
};

// P output pixels from x of one row, G groups of 16 channels: KK taps with their weights in
// registers, each input value broadcast once for all groups. Each tap's input is read through its
// own pointer, so that at stride 1 (SW = 1) the pixels are constant displacements from it:
// indexing p[off[t] + i * stride] made the int8 stem (16x28x28, AMD Zen 5) bound by address
// arithmetic, 4.3 us against 2.3 us.
template <int P, int KK, int G, int SW, bool Packed, class D, class Store>
NIMBLE_AVX512 __attribute__((always_inline)) inline void pixel_block(const float* in, int64_t x, int64_t sw,
                                                                     const int64_t* off, const __m512 (&w)[KK][G],
                                                                     const __m512 (&bias)[G], D* const (&out)[G],
                                                                     const __mmask16 (&m)[G], int64_t block,
                                                                     const Store& store) {
  __m512 a[P][G];
  NIMBLE_UNROLL for (auto& row : a) NIMBLE_UNROLL for (int j = 0; j < G; ++j) row[j] = bias[j];
  const float* p = in + x * sw;
  NIMBLE_UNROLL for (int t = 0; t < KK; ++t) {
    const float* tap = p + off[t];
    NIMBLE_UNROLL for (int i = 0; i < P; ++i) {
      const __m512 v = _mm512_set1_ps(tap[i * sw]);
      NIMBLE_UNROLL for (int j = 0; j < G; ++j) a[i][j] = _mm512_fmadd_ps(v, w[t][j], a[i][j]);
    }
  }
  if constexpr (Packed) {
    NIMBLE_UNROLL for (int i = 0; i < P; i += 4) {
      const __m512 four[4] = {a[i][0], a[i + 1][0], a[i + 2][0], a[i + 3][0]};
      store.four(out[0] + (x + i) * 16, four);
    }
  } else {
    NIMBLE_UNROLL for (int i = 0; i < P; ++i) NIMBLE_UNROLL for (int j = 0; j < G; ++j)
        store(out[j] + (x + i) * block, a[i][j], m[j]);
  }
}

// Output rows [y0, y1) of image b, G consecutive groups of 16 output channels from c0. Pixels go
// in blocks of 8 for one group and of 4 for two: 8 independent sums, enough for two FMA pipes of
// 4-cycle latency, where 4 pixels of one group had only 4.
template <int KK, int G, int SW, class D, class Store>
NIMBLE_AVX512 void forward_rows(const PaddedImage& img, const int64_t* off, const float* wt, const float* bias16,
                                D* dst, const ChannelBlocks& view, const SingleChannelConvGeometry& g, int64_t b,
                                int64_t y0, int64_t y1, int64_t c0, const Store& store) {
  constexpr int kWide = G == 1 ? 8 : 4;
  // A local copy: through the reference, every byte store (which may alias anything) made the
  // compiler reload the store's constants for each pixel.
  const Store st = store;
  // 16 channels to a pixel, all of them written: four pixels are one 64-byte store.
  constexpr bool kPacks = G == 1 && requires(const Store& s, D* p, const __m512(&v)[4]) { s.four(p, v); };
  const bool packed = kPacks && view.block == 16 && g.oc - c0 >= 16;
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
    if (packed) {
      if constexpr (kPacks) {
        for (; x + kWide <= g.ow; x += kWide)
          pixel_block<kWide, KK, G, SW, true>(in, x, sw, off, w, bias, out, m, view.block, st);
        for (; x + 4 <= g.ow; x += 4) pixel_block<4, KK, G, SW, true>(in, x, sw, off, w, bias, out, m, view.block, st);
      }
    } else {
      for (; x + kWide <= g.ow; x += kWide)
        pixel_block<kWide, KK, G, SW, false>(in, x, sw, off, w, bias, out, m, view.block, st);
      if constexpr (kWide > 4)
        for (; x + 4 <= g.ow; x += 4) pixel_block<4, KK, G, SW, false>(in, x, sw, off, w, bias, out, m, view.block, st);
    }
    for (; x < g.ow; ++x) pixel_block<1, KK, G, SW, false>(in, x, sw, off, w, bias, out, m, view.block, st);
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
