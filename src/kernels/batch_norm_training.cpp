#include "kernels/batch_norm_training.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/simd16.hpp"
#include "nimble/core/error.hpp"
#include "nimble/dist/communicator.hpp"

namespace nimble::kernels {
namespace {

inline float load(const float* p, int64_t i) { return p[i]; }
inline float load(const uint16_t* p, int64_t i) { return bf16_to_f32(p[i]); }
inline void store(float* p, int64_t i, float v) { p[i] = v; }
inline void store(uint16_t* p, int64_t i, float v) { p[i] = f32_to_bf16(v); }

// Pixels summed in fp32 before the sums move to double; small enough that a chunk of a wide nhwc
// slab stays in L1 while its sixteen-channel groups are summed one after another.
constexpr int64_t kChunk = 64;
constexpr float kInf = std::numeric_limits<float>::infinity();

// The four passes over pixels [p0, p1) of `images` slabs of one channel block, `stride` values
// apart (`block` channels per pixel, per-channel constants already offset to the block's first
// channel), first as plain loops, then sixteen channels at a time, the last group masked when
// `block` is not a multiple of 16. Several images per call keep the per-call cost small against
// the work on small maps (a 2x2 slab of 16 channels is four vectors).
//   stats:      a += x - pivot, b += (x - pivot)^2
//   normalize:  y = x * k + k0, clamped to [lo, hi]
//   grad_sums:  a += dy', b += dy' * (x - mean), dy' = dy where lo < x * k + k0 < hi, else 0
//   input_grad: dx = k * dy' + c1 * x + c0
struct Span {
  int64_t images, stride, p0, p1;
};

template <class S> void stats(const S* x, const float* pivot, int64_t block, Span r, float* a, float* b) {
  for (int64_t n = 0; n < r.images; ++n, x += r.stride)
    for (int64_t p = r.p0; p < r.p1; ++p)
      for (int64_t i = 0; i < block; ++i) {
        const float d = load(x, p * block + i) - pivot[i];
        a[i] += d;
        b[i] += d * d;
      }
}
template <class S, class D>
void normalize(const S* x, D* y, const float* k, const float* k0, int64_t block, Span r, float lo, float hi) {
  for (int64_t n = 0; n < r.images; ++n, x += r.stride, y += r.stride)
    for (int64_t p = r.p0; p < r.p1; ++p)
      for (int64_t i = 0; i < block; ++i)
        store(y, p * block + i, std::min(std::max(load(x, p * block + i) * k[i] + k0[i], lo), hi));
}
// The gradient d through the clamp of pre-activation `pre`: it passes strictly inside (lo, hi).
inline float through_clamp(float d, float pre, bool clamped, float lo, float hi) {
  return clamped && !(pre > lo && pre < hi) ? 0.0f : d;
}
template <class S, class D> void grad_sums(const S* x, const D* dy, const float* k, const float* k0, const float* mean,
                                           int64_t block, Span r, float lo, float hi, float* a, float* b) {
  const bool clamped = lo > -kInf || hi < kInf;
  for (int64_t n = 0; n < r.images; ++n, x += r.stride, dy += r.stride)
    for (int64_t p = r.p0; p < r.p1; ++p)
      for (int64_t i = 0; i < block; ++i) {
        const float xv = load(x, p * block + i);
        const float d = through_clamp(load(dy, p * block + i), xv * k[i] + k0[i], clamped, lo, hi);
        a[i] += d;
        b[i] += d * (xv - mean[i]);
      }
}
template <class S, class D> void input_grad(const S* x, const D* dy, S* dx, const float* k, const float* k0,
                                            const float* c1, const float* c0, int64_t block, Span r, float lo,
                                            float hi) {
  const bool clamped = lo > -kInf || hi < kInf;
  for (int64_t n = 0; n < r.images; ++n, x += r.stride, dy += r.stride, dx += r.stride)
    for (int64_t p = r.p0; p < r.p1; ++p)
      for (int64_t i = 0; i < block; ++i) {
        const float xv = load(x, p * block + i);
        const float d = through_clamp(load(dy, p * block + i), xv * k[i] + k0[i], clamped, lo, hi);
        store(dx, p * block + i, k[i] * d + c1[i] * xv + c0[i]);
      }
}

NIMBLE_AVX512 inline __mmask16 inside(__m512 pre, __m512 lo, __m512 hi) {
  return _mm512_cmp_ps_mask(pre, lo, _CMP_GT_OQ) & _mm512_cmp_ps_mask(pre, hi, _CMP_LT_OQ);
}

template <class S>
NIMBLE_AVX512 void stats_avx512(const S* x, const float* pivot, int64_t block, Span r, float* a, float* b) {
  for (int64_t i = 0; i < block; i += 16) {
    const __mmask16 m = simd16::lanes(block - i);
    const __m512 pv = simd16::load(pivot + i, m);
    __m512 sa = _mm512_setzero_ps(), sb = _mm512_setzero_ps();
    for (int64_t n = 0; n < r.images; ++n)
      for (int64_t p = r.p0; p < r.p1; ++p) {
        const __m512 d = _mm512_sub_ps(simd16::load(x + n * r.stride + p * block + i, m), pv);
        sa = _mm512_add_ps(sa, d);
        sb = _mm512_fmadd_ps(d, d, sb);
      }
    simd16::store(a + i, _mm512_add_ps(simd16::load(a + i, m), sa), m);
    simd16::store(b + i, _mm512_add_ps(simd16::load(b + i, m), sb), m);
  }
}
template <class S, class D> NIMBLE_AVX512 void normalize_avx512(const S* x, D* y, const float* k, const float* k0,
                                                                int64_t block, Span r, float lo, float hi) {
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  for (int64_t n = 0; n < r.images; ++n, x += r.stride, y += r.stride)
    for (int64_t p = r.p0; p < r.p1; ++p)
      for (int64_t i = 0; i < block; i += 16) {
        const __mmask16 m = simd16::lanes(block - i);
        const __m512 v =
            _mm512_fmadd_ps(simd16::load(x + p * block + i, m), simd16::load(k + i, m), simd16::load(k0 + i, m));
        simd16::store(y + p * block + i, _mm512_min_ps(_mm512_max_ps(v, vlo), vhi), m);
      }
}
template <class S, class D> NIMBLE_AVX512 void grad_sums_avx512(const S* x, const D* dy, const float* k,
                                                                const float* k0, const float* mean, int64_t block,
                                                                Span r, float lo, float hi, float* a, float* b) {
  const bool clamped = lo > -kInf || hi < kInf;
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  for (int64_t i = 0; i < block; i += 16) {
    const __mmask16 m = simd16::lanes(block - i);
    const __m512 kk = simd16::load(k + i, m), kk0 = simd16::load(k0 + i, m), mu = simd16::load(mean + i, m);
    __m512 sa = _mm512_setzero_ps(), sb = _mm512_setzero_ps();
    for (int64_t n = 0; n < r.images; ++n)
      for (int64_t p = r.p0; p < r.p1; ++p) {
        const int64_t at = n * r.stride + p * block + i;
        const __m512 xv = simd16::load(x + at, m);
        __m512 d = simd16::load(dy + at, m);
        if (clamped) d = _mm512_maskz_mov_ps(inside(_mm512_fmadd_ps(xv, kk, kk0), vlo, vhi), d);
        sa = _mm512_add_ps(sa, d);
        sb = _mm512_fmadd_ps(d, _mm512_sub_ps(xv, mu), sb);
      }
    simd16::store(a + i, _mm512_add_ps(simd16::load(a + i, m), sa), m);
    simd16::store(b + i, _mm512_add_ps(simd16::load(b + i, m), sb), m);
  }
}
template <class S, class D> NIMBLE_AVX512 void input_grad_avx512(const S* x, const D* dy, S* dx, const float* k,
                                                                 const float* k0, const float* c1, const float* c0,
                                                                 int64_t block, Span r, float lo, float hi) {
  const bool clamped = lo > -kInf || hi < kInf;
  const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
  for (int64_t n = 0; n < r.images; ++n, x += r.stride, dy += r.stride, dx += r.stride)
    for (int64_t p = r.p0; p < r.p1; ++p)
      for (int64_t i = 0; i < block; i += 16) {
        const __mmask16 m = simd16::lanes(block - i);
        const __m512 kk = simd16::load(k + i, m), xv = simd16::load(x + p * block + i, m);
        __m512 d = simd16::load(dy + p * block + i, m);
        if (clamped) d = _mm512_maskz_mov_ps(inside(_mm512_fmadd_ps(xv, kk, simd16::load(k0 + i, m)), vlo, vhi), d);
        const __m512 rest = _mm512_fmadd_ps(simd16::load(c1 + i, m), xv, simd16::load(c0 + i, m));
        simd16::store(dx + p * block + i, _mm512_fmadd_ps(kk, d, rest), m);
      }
}

bool vectorized() { return simd16::has_avx512(); }

// Each parallel work item is one channel block of a group of images: one image where a slab
// holds a chunk of pixels or more, else enough images to make about a chunk. Items go image
// group by image group, so that a thread's share of one image is contiguous in memory.
struct Items {
  const ChannelBlocks& g;
  int64_t images;  // per item
  explicit Items(const ChannelBlocks& view)
      : g(view), images(std::max<int64_t>(1, kChunk / std::max<int64_t>(1, view.h * view.w))) {}
  int64_t count() const { return g.blocks * ((g.n + images - 1) / images); }
  struct Item {
    int64_t first_channel, slab;  // of the first image
    Span span;
  };
  // Work item `item` over pixels [p0, p1).
  Item at(int64_t item, int64_t p0, int64_t p1) const {
    const int64_t cb = item % g.blocks, first_image = (item / g.blocks) * images;
    return {cb * g.block, first_image * g.blocks + cb,
            Span{std::min(images, g.n - first_image), g.blocks * g.slab_size(), p0, p1}};
  }
};

// Two per-channel sums over every pixel: f(first slab, first channel, span, a, b) adds the terms
// of the span's pixels into the block's fp32 partial sums a, b (at most a chunk of pixels at a
// time). Each thread gathers its partial sums in its own double row; the rows are added at the end.
template <class Fn>
void channel_sums(const ChannelBlocks& g, Fn f, std::vector<double>& sum_a, std::vector<double>& sum_b) {
  const int64_t c = g.channels(), block = g.block, pixels = g.h * g.w;
  const Items items(g);
  const int threads = omp_get_max_threads();
  std::vector<double> rows(size_t(threads) * 2 * c, 0.0);
#pragma omp parallel num_threads(threads)
  {
    double* mine = rows.data() + size_t(omp_get_thread_num()) * 2 * c;
    std::vector<float> a(block), b(block);
#pragma omp for
    for (int64_t item = 0; item < items.count(); ++item)
      for (int64_t p0 = 0; p0 < pixels; p0 += kChunk) {
        const Items::Item it = items.at(item, p0, std::min(pixels, p0 + kChunk));
        std::fill(a.begin(), a.end(), 0.0f);
        std::fill(b.begin(), b.end(), 0.0f);
        f(it.slab, it.first_channel, it.span, a.data(), b.data());
        for (int64_t i = 0; i < block; ++i) {
          mine[it.first_channel + i] += a[i];
          mine[c + it.first_channel + i] += b[i];
        }
      }
  }
  sum_a.assign(c, 0.0);
  sum_b.assign(c, 0.0);
  for (int t = 0; t < threads; ++t)
    for (int64_t ch = 0; ch < c; ++ch) {
      sum_a[ch] += rows[size_t(t) * 2 * c + ch];
      sum_b[ch] += rows[size_t(t) * 2 * c + c + ch];
    }
}

// Runs f(first slab, first channel, span) over every work item, in parallel.
template <class Fn> void each_item(const ChannelBlocks& g, Fn f) {
  const Items items(g);
#pragma omp parallel for
  for (int64_t item = 0; item < items.count(); ++item) {
    const Items::Item it = items.at(item, 0, g.h * g.w);
    f(it.slab, it.first_channel, it.span);
  }
}

// Synchronised batch-norm: every rank sums around rank 0's pivots, so the sums add up.
void agree_on_pivot(std::vector<float>& pivot) {
  std::vector<double> p(pivot.begin(), pivot.end());
  dist::take_rank0_values(p);
  for (size_t ch = 0; ch < p.size(); ++ch) pivot[ch] = float(p[ch]);
}

// Sums `a` and `b` (per channel) and `count` over the ranks; returns the total count.
double sum_over_ranks(double count, std::vector<double>& a, std::vector<double>& b) {
  std::vector<double> all;
  all.reserve(a.size() + b.size() + 1);
  all.insert(all.end(), a.begin(), a.end());
  all.insert(all.end(), b.begin(), b.end());
  all.push_back(count);
  dist::world().allreduce_sum(all.data(), int64_t(all.size()));
  std::copy(all.begin(), all.begin() + int64_t(a.size()), a.begin());
  std::copy(all.begin() + int64_t(a.size()), all.end() - 1, b.begin());
  return all.back();
}

template <class S, class D>
void forward(const BatchNormTensors& t, const S* src, D* dst, float* mean, float* variance) {
  const ChannelBlocks& g = t.g;
  const int64_t c = g.channels(), block = g.block, pixels = g.h * g.w, size = g.slab_size();
  const double local_count = double(g.n * pixels);
  const bool vector = vectorized();
  // Sums of (x - pivot) and its square, the pivot being each channel's first value: the variance
  // then does not cancel when the mean is large against the spread.
  std::vector<float> pivot(c);
  for (int64_t ch = 0; ch < c; ++ch) pivot[ch] = load(src, (ch / block) * size + ch % block);
  if (t.synchronized) agree_on_pivot(pivot);
  std::vector<double> sum, sum_sq;
  channel_sums(
      g,
      [&](int64_t s, int64_t base, Span r, float* a, float* b) {
        if (vector)
          stats_avx512(src + s * size, pivot.data() + base, block, r, a, b);
        else
          stats(src + s * size, pivot.data() + base, block, r, a, b);
      },
      sum, sum_sq);
  const double count = t.synchronized ? sum_over_ranks(local_count, sum, sum_sq) : local_count;
  std::vector<float> k(c), k0(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    const double m = sum[ch] / count;
    const double var = std::max(0.0, sum_sq[ch] / count - m * m);
    mean[ch] = float(pivot[ch] + m);
    variance[ch] = float(var);
    const double kk = t.scale[ch] / std::sqrt(var + t.eps);
    k[ch] = float(kk);
    k0[ch] = float(t.shift[ch] - (pivot[ch] + m) * kk);
  }
  each_item(g, [&](int64_t s, int64_t base, Span r) {
    if (vector)
      normalize_avx512(src + s * size, dst + s * size, k.data() + base, k0.data() + base, block, r, t.lower, t.upper);
    else
      normalize(src + s * size, dst + s * size, k.data() + base, k0.data() + base, block, r, t.lower, t.upper);
  });
}

template <class S, class D> void backward(const BatchNormTensors& t, const S* src, const D* diff_dst, const float* mean,
                                          const float* variance, S* diff_src, float* diff_scale, float* diff_shift) {
  const ChannelBlocks& g = t.g;
  const int64_t c = g.channels(), block = g.block, pixels = g.h * g.w, size = g.slab_size();
  const double local_count = double(g.n * pixels);
  const bool vector = vectorized();
  std::vector<float> k(c), k0(c);  // the forward's pre-clamp y = x * k + k0, for the clamp's mask
  std::vector<double> inv_std(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    inv_std[ch] = 1.0 / std::sqrt(double(variance[ch]) + t.eps);
    k[ch] = float(t.scale[ch] * inv_std[ch]);
    k0[ch] = float(t.shift[ch] - mean[ch] * (t.scale[ch] * inv_std[ch]));
  }
  std::vector<double> sum_dy, sum_dy_x;  // sums of dy' and of dy' * (x - mean)
  channel_sums(
      g,
      [&](int64_t s, int64_t base, Span r, float* a, float* b) {
        const S* x = src + s * size;
        const D* dy = diff_dst + s * size;
        if (vector)
          grad_sums_avx512(x, dy, k.data() + base, k0.data() + base, mean + base, block, r, t.lower, t.upper, a, b);
        else
          grad_sums(x, dy, k.data() + base, k0.data() + base, mean + base, block, r, t.lower, t.upper, a, b);
      },
      sum_dy, sum_dy_x);
  for (int64_t ch = 0; ch < c; ++ch) {
    diff_shift[ch] = float(sum_dy[ch]);
    diff_scale[ch] = float(sum_dy_x[ch] * inv_std[ch]);
  }
  if (!diff_src) return;
  const double count = t.synchronized ? sum_over_ranks(local_count, sum_dy, sum_dy_x) : local_count;
  // dx = k * (dy' - mean(dy') - (x - mean) * mean(dy' * (x - mean)) / (var + eps)) = k * dy' + c1 * x + c0
  std::vector<float> c1(c), c0(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    const double kk = t.scale[ch] * inv_std[ch];
    const double cc1 = -kk * inv_std[ch] * inv_std[ch] * sum_dy_x[ch] / count;
    c1[ch] = float(cc1);
    c0[ch] = float(-kk * sum_dy[ch] / count - cc1 * mean[ch]);
  }
  each_item(g, [&](int64_t s, int64_t base, Span r) {
    const S* x = src + s * size;
    const D* dy = diff_dst + s * size;
    S* dx = diff_src + s * size;
    if (vector)
      input_grad_avx512(x, dy, dx, k.data() + base, k0.data() + base, c1.data() + base, c0.data() + base, block, r,
                        t.lower, t.upper);
    else
      input_grad(x, dy, dx, k.data() + base, k0.data() + base, c1.data() + base, c0.data() + base, block, r, t.lower,
                 t.upper);
  });
}

template <class S, class D>
void forward_as(const BatchNormTensors& t, const void* src, void* dst, float* mean, float* variance) {
  forward(t, static_cast<const S*>(src), static_cast<D*>(dst), mean, variance);
}
template <class S, class D> void backward_as(const BatchNormTensors& t, const void* src, const void* diff_dst,
                                             const float* mean, const float* variance, void* diff_src,
                                             float* diff_scale, float* diff_shift) {
  backward(t, static_cast<const S*>(src), static_cast<const D*>(diff_dst), mean, variance, static_cast<S*>(diff_src),
           diff_scale, diff_shift);
}

void check_types(const BatchNormTensors& t) {
  auto ok = [](DType d) { return d == DType::f32 || d == DType::bf16; };
  NIMBLE_CHECK(ok(t.src_type) && ok(t.dst_type), "batch_norm_training: only f32 and bf16 tensors are supported");
}

}  // namespace

void batch_norm_forward_training(const BatchNormTensors& t, const void* src, void* dst, float* mean, float* variance) {
  check_types(t);
  const bool s16 = t.src_type == DType::bf16, d16 = t.dst_type == DType::bf16;
  if (!s16 && !d16) forward_as<float, float>(t, src, dst, mean, variance);
  if (!s16 && d16) forward_as<float, uint16_t>(t, src, dst, mean, variance);
  if (s16 && !d16) forward_as<uint16_t, float>(t, src, dst, mean, variance);
  if (s16 && d16) forward_as<uint16_t, uint16_t>(t, src, dst, mean, variance);
}

void batch_norm_backward(const BatchNormTensors& t, const void* src, const void* diff_dst, const float* mean,
                         const float* variance, void* diff_src, float* diff_scale, float* diff_shift) {
  check_types(t);
  const bool s16 = t.src_type == DType::bf16, d16 = t.dst_type == DType::bf16;
  if (!s16 && !d16) backward_as<float, float>(t, src, diff_dst, mean, variance, diff_src, diff_scale, diff_shift);
  if (!s16 && d16) backward_as<float, uint16_t>(t, src, diff_dst, mean, variance, diff_src, diff_scale, diff_shift);
  if (s16 && !d16) backward_as<uint16_t, float>(t, src, diff_dst, mean, variance, diff_src, diff_scale, diff_shift);
  if (s16 && d16) backward_as<uint16_t, uint16_t>(t, src, diff_dst, mean, variance, diff_src, diff_scale, diff_shift);
}

}  // namespace nimble::kernels
