// SiLU / swish (EfficientNet): x * sigmoid(x) (oneDNN eltwise_swish with alpha = 1); gradient
// s + x * s * (1 - s) with s = sigmoid(x). Any rank; keeps its input's layout. No attributes.
#include <cmath>

#include "graph/ops/eltwise_op.hpp"

namespace nimble {
namespace {
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float forward(float x) { return x * sigmoid(x); }
float backward(float x, float) {
  const float s = sigmoid(x);
  return s + x * s * (1.0f - s);
}
}  // namespace

// silu(0) = 0: a pruned channel stays zero through it. As a oneDNN post-op it fuses into conv2d
// and linear (and into the int8 epilogue of qconv2d / qlinear) like hardswish.
extern const OpDef op_def_silu = {.name = "silu",
                                  .min_inputs = 1,
                                  .max_inputs = 1,
                                  .infer = ops::eltwise_infer,
                                  .init_params = nullptr,
                                  .macs = nullptr,
                                  .reference = ops::eltwise_reference,
                                  .traits = {.scalar = forward,
                                             .scalar_grad = backward,
                                             .onednn_eltwise = EltwiseAlgorithm::swish,
                                             .onednn_alpha = 1.0f,
                                             .fuses_into_matmul = true,
                                             .channels = ChannelRule::per_channel,
                                             .int8 = Int8Rule::float_only,
                                             .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
