// Int8 convolution (oneDNN's u8/s8 x s8 -> s32 kernels: VNNI / AMX), with batch-norm already
// folded in and an activation fused. Produced by quant::quantize from a conv2d; inference only.
//   acc[oc]  = sum (q_src - src_zero_point) * q_weights[oc]          (exact, int32)
//   y        = activation(src_scale * weight_scales[oc] * acc + bias[oc])
//   dst      = y (dst_dtype f32) or saturate(round_half_even(y / dst_scale) + dst_zero_point)
// Scales and bias are read when the Session compiles.
// attrs: conv2d's geometry, bias (0/1), activation, src_scale / src_zero_point / src_dtype,
//        dst_scale / dst_zero_point / dst_dtype ("u8" | "s8" | "f32").
// An optional second input of the output's shape is an int8 residual (residual_scale /
// residual_dtype, zero point 0) added before the activation: y = activation(... + bias[oc] +
// residual_scale * q_residual), one rounding where qconv2d + qadd round twice. Only inference
// sessions fuse it (passes::fuse_residual_qadd); the quantizer writes qconv2d + qadd.
// params: weights s8 (O, I/groups, kh, kw), weight_scales f32 (O), bias f32 (O), real-valued.
#include "graph/ops/conv_geometry.hpp"
#include "graph/ops/quant_common.hpp"

namespace nimble {
namespace {

using ops::ConvGeometry;

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::expect_rank(node, in[0], 4, "input (N, C, H, W)");
  const ConvGeometry g = ops::geometry(node, in[0]);
  qparams(node, "src_", false);
  qparams(node, "dst_", true);
  ops::check_quantized_params(node, ops::weights_shape(g));
  const Shape out{g.n, g.oc, g.oh, g.ow};
  if (in.size() == 2) {
    NIMBLE_CHECK(in[1] == out, "qconv2d '" + node.name + "': residual input " + in[1].str() +
                                   " does not match the output " + out.str());
    NIMBLE_CHECK(qparams(node, "residual_", false).zero_point == 0 && qparams(node, "dst_", true).dtype != DType::f32,
                 "qconv2d '" + node.name + "': a residual needs zero point 0 and an int8 output");
  }
  return out;
}

void init_params(Node& node, const std::vector<Shape>& in, Rng&) {
  const ConvGeometry g = ops::geometry(node, in[0]);
  ops::make_quantized_params(node, ops::weights_shape(g));
}

int64_t macs(const Node& node, const std::vector<Shape>& in, const Shape& out) {
  const ConvGeometry g = ops::geometry(node, in[0]);
  return out.numel() * (g.ic / g.groups) * g.kh * g.kw;
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const ConvGeometry g = ops::geometry(node, in[0].shape());
  const QParams sq = qparams(node, "src_", false), dq = qparams(node, "dst_", true);
  NIMBLE_CHECK(in[0].dtype() == sq.dtype, "qconv2d '" + node.name + "': input is not " + dtype_name(sq.dtype));
  const Tensor* residual = in.size() == 2 ? &in[1] : nullptr;  // (N, OC, OH, OW)
  const QParams rq = residual ? qparams(node, "residual_", false) : QParams{};
  NIMBLE_CHECK(!residual || residual->dtype() == rq.dtype,
               "qconv2d '" + node.name + "': residual is not " + dtype_name(rq.dtype));
  const int8_t* w = node.param("weights").data.data<int8_t>();       // (OC, IC/G, KH, KW)
  const float* ws = node.param("weight_scales").data.data<float>();  // (OC)
  ParamPtr bias = node.param_ptr("bias");                            // (OC)
  ops::check_weight_scales(node);
  const std::string act = node.attr_str("activation", "none");
  Tensor dst({g.n, g.oc, g.oh, g.ow}, dq.dtype);  // (N, OC, OH, OW)
  const int64_t icg = g.ic / g.groups, ocg = g.oc / g.groups;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oc = 0; oc < g.oc; ++oc) {
      const int64_t grp = oc / ocg;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          int64_t acc = 0;
          for (int64_t c = 0; c < icg; ++c)
            for (int64_t ky = 0; ky < g.kh; ++ky)
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t iy = oy * g.sh - g.ph + ky * g.dh, ix = ox * g.sw - g.pw + kx * g.dw;
                if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;  // padding is real zero
                const int32_t x = ops::int8_at(in[0], ((n * g.ic + grp * icg + c) * g.ih + iy) * g.iw + ix);
                acc += int64_t(x - sq.zero_point) * w[((oc * icg + c) * g.kh + ky) * g.kw + kx];
              }
          const int64_t at = ((n * g.oc + oc) * g.oh + oy) * g.ow + ox;
          const float added = residual ? rq.scale * float(ops::int8_at(*residual, at)) : 0.0f;
          const float y =
              ops::requantize(acc, sq.scale * ws[oc], (bias ? bias->data.data<float>()[oc] : 0.0f) + added, act, dq);
          ops::store_value(dst, at, y);
        }
    }
  return dst;
}

}  // namespace

extern const OpDef op_def_qconv2d = {.name = "qconv2d",
                                     .min_inputs = 1,
                                     .max_inputs = 2,
                                     .infer = infer,
                                     .init_params = init_params,
                                     .macs = macs,
                                     .reference = reference,
                                     .traits = {.channels = ChannelRule::int8,
                                                .int8 = Int8Rule::int8_op,
                                                .takes_int8 = true,
                                                .low_precision = LowPrecision::int8}};

}  // namespace nimble
