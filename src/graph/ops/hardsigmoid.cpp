// Hardsigmoid (MobileNetV3's gate), PyTorch's: relu6(x + 3) / 6 = max(0, min(1, x / 6 + 1/2))
// (ONNX HardSigmoid with alpha = 1/6, beta = 0.5). Gradient 1/6 strictly inside (-3, 3), 0 outside
// and at the kinks (PyTorch's hardsigmoid_backward). Any rank; keeps its input's layout.
// oneDNN 2.6 has no hardsigmoid algorithm (eltwise_hardsigmoid came with 3.0), so the generic
// element-wise kernel loops over these functions and the op cannot fuse as a post-op.
#include <algorithm>

#include "graph/ops/eltwise_op.hpp"

namespace nimble {
namespace {
float forward(float x) { return std::clamp(x + 3.0f, 0.0f, 6.0f) / 6.0f; }
float backward(float x, float) { return x > -3.0f && x < 3.0f ? 1.0f / 6.0f : 0.0f; }
}  // namespace

// hardsigmoid(0) = 0.5: a pruned channel does not stay zero through it.
extern const OpDef op_def_hardsigmoid = {.name = "hardsigmoid",
                                         .min_inputs = 1,
                                         .max_inputs = 1,
                                         .infer = ops::eltwise_infer,
                                         .init_params = nullptr,
                                         .macs = nullptr,
                                         .reference = ops::eltwise_reference,
                                         .traits = {.scalar = forward,
                                                    .scalar_grad = backward,
                                                    .channels = ChannelRule::per_channel_nonzero,
                                                    .int8 = Int8Rule::float_only,
                                                    .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
