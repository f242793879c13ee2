#pragma once
// Convolution geometry from a node's attributes, shared by conv2d and qconv2d.
// attrs: out_channels, kernel [kh, kw], stride, padding [top/bottom, left/right], dilation, groups.
// Internal: included by the convolution op files only.
#include "graph/ops/op_util.hpp"

namespace nimble::ops {

struct ConvGeometry {
  int64_t n, ic, ih, iw, oc, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, groups;
};

inline ConvGeometry geometry(const Node& node, const Shape& src) {
  ConvGeometry g{};
  auto k = node.attr_ints("kernel", {3, 3}), s = node.attr_ints("stride", {1, 1});
  auto p = node.attr_ints("padding", {0, 0}), d = node.attr_ints("dilation", {1, 1});
  NIMBLE_CHECK(
      k.size() == 2 && s.size() == 2 && p.size() == 2 && d.size() == 2,
      std::string(op_name(node.op)) + " '" + node.name + "': kernel, stride, padding and dilation need two values");
  g.n = src[0], g.ic = src[1], g.ih = src[2], g.iw = src[3];
  g.oc = node.attr_int("out_channels", 0);
  g.kh = k[0], g.kw = k[1], g.sh = s[0], g.sw = s[1], g.ph = p[0], g.pw = p[1], g.dh = d[0], g.dw = d[1];
  g.groups = node.attr_int("groups", 1);
  NIMBLE_CHECK(g.oc > 0 && g.kh > 0 && g.kw > 0 && g.sh > 0 && g.sw > 0 && g.ph >= 0 && g.pw >= 0 && g.dh > 0 &&
                   g.dw > 0 && g.groups > 0,
               std::string(op_name(node.op)) + " '" + node.name + "': sizes must be positive");
  NIMBLE_CHECK(g.ic % g.groups == 0 && g.oc % g.groups == 0,
               std::string(op_name(node.op)) + " '" + node.name + "': channels " + std::to_string(g.ic) + "->" +
                   std::to_string(g.oc) + " are not divisible by groups " + std::to_string(g.groups));
  g.oh = pooled_size(g.ih, g.kh, g.sh, g.ph, g.ph, g.dh);
  g.ow = pooled_size(g.iw, g.kw, g.sw, g.pw, g.pw, g.dw);
  NIMBLE_CHECK(g.oh > 0 && g.ow > 0, std::string(op_name(node.op)) + " '" + node.name + "': input " + src.str() +
                                         " is too small for its kernel");
  return g;
}

inline Shape weights_shape(const ConvGeometry& g) { return {g.oc, g.ic / g.groups, g.kh, g.kw}; }

}  // namespace nimble::ops
