// Linear (fully connected): dst = src * weights^T + bias, with an activation fused by
// passes::fuse_activation in eval mode.
// attrs: out_features, bias (0/1, default 1), activation ("none"), fake_quant_weights (0/1, as
//        conv2d).
// params: weights (O, I), bias (O).  input: (N, I).
#include "graph/ops/op_util.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble {
namespace {

int64_t out_features(const Node& node) {
  const int64_t o = node.attr_int("out_features", 0);
  NIMBLE_CHECK(o > 0, "linear '" + node.name + "': out_features must be positive");
  return o;
}

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::expect_rank(node, in[0], 2, "input (N, features); put a flatten in front");
  const int64_t o = out_features(node);
  NIMBLE_CHECK(in[0][1] > 0, "linear '" + node.name + "': input " + in[0].str() + " has no features");
  // Parameters loaded from a checkpoint must fit the input they meet.
  if (ParamPtr w = node.param_ptr("weights"))
    NIMBLE_CHECK(w->data.shape() == Shape({o, in[0][1]}), "linear '" + node.name + "': weights " +
                                                              w->data.shape().str() + " do not fit input " +
                                                              in[0].str() + " and out_features " + std::to_string(o));
  if (ParamPtr bias = node.param_ptr("bias"))
    NIMBLE_CHECK(bias->data.shape() == Shape({o}), "linear '" + node.name + "': bias " + bias->data.shape().str() +
                                                       " does not match out_features " + std::to_string(o));
  return {in[0][0], o};
}

void init_params(Node& node, const std::vector<Shape>& in, Rng& rng) {
  const int64_t o = out_features(node), i = in[0][1];
  node.params["weights"] = ops::make_param({o, i});
  ops::init_uniform_fan_in(node.params["weights"]->data, i, rng);
  if (node.attr_int("bias", 1)) {
    node.params["bias"] = ops::make_param({o});
    ops::init_uniform_fan_in(node.params["bias"]->data, i, rng);
  }
}

int64_t macs(const Node&, const std::vector<Shape>& in, const Shape& out) { return out.numel() * in[0][1]; }

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const Shape out_shape = infer(node, {in[0].shape()});
  const int64_t n = out_shape[0], o = out_shape[1], i = in[0].shape()[1];
  Tensor dst(out_shape);
  const float* src = in[0].data<float>();  // (N, I)
  Tensor fq;                               // quantization-aware training computes with int8-rounded weights
  if (node.attr_int("fake_quant_weights", 0)) fake_quantize_weights(fq, node.param("weights").data);
  const float* w = fq.defined() ? fq.data<float>() : node.param("weights").data.data<float>();  // (O, I)
  ParamPtr bias = node.param_ptr("bias");                                                       // (O)
  const std::string act = node.attr_str("activation", "none");
  float* y = dst.data<float>();  // (N, O)
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc) {
      double acc = bias ? bias->data.data<float>()[oc] : 0.0;
      for (int64_t k = 0; k < i; ++k) acc += double(src[b * i + k]) * w[oc * i + k];
      y[b * o + oc] = apply_activation(act, float(acc));
    }
  return dst;
}

}  // namespace

extern const OpDef op_def_linear = {.name = "linear",
                                    .min_inputs = 1,
                                    .max_inputs = 1,
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
