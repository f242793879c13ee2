#pragma once
// What softmax's reference and kernel share.
#include "graph/ops/op_util.hpp"

namespace nimble::ops {

inline int axis_of(const Node& node, const Shape& s) {
  const int64_t axis = node.attr_int("axis", 1);
  NIMBLE_CHECK(axis >= -s.rank() && axis < s.rank(),
               "softmax '" + node.name + "': axis " + std::to_string(axis) + " is out of range for input " + s.str());
  return int(axis < 0 ? axis + s.rank() : axis);
}

}  // namespace nimble::ops
