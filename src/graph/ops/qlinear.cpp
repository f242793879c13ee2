// Int8 fully connected layer (oneDNN matmul, u8/s8 x s8 -> s32), the int8 form of linear; see
// qconv2d.cpp for the arithmetic, which is the same with (N, I) inputs. Produced by
// quant::quantize; inference only. Scales and bias are read when the Session compiles.
// attrs: out_features, bias (0/1), activation, src_* and dst_* quantization (quant_common.hpp).
// params: weights s8 (O, I), weight_scales f32 (O), bias f32 (O), real-valued.
#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::expect_rank(node, in[0], 2, "input (N, features); put a flatten in front");
  const int64_t o = node.attr_int("out_features", 0);
  NIMBLE_CHECK(o > 0 && in[0][1] > 0, "qlinear '" + node.name + "': out_features and input features must be positive");
  qparams(node, "src_", false);
  qparams(node, "dst_", true);
  ops::check_quantized_params(node, {o, in[0][1]});
  return {in[0][0], o};
}

void init_params(Node& node, const std::vector<Shape>& in, Rng&) {
  ops::make_quantized_params(node, {node.attr_int("out_features", 0), in[0][1]});
}

int64_t macs(const Node&, const std::vector<Shape>& in, const Shape& out) { return out.numel() * in[0][1]; }

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const Shape out = infer(node, {in[0].shape()});
  const int64_t n = out[0], o = out[1], i = in[0].shape()[1];
  const QParams sq = qparams(node, "src_", false), dq = qparams(node, "dst_", true);
  NIMBLE_CHECK(in[0].dtype() == sq.dtype, "qlinear '" + node.name + "': input is not " + dtype_name(sq.dtype));
  const int8_t* w = node.param("weights").data.data<int8_t>();       // (O, I)
  const float* ws = node.param("weight_scales").data.data<float>();  // (O)
  ParamPtr bias = node.param_ptr("bias");                            // (O)
  ops::check_weight_scales(node);
  const std::string act = node.attr_str("activation", "none");
  Tensor dst(out, dq.dtype);  // (N, O)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc) {
      int64_t acc = 0;
      for (int64_t k = 0; k < i; ++k) acc += int64_t(ops::int8_at(in[0], b * i + k) - sq.zero_point) * w[oc * i + k];
      ops::store_value(dst, b * o + oc,
                       ops::requantize(acc, sq.scale * ws[oc], bias ? bias->data.data<float>()[oc] : 0.0f, act, dq));
    }
  return dst;
}

}  // namespace

extern const OpDef op_def_qlinear = {.name = "qlinear",
                                     .min_inputs = 1,
                                     .max_inputs = 1,
                                     .infer = infer,
                                     .init_params = init_params,
                                     .macs = macs,
                                     .reference = reference,
                                     .traits = {.channels = ChannelRule::int8,
                                                .int8 = Int8Rule::int8_op,
                                                .takes_int8 = true,
                                                .low_precision = LowPrecision::int8}};

}  // namespace nimble
