// ONNX pooling -> max_pool2d, avg_pool2d, global_avg_pool. ceil_mode becomes extra bottom/right
// padding (PyTorch's rule: the last window must start inside the input or its left padding).
#include <algorithm>
#include <set>

#include "io/onnx/onnx_import_context.hpp"
#include "io/onnx/onnx_padding.hpp"

namespace nimble::io {
namespace {

struct Window {
  std::vector<int64_t> kernel, strides, pads;  // pads [top, left, bottom, right]
  bool ceil_extra = false;                     // ceil_mode added padding past the input
};

Window window_of(ImportContext& ctx, int x) {
  if (ctx.rank(x) != 4) ctx.unsupported("input of shape " + ctx.shape(x).str() + ": nimble pools (N, C, H, W)");
  Window w;
  w.kernel = ctx.attr_ints("kernel_shape", {});
  if (w.kernel.size() != 2) ctx.unsupported("kernel_shape must have two values (2-D pooling)");
  w.strides = ctx.attr_ints("strides", {1, 1});
  if (w.strides.size() != 2) ctx.unsupported("strides must have two values");
  for (int64_t d : ctx.attr_ints("dilations", {1, 1}))
    if (d != 1) ctx.unsupported("dilated pooling is not supported");
  w.pads = onnx_pads(ctx, ctx.shape(x), w.kernel, w.strides, {1, 1});
  if (ctx.attr_int("ceil_mode", 0)) {
    for (int d = 0; d < 2; ++d) {
      const int64_t in = ctx.shape(x)[2 + d], k = w.kernel[size_t(d)], s = w.strides[size_t(d)];
      const int64_t begin = w.pads[size_t(d)], span = in + begin + w.pads[size_t(d) + 2] - k;
      if (span < 0) ctx.unsupported("input " + ctx.shape(x).str() + " is smaller than the window");
      int64_t out = (span + s - 1) / s + 1;
      if ((out - 1) * s >= in + begin) --out;
      const int64_t extra = std::max<int64_t>(0, (out - 1) * s + k - (in + begin + w.pads[size_t(d) + 2]));
      w.pads[size_t(d) + 2] += extra;
      w.ceil_extra = w.ceil_extra || extra > 0;
    }
  }
  return w;
}

// Two values (PyTorch's symmetric form, at most half the kernel) where that says it all, else four.
AttrValue padding_attr(const std::vector<int64_t>& p, const std::vector<int64_t>& k) {
  if (p[0] == p[2] && p[1] == p[3] && 2 * p[0] <= k[0] && 2 * p[1] <= k[1]) return std::vector<int64_t>{p[0], p[1]};
  return p;
}

void convert_max_pool(ImportContext& ctx) {
  ctx.allow_attrs({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
  ctx.only_first_outputs(1, "nimble's max pooling has no indices output");
  const int x = ctx.dynamic(0, "input X");
  const Window w = window_of(ctx, x);
  ctx.set_dynamic(
      0, ctx.add_node(OpKind::max_pool2d,
                      {{"kernel", w.kernel}, {"stride", w.strides}, {"padding", padding_attr(w.pads, w.kernel)}}, {x}));
}

void convert_average_pool(ImportContext& ctx) {
  ctx.allow_attrs({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
  const ImportedValue& in = ctx.input(0);
  const bool padded = in.kind == ImportedValue::Kind::padded;
  const int x = padded ? in.id : ctx.dynamic(0, "input X");
  Window w = window_of(ctx, x);
  bool include_pad = ctx.attr_int("count_include_pad", 0) != 0;
  if (w.ceil_extra && include_pad)
    ctx.unsupported("ceil_mode with count_include_pad = 1 where the last window overhangs: not supported");
  if (padded) {
    // Zeros a Pad wrote are elements of the input: they count, so the pool must count padding.
    const bool own_pads = std::any_of(w.pads.begin(), w.pads.end(), [](int64_t p) { return p != 0; });
    if (own_pads && !include_pad)
      ctx.unsupported("a Pad before an AveragePool that pads itself with count_include_pad = 0 is not supported");
    for (int i = 0; i < 4; ++i) w.pads[size_t(i)] += in.pads[size_t(i)];
    include_pad = true;
  }
  ctx.set_dynamic(0, ctx.add_node(OpKind::avg_pool2d,
                                  {{"kernel", w.kernel},
                                   {"stride", w.strides},
                                   {"padding", padding_attr(w.pads, w.kernel)},
                                   {"count_include_pad", int64_t(include_pad)}},
                                  {x}));
}

void convert_global_average_pool(ImportContext& ctx) {
  ctx.allow_attrs({});
  const int x = ctx.dynamic(0, "input X");
  if (ctx.rank(x) != 4) ctx.unsupported("input of shape " + ctx.shape(x).str() + ": nimble pools (N, C, H, W)");
  ctx.set_dynamic(0, ctx.add_node(OpKind::global_avg_pool, {}, {x}));
}

void convert_global_max_pool(ImportContext& ctx) {
  ctx.allow_attrs({});
  const int x = ctx.dynamic(0, "input X");
  if (ctx.rank(x) != 4) ctx.unsupported("input of shape " + ctx.shape(x).str() + ": nimble pools (N, C, H, W)");
  const Shape& s = ctx.shape(x);
  ctx.set_dynamic(0, ctx.add_node(OpKind::max_pool2d, {{"kernel", std::vector<int64_t>{s[2], s[3]}}}, {x}));
}

// ReduceMean over H and W of (N, C, H, W): global average pooling (MnasNet, ShuffleNet: x.mean([2, 3])).
void convert_reduce_mean(ImportContext& ctx) {
  ctx.allow_attrs({"axes", "keepdims"});
  const int x = ctx.dynamic(0, "input X");
  const int r = ctx.rank(x);
  std::set<int64_t> axes;
  for (int64_t a : ctx.attr_ints("axes", {})) axes.insert(a < 0 ? a + r : a);
  if (r != 4 || axes != std::set<int64_t>{2, 3})
    ctx.unsupported("nimble supports ReduceMean over axes [2, 3] of (N, C, H, W) only (global average pooling)");
  int y = ctx.add_node(OpKind::global_avg_pool, {}, {x});
  if (!ctx.attr_int("keepdims", 1)) y = ctx.add_node(OpKind::flatten, {}, {y});
  ctx.set_dynamic(0, y);
}

}  // namespace

const std::vector<OnnxConverter>& pooling_converters() {
  static const std::vector<OnnxConverter> table = {
      {"", "MaxPool", 1, 17, convert_max_pool},
      {"", "AveragePool", 1, 17, convert_average_pool},
      {"", "GlobalAveragePool", 1, 17, convert_global_average_pool},
      {"", "GlobalMaxPool", 1, 17, convert_global_max_pool},
      {"", "ReduceMean", 1, 17, convert_reduce_mean},
  };
  return table;
}

}  // namespace nimble::io
