#pragma once
// What fake_quant's reference and kernel share.
#include "graph/ops/op_util.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble::ops {

inline DType int8_type(const Node& node) {
  const std::string t = node.attr_str("dtype", "");
  NIMBLE_CHECK(t == "u8" || t == "s8", "fake_quant '" + node.name + "': dtype must be u8 or s8, got '" + t + "'");
  return t == "u8" ? DType::u8 : DType::s8;
}

// The quantization of the current range in the calibrated dtype (quant::Observer's rule).
inline QParams current(const Node& node) {
  const float* r = node.param("range").data.data<float>();
  QParams q;
  q.dtype = int8_type(node);
  const float t = q.dtype == DType::u8 ? std::max(r[1], 0.0f) : std::max(std::fabs(r[0]), std::fabs(r[1]));
  q.scale = t > 0 ? t / float(qmax(q.dtype)) : 1.0f;
  return q;
}

inline float fake(float x, const QParams& q) { return q.scale * float(quantize_value(x, q)); }

}  // namespace nimble::ops
