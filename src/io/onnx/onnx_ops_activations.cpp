// ONNX activations and element-wise arithmetic on computed tensors -> nimble's element-wise ops,
// softmax, add and mul. PyTorch's patterns map to single ops: Clip(0, 6) is ReLU6,
// x * Sigmoid(x) is SiLU, x * HardSigmoid(x) is HardSwish (before opset 14 has HardSwish).
#include <cmath>
#include <limits>

#include "io/onnx/onnx_import_context.hpp"

namespace nimble::io {
namespace {

void unary(ImportContext& ctx, OpKind op) { ctx.set_dynamic(0, ctx.add_node(op, {}, {ctx.dynamic(0, "input X")})); }

// Relu, Sigmoid, Tanh, HardSwish: no attributes, one nimble op each.
template <OpKind op> void convert_unary(ImportContext& ctx) {
  ctx.allow_attrs({});
  unary(ctx, op);
}

void convert_hardsigmoid(ImportContext& ctx) {
  ctx.allow_attrs({"alpha", "beta"});
  const float alpha = ctx.attr_float("alpha", 0.2f), beta = ctx.attr_float("beta", 0.5f);
  if (std::abs(alpha - 1.0f / 6.0f) > 1e-6f || std::abs(beta - 0.5f) > 1e-6f)
    ctx.unsupported("alpha " + std::to_string(alpha) + ", beta " + std::to_string(beta) +
                    ": nimble supports PyTorch's Hardsigmoid (alpha = 1/6, beta = 0.5)");
  unary(ctx, OpKind::hardsigmoid);
}

// Clip's bounds: attributes before opset 11, optional constant inputs from 11.
void clip_to(ImportContext& ctx, float lo, float hi) {
  if (lo == 0.0f && hi == 6.0f) return unary(ctx, OpKind::relu6);
  if (lo == 0.0f && std::isinf(hi) && hi > 0) return unary(ctx, OpKind::relu);
  ctx.unsupported("Clip to [" + std::to_string(lo) + ", " + std::to_string(hi) +
                  "]: nimble supports [0, 6] (ReLU6) and [0, inf) (ReLU)");
}

void convert_clip_6(ImportContext& ctx) {
  ctx.allow_attrs({"min", "max"});
  const float inf = std::numeric_limits<float>::infinity();
  clip_to(ctx, ctx.attr_float("min", -inf), ctx.attr_float("max", inf));
}

void convert_clip_11(ImportContext& ctx) {
  ctx.allow_attrs({});
  const float inf = std::numeric_limits<float>::infinity();
  auto bound = [&](int i, float fallback) {
    if (!ctx.has_input(i)) return fallback;
    const ConstTensor& t = ctx.constant(i, i == 1 ? "min" : "max");
    if (t.numel() != 1) ctx.unsupported("Clip bound " + t.describe() + " is not a scalar");
    return float(t.at(0));
  };
  clip_to(ctx, bound(1, -inf), bound(2, inf));
}

void convert_softmax(ImportContext& ctx) {
  ctx.allow_attrs({"axis"});
  const int x = ctx.dynamic(0, "input X");
  const int r = ctx.rank(x);
  int64_t axis = ctx.attr_int("axis", ctx.opset() >= 13 ? -1 : 1);
  if (axis < 0) axis += r;
  // Before opset 13 Softmax flattens to 2-D at `axis`: one softmax over the last axis when that is it.
  if (ctx.opset() < 13 && axis != r - 1)
    ctx.unsupported("axis " + std::to_string(axis) + " of a rank-" + std::to_string(r) +
                    " input before opset 13 normalises over several axes; nimble supports the last axis");
  if (axis <= 0 || axis >= r) ctx.unsupported("axis " + std::to_string(axis) + " is the batch or out of range");
  ctx.set_dynamic(0, ctx.add_node(OpKind::softmax, {{"axis", axis}}, {x}));
}

bool is_unary_of(const ImportContext& ctx, int value, OpKind op, int of) {
  const Node* p = ctx.producer(value);
  return p && p->op == op && p->inputs.size() == 1 && p->inputs[0] == of;
}

bool scalar_constant(const ImportContext& ctx, int i, double value) {
  if (!ctx.is_constant(i)) return false;
  const ConstTensor& t = ctx.constant(i, "operand");
  for (int64_t k = 0; k < t.numel(); ++k)
    if (t.at(k) != value) return false;
  return int(t.dims.size()) <= 1;
}

void convert_mul(ImportContext& ctx) {
  ctx.allow_attrs({"broadcast", "axis"});
  for (int i = 0; i < 2; ++i)
    if (scalar_constant(ctx, i, 1.0)) return ctx.set_dynamic(0, ctx.dynamic(1 - i, "input"));
  int a = ctx.dynamic(0, "input A"), b = ctx.dynamic(1, "input B");
  for (int swap = 0; swap < 2; ++swap, std::swap(a, b)) {
    if (is_unary_of(ctx, b, OpKind::sigmoid, a)) return ctx.set_dynamic(0, ctx.add_node(OpKind::silu, {}, {a}));
    if (is_unary_of(ctx, b, OpKind::hardsigmoid, a))
      return ctx.set_dynamic(0, ctx.add_node(OpKind::hardswish, {}, {a}));
  }
  const Shape &sa = ctx.shape(a), &sb = ctx.shape(b);
  auto gate_of = [](const Shape& x, const Shape& g) {  // g is (N, C, 1, 1) for x (N, C, H, W)
    return x.rank() == 4 && g.rank() == 4 && g[0] == x[0] && g[1] == x[1] && g[2] == 1 && g[3] == 1;
  };
  if (sa == sb || gate_of(sa, sb)) return ctx.set_dynamic(0, ctx.add_node(OpKind::mul, {}, {a, b}));
  if (gate_of(sb, sa)) return ctx.set_dynamic(0, ctx.add_node(OpKind::mul, {}, {b, a}));
  ctx.unsupported("shapes " + sa.str() + " and " + sb.str() +
                  ": nimble multiplies equal shapes or (N, C, H, W) by a (N, C, 1, 1) gate");
}

// A constant bias after a MatMul or a bias-less Conv becomes that layer's bias.
bool absorb_bias(ImportContext& ctx, int x_input, const ConstTensor& bias) {
  const int x = ctx.dynamic(x_input, "input");
  const Node* p = ctx.producer(x);
  if (!p || (p->op != OpKind::linear && p->op != OpKind::conv2d) || p->param_ptr("bias") ||
      ctx.consumers_of_input(x_input) != 1)
    return false;
  const int64_t o = p->op == OpKind::linear ? p->attr_int("out_features", 0) : p->attr_int("out_channels", 0);
  const Shape& s = ctx.shape(x);
  // (O), (1, O) for linear; (O, 1, 1) or (1, O, 1, 1) for conv: one value per output channel.
  if (bias.numel() != o || (p->op == OpKind::conv2d && bias.dims.size() < 3) || s[1] != o) return false;
  Node& node = ctx.graph().nodes()[size_t(ctx.graph().values()[size_t(x)].producer)];
  node.params["bias"] = make_param(bias.to_tensor().reshaped({o}));
  node.attrs["bias"] = int64_t(1);
  ctx.set_dynamic(0, x);
  return true;
}

void convert_add(ImportContext& ctx) {
  ctx.allow_attrs({"broadcast", "axis"});
  for (int i = 0; i < 2; ++i) {
    if (scalar_constant(ctx, i, 0.0)) return ctx.set_dynamic(0, ctx.dynamic(1 - i, "input"));
    if (ctx.is_constant(i) && !ctx.is_constant(1 - i) && absorb_bias(ctx, 1 - i, ctx.constant(i, "bias"))) return;
  }
  const int a = ctx.dynamic(0, "input A"), b = ctx.dynamic(1, "input B");
  if (ctx.shape(a) != ctx.shape(b))
    ctx.unsupported("shapes " + ctx.shape(a).str() + " and " + ctx.shape(b).str() +
                    ": nimble adds tensors of equal shape (broadcasting is not supported)");
  ctx.set_dynamic(0, ctx.add_node(OpKind::add, {}, {a, b}));
}

void convert_not_on_computed(ImportContext& ctx) {
  ctx.unsupported("nimble evaluates this operator only on constants (shape arithmetic), not on computed tensors");
}

}  // namespace

const std::vector<OnnxConverter>& activation_converters() {
  static const std::vector<OnnxConverter> table = {
      {"", "Relu", 1, 17, convert_unary<OpKind::relu>},
      {"", "Sigmoid", 1, 17, convert_unary<OpKind::sigmoid>},
      {"", "Tanh", 1, 17, convert_unary<OpKind::tanh>},
      {"", "HardSwish", 14, 17, convert_unary<OpKind::hardswish>},
      {"", "HardSigmoid", 1, 17, convert_hardsigmoid},
      {"", "Clip", 1, 10, convert_clip_6},
      {"", "Clip", 11, 17, convert_clip_11},
      {"", "Softmax", 1, 17, convert_softmax},
      {"", "Mul", 1, 17, convert_mul},
      {"", "Add", 1, 17, convert_add},
      {"", "Sub", 1, 17, convert_not_on_computed},
      {"", "Div", 1, 17, convert_not_on_computed},
  };
  return table;
}

}  // namespace nimble::io
