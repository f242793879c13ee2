// Import-time constants: Constant nodes, Shape of a computed tensor (its batch entry symbolic,
// kBatchDim), and the arithmetic exporters wrap around them (PyTorch's x.view(x.size(0), g, -1)
// becomes Shape -> Gather -> Div -> Unsqueeze -> Concat -> Reshape). Folded here, never run.
#include <algorithm>
#include <cmath>

#include "io/onnx/onnx_import_context.hpp"

namespace nimble::io {
namespace {

using Dims = std::vector<int64_t>;

int64_t numel_of(const Dims& d) {
  int64_t n = 1;
  for (int64_t x : d) n *= x;
  return n;
}

// Folding refuses tensors past this size: shape arithmetic is tiny, and an import must not
// allocate what a hostile file asks for.
constexpr int64_t kMaxFoldElements = int64_t(1) << 24;

void check_size(ImportContext& ctx, const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || (d > 0 && n > kMaxFoldElements / d)) ctx.unsupported("a constant of more than 2^24 elements");
    n *= d;
  }
}

void convert_constant(ImportContext& ctx) {
  ctx.allow_attrs({"value", "value_float", "value_floats", "value_int", "value_ints"});
  const auto* a = ctx.node().attribute_size() == 1 ? &ctx.node().attribute(0) : nullptr;
  if (!a) ctx.unsupported("needs exactly one value attribute");
  ConstTensor t;
  if (a->name() == "value") {
    t = const_from_proto(a->t(), ctx.who() + " value");
  } else if (a->name() == "value_float" || a->name() == "value_floats") {
    t.floats = a->name() == "value_float" ? std::vector<float>{a->f()}
                                          : std::vector<float>(a->floats().begin(), a->floats().end());
    if (a->name() == "value_floats") t.dims = {int64_t(t.floats.size())};
  } else {
    t = a->name() == "value_int" ? ints_tensor({}, {a->i()})
                                 : ints_tensor({a->ints_size()}, {a->ints().begin(), a->ints().end()});
  }
  ctx.set_constant(0, std::move(t));
}

void convert_shape(ImportContext& ctx) {
  ctx.allow_attrs({"start", "end"});
  const ImportedValue& v = ctx.input(0);
  Dims dims;
  if (v.kind == ImportedValue::Kind::constant) {
    dims = v.constant.dims;
  } else {
    dims = ctx.shape(ctx.dynamic(0, "input")).dims();
    dims[0] = kBatchDim;
  }
  const int64_t r = int64_t(dims.size());
  auto clamp = [r](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + r : i, 0, r); };
  const int64_t start = clamp(ctx.attr_int("start", 0)), end = clamp(ctx.attr_int("end", r));
  Dims out(dims.begin() + start, dims.begin() + std::max(start, end));
  ctx.set_constant(0, ints_tensor({int64_t(out.size())}, out));
}

void convert_constant_of_shape(ImportContext& ctx) {
  ctx.allow_attrs({"value"});
  const Dims dims = ctx.constant(0, "shape").as_ints();
  check_size(ctx, dims);
  ConstTensor fill = ctx.has_attr("value") ? const_from_proto(ctx.attr("value")->t(), ctx.who() + " value")
                                           : ConstTensor{{1}, false, {0.0f}, {}, onnx::TensorProto::FLOAT};
  ConstTensor t = fill;
  t.dims = dims;
  const int64_t n = numel_of(dims);
  if (t.integer)
    t.ints.assign(size_t(n), fill.int_at(0));
  else
    t.floats.assign(size_t(n), float(fill.at(0)));
  ctx.set_constant(0, std::move(t));
}

// Numpy broadcasting of two shapes.
Dims broadcast(ImportContext& ctx, const Dims& a, const Dims& b) {
  Dims out(std::max(a.size(), b.size()));
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t x = i < out.size() - a.size() ? 1 : a[i - (out.size() - a.size())];
    const int64_t y = i < out.size() - b.size() ? 1 : b[i - (out.size() - b.size())];
    if (x != y && x != 1 && y != 1) ctx.unsupported("shapes do not broadcast");
    out[i] = std::max(x, y);
  }
  return out;
}

// Flat index into a tensor of `dims` for the element at out-index `i` of `out` under broadcasting.
int64_t source_index(const Dims& dims, const Dims& out, int64_t i) {
  int64_t idx = 0, stride = 1;
  for (size_t k = out.size(); k-- > 0;) {
    const int64_t coord = i % out[k];
    i /= out[k];
    const size_t off = out.size() - dims.size();
    if (k >= off) {
      const int64_t d = dims[k - off];
      idx += (d == 1 ? 0 : coord) * stride;
      stride *= d;
    }
  }
  return idx;
}

template <class IntOp, class FloatOp> void elementwise(ImportContext& ctx, IntOp int_op, FloatOp float_op) {
  const ConstTensor& a = ctx.constant(0, "A");
  const ConstTensor& b = ctx.constant(1, "B");
  const Dims out = broadcast(ctx, a.dims, b.dims);
  check_size(ctx, out);
  const int64_t n = numel_of(out);
  ConstTensor t;
  t.dims = out;
  t.integer = a.integer && b.integer;
  t.onnx_type = t.integer ? a.onnx_type : onnx::TensorProto::FLOAT;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ia = source_index(a.dims, out, i), ib = source_index(b.dims, out, i);
    if (t.integer) {
      const int64_t x = a.ints[size_t(ia)], y = b.ints[size_t(ib)];
      if (x == kBatchDim || y == kBatchDim) ctx.unsupported("arithmetic on the batch size is not supported");
      t.ints.push_back(int_op(ctx, x, y));
    } else {
      t.floats.push_back(float_op(float(a.at(ia)), float(b.at(ib))));
    }
  }
  ctx.set_constant(0, std::move(t));
}

void convert_add(ImportContext& ctx) {
  elementwise(
      ctx, [](ImportContext&, int64_t x, int64_t y) { return x + y; }, [](float x, float y) { return x + y; });
}
void convert_sub(ImportContext& ctx) {
  elementwise(
      ctx, [](ImportContext&, int64_t x, int64_t y) { return x - y; }, [](float x, float y) { return x - y; });
}
void convert_mul(ImportContext& ctx) {
  elementwise(
      ctx, [](ImportContext&, int64_t x, int64_t y) { return x * y; }, [](float x, float y) { return x * y; });
}
void convert_div(ImportContext& ctx) {
  elementwise(
      ctx,
      [](ImportContext& c, int64_t x, int64_t y) {
        if (y == 0) c.unsupported("integer division by zero");
        return x / y;
      },
      [](float x, float y) { return x / y; });
}

void convert_cast(ImportContext& ctx) {
  ctx.allow_attrs({"to", "saturate"});
  ConstTensor t = ctx.constant(0, "input");
  const int64_t to = ctx.attr_int("to", 0);
  const bool to_float =
      to == onnx::TensorProto::FLOAT || to == onnx::TensorProto::DOUBLE || to == onnx::TensorProto::FLOAT16;
  if (to_float && t.integer) {
    for (int64_t v : t.ints)
      if (v == kBatchDim) ctx.unsupported("casting the batch size to float is not supported");
    t.floats.assign(t.ints.begin(), t.ints.end());
    t.ints.clear();
  } else if (!to_float && !t.integer) {
    for (float v : t.floats) t.ints.push_back(int64_t(v));
    t.floats.clear();
  }
  t.integer = !to_float;
  t.onnx_type = int32_t(to);
  ctx.set_constant(0, std::move(t));
}

// The same element layout under new dims (Unsqueeze, Squeeze, Reshape, Flatten, Identity).
void set_reshaped(ImportContext& ctx, Dims dims) {
  ConstTensor t = ctx.constant(0, "input");
  if (numel_of(dims) != t.numel()) ctx.unsupported("the new shape does not hold the constant's elements");
  t.dims = std::move(dims);
  ctx.set_constant(0, std::move(t));
}

Dims axes_of(ImportContext& ctx) {
  if (ctx.opset() >= 13) return ctx.has_input(1) ? ctx.constant(1, "axes").as_ints() : Dims{};
  return ctx.attr_ints("axes", {});
}

void convert_unsqueeze(ImportContext& ctx) {
  ctx.allow_attrs({"axes"});
  Dims dims = ctx.constant(0, "input").dims, axes = axes_of(ctx);
  const int64_t r = int64_t(dims.size() + axes.size());
  for (int64_t& a : axes) a = a < 0 ? a + r : a;
  std::sort(axes.begin(), axes.end());
  for (int64_t a : axes) {
    if (a < 0 || a > int64_t(dims.size())) ctx.unsupported("axis out of range");
    dims.insert(dims.begin() + a, 1);
  }
  set_reshaped(ctx, dims);
}

void convert_squeeze(ImportContext& ctx) {
  ctx.allow_attrs({"axes"});
  Dims dims = ctx.constant(0, "input").dims, axes = axes_of(ctx);
  const int64_t r = int64_t(dims.size());
  if (axes.empty())
    for (int64_t i = 0; i < r; ++i)
      if (dims[size_t(i)] == 1) axes.push_back(i);
  for (int64_t& a : axes) a = a < 0 ? a + r : a;
  std::sort(axes.rbegin(), axes.rend());
  for (int64_t a : axes) {
    if (a < 0 || a >= int64_t(dims.size()) || dims[size_t(a)] != 1) ctx.unsupported("cannot squeeze that axis");
    dims.erase(dims.begin() + a);
  }
  set_reshaped(ctx, dims);
}

void convert_identity(ImportContext& ctx) { set_reshaped(ctx, ctx.constant(0, "input").dims); }

void convert_reshape(ImportContext& ctx) {
  ctx.allow_attrs({"allowzero"});
  const ConstTensor& in = ctx.constant(0, "data");
  Dims to = ctx.constant(1, "shape").as_ints();
  int64_t known = 1;
  int free = -1;
  for (size_t i = 0; i < to.size(); ++i) {
    if (to[i] == 0 && !ctx.attr_int("allowzero", 0)) to[i] = i < in.dims.size() ? in.dims[i] : 0;
    if (to[i] == -1)
      free = int(i);
    else
      known *= to[i];
  }
  if (free >= 0) to[size_t(free)] = known ? in.numel() / known : 0;
  set_reshaped(ctx, to);
}

// Gather along `axis` of a constant (Shape -> Gather(0) picks the batch entry, etc.).
void convert_gather(ImportContext& ctx) {
  ctx.allow_attrs({"axis"});
  const ConstTensor& data = ctx.constant(0, "data");
  const ConstTensor& idx = ctx.constant(1, "indices");
  const int64_t r = int64_t(data.dims.size());
  int64_t axis = ctx.attr_int("axis", 0);
  axis = axis < 0 ? axis + r : axis;
  if (axis < 0 || axis >= r) ctx.unsupported("axis out of range");
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= data.dims[size_t(i)];
  for (int64_t i = axis + 1; i < r; ++i) inner *= data.dims[size_t(i)];
  const int64_t dim = data.dims[size_t(axis)];
  Dims dims(data.dims.begin(), data.dims.begin() + axis);
  dims.insert(dims.end(), idx.dims.begin(), idx.dims.end());
  dims.insert(dims.end(), data.dims.begin() + axis + 1, data.dims.end());
  check_size(ctx, dims);
  ConstTensor t = data;
  t.dims = dims;
  t.ints.clear();
  t.floats.clear();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < idx.numel(); ++k) {
      int64_t j = idx.int_at(k);
      j = j < 0 ? j + dim : j;
      if (j < 0 || j >= dim) ctx.unsupported("index " + std::to_string(idx.int_at(k)) + " is out of range");
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t src = (o * dim + j) * inner + i;
        if (data.integer)
          t.ints.push_back(data.ints[size_t(src)]);
        else
          t.floats.push_back(data.floats[size_t(src)]);
      }
    }
  ctx.set_constant(0, std::move(t));
}

void convert_concat(ImportContext& ctx) {
  ctx.allow_attrs({"axis"});
  const ConstTensor& first = ctx.constant(0, "input 0");
  const int64_t r = int64_t(first.dims.size());
  int64_t axis = ctx.attr_int("axis", 0);
  axis = axis < 0 ? axis + r : axis;
  if (axis < 0 || axis >= r) ctx.unsupported("axis out of range");
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= first.dims[size_t(i)];
  ConstTensor t = first;
  t.ints.clear();
  t.floats.clear();
  t.dims[size_t(axis)] = 0;
  for (int k = 0; k < ctx.input_count(); ++k) {
    const ConstTensor& in = ctx.constant(k, "input " + std::to_string(k));
    if (int64_t(in.dims.size()) != r || in.integer != first.integer) ctx.unsupported("inputs differ in rank or type");
    t.dims[size_t(axis)] += in.dims[size_t(axis)];
  }
  check_size(ctx, t.dims);
  for (int64_t o = 0; o < outer; ++o)
    for (int k = 0; k < ctx.input_count(); ++k) {
      const ConstTensor& in = ctx.constant(k, "input");
      const int64_t chunk = in.numel() / std::max<int64_t>(outer, 1);
      for (int64_t i = 0; i < chunk; ++i) {
        if (in.integer)
          t.ints.push_back(in.ints[size_t(o * chunk + i)]);
        else
          t.floats.push_back(in.floats[size_t(o * chunk + i)]);
      }
    }
  ctx.set_constant(0, std::move(t));
}

// Slice of a rank-1 constant (a shape vector).
void convert_slice(ImportContext& ctx) {
  ctx.allow_attrs({"starts", "ends", "axes"});
  const ConstTensor& in = ctx.constant(0, "data");
  if (in.dims.size() != 1) ctx.unsupported("nimble folds Slice of rank-1 constants only");
  const bool attrs = ctx.opset() < 10;
  const Dims starts = attrs ? ctx.attr_ints("starts", {}) : ctx.constant(1, "starts").as_ints();
  const Dims ends = attrs ? ctx.attr_ints("ends", {}) : ctx.constant(2, "ends").as_ints();
  int64_t step = 1;
  if (!attrs && ctx.has_input(4)) step = ctx.constant(4, "steps").int_at(0);
  if (starts.size() != 1 || ends.size() != 1 || step != 1) ctx.unsupported("only one axis with step 1 folds");
  const int64_t n = in.dims[0];
  auto clamp = [n](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + n : v, 0, n); };
  const int64_t s = clamp(starts[0]), e = std::max(s, clamp(ends[0]));
  ConstTensor t = in;
  t.dims = {e - s};
  if (in.integer)
    t.ints.assign(in.ints.begin() + s, in.ints.begin() + e);
  else
    t.floats.assign(in.floats.begin() + s, in.floats.begin() + e);
  ctx.set_constant(0, std::move(t));
}

// Int8 weights (and int32 biases) behind a DequantizeLinear, per tensor or per axis: floats.
void convert_dequantize_linear(ImportContext& ctx) {
  ctx.allow_attrs({"axis"});
  const ConstTensor& x = ctx.constant(0, "x");
  const ConstTensor& scale = ctx.constant(1, "x_scale");
  const ConstTensor* zp = ctx.has_input(2) ? &ctx.constant(2, "x_zero_point") : nullptr;
  const int64_t r = int64_t(x.dims.size());
  int64_t axis = ctx.attr_int("axis", 1);
  axis = axis < 0 ? axis + r : axis;
  int64_t channels = 1, inner = 1;
  if (scale.numel() > 1) {
    if (axis < 0 || axis >= r || x.dims[size_t(axis)] != scale.numel())
      ctx.unsupported("scale " + scale.describe() + " does not match axis " + std::to_string(axis) + " of " +
                      x.describe());
    channels = scale.numel();
    for (int64_t i = axis + 1; i < r; ++i) inner *= x.dims[size_t(i)];
  }
  if (zp && zp->numel() != channels) ctx.unsupported("zero point " + zp->describe() + " does not match the scale");
  ConstTensor t;
  t.dims = x.dims;
  t.floats.resize(size_t(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = (i / inner) % channels;
    t.floats[size_t(i)] = float(double(x.int_at(i) - (zp ? zp->int_at(c) : 0)) * scale.at(c));
  }
  ctx.set_constant(0, std::move(t));
}

}  // namespace

const std::vector<OnnxConverter>& constant_converters() {
  static const std::vector<OnnxConverter> table = {
      {"", "Constant", 1, 17, convert_constant},
      {"", "Shape", 1, 17, convert_shape},
      {"", "ConstantOfShape", 9, 17, convert_constant_of_shape},
      {"", "Add", 1, 17, convert_add},
      {"", "Sub", 1, 17, convert_sub},
      {"", "Mul", 1, 17, convert_mul},
      {"", "Div", 1, 17, convert_div},
      {"", "Cast", 1, 17, convert_cast},
      {"", "Unsqueeze", 1, 17, convert_unsqueeze},
      {"", "Squeeze", 1, 17, convert_squeeze},
      {"", "Identity", 1, 17, convert_identity},
      {"", "Reshape", 5, 17, convert_reshape},
      {"", "Gather", 1, 17, convert_gather},
      {"", "Concat", 1, 17, convert_concat},
      {"", "Slice", 1, 17, convert_slice},
      {"", "DequantizeLinear", 10, 17, convert_dequantize_linear},
  };
  return table;
}

}  // namespace nimble::io
