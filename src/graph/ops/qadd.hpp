#pragma once
// What qadd's reference and kernel share.
#include "graph/ops/op_util.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble::ops {

inline void check_qparams(const Node& node) {
  const QParams a = qparams(node, "src0_", false), b = qparams(node, "src1_", false);
  qparams(node, "dst_", true);
  NIMBLE_CHECK(a.zero_point == 0 && b.zero_point == 0, "qadd '" + node.name + "': inputs need zero point 0");
}

}  // namespace nimble::ops
