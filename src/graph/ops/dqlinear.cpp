// Dynamically quantized linear layer (PyTorch's quantize_dynamic for nn.Linear): s8 weights
// stored, f32 activations quantized on the fly with a scale taken from each batch,
//   src_scale = max |x| over the batch / 127 (1 when x is all zero),   q_x = round(x / src_scale)
//   y         = activation(src_scale * weight_scales[o] * sum q_x q_w + bias[o])     (f32 out)
// so no calibration is needed. Inference only. Produced by quant::convert_dynamic from linear.
// attrs: out_features, bias (0/1), activation. params: weights s8 (O, I), weight_scales f32 (O),
// bias f32 (O).
#include "graph/ops/dqlinear.hpp"

#include <algorithm>
#include <cmath>

#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::expect_rank(node, in[0], 2, "input (N, features); put a flatten in front");
  const int64_t o = node.attr_int("out_features", 0);
  NIMBLE_CHECK(o > 0 && in[0][1] > 0, "dqlinear '" + node.name + "': out_features and input features must be positive");
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
  ops::check_weight_scales(node);
  const float* x = in[0].data<float>();                              // (N, I)
  const int8_t* w = node.param("weights").data.data<int8_t>();       // (O, I)
  const float* ws = node.param("weight_scales").data.data<float>();  // (O)
  ParamPtr bias = node.param_ptr("bias");                            // (O)
  const QParams sq{ops::batch_scale(x, n * i), 0, DType::s8};
  const std::string act = node.attr_str("activation", "none");
  Tensor dst(out);  // (N, O)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc) {
      int64_t acc = 0;
      for (int64_t k = 0; k < i; ++k) acc += int64_t(quantize_value(x[b * i + k], sq)) * w[oc * i + k];
      dst.data<float>()[b * o + oc] =
          ops::requantize(acc, sq.scale * ws[oc], bias ? bias->data.data<float>()[oc] : 0.0f, act, QParams{});
    }
  return dst;
}

}  // namespace

extern const OpDef op_def_dqlinear = {
    .name = "dqlinear",
    .min_inputs = 1,
    .max_inputs = 1,
    .infer = infer,
    .init_params = init_params,
    .macs = macs,
    .reference = reference,
    .traits = {.channels = ChannelRule::int8, .int8 = Int8Rule::int8_op, .low_precision = LowPrecision::needs_fp32}};

}  // namespace nimble
