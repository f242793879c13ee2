// The vectorized depthwise backward-weights (kernels/depthwise_backward_weights.hpp) against a
// double-precision sum, reading nhwc (with a masked group of channels) and nChw16c views in fp32
// and bf16, over the small maps it replaces oneDNN's gemm fallback on, strides, padding and dilation.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/depthwise_backward_weights.hpp"
#include "nimble/core/dtype.hpp"

namespace nimble::kernels {
namespace {

ChannelBlocks view(int64_t n, int64_t c, int64_t h, int64_t w, bool blocked) {
  return blocked ? ChannelBlocks{n, c / 16, h, w, 16} : ChannelBlocks{n, 1, h, w, c};
}

TEST(DepthwiseBackwardWeights, VectorizedMatchesDoubleReference) {
  struct Case {
    DepthwiseGeometry g;
    bool blocked;
  };
  // n, c, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw
  const Case cases[] = {
      {{5, 48, 2, 2, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1}, true},   // mobilenet_v2's last stages: map smaller than the kernel
      {{3, 40, 2, 2, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1}, false},  // nhwc, 40 channels: a masked group of 8
      {{2, 32, 5, 4, 3, 2, 3, 3, 2, 2, 1, 1, 1, 1}, true},   // stride 2, non-square map
      {{2, 16, 3, 3, 3, 3, 5, 5, 1, 1, 4, 4, 2, 2}, false},  // 5x5, dilation 2
      {{4, 8, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1}, false},   // 1x1 on a 1x1 map
      {{3, 48, 9, 7, 5, 4, 7, 7, 2, 2, 3, 3, 1, 1}, true},   // 7x7 (two passes of kernel rows), stride 2
      {{2, 24, 4, 4, 4, 4, 7, 7, 1, 1, 3, 3, 1, 1}, false},  // 7x7 on a map smaller than the kernel
  };
  if (!depthwise_backward_weights_vectorized(cases[0].g)) GTEST_SKIP() << "no AVX-512 here";
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const Case& k : cases)
    for (bool bf16 : {false, true}) {
      const DepthwiseGeometry& g = k.g;
      const ChannelBlocks xv = view(g.n, g.c, g.ih, g.iw, k.blocked), dv = view(g.n, g.c, g.oh, g.ow, k.blocked);
      std::vector<float> x(size_t(xv.numel())), dy(size_t(dv.numel()));
      std::vector<uint16_t> x16(x.size()), dy16(dy.size());
      for (auto* t : {&x, &dy})
        for (float& e : *t) e = u(rng);
      for (size_t i = 0; i < x.size(); ++i) x16[i] = f32_to_bf16(x[i]), x[i] = bf16 ? bf16_to_f32(x16[i]) : x[i];
      for (size_t i = 0; i < dy.size(); ++i) dy16[i] = f32_to_bf16(dy[i]), dy[i] = bf16 ? bf16_to_f32(dy16[i]) : dy[i];
      std::vector<float> dw(size_t(g.c * g.kh * g.kw), NAN), db(size_t(g.c), NAN);
      depthwise_conv_backward_weights(dw.data(), db.data(), bf16 ? static_cast<const void*>(x16.data()) : x.data(), xv,
                                      bf16 ? static_cast<const void*>(dy16.data()) : dy.data(), dv, bf16, g);
      for (int64_t c = 0; c < g.c; ++c) {
        double want_b = 0;
        for (int64_t ky = 0; ky < g.kh; ++ky)
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            double want = 0;
            for (int64_t b = 0; b < g.n; ++b)
              for (int64_t oy = 0; oy < g.oh; ++oy)
                for (int64_t ox = 0; ox < g.ow; ++ox) {
                  const int64_t iy = oy * g.sh - g.ph + ky * g.dh, ix = ox * g.sw - g.pw + kx * g.dw;
                  if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;
                  want += double(x[size_t(xv.offset(b, c, iy, ix))]) * dy[size_t(dv.offset(b, c, oy, ox))];
                }
            EXPECT_NEAR(dw[size_t((c * g.kh + ky) * g.kw + kx)], want, 1e-5 * (1 + std::fabs(want)))
                << "case " << &k - cases << " bf16 " << bf16 << " channel " << c;
          }
        for (int64_t b = 0; b < g.n; ++b)
          for (int64_t oy = 0; oy < g.oh; ++oy)
            for (int64_t ox = 0; ox < g.ow; ++ox) want_b += dy[size_t(dv.offset(b, c, oy, ox))];
        EXPECT_NEAR(db[size_t(c)], want_b, 1e-5 * (1 + std::fabs(want_b))) << "case " << &k - cases << " channel " << c;
      }
    }
}

}  // namespace
}  // namespace nimble::kernels
