#include "graph/ops/quant_common.hpp"

#include <cstring>

#include "graph/ops/op_util.hpp"
#include "nimble/graph/op.hpp"

namespace nimble::ops {

QParams qparams(const Node& node, const std::string& prefix, bool allow_f32) {
  QParams q;
  const std::string where = std::string(op_name(node.op)) + " '" + node.name + "': ";
  const std::string type = node.attr_str(prefix + "dtype", allow_f32 ? "f32" : "");
  if (type == "u8") q.dtype = DType::u8;
  else if (type == "s8") q.dtype = DType::s8;
  else if (type == "f32" && allow_f32) q.dtype = DType::f32;
  else throw Error(where + prefix + "dtype must be " + (allow_f32 ? "u8, s8 or f32" : "u8 or s8") + ", got '" + type + "'");
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

void store_value(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DType::u8: t.data<uint8_t>()[i] = uint8_t(v); break;
    case DType::s8: t.data<int8_t>()[i] = int8_t(v); break;
    case DType::f32: t.data<float>()[i] = float(v); break;
    default: NIMBLE_ASSERT(false, "store_value: unexpected dtype");
  }
}

}  // namespace nimble::ops

namespace nimble::ops {

float requantize(int64_t acc, float scale, float bias, const std::string& activation, const QParams& dst) {
  const float y = apply_activation(activation, scale * float(acc) + bias);
  return dst.dtype == DType::f32 ? y : float(quantize_value(y, dst));
}

namespace {
ParamPtr frozen_param(const Shape& s, DType t) {
  auto p = std::make_shared<Param>();
  p->data = Tensor(s, t);
  std::memset(p->data.raw(), 0, p->data.nbytes());
  p->trainable = false;
  return p;
}
}  // namespace

void make_quantized_params(Node& node, const Shape& weights_shape) {
  const int64_t o = weights_shape[0];
  node.params["weights"] = frozen_param(weights_shape, DType::s8);
  node.params["weight_scales"] = frozen_param({o}, DType::f32);
  float* s = node.params["weight_scales"]->data.data<float>();
  for (int64_t i = 0; i < o; ++i) s[i] = 1.0f;
  if (node.attr_int("bias", 1)) node.params["bias"] = frozen_param({o}, DType::f32);
}

void check_quantized_params(const Node& node, const Shape& weights_shape) {
  const std::string where = std::string(op_name(node.op)) + " '" + node.name + "': ";
  const int64_t o = weights_shape[0];
  auto expect = [&](const char* key, const Shape& shape, DType t) -> ParamPtr {
    ParamPtr p = node.param_ptr(key);
    if (!p) return p;
    NIMBLE_CHECK(p->data.shape() == shape && p->data.dtype() == t, where + key + " must be " + dtype_name(t) + " " +
                                                                       shape.str() + ", got " + dtype_name(p->data.dtype()) +
                                                                       " " + p->data.shape().str());
    return p;
  };
  expect("weights", weights_shape, DType::s8);
  expect("bias", {o}, DType::f32);
  if (ParamPtr s = expect("weight_scales", {o}, DType::f32)) {
    const float* v = s->data.data<float>();
    for (int64_t i = 0; i < o; ++i)
      NIMBLE_CHECK(std::isfinite(v[i]) && v[i] > 0, where + "weight_scales must be positive and finite");
  }
}

}  // namespace nimble::ops
