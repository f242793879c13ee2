#pragma once
// What batch_norm2d's reference and kernel share.
#include "graph/ops/op_util.hpp"

namespace nimble::ops {

inline const char* const kParamNames[] = {"scale", "shift", "running_mean", "running_var"};

// PyTorch refuses batch statistics of a single value (the unbiased variance divides by n - 1).
inline void check_batch_stats_possible(const Node& node, const Shape& s) {
  NIMBLE_CHECK(s[0] * s[2] * s[3] > 1, "batch_norm2d '" + node.name +
                                           "' in train mode needs more than one value per "
                                           "channel, got input " +
                                           s.str() + "; use a larger batch or eval mode");
}

}  // namespace nimble::ops
