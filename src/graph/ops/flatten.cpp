// Flatten: (N, d1, d2, ...) -> (N, d1 * d2 * ...) in plain row-major order (PyTorch's
// flatten(start_dim=1)). The output is plain whatever layout the input came in.
#include "graph/ops/op_util.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  NIMBLE_CHECK(in[0].rank() >= 2,
               "flatten '" + node.name + "': needs an input (N, ...) of rank 2 or more, got " + in[0].str());
  int64_t features = 1;
  for (int d = 1; d < in[0].rank(); ++d) features *= in[0][d];
  return {in[0][0], features};
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  return in[0].clone().reshaped(infer(node, {in[0].shape()}));
}

}  // namespace

extern const OpDef op_def_flatten = {.name = "flatten",
                                     .min_inputs = 1,
                                     .max_inputs = 1,
                                     .infer = infer,
                                     .init_params = nullptr,
                                     .macs = nullptr,
                                     .reference = reference,
                                     .traits = {.channels = ChannelRule::flattens,
                                                .int8 = Int8Rule::passes_through,
                                                .takes_int8 = true,
                                                .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
