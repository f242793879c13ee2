#include "graph/ops/op_util.hpp"

#include <algorithm>

namespace nimble::ops {

float apply_activation(const std::string& act, float x) {
  if (act == "none") return x;
  if (act == "relu") return std::max(x, 0.0f);
  if (act == "relu6") return std::clamp(x, 0.0f, 6.0f);
  if (act == "hardswish") return x * std::clamp(x + 3.0f, 0.0f, 6.0f) / 6.0f;
  if (act == "sigmoid") return 1.0f / (1.0f + std::exp(-x));
  throw Error("unknown fused activation '" + act + "'");
}

}  // namespace nimble::ops
