// Dropout: in train mode zeroes each element with probability p and scales the kept ones by
// 1 / (1 - p); identity in eval mode (passes::remove_dropout drops it there anyway).
// attrs: p (0.5), seed (0). Any rank; keeps its input's layout and dtype (f32 or bf16).
// The mask comes from nimble::Rng seeded with `seed` and the node name and advanced once per
// forward, so a run is reproducible; within one forward each element's draw is a pure function of
// (draw seed, element index), so the mask does not depend on the thread count.
#include "graph/ops/dropout.hpp"

#include <cstring>

#include "graph/ops/op_util.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  NIMBLE_CHECK(in[0].rank() >= 1 && in[0].numel() > 0,
               "dropout '" + node.name + "' needs a non-empty input, got " + in[0].str());
  ops::drop_probability(node);
  return in[0];
}

// Train mode reproduces the first forward of a freshly compiled kernel on a plain-layout input.
Tensor reference(const Node& node, const std::vector<Tensor>& in, bool training) {
  infer(node, {in[0].shape()});
  Tensor dst = in[0].clone();
  if (!training) return dst;
  const float p = ops::drop_probability(node), scale = ops::keep_scale(p);
  const uint64_t draw = Rng(ops::generator_seed(node)).next_u64();
  float* y = dst.data<float>();
  for (int64_t i = 0; i < dst.numel(); ++i) y[i] = ops::keep_element(draw, uint64_t(i), p) ? y[i] * scale : 0.0f;
  return dst;
}

}  // namespace

extern const OpDef op_def_dropout = {.name = "dropout",
                                     .min_inputs = 1,
                                     .max_inputs = 1,
                                     .infer = infer,
                                     .init_params = nullptr,
                                     .macs = nullptr,
                                     .reference = reference,
                                     .traits = {.channels = ChannelRule::per_channel,
                                                .int8 = Int8Rule::float_only,
                                                .low_precision = LowPrecision::follows_input,
                                                .removed_at_inference = true}};

}  // namespace nimble
