#pragma once
#include <cstdint>

#include "kernels/channel_blocks.hpp"

namespace nimble::kernels {

struct DepthwiseGeometry {
  int64_t n, c, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
};

// Weight (and optional bias) gradient of a depthwise convolution from plain NCHW buffers.
// oneDNN 2.6 has no jit kernel for this when the map is smaller than the kernel (MobileNet's last
// stages at 2x2) and falls back to a far slower gemm (docs/results.md, Figures behind code comments);
// this direct loop replaces it there.
void depthwise_conv_backward_weights(float* diff_weights,    // (C, 1, KH, KW)
                                     float* diff_bias,       // (C) or null
                                     const float* src,       // (N, C, IH, IW)
                                     const float* diff_dst,  // (N, C, OH, OW)
                                     const DepthwiseGeometry& g);

// Whether the vectorized form below runs here: AVX-512 and a square kernel of at most 5x5.
bool depthwise_backward_weights_vectorized(const DepthwiseGeometry& g);

// The same, 16 channels at a time with AVX-512, reading src and diff_dst where the convolution
// keeps them (channel-innermost views, both fp32 or both bf16 as `bf16` says) instead of plain
// fp32 copies, which spares the plain loop's two conversions (NIMBLE_PROFILE=1 on mobilenet_v2 0.5;
// docs/results.md, Kernel changes that made bf16 training pay).
void depthwise_conv_backward_weights(float* diff_weights, float* diff_bias, const void* src,
                                     const ChannelBlocks& src_view, const void* diff_dst,
                                     const ChannelBlocks& diff_dst_view, bool bf16, const DepthwiseGeometry& g);

}  // namespace nimble::kernels
