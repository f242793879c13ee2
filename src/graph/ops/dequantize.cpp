// Dequantize: u8/s8 -> f32, x = scale * (q - zero_point) (quant_common.hpp), where an int8 region
// of a graph meets a float one: before a layer kept in float, and at the graph output.
// attrs: scale, zero_point, dtype (the input's, "u8" | "s8"). Inference only.
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
  NIMBLE_CHECK(in[0].dtype() == q.dtype, "dequantize '" + node.name + "': input is " + dtype_name(in[0].dtype()) +
                                             ", expected " + dtype_name(q.dtype));
  Tensor dst(in[0].shape());
  float* y = dst.data<float>();  // (N, ...)
  for (int64_t i = 0; i < dst.numel(); ++i) y[i] = dequantize_value(ops::int8_at(in[0], i), q);
  return dst;
}

}  // namespace

extern const OpDef op_def_dequantize = {.name = "dequantize",
                                        .min_inputs = 1,
                                        .max_inputs = 1,
                                        .infer = infer,
                                        .init_params = nullptr,
                                        .macs = nullptr,
                                        .reference = reference,
                                        .traits = {.channels = ChannelRule::int8,
                                                   .int8 = Int8Rule::int8_op,
                                                   .takes_int8 = true,
                                                   .low_precision = LowPrecision::int8}};

}  // namespace nimble
