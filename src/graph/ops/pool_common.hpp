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
  int64_t n, c, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw;
};

// Window geometry from the node's attrs: kernel [kh, kw], stride (default = kernel), padding [ph, pw].
inline PoolGeometry pool_geometry(const Node& node, const Shape& src) {
  const std::string who = std::string(op_name(node.op)) + " '" + node.name + "'";
  expect_rank(node, src, 4, "input (N, C, H, W)");
  auto k = node.attr_ints("kernel", {});
  NIMBLE_CHECK(k.size() == 2, who + ": needs attr kernel [kh, kw]");
  auto s = node.attr_ints("stride", k), p = node.attr_ints("padding", {0, 0});
  NIMBLE_CHECK(s.size() == 2 && p.size() == 2, who + ": stride and padding need two values");
  PoolGeometry g{};
  g.n = src[0], g.c = src[1], g.ih = src[2], g.iw = src[3];
  g.kh = k[0], g.kw = k[1], g.sh = s[0], g.sw = s[1], g.ph = p[0], g.pw = p[1];
  NIMBLE_CHECK(g.kh > 0 && g.kw > 0 && g.sh > 0 && g.sw > 0 && g.ph >= 0 && g.pw >= 0,
               who + ": kernel and stride must be positive, padding non-negative");
  // PyTorch's rule; it also guarantees every window holds at least one real element.
  NIMBLE_CHECK(2 * g.ph <= g.kh && 2 * g.pw <= g.kw, who + ": padding must be at most half the kernel size");
  g.oh = pooled_size(g.ih, g.kh, g.sh, g.ph, g.ph);
  g.ow = pooled_size(g.iw, g.kw, g.sw, g.pw, g.pw);
  NIMBLE_CHECK(g.ih + 2 * g.ph >= g.kh && g.iw + 2 * g.pw >= g.kw && g.oh > 0 && g.ow > 0,
               who + ": input " + src.str() + " is too small for its kernel");
  return g;
}

// A window over the whole image: (N, C, H, W) -> (N, C, 1, 1).
inline PoolGeometry global_pool_geometry(const Node& node, const Shape& src) {
  expect_rank(node, src, 4, "input (N, C, H, W)");
  NIMBLE_CHECK(src[2] > 0 && src[3] > 0, "global_avg_pool '" + node.name + "': empty image " + src.str());
  return {src[0], src[1], src[2], src[3], 1, 1, src[2], src[3], 1, 1, 0, 0};
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
            const int64_t iy = oy * g.sh - g.ph + ky, ix = ox * g.sw - g.pw + kx;
            if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) continue;  // padding never wins a max
            const float v = src[(nc * g.ih + iy) * g.iw + ix];
            acc = kind == PoolKind::max ? std::max(acc, double(v)) : acc + v;
            ++count;
          }
        if (kind == PoolKind::avg_include_pad) acc /= double(g.kh * g.kw);
        if (kind == PoolKind::avg_exclude_pad) acc /= double(count);
        dst[(nc * g.oh + oy) * g.ow + ox] = float(acc);
      }
  return out;
}

}  // namespace nimble::ops
