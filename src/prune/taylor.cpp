#include "nimble/prune/taylor.hpp"

#include <algorithm>

#include "nimble/core/error.hpp"
#include "nimble/runtime/session.hpp"
#include "nimble/train/loss.hpp"

namespace nimble::prune {

namespace {

// sum over i of a[i] * b[i] for the `len` values from `offset`.
double dot(const Tensor& a, const Tensor& b, int64_t offset, int64_t len) {
  const float* x = a.data<float>() + offset;
  const float* y = b.data<float>() + offset;
  double s = 0;
  for (int64_t i = 0; i < len; ++i) s += double(x[i]) * y[i];
  return s;
}

// p * dL/dp over the part of `key` that channel `c` owns (a row of a weight matrix, one entry of a
// vector); zero for a parameter without a gradient.
double contribution(const Node& n, const std::string& key, int64_t c) {
  const ParamPtr p = n.param_ptr(key);
  if (!p || !p->grad.defined() || p->grad.numel() != p->data.numel()) return 0.0;
  const int64_t len = p->data.numel() / p->data.shape()[0];
  return dot(p->data, p->grad, c * len, len);
}

}  // namespace

TaylorScores::TaylorScores(const Graph& g) {
  const ChannelGraph cg(g);
  for (size_t m = 0; m < cg.members.size(); ++m) {
    const auto [v, c] = cg.members[m];
    const int node = g.values()[size_t(v)].producer;
    if (node < 0) continue;
    const OpKind op = g.nodes()[size_t(node)].op;
    if (op == OpKind::batch_norm2d || op == OpKind::conv2d || op == OpKind::linear)
      producers_.push_back({node, c, cg.class_of[m]});
  }
  sums_.assign(cg.space_of_class.size(), 0.0);
  batch_.assign(sums_.size(), 0.0);
}

void TaylorScores::add_batch(const Graph& g) {
  std::fill(batch_.begin(), batch_.end(), 0.0);
  for (const Producer& p : producers_) {
    NIMBLE_ASSERT(size_t(p.node) < g.nodes().size());
    const Node& n = g.nodes()[size_t(p.node)];
    batch_[size_t(p.cls)] += n.op == OpKind::batch_norm2d
                                 ? contribution(n, "scale", p.channel) + contribution(n, "shift", p.channel)
                                 : contribution(n, "weights", p.channel) + contribution(n, "bias", p.channel);
  }
  for (size_t k = 0; k < sums_.size(); ++k) sums_[k] += batch_[k] * batch_[k];
  ++batches_;
}

std::vector<double> TaylorScores::class_scores() const {
  if (batches_ == 0) return {};
  std::vector<double> s = sums_;
  for (double& x : s) x /= double(batches_);
  return s;
}

void TaylorScores::reset() {
  std::fill(sums_.begin(), sums_.end(), 0.0);
  batches_ = 0;
}

void TaylorScores::restore(std::vector<double> sums, int64_t batches) {
  NIMBLE_CHECK(sums.size() == sums_.size() && batches >= 0,
               "the checkpoint's taylor scores are for " + std::to_string(sums.size()) +
                   " channel classes, this model has " + std::to_string(sums_.size()));
  sums_ = std::move(sums);
  batches_ = batches;
}

std::vector<double> taylor_scores(const Graph& g, const data::ImageSet& train, const data::Normalization& norm,
                                  int64_t images, int64_t batch) {
  batch = std::min({batch, images, train.size()});
  NIMBLE_CHECK(batch >= 2, "the taylor criterion needs at least 2 training images to measure on");
  Graph work = g.clone();  // training-mode passes move the batch-norms' running statistics
  TaylorScores scores(work);
  Session session(work, {batch, Mode::train, true, Precision::fp32});
  data::BatchLoader loader(train, norm, batch, /*shuffle=*/true, /*drop_last=*/true, {}, /*seed=*/0);
  loader.start_epoch(0);
  data::Batch b;
  Tensor diff;
  for (int64_t seen = 0; seen < images && loader.next(b); seen += b.count) {
    const Tensor& logits = session.forward(b.images);
    train::cross_entropy(logits, b.labels, b.count, 0.0f, &diff);
    session.backward(diff);
    scores.add_batch(work);
  }
  return scores.class_scores();
}

}  // namespace nimble::prune
