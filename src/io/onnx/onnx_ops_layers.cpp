// ONNX layers with weights -> conv2d, linear, batch_norm2d. Weights must be constants
// (initializers); PyTorch's exporter folds batch-norm into the convolution unless it cannot.
#include <cmath>

#include "io/onnx/onnx_import_context.hpp"
#include "io/onnx/onnx_padding.hpp"

namespace nimble::io {
namespace {

void convert_conv(ImportContext& ctx) {
  ctx.allow_attrs({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  const ImportedValue& in = ctx.input(0);
  const bool padded = in.kind == ImportedValue::Kind::padded;
  const int x = padded ? in.id : ctx.dynamic(0, "input X");
  if (ctx.rank(x) != 4)
    ctx.unsupported("input of rank " + std::to_string(ctx.rank(x)) + ": nimble convolves (N, C, H, W)");
  const ConstTensor& w = ctx.constant(1, "weights W");
  if (w.dims.size() != 4) ctx.unsupported("weights " + w.describe() + " are not (O, I/group, kH, kW)");
  const int64_t group = ctx.attr_int("group", 1);
  const int64_t oc = w.dims[0], kh = w.dims[2], kw = w.dims[3];
  const Shape& xs = ctx.shape(x);
  if (group <= 0 || xs[1] != w.dims[1] * group)
    ctx.unsupported("weights " + w.describe() + " with group " + std::to_string(group) + " do not fit input " +
                    xs.str());
  const auto kernel = ctx.attr_ints("kernel_shape", {kh, kw});
  if (kernel != std::vector<int64_t>{kh, kw})
    ctx.unsupported("kernel_shape " + dims_text(kernel) + " does not match the weights " + w.describe());
  const auto strides = ctx.attr_ints("strides", {1, 1}), dilations = ctx.attr_ints("dilations", {1, 1});
  if (strides.size() != 2 || dilations.size() != 2) ctx.unsupported("strides and dilations need two values");
  std::vector<int64_t> pads = onnx_pads(ctx, xs, {kh, kw}, strides, dilations);
  if (padded)
    for (int i = 0; i < 4; ++i) pads[size_t(i)] += in.pads[size_t(i)];
  if (pads[0] != pads[2] || pads[1] != pads[3])
    ctx.unsupported("asymmetric pads " + dims_text(pads) + ": nimble's convolution pads top = bottom and left = right");
  std::map<std::string, ParamPtr> params{{"weights", make_param(w.to_tensor())}};
  if (ctx.has_input(2)) {
    const ConstTensor& b = ctx.constant(2, "bias B");
    if (b.numel() != oc) ctx.unsupported("bias " + b.describe() + " does not have " + std::to_string(oc) + " values");
    params["bias"] = make_param(b.to_tensor().reshaped({oc}));
  }
  const bool has_bias = params.count("bias") != 0;
  ctx.set_dynamic(0, ctx.add_node(OpKind::conv2d,
                                  {{"out_channels", oc},
                                   {"kernel", std::vector<int64_t>{kh, kw}},
                                   {"stride", strides},
                                   {"padding", std::vector<int64_t>{pads[0], pads[1]}},
                                   {"dilation", dilations},
                                   {"groups", group},
                                   {"bias", int64_t(has_bias)}},
                                  {x}, std::move(params)));
}

// dst = alpha * A * op(B) + beta * C with A computed (N, K), B and C constants -> linear.
void add_linear(ImportContext& ctx, int a, const ConstTensor& b, bool trans_b, float alpha, const ConstTensor* c,
                float beta) {
  if (ctx.rank(a) != 2) ctx.unsupported("input of shape " + ctx.shape(a).str() + ": nimble needs (N, K) here");
  if (b.dims.size() != 2) ctx.unsupported("weights " + b.describe() + " are not a matrix");
  const int64_t k = ctx.shape(a)[1];
  const int64_t o = trans_b ? b.dims[0] : b.dims[1];
  if ((trans_b ? b.dims[1] : b.dims[0]) != k)
    ctx.unsupported("weights " + b.describe() + " do not fit input " + ctx.shape(a).str());
  Tensor wt({o, k});  // (O, K): linear's layout
  for (int64_t r = 0; r < o; ++r)
    for (int64_t j = 0; j < k; ++j)
      wt.data<float>()[r * k + j] = alpha * float(trans_b ? b.at(r * k + j) : b.at(j * o + r));
  std::map<std::string, ParamPtr> params{{"weights", make_param(wt)}};
  if (c) {
    Tensor bias({o});
    if (c->numel() == o) {
      for (int64_t r = 0; r < o; ++r) bias.data<float>()[r] = beta * float(c->at(r));
    } else if (c->numel() == 1) {
      bias.fill(beta * float(c->at(0)));
    } else {
      ctx.unsupported("bias C " + c->describe() + " is not broadcast over the batch (nimble needs (O) or (1, O))");
    }
    params["bias"] = make_param(bias);
  }
  const bool has_bias = params.count("bias") != 0;
  ctx.set_dynamic(
      0, ctx.add_node(OpKind::linear, {{"out_features", o}, {"bias", int64_t(has_bias)}}, {a}, std::move(params)));
}

void convert_gemm(ImportContext& ctx) {
  ctx.allow_attrs({"alpha", "beta", "transA", "transB", "broadcast"});
  if (ctx.attr_int("transA", 0)) ctx.unsupported("transA = 1 (the batch would move): nimble needs A as (N, K)");
  const int a = ctx.dynamic(0, "input A");
  const ConstTensor& b = ctx.constant(1, "weights B");
  const ConstTensor* c = ctx.has_input(2) ? &ctx.constant(2, "bias C") : nullptr;
  add_linear(ctx, a, b, ctx.attr_int("transB", 0) != 0, ctx.attr_float("alpha", 1.0f), c, ctx.attr_float("beta", 1.0f));
}

void convert_matmul(ImportContext& ctx) {
  ctx.allow_attrs({});
  const int a = ctx.dynamic(0, "input A");
  add_linear(ctx, a, ctx.constant(1, "weights B"), false, 1.0f, nullptr, 0.0f);
}

void convert_batch_norm(ImportContext& ctx) {
  ctx.allow_attrs({"epsilon", "momentum", "spatial", "training_mode", "is_test", "consumed_inputs"});
  if (ctx.attr_int("training_mode", 0)) ctx.unsupported("training_mode = 1: nimble imports inference graphs");
  if (ctx.attr_int("spatial", 1) != 1) ctx.unsupported("spatial = 0 (per-element statistics) is not supported");
  ctx.only_first_outputs(1, "nimble imports inference graphs (no running-statistics outputs)");
  const int x = ctx.dynamic(0, "input X");
  if (ctx.rank(x) != 4)
    ctx.unsupported("input of shape " + ctx.shape(x).str() + ": nimble's batch norm takes (N, C, H, W)");
  const int64_t c = ctx.shape(x)[1];
  std::map<std::string, ParamPtr> params;
  const char* names[] = {"scale", "shift", "running_mean", "running_var"};
  for (int i = 0; i < 4; ++i) {
    const ConstTensor& t = ctx.constant(i + 1, names[i]);
    if (t.numel() != c)
      ctx.unsupported(std::string(names[i]) + " " + t.describe() + " does not have " + std::to_string(c) + " values");
    params[names[i]] = make_param(t.to_tensor().reshaped({c}), i >= 2);
  }
  const double momentum = ctx.attr_float("momentum", 0.9f);
  ctx.set_dynamic(0, ctx.add_node(OpKind::batch_norm2d,
                                  // ONNX's momentum weighs the old statistics, PyTorch's (ours) the new ones.
                                  {{"eps", double(ctx.attr_float("epsilon", 1e-5f))}, {"momentum", 1.0 - momentum}},
                                  {x}, std::move(params)));
}

}  // namespace

const std::vector<OnnxConverter>& layer_converters() {
  static const std::vector<OnnxConverter> table = {
      {"", "Conv", 1, 17, convert_conv},
      {"", "Gemm", 1, 17, convert_gemm},
      {"", "MatMul", 1, 17, convert_matmul},
      {"", "BatchNormalization", 1, 17, convert_batch_norm},
  };
  return table;
}

}  // namespace nimble::io
