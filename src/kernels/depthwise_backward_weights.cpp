#include "kernels/depthwise_backward_weights.hpp"

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

}  // namespace nimble::kernels
