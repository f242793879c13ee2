// Conv2d: groups (depthwise when groups == in_channels), stride, padding, dilation, optional
// bias, and an activation fused by passes::fuse_activation in eval mode. An optional second input
// of the output's shape is a residual added before the activation (passes::fuse_residual_add;
// inference only).
// attrs: out_channels, kernel [kh, kw], stride, padding [top/bottom, left/right], dilation, groups,
//        bias (0/1), activation ("none"), fake_quant_weights (0/1: quantization-aware training
//        computes with per-channel int8-rounded weights, gradients straight through to the masters).  params: weights
//        (O, I/groups, kh, kw), bias (O).
#include <optional>
#include <utility>

#include "graph/ops/conv_geometry.hpp"
#include "graph/ops/op_util.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble {
namespace {

using ops::ConvGeometry;
using ops::geometry;
using ops::weights_shape;

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::expect_rank(node, in[0], 4, "input (N, C, H, W)");
  ConvGeometry g = geometry(node, in[0]);
  // Parameters that already exist (a loaded checkpoint) must fit, before anything allocates.
  if (ParamPtr w = node.param_ptr("weights"))
    NIMBLE_CHECK(w->data.shape() == weights_shape(g), "conv2d '" + node.name + "': weights " + w->data.shape().str() +
                                                          " do not match " + weights_shape(g).str());
  if (ParamPtr b = node.param_ptr("bias"))
    NIMBLE_CHECK(b->data.shape() == Shape({g.oc}), "conv2d '" + node.name + "': bias " + b->data.shape().str() +
                                                       " does not match " + std::to_string(g.oc) + " output channels");
  const Shape out{g.n, g.oc, g.oh, g.ow};
  if (in.size() == 2)
    NIMBLE_CHECK(in[1] == out, "conv2d '" + node.name + "': residual input " + in[1].str() +
                                   " does not match the output " + out.str());
  return out;
}

void init_params(Node& node, const std::vector<Shape>& in, Rng& rng) {
  ConvGeometry g = geometry(node, in[0]);
  const int64_t fan_in = g.ic / g.groups * g.kh * g.kw;
  node.params["weights"] = ops::make_param(weights_shape(g));
  ops::init_uniform_fan_in(node.params["weights"]->data, fan_in, rng);
  if (node.attr_int("bias", 1)) {
    node.params["bias"] = ops::make_param({g.oc});
    ops::init_uniform_fan_in(node.params["bias"]->data, fan_in, rng);
  }
}

int64_t macs(const Node& node, const std::vector<Shape>& in, const Shape& out) {
  ConvGeometry g = geometry(node, in[0]);
  return out.numel() * (g.ic / g.groups) * g.kh * g.kw;
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  ConvGeometry g = geometry(node, in[0].shape());
  Tensor dst({g.n, g.oc, g.oh, g.ow});
  const float* src = in[0].data<float>();  // (N, IC, IH, IW)
  Tensor fq;                               // quantization-aware training computes with int8-rounded weights
  if (node.attr_int("fake_quant_weights", 0)) fake_quantize_weights(fq, node.param("weights").data);
  const float* w = fq.defined() ? fq.data<float>() : node.param("weights").data.data<float>();  // (OC, IC/G, KH, KW)
  ParamPtr bias = node.param_ptr("bias");
  const std::string act = node.attr_str("activation", "none");
  const float* residual = in.size() == 2 ? in[1].data<float>() : nullptr;  // (N, OC, OH, OW)
  const int64_t icg = g.ic / g.groups, ocg = g.oc / g.groups;
  float* out = dst.data<float>();  // (N, OC, OH, OW)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oc = 0; oc < g.oc; ++oc) {
      const int64_t grp = oc / ocg;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          double acc = bias ? bias->data.data<float>()[oc] : 0.0;
          for (int64_t c = 0; c < icg; ++c)
            for (int64_t ky = 0; ky < g.kh; ++ky)
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                int64_t iy = oy * g.sh - g.ph + ky * g.dh, ix = ox * g.sw - g.pw + kx * g.dw;
                if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;
                acc += double(src[((n * g.ic + grp * icg + c) * g.ih + iy) * g.iw + ix]) *
                       w[((oc * icg + c) * g.kh + ky) * g.kw + kx];
              }
          const int64_t at = ((n * g.oc + oc) * g.oh + oy) * g.ow + ox;
          if (residual) acc += residual[at];
          out[at] = apply_activation(act, float(acc));
        }
    }
  return dst;
}

}  // namespace

extern const OpDef op_def_conv2d = {.name = "conv2d",
                                    .min_inputs = 1,
                                    .max_inputs = 2,
                                    .infer = infer,
                                    .init_params = init_params,
                                    .macs = macs,
                                    .reference = reference,
                                    .traits = {.fusion_site = FusionSite::matmul,
                                               .weight_layer = true,
                                               .channels = ChannelRule::layer,
                                               .int8 = Int8Rule::has_int8_form,
                                               .low_precision = LowPrecision::computes_low}};

}  // namespace nimble
