// Hardswish (MobileNetV3): x * relu6(x + 3) / 6; gradient 0 at x <= -3, 1 at x >= 3.
// Any rank; keeps its input's layout. No attributes, no parameters.
#include <algorithm>

#include "graph/ops/eltwise_op.hpp"

namespace nimble {
namespace {
float forward(float x) { return x * std::clamp(x + 3.0f, 0.0f, 6.0f) / 6.0f; }
float backward(float x, float) { return x <= -3.0f ? 0.0f : x >= 3.0f ? 1.0f : (2.0f * x + 3.0f) / 6.0f; }
}  // namespace

extern const OpDef op_def_hardswish = {.name = "hardswish",
                                       .min_inputs = 1,
                                       .max_inputs = 1,
                                       .infer = ops::eltwise_infer,
                                       .init_params = nullptr,
                                       .macs = nullptr,
                                       .reference = ops::eltwise_reference,
                                       .traits = {.scalar = forward,
                                                  .scalar_grad = backward,
                                                  .onednn_eltwise = EltwiseAlgorithm::hardswish,
                                                  .fuses_into_matmul = true,
                                                  .channels = ChannelRule::per_channel,
                                                  .int8 = Int8Rule::float_only,
                                                  .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
