// A window along one axis: output = input[..., start:end, ...] along attr axis (default 1: channels;
// negative counts from the end; the batch axis is refused), attrs start and end with
// 0 <= start < end <= the axis' size (the ONNX importer normalises negative and clamped indices).
// Any rank 2..5. ShuffleNetV2 splits channels in halves with it; ONNX Split becomes several slices.
// Backward: a zero diff_src with diff_dst written into the window. int8 passes through.
#include "graph/ops/slice.hpp"

namespace nimble {
namespace {

Shape infer(const Node& node, const std::vector<Shape>& in) {
  const ops::SliceWindow w = ops::slice_window(node, in[0]);
  Shape out = in[0];
  out[w.axis] = w.end - w.start;
  return out;
}

Tensor reference(const Node& node, const std::vector<Tensor>& in, bool) {
  const Shape& s = in[0].shape();
  const ops::SliceWindow w = ops::slice_window(node, s);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < w.axis; ++d) outer *= s[d];
  for (int d = w.axis + 1; d < s.rank(); ++d) inner *= s[d];
  Tensor dst(infer(node, {s}));
  const float* x = in[0].data<float>();  // (outer, axis size, inner)
  float* y = dst.data<float>();          // (outer, end - start, inner)
  const int64_t len = (w.end - w.start) * inner;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < len; ++j) y[o * len + j] = x[(o * s[w.axis] + w.start) * inner + j];
  return dst;
}

}  // namespace

// Channel pruning: along channels the output's channel c is the input's start + c, which no rule
// but a per-slice offset could say; ChannelRule::mixes keeps both sides' channels (conservative).
extern const OpDef op_def_slice = {.name = "slice",
                                   .min_inputs = 1,
                                   .max_inputs = 1,
                                   .infer = infer,
                                   .init_params = nullptr,
                                   .macs = nullptr,
                                   .reference = reference,
                                   .traits = {.channels = ChannelRule::mixes,
                                              .int8 = Int8Rule::passes_through,
                                              .takes_int8 = true,
                                              .low_precision = LowPrecision::follows_input}};

}  // namespace nimble
