// Elementwise sum of two same-shaped inputs (residual connections). The output keeps input 0's
// layout; input 1 is reordered to it only when its producer chose a different one.
// attrs: activation ("none" | "relu" | "relu6": the ReLU after a ResNet shortcut, moved in by
//        passes::fuse_training_activations; forward and backward).
#include "graph/ops/op_util.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  NIMBLE_CHECK(in[0] == in[1],
               "add '" + node.name + "': inputs must have the same shape, got " + in[0].str() + " and " + in[1].str());
  const std::string act = node.attr_str("activation", "none");
  NIMBLE_CHECK(act == "none" || act == "relu" || act == "relu6",
               "add '" + node.name + "': activation must be none, relu or relu6, got '" + act + "'");
  return in[0];
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  infer(node, {in[0].shape(), in[1].shape()});
  Tensor dst(in[0].shape());
  const float* a = in[0].data<float>();  // (N, ...)
  const float* b = in[1].data<float>();  // (N, ...)
  float* d = dst.data<float>();          // (N, ...)
  const std::string act = node.attr_str("activation", "none");
  for (int64_t i = 0; i < dst.numel(); ++i) d[i] = apply_activation(act, a[i] + b[i]);
  return dst;
}

}  // namespace

extern const OpDef op_def_add = {.name = "add",
                                 .min_inputs = 2,
                                 .max_inputs = 2,
                                 .infer = infer,
                                 .init_params = nullptr,
                                 .macs = nullptr,
                                 .reference = reference,
                                 .traits = {.fusion_site = FusionSite::add,
                                            .channels = ChannelRule::sums_inputs,
                                            .int8 = Int8Rule::has_int8_form,
                                            .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
