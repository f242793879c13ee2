// ReLU6: min(max(x, 0), 6); gradient 0 at x <= 0 and x >= 6 (PyTorch's convention at both kinks).
// Any rank; keeps its input's layout. No attributes, no parameters.
#include <algorithm>

#include "graph/ops/eltwise_op.hpp"

namespace nimble {
namespace {
float forward(float x) { return std::clamp(x, 0.0f, 6.0f); }
float backward(float x, float) { return x > 0.0f && x < 6.0f ? 1.0f : 0.0f; }
}  // namespace

// oneDNN's clip_v2 (not clip) has PyTorch's gradient 0 at 6.
extern const OpDef op_def_relu6 = {.name = "relu6",
                                   .min_inputs = 1,
                                   .max_inputs = 1,
                                   .infer = ops::eltwise_infer,
                                   .init_params = nullptr,
                                   .macs = nullptr,
                                   .reference = ops::eltwise_reference,
                                   .traits = {.scalar = forward,
                                              .scalar_grad = backward,
                                              .onednn_eltwise = EltwiseAlgorithm::clip_v2,
                                              .onednn_beta = 6.0f,
                                              .fuses_into_matmul = true,
                                              .fuses_into_batch_norm = true,
                                              .fuses_into_add = true,
                                              .channels = ChannelRule::per_channel,
                                              .int8 = Int8Rule::float_only,
                                              .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
