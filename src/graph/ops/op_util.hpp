#pragma once
// Helpers shared by the op files.
#include <cmath>
#include <string>

#include "nimble/core/error.hpp"
#include "nimble/graph/graph.hpp"
#include "nimble/graph/op.hpp"

namespace nimble::ops {

inline ParamPtr make_param(const Shape& s, bool trainable = true) {
  auto p = std::make_shared<Param>();
  p->data = Tensor(s);
  p->grad = Tensor(s);
  p->trainable = trainable;
  return p;
}

// PyTorch's default for conv/linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
inline void init_uniform_fan_in(Tensor& t, int64_t fan_in, Rng& rng) {
  const float bound = 1.0f / std::sqrt(float(std::max<int64_t>(fan_in, 1)));
  float* d = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = rng.uniform(-bound, bound);
}

inline void expect_rank(const Node& node, const Shape& s, int rank, const char* what) {
  NIMBLE_CHECK(s.rank() == rank, std::string(op_name(node.op)) + " '" + node.name + "' needs a rank-" +
                                     std::to_string(rank) + " " + what + ", got " + s.str());
}

inline int64_t pooled_size(int64_t in, int64_t k, int64_t stride, int64_t pad_l, int64_t pad_r, int64_t dilation = 1) {
  return (in + pad_l + pad_r - dilation * (k - 1) - 1) / stride + 1;
}

// Gives a parameter a gradient tensor of its own shape if it has none (or a stale one) before a
// hand-written kernel writes into it.
inline void ensure_grad(const ParamPtr& p) {
  if (p && (!p->grad.defined() || p->grad.shape() != p->data.shape())) p->grad = Tensor(p->data.shape());
}

}  // namespace nimble::ops
