#include "kernels/max_pool_2x2.hpp"

#include <cstring>
#include <type_traits>

#include "kernels/simd16.hpp"
#include "nimble/core/dtype.hpp"

namespace nimble::kernels {
namespace {

inline float value(float v) { return v; }
inline float value(uint16_t v) { return bf16_to_f32(v); }

// One output row: `top` and `bottom` are the two input rows, `out`/`arg` the output row.
template <class T> void forward_row(const T* top, const T* bottom, T* out, uint8_t* arg, int64_t ow, int64_t block) {
  for (int64_t x = 0; x < ow; ++x) {
    const T *a = top + 2 * x * block, *b = a + block, *c = bottom + 2 * x * block, *d = c + block;
    T* o = out + x * block;
    uint8_t* k = arg + x * block;
    for (int64_t i = 0; i < block; ++i) {
      const bool right_top = value(b[i]) > value(a[i]), right_bottom = value(d[i]) > value(c[i]);
      const T up = right_top ? b[i] : a[i], down = right_bottom ? d[i] : c[i];
      const bool lower = value(down) > value(up);
      o[i] = lower ? down : up;
      k[i] = uint8_t(lower ? 2 + right_bottom : right_top);
    }
  }
}

template <class T> void backward_row(const T* grad, const uint8_t* arg, T* top, T* bottom, int64_t ow, int64_t block) {
  const T zero{};
  for (int64_t x = 0; x < ow; ++x) {
    T *a = top + 2 * x * block, *b = a + block, *c = bottom + 2 * x * block, *d = c + block;
    const T* g = grad + x * block;
    const uint8_t* k = arg + x * block;
    for (int64_t i = 0; i < block; ++i) {
      a[i] = k[i] == 0 ? g[i] : zero;
      b[i] = k[i] == 1 ? g[i] : zero;
      c[i] = k[i] == 2 ? g[i] : zero;
      d[i] = k[i] == 3 ? g[i] : zero;
    }
  }
}

// The same rows, sixteen channels at a time (block a multiple of 16).
template <class T>
NIMBLE_AVX512 void forward_row_avx512(const T* top, const T* bottom, T* out, uint8_t* arg, int64_t ow, int64_t block) {
  const __m512i one = _mm512_set1_epi32(1), two = _mm512_set1_epi32(2);
  for (int64_t x = 0; x < ow; ++x) {
    const T *a = top + 2 * x * block, *b = a + block, *c = bottom + 2 * x * block, *d = c + block;
    for (int64_t i = 0; i < block; i += 16) {
      const __m512 va = simd16::load(a + i), vb = simd16::load(b + i), vc = simd16::load(c + i),
                   vd = simd16::load(d + i);
      const __mmask16 right_top = _mm512_cmp_ps_mask(vb, va, _CMP_GT_OQ);
      const __mmask16 right_bottom = _mm512_cmp_ps_mask(vd, vc, _CMP_GT_OQ);
      const __m512 up = _mm512_mask_blend_ps(right_top, va, vb), down = _mm512_mask_blend_ps(right_bottom, vc, vd);
      const __mmask16 lower = _mm512_cmp_ps_mask(down, up, _CMP_GT_OQ);
      simd16::store(out + x * block + i, _mm512_mask_blend_ps(lower, up, down));  // bf16 -> fp32 -> bf16 is exact
      __m512i k = _mm512_maskz_mov_epi32(right_top, one);
      k = _mm512_mask_mov_epi32(k, lower, _mm512_add_epi32(two, _mm512_maskz_mov_epi32(right_bottom, one)));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(arg + x * block + i), _mm512_cvtepi32_epi8(k));
    }
  }
}

template <class T> NIMBLE_AVX512 void backward_row_avx512(const T* grad, const uint8_t* arg, T* top, T* bottom,
                                                          int64_t ow, int64_t block) {
  for (int64_t x = 0; x < ow; ++x) {
    T* corner[4] = {top + 2 * x * block, top + 2 * x * block + block, bottom + 2 * x * block,
                    bottom + 2 * x * block + block};
    for (int64_t i = 0; i < block; i += 16) {
      const __m512i k = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(arg + x * block + i)));
      for (int q = 0; q < 4; ++q) {
        const __mmask16 mine = _mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(q));
        if constexpr (std::is_same_v<T, float>) {
          _mm512_storeu_ps(corner[q] + i, _mm512_maskz_mov_ps(mine, _mm512_loadu_ps(grad + x * block + i)));
        } else {
          const __m256i g = simd16::load_raw(grad + x * block + i);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(corner[q] + i), _mm256_maskz_mov_epi16(mine, g));
        }
      }
    }
  }
}

template <class T> void forward(const T* src, T* dst, uint8_t* argmax, const ChannelBlocks& g) {
  const int64_t oh = g.h / 2, ow = g.w / 2, row = g.w * g.block, out_row = ow * g.block;
  const bool vector = g.block % 16 == 0 && simd16::has_avx512();
#pragma omp parallel for collapse(2)
  for (int64_t s = 0; s < g.slabs(); ++s)
    for (int64_t y = 0; y < oh; ++y) {
      const T* top = src + (s * g.h + 2 * y) * row;
      const int64_t out = (s * oh + y) * out_row;
      if (vector)
        forward_row_avx512(top, top + row, dst + out, argmax + out, ow, g.block);
      else
        forward_row(top, top + row, dst + out, argmax + out, ow, g.block);
    }
}

template <class T> void backward(const T* diff_dst, const uint8_t* argmax, T* diff_src, const ChannelBlocks& g) {
  const int64_t oh = g.h / 2, ow = g.w / 2, row = g.w * g.block, out_row = ow * g.block;
  const bool vector = g.block % 16 == 0 && simd16::has_avx512();
#pragma omp parallel for
  for (int64_t s = 0; s < g.slabs(); ++s) {
    T* slab = diff_src + s * g.h * row;
    for (int64_t y = 0; y < oh; ++y) {
      T* top = slab + 2 * y * row;
      const int64_t out = (s * oh + y) * out_row;
      if (vector)
        backward_row_avx512(diff_dst + out, argmax + out, top, top + row, ow, g.block);
      else
        backward_row(diff_dst + out, argmax + out, top, top + row, ow, g.block);
      if (g.w % 2) {  // the dropped last column, in both rows
        std::memset(top + 2 * ow * g.block, 0, sizeof(T) * g.block);
        std::memset(top + row + 2 * ow * g.block, 0, sizeof(T) * g.block);
      }
    }
    if (g.h % 2) std::memset(slab + 2 * oh * row, 0, sizeof(T) * row);  // the dropped last row
  }
}

}  // namespace

void max_pool_2x2_forward(const float* src, float* dst, uint8_t* argmax, const ChannelBlocks& g) {
  forward(src, dst, argmax, g);
}
void max_pool_2x2_forward(const uint16_t* src, uint16_t* dst, uint8_t* argmax, const ChannelBlocks& g) {
  forward(src, dst, argmax, g);
}
void max_pool_2x2_backward(const float* diff_dst, const uint8_t* argmax, float* diff_src, const ChannelBlocks& g) {
  backward(diff_dst, argmax, diff_src, g);
}
void max_pool_2x2_backward(const uint16_t* diff_dst, const uint8_t* argmax, uint16_t* diff_src,
                           const ChannelBlocks& g) {
  backward(diff_dst, argmax, diff_src, g);
}

}  // namespace nimble::kernels
