// Concatenation of 2..16 inputs along attr axis (default 1: channels; negative counts from the
// end; the batch axis is refused). Backward cuts diff_dst back into per-input views.
#include "graph/ops/concat.hpp"

#include <algorithm>

#include "graph/ops/op_util.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  const int axis = ops::concat_axis(node, in[0].rank());
  Shape out = in[0];
  for (size_t i = 1; i < in.size(); ++i) {
    bool ok = in[i].rank() == out.rank();
    for (int d = 0; ok && d < out.rank(); ++d) ok = d == axis || in[i][d] == out[d];
    NIMBLE_CHECK(ok, "concat '" + node.name + "': input " + std::to_string(i) + " has shape " + in[i].str() +
                         ", which does not match " + in[0].str() + " outside axis " + std::to_string(axis));
    out[axis] += in[i][axis];
  }
  return out;
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  std::vector<Shape> shapes;
  shapes.reserve(in.size());
  for (const Tensor& t : in) shapes.push_back(t.shape());
  const Shape out_shape = infer(node, shapes);
  const int axis = ops::concat_axis(node, out_shape.rank());
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= out_shape[d];
  for (int d = axis + 1; d < out_shape.rank(); ++d) inner *= out_shape[d];
  Tensor dst(out_shape);
  float* d = dst.data<float>();  // (outer, sum of axis sizes, inner)
  int64_t offset = 0;
  for (const Tensor& t : in) {
    const int64_t len = t.shape()[axis] * inner;
    const float* s = t.data<float>();  // (outer, axis size, inner)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < len; ++j) d[o * out_shape[axis] * inner + offset + j] = s[o * len + j];
    offset += len;
  }
  return dst;
}

}  // namespace

extern const OpDef op_def_concat = {.name = "concat",
                                    .min_inputs = 2,
                                    .max_inputs = 16,
                                    .infer = infer,
                                    .init_params = nullptr,
                                    .macs = nullptr,
                                    .reference = reference,
                                    .traits = {.channels = ChannelRule::concatenates,
                                               .int8 = Int8Rule::float_only,
                                               .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
