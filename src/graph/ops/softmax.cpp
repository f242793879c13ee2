// Softmax along one axis: dst = exp(x - max) / sum(exp(x - max)).
// attrs: axis (default 1; negative counts from the end). Any rank >= 2. Runs in plain layout.
#include "graph/ops/softmax.hpp"

#include <cmath>

#include "graph/ops/op_util.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  NIMBLE_CHECK(in[0].rank() >= 2,
               "softmax '" + node.name + "' needs an input of rank >= 2 (batch first), got " + in[0].str());
  NIMBLE_CHECK(in[0].numel() > 0, "softmax '" + node.name + "': input " + in[0].str() + " is empty");
  ops::axis_of(node, in[0]);
  return in[0];
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const Shape& s = in[0].shape();
  const int axis = ops::axis_of(node, s);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[d];
  for (int d = axis + 1; d < s.rank(); ++d) inner *= s[d];
  const int64_t len = s[axis];
  Tensor dst(s);
  const float* x = in[0].data<float>();  // (outer, len, inner)
  float* y = dst.data<float>();          // (outer, len, inner)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * len * inner + i;
      double mx = x[base];
      for (int64_t k = 1; k < len; ++k) mx = std::max(mx, double(x[base + k * inner]));
      double sum = 0;
      for (int64_t k = 0; k < len; ++k) sum += std::exp(double(x[base + k * inner]) - mx);
      for (int64_t k = 0; k < len; ++k) y[base + k * inner] = float(std::exp(double(x[base + k * inner]) - mx) / sum);
    }
  return dst;
}

}  // namespace

extern const OpDef op_def_softmax = {
    .name = "softmax",
    .min_inputs = 1,
    .max_inputs = 1,
    .infer = infer,
    .init_params = nullptr,
    .macs = nullptr,
    .reference = reference,
    .traits = {
        .channels = ChannelRule::mixes, .int8 = Int8Rule::float_only, .low_precision = LowPrecision::needs_fp32}};

}  // namespace nimble
