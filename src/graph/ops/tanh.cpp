// Tanh: (e^x - e^-x) / (e^x + e^-x); gradient 1 - y^2.
// Any rank; keeps its input's layout. No attributes, no parameters. It names no oneDNN algorithm,
// so the generic element-wise kernel loops over these functions (in bf16 and f16 by widening).
#include <cmath>

#include "graph/ops/eltwise_op.hpp"

namespace nimble {
namespace {
float forward(float x) { return std::tanh(x); }
float backward(float, float y) { return 1.0f - y * y; }
}  // namespace

extern const OpDef op_def_tanh = {.name = "tanh",
                                  .min_inputs = 1,
                                  .max_inputs = 1,
                                  .infer = ops::eltwise_infer,
                                  .init_params = nullptr,
                                  .macs = nullptr,
                                  .reference = ops::eltwise_reference,
                                  .traits = {.scalar = forward,
                                             .scalar_grad = backward,
                                             .channels = ChannelRule::per_channel,
                                             .int8 = Int8Rule::float_only,
                                             .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
