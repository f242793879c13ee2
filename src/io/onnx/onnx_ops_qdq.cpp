// QDQ, the int8 form ONNX Runtime's quantizer writes (and nimble export writes): constant weights
// behind a DequantizeLinear fold to float at import; an activation's QuantizeLinear ->
// DequantizeLinear pair becomes a fake_quant node with that scale, so the imported float graph
// computes what the int8 model computes (up to int32 accumulation); `nimble quantize` then makes
// real int8 of it. nimble's int8 is symmetric: a zero point other than 0 is refused.
#include <cmath>

#include "io/onnx/onnx_import_context.hpp"

namespace nimble::io {
namespace {

// Per-tensor scale and zero point of a QuantizeLinear / DequantizeLinear on a computed tensor.
QParams tensor_qparams(ImportContext& ctx) {
  const ConstTensor& scale = ctx.constant(1, "y_scale");
  if (scale.numel() != 1) ctx.unsupported("per-axis quantization of activations is not supported");
  QParams q;
  q.scale = float(scale.at(0));
  q.dtype = DType::u8;
  if (ctx.has_input(2)) {
    const ConstTensor& zp = ctx.constant(2, "zero_point");
    if (zp.numel() != 1) ctx.unsupported("per-axis zero points of activations are not supported");
    if (zp.onnx_type == onnx::TensorProto::INT8)
      q.dtype = DType::s8;
    else if (zp.onnx_type != onnx::TensorProto::UINT8)
      ctx.unsupported("zero point type must be int8 or uint8");
    q.zero_point = int32_t(zp.int_at(0));
  }
  if (q.zero_point != 0)
    ctx.unsupported("zero point " + std::to_string(q.zero_point) + ": nimble's int8 is symmetric (zero point 0)");
  if (!(q.scale > 0) || !std::isfinite(q.scale)) ctx.unsupported("the scale must be positive and finite");
  return q;
}

void convert_quantize_linear(ImportContext& ctx) {
  ctx.allow_attrs({"axis"});
  ImportedValue v;
  v.kind = ImportedValue::Kind::quantized;
  v.id = ctx.dynamic(0, "input x");
  v.quantization = tensor_qparams(ctx);
  ctx.set_output(0, std::move(v));
}

void convert_dequantize_linear(ImportContext& ctx) {
  ctx.allow_attrs({"axis"});
  const ImportedValue& in = ctx.input(0);
  if (in.kind != ImportedValue::Kind::quantized)
    ctx.unsupported("nimble reads DequantizeLinear of constants, or right after a QuantizeLinear (QDQ)");
  const QParams q = tensor_qparams(ctx);
  if (q.scale != in.quantization.scale || q.dtype != in.quantization.dtype)
    ctx.unsupported("its scale or type differs from the QuantizeLinear before it");
  // fake_quant's symmetric rule gives back this scale from the range [-127 s, 127 s] or [0, 255 s].
  Tensor range({2});
  range.data<float>()[0] = q.dtype == DType::u8 ? 0.0f : -127.0f * q.scale;
  range.data<float>()[1] = float(qmax(q.dtype)) * q.scale;
  ctx.set_dynamic(0, ctx.add_node(OpKind::fake_quant,
                                  {{"dtype", std::string(q.dtype == DType::u8 ? "u8" : "s8")}, {"frozen", int64_t(1)}},
                                  {in.id}, {{"range", make_param(range, true)}}));
}

}  // namespace

const std::vector<OnnxConverter>& qdq_converters() {
  static const std::vector<OnnxConverter> table = {
      {"", "QuantizeLinear", 10, 17, convert_quantize_linear},
      {"", "DequantizeLinear", 10, 17, convert_dequantize_linear},
  };
  return table;
}

}  // namespace nimble::io
