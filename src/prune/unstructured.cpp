#include "nimble/prune/unstructured.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nimble/core/error.hpp"
#include "nimble/graph/op.hpp"

namespace nimble::prune {

Scope scope_from_name(const std::string& name) {
  if (name == "layer") return Scope::layer;
  if (name == "global") return Scope::global;
  throw Error("unknown pruning scope '" + name + "' (layer | global)");
}

namespace {

// The conv2d / linear f32 weights, by parameter name ("node.weights").
std::vector<std::pair<std::string, const Tensor*>> weights_to_prune(const Graph& g) {
  std::vector<std::pair<std::string, const Tensor*>> out;
  for (const Node& n : g.nodes())
    if (op_traits(n.op).weight_layer && n.param_ptr("weights") && n.param("weights").data.dtype() == DType::f32)
      out.emplace_back(n.name + ".weights", &n.param("weights").data);
  return out;
}

// Mask keeping all but the `prune` smallest |w| (ties broken by index), at least one element.
Tensor keep_largest(const Tensor& w, int64_t prune) {
  const int64_t n = w.numel();
  prune = std::clamp<int64_t>(prune, 0, n - 1);
  const float* p = w.data<float>();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::nth_element(order.begin(), order.begin() + prune, order.end(), [&](int64_t a, int64_t b) {
    const float fa = std::fabs(p[a]), fb = std::fabs(p[b]);
    return fa < fb || (fa == fb && a < b);
  });
  Tensor mask(w.shape());
  mask.fill(1.0f);
  for (int64_t i = 0; i < prune; ++i) mask.data<float>()[order[i]] = 0.0f;
  return mask;
}

}  // namespace

bool small_filters(const Tensor& weights) { return weights.numel() / weights.shape()[0] <= 9; }

std::vector<std::string> prunable_weights(const Graph& g) {
  std::vector<std::string> names;
  for (const auto& [name, w] : weights_to_prune(g)) names.push_back(name);
  return names;
}

Masks magnitude_masks(const Graph& g, double sparsity, Scope scope) {
  NIMBLE_CHECK(sparsity >= 0 && sparsity < 1, "sparsity must be in [0, 1), got " + std::to_string(sparsity));
  Masks masks;
  const auto weights = weights_to_prune(g);
  if (scope == Scope::layer) {
    // Layers whose filters have at most 9 weights (depthwise 3x3, a one-channel stem, a 1x1 conv
    // over <= 9 channels) stay dense: 80% of 9 weights leaves one or two per filter. Zhu & Gupta
    // leave MobileNet's depthwise layers dense too. The other layers share one rate that brings
    // the total to `sparsity`; where they cannot (the rate would pass 99.9%, or no layer is left),
    // every layer is pruned at `sparsity`.
    int64_t total = 0, prunable = 0;
    for (const auto& [name, w] : weights) {
      total += w->numel();
      if (!small_filters(*w)) prunable += w->numel();
    }
    const double rate = prunable > 0 ? sparsity * double(total) / double(prunable) : 1.0;
    const bool exempt = rate <= 0.999;
    for (const auto& [name, w] : weights) {
      const double r = !exempt ? sparsity : small_filters(*w) ? 0.0 : rate;
      masks[name] = keep_largest(*w, int64_t(std::llround(r * double(w->numel()))));
    }
    return masks;
  }
  // Global: one threshold, found by ranking all magnitudes together (ties by layer, then index).
  struct Entry {
    float mag;
    int layer;
    int64_t index;
  };
  std::vector<Entry> all;
  std::vector<const Tensor*> ws;
  ws.reserve(weights.size());
  for (const auto& [name, w] : weights) ws.push_back(w);
  for (int l = 0; l < int(ws.size()); ++l) {
    const float* p = ws[l]->data<float>();
    for (int64_t i = 0; i < ws[l]->numel(); ++i) all.push_back({std::fabs(p[i]), l, i});
  }
  const int64_t prune = int64_t(std::llround(sparsity * double(all.size())));
  std::nth_element(all.begin(), all.begin() + prune, all.end(), [](const Entry& a, const Entry& b) {
    return a.mag < b.mag || (a.mag == b.mag && (a.layer < b.layer || (a.layer == b.layer && a.index < b.index)));
  });
  std::vector<Tensor> mk;
  for (const Tensor* w : ws) {
    Tensor m(w->shape());
    m.fill(1.0f);
    mk.push_back(m);
  }
  std::vector<int64_t> pruned(ws.size(), 0);
  for (int64_t i = 0; i < prune; ++i) {
    const Entry& e = all[i];
    if (pruned[e.layer] + 1 >= ws[e.layer]->numel()) continue;  // never empty a layer
    mk[e.layer].data<float>()[e.index] = 0.0f;
    ++pruned[e.layer];
  }
  for (size_t l = 0; l < weights.size(); ++l) masks[weights[l].first] = mk[l];
  return masks;
}

Masks nm_masks(const Graph& g, int n, int m) {
  NIMBLE_CHECK(n >= 1 && m >= n && m <= 64,
               "an N:M pattern needs 0 < N <= M <= 64, got " + std::to_string(n) + ":" + std::to_string(m));
  Masks masks;
  for (const auto& [name, wp] : weights_to_prune(g)) {
    const Tensor& w = *wp;
    // (O, I, K) with K the kernel positions (1 for linear): groups run along I at fixed (o, k).
    const int64_t o = w.shape()[0], in = w.shape()[1], k = w.numel() / (o * in);
    Tensor mask(w.shape());
    const float* p = w.data<float>();
    float* q = mask.data<float>();
    std::vector<int64_t> idx;
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t kk = 0; kk < k; ++kk)
        for (int64_t i0 = 0; i0 < in; i0 += m) {
          const int64_t len = std::min<int64_t>(m, in - i0);
          idx.clear();
          for (int64_t i = i0; i < i0 + len; ++i) idx.push_back((oc * in + i) * k + kk);
          std::stable_sort(idx.begin(), idx.end(),
                           [&](int64_t a, int64_t b) { return std::fabs(p[a]) > std::fabs(p[b]); });
          for (int64_t j = 0; j < len; ++j) q[idx[j]] = j < n ? 1.0f : 0.0f;
        }
    masks[name] = mask;
  }
  return masks;
}

}  // namespace nimble::prune
