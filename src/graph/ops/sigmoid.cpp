// Sigmoid: 1 / (1 + exp(-x)) (oneDNN eltwise_logistic).
// Any rank; keeps its input's layout. No attributes, no parameters.
#include <cmath>

#include "graph/ops/eltwise_op.hpp"

namespace nimble {
namespace {
float forward(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float backward(float, float y) { return y * (1.0f - y); }
}  // namespace

// sigmoid(0) = 0.5: a pruned channel does not stay zero through it.
extern const OpDef op_def_sigmoid = {.name = "sigmoid",
                                     .min_inputs = 1,
                                     .max_inputs = 1,
                                     .infer = ops::eltwise_infer,
                                     .init_params = nullptr,
                                     .macs = nullptr,
                                     .reference = ops::eltwise_reference,
                                     .traits = {.scalar = forward,
                                                .scalar_grad = backward,
                                                .onednn_eltwise = EltwiseAlgorithm::logistic,
                                                .fuses_into_matmul = true,
                                                .channels = ChannelRule::per_channel_nonzero,
                                                .int8 = Int8Rule::float_only,
                                                .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
