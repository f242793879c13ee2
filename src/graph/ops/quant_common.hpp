#pragma once
// What the int8 ops (quantize, dequantize, qconv2d, qlinear, qadd) share beyond
// nimble/graph/qparams.hpp: integer access to tensors and the conv/linear epilogue arithmetic.
// Internal: included by the int8 op files only.
#include <cmath>
#include <cstdint>
#include <string>

#include "nimble/core/error.hpp"
#include "nimble/graph/graph.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble::ops {

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
// validates the shapes and dtypes of existing ones (a loaded file), naming the node.
void make_quantized_params(Node& node, const Shape& weights_shape);
void check_quantized_params(const Node& node, const Shape& weights_shape);
// Their values (not known while a file is still being read): every weight scale positive, finite.
void check_weight_scales(const Node& node);

}  // namespace nimble::ops
