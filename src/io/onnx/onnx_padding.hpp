#pragma once
// ONNX's padding of a sliding window (Conv, MaxPool, AveragePool): the pads attribute or auto_pad,
// as [top, left, bottom, right].
#include <vector>

#include "io/onnx/onnx_import_context.hpp"

namespace nimble::io {

inline std::vector<int64_t> onnx_pads(const ImportContext& ctx, const Shape& x, const std::vector<int64_t>& kernel,
                                      const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations) {
  const std::string mode = ctx.attr_string("auto_pad", "NOTSET");
  if (mode == "NOTSET") {
    auto pads = ctx.attr_ints("pads", {0, 0, 0, 0});
    if (pads.size() != 4) ctx.unsupported("pads must have 4 values for a 2-D window");
    for (int64_t p : pads)
      if (p < 0) ctx.unsupported("negative pads are not supported");
    return pads;
  }
  if (mode == "VALID") return {0, 0, 0, 0};
  if (mode != "SAME_UPPER" && mode != "SAME_LOWER") ctx.unsupported("auto_pad '" + mode + "' is not an ONNX mode");
  std::vector<int64_t> pads(4);
  for (int d = 0; d < 2; ++d) {
    const int64_t in = x[2 + d], s = strides[size_t(d)], out = (in + s - 1) / s;
    const int64_t total = std::max<int64_t>(0, (out - 1) * s + (kernel[size_t(d)] - 1) * dilations[size_t(d)] + 1 - in);
    const int64_t small = total / 2, large = total - small;
    pads[size_t(d)] = mode == "SAME_UPPER" ? small : large;
    pads[size_t(d) + 2] = mode == "SAME_UPPER" ? large : small;
  }
  return pads;
}

}  // namespace nimble::io
