// Element-wise product of two inputs: input 1 has input 0's shape, or input 0 is (N, C, H, W) and
// input 1 is (N, C, 1, 1), broadcast over H and W (squeeze-excitation's channel gate). Backward:
// diff_src0 = diff_dst * src1 (broadcast), diff_src1 = diff_dst * src0 (summed over H and W when
// broadcast). The output keeps input 0's layout.
#include "graph/ops/mul.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  NIMBLE_CHECK(in[0] == in[1] || ops::mul_broadcasts(in[0], in[1]),
               "mul '" + node.name + "': input 1 must have input 0's shape or, for an (N, C, H, W) input 0, be " +
                   "(N, C, 1, 1); got " + in[0].str() + " and " + in[1].str());
  NIMBLE_CHECK(in[0].numel() > 0, "mul '" + node.name + "': empty input " + in[0].str());
  return in[0];
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const Shape out = infer(node, {in[0].shape(), in[1].shape()});
  // Same shape: one run of `inner` = numel elements per gate value; broadcast: one per (n, c).
  const int64_t inner = in[0].shape() == in[1].shape() ? 1 : out[2] * out[3];
  Tensor dst(out);
  const float* a = in[0].data<float>();  // (N, ...)
  const float* b = in[1].data<float>();  // (N, ...) or (N, C, 1, 1)
  float* d = dst.data<float>();          // (N, ...)
  for (int64_t i = 0; i < dst.numel(); ++i) d[i] = a[i] * b[i / inner];
  return dst;
}

}  // namespace

// Channel pruning: output channel c is x_c * s_c, so both inputs' channels c are tied to it as for
// add (ChannelRule::sums_inputs). That rule calls the output channel zero only when every input's
// is, where a product is zero when either is: conservative, never wrong. A gate made by sigmoid or
// hardsigmoid (f(0) != 0) keeps its channels anyway.
extern const OpDef op_def_mul = {.name = "mul",
                                 .min_inputs = 2,
                                 .max_inputs = 2,
                                 .infer = infer,
                                 .init_params = nullptr,
                                 .macs = nullptr,
                                 .reference = reference,
                                 .traits = {.channels = ChannelRule::sums_inputs,
                                            .int8 = Int8Rule::float_only,
                                            .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
