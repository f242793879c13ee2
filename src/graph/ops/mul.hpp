#pragma once
// What mul's reference and kernel share.
#include "graph/ops/op_util.hpp"

namespace nimble::ops {

// Whether `gate` is (N, C, 1, 1) for an (N, C, H, W) `src` other than `gate`'s own shape.
inline bool mul_broadcasts(const Shape& src, const Shape& gate) {
  return src.rank() == 4 && gate.rank() == 4 && gate[0] == src[0] && gate[1] == src[1] && gate[2] == 1 &&
         gate[3] == 1 && src != gate;
}

}  // namespace nimble::ops
