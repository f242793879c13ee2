// ONNX tensor plumbing on computed tensors -> reshape, flatten, concat, slice, channel_shuffle,
// or nothing at all (Identity, Dropout, zero Pad). Dim 0 is the batch throughout: an operator
// that would move or cut it is refused. ShuffleNet's channel shuffle (Reshape to (N, g, C/g, H, W),
// Transpose [0, 2, 1, 3, 4], Reshape back) becomes one channel_shuffle.
#include <algorithm>
#include <limits>

#include "io/onnx/onnx_import_context.hpp"

namespace nimble::io {
namespace {

// A reshape of x to per-sample dims `to`; collapses reshape-of-reshape and drops no-op reshapes.
int reshape_to(ImportContext& ctx, int x, const std::vector<int64_t>& to) {
  const Node* p = ctx.producer(x);
  if (p && (p->op == OpKind::reshape || p->op == OpKind::flatten)) x = p->inputs[0];
  const auto from = ctx.shape(x).dims();
  if (std::vector<int64_t>(from.begin() + 1, from.end()) == to) return x;
  if (to.size() == 1) return ctx.add_node(OpKind::flatten, {}, {x});
  return ctx.add_node(OpKind::reshape, {{"shape", to}}, {x});
}

int64_t normalized_axis(ImportContext& ctx, int64_t axis, int rank) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    ctx.unsupported("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (a == 0) ctx.unsupported("axis 0 is the batch: nimble keeps the batch dimension whole");
  return a;
}

void alias_input(ImportContext& ctx) { ctx.set_output(0, ctx.input(0)); }

void convert_identity(ImportContext& ctx) {
  ctx.allow_attrs({});
  alias_input(ctx);
}

void convert_dropout(ImportContext& ctx) {
  ctx.allow_attrs({"ratio", "seed", "is_test"});
  ctx.only_first_outputs(1, "nimble imports inference graphs (no dropout mask)");
  if (ctx.has_input(2)) {
    const ConstTensor& t = ctx.constant(2, "training_mode");
    if (t.numel() != 1 || t.at(0) != 0) ctx.unsupported("training_mode = true: nimble imports inference graphs");
  }
  alias_input(ctx);
}

std::vector<int64_t> reshape_target(ImportContext& ctx, int x, std::vector<int64_t> target, bool allow_zero) {
  const Shape& in = ctx.shape(x);
  if (target.empty()) ctx.unsupported("a reshape to a scalar drops the batch");
  const int64_t first = target[0];
  std::vector<int64_t> to(target.begin() + 1, target.end());
  for (size_t i = 0; i < to.size(); ++i) {
    if (to[i] == kBatchDim) ctx.unsupported("target shape " + dims_text(target) + " moves the batch size");
    if (to[i] == 0 && !allow_zero) {
      if (int(i) + 1 >= in.rank()) ctx.unsupported("target shape " + dims_text(target) + " copies a missing dim");
      to[i] = in[int(i) + 1];
    }
  }
  int64_t known = 1, per_sample = 1;
  for (int d = 1; d < in.rank(); ++d) per_sample *= in[d];
  const bool free = std::count(to.begin(), to.end(), -1) > 0;
  for (int64_t d : to)
    if (d != -1) known *= d;
  // The batch entry: symbolic (Shape of the input), 0 (copy), -1 with the rest fixed, or the
  // fixed batch the file was exported with.
  const bool batch_ok = first == kBatchDim || (first == 0 && !allow_zero) ||
                        (first == -1 && !free && known == per_sample) || (first > 0 && first == ctx.file_batch);
  if (!batch_ok)
    ctx.unsupported("target shape " + dims_text(target) + " does not keep the batch dimension of " + in.str());
  if (!free && known != per_sample)
    ctx.unsupported("target shape " + dims_text(target) + " does not hold the " + std::to_string(per_sample) +
                    " values per sample of " + in.str());
  return to;
}

void convert_reshape(ImportContext& ctx) {
  ctx.allow_attrs({"shape", "allowzero"});
  const int x = ctx.dynamic(0, "input data");
  const std::vector<int64_t> target = ctx.opset() < 5 ? ctx.attr_ints("shape", {}) : ctx.constant(1, "shape").as_ints();
  ctx.set_dynamic(0, reshape_to(ctx, x, reshape_target(ctx, x, target, ctx.attr_int("allowzero", 0) != 0)));
}

// ONNX's Flatten is always 2-D: (d0 * ... * d(axis-1), rest). Only axis 1 keeps the batch apart.
void convert_flatten(ImportContext& ctx) {
  ctx.allow_attrs({"axis"});
  const int x = ctx.dynamic(0, "input");
  const Shape& s = ctx.shape(x);
  int64_t axis = ctx.attr_int("axis", 1);
  if (axis < 0) axis += s.rank();
  if (axis != 1 && !(axis == s.rank() && s.rank() == 1))
    ctx.unsupported("axis " + std::to_string(axis) + " of " + s.str() +
                    " folds the batch into another dimension; nimble supports axis 1");
  int64_t tail = 1;
  for (int d = 1; d < s.rank(); ++d) tail *= s[d];
  ctx.set_dynamic(0, reshape_to(ctx, x, {tail}));
}

void convert_squeeze_unsqueeze(ImportContext& ctx, bool squeeze) {
  ctx.allow_attrs({"axes"});
  const int x = ctx.dynamic(0, "input data");
  std::vector<int64_t> axes = ctx.opset() >= 13
                                  ? (ctx.has_input(1) ? ctx.constant(1, "axes").as_ints() : std::vector<int64_t>{})
                                  : ctx.attr_ints("axes", {});
  if (axes.empty()) ctx.unsupported("without axes it would squeeze the batch of a batch-1 export");
  auto dims = ctx.shape(x).dims();
  const int out_rank = int(dims.size()) + (squeeze ? 0 : int(axes.size()));
  for (int64_t& a : axes) a = normalized_axis(ctx, a, squeeze ? int(dims.size()) : out_rank);
  std::sort(axes.begin(), axes.end());
  if (squeeze) {
    std::reverse(axes.begin(), axes.end());  // erase from the back so earlier positions hold
    for (int64_t a : axes) {
      if (dims[size_t(a)] != 1)
        ctx.unsupported("axis " + std::to_string(a) + " of " + ctx.shape(x).str() + " is not 1");
      dims.erase(dims.begin() + a);
    }
  } else {
    for (int64_t a : axes) dims.insert(dims.begin() + a, 1);
  }
  if (int(dims.size()) > kMaxRank) ctx.unsupported("the result has rank above " + std::to_string(kMaxRank));
  ctx.set_dynamic(0, reshape_to(ctx, x, std::vector<int64_t>(dims.begin() + 1, dims.end())));
}

void convert_squeeze(ImportContext& ctx) { convert_squeeze_unsqueeze(ctx, true); }
void convert_unsqueeze(ImportContext& ctx) { convert_squeeze_unsqueeze(ctx, false); }

void convert_transpose(ImportContext& ctx) {
  ctx.allow_attrs({"perm"});
  const int x = ctx.dynamic(0, "input data");
  const Shape& s = ctx.shape(x);
  std::vector<int64_t> identity(size_t(s.rank()));
  for (int d = 0; d < s.rank(); ++d) identity[size_t(d)] = d;
  std::vector<int64_t> reversed(identity.rbegin(), identity.rend());
  const auto perm = ctx.attr_ints("perm", reversed);
  if (perm == identity) return ctx.set_dynamic(0, x);
  const Node* p = ctx.producer(x);
  if (perm == std::vector<int64_t>{0, 2, 1, 3, 4} && p && p->op == OpKind::reshape) {
    const int src = p->inputs[0];
    const Shape& in = ctx.shape(src);
    if (in.rank() == 4 && s[1] * s[2] == in[1] && s[3] == in[2] && s[4] == in[3]) {
      const int shuffled = ctx.add_node(OpKind::channel_shuffle, {{"groups", s[1]}}, {src});
      return ctx.set_dynamic(
          0, ctx.add_node(OpKind::reshape, {{"shape", std::vector<int64_t>{s[2], s[1], s[3], s[4]}}}, {shuffled}));
    }
  }
  ctx.unsupported("perm " + dims_text(perm) + " of " + s.str() +
                  ": nimble supports the identity and ShuffleNet's channel shuffle (Reshape to (N, g, C/g, H, W), "
                  "perm [0, 2, 1, 3, 4], Reshape back)");
}

void convert_concat(ImportContext& ctx) {
  ctx.allow_attrs({"axis"});
  std::vector<int> xs;
  xs.reserve(size_t(ctx.input_count()));
  for (int i = 0; i < ctx.input_count(); ++i) xs.push_back(ctx.dynamic(i, "input " + std::to_string(i)));
  if (xs.size() == 1) return ctx.set_dynamic(0, xs[0]);
  const int64_t axis = normalized_axis(ctx, ctx.attr_int("axis", 1), ctx.rank(xs[0]));
  // nimble's concat takes up to 16 inputs: longer lists (DenseNet's blocks) concatenate in stages.
  constexpr size_t kMaxInputs = 16;
  while (xs.size() > 1) {
    const size_t n = std::min(xs.size(), kMaxInputs);
    const int joined =
        ctx.add_node(OpKind::concat, {{"axis", axis}}, std::vector<int>(xs.begin(), xs.begin() + long(n)));
    xs.erase(xs.begin(), xs.begin() + long(n));
    xs.insert(xs.begin(), joined);
    if (xs.size() == 1) break;
  }
  ctx.set_dynamic(0, xs[0]);
}

int slice_of(ImportContext& ctx, int x, int64_t axis, int64_t start, int64_t end) {
  if (start == 0 && end == ctx.shape(x)[int(axis)]) return x;
  return ctx.add_node(OpKind::slice, {{"axis", axis}, {"start", start}, {"end", end}}, {x});
}

void convert_split(ImportContext& ctx) {
  ctx.allow_attrs({"axis", "split"});
  const int x = ctx.dynamic(0, "input");
  const int64_t axis = normalized_axis(ctx, ctx.attr_int("axis", 0), ctx.rank(x));
  const int64_t dim = ctx.shape(x)[int(axis)];
  std::vector<int64_t> sizes = ctx.opset() >= 13
                                   ? (ctx.has_input(1) ? ctx.constant(1, "split").as_ints() : std::vector<int64_t>{})
                                   : ctx.attr_ints("split", {});
  const int n = ctx.output_count();
  if (sizes.empty()) {
    if (dim % n != 0)
      ctx.unsupported("dim " + std::to_string(dim) + " does not split evenly into " + std::to_string(n));
    sizes.assign(size_t(n), dim / n);
  }
  int64_t total = 0;
  for (int64_t s : sizes) total += s > 0 ? s : (ctx.unsupported("split sizes must be positive"), 0);
  if (int(sizes.size()) != n || total != dim)
    ctx.unsupported("split " + dims_text(sizes) + " does not cut dim " + std::to_string(dim) + " into " +
                    std::to_string(n) + " outputs");
  int64_t start = 0;
  for (int k = 0; k < n; ++k) {
    if (ctx.output_used(k)) ctx.set_dynamic(k, slice_of(ctx, x, axis, start, start + sizes[size_t(k)]));
    start += sizes[size_t(k)];
  }
}

void convert_slice(ImportContext& ctx) {
  ctx.allow_attrs({"starts", "ends", "axes"});
  int x = ctx.dynamic(0, "input data");
  const int r = ctx.rank(x);
  const bool attrs = ctx.opset() < 10;
  const auto starts = attrs ? ctx.attr_ints("starts", {}) : ctx.constant(1, "starts").as_ints();
  const auto ends = attrs ? ctx.attr_ints("ends", {}) : ctx.constant(2, "ends").as_ints();
  std::vector<int64_t> axes;
  if (attrs ? ctx.has_attr("axes") : ctx.has_input(3))
    axes = attrs ? ctx.attr_ints("axes", {}) : ctx.constant(3, "axes").as_ints();
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(int64_t(i));
  if (!attrs && ctx.has_input(4))
    for (int64_t s : ctx.constant(4, "steps").as_ints())
      if (s != 1) ctx.unsupported("steps other than 1 are not supported");
  if (starts.size() != ends.size() || starts.size() != axes.size())
    ctx.unsupported("starts, ends and axes differ in length");
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
    if (a < 0 || a >= r) ctx.unsupported("axis " + std::to_string(axes[i]) + " is out of range");
    if (a == 0) {
      if (starts[i] != 0 || ends[i] < (int64_t(1) << 30)) ctx.unsupported("it slices the batch dimension");
      continue;
    }
    const int64_t dim = ctx.shape(x)[int(a)];
    auto clamp = [dim](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + dim : v, 0, dim); };
    const int64_t s = clamp(starts[i]), e = clamp(ends[i]);
    if (s >= e)
      ctx.unsupported("the slice [" + std::to_string(starts[i]) + ", " + std::to_string(ends[i]) + ") of axis " +
                      std::to_string(a) + " is empty");
    x = slice_of(ctx, x, a, s, e);
  }
  ctx.set_dynamic(0, x);
}

// Pad with zeros on H and W waits for its consumer: Conv and AveragePool take it as their padding.
void convert_pad(ImportContext& ctx) {
  ctx.allow_attrs({"mode", "pads", "value"});
  const int x = ctx.dynamic(0, "input data");
  if (ctx.attr_string("mode", "constant") != "constant") ctx.unsupported("only mode 'constant' is supported");
  const bool attrs = ctx.opset() < 11;
  const auto pads = attrs ? ctx.attr_ints("pads", {}) : ctx.constant(1, "pads").as_ints();
  float value = attrs ? ctx.attr_float("value", 0.0f) : 0.0f;
  if (!attrs && ctx.has_input(2)) value = float(ctx.constant(2, "constant_value").at(0));
  const int r = ctx.rank(x);
  if (int(pads.size()) != 2 * r) ctx.unsupported("pads " + dims_text(pads) + " do not have 2 x rank values");
  if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) return ctx.set_dynamic(0, x);
  if (value != 0.0f) ctx.unsupported("padding with " + std::to_string(value) + " (nimble pads with zeros)");
  if (r != 4 || pads[0] || pads[1] || pads[4] || pads[5])
    ctx.unsupported("pads " + dims_text(pads) + ": nimble pads H and W of (N, C, H, W) only");
  for (int64_t p : pads)
    if (p < 0) ctx.unsupported("negative pads (cropping) are not supported");
  ImportedValue v;
  v.kind = ImportedValue::Kind::padded;
  v.id = x;
  v.pads = {pads[2], pads[3], pads[6], pads[7]};
  ctx.set_output(0, std::move(v));
}

}  // namespace

const std::vector<OnnxConverter>& tensor_converters() {
  static const std::vector<OnnxConverter> table = {
      {"", "Identity", 1, 17, convert_identity},
      {"", "Dropout", 1, 17, convert_dropout},
      {"", "Reshape", 1, 17, convert_reshape},
      {"", "Flatten", 1, 17, convert_flatten},
      {"", "Squeeze", 1, 17, convert_squeeze},
      {"", "Unsqueeze", 1, 17, convert_unsqueeze},
      {"", "Transpose", 1, 17, convert_transpose},
      {"", "Concat", 1, 17, convert_concat},
      {"", "Split", 2, 17, convert_split},
      {"", "Slice", 1, 17, convert_slice},
      {"", "Pad", 2, 17, convert_pad},
  };
  return table;
}

}  // namespace nimble::io
