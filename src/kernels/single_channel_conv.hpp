#pragma once
// A convolution whose input has one channel (the stem of an image model on grey images), written
// here for AVX-512. oneDNN 2.6 computes it in fp32 only at speed (its bf16 kernel for one input
// channel has no AMX path and is slower) and cannot write a bf16 output from an fp32
// convolution, so in bf16 training the stem's 128x32x28x28 output stayed fp32 and every pass of
// the batch-norm after it read twice the bytes. This kernel computes in fp32 from the fp32 input
// and writes fp32 or bf16, nhwc or nChw16c; backward-weights reads an fp32 or bf16 gradient.
// Times against oneDNN: bench/probes/single_channel_conv.cpp; docs/results.md, Kernels and probes.
#include <cstdint>

#include "kernels/channel_blocks.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble::kernels {

struct SingleChannelConvGeometry {
  int64_t n, ih, iw, oc, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;  // dh, dw: dilation factors (1 = none)
};

// Whether the kernel runs here for this geometry and output view: AVX-512, and a kernel of at
// most 25 taps (the taps' weights stay in registers).
bool single_channel_conv_supported(const SingleChannelConvGeometry& g);

// dst (in `view`, fp32 or bf16 as `dst_bf16` says) = clamp(src (*) weights + bias, lower, upper).
// src: (N, 1, IH, IW) plain fp32; weights: (OC, 1, KH, KW) plain fp32; bias: (OC) or null.
void single_channel_conv_forward(const float* src, const float* weights, const float* bias, void* dst, bool dst_bf16,
                                 const ChannelBlocks& view, const SingleChannelConvGeometry& g, float lower,
                                 float upper);

// The int8 form, for qconv2d: src u8 or s8 (N, 1, IH, IW) plain, with src_q's zero point;
// weights (OC, 1, KH, KW) are the real weights (int8 weights times their scales, times src_q's
// scale) and bias real; the clamped result is quantized with dst_q (u8 or s8) into `view`. The
// products sum in fp32, so the result may differ from an exact int32 sum by float rounding.
void single_channel_qconv_forward(const void* src, const QParams& src_q, const float* weights, const float* bias,
                                  void* dst, const QParams& dst_q, const ChannelBlocks& view,
                                  const SingleChannelConvGeometry& g, float lower, float upper);

// diff_weights (OC, 1, KH, KW) and diff_bias (OC, or null) from src and diff_dst (in `view`, fp32
// or bf16), summed in fp32 per thread and then across threads.
void single_channel_conv_backward_weights(const float* src, const void* diff_dst, bool diff_dst_bf16,
                                          const ChannelBlocks& view, const SingleChannelConvGeometry& g,
                                          float* diff_weights, float* diff_bias);

}  // namespace nimble::kernels
