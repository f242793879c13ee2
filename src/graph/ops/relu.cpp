// ReLU: max(x, 0); gradient 0 at x <= 0 (PyTorch's convention at 0).
// Any rank; keeps its input's layout. No attributes, no parameters.
#include <algorithm>

#include "graph/ops/eltwise_op.hpp"

namespace nimble {
namespace {
float forward(float x) { return std::max(x, 0.0f); }
float backward(float x, float) { return x > 0.0f ? 1.0f : 0.0f; }
}  // namespace

extern const OpDef op_def_relu = {.name = "relu",
                                  .min_inputs = 1,
                                  .max_inputs = 1,
                                  .infer = ops::eltwise_infer,
                                  .init_params = nullptr,
                                  .macs = nullptr,
                                  .reference = ops::eltwise_reference,
                                  .traits = {.scalar = forward,
                                             .scalar_grad = backward,
                                             .onednn_eltwise = EltwiseAlgorithm::relu,
                                             .fuses_into_matmul = true,
                                             .fuses_into_batch_norm = true,
                                             .fuses_into_add = true,
                                             .channels = ChannelRule::per_channel,
                                             .int8 = Int8Rule::float_only,
                                             .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
