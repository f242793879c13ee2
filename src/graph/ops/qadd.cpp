// Int8 residual sum: dst = activation(src0_scale * q0 + src1_scale * q1), stored as f32 or
// quantized with dst_* (quant_common.hpp). oneDNN binary with per-input scales; its int8 inputs
// take no zero points, so both must have zero point 0 (the quantizer's symmetric activations).
// attrs: src0_*, src1_*, dst_* quantization, activation ("none"). Inference only.
#include "graph/ops/qadd.hpp"

#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  NIMBLE_CHECK(in[0] == in[1],
               "qadd '" + node.name + "': inputs must have the same shape, got " + in[0].str() + " and " + in[1].str());
  ops::check_qparams(node);
  return in[0];
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  infer(node, {in[0].shape(), in[1].shape()});
  const QParams a = qparams(node, "src0_", false), b = qparams(node, "src1_", false);
  const QParams d = qparams(node, "dst_", true);
  NIMBLE_CHECK(in[0].dtype() == a.dtype && in[1].dtype() == b.dtype,
               "qadd '" + node.name + "': input dtypes differ from its attributes");
  const std::string act = node.attr_str("activation", "none");
  Tensor dst(in[0].shape(), d.dtype);  // (N, ...)
  for (int64_t i = 0; i < dst.numel(); ++i) {
    const float y =
        apply_activation(act, a.scale * float(ops::int8_at(in[0], i)) + b.scale * float(ops::int8_at(in[1], i)));
    ops::store_value(dst, i, d.dtype == DType::f32 ? y : float(quantize_value(y, d)));
  }
  return dst;
}

}  // namespace

extern const OpDef op_def_qadd = {.name = "qadd",
                                  .min_inputs = 2,
                                  .max_inputs = 2,
                                  .infer = infer,
                                  .init_params = nullptr,
                                  .macs = nullptr,
                                  .reference = reference,
                                  .traits = {.channels = ChannelRule::int8,
                                             .int8 = Int8Rule::int8_op,
                                             .takes_int8 = true,
                                             .low_precision = LowPrecision::int8}};

}  // namespace nimble
