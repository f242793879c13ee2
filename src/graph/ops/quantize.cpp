// Quantize: f32 -> u8/s8, q = saturate(round_half_even(x / scale) + zero_point) (quant_common.hpp),
// where a float region of a graph meets an int8 one (normally only the graph input).
// attrs: scale, zero_point, dtype ("u8" | "s8"). Inference only.
#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  qparams(node, "", false);
  return in[0];
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const QParams q = qparams(node, "", false);
  NIMBLE_CHECK(in[0].dtype() == DType::f32, "quantize '" + node.name + "' takes f32");
  Tensor dst(in[0].shape(), q.dtype);
  const float* x = in[0].data<float>();  // (N, ...)
  for (int64_t i = 0; i < dst.numel(); ++i) ops::store_value(dst, i, quantize_value(x[i], q));
  return dst;
}

}  // namespace

extern const OpDef op_def_quantize = {
    .name = "quantize",
    .min_inputs = 1,
    .max_inputs = 1,
    .infer = infer,
    .init_params = nullptr,
    .macs = nullptr,
    .reference = reference,
    .traits = {.channels = ChannelRule::int8, .int8 = Int8Rule::int8_op, .low_precision = LowPrecision::int8}};

}  // namespace nimble
