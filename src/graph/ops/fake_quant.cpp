// Fake quantization for quantization-aware training: y = dequantize(quantize(x)) with the
// symmetric per-tensor quantization the int8 graph will use for this value, so training sees the
// rounding and clipping; backward is the straight-through estimator (gradient passed inside the
// representable range, zero outside). In training the range follows the batches (EMA of batch
// min / max, like PyTorch's moving-average observer); in eval it is fixed.
// attrs: dtype ("u8" | "s8": the int8 type chosen at calibration), observes (the layer whose output
//        this is; "" for the graph input), momentum (EMA constant, default 0.01), frozen (0/1: the
//        range is not updated in training — an int8 average pool's rounding, which shares its
//        input's range parameter).
// params: range (2) f32, not trainable: observed [min, max].
#include "graph/ops/fake_quant.hpp"

#include <algorithm>
#include <cmath>

#include "graph/ops/op_util.hpp"
#include "graph/ops/quant_common.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  ops::int8_type(node);
  const double m = node.attr_float("momentum", 0.01);
  NIMBLE_CHECK(m > 0 && m <= 1, "fake_quant '" + node.name + "': momentum must be in (0, 1]");
  if (ParamPtr r = node.param_ptr("range"))
    NIMBLE_CHECK(r->data.shape() == Shape({2}) && r->data.dtype() == DType::f32,
                 "fake_quant '" + node.name + "': range must be f32 (2)");
  return in[0];
}

void init_params(Node& node, const std::vector<Shape>&, Rng&) { node.params["range"] = ops::make_param({2}, false); }

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const QParams q = ops::current(node);
  Tensor dst(in[0].shape());
  const float* x = in[0].data<float>();  // (N, ...)
  float* y = dst.data<float>();          // (N, ...)
  for (int64_t i = 0; i < dst.numel(); ++i) y[i] = ops::fake(x[i], q);
  return dst;
}

}  // namespace

extern const OpDef op_def_fake_quant = {.name = "fake_quant",
                                        .min_inputs = 1,
                                        .max_inputs = 1,
                                        .infer = infer,
                                        .init_params = init_params,
                                        .macs = nullptr,
                                        .reference = reference,
                                        .traits = {.channels = ChannelRule::per_channel,
                                                   .int8 = Int8Rule::float_only,
                                                   .low_precision = LowPrecision::fp32_kernel}};

}  // namespace nimble
