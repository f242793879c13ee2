#pragma once
// oneDNN side of the int8 conv/linear epilogue (quant_common.hpp gives the arithmetic): oneDNN
// computes dst = post_ops(output_scale[oc] * (acc + bias')) + dst_zero_point, so
//   bias'            = bias / (src_scale * weight_scales[oc])      (in accumulator units)
//   output_scale[oc] = src_scale * weight_scales[oc] / dst_scale    without an activation, or
//                      src_scale * weight_scales[oc] followed by activation(.) * (1 / dst_scale)
// (any activation, not only those that commute with scaling). Scales are fixed at compile time.
// A fused residual r is summed before the activation: + r_scale * q_r (/ dst_scale without one).
// Internal: included by qconv2d.cpp and qlinear.cpp only.
#include "graph/ops/quant_common.hpp"
#include "kernels/kernel.hpp"

namespace nimble::ops {

struct QuantizedEpilogue {
  dnnl::primitive_attr attr;
  Tensor bias;  // f32 (O), bias'
};

// scale_mask: the dst dimension holding output channels, as oneDNN's mask (1 << dim).
// residual: an int8 tensor (zero point 0) that dst holds when the kernel runs, added in real
// units before the activation (a oneDNN sum post-op): qconv2d's fused residual.
QuantizedEpilogue quantized_epilogue(const Node& node, const QParams& src, const QParams& dst, int scale_mask,
                                     const QParams* residual = nullptr);

}  // namespace nimble::ops
