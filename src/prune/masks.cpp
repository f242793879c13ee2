#include "nimble/prune/masks.hpp"

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"

namespace nimble::prune {

std::vector<BoundMask> bind_masks(const Graph& g, const Masks& masks) {
  std::vector<BoundMask> bound;
  if (masks.empty()) return bound;
  std::map<std::string, ParamPtr> params;
  for (auto& [name, p] : g.named_params()) params[name] = p;
  for (const auto& [name, mask] : masks) {
    auto it = params.find(name);
    NIMBLE_CHECK(it != params.end(), "pruning mask for unknown parameter '" + name + "'");
    const Param& p = *it->second;
    NIMBLE_CHECK(
        p.data.dtype() == DType::f32 && mask.shape() == p.data.shape(),
        "pruning mask for '" + name + "' is " + mask.shape().str() + " but the parameter is " + p.data.shape().str());
    bound.push_back({it->second, mask});
  }
  return bound;
}

void apply_masks(const std::vector<BoundMask>& bound) {
  for (const BoundMask& b : bound) {
    float* w = b.param->data.data<float>();
    const float* k = b.mask.data<float>();
    for (int64_t i = 0; i < b.mask.numel(); ++i)
      if (k[i] == 0.0f) w[i] = 0.0f;  // +0.0 (w * 0 gives -0.0 for negative w, which files store as non-zero)
    b.param->touch();
  }
}

void apply_masks(Graph& g, const Masks& masks) { apply_masks(bind_masks(g, masks)); }

Sparsity weight_sparsity(const Node& n) {
  Sparsity s;
  if (!op_traits(n.op).weight_layer) return s;
  const Tensor& w = n.param("weights").data;
  const float* p = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) s.zeros += p[i] == 0.0f;
  s.total = w.numel();
  return s;
}

Sparsity weight_sparsity(const Graph& g) {
  Sparsity s;
  for (const Node& n : g.nodes()) {
    const Sparsity one = weight_sparsity(n);
    s.zeros += one.zeros, s.total += one.total;
  }
  return s;
}

}  // namespace nimble::prune
