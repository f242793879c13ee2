#pragma once
// qlinear with global_pool (graph/ops/qlinear.cpp): the int8 classifier head of a small model,
// global average pooling and the fully connected layer in one pass over an nhwc tensor. As three
// oneDNN primitives (pooling, flatten, matmul) they cost the 77 k-parameter int8 resnet-8 about
// 1.3 us of a 30 us batch-1 call, nearly all of it fixed per-primitive work
// (docs/results.md, "Runtime overhead at batch 1").
#include <cstdint>
#include <string>

#include "nimble/graph/qparams.hpp"

namespace nimble::kernels {

struct PooledLinear {
  int64_t n = 0, hw = 0, c = 0, o = 0;  // images, pixels per image, input channels, outputs
  int32_t src_zero_point = 0;
  const int8_t* weights = nullptr;  // (O, C)
  const float* scales = nullptr;    // (O): the input's scale times each output's weight scale
  const float* bias = nullptr;      // (O) or null
  std::string activation;
  QParams dst;                 // f32, or the int8 quantization of the output
  int32_t* scratch = nullptr;  // 2 * C values of the caller's
  bool avx512 = false;         // vectorized (simd16::has_avx512(), asked once by the caller)
};

// dst (N, O) = what qlinear's reference computes: each channel's mean over the pixels rounded
// half to even, then activation(scales[o] * sum_c (mean_c - zero point) * w[o][c] + bias[o]),
// stored as f32 or quantized with p.dst.
void pooled_linear(const uint8_t* src, void* dst, const PooledLinear& p);
void pooled_linear(const int8_t* src, void* dst, const PooledLinear& p);

}  // namespace nimble::kernels
