#pragma once
// What slice's reference and kernel share.
#include "graph/ops/op_util.hpp"

namespace nimble::ops {

struct SliceWindow {
  int axis;
  int64_t start, end;
};

// The node's attrs axis (default 1; negative counts from the end; not the batch axis), start and
// end (0 <= start < end <= the axis' size), checked against its input of rank 2..5.
inline SliceWindow slice_window(const Node& node, const Shape& src) {
  const std::string who = "slice '" + node.name + "'";
  const int rank = src.rank();
  NIMBLE_CHECK(rank >= 2 && rank <= 5 && src.numel() > 0,
               who + ": needs a non-empty input of rank 2 to 5, got " + src.str());
  int64_t axis = node.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  NIMBLE_CHECK(axis >= 1 && axis < rank, who + ": axis " + std::to_string(node.attr_int("axis", 1)) +
                                             " is out of range for rank " + std::to_string(rank) +
                                             " (the batch axis 0 cannot be sliced)");
  NIMBLE_CHECK(node.attrs.count("start") && node.attrs.count("end"), who + ": needs attrs start and end");
  const SliceWindow w{int(axis), node.attr_int("start", 0), node.attr_int("end", 0)};
  NIMBLE_CHECK(w.start >= 0 && w.start < w.end && w.end <= src[w.axis],
               who + ": needs 0 <= start < end <= " + std::to_string(src[w.axis]) + " (axis " + std::to_string(w.axis) +
                   " of " + src.str() + "), got start " + std::to_string(w.start) + ", end " + std::to_string(w.end));
  return w;
}

}  // namespace nimble::ops
