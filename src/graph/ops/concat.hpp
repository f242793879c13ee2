#pragma once
// What concat's reference and kernel share.
#include "graph/ops/op_util.hpp"

namespace nimble::ops {

inline int concat_axis(const Node& node, int rank) {
  int64_t axis = node.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  NIMBLE_CHECK(axis >= 1 && axis < rank, "concat '" + node.name + "': axis " +
                                             std::to_string(node.attr_int("axis", 1)) + " is out of range for rank " +
                                             std::to_string(rank) + " (the batch axis 0 cannot be concatenated)");
  return int(axis);
}

}  // namespace nimble::ops
