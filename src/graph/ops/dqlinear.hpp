#pragma once
// What dqlinear's reference and kernel share.
#include "graph/ops/op_util.hpp"
#include "nimble/graph/qparams.hpp"

namespace nimble::ops {

inline float batch_scale(const float* x, int64_t n) {
  float amax = 0;
  // Written with ternaries so that it vectorises (std::fmax's NaN rules keep GCC from it).
#pragma omp parallel for simd reduction(max : amax) schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] < 0 ? -x[i] : x[i];
    amax = v > amax ? v : amax;
  }
  return amax > 0 ? amax / 127.0f : 1.0f;
}

}  // namespace nimble::ops
