// Global average pooling: (N, C, H, W) -> (N, C, 1, 1), a oneDNN average pooling whose window is
// the whole image. Keeps its producer's layout.
#include "graph/ops/pool_common.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::PoolGeometry g = ops::global_pool_geometry(node, in[0]);
  return {g.n, g.c, 1, 1};
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  return ops::pool_reference(ops::global_pool_geometry(node, in[0].shape()), in[0], ops::PoolKind::avg_exclude_pad);
}

}  // namespace

extern const OpDef op_def_global_avg_pool = {.name = "global_avg_pool",
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
