// The hand-written training kernels (batch-norm + ReLU/ReLU6, 2x2 max pool) against plain double
// references, in both channel-innermost layouts, fp32 and bf16, on sizes with odd rows, columns
// and a channel count that is not a multiple of 16 (nhwc only).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <vector>

#include "kernels/batch_norm_training.hpp"
#include "kernels/max_pool_2x2.hpp"

namespace nimble::kernels {
namespace {

struct Buffer {  // one tensor stored as f32 or bf16
  DType type;
  std::vector<float> f;
  std::vector<uint16_t> h;
  Buffer(DType t, int64_t n) : type(t), f(t == DType::f32 ? n : 0), h(t == DType::bf16 ? n : 0) {}
  void* data() { return type == DType::f32 ? static_cast<void*>(f.data()) : static_cast<void*>(h.data()); }
  float get(int64_t i) const { return type == DType::f32 ? f[i] : bf16_to_f32(h[i]); }
  void set(int64_t i, float v) {
    if (type == DType::f32)
      f[i] = v;
    else
      h[i] = f32_to_bf16(v);
  }
};

constexpr float kInf = std::numeric_limits<float>::infinity();

const ChannelBlocks kLayouts[] = {
    {3, 1, 5, 7, 20},   // nhwc, 20 channels (a masked group of 4), odd sizes
    {2, 2, 6, 4, 16},   // nChw16c, 32 channels
    {4, 1, 3, 3, 48},   // nhwc, three vector widths of channels
    {5, 1, 4, 5, 8},    // nhwc, 8 channels: one masked group
    {37, 3, 2, 2, 16},  // nChw16c 2x2: batch-norm sums 16 images per fp32 partial, the last group 5
};

// Each test runs the AVX-512 loops (where the CPU has them) and the plain ones.
class TrainingKernels : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) setenv("NIMBLE_PLAIN_KERNELS", "1", 1);
  }
  void TearDown() override { unsetenv("NIMBLE_PLAIN_KERNELS"); }
};
INSTANTIATE_TEST_SUITE_P(Loops, TrainingKernels, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "plain" : "vector"; });

TEST_P(TrainingKernels, BatchNormMatchesDoubleReference) {
  for (const ChannelBlocks& g : kLayouts)
    for (DType src_t : {DType::f32, DType::bf16})
      for (DType dst_t : {DType::f32, DType::bf16})
        for (float upper : {-1.0f, kInf, 6.0f}) {  // no clamp, ReLU, ReLU6
          const bool clamp = upper >= 0;
          SCOPED_TRACE(std::to_string(g.block) + "-blocks " + dtype_name(src_t) + "->" + dtype_name(dst_t) +
                       " clamp to " + (clamp ? std::to_string(upper) : "none"));
          const int64_t c = g.channels(), m = g.n * g.h * g.w;
          std::mt19937 rng(3);
          std::normal_distribution<float> nd(0.0f, 1.0f);
          Buffer x(src_t, g.numel()), y(dst_t, g.numel()), dy(dst_t, g.numel()), dx(src_t, g.numel());
          for (int64_t i = 0; i < g.numel(); ++i) {
            x.set(i, 50.0f + 2.0f * nd(rng));  // a mean large against the spread
            dy.set(i, nd(rng));
          }
          std::vector<float> scale(c), shift(c), mean(c), var(c), dscale(c), dshift(c);
          // Scales up to ~3 and shifts around 3 put values on both sides of 0 and of 6.
          for (int64_t ch = 0; ch < c; ++ch) scale[ch] = 0.5f + 0.05f * ch, shift[ch] = 3.0f - 0.05f * ch;
          BatchNormTensors t{g, src_t, dst_t, scale.data(), shift.data(), 1e-5f};
          if (clamp) t.lower = 0.0f, t.upper = upper;
          batch_norm_forward_training(t, x.data(), y.data(), mean.data(), var.data());
          batch_norm_backward(t, x.data(), dy.data(), mean.data(), var.data(), dx.data(), dscale.data(), dshift.data());
          const double out_tol = dst_t == DType::bf16 ? 1.0 / 128 : 1e-4,
                       in_tol = src_t == DType::bf16 ? 1.0 / 64 : 1e-3;
          for (int64_t ch = 0; ch < c; ++ch) {
            double mu = 0, v = 0;
            for (int64_t b = 0; b < g.n; ++b)
              for (int64_t yy = 0; yy < g.h; ++yy)
                for (int64_t xx = 0; xx < g.w; ++xx) mu += x.get(g.offset(b, ch, yy, xx));
            mu /= double(m);
            for (int64_t b = 0; b < g.n; ++b)
              for (int64_t yy = 0; yy < g.h; ++yy)
                for (int64_t xx = 0; xx < g.w; ++xx) v += std::pow(x.get(g.offset(b, ch, yy, xx)) - mu, 2);
            v /= double(m);
            EXPECT_NEAR(mean[ch], mu, 1e-4 * std::fabs(mu));
            EXPECT_NEAR(var[ch], v, 1e-4 * v);
            const double inv = 1.0 / std::sqrt(v + 1e-5);
            double sdy = 0, sdyx = 0;
            std::vector<double> xhat, g_out;
            for (int64_t b = 0; b < g.n; ++b)
              for (int64_t yy = 0; yy < g.h; ++yy)
                for (int64_t xx = 0; xx < g.w; ++xx) {
                  const int64_t at = g.offset(b, ch, yy, xx);
                  const double xh = (x.get(at) - mu) * inv, pre = xh * scale[ch] + shift[ch];
                  const double want = clamp ? std::min(std::max(pre, 0.0), double(upper)) : pre;
                  ASSERT_NEAR(y.get(at), want, out_tol * (1 + std::fabs(want))) << "y at channel " << ch;
                  const double d = clamp && !(pre > 0 && pre < upper) ? 0.0 : dy.get(at);
                  sdy += d, sdyx += d * xh;
                }
            EXPECT_NEAR(dshift[ch], sdy, 1e-3 * (1 + std::fabs(sdy)));
            EXPECT_NEAR(dscale[ch], sdyx, 1e-3 * (1 + std::fabs(sdyx)));
            for (int64_t b = 0; b < g.n; ++b)
              for (int64_t yy = 0; yy < g.h; ++yy)
                for (int64_t xx = 0; xx < g.w; ++xx) {
                  const int64_t at = g.offset(b, ch, yy, xx);
                  const double xh = (x.get(at) - mu) * inv, pre = xh * scale[ch] + shift[ch];
                  const double d = clamp && !(pre > 0 && pre < upper) ? 0.0 : dy.get(at);
                  const double want = scale[ch] * inv * (d - sdy / double(m) - xh * sdyx / double(m));
                  ASSERT_NEAR(dx.get(at), want, in_tol * (1 + std::fabs(want))) << "dx at channel " << ch;
                }
          }
          // Without diff_src only the parameter gradients are written.
          std::vector<float> dscale2(c), dshift2(c);
          batch_norm_backward(t, x.data(), dy.data(), mean.data(), var.data(), nullptr, dscale2.data(), dshift2.data());
          EXPECT_EQ(dscale2, dscale);
          EXPECT_EQ(dshift2, dshift);
        }
}

TEST_P(TrainingKernels, MaxPoolRoutesGradientsToTheFirstMaximum) {
  for (const ChannelBlocks& g : kLayouts)
    for (DType type : {DType::f32, DType::bf16}) {
      SCOPED_TRACE(std::to_string(g.block) + "-blocks " + dtype_name(type));
      const ChannelBlocks o{g.n, g.blocks, g.h / 2, g.w / 2, g.block};
      std::mt19937 rng(4);
      std::uniform_int_distribution<int> small(-3, 3);  // few distinct values: many ties
      Buffer x(type, g.numel()), y(type, o.numel()), dy(type, o.numel()), dx(type, g.numel());
      for (int64_t i = 0; i < g.numel(); ++i) x.set(i, float(small(rng)));
      for (int64_t i = 0; i < o.numel(); ++i) dy.set(i, float(i % 97) + 0.5f);
      for (int64_t i = 0; i < g.numel(); ++i) dx.set(i, NAN);  // every position must be written
      std::vector<uint8_t> arg(o.numel());
      if (type == DType::f32) {
        max_pool_2x2_forward(x.f.data(), y.f.data(), arg.data(), g);
        max_pool_2x2_backward(dy.f.data(), arg.data(), dx.f.data(), g);
      } else {
        max_pool_2x2_forward(x.h.data(), y.h.data(), arg.data(), g);
        max_pool_2x2_backward(dy.h.data(), arg.data(), dx.h.data(), g);
      }
      std::vector<float> want_dx(g.numel(), 0.0f);
      for (int64_t b = 0; b < g.n; ++b)
        for (int64_t ch = 0; ch < g.channels(); ++ch)
          for (int64_t oy = 0; oy < o.h; ++oy)
            for (int64_t ox = 0; ox < o.w; ++ox) {
              int64_t best = g.offset(b, ch, 2 * oy, 2 * ox);
              for (int k = 1; k < 4; ++k) {
                const int64_t at = g.offset(b, ch, 2 * oy + k / 2, 2 * ox + k % 2);
                if (x.get(at) > x.get(best)) best = at;
              }
              const int64_t out = o.offset(b, ch, oy, ox);
              ASSERT_EQ(y.get(out), x.get(best));
              want_dx[best] = dy.get(out);
            }
      for (int64_t i = 0; i < g.numel(); ++i) ASSERT_EQ(dx.get(i), want_dx[i]) << "diff_src at " << i;
    }
}

}  // namespace
}  // namespace nimble::kernels
