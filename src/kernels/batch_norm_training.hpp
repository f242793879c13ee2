#pragma once
// Batch-norm over the batch statistics (training), optionally fused with a following ReLU or ReLU6
// (a clamp to [lower, upper]; its gradient passes strictly inside, as PyTorch's), over
// channel-innermost layouts (kernels/channel_blocks.hpp) in fp32 or bf16 (stored as uint16_t).
// src and dst may differ in type: an fp32 convolution's output can leave normalised as bf16, so
// the activations that follow stay in low precision. Statistics and sums are fp32 per slab,
// gathered in double. In nhwc these are faster than oneDNN 2.6; in nChw16c oneDNN is faster but its
// fp32 input gradient there is off a double-precision reference by up to 0.66, these by 5e-7, so
// these run there in fp32 and oneDNN in bf16, where both agree with the reference to bf16 rounding
// (bench/probes/bn_pool_training.cpp; docs/results.md, Kernels and probes, and "oneDNN's batch-norm
// for bf16 training").
#include <cstdint>
#include <limits>

#include "kernels/channel_blocks.hpp"
#include "nimble/core/dtype.hpp"

namespace nimble::kernels {

struct BatchNormTensors {
  const ChannelBlocks& g;
  DType src_type, dst_type;  // f32 or bf16 each; diff_dst has dst_type, diff_src src_type
  const float* scale;        // (C)
  const float* shift;        // (C)
  float eps;
  float lower = -std::numeric_limits<float>::infinity();  // ReLU: 0; ReLU6: 0
  float upper = std::numeric_limits<float>::infinity();   // ReLU6: 6
  // Statistics of the whole batch across the ranks (dist::world(); synchronised batch-norm): mean
  // and variance, and the input gradient's two sums. diff_scale and diff_shift stay this rank's
  // (the trainer sums parameter gradients over the ranks).
  bool synchronized = false;
  bool clamped() const {
    return lower > -std::numeric_limits<float>::infinity() || upper < std::numeric_limits<float>::infinity();
  }
};

// Writes dst and the batch mean and biased variance (C each).
void batch_norm_forward_training(const BatchNormTensors& t, const void* src, void* dst, float* mean, float* variance);
// Writes diff_scale and diff_shift (C each) and, unless diff_src is null, the input gradient.
void batch_norm_backward(const BatchNormTensors& t, const void* src, const void* diff_dst, const float* mean,
                         const float* variance, void* diff_src, float* diff_scale, float* diff_shift);

}  // namespace nimble::kernels
