#pragma once
// What channel_shuffle's reference and kernel share.
#include "graph/ops/op_util.hpp"

namespace nimble::ops {

// The node's attr groups, checked against its (N, C, H, W) input.
inline int64_t channel_shuffle_groups(const Node& node, const Shape& src) {
  expect_rank(node, src, 4, "input (N, C, H, W)");
  NIMBLE_CHECK(src.numel() > 0, "channel_shuffle '" + node.name + "': empty input " + src.str());
  const int64_t g = node.attr_int("groups", 0);
  NIMBLE_CHECK(g >= 1 && src[1] % g == 0, "channel_shuffle '" + node.name + "': attr groups (" + std::to_string(g) +
                                              ") must be a positive divisor of the " + std::to_string(src[1]) +
                                              " channels of " + src.str());
  return g;
}

}  // namespace nimble::ops
