#include "nimble/graph/qparams.hpp"

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"

namespace nimble {

QParams qparams(const Node& node, const std::string& prefix, bool allow_f32) {
  QParams q;
  const std::string where = std::string(op_name(node.op)) + " '" + node.name + "': ";
  const std::string type = node.attr_str(prefix + "dtype", allow_f32 ? "f32" : "");
  if (type == "u8")
    q.dtype = DType::u8;
  else if (type == "s8")
    q.dtype = DType::s8;
  else if (type == "f32" && allow_f32)
    q.dtype = DType::f32;
  else
    throw Error(where + prefix + "dtype must be " + (allow_f32 ? "u8, s8 or f32" : "u8 or s8") + ", got '" + type +
                "'");
  if (q.dtype == DType::f32) return q;
  const double scale = node.attr_float(prefix + "scale", 0.0);
  NIMBLE_CHECK(std::isfinite(scale) && scale > 1e-30 && scale < 1e30,
               where + prefix + "scale must be a positive finite number, got " + std::to_string(scale));
  q.scale = float(scale);
  const int64_t zp = node.attr_int(prefix + "zero_point", 0);
  NIMBLE_CHECK(zp >= qmin(q.dtype) && zp <= qmax(q.dtype),
               where + prefix + "zero_point " + std::to_string(zp) + " is outside the range of " + type);
  q.zero_point = int32_t(zp);
  return q;
}

void set_qparams(Attrs& attrs, const std::string& prefix, const QParams& q) {
  attrs[prefix + "dtype"] = std::string(dtype_name(q.dtype));
  if (q.dtype == DType::f32) return;
  attrs[prefix + "scale"] = double(q.scale);
  attrs[prefix + "zero_point"] = int64_t(q.zero_point);
}

void fake_quantize_weights(Tensor& out, const Tensor& w) {
  const int64_t o = w.shape()[0], per = w.numel() / o;
  if (!out.defined() || out.shape() != w.shape()) out = Tensor(w.shape());
  const float* src = w.data<float>();  // (O, per)
  float* dst = out.data<float>();      // (O, per)
  for (int64_t c = 0; c < o; ++c) {
    const float s = weight_channel_scale(src + c * per, per);
    for (int64_t i = 0; i < per; ++i) dst[c * per + i] = s * float(quantize_weight(src[c * per + i], s));
  }
}

QParams symmetric_qparams(double lo, double hi) {
  QParams q;
  q.dtype = lo >= 0 ? DType::u8 : DType::s8;
  const double t = std::max(std::fabs(lo), std::fabs(hi));
  q.scale = t > 0 ? float(t / (q.dtype == DType::u8 ? 255 : 127)) : 1.0f;
  return q;
}

}  // namespace nimble
