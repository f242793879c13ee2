#include "graph/ops/quant_common.hpp"

#include <cstring>

#include "graph/ops/op_util.hpp"
#include "nimble/graph/op.hpp"

namespace nimble::ops {

void store_value(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DType::u8:
      t.data<uint8_t>()[i] = uint8_t(v);
      break;
    case DType::s8:
      t.data<int8_t>()[i] = int8_t(v);
      break;
    case DType::f32:
      t.data<float>()[i] = float(v);
      break;
    default:
      NIMBLE_ASSERT(false, "store_value: unexpected dtype");
  }
}

float requantize(int64_t acc, float scale, float bias, const std::string& activation, const QParams& dst) {
  const float y = apply_activation(activation, scale * float(acc) + bias);
  return dst.dtype == DType::f32 ? y : float(quantize_value(y, dst));
}

namespace {
// Weights and bias count as the model's parameters (Graph::param_count) though int8 graphs are
// never trained; scales are bookkeeping, like batch-norm statistics.
ParamPtr zeroed_param(const Shape& s, DType t, bool counted) {
  auto p = std::make_shared<Param>();
  p->data = Tensor(s, t);
  std::memset(p->data.raw(), 0, p->data.nbytes());
  p->trainable = counted;
  return p;
}
}  // namespace

void make_quantized_params(Node& node, const Shape& weights_shape) {
  const int64_t o = weights_shape[0];
  node.params["weights"] = zeroed_param(weights_shape, DType::s8, true);
  node.params["weight_scales"] = zeroed_param({o}, DType::f32, false);
  float* s = node.params["weight_scales"]->data.data<float>();
  for (int64_t i = 0; i < o; ++i) s[i] = 1.0f;
  if (node.attr_int("bias", 1)) node.params["bias"] = zeroed_param({o}, DType::f32, true);
}

void check_quantized_params(const Node& node, const Shape& weights_shape) {
  const std::string where = std::string(op_name(node.op)) + " '" + node.name + "': ";
  const int64_t o = weights_shape[0];
  auto expect = [&](const char* key, const Shape& shape, DType t) -> ParamPtr {
    ParamPtr p = node.param_ptr(key);
    if (!p) return p;
    NIMBLE_CHECK(p->data.shape() == shape && p->data.dtype() == t,
                 where + key + " must be " + dtype_name(t) + " " + shape.str() + ", got " +
                     dtype_name(p->data.dtype()) + " " + p->data.shape().str());
    return p;
  };
  expect("weights", weights_shape, DType::s8);
  expect("bias", {o}, DType::f32);
  expect("weight_scales", {o}, DType::f32);
}

void check_weight_scales(const Node& node) {
  const Tensor& s = node.param("weight_scales").data;
  for (int64_t i = 0; i < s.numel(); ++i)
    NIMBLE_CHECK(std::isfinite(s.data<float>()[i]) && s.data<float>()[i] > 0,
                 std::string(op_name(node.op)) + " '" + node.name + "': weight_scales must be positive and finite");
}

}  // namespace nimble::ops
