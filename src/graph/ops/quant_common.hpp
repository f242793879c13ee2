#pragma once
// What the int8 ops (quantize, dequantize, qconv2d, qlinear, qadd) share: how a quantized
// tensor's parameters live in a node's attributes, and the arithmetic every int8 kernel must
// reproduce (its reference):
//   quantize    q = saturate(round_half_even(x * (1 / scale)) + zero_point)
//   dequantize  x = scale * (q - zero_point)
// Internal: included by the int8 op files only.
#include <cmath>
#include <cstdint>
#include <string>

#include "nimble/core/error.hpp"
#include "nimble/graph/graph.hpp"

namespace nimble::ops {

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

// Element i of a u8 or s8 tensor as an integer.
inline int32_t int8_at(const Tensor& t, int64_t i) {
  return t.dtype() == DType::u8 ? int32_t(t.data<uint8_t>()[i]) : int32_t(t.data<int8_t>()[i]);
}
// A u8/s8 tensor from integers already in range, or f32 from floats.
void store_value(Tensor& t, int64_t i, double v);

}  // namespace nimble::ops

namespace nimble::ops {

// The part of an int8 conv/linear after the exact int32 accumulation, in real numbers:
// y = activation(scale * acc + bias), then stored as f32 or quantized with `dst`.
float requantize(int64_t acc, float scale, float bias, const std::string& activation, const QParams& dst);

// The parameters of qconv2d / qlinear: weights s8 `weights_shape`, weight_scales f32 (O),
// bias f32 (O) when the `bias` attribute is 1. make_ creates them zeroed (scales 1); check_
// validates existing ones (a loaded file), naming the node.
void make_quantized_params(Node& node, const Shape& weights_shape);
void check_quantized_params(const Node& node, const Shape& weights_shape);

}  // namespace nimble::ops
