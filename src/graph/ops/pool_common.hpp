#pragma once
// What max_pool2d, avg_pool2d and global_avg_pool share: geometry checks and the plain-loop
// reference (their kernel: kernels/pool_kernel.hpp).
#include <algorithm>
#include <limits>

#include "graph/ops/op_util.hpp"

namespace nimble::ops {

enum class PoolKind { max, avg_include_pad, avg_exclude_pad };

// avg_pool2d's attr count_include_pad (default 1 like PyTorch).
inline PoolKind avg_pool_kind(const Node& node) {
  return node.attr_int("count_include_pad", 1) ? PoolKind::avg_include_pad : PoolKind::avg_exclude_pad;
}

struct PoolGeometry {
  int64_t n, c, ih, iw, oh, ow, kh, kw, sh, sw;
  int64_t pt, pl, pb, pr;  // padding: top, left, bottom, right
  bool symmetric() const { return pt == pb && pl == pr; }
  bool unpadded() const { return pt == 0 && pl == 0 && pb == 0 && pr == 0; }
};

// Window geometry from the node's attrs: kernel [kh, kw], stride (default = kernel), padding
// [ph, pw] (both sides) or [top, left, bottom, right] (ONNX's pads order; the importer also
// expresses ceil_mode as extra bottom / right padding).
inline PoolGeometry pool_geometry(const Node& node, const Shape& src) {
  const std::string who = std::string(op_name(node.op)) + " '" + node.name + "'";
  expect_rank(node, src, 4, "input (N, C, H, W)");
  auto k = node.attr_ints("kernel", {});
  NIMBLE_CHECK(k.size() == 2, who + ": needs attr kernel [kh, kw]");
  auto s = node.attr_ints("stride", k), p = node.attr_ints("padding", {0, 0});
  NIMBLE_CHECK(s.size() == 2, who + ": stride needs two values");
  NIMBLE_CHECK(p.size() == 2 || p.size() == 4,
               who + ": padding needs two values [ph, pw] or four [top, left, bottom, right]");
  PoolGeometry g{};
  g.n = src[0], g.c = src[1], g.ih = src[2], g.iw = src[3];
  g.kh = k[0], g.kw = k[1], g.sh = s[0], g.sw = s[1];
  g.pt = p[0], g.pl = p[1], g.pb = p.size() == 4 ? p[2] : p[0], g.pr = p.size() == 4 ? p[3] : p[1];
  NIMBLE_CHECK(g.kh > 0 && g.kw > 0 && g.sh > 0 && g.sw > 0 && g.pt >= 0 && g.pl >= 0 && g.pb >= 0 && g.pr >= 0,
               who + ": kernel and stride must be positive, padding non-negative");
  // Every window must hold at least one real element (padding never wins a max, an average over
  // padding alone means nothing): PyTorch's rule for two values, per side pad < kernel for four.
  if (p.size() == 2)
    NIMBLE_CHECK(2 * g.pt <= g.kh && 2 * g.pl <= g.kw, who + ": padding must be at most half the kernel size");
  else
    NIMBLE_CHECK(g.pt < g.kh && g.pb < g.kh && g.pl < g.kw && g.pr < g.kw,
                 who + ": each side's padding must be smaller than the kernel");
  g.oh = pooled_size(g.ih, g.kh, g.sh, g.pt, g.pb);
  g.ow = pooled_size(g.iw, g.kw, g.sw, g.pl, g.pr);
  NIMBLE_CHECK(g.ih + g.pt + g.pb >= g.kh && g.iw + g.pl + g.pr >= g.kw && g.oh > 0 && g.ow > 0,
               who + ": input " + src.str() + " is too small for its kernel");
  return g;
}

// A window over the whole image: (N, C, H, W) -> (N, C, 1, 1).
inline PoolGeometry global_pool_geometry(const Node& node, const Shape& src) {
  expect_rank(node, src, 4, "input (N, C, H, W)");
  NIMBLE_CHECK(src[2] > 0 && src[3] > 0, "global_avg_pool '" + node.name + "': empty image " + src.str());
  return {src[0], src[1], src[2], src[3], 1, 1, src[2], src[3], 1, 1, 0, 0, 0, 0};
}

inline Tensor pool_reference(const PoolGeometry& g, const Tensor& in, PoolKind kind) {
  Tensor out({g.n, g.c, g.oh, g.ow});
  const float* src = in.data<float>();  // (N, C, IH, IW)
  float* dst = out.data<float>();       // (N, C, OH, OW)
  for (int64_t nc = 0; nc < g.n * g.c; ++nc)
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        double acc = kind == PoolKind::max ? -std::numeric_limits<double>::infinity() : 0.0;
        int64_t count = 0;
        for (int64_t ky = 0; ky < g.kh; ++ky)
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t iy = oy * g.sh - g.pt + ky, ix = ox * g.sw - g.pl + kx;
            if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;  // padding never wins a max
            const float v = src[(nc * g.ih + iy) * g.iw + ix];
            acc = kind == PoolKind::max ? std::max(acc, double(v)) : acc + v;
            ++count;
          }
        // Padding counts on every side (ONNX's count_include_pad; PyTorch's too without ceil_mode).
        if (kind == PoolKind::avg_include_pad) acc /= double(g.kh * g.kw);
        if (kind == PoolKind::avg_exclude_pad) acc /= double(count);
        dst[(nc * g.oh + oy) * g.ow + ox] = float(acc);
      }
  return out;
}

}  // namespace nimble::ops
