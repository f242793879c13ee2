#pragma once
// oneDNN side of the int8 conv/linear epilogue (quant_common.hpp gives the arithmetic): oneDNN
// computes dst = post_ops(output_scale[oc] * (acc + bias')) + dst_zero_point, so
//   bias'            = bias / (src_scale * weight_scales[oc])      (in accumulator units)
//   output_scale[oc] = src_scale * weight_scales[oc] / dst_scale    without an activation, or
//                      src_scale * weight_scales[oc] followed by activation(.) * (1 / dst_scale)
// (any activation, not only those that commute with scaling). Scales are fixed at compile time.
// Internal: included by qconv2d.cpp and qlinear.cpp only.
#include "graph/ops/quant_common.hpp"
#include "kernels/kernel.hpp"

namespace nimble::ops {

struct QuantizedEpilogue {
  dnnl::primitive_attr attr;
  Tensor bias;  // f32 (O), bias'
};

// scale_mask: the dst dimension holding output channels, as oneDNN's mask (1 << dim).
QuantizedEpilogue quantized_epilogue(const Node& node, const QParams& src, const QParams& dst, int scale_mask);

}  // namespace nimble::ops
