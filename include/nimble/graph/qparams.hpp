#pragma once
// Quantized tensors: their parameters as int8 ops store them in node attributes, and the
// arithmetic every int8 kernel and the quantizer agree on:
//   quantize    q = saturate(round_half_even(x * (1 / scale)) + zero_point)
//   dequantize  x = scale * (q - zero_point)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "nimble/graph/graph.hpp"

namespace nimble {

// One quantized tensor's parameters; dtype f32 means "not quantized" (an int8 op writing floats).
struct QParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
  DType dtype = DType::f32;
};

inline int32_t qmin(DType t) { return t == DType::u8 ? 0 : -128; }
inline int32_t qmax(DType t) { return t == DType::u8 ? 255 : 127; }

// Attributes `<prefix>scale`, `<prefix>zero_point`, `<prefix>dtype` ("u8", "s8", or "f32" where
// `allow_f32`). Throws Error naming the node on anything out of range.
QParams qparams(const Node& node, const std::string& prefix, bool allow_f32);
void set_qparams(Attrs& attrs, const std::string& prefix, const QParams& q);

inline int32_t saturate(double v, DType t) {
  return int32_t(std::fmin(std::fmax(v, double(qmin(t))), double(qmax(t))));
}
inline int32_t quantize_value(float x, const QParams& q) {
  const float inv = 1.0f / q.scale;
  return saturate(double(std::nearbyint(x * inv)) + q.zero_point, q.dtype);
}
inline float dequantize_value(int32_t v, const QParams& q) { return q.scale * float(v - q.zero_point); }

// Symmetric s8 weights per output channel: the scale of one channel's `n` weights,
// max |w| / 127, or 1 for an all-zero channel; values are then clamped to [-127, 127].
inline float weight_channel_scale(const float* w, int64_t n) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(w[i]));
  return amax > 0 ? amax / 127.0f : 1.0f;
}
inline int32_t quantize_weight(float w, float scale) {
  return std::min(127, std::max(-127, quantize_value(w, QParams{scale, 0, DType::s8})));
}
// out = dequantize(quantize(w)) per output channel (w: (O, ...) f32): what int8 weights compute,
// for quantization-aware training.
void fake_quantize_weights(Tensor& out, const Tensor& w);

// The symmetric quantization of a tensor whose observed range is [lo, hi]: u8 over [0, hi] when
// lo >= 0, else s8 over [-max(|lo|, |hi|), +max]; zero point 0; scale 1 for an all-zero range.
QParams symmetric_qparams(double lo, double hi);

}  // namespace nimble
