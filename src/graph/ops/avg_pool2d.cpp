// Average pooling. attrs: kernel [kh, kw], stride [sh, sw] (default = kernel), padding [ph, pw] or
// [top, left, bottom, right] (default 0), count_include_pad (default 1 like PyTorch: padded zeros
// count in the divisor, which is then kh * kw on every side, as in ONNX).
// Keeps its producer's layout.
#include "graph/ops/pool_common.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::PoolGeometry g = ops::pool_geometry(node, in[0]);
  return {g.n, g.c, g.oh, g.ow};
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  return ops::pool_reference(ops::pool_geometry(node, in[0].shape()), in[0], ops::avg_pool_kind(node));
}

}  // namespace

extern const OpDef op_def_avg_pool2d = {.name = "avg_pool2d",
                                        .min_inputs = 1,
                                        .max_inputs = 1,
                                        .infer = infer,
                                        .init_params = nullptr,
                                        .macs = nullptr,
                                        .reference = reference,
                                        .traits = {.channels = ChannelRule::per_channel,
                                                   .int8 = Int8Rule::passes_through,
                                                   .takes_int8 = true,
                                                   .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
