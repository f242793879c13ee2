// Int8 fully connected layer (oneDNN matmul, u8/s8 x s8 -> s32), the int8 form of linear; see
// qconv2d.cpp for the arithmetic, which is the same with (N, I) inputs. Produced by
// quant::quantize; inference only. Scales and bias are read when the Session compiles.
// attrs: out_features, bias (0/1), activation, src_* and dst_* quantization (quant_common.hpp),
// global_pool (0/1: the input is (N, I, H, W), averaged over H and W first and rounded to the
// input's integers as an int8 average pooling rounds: what sessions make of global_avg_pool +
// flatten + qlinear, passes::fuse_global_pool_into_qlinear).
// params: weights s8 (O, I), weight_scales f32 (O), bias f32 (O), real-valued.
#include <cmath>

#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"

namespace nimble {
namespace {

bool pooled(const Node& node) { return node.attr_int("global_pool", 0) != 0; }

Shape infer(const Node& node, const std::vector<Shape>& in) {
  if (pooled(node))
    ops::expect_rank(node, in[0], 4, "input (N, features, H, W) with global_pool");
  else
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

// (N, I, H, W) int8 -> (N, I) int8: the mean over H x W rounded half to even, as oneDNN's int8
// average pooling (and so the unfused global_avg_pool) rounds it.
Tensor global_average(const Tensor& x) {
  const Shape& s = x.shape();
  const int64_t hw = s[2] * s[3];
  Tensor out({s[0], s[1]}, x.dtype());
  for (int64_t i = 0; i < s[0] * s[1]; ++i) {
    int64_t sum = 0;
    for (int64_t p = 0; p < hw; ++p) sum += ops::int8_at(x, i * hw + p);
    ops::store_value(out, i, std::nearbyint(float(sum) / float(hw)));
  }
  return out;
}

Tensor reference(const Node& node, const std::vector<Tensor>& inputs, bool) {
  const Shape out = infer(node, {inputs[0].shape()});
  const QParams sq = qparams(node, "src_", false), dq = qparams(node, "dst_", true);
  NIMBLE_CHECK(inputs[0].dtype() == sq.dtype, "qlinear '" + node.name + "': input is not " + dtype_name(sq.dtype));
  const std::vector<Tensor> in = {pooled(node) ? global_average(inputs[0]) : inputs[0]};
  const int64_t n = out[0], o = out[1], i = in[0].shape()[1];
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
