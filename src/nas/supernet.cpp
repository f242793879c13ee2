#include "nimble/nas/supernet.hpp"

#include <algorithm>

#include "nimble/core/error.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/train/batch_norm_recalibration.hpp"
#include "nimble/train/trainer.hpp"

namespace nimble::nas {

namespace {

// Where element (i0, i1, i2, i3) of a sub-network's parameter lives in the supernet's: the same
// leading index in every dimension except a convolution kernel's spatial ones (dimensions 2 and 3
// of OIHW), where the smaller kernel is the centre of the larger.
struct SliceMap {
  int64_t sub[4] = {1, 1, 1, 1}, super[4] = {1, 1, 1, 1}, offset[4] = {0, 0, 0, 0};

  SliceMap(const Shape& small, const Shape& big, const std::string& name) {
    NIMBLE_CHECK(small.rank() == big.rank() && small.rank() <= 4,
                 "supernet parameter " + name + ": " + small.str() + " is not a slice of " + big.str());
    const int pad = 4 - small.rank();
    for (int d = 0; d < small.rank(); ++d) {
      NIMBLE_CHECK(small[d] <= big[d],
                   "supernet parameter " + name + ": " + small.str() + " is not a slice of " + big.str());
      sub[pad + d] = small[d];
      super[pad + d] = big[d];
      if (small.rank() == 4 && d >= 2) offset[pad + d] = (big[d] - small[d]) / 2;
    }
  }

  // Calls f(sub_offset, super_offset, run) for each contiguous run along the last dimension.
  template <class F> void for_each_row(F f) const {
    for (int64_t a = 0; a < sub[0]; ++a)
      for (int64_t b = 0; b < sub[1]; ++b)
        for (int64_t c = 0; c < sub[2]; ++c) {
          const int64_t s = ((a * sub[1] + b) * sub[2] + c) * sub[3];
          const int64_t t =
              (((a + offset[0]) * super[1] + b + offset[1]) * super[2] + c + offset[2]) * super[3] + offset[3];
          f(s, t, sub[3]);
        }
  }
};

}  // namespace

Supernet::Supernet(const SearchSpace& space, uint64_t seed) : Supernet(space, space.build(space.largest(), seed)) {}

Supernet::Supernet(SearchSpace space, Graph graph) : space_(std::move(space)), graph_(std::move(graph)) {
  const Graph reference = space_.build(space_.largest(), 0);
  NIMBLE_CHECK(reference.nodes().size() == graph_.nodes().size(),
               "the supernet graph is not the largest architecture of its search space");
  for (size_t i = 0; i < graph_.nodes().size(); ++i) {
    const Node &n = graph_.nodes()[i], &r = reference.nodes()[i];
    NIMBLE_CHECK(n.name == r.name && n.op == r.op && n.params.size() == r.params.size(),
                 "the supernet graph is not the largest architecture of its search space (node " + n.name + ")");
    for (const auto& [key, p] : r.params)
      NIMBLE_CHECK(n.param_ptr(key) && n.param(key).data.shape() == p->data.shape(),
                   "the supernet graph's " + n.name + "." + key + " does not have the space's shape");
    node_index_[n.name] = i;
  }
}

Graph Supernet::extract(const Arch& arch) const {
  Graph sub = space_.build(arch, 0);
  copy_weights_to(sub);
  return sub;
}

void Supernet::copy_weights_to(Graph& subnet) const {
  for (Node& n : subnet.nodes()) {
    if (n.params.empty()) continue;
    auto it = node_index_.find(n.name);
    NIMBLE_CHECK(it != node_index_.end(), "layer " + n.name + " is not in the supernet");
    const Node& big = graph_.nodes()[it->second];
    for (auto& [key, p] : n.params) {
      const Tensor& src = big.param(key).data;
      const SliceMap map(p->data.shape(), src.shape(), n.name + "." + key);
      const float* s = src.data<float>();
      float* d = p->data.data<float>();
      map.for_each_row([&](int64_t sub_at, int64_t super_at, int64_t run) {
        std::copy(s + super_at, s + super_at + run, d + sub_at);
      });
      p->touch();
    }
  }
}

void Supernet::add_gradients_from(const Graph& subnet) {
  for (const Node& n : subnet.nodes()) {
    if (n.params.empty()) continue;
    auto it = node_index_.find(n.name);
    NIMBLE_CHECK(it != node_index_.end(), "layer " + n.name + " is not in the supernet");
    Node& big = graph_.nodes()[it->second];
    for (const auto& [key, p] : n.params) {
      if (!p->trainable || !p->grad.defined()) continue;
      Param& dst = *big.params.at(key);
      if (!dst.grad.defined()) dst.grad = Tensor(dst.data.shape());
      const SliceMap map(p->grad.shape(), dst.grad.shape(), n.name + "." + key);
      const float* s = p->grad.data<float>();
      float* d = dst.grad.data<float>();
      map.for_each_row([&](int64_t sub_at, int64_t super_at, int64_t run) {
        for (int64_t i = 0; i < run; ++i) d[super_at + i] += s[sub_at + i];
      });
    }
  }
}

double inherited_accuracy(const Supernet& net, const Arch& arch, const data::ImageSet& train, const data::ImageSet& val,
                          const data::Normalization& norm, int64_t recalibration_images, Precision precision) {
  Graph g = net.extract(arch);
  train::recalibrate_batch_norm(g, train, norm, recalibration_images);
  return train::evaluate(g, val, norm, 500, precision).accuracy;
}

}  // namespace nimble::nas
