// ShuffleNet's channel shuffle. attr groups (g, must divide C): (N, C, H, W) -> (N, C, H, W) as
// reshape(N, g, C/g, H, W) -> transpose(1, 2) -> reshape(N, C, H, W) computes it, so output
// channel b * g + a is input channel a * (C/g) + b. A permutation: int8 passes through, and
// backward applies the inverse permutation. Keeps its input's layout.
#include "graph/ops/channel_shuffle.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::channel_shuffle_groups(node, in[0]);
  return in[0];
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const Shape& s = in[0].shape();
  const int64_t g = ops::channel_shuffle_groups(node, s);
  const int64_t c = s[1], per_group = c / g, hw = s[2] * s[3];
  Tensor dst(s);
  const float* x = in[0].data<float>();  // (N, C, H, W)
  float* y = dst.data<float>();          // (N, C, H, W)
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t a = 0; a < g; ++a)
      for (int64_t b = 0; b < per_group; ++b)
        for (int64_t i = 0; i < hw; ++i) y[(n * c + b * g + a) * hw + i] = x[(n * c + a * per_group + b) * hw + i];
  return dst;
}

}  // namespace

// Channel pruning: channels move, so none can be removed here (ChannelRule::mixes).
extern const OpDef op_def_channel_shuffle = {.name = "channel_shuffle",
                                             .min_inputs = 1,
                                             .max_inputs = 1,
                                             .infer = infer,
                                             .init_params = nullptr,
                                             .macs = nullptr,
                                             .reference = reference,
                                             .traits = {.channels = ChannelRule::mixes,
                                                        .int8 = Int8Rule::passes_through,
                                                        .takes_int8 = true,
                                                        .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
