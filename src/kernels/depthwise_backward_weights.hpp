#pragma once
#include <cstdint>

namespace nimble::kernels {

struct DepthwiseGeometry {
  int64_t n, c, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
};

// Weight (and optional bias) gradient of a depthwise convolution from plain NCHW buffers.
// oneDNN 2.6 has no jit kernel for this when the map is smaller than the kernel (MobileNet's last
// stages at 2x2) and falls back to a gemm that is ~100x slower; this direct loop replaces it there.
void depthwise_conv_backward_weights(float* diff_weights,      // (C, 1, KH, KW)
                                     float* diff_bias,         // (C) or null
                                     const float* src,         // (N, C, IH, IW)
                                     const float* diff_dst,    // (N, C, OH, OW)
                                     const DepthwiseGeometry& g);

}  // namespace nimble::kernels
