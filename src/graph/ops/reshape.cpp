// Reshape: (N, ...) -> (N, shape...) in plain row-major order. attr shape: the per-sample dims,
// one of which may be -1 (inferred). The output is plain whatever layout the input came in.
#include "graph/ops/op_util.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  const std::string who = "reshape '" + node.name + "'";
  NIMBLE_CHECK(in[0].rank() >= 1, who + ": needs an input with a batch dimension");
  const auto shape = node.attr_ints("shape", {});
  NIMBLE_CHECK(!shape.empty() && int(shape.size()) < kMaxRank,
               who + ": attr shape needs 1 to " + std::to_string(kMaxRank - 1) + " per-sample dims");
  int64_t per_sample = 1;
  for (int d = 1; d < in[0].rank(); ++d) per_sample *= in[0][d];
  std::vector<int64_t> dims{in[0][0]};
  int64_t known = 1;
  int free_at = -1;
  std::string text;
  for (int64_t d : shape) text += (text.empty() ? "" : "x") + std::to_string(d);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      NIMBLE_CHECK(free_at < 0, who + ": shape " + text + " has more than one -1");
      free_at = int(i) + 1;
    } else {
      NIMBLE_CHECK(shape[i] > 0, who + ": shape " + text + " has a dimension that is neither positive nor -1");
      known *= shape[i];
    }
    dims.push_back(shape[i]);
  }
  if (free_at >= 0) {
    NIMBLE_CHECK(per_sample % known == 0,
                 who + ": cannot reshape " + std::to_string(per_sample) + " elements per sample into " + text);
    dims[free_at] = per_sample / known;
  }
  NIMBLE_CHECK(free_at >= 0 || known == per_sample, who + ": shape " + text + " holds " + std::to_string(known) +
                                                        " elements per sample but the input " + in[0].str() + " has " +
                                                        std::to_string(per_sample));
  return Shape(dims);
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  return in[0].clone().reshaped(infer(node, {in[0].shape()}));
}

}  // namespace

extern const OpDef op_def_reshape = {.name = "reshape",
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
